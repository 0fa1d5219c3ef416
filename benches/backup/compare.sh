#!/usr/bin/env bash
# Runs inside the twin: one round of the backup and restore-drill benchmarks, each A/B in the
# same round, alternating, N runs each. Usage: compare.sh N AUDIT_DB
#   backup: `runbook run backup` (pg_dump streamed, hashed, manifest, sidecar, then verified)
#           against the guide's way by hand: docker exec pg_dump -Fc > f; sha256sum f
#   drill:  `runbook run restore-drill -p dump=D` against the same steps by hand: the sidecar
#           check and full read the drill's preflight does, a scratch from the same image with
#           the same limits, pg_restore, the same queries (tables, counts, migrations, schema
#           hash), removal.
# Each line printed is one run: what, wall ms, bytes. The caller (benches/backup/run) adds the
# scratch's peak memory, read from the host's cgroup while the run lasts.
set -euo pipefail
n=$1; db=$2
dir=/opt/aurora-infra/backups
image=$(docker inspect -f '{{.Image}}' aurora-postgres)
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

hand_backup() {
    local f=$dir/bench_hand.dump
    docker exec aurora-postgres pg_dump -U postgres -d aurora -Fc > "$f"
    sha256sum "$f" > "$f.sha256"
}

# The dump the runbook made in its last run, from its JSON: its name.
runbook_backup() {
    RUNBOOK_AUDIT_DB=$db runbook run backup --yes --json > /tmp/bench-backup.json
}
made_dump() {
    jq -r '[.findings[] | select(.severity == "ok")][0].subject' /tmp/bench-backup.json
}
dump_ms() {
    jq -r '[.findings[] | select(.severity == "ok")][0].summary' /tmp/bench-backup.json \
        | sed -n 's/.* dumped in \([0-9]*\) ms.*/\1/p'
}

q() { docker exec "$1" psql -X -U postgres -d aurora -v ON_ERROR_STOP=1 -tAc "$2"; }

hand_drill() {
    local d=$1 s=bench-scratch
    (cd "$dir" && sha256sum -c --quiet "$d.sha256")
    pg_restore -f /dev/null "$dir/$d"
    docker run -d --name "$s" --label runbook.bench=1 --network none --memory 1024m --memory-swap 1024m \
        -e POSTGRES_HOST_AUTH_METHOD=trust -e POSTGRES_PASSWORD="$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
        -e POSTGRES_USER=postgres -e POSTGRES_DB=postgres "$image" >/dev/null
    until docker exec "$s" sh -c 'test "$(cat /proc/1/comm)" = postgres && pg_isready -q -U postgres -d postgres' 2>/dev/null; do
        sleep 0.25
    done
    docker exec "$s" createdb -U postgres aurora
    docker exec -i "$s" pg_restore --exit-on-error --no-owner -U postgres -d aurora < "$dir/$d"
    q "$s" "SHOW server_version" >/dev/null
    local tables counts
    tables=$(q "$s" "SELECT schemaname || '.' || tablename FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1")
    counts=$(echo "$tables" | awk -F. '{ printf "%sSELECT %c%s.%s%c, count(*) FROM \"%s\".\"%s\"", (NR > 1 ? " UNION ALL " : ""), 39, $1, $2, 39, $1, $2 }')
    q "$s" "$counts" >/dev/null
    q "$s" "SELECT migration_name FROM public._prisma_migrations ORDER BY 1" >/dev/null
    docker exec "$s" pg_dump -U postgres -d aurora --schema-only --no-owner --no-privileges | sha256sum >/dev/null
    docker rm -fv "$s" >/dev/null
}

runbook_drill() {
    RUNBOOK_AUDIT_DB=$db runbook run restore-drill --yes --json -p "dump=$1" > /tmp/bench-drill.json
    jq -e '[.findings[] | select(.subject == "drill aurora" and .severity == "ok")] | length == 1' /tmp/bench-drill.json >/dev/null
}

cleanup_runbook_dump() { rm -f "$dir/$1" "$dir/$1.sha256" "$dir/$1.manifest.json"; }

# Warm-up: one of each, and the dump the drills restore (made by the runbook, with a manifest).
drill_dump=
trap 'rm -f "$dir"/bench_hand.dump*; [ -z "$drill_dump" ] || cleanup_runbook_dump "$drill_dump"' EXIT
hand_backup
runbook_backup
drill_dump=$(made_dump)
size=$(stat -c %s "$dir/$drill_dump")
echo "dump: $drill_dump, $size bytes"
for _ in $(seq "$n"); do
    for which in hand runbook; do
        start=$(date +%s%N)
        if [ "$which" = hand ]; then
            hand_backup
            echo "backup hand $(ms "$start") $(stat -c %s "$dir/bench_hand.dump")"
        else
            runbook_backup
            t=$(ms "$start")
            d=$(made_dump)
            [ "$d" != null ] || { echo "runbook run backup did not verify its dump" >&2; cat /tmp/bench-backup.json >&2; exit 1; }
            echo "backup runbook $t $(stat -c %s "$dir/$d") dump_ms=$(dump_ms)"
            cleanup_runbook_dump "$d"
        fi
    done
done
rm -f "$dir/bench_hand.dump" "$dir/bench_hand.dump.sha256"
for _ in $(seq "$n"); do
    for which in hand runbook; do
        start=$(date +%s%N)
        if [ "$which" = hand ]; then
            hand_drill "$drill_dump"
        else
            runbook_drill "$drill_dump" || { echo "the drill did not pass" >&2; cat /tmp/bench-drill.json >&2; exit 1; }
        fi
        echo "drill $which $(ms "$start") $size"
    done
done
jq -c '.findings[] | select(.subject == "drill aurora")' /tmp/bench-drill.json
