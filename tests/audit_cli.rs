//! `runbook log`, `replay` and `audit verify|export`, through the functions the subcommands
//! call, with output captured. The CLI files are compiled here the way the binary compiles them
//! (as modules that reach the library through `crate::audit` and `crate::error`).

use std::path::Path;

use serde_json::{json, Value};

use runbook::audit::event::RunEnd;
use runbook::audit::{AuditStore, Durability, NewRun, RunStatus};

mod audit {
    pub use runbook::audit::*;
}
mod error {
    pub use runbook::error::*;
}
mod time {
    pub use runbook::time::*;
}
mod identity {
    pub use runbook::identity::*;
}
mod complete {
    pub use runbook::cli::complete::*;
}
mod pager {
    pub use runbook::cli::pager::*;
}
#[allow(dead_code)]
#[path = "../src/cli/audit.rs"]
mod audit_cli;
#[allow(dead_code)]
#[path = "../src/cli/log.rs"]
mod log;
#[allow(dead_code)]
#[path = "../src/cli/replay.rs"]
mod replay;

const SOURCE: &str =
    "//! name: restart-unit\nstep \"Restart\" { systemd::restart(params.unit); }\n";

fn rt() -> tokio::runtime::Runtime {
    console::set_colors_enabled(false);
    tokio::runtime::Runtime::new().unwrap()
}

fn new_run(name: &str, dry_run: bool) -> NewRun {
    NewRun {
        runbook: name.into(),
        source: SOURCE.into(),
        params: json!({"unit": "nginx.service"}),
        operator: json!({"login": "alice", "login_source": "loginuid", "uid": 1000,
                         "euid": 0, "user": "root", "tty": "/dev/pts/0"}),
        host: "openclaw".into(),
        dry_run,
        dry_run_reason: dry_run.then(|| "--dry-run".to_string()),
        kind: None,
    }
}

/// Three runs: a full restart (ok), a failed one, and a dry run. Returns their ids.
fn fixture(rt: &tokio::runtime::Runtime, db: &Path) -> Vec<String> {
    rt.block_on(async {
        let store = AuditStore::open(db).await.unwrap();
        let mut ids = Vec::new();

        let run = store
            .start_run(new_run("restart-unit", false))
            .await
            .unwrap();
        let s = Some("Restart");
        run.record("step-start", s, json!({}), Durability::Buffered)
            .await
            .unwrap();
        let stdout: String = (1..=10).map(|i| format!("line {i}\n")).collect();
        run.record(
            "call",
            s,
            json!({"fn": "commands.run", "args": {"argv": ["systemctl", "status"]},
                   "result": {"exit_code": 0, "stdout": stdout}, "duration_ms": 12}),
            Durability::Buffered,
        )
        .await
        .unwrap();
        run.record(
            "gate",
            s,
            json!({"question": "Restart nginx.service?", "answer": "yes", "answered_by": "alice"}),
            Durability::Durable,
        )
        .await
        .unwrap();
        let intent = run
            .record(
                "intent",
                s,
                json!({"fn": "systemd.restart", "args": {"unit": "nginx.service"}}),
                Durability::Durable,
            )
            .await
            .unwrap();
        run.record(
            "outcome",
            s,
            json!({"fn": "systemd.restart", "intent_seq": intent,
                   "result": {"job": "/org/freedesktop/systemd1/job/42"}, "duration_ms": 800}),
            Durability::Durable,
        )
        .await
        .unwrap();
        run.record("step-end", s, json!({"status": "ok"}), Durability::Buffered)
            .await
            .unwrap();
        run.finish(RunEnd::new(RunStatus::Ok, 0)).await.unwrap();
        ids.push(run.id().to_string());

        let run = store.start_run(new_run("check-disk", false)).await.unwrap();
        run.record(
            "call",
            Some("Look"),
            json!({"fn": "files.stat", "args": {"path": "/nope"}, "error": "not found"}),
            Durability::Buffered,
        )
        .await
        .unwrap();
        run.finish(RunEnd::new(RunStatus::Failed, 1).with_error("disk check failed"))
            .await
            .unwrap();
        ids.push(run.id().to_string());

        let run = store
            .start_run(new_run("restart-unit", true))
            .await
            .unwrap();
        run.record(
            "planned",
            Some("Restart"),
            json!({"fn": "systemd.restart", "args": {"unit": "nginx.service"},
                   "plan": "would restart nginx.service"}),
            Durability::Buffered,
        )
        .await
        .unwrap();
        run.finish(RunEnd::new(RunStatus::Ok, 0)).await.unwrap();
        ids.push(run.id().to_string());
        store.close().await.unwrap();
        ids
    })
}

