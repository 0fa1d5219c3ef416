#!/usr/bin/env bash
# Operation 1: release the ReadyMode licenses held by idle agents.
set -euo pipefail
. "$(dirname "$0")/_lib.sh"

readymode_login
dash_link_click "Licenses"
log_debug "found 3 idle licenses"
perform "clear 3 idle ReadyMode licenses"
