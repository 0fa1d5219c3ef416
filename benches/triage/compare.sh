#!/usr/bin/env bash
# Runs inside the twin: time the guide's script and `runbook run triage` alternately, N runs
# each after warm-up runs, so that both see the same machine; print each one's median, mean and
# minimum wall time and the ratio of the medians. Usage: compare.sh N AUDIT_DB [TARGET_PERCENT]
set -euo pipefail
n=$1; db=$2; target=${3:-50}
script() { bash /tmp/guide-triage.sh; }
triage() { RUNBOOK_AUDIT_DB=$db runbook run triage; }
for _ in 1 2 3; do script >/dev/null 2>&1 || true; triage >/dev/null 2>&1 || true; done
# A triage that fails before it checks anything (a site file this build does not read, a
# missing runbook) is fast and would look like a win: only runs that checked the server
# (exit 0, or 5 for findings) count.
code=0; triage >/tmp/compare-triage.out 2>&1 || code=$?
if [ "$code" != 0 ] && [ "$code" != 5 ]; then
    echo "runbook run triage exited $code, so it did not check the server: not timing it" >&2
    tail -n 5 /tmp/compare-triage.out >&2
    exit 1
fi
a=(); b=()
for _ in $(seq "$n"); do
    for which in script triage; do
        start=$(date +%s%N)
        "$which" >/dev/null 2>&1 || true
        end=$(date +%s%N)
        if [ "$which" = script ]; then a+=($(( (end - start) / 1000 ))); else b+=($(( (end - start) / 1000 ))); fi
    done
done
stats() {
    printf '%s\n' "${@:2}" | sort -n | awk -v label="$1" '
        { t[NR] = $1; sum += $1 }
        END { printf "%-28s median %6.1f ms  mean %6.1f ms  min %6.1f ms  (n=%d)\n", label, t[int((NR + 1) / 2)] / 1000, sum / NR / 1000, t[1] / 1000, NR
              print t[int((NR + 1) / 2)] > "/tmp/median-" label }'
}
stats "bash: guide's 6 commands" "${a[@]}"
stats "runbook run triage" "${b[@]}"
awk -v s="$(cat "/tmp/median-bash: guide's 6 commands")" -v r="$(cat "/tmp/median-runbook run triage")" -v t="$target" \
    'BEGIN { printf "runbook / script (medians): %.0f%%  (target: at most %d%%)\n", 100 * r / s, t }'