fn log_args() -> log::LogArgs {
    log::LogArgs {
        runbook: None,
        operator: None,
        since: None,
        until: None,
        limit: 20,
        reverse: false,
        json: false,
    }
}

fn render_log(args: &log::LogArgs, db: &Path, rt: &tokio::runtime::Runtime) -> String {
    let mut out = Vec::new();
    log::render(args, db, rt, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn replay_args(run: &str) -> replay::ReplayArgs {
    replay::ReplayArgs {
        run: run.into(),
        json: false,
        source: false,
        module: None,
        full: false,
    }
}

fn render_replay(
    args: &replay::ReplayArgs,
    db: &Path,
    rt: &tokio::runtime::Runtime,
) -> runbook::error::Result<String> {
    let mut out = Vec::new();
    replay::render(args, db, rt, &mut out)?;
    Ok(String::from_utf8(out).unwrap())
}

#[test]
fn log_lists_runs_newest_first_with_status() {
    let rt = rt();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("audit.db");
    let ids = fixture(&rt, &db);
    let text = render_log(&log_args(), &db, &rt);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    for h in [
        "RUN", "RUNBOOK", "STATUS", "OPERATOR", "STARTED", "DURATION",
    ] {
        assert!(lines[0].contains(h), "{text}");
    }
    assert!(
        lines[1].starts_with(&ids[2]) && lines[1].contains("ok (dry run)"),
        "{text}"
    );
    assert!(
        lines[2].starts_with(&ids[1]) && lines[2].contains("failed"),
        "{text}"
    );
    assert!(
        lines[3].starts_with(&ids[0]) && lines[3].contains(" ok "),
        "{text}"
    );
    assert!(lines[3].contains("alice") && lines[3].contains("restart-unit"));

    let only = log::LogArgs {
        runbook: Some("check-disk".into()),
        ..log_args()
    };
    assert_eq!(render_log(&only, &db, &rt).lines().count(), 2);
    let limited = log::LogArgs {
        limit: 1,
        ..log_args()
    };
    assert_eq!(render_log(&limited, &db, &rt).lines().count(), 2);
    let recent = log::LogArgs {
        since: Some("1h".into()),
        ..log_args()
    };
    assert_eq!(render_log(&recent, &db, &rt).lines().count(), 4);
    let nobody = log::LogArgs {
        operator: Some("bob".into()),
        ..log_args()
    };
    assert_eq!(render_log(&nobody, &db, &rt).trim(), "No runs match.");
}

#[test]
fn log_json_fields() {
    let rt = rt();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("audit.db");
    let ids = fixture(&rt, &db);
    let args = log::LogArgs {
        json: true,
        ..log_args()
    };
    let runs: Vec<Value> = serde_json::from_str(&render_log(&args, &db, &rt)).unwrap();
    assert_eq!(runs.len(), 3);
    let failed = &runs[1];
    assert_eq!(failed["id"], ids[1].as_str());
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["exit_code"], 1);
    assert_eq!(failed["error"], "disk check failed");
    assert_eq!(failed["operator"], "alice");
    assert_eq!(failed["host"], "openclaw");
    assert_eq!(failed["dry_run"], false);
    assert_eq!(runs[0]["dry_run"], true);
    for key in ["runbook", "started_at", "ended_at", "duration_ms"] {
        assert!(failed.get(key).is_some(), "{key}");
    }
}

#[test]
fn log_without_a_database_and_with_a_bad_time() {
    let rt = rt();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("missing.db");
    assert!(render_log(&log_args(), &db, &rt).starts_with("No runs recorded yet"));
    assert!(!db.exists(), "log does not create a database");
    let bad = log::LogArgs {
        since: Some("yesterday-ish".into()),
        ..log_args()
    };
    let err = log::render(&bad, &db, &rt, &mut Vec::new()).unwrap_err();
    assert_eq!(err.exit_code(), 2);
}

#[test]
fn replay_shows_the_timeline() {
    let rt = rt();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("audit.db");
    let ids = fixture(&rt, &db);
    let text = render_replay(&replay_args(&ids[0][..20]), &db, &rt).unwrap();
    let expect = [
        "restart-unit",
        "alice (from loginuid), as root, on /dev/pts/0",
        r#"{"unit":"nginx.service"}"#,
        "+0.000s  start",
        "▸ step Restart",
        r#"· commands.run(argv=["systemctl","status"]) = {"exit_code":0} (0.012s)"#,
        "line 1",
        "line 4",
        "… 6 more lines (use --full)",
        "? Restart nginx.service? → yes (by alice)",
        r#"✎ systemd.restart(unit="nginx.service")"#,
        r#"→ systemd.restart = {"job":"/org/freedesktop/systemd1/job/42"} (0.800s)"#,
        "✓ step ok",
        "end ok",
        "status: ok, exit code 0, took",
    ];
    for e in expect {
        assert!(text.contains(e), "missing {e:?} in:\n{text}");
    }
    assert!(!text.contains("line 5"), "{text}");
    let full = replay::ReplayArgs {
        full: true,
        ..replay_args(&ids[0])
    };
    let text = render_replay(&full, &db, &rt).unwrap();
    assert!(
        text.contains("line 10") && !text.contains("more lines"),
        "{text}"
    );

    let text = render_replay(&replay_args(&ids[1]), &db, &rt).unwrap();
    assert!(
        text.contains("files.stat(path=\"/nope\") ✗ not found"),
        "{text}"
    );
    assert!(text.contains("error: disk check failed"), "{text}");

    let text = render_replay(&replay_args("last"), &db, &rt).unwrap();
    assert!(text.contains("start (dry run: --dry-run)"), "{text}");
    assert!(
        text.contains(r#"◌ would systemd.restart(unit="nginx.service"): would restart"#),
        "{text}"
    );
}

#[test]
fn replay_source_and_json() {
    let rt = rt();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("audit.db");
    let ids = fixture(&rt, &db);
    let src = replay::ReplayArgs {
        source: true,
        ..replay_args(&ids[0])
    };
    assert_eq!(render_replay(&src, &db, &rt).unwrap(), SOURCE);

    let json_args = replay::ReplayArgs {
        json: true,
        ..replay_args(&ids[0])
    };
    let v: Value = serde_json::from_str(&render_replay(&json_args, &db, &rt).unwrap()).unwrap();
    assert_eq!(v["run"]["id"], ids[0].as_str());
    assert_eq!(v["run"]["status"], "ok");
    assert_eq!(v["run"]["params"]["unit"], "nginx.service");
    assert_eq!(v["run"]["operator_identity"]["login"], "alice");
    assert!(v["run"]["source_sha256"].is_string());
    let events = v["events"].as_array().unwrap();
    assert_eq!(events.len(), 8);
    assert_eq!(events[0]["kind"], "run-start");
    assert_eq!(events[0]["offset_s"], 0.0);
    assert_eq!(events[4]["kind"], "intent");
    assert_eq!(events[4]["payload"]["args"]["unit"], "nginx.service");
    for key in [
        "id",
        "seq",
        "time",
        "offset_s",
        "kind",
        "step",
        "prev_hash",
        "hash",
    ] {
        assert!(events[4].get(key).is_some(), "{key}");
    }
}

#[test]
fn replay_of_an_unknown_run_is_a_usage_error() {
    let rt = rt();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("audit.db");
    fixture(&rt, &db);
    let err = render_replay(&replay_args("19990101"), &db, &rt).unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(err.to_string().contains("no run matches"), "{err}");
}

fn verify_text(
    args: &audit_cli::VerifyArgs,
    db: &Path,
    rt: &tokio::runtime::Runtime,
) -> (runbook::error::Result<()>, String) {
    let mut out = Vec::new();
    let r = audit_cli::render_verify(args, db, rt, &mut out);
    (r, String::from_utf8(out).unwrap())
}

#[test]
fn verify_reports_ok_and_breaks() {
    let rt = rt();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("audit.db");
    let ids = fixture(&rt, &db);
    let args = audit_cli::VerifyArgs {
        json: false,
        expect_head: None,
    };
    let (r, text) = verify_text(&args, &db, &rt);
    r.unwrap();
    assert!(
        text.starts_with("ok: 14 events in 3 runs verified in"),
        "{text}"
    );
    assert!(
        text.contains("head ") && text.contains("(event 14)"),
        "{text}"
    );

    let json_args = audit_cli::VerifyArgs {
        json: true,
        expect_head: None,
    };
    let (r, text) = verify_text(&json_args, &db, &rt);
    r.unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["events"], 14);
    assert_eq!(v["runs"], 3);
    assert_eq!(v["sources"], 1);
    assert_eq!(v["head_id"], 14);
    let head = v["head"].as_str().unwrap().to_string();
    for key in ["expect_head_id", "seconds"] {
        assert!(v.get(key).is_some(), "{key}");
    }
    let anchored = audit_cli::VerifyArgs {
        json: false,
        expect_head: Some(head),
    };
    let (r, text) = verify_text(&anchored, &db, &rt);
    r.unwrap();
    assert!(text.contains("expected head found at event 14"), "{text}");

    // Tamper with the outcome of the first run.
    let sql = format!(
        "DROP TRIGGER events_no_update; UPDATE events SET payload = replace(payload, 'job/42', \
         'job/43') WHERE run = '{}' AND seq = 6",
        ids[0]
    );
    let out = std::process::Command::new("sqlite3")
        .args(["-cmd", ".timeout 10000"])
        .arg(&db)
        .arg(sql)
        .output()
        .unwrap();
    assert!(out.status.success());
    let (r, text) = verify_text(&json_args, &db, &rt);
    let err = r.unwrap_err();
    assert_eq!(err.exit_code(), 4);
    assert!(
        err.to_string().contains(&format!("run {}, seq 6", ids[0])),
        "{err}"
    );
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["break"]["seq"], 6);
    assert_eq!(v["break"]["run"], ids[0].as_str());
}

