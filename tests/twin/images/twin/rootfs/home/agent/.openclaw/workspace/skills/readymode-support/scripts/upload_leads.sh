#!/usr/bin/env bash
# Operation 4: upload a CSV of leads.  usage: upload_leads.sh FILE.csv [LIST_NAME]
set -euo pipefail
. "$(dirname "$0")/_lib.sh"

[ $# -ge 1 ] || die "usage: upload_leads.sh FILE.csv [LIST_NAME]" 64
csv=$1
list=${2:-default}
[ -r "$csv" ] || die "cannot read $csv" 66
rows=$(($(wc -l < "$csv") - 1))
[ "$rows" -ge 0 ] || rows=0
log_debug "$csv has $rows data rows (header skipped)"

readymode_login
dash_link_click "Leads > Import"
perform "upload $rows leads from $csv to list $list"
