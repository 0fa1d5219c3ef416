//! `restore-drill` in the twin, against real pg_dump dumps of its Postgres 15 and a scratch
//! container made from the exact image of `aurora-postgres` on the host's engine:
//! - a clean drill appends exactly one drill-log row (pass, RTO > 0), leaves no scratch behind,
//!   and production keeps its start time and row counts;
//! - a drill aimed at production, by parameter or by the site's scratch name, is refused with
//!   exit 3 before anything runs (no row, no container); a scratch larger than the free memory
//!   fails the preflight before any container starts;
//! - a dump truncated to 40%, one with a flipped byte, one with a wrong sidecar, one missing a
//!   table, one whose manifest lists a migration it lacks and one whose schema differs from its
//!   manifest are each caught by their own finding, the drill failing and logging it;
//! - Ctrl-C (SIGINT) during the drill removes the scratch container;
//! - a scratch that would not fit on the engine's free disk is refused (exit 3) before it
//!   starts, naming both numbers;
//! - a dump without a manifest is compared with its table of contents: it passes when every
//!   table restored with its data entry, and fails when a table's data was left out;
//! - the drill-log row carries the audit chain's head when it was written, a head `audit
//!   verify` finds.

mod common;

use std::time::Duration;

use common::twin::{available, exec, exec_ok, lock, poll, runbook, seed_messages};
use serde_json::Value;

const DIR: &str = "/opt/aurora-infra/backups";
const LOG: &str = "/opt/aurora-infra/backups/drill-log.jsonl";
const SCRATCH: &str = "runbook-drill";

fn sh(script: &str) -> String {
    exec_ok(&["bash", "-euo", "pipefail", "-c", script])
}

/// Run `checks`, then the `cleanup` script in the twin whether they passed or not.
fn checked_then(cleanup: &str, checks: impl FnOnce()) {
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(checks));
    exec(&["bash", "-c", cleanup]);
    if let Err(e) = caught {
        std::panic::resume_unwind(e);
    }
}

fn log_rows() -> Vec<Value> {
    exec(&["cat", LOG])
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("drill log rows are JSON"))
        .collect()
}

fn scratch_exists() -> bool {
    !sh(&format!(
        "docker ps -aq --filter name=^/{SCRATCH}$ --filter label=runbook.drill"
    ))
    .trim()
    .is_empty()
}

/// Production's start time and every table's exact count.
fn production_state() -> (String, String) {
    let started = sh("docker inspect -f '{{.State.StartedAt}}' aurora-postgres");
    let counts = sh(
        "docker exec aurora-postgres psql -U postgres -d aurora -tAc \"SELECT string_agg(t, ',' ORDER BY t) FROM \
         (SELECT tablename || '=' || (xpath('/row/c/text()', query_to_xml('SELECT count(*) AS c FROM public.' || quote_ident(tablename), false, true, '')))[1]::text AS t \
         FROM pg_tables WHERE schemaname = 'public') s\"",
    );
    (started, counts)
}

fn crit_summaries(v: &Value, subject: &str) -> Vec<String> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["subject"] == subject && f["severity"] == "crit")
        .map(|f| f["summary"].as_str().unwrap().to_string())
        .collect()
}

/// `restore-drill` of one dump, with JSON output.
fn drill_of(dump: &str) -> common::Run {
    runbook(&[
        "run",
        "restore-drill",
        "--json",
        "--yes",
        "-p",
        &format!("dump={dump}"),
    ])
}

/// A fresh dump made by the `backup` runbook (with its manifest): its name.
fn fresh_dump() -> String {
    let out = runbook(&["run", "backup", "--json", "--yes"]);
    assert_eq!(out.code, 0, "{}", out.all());
    let v = out.json();
    let outcome = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["severity"] == "ok")
        .expect("the backup verified");
    outcome["subject"].as_str().unwrap().to_string()
}

