#!/usr/bin/env bash
# Shared helpers of the readymode-support scripts (twin stand-in: no browser, no CDP).
#   OPENCLAW_DRY_RUN=true|1   print "DRY RUN: would ..." and change nothing
#   OPENCLAW_LOG_LEVEL=debug  print debug lines too
# Real runs append one line per operation to runtime/ops.log.

OPS_LOG=${OPENCLAW_OPS_LOG:-/home/agent/.openclaw/workspace/runtime/ops.log}
SCRIPT_NAME=$(basename "$0" .sh)

is_dry_run() {
  case "${OPENCLAW_DRY_RUN:-false}" in
    1 | true | TRUE | True | yes) return 0 ;;
    *) return 1 ;;
  esac
}

log_debug() {
  if [ "${OPENCLAW_LOG_LEVEL:-info}" = debug ]; then
    printf 'DEBUG %s: %s\n' "$SCRIPT_NAME" "$*"
  fi
}

log_info() { printf 'INFO %s: %s\n' "$SCRIPT_NAME" "$*"; }

# die MESSAGE [EXIT_CODE]
die() {
  printf 'ERROR %s: %s\n' "$SCRIPT_NAME" "$1" >&2
  exit "${2:-1}"
}

# perform DESCRIPTION: in dry-run print what would happen and change nothing; otherwise
# record the operation in the ops log (the stand-in's observable, harmless effect).
perform() {
  if is_dry_run; then
    printf 'DRY RUN: would %s\n' "$1"
    return 0
  fi
  record "$1"
  log_info "done: $1"
}

# record LINE: append one timestamped line to the ops log.
record() {
  printf '%s %s: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$SCRIPT_NAME" "$1" >> "$OPS_LOG"
}

# Stand-ins for the browser session helpers of the real library.
readymode_login() {
  log_debug "login: reusing CDP session on 127.0.0.1:9222 (stand-in, no browser)"
}

dash_link_click() {
  log_debug "dash_link click: $1"
}

log_debug "dry_run=$(is_dry_run && echo true || echo false) ops_log=$OPS_LOG"
