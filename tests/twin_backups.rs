//! `backups -p verify=true` against real pg_dump custom-format dumps of the twin's Postgres 15:
//! a fresh dump verifies; a dump truncated to 40% (whose table of contents still lists), one
//! with a byte flipped in the middle, and one with a wrong sidecar are each caught by their
//! own crit finding; a set whose newest good dump is old says backups have stopped. Verifying
//! changes nothing in the backups directory.

mod common;

use common::twin::{available, exec, exec_ok, lock, runbook, seed_messages};
use serde_json::Value;

const DIR: &str = "/opt/aurora-infra/backups";

fn sh(script: &str) -> String {
    exec_ok(&["bash", "-euo", "pipefail", "-c", script])
}

fn findings(v: &Value) -> Vec<(String, String, String)> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["subject"].as_str().unwrap().to_string(),
                f["severity"].as_str().unwrap().to_string(),
                f["summary"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn severity_of(v: &Value, subject: &str) -> (String, String) {
    findings(v)
        .into_iter()
        .find(|(s, _, _)| s == subject)
        .map(|(_, sev, sum)| (sev, sum))
        .unwrap_or_else(|| panic!("no finding for {subject}: {v}"))
}

#[test]
fn verify_reads_every_block_and_catches_each_corruption() {
    if !available() {
        return;
    }
    let _g = lock();
    seed_messages();
    let now = sh("date -u +%Y%m%dT%H%M%SZ");
    let good = format!("aurora_{}.dump", now.trim());
    let planted = [
        "aurora_20261110.dump",
        "aurora_20261111.dump",
        "aurora_20261112.dump",
    ];
    let cleanup = format!(
        "cd {DIR} && rm -f {good} {good}.sha256 {} && rm -rf /tmp/stale /tmp/stale-site.yaml",
        planted
            .iter()
            .map(|p| format!("{p} {p}.sha256"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    sh(&format!(
        "cd {DIR} && docker exec aurora-postgres pg_dump -U postgres -d aurora --format=custom > {good} \
         && sha256sum {good} > {good}.sha256"
    ));
    let size: u64 = sh(&format!("stat -c %s {DIR}/{good}"))
        .trim()
        .parse()
        .unwrap();
    assert!(size > 1_000_000, "the seeded dump is {size} bytes");

    let clean = runbook(&["run", "backups", "-p", "verify=true", "--json"]);
    let v = clean.json();
    assert_eq!(clean.code, 0, "{}", clean.all());
    assert_eq!(
        severity_of(&v, &good).0,
        "ok",
        "the fresh dump verifies: {}",
        clean.all()
    );
    let (sev, summary) = severity_of(&v, "backups aurora");
    assert_eq!(sev, "ok", "{summary}");
    assert!(summary.contains(&good), "{summary}");

    // Truncated to 40% with a sidecar of the truncated bytes: only the full read sees it.
    let [truncated, flipped, wrong_sidecar] = planted;
    sh(&format!(
        "cd {DIR} && cp {good} {truncated} && truncate -s {} {truncated} && sha256sum {truncated} > {truncated}.sha256",
        size * 40 / 100
    ));
    let list = exec(&["pg_restore", "--list", &format!("{DIR}/{truncated}")]);
    assert_eq!(
        list.code,
        0,
        "pg_restore --list passes the truncated dump (that is why it is no check): {}",
        list.all()
    );
    // One byte flipped in the middle, under the original's sidecar.
    sh(&format!(
        "cd {DIR} && cp {good} {flipped} && sed 's/{good}/{flipped}/' {good}.sha256 > {flipped}.sha256 \
         && python3 -c 'import sys; f=open(sys.argv[1],\"r+b\"); f.seek({mid}); b=f.read(1); f.seek({mid}); f.write(bytes([b[0]^255]))' {flipped}",
        mid = size / 2
    ));
    // Intact bytes, a sidecar with someone else's hash.
    sh(&format!(
        "cd {DIR} && cp {good} {wrong_sidecar} && echo \"$(printf '0%.0s' $(seq 64))  {wrong_sidecar}\" > {wrong_sidecar}.sha256"
    ));
    let before = sh(&format!("ls -l --full-time {DIR} | sha256sum"));
    let out = runbook(&["run", "backups", "-p", "verify=true", "--json"]);
    let after = sh(&format!("ls -l --full-time {DIR} | sha256sum"));
    let v = out.json();
    let result = || {
        assert_eq!(out.code, 5, "crit findings: {}", out.all());
        assert_eq!(before, after, "verifying changed the backups directory");
        let (sev, summary) = severity_of(&v, truncated);
        assert_eq!(sev, "crit", "{summary}");
        assert!(
            summary.starts_with("corrupt: pg_restore: error:"),
            "{summary}"
        );
        let (sev, summary) = severity_of(&v, flipped);
        assert_eq!(sev, "crit", "{summary}");
        assert!(
            summary.starts_with("corrupt:") || summary.starts_with("sidecar mismatch"),
            "{summary}"
        );
        let (sev, summary) = severity_of(&v, wrong_sidecar);
        assert_eq!(sev, "crit", "{summary}");
        assert!(summary.starts_with("sidecar mismatch"), "{summary}");
        assert_eq!(severity_of(&v, &good).0, "ok");
        assert_eq!(severity_of(&v, "backups aurora").0, "ok");

        // A set whose only good dump is from September: backups have stopped.
        sh(&format!(
            "mkdir -p /tmp/stale && cp {DIR}/{good} /tmp/stale/aurora_20260901.dump \
             && (cd /tmp/stale && sha256sum aurora_20260901.dump > aurora_20260901.dump.sha256) \
             && sed 's#^      dir: /opt/aurora-infra/backups$#      dir: /tmp/stale#' /etc/runbook/site.yaml > /tmp/stale-site.yaml \
             && grep -q 'dir: /tmp/stale' /tmp/stale-site.yaml"
        ));
        let stale = runbook(&[
            "--site",
            "/tmp/stale-site.yaml",
            "run",
            "backups",
            "-p",
            "verify=true",
            "--json",
        ]);
        assert_eq!(stale.code, 5, "{}", stale.all());
        let (sev, summary) = severity_of(&stale.json(), "backups aurora");
        assert_eq!(sev, "crit", "{summary}");
        assert!(summary.contains("backups have stopped"), "{summary}");
        // A set the site does not have: a clear error, exit 1, nothing read.
        let bad = runbook(&["run", "backups", "-p", "set=nope"]);
        assert_ne!(bad.code, 0);
        assert!(bad.all().contains("no backup set `nope`"), "{}", bad.all());
    };
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(result));
    sh(&cleanup);
    if let Err(e) = caught {
        std::panic::resume_unwind(e);
    }
}
