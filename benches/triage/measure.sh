#!/usr/bin/env bash
# Runs inside the twin: time N runs of a command (after warm-up runs), print the median and
# mean wall time in milliseconds. Usage: measure.sh N LABEL CMD...
set -euo pipefail
n=$1; label=$2; shift 2
for _ in 1 2 3; do "$@" >/dev/null 2>&1 || true; done
times=()
for _ in $(seq "$n"); do
    start=$(date +%s%N)
    "$@" >/dev/null 2>&1 || true
    end=$(date +%s%N)
    times+=($(( (end - start) / 1000 )))
done
printf '%s\n' "${times[@]}" | sort -n | awk -v label="$label" '
    { t[NR] = $1; sum += $1 }
    END { printf "%-28s median %7.1f ms  mean %7.1f ms  min %7.1f ms  (n=%d)\n", label, t[int((NR + 1) / 2)] / 1000, sum / NR / 1000, t[1] / 1000, NR }'
