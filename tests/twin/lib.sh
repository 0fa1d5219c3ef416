# shellcheck shell=bash disable=SC2034
# (SC2034: the variables below are used by the scripts that source this file.)
# Shared helpers for the twin scripts (tests/twin/up, exec, fault, reset, down, e2e).
# Sourced, never executed. Callers set `set -euo pipefail` themselves.

TWIN_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$TWIN_DIR/../.." && pwd)
TWIN_BUILD_DIR="$TWIN_DIR/.build"

# Names, overridable from the environment.
TWIN_NAME=${TWIN_NAME:-runbook-twin}
TWIN_PG_NAME=${TWIN_PG_NAME:-aurora-postgres}
TWIN_PGADMIN_NAME=${TWIN_PGADMIN_NAME:-aurora-pgadmin}
TWIN_NETWORK=${TWIN_NETWORK:-runbook-twin-net}
TWIN_HOSTNAME=${TWIN_HOSTNAME:-openclow}
TWIN_BOOT_TIMEOUT=${TWIN_BOOT_TIMEOUT:-120}
# Where the host's Docker engine listens; mounted into the twin at /var/run/docker.sock.
TWIN_DOCKER_SOCK=${TWIN_DOCKER_SOCK:-/var/run/docker.sock}

# Units that must be active on a healthy twin (tests/twin/units, also read by tests/twin_boot.rs).
mapfile -t TWIN_UNITS < <(grep -v -e '^#' -e '^[[:space:]]*$' "$TWIN_DIR/units")

log() { printf '[twin] %s\n' "$*" >&2; }
die() { printf '[twin] error: %s\n' "$*" >&2; exit 1; }

now_ms() { date +%s%3N; }
# phase_done NAME START_MS: print how long a phase took.
phase_done() {
  local ms=$(( $(now_ms) - $2 ))
  printf '[twin] phase %-10s %d.%01ds\n' "$1" $((ms / 1000)) $(((ms % 1000) / 100)) >&2
}

have() { command -v "$1" >/dev/null 2>&1; }

apt_install() {
  [ "$(id -u)" -eq 0 ] || die "need root to install $*; install them by hand"
  have apt-get || die "apt-get not found; install $* by hand"
  log "installing $* with apt-get"
  local apt_log
  apt_log=$(mktemp)
  if ! { DEBIAN_FRONTEND=noninteractive apt-get update -q \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"; } \
      >"$apt_log" 2>&1; then
    tail -n 30 "$apt_log" >&2
    die "apt-get install $* failed"
  fi
  rm -f "$apt_log"
}

# ensure_docker: make sure a Docker engine answers and mmdebstrap is there, installing
# docker.io and mmdebstrap (Debian packages) and starting dockerd in the background as needed.
ensure_docker() {
  local need=() engine=true
  docker info >/dev/null 2>&1 || engine=false
  have mmdebstrap || need+=(mmdebstrap)
  if ! $engine && ! have dockerd; then
    need+=(docker.io)
  elif ! have docker; then
    need+=(docker.io)
  fi
  if [ ${#need[@]} -gt 0 ]; then
    apt_install "${need[@]}"
  fi
  if $engine || docker info >/dev/null 2>&1; then
    return 0
  fi
  [ "$(id -u)" -eq 0 ] || die "Docker engine not reachable and not root: start dockerd yourself"
  log "starting dockerd in the background (log: /var/log/dockerd.log)"
  # setsid: keep the engine alive after this script (and its process group) ends. Descriptors
  # above 2 are closed first: the engine outlives its caller, and an inherited descriptor (a
  # caller's `flock` on a lock file, say) would stay held for as long as the engine runs.
  (
    for fd in /proc/$BASHPID/fd/*; do
      fd=${fd##*/}
      if [ "$fd" -gt 2 ]; then eval "exec $fd>&-"; fi
    done
    exec setsid dockerd >/var/log/dockerd.log 2>&1 < /dev/null
  ) &
  local _
  for _ in $(seq 1 60); do
    if docker info >/dev/null 2>&1; then
      return 0
    fi
    sleep 1
  done
  tail -n 20 /var/log/dockerd.log >&2 || true
  die "dockerd did not come up within 60 s"
}

container_state() { # prints running/exited/created/... or "missing"
  local state
  if state=$(docker inspect -f '{{.State.Status}}' "$1" 2>/dev/null) && [ -n "$state" ]; then
    echo "$state"
  else
    echo missing
  fi
}

require_twin() {
  [ "$(container_state "$TWIN_NAME")" = running ] \
    || die "twin container $TWIN_NAME is not running; run tests/twin/up"
}

# twin_sh SCRIPT [ARGS...]: run a bash script inside the twin as root (no tty).
twin_sh() {
  local script=$1
  shift
  docker exec -i "$TWIN_NAME" bash -euo pipefail -c "$script" twin "$@"
}

# wait_until TIMEOUT_S DESCRIPTION CMD...: poll CMD every second until it succeeds.
wait_until() {
  local timeout=$1 what=$2
  shift 2
  local deadline=$(( $(date +%s) + timeout ))
  until "$@" >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      log "timed out after ${timeout}s waiting for: $what"
      return 1
    fi
    sleep 1
  done
}

# All twin units active?
twin_units_active() {
  docker exec "$TWIN_NAME" systemctl is-active --quiet "${TWIN_UNITS[@]}"
}

# Show which twin units are not active (for diagnostics).
twin_units_report() {
  docker exec "$TWIN_NAME" systemctl is-active "${TWIN_UNITS[@]}" 2>&1 \
    | paste -d' ' <(printf '%s\n' "${TWIN_UNITS[@]}") - >&2 || true
}

# Readiness probes shared by up and reset.
healthz_code() {
  docker exec "$TWIN_NAME" curl -s -o /dev/null -w '%{http_code}' \
    http://127.0.0.1:18789/healthz 2>/dev/null || true
}
healthz_ok() { [ "$(healthz_code)" = 200 ]; }
HEARTBEAT=/home/agent/.openclaw/workspace/runtime/worker-heartbeat.json
heartbeat_age() {
  docker exec "$TWIN_NAME" sh -c 'echo $(( $(date +%s) - $(jq -r .ts "$1") ))' twin "$HEARTBEAT"
}
heartbeat_fresh() { [ "$(heartbeat_age 2>/dev/null || echo 9999)" -lt 30 ]; }
pg_healthy() {
  [ "$(docker inspect -f '{{.State.Health.Status}}' "$TWIN_PG_NAME" 2>/dev/null)" = healthy ]
}
containers_up() {
  [ "$(container_state "$TWIN_PGADMIN_NAME")" = running ] && pg_healthy
}
# The twin is ready: units active, gateway healthy, worker beating, containers up.
twin_ready() { twin_units_active && healthz_ok && heartbeat_fresh && containers_up; }
