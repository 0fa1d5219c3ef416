//! `backups-prune` against real pg_dump dumps in the twin's backups directory: the dry run's
//! table is exactly what the real run then moves (compared on disk), the trash holds each
//! moved dump with its sidecar and a record of its sha256 (also in the audit outcome), and a
//! corrupt dump and one without a sidecar are never deleted, however old. Without a terminal
//! the typed confirmation refuses and nothing moves.

mod common;

use std::collections::BTreeSet;

use common::twin::{available, exec, exec_ok, lock, runbook};
use serde_json::Value;

const DIR: &str = "/opt/aurora-infra/backups";
const TRASH: &str = "/opt/aurora-infra/backups/.trash";

fn sh(script: &str) -> String {
    exec_ok(&["bash", "-euo", "pipefail", "-c", script])
}

/// The dumps (not sidecars) in the backups directory.
fn dumps_on_disk() -> BTreeSet<String> {
    sh(&format!(
        "cd {DIR} && ls -1 | grep -E '^aurora_[0-9TZ]+\\.dump$' || true"
    ))
    .lines()
    .map(str::to_string)
    .collect()
}

fn day_name(days_ago: i64) -> String {
    let t = chrono::Utc::now() - chrono::Duration::days(days_ago);
    format!("aurora_{}.dump", t.format("%Y%m%dT%H%M%SZ"))
}

#[test]
fn the_dry_run_table_is_what_the_real_run_moves_to_the_trash() {
    if !available() {
        return;
    }
    let _g = lock();
    // A small real dump (one table) copied under a history of names: daily for a week, then
    // four far outside the 30-day window, a corrupt one and one without a sidecar older still.
    let fresh: Vec<String> = (0..7).map(day_name).collect();
    let expired: Vec<String> = [35, 40, 45, 50].into_iter().map(day_name).collect();
    let corrupt = day_name(60);
    let unsidecared = day_name(61);
    let mut planted: Vec<String> = fresh.iter().chain(&expired).cloned().collect();
    planted.push(corrupt.clone());
    planted.push(unsidecared.clone());
    let cleanup = format!(
        "cd {DIR} && for f in {}; do rm -f $f $f.sha256 $f.manifest.json {TRASH}/$f {TRASH}/$f.sha256 {TRASH}/$f.trashed.json; done; rm -f /tmp/one.dump",
        planted.join(" ")
    );
    sh(&cleanup);
    sh("docker exec aurora-postgres pg_dump -U postgres -d aurora --format=custom -t '\"User\"' > /tmp/one.dump");
    for name in &planted {
        sh(&format!("cd {DIR} && cp /tmp/one.dump {name}"));
        if name != &unsidecared {
            sh(&format!("cd {DIR} && sha256sum {name} > {name}.sha256"));
        }
    }
    let size: u64 = sh("stat -c %s /tmp/one.dump").trim().parse().unwrap();
    sh(&format!(
        "cd {DIR} && truncate -s {} {corrupt} && sha256sum {corrupt} > {corrupt}.sha256",
        size * 40 / 100
    ));

    let result = || {
        let before = sh(&format!("ls -lR --full-time {DIR} | sha256sum"));
        let dry = runbook(&["run", "backups-prune", "--dry-run", "--json"]);
        assert_eq!(dry.code, 0, "{}", dry.all());
        let v = dry.json();
        let rows: Vec<&Value> = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["evidence"]["action"].is_string())
            .map(|f| &f["evidence"])
            .collect();
        let action = |n: &str| {
            rows.iter()
                .find(|r| r["name"] == n)
                .map(|r| (*r).clone())
                .unwrap_or_else(|| panic!("{n} not in the table: {}", dry.all()))
        };
        let shown_deletes: BTreeSet<String> = rows
            .iter()
            .filter(|r| r["action"] == "delete")
            .map(|r| r["name"].as_str().unwrap().to_string())
            .collect();
        for e in &expired {
            assert_eq!(action(e)["rule"], "expired", "{}", dry.all());
        }
        for f in &fresh {
            assert_eq!(action(f)["action"], "keep");
        }
        assert_eq!(action(&corrupt)["rule"], "unverified");
        assert!(action(&corrupt)["problem"]
            .as_str()
            .unwrap()
            .starts_with("read corrupt"));
        assert_eq!(action(&unsidecared)["rule"], "unverified");
        assert!(shown_deletes.is_superset(&expired.iter().cloned().collect()));
        assert_eq!(
            before,
            sh(&format!("ls -lR --full-time {DIR} | sha256sum")),
            "the dry run changed the backups directory"
        );

        // No terminal: the typed gate refuses, nothing moves.
        let refused = runbook(&["run", "backups-prune", "--yes"]);
        assert_eq!(refused.code, 3, "{}", refused.all());
        assert_eq!(before, sh(&format!("ls -lR --full-time {DIR} | sha256sum")));

        let hashes: Vec<(String, String)> = shown_deletes
            .iter()
            .map(|n| {
                let line = sh(&format!("cat {DIR}/{n}.sha256"));
                (
                    n.clone(),
                    line.split_whitespace().next().unwrap().to_string(),
                )
            })
            .collect();
        let on_disk = dumps_on_disk();
        let real = exec(&[
            "sh",
            "-c",
            &format!(
                "echo 'delete {}' | script -qec 'stty cols 200; NO_COLOR=1 runbook run backups-prune' /dev/null",
                shown_deletes.len()
            ),
        ]);
        assert_eq!(real.code, 0, "{}", real.all());
        for n in &shown_deletes {
            assert!(
                real.stdout.contains(n.as_str()),
                "the real run shows {n}: {}",
                real.all()
            );
        }
        let gone: BTreeSet<String> = on_disk.difference(&dumps_on_disk()).cloned().collect();
        assert_eq!(
            gone, shown_deletes,
            "deleted on disk vs the dry run's table"
        );
        for (n, sha) in &hashes {
            assert!(!sh(&format!("ls -1 {DIR}"))
                .lines()
                .any(|l| l.starts_with(n.as_str())));
            let moved = sh(&format!("cd {TRASH} && sha256sum {n}"));
            assert!(moved.starts_with(sha.as_str()), "{moved}");
            sh(&format!("test -f {TRASH}/{n}.sha256"));
            let record: Value =
                serde_json::from_str(&sh(&format!("cat {TRASH}/{n}.trashed.json"))).unwrap();
            assert_eq!(record["sha256"], sha.as_str());
            assert_eq!(record["rule"], "expired");
            assert_eq!(record["from"], format!("{DIR}/{n}"));
        }
        // The audit outcome records each deletion's sha256.
        let replay = runbook(&["replay", "last", "--json"]).json();
        let outcome = common::events_of(&replay, "outcome")
            .into_iter()
            .find(|e| e["payload"]["function"] == "backup::prune")
            .expect("a backup::prune outcome");
        let recorded: BTreeSet<(String, String)> = outcome["payload"]["result"]["trashed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["name"].as_str().unwrap().to_string(),
                    t["sha256"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(recorded, hashes.iter().cloned().collect());
        for keep in [&corrupt, &unsidecared] {
            sh(&format!("test -f {DIR}/{keep}"));
        }
    };
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(result));
    exec(&["bash", "-c", &cleanup]);
    if let Err(e) = caught {
        std::panic::resume_unwind(e);
    }
}
