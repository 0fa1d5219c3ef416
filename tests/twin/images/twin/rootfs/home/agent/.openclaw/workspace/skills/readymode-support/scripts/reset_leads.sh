#!/usr/bin/env bash
# Operation 2: reset leads. Unavailable until NHE-G05 (office map assignment) is done:
# a real run records the attempt and exits 69 (EX_UNAVAILABLE), as on the server.
set -euo pipefail
. "$(dirname "$0")/_lib.sh"

readymode_login
if is_dry_run; then
  printf 'DRY RUN: would reset leads\n'
  exit 0
fi
record "reset leads refused: unavailable until G05"
die "reset_leads is unavailable until G05 (agents not assigned to the Office Map)" 69
