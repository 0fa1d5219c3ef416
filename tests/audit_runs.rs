//! The audit trail of real `runbook run` processes: concurrency and crashes.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Sandbox, FIXTURES};

#[test]
fn eight_concurrent_runs_of_500_events_all_land_and_the_chain_verifies() {
    let sb = Sandbox::new();
    let children: Vec<_> = (0..8)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_runbook"))
                .args(["--runbooks", FIXTURES, "run", "many-events", "--json"])
                .env("RUNBOOK_AUDIT_DB", sb.db())
                .env("NO_COLOR", "1")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(!stderr.contains("locked"), "{stderr}");
    }
    let log = sb.cmd().args(["log", "--json"]).run().code(0).json();
    assert_eq!(log.as_array().unwrap().len(), 8);
    assert!(log.as_array().unwrap().iter().all(|r| r["status"] == "ok"));
    let v = sb
        .cmd()
        .args(["audit", "verify", "--json"])
        .run()
        .code(0)
        .json();
    assert_eq!(v["ok"], true);
    // run-start, step-start, 500 outputs, step-end, run-end per run
    assert!(v["events"].as_u64().unwrap() >= 8 * 504, "{v}");
}

#[test]
fn a_run_killed_with_sigkill_leaves_a_verifiable_trail_with_every_intent() {
    let sb = Sandbox::new();
    let site = sb.site(&[]);
    let dir = sb.path().join("files");
    let mut child = Command::new(env!("CARGO_BIN_EXE_runbook"))
        .args(["--runbooks", FIXTURES, "--site"])
        .arg(&site)
        .args(["run", "slow-writes", "-p"])
        .arg(format!("dir={}", dir.display()))
        .env("RUNBOOK_AUDIT_DB", sb.db())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once it has finished a few writes.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while finished_writes(&dir).len() < 5 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let written = finished_writes(&dir);
    assert!(
        written.len() >= 5 && written.len() < 200,
        "{} files",
        written.len()
    );

    sb.cmd().args(["audit", "verify"]).run().code(0);
    let log = sb.cmd().args(["log", "--json"]).run().code(0).json();
    assert_eq!(log[0]["status"], "interrupted", "{log}");
    let replay = sb
        .cmd()
        .args(["replay", "last", "--json"])
        .run()
        .code(0)
        .json();
    let intents: Vec<String> = common::events_of(&replay, "intent")
        .into_iter()
        .map(|e| e["payload"]["args"]["path"].as_str().unwrap().to_string())
        .collect();
    for path in &written {
        assert!(
            intents.contains(path),
            "{path} was written without an intent event"
        );
    }
}

/// The files a `slow-writes` run has finished: not the temporary file of a write in progress.
fn finished_writes(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with('f'))
        .map(|p| p.display().to_string())
        .collect()
}

/// The store opens while the runbook starts (reads may begin meanwhile), but nothing that
/// changes the machine happens without it: a store that cannot be opened ends the run with
/// exit 4 before the runbook's first write.
#[test]
fn a_run_whose_audit_store_cannot_open_changes_nothing() {
    let sb = Sandbox::new();
    let site = sb.site(&[]);
    let target = sb.path().join("files").join("motd.txt");
    // The database's directory would have to be created inside a regular file.
    let blocker = sb.path().join("not-a-directory");
    std::fs::write(&blocker, "").unwrap();
    let db = blocker.join("audit.db");
    let out = common::Runbook::new()
        .fixtures()
        .args(["--site".as_ref(), site.as_os_str()])
        .env("RUNBOOK_AUDIT_DB", &db)
        .args(["run", "write-file", "--yes", "-p"])
        .arg_path("path=", &target)
        .run()
        .code(4);
    assert!(
        !target.exists(),
        "the runbook wrote without an audit record"
    );
    assert!(
        out.stdout.contains("NOT RECORDED"),
        "no replay is promised: {}",
        out.stdout
    );
    assert!(
        out.stderr.contains(&blocker.display().to_string()),
        "the error names the database path: {}",
        out.stderr
    );
}