#[test]
fn verify_without_a_database() {
    let rt = rt();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("missing.db");
    let (r, text) = verify_text(
        &audit_cli::VerifyArgs {
            json: false,
            expect_head: None,
        },
        &db,
        &rt,
    );
    r.unwrap();
    assert!(text.contains("nothing to verify"), "{text}");
    let (r, _) = verify_text(
        &audit_cli::VerifyArgs {
            json: false,
            expect_head: Some("0".repeat(64)),
        },
        &db,
        &rt,
    );
    assert_eq!(r.unwrap_err().exit_code(), 4);
}

#[test]
fn export_lines() {
    let rt = rt();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("audit.db");
    let ids = fixture(&rt, &db);
    let export = |args: audit_cli::ExportArgs| {
        let mut out = Vec::new();
        audit_cli::render_export(&args, &db, &rt, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    };
    let all = export(audit_cli::ExportArgs {
        since: None,
        run: None,
    });
    assert_eq!(all.lines().count(), 14);
    let mut prev = "0".repeat(64);
    for line in all.lines() {
        let e: Value = serde_json::from_str(line).unwrap();
        assert_eq!(e["prev_hash"], prev.as_str());
        prev = e["hash"].as_str().unwrap().to_string();
        let payload: Value = serde_json::from_str(e["payload_text"].as_str().unwrap()).unwrap();
        assert!(payload.is_object());
    }
    let one = export(audit_cli::ExportArgs {
        since: None,
        run: Some(ids[1].clone()),
    });
    assert_eq!(one.lines().count(), 3);
    assert!(one.lines().all(|l| l.contains(&ids[1])));
    let recent = export(audit_cli::ExportArgs {
        since: Some("1h".into()),
        run: None,
    });
    assert_eq!(recent.lines().count(), 14);
    let future = export(audit_cli::ExportArgs {
        since: Some("2999-01-01".into()),
        run: None,
    });
    assert!(future.is_empty());
}
