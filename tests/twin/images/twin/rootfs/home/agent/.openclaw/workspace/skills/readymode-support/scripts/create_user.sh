#!/usr/bin/env bash
# Operation 3 (steps 1-4): create a ReadyMode user.  usage: create_user.sh USERNAME [EMAIL]
set -euo pipefail
. "$(dirname "$0")/_lib.sh"

[ $# -ge 1 ] || die "usage: create_user.sh USERNAME [EMAIL]" 64
user=$1
email=${2:-$1@example.invalid}
[[ $user =~ ^[A-Za-z0-9._-]{1,64}$ ]] || die "invalid username: $user" 64

readymode_login
dash_link_click "Users > Add user"
log_debug "steps 1-4 for $user <$email> (step 5, office map, stays manual)"
perform "create ReadyMode user $user <$email> (steps 1-4)"