#[test]
fn a_clean_drill_passes_logs_one_row_and_leaves_production_alone() {
    if !available() {
        return;
    }
    let _g = lock();
    seed_messages();
    let dump = fresh_dump();
    let before = production_state();
    let rows = log_rows().len();
    let head_before = verified_head();
    let out = drill_of(&dump);
    let v = out.json();
    let after_rows = log_rows();
    let result = || {
        assert_eq!(out.code, 0, "{}", out.all());
        assert_eq!(after_rows.len(), rows + 1, "exactly one drill-log row");
        let row = after_rows.last().unwrap();
        assert_eq!(row["result"], "pass", "{row}");
        assert_eq!(row["dump"], dump.as_str());
        assert!(row["rto_ms"].as_i64().unwrap() > 0, "{row}");
        assert!(row["phases"]["restore_ms"].as_i64().unwrap() > 0, "{row}");
        assert!(row["rows"].as_i64().unwrap() >= 200_000, "{row}");
        assert_eq!(row["run"], v["run_id"], "{row}");
        let ok = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["subject"] == "drill aurora")
            .unwrap();
        assert_eq!(ok["severity"], "ok", "{ok}");
        assert!(!scratch_exists(), "the scratch is gone");
        assert_eq!(production_state(), before, "production changed");
        // The scratch was made from production's exact image, with no network.
        let replay = runbook(&["replay", "last", "--json"]).json();
        let start = common::events_of(&replay, "outcome")
            .into_iter()
            .find(|e| e["payload"]["function"] == "drill::start")
            .expect("drill::start outcome");
        let image = sh("docker inspect -f '{{.Image}}' aurora-postgres");
        assert_eq!(start["payload"]["result"]["image"], image.trim());
        assert_eq!(start["payload"]["result"]["network_mode"], "none");
        // The typed drill event carries the row's result and RTO.
        let drill = common::events_of(&replay, "drill");
        assert_eq!(drill.len(), 1, "one drill event");
        assert_eq!(drill[0]["payload"]["result"], "pass");
        assert_eq!(drill[0]["payload"]["rto_ms"], row["rto_ms"]);
        assert_eq!(drill[0]["payload"]["log"], LOG);
        // The row cites the audit chain's head when it was written: a head `audit verify`
        // finds, one the drill's run wrote (after the head before the drill, before the
        // head after it), and the one the drill event carries.
        let head = row["chain_head"]
            .as_str()
            .expect("the row has a chain head");
        assert_eq!(drill[0]["payload"]["chain_head"], head);
        let verify = runbook(&["audit", "verify", "--json", "--expect-head", head]);
        assert_eq!(verify.code, 0, "{}", verify.all());
        let verify = verify.json();
        let at = verify["expect_head_id"]
            .as_i64()
            .expect("the head is found");
        assert!(
            head_before.1 < at && at < verify["head_id"].as_i64().unwrap(),
            "the row's head (event {at}) is one the drill's run wrote: before it {head_before:?}, now {verify}"
        );
    };
    checked_then(&format!("cd {DIR} && rm -f {dump}*"), result);
}

/// The audit chain's head and its event id, from `audit verify --json`.
fn verified_head() -> (String, i64) {
    let out = runbook(&["audit", "verify", "--json"]);
    assert_eq!(out.code, 0, "{}", out.all());
    let v = out.json();
    (
        v["head"].as_str().unwrap().to_string(),
        v["head_id"].as_i64().unwrap(),
    )
}

#[test]
fn a_drill_short_of_disk_is_refused_before_anything_starts() {
    if !available() {
        return;
    }
    let _g = lock();
    seed_messages();
    let dump = fresh_dump();
    let rows = log_rows().len();
    sh("sed 's#^    scratch_disk_mib: 2048$#    scratch_disk_mib: 100000000#' /etc/runbook/site.yaml > /tmp/drill-disk-site.yaml \
        && grep -q 'scratch_disk_mib: 100000000' /tmp/drill-disk-site.yaml");
    let out = runbook(&[
        "--site",
        "/tmp/drill-disk-site.yaml",
        "run",
        "restore-drill",
        "--yes",
        "-p",
        &format!("dump={dump}"),
    ]);
    let replay = runbook(&["replay", "last", "--json"]).json();
    // Free space as the engine's storage has it, seen from production's root.
    let df: u64 =
        sh("docker exec aurora-postgres df -Pk / | awk 'NR == 2 { print int($4 / 1024) }'")
            .trim()
            .parse()
            .unwrap();
    let result = || {
        assert_eq!(out.code, 3, "{}", out.all());
        let text = out.all();
        assert!(
            text.contains("not enough free disk for the scratch"),
            "{text}"
        );
        assert!(text.contains("the drill needs 100000000 MiB"), "{text}");
        let free: u64 = text
            .split(" MiB free on the engine's storage")
            .next()
            .and_then(|t| t.rsplit(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no free size in {text}"));
        assert!(
            free.abs_diff(df) <= df / 100 + 16,
            "{free} MiB free said, df says {df} MiB"
        );
        assert!(
            !common::events_of(&replay, "intent")
                .iter()
                .any(|e| e["payload"]["function"] == "drill::start"),
            "no scratch was started"
        );
        assert!(!scratch_exists());
        assert_eq!(log_rows().len(), rows, "a refused drill logs no row");
    };
    checked_then(
        &format!("cd {DIR} && rm -f {dump}* /tmp/drill-disk-site.yaml"),
        result,
    );
}

#[test]
fn a_dump_without_a_manifest_is_compared_with_its_table_of_contents() {
    if !available() {
        return;
    }
    let _g = lock();
    seed_messages();
    let good = fresh_dump();
    let bare = "aurora_20261107T000000Z.dump";
    let partial = "aurora_20261108T000000Z.dump";
    // The good dump without its manifest; and a dump whose table of contents lists
    // "Message" without its rows (its data left out), also without a manifest.
    sh(&format!(
        "cd {DIR} && cp {good} {bare} && sha256sum {bare} > {bare}.sha256 \
         && docker exec aurora-postgres pg_dump -U postgres -d aurora --format=custom --exclude-table-data='\"Message\"' > {partial} \
         && sha256sum {partial} > {partial}.sha256 && test ! -e {bare}.manifest.json && test ! -e {partial}.manifest.json"
    ));
    let tables: usize = sh("docker exec aurora-postgres psql -U postgres -d aurora -tAc \
        \"SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')\"")
    .trim()
    .parse()
    .unwrap();
    let result = || {
        let rows = log_rows().len();
        let out = drill_of(bare);
        let v = out.json();
        let warn = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["subject"] == bare && f["severity"] == "warn")
            .unwrap_or_else(|| panic!("no warning on {bare}: {}", out.all()));
        assert!(
            warn["summary"].as_str().unwrap().contains(&format!(
                "compared with the dump's table of contents ({tables} tables, {tables} data entries)"
            )),
            "{warn}"
        );
        assert!(crit_summaries(&v, bare).is_empty(), "{}", out.all());
        let row = log_rows().last().unwrap().clone();
        assert_eq!(log_rows().len(), rows + 1);
        assert_eq!(row["result"], "pass", "{row}");
        assert_eq!(row["dump"], bare);

        let out = drill_of(partial);
        assert_eq!(out.code, 5, "{}", out.all());
        let found = crit_summaries(&out.json(), partial);
        assert!(
            found.iter().any(|s| s == "table of contents mismatch: table public.Message has no data entry in the dump's table of contents: its rows were not dumped"),
            "{found:?}"
        );
        assert_eq!(
            found.iter().filter(|s| s.contains("mismatch")).count(),
            1,
            "{found:?}"
        );
        assert_eq!(log_rows().last().unwrap()["result"], "fail");
        assert!(!scratch_exists());
    };
    checked_then(
        &format!("cd {DIR} && rm -f {good}* {bare}* {partial}*"),
        result,
    );
}

#[test]
fn a_drill_aimed_at_production_is_refused_before_anything_runs() {
    if !available() {
        return;
    }
    let _g = lock();
    let rows = log_rows().len();
    let before = production_state();
    for target in ["aurora-postgres", "aurora-pgadmin"] {
        let out = runbook(&[
            "run",
            "restore-drill",
            "--yes",
            "-p",
            &format!("target={target}"),
        ]);
        assert_eq!(out.code, 3, "{target}: {}", out.all());
        assert!(
            out.all().contains("a drill restores only into a scratch"),
            "{}",
            out.all()
        );
    }
    // By a site entry: the site names production as the scratch.
    sh("sed 's#^    scratch_disk_mib: 2048$#    scratch_disk_mib: 2048\\n    scratch_name: aurora-postgres#' /etc/runbook/site.yaml > /tmp/drill-site.yaml \
        && grep -q 'scratch_name: aurora-postgres' /tmp/drill-site.yaml");
    let out = runbook(&[
        "--site",
        "/tmp/drill-site.yaml",
        "run",
        "restore-drill",
        "--yes",
    ]);
    assert_eq!(out.code, 3, "{}", out.all());
    let replay = runbook(&["replay", "last", "--json"]).json();
    assert!(
        common::events_of(&replay, "intent").is_empty(),
        "nothing ran before the refusal"
    );
    assert_eq!(log_rows().len(), rows, "a refused drill logs no row");
    assert_eq!(production_state(), before);
    // A scratch larger than the free memory: the preflight fails the drill, nothing starts.
    sh("sed 's#^    scratch_memory_mib: 1024$#    scratch_memory_mib: 100000000#' /etc/runbook/site.yaml > /tmp/drill-site.yaml \
        && grep -q 'scratch_memory_mib: 100000000' /tmp/drill-site.yaml");
    let out = runbook(&[
        "--site",
        "/tmp/drill-site.yaml",
        "run",
        "restore-drill",
        "--json",
        "--yes",
    ]);
    assert_eq!(out.code, 5, "{}", out.all());
    let crit = crit_summaries(&out.json(), "drill aurora");
    assert!(
        crit.iter()
            .any(|s| s.starts_with("not enough free memory for the scratch")),
        "{crit:?}"
    );
    let replay = runbook(&["replay", "last", "--json"]).json();
    assert!(
        !common::events_of(&replay, "intent")
            .iter()
            .any(|e| e["payload"]["function"] == "drill::start"),
        "no scratch was started"
    );
    assert_eq!(log_rows().len(), rows + 1, "the failed drill is logged");
    assert_eq!(log_rows().last().unwrap()["result"], "fail");
    exec(&["rm", "-f", "/tmp/drill-site.yaml"]);
}

#[test]
fn each_corrupt_or_wrong_dump_is_caught_by_its_own_finding() {
    if !available() {
        return;
    }
    let _g = lock();
    seed_messages();
    let good = fresh_dump();
    let size: u64 = sh(&format!("stat -c %s {DIR}/{good}"))
        .trim()
        .parse()
        .unwrap();
    let names: Vec<String> = (1..=6)
        .map(|i| format!("aurora_2026110{i}T000000Z.dump"))
        .collect();
    let [truncated, flipped, sidecar, dropped, migration, schema] =
        <[String; 6]>::try_from(names.clone()).unwrap();
    let cleanup = format!(
        "cd {DIR} && rm -f {good}* {}",
        names
            .iter()
            .map(|n| format!("{n}*"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    // `manifest NAME JQ`: NAME gets the good dump's manifest, edited by a python expression.
    let manifest = |name: &str, edit: &str| {
        sh(&format!(
            "cd {DIR} && python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); m[\"dump\"]=sys.argv[2]; {edit}; json.dump(m, open(sys.argv[2] + \".manifest.json\", \"w\"))' {good}.manifest.json {name}"
        ));
    };
    let sidecar_of = |name: &str| sh(&format!("cd {DIR} && sha256sum {name} > {name}.sha256"));
    sh(&format!(
        "cd {DIR} && cp {good} {truncated} && truncate -s {} {truncated}",
        size * 40 / 100
    ));
    sidecar_of(&truncated);
    manifest(&truncated, "pass");
    sh(&format!(
        "cd {DIR} && cp {good} {flipped} && sed 's/{good}/{flipped}/' {good}.sha256 > {flipped}.sha256 \
         && python3 -c 'import sys; f=open(sys.argv[1],\"r+b\"); f.seek({mid}); b=f.read(1); f.seek({mid}); f.write(bytes([b[0]^255]))' {flipped}",
        mid = size / 2
    ));
    manifest(&flipped, "pass");
    sh(&format!("cd {DIR} && cp {good} {sidecar} && echo \"$(printf '0%.0s' $(seq 64))  {sidecar}\" > {sidecar}.sha256"));
    manifest(&sidecar, "pass");
    // A table missing from the dump (as if dropped before it), against the manifest of the
    // database that had it.
    sh(&format!(
        "cd {DIR} && docker exec aurora-postgres pg_dump -U postgres -d aurora --format=custom -T '\"Message\"' > {dropped}"
    ));
    sidecar_of(&dropped);
    manifest(&dropped, "pass");
    // The manifest lists a migration the dump does not have.
    sh(&format!("cd {DIR} && cp {good} {migration}"));
    sidecar_of(&migration);
    manifest(
        &migration,
        "m[\"prisma_migrations\"].append(\"20261101000000_missing\")",
    );
    // The manifest's schema is another one.
    sh(&format!("cd {DIR} && cp {good} {schema}"));
    sidecar_of(&schema);
    manifest(&schema, "m[\"schema_sha256\"]=\"0\"*64");

    let result = || {
        let expect = [
            (&truncated, "corrupt: pg_restore: error:"),
            (&flipped, ""),
            (&sidecar, "sidecar mismatch"),
            (
                &dropped,
                "manifest mismatch: table public.Message is missing",
            ),
            (
                &migration,
                "manifest mismatch: migration 20261101000000_missing is missing",
            ),
            (&schema, "manifest mismatch: schema differs"),
        ];
        for (name, want) in expect {
            let rows = log_rows().len();
            let out = drill_of(name);
            assert_eq!(out.code, 5, "{name}: {}", out.all());
            let v = out.json();
            let found = crit_summaries(&v, name);
            assert!(
                found.iter().any(|s| s.contains(want)),
                "{name}: want {want:?} in {found:?}"
            );
            if want.is_empty() {
                assert!(
                    found
                        .iter()
                        .any(|s| s.contains("corrupt") || s.contains("sidecar mismatch")),
                    "{name}: {found:?}"
                );
            }
            let rows_after = log_rows();
            assert_eq!(rows_after.len(), rows + 1, "{name}: one row");
            assert_eq!(rows_after.last().unwrap()["result"], "fail", "{name}");
            assert!(!scratch_exists(), "{name}: the scratch is gone");
        }
    };
    checked_then(&cleanup, result);
}

#[test]
fn ctrl_c_during_the_drill_removes_the_scratch() {
    if !available() {
        return;
    }
    let _g = lock();
    seed_messages();
    let dump = fresh_dump();
    exec(&["rm", "-f", "/tmp/drill-tty.out", "/tmp/drill.pid"]);
    let cmd = format!(
        "script -qfc 'echo $$ > /tmp/drill.pid; exec env NO_COLOR=1 runbook run restore-drill --yes -p dump={dump}' \
         /tmp/drill-tty.out >/dev/null 2>&1 </dev/null &"
    );
    exec_ok(&["sh", "-c", &cmd]);
    let up = poll(Duration::from_secs(60), scratch_exists);
    // Ctrl-C, as the terminal would send it, to the drill's own process.
    exec(&["sh", "-c", "kill -INT \"$(cat /tmp/drill.pid)\""]);
    let gone = poll(Duration::from_secs(60), || {
        exec(&["sh", "-c", "kill -0 \"$(cat /tmp/drill.pid)\" 2>/dev/null"]).code != 0
    });
    let shown = exec(&["cat", "/tmp/drill-tty.out"]).stdout;
    let leftover = scratch_exists();
    if leftover {
        exec(&["docker", "rm", "-fv", SCRATCH]);
    }
    exec(&["bash", "-c", &format!("cd {DIR} && rm -f {dump}*")]);
    assert!(up, "the scratch never appeared: {shown}");
    assert!(gone, "the drill did not stop: {shown}");
    assert!(!leftover, "the scratch outlived a Ctrl-C: {shown}");
    let replay = runbook(&["replay", "last", "--json"]).json();
    assert!(
        common::events_of(&replay, "outcome")
            .iter()
            .any(|e| e["payload"]["function"] == "drill::remove"),
        "the removal went through the door"
    );
}

/// The "restore drill" finding of a run's JSON: (severity, summary).
fn drill_finding(out: &common::Run) -> (String, String) {
    let v = out.json();
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["subject"] == "restore drill")
        .unwrap_or_else(|| panic!("no restore drill finding: {}", out.all()))
        .clone();
    (
        f["severity"].as_str().unwrap().to_string(),
        f["summary"].as_str().unwrap().to_string(),
    )
}

#[test]
fn triage_and_health_warn_when_the_last_good_drill_is_older_than_92_days() {
    if !available() {
        return;
    }
    let _g = lock();
    let dump = fresh_dump();
    let drill = drill_of(&dump);
    exec(&["bash", "-c", &format!("cd {DIR} && rm -f {dump}*")]);
    assert_eq!(drill.code, 0, "{}", drill.all());
    for rb in ["triage", "health"] {
        let (sev, summary) = drill_finding(&runbook(&["run", rb, "--json"]));
        assert_eq!(sev, "ok", "{rb}: {summary}");
    }
    // The weekly timer's check, as its unit runs it (--fail-on warn): 0 after a good drill.
    let due = runbook(&["run", "drill-due", "--fail-on", "warn", "--json"]);
    assert_eq!(due.code, 0, "{}", due.all());
    assert_eq!(drill_finding(&due).0, "ok");
    // The same log, every row's time moved 100 days back; and a log with no row at all.
    sh(&format!(
        "python3 -c 'import json,sys; rows=[json.loads(l) for l in open(sys.argv[1])]; \
         [r.update(epoch=r[\"epoch\"]-100*86400) for r in rows]; \
         open(\"/tmp/old-drill-log.jsonl\",\"w\").write(\"\".join(json.dumps(r)+\"\\n\" for r in rows))' {LOG} \
         && for f in old none; do sed \"s#^    log: {LOG}\\$#    log: /tmp/$f-drill-log.jsonl#\" /etc/runbook/site.yaml > /tmp/$f-drill-site.yaml \
         && grep -q \"log: /tmp/$f-drill-log.jsonl\" /tmp/$f-drill-site.yaml; done && rm -f /tmp/none-drill-log.jsonl"
    ));
    for rb in ["triage", "health"] {
        let out = runbook(&["--site", "/tmp/old-drill-site.yaml", "run", rb, "--json"]);
        let (sev, summary) = drill_finding(&out);
        assert_eq!(sev, "warn", "{rb}: {summary}");
        assert!(
            summary.contains("is 100d") && summary.contains("limit 92d"),
            "{rb}: {summary}"
        );
        let out = runbook(&["--site", "/tmp/none-drill-site.yaml", "run", rb, "--json"]);
        let (sev, summary) = drill_finding(&out);
        assert_eq!(sev, "info", "{rb}: {summary}");
        assert!(
            summary.starts_with("no successful restore drill recorded"),
            "{rb}: {summary}"
        );
    }
    // drill-due: overdue and never drilled are both due (a warning, exit 5 with --fail-on
    // warn), where triage only notes the latter.
    for (site, says) in [
        ("/tmp/old-drill-site.yaml", "is 100d"),
        (
            "/tmp/none-drill-site.yaml",
            "no successful restore drill recorded",
        ),
    ] {
        let out = runbook(&[
            "--site",
            site,
            "run",
            "drill-due",
            "--fail-on",
            "warn",
            "--json",
        ]);
        assert_eq!(out.code, 5, "{site}: {}", out.all());
        let (sev, summary) = drill_finding(&out);
        assert_eq!(sev, "warn", "{site}: {summary}");
        assert!(summary.contains(says), "{site}: {summary}");
    }
    exec(&[
        "bash",
        "-c",
        "rm -f /tmp/old-drill-log.jsonl /tmp/old-drill-site.yaml /tmp/none-drill-site.yaml",
    ]);
}
