//! The audit store through its library API, the sqlite3 command-line client, child processes
//! and the Python export verifier.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use runbook::audit::event::RunEnd;
use runbook::audit::{
    export, list_runs, resolve_run, verify, AuditError, AuditStore, Durability, EventFilter,
    NewRun, Redactor, RunFilter, RunRecorder, RunStart, RunState, RunStatus, VerifyOptions,
};

const CHILD_ROLE: &str = "RUNBOOK_AUDIT_TEST_CHILD";
const CHILD_DB: &str = "RUNBOOK_AUDIT_TEST_DB";

fn new_run(name: &str) -> NewRun {
    NewRun {
        runbook: name.into(),
        source: format!("//! name: {name}\nstep \"one\" {{ print(\"hi\"); }}\n"),
        params: json!({"unit": "nginx.service"}),
        operator: serde_json::to_value(runbook::identity::Operator::detect()).unwrap(),
        host: "testhost".into(),
        dry_run: false,
        dry_run_reason: None,
        kind: None,
    }
}

fn call(i: usize) -> Value {
    json!({"fn": "files.stat", "args": {"path": format!("/etc/{i}")}, "result": {"size": i}})
}

/// Run SQL through the sqlite3 command-line client.
fn sqlite3(db: &Path, sql: &str) -> std::process::Output {
    Command::new("sqlite3")
        .args(["-bail", "-cmd", ".timeout 10000"])
        .arg(db)
        .arg(sql)
        .output()
        .expect("sqlite3 is installed")
}

fn sqlite3_ok(db: &Path, sql: &str) -> String {
    let out = sqlite3(db, sql);
    assert!(
        out.status.success(),
        "sqlite3 {sql:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

const DROP_TRIGGERS: &str = "DROP TRIGGER events_no_update; DROP TRIGGER events_no_delete; \
     DROP TRIGGER runs_no_update; DROP TRIGGER runs_no_delete; \
     DROP TRIGGER sources_no_update; DROP TRIGGER sources_no_delete;";

/// The triggers as the migration creates them.
fn restore_triggers() -> String {
    let mut sql = String::new();
    for t in ["sources", "runs", "events"] {
        for op in ["update", "delete"] {
            sql.push_str(&format!(
                "CREATE TRIGGER {t}_no_{op} BEFORE {} ON {t} \
                 BEGIN SELECT RAISE(ABORT, 'audit tables are append-only'); END;",
                op.to_uppercase()
            ));
        }
    }
    sql
}

/// A database with two finished runs of 5 events each (run-start, 3 calls, run-end).
async fn two_runs(db: &Path) -> (AuditStore, Vec<String>) {
    let store = AuditStore::open(db).await.unwrap();
    let mut ids = Vec::new();
    for name in ["first", "second"] {
        let run = store.start_run(new_run(name)).await.unwrap();
        for i in 0..3 {
            run.record("call", Some("one"), call(i), Durability::Buffered)
                .await
                .unwrap();
        }
        run.finish(RunEnd::new(RunStatus::Ok, 0)).await.unwrap();
        ids.push(run.id().to_string());
    }
    (store, ids)
}

async fn export_text(store: &AuditStore, filter: &EventFilter) -> String {
    let mut conn = store.reader().await.unwrap();
    let mut out = Vec::new();
    export(&mut conn, filter, &mut out).await.unwrap();
    String::from_utf8(out).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Child processes: the test binary re-runs itself with CHILD_ROLE set and only this test.

#[test]
fn child_process() {
    let Ok(role) = std::env::var(CHILD_ROLE) else {
        return;
    };
    let db = PathBuf::from(std::env::var(CHILD_DB).unwrap());
    // Never outlive the test that started us.
    // SAFETY: prctl with PR_SET_PDEATHSIG only sets a signal for this process.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = AuditStore::open(&db).await.unwrap();
        let run = store.start_run(new_run(&role)).await.unwrap();
        match role.as_str() {
            "append" => {
                for i in 0..500 {
                    let d = if i % 10 == 0 {
                        Durability::Durable
                    } else {
                        Durability::Buffered
                    };
                    run.record("call", Some("one"), call(i), d).await.unwrap();
                    if i % 50 == 49 {
                        run.flush().await.unwrap();
                    }
                }
                run.finish(RunEnd::new(RunStatus::Ok, 0)).await.unwrap();
            }
            "abandon" => {
                run.record("intent", Some("one"), call(0), Durability::Durable)
                    .await
                    .unwrap();
                // Exit without an end event, as a crash would.
                std::process::exit(0);
            }
            "loop" => {
                println!("started {}", run.id());
                let deadline = std::time::Instant::now() + Duration::from_secs(60);
                for i in 0.. {
                    assert!(std::time::Instant::now() < deadline, "never killed");
                    let d = if i % 3 == 0 {
                        Durability::Durable
                    } else {
                        Durability::Buffered
                    };
                    run.record("call", Some("one"), call(i), d).await.unwrap();
                    if i % 7 == 0 {
                        run.flush().await.unwrap();
                    }
                }
            }
            other => panic!("unknown child role {other}"),
        }
    });
}

fn spawn_child(role: &str, db: &Path, stdout: Stdio) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ROLE, role)
        .env(CHILD_DB, db)
        .stdout(stdout)
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// Wait until a `loop` child has started its run; returns the run id.
fn wait_started(child: &mut std::process::Child) -> String {
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    loop {
        let line = lines.next().expect("the child printed `started`").unwrap();
        // libtest may print `test child_process ... ` on the same line first.
        if let Some(at) = line.find("started ") {
            return line[at + "started ".len()..].trim().to_string();
        }
    }
}

// ---------------------------------------------------------------------------------------------

#[test]
fn handles_can_cross_threads() {
    fn check<T: Send + Sync>() {}
    check::<AuditStore>();
    check::<runbook::audit::RunRecorder>();
    check::<runbook::audit::Redactor>();
}

#[tokio::test]
async fn new_database_and_its_wal_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state/runbook/audit.db");
    let (_store, _) = two_runs(&db).await;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&db), 0o600);
    assert_eq!(mode(db.parent().unwrap()), 0o700);
    for suffix in ["-wal", "-shm"] {
        let side = PathBuf::from(format!("{}{suffix}", db.display()));
        assert!(side.exists(), "{suffix} exists while the store is open");
        assert_eq!(mode(&side), 0o600, "{suffix}");
    }
}

#[tokio::test]
async fn update_and_delete_fail_on_every_audit_table() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("audit.db");
    let (store, _) = two_runs(&db).await;
    store.close().await.unwrap();
    for sql in [
        "UPDATE events SET kind = 'x' WHERE id = 1",
        "DELETE FROM events WHERE id = (SELECT MAX(id) FROM events)",
        "UPDATE runs SET runbook = 'x'",
        "DELETE FROM runs",
        "UPDATE sources SET text = 'x'",
        "DELETE FROM sources",
    ] {
        let out = sqlite3(&db, sql);
        assert!(!out.status.success(), "{sql} succeeded");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("audit tables are append-only"), "{sql}: {err}");
    }
    let store = AuditStore::open(&db).await.unwrap();
    let report = verify(&store, &VerifyOptions::default()).await.unwrap();
    assert_eq!(report.events, 10);
    assert_eq!(report.runs, 2);
}

#[tokio::test]
async fn verify_names_the_run_and_seq_of_an_edited_event() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("audit.db");
    let (store, ids) = two_runs(&db).await;
    let report = verify(&store, &VerifyOptions::default()).await.unwrap();
    assert_eq!(report.events, 10);
    store.close().await.unwrap();

    sqlite3_ok(&db, DROP_TRIGGERS);
    sqlite3_ok(
        &db,
        &format!(
            "UPDATE events SET payload = replace(payload, '/etc/1', '/etc/X') \
             WHERE run = '{}' AND seq = 3",
            ids[0]
        ),
    );
    let store = AuditStore::open(&db).await.unwrap();
    let err = verify(&store, &VerifyOptions::default()).await.unwrap_err();
    let AuditError::ChainBroken(b) = &err else {
        panic!("expected a chain break, got {err}");
    };
    assert_eq!((b.run.as_str(), b.seq), (ids[0].as_str(), 3));
    let msg = err.to_string();
    assert!(msg.contains(&format!("run {}, seq 3", ids[0])), "{msg}");
    assert!(msg.contains("changed"), "{msg}");
    // The CLI maps it to exit code 4.
    assert_eq!(runbook::error::Error::from(err).exit_code(), 4);
}

/// A store in `dir` with one run of `calls` host calls (ids 1 to calls + 2: run-start, the
/// calls, run-end), its triggers dropped so that tests can damage copies of it. Returns the
/// file and the run's id.
async fn one_run_of(dir: &tempfile::TempDir, calls: usize) -> (std::path::PathBuf, String) {
    let base = dir.path().join("base.db");
    let store = AuditStore::open(&base).await.unwrap();
    let run = store.start_run(new_run("many")).await.unwrap();
    for i in 0..calls {
        run.record("call", Some("s"), call(i), Durability::Buffered)
            .await
            .unwrap();
        if i % 5000 == 4999 {
            run.flush().await.unwrap();
        }
    }
    run.finish(RunEnd::new(RunStatus::Ok, 0)).await.unwrap();
    let id = run.id().to_string();
    drop(run);
    assert_eq!(
        verify(&store, &VerifyOptions::default())
            .await
            .unwrap()
            .events,
        calls as u64 + 2
    );
    store.close().await.unwrap();
    sqlite3_ok(&base, DROP_TRIGGERS);
    (base, id)
}

/// Copy `base`, damage the copy with `sql`, verify it in `ranges` id ranges and return the
/// (run, seq) of the break verify names.
async fn break_after(
    dir: &tempfile::TempDir,
    base: &Path,
    sql: &str,
    ranges: usize,
) -> (String, i64) {
    let db = dir.path().join("case.db");
    std::fs::copy(base, &db).unwrap();
    let _ = std::fs::remove_file(dir.path().join("case.db-wal"));
    sqlite3_ok(&db, sql);
    let store = AuditStore::open(&db).await.unwrap();
    let opts = VerifyOptions {
        ranges: Some(ranges),
        ..Default::default()
    };
    let err = verify(&store, &opts).await.unwrap_err();
    store.close().await.unwrap();
    let AuditError::ChainBroken(b) = &err else {
        panic!("{sql} ({ranges} ranges): expected a chain break, got {err}");
    };
    (b.run.clone(), b.seq)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_break_is_found_across_parallel_ranges() {
    // verify reads the chain in id ranges, each on its own connection and thread, each later
    // range starting from the stored hash of the event before it. Whatever the number of
    // ranges, it must name the event one scan in id order names: at every seam, in two ranges
    // at once, with the seam's event deleted and with the ids shifted at a seam.
    let dir = tempfile::tempdir().unwrap();
    let (base, id) = one_run_of(&dir, 20_000).await;
    let span = 20_002i64; // ids 1..=20002

    let intact = dir.path().join("intact.db");
    std::fs::copy(&base, &intact).unwrap();
    sqlite3_ok(&intact, &restore_triggers());
    let store = AuditStore::open(&intact).await.unwrap();
    let whole = |ranges| VerifyOptions {
        ranges: Some(ranges),
        ..Default::default()
    };
    let one = verify(&store, &whole(1)).await.unwrap();
    let anchor = one.head.clone();
    for n in 2..=4 {
        let r = verify(&store, &whole(n)).await.unwrap();
        assert_eq!(
            (r.events, &r.head, r.head_id),
            (one.events, &one.head, one.head_id)
        );
    }
    // The expected head found in a later range: the last event's hash, in the last range.
    let anchored = VerifyOptions {
        expect_head: Some(anchor),
        ranges: Some(4),
    };
    assert_eq!(
        verify(&store, &anchored).await.unwrap().expect_head_id,
        Some(span)
    );
    store.close().await.unwrap();

    let edit =
        |ids: &str| format!("UPDATE events SET payload = payload || ' ' WHERE id IN ({ids})");
    for n in 2..=4i64 {
        for k in 1..n {
            // The last id of range k (1-based): ranges split the span evenly.
            let seam = span * k / n;
            let cases = [
                (edit(&seam.to_string()), seam),
                (edit(&(seam + 1).to_string()), seam + 1),
                (edit(&format!("{}, {}", seam - 7, seam + 7)), seam - 7),
                (format!("DELETE FROM events WHERE id = {seam}"), seam + 1),
            ];
            for (sql, seq) in cases {
                let got = break_after(&dir, &base, &sql, n as usize).await;
                assert_eq!(got, (id.clone(), seq), "{sql} ({n} ranges)");
            }
            // Links intact, ids moved up by one after the seam, so that the gap is exactly
            // where a range starts (the shifted span has one more id).
            let shifted_seam = (span + 1) * k / n;
            let sql = format!(
                "UPDATE events SET id = -id WHERE id > {shifted_seam}; \
                 UPDATE events SET id = 1 - id WHERE id < 0"
            );
            let got = break_after(&dir, &base, &sql, n as usize).await;
            assert_eq!(got, (id.clone(), shifted_seam + 1), "{sql} ({n} ranges)");
        }
        // Broken in the first and the last range at once: the first is named.
        let sql = edit(&format!("{}, {}", span - 5, 5));
        let got = break_after(&dir, &base, &sql, n as usize).await;
        assert_eq!(got, (id.clone(), 5), "{sql} ({n} ranges)");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_break_is_found_in_a_long_chain() {
    // With the ranges verify chooses itself (one per core for a chain this long): breaks late
    // in the chain, in two places at once, a deleted event and ids shifted by one must still
    // name the first bad event.
    let dir = tempfile::tempdir().unwrap();
    let (base, id) = one_run_of(&dir, 20_000).await;

    // (SQL that damages the copy, the seq verify must name)
    let cases = [
        (
            "UPDATE events SET payload = payload || ' ' WHERE id IN (12000, 18000)".to_string(),
            12000,
        ),
        (
            "UPDATE events SET payload = payload || ' ' WHERE id = 8193".into(),
            8193,
        ),
        (
            "UPDATE events SET payload = payload || ' ' WHERE id = 8192".into(),
            8192,
        ),
        ("DELETE FROM events WHERE id = 16385".into(), 16386),
        // Links intact, but the ids after 8192 moved up by one: a gap inside the chain.
        (
            "UPDATE events SET id = -id WHERE id > 8192; \
             UPDATE events SET id = 1 - id WHERE id < 0"
                .into(),
            8193,
        ),
    ];
    for (n, (sql, seq)) in cases.into_iter().enumerate() {
        let db = dir.path().join(format!("case{n}.db"));
        std::fs::copy(&base, &db).unwrap();
        sqlite3_ok(&db, &sql);
        let store = AuditStore::open(&db).await.unwrap();
        let err = verify(&store, &VerifyOptions::default()).await.unwrap_err();
        let AuditError::ChainBroken(b) = &err else {
            panic!("{sql}: expected a chain break, got {err}");
        };
        // Event id n is seq n of the only run (run-start is id 1, seq 1).
        assert_eq!((b.run.as_str(), b.seq), (id.as_str(), seq), "{sql}: {err}");
        store.close().await.unwrap();
    }
}

#[tokio::test]
async fn rehashing_an_edited_event_breaks_the_next_link() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("audit.db");
    let (store, ids) = two_runs(&db).await;
    store.close().await.unwrap();
    sqlite3_ok(&db, DROP_TRIGGERS);
    // A careful forger recomputes the edited event's own hash (here: copies another valid
    // one): the next event's prev_hash no longer matches.
    sqlite3_ok(
        &db,
        &format!(
            "UPDATE events SET hash = (SELECT hash FROM events WHERE id = 1) \
             WHERE run = '{}' AND seq = 2",
            ids[1]
        ),
    );
    let store = AuditStore::open(&db).await.unwrap();
    let err = verify(&store, &VerifyOptions::default()).await.unwrap_err();
    let AuditError::ChainBroken(b) = err else {
        panic!("expected a chain break");
    };
    assert_eq!((b.run.as_str(), b.seq), (ids[1].as_str(), 2));
}

#[tokio::test]
async fn deleting_the_newest_events_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("audit.db");
    let (store, _) = two_runs(&db).await;
    let head = verify(&store, &VerifyOptions::default())
        .await
        .unwrap()
        .head;
    store.close().await.unwrap();
    sqlite3_ok(&db, DROP_TRIGGERS);
    sqlite3_ok(&db, "DELETE FROM events WHERE id > 7");

    let store = AuditStore::open(&db).await.unwrap();
    // SQLite still remembers the highest id ever written.
    let err = verify(&store, &VerifyOptions::default()).await.unwrap_err();
    assert!(
        err.to_string().contains("newest events were deleted"),
        "{err}"
    );
    store.close().await.unwrap();

    // A forger who also rewinds sqlite_sequence and puts the triggers back is caught by the
    // anchored head.
    sqlite3_ok(
        &db,
        "UPDATE sqlite_sequence SET seq = 7 WHERE name = 'events'",
    );
    let store = AuditStore::open(&db).await.unwrap();
    let err = verify(&store, &VerifyOptions::default()).await.unwrap_err();
    assert!(err.to_string().contains("triggers"), "{err}");
    store.close().await.unwrap();
    sqlite3_ok(&db, &restore_triggers());
    let store = AuditStore::open(&db).await.unwrap();
    let report = verify(&store, &VerifyOptions::default()).await.unwrap();
    assert_eq!(report.events, 7);
    let err = verify(
        &store,
        &VerifyOptions {
            expect_head: Some(head.clone()),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(err, AuditError::HeadMissing(_)), "{err}");
    assert!(err.to_string().contains(&head));
    assert_eq!(runbook::error::Error::from(err).exit_code(), 4);
}

#[tokio::test]
async fn deleting_the_newest_events_and_appending_after_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("audit.db");
    let (store, _) = two_runs(&db).await;
    store.close().await.unwrap();
    sqlite3_ok(&db, DROP_TRIGGERS);
    sqlite3_ok(&db, "DELETE FROM events WHERE id > 7");
    sqlite3_ok(&db, &restore_triggers());

    // The next run links its events to the newest one left: the chain's links hold, but the
    // ids skip the deleted ones.
    let store = AuditStore::open(&db).await.unwrap();
    let run = store.start_run(new_run("after")).await.unwrap();
    run.finish(RunEnd::new(RunStatus::Ok, 0)).await.unwrap();
    let err = verify(&store, &VerifyOptions::default()).await.unwrap_err();
    let AuditError::ChainBroken(b) = &err else {
        panic!("expected a chain break, got {err}");
    };
    assert_eq!((b.run.as_str(), b.seq, b.id), (run.id(), 1, 11), "{err}");
    assert!(b.problem.contains("deleted"), "{}", b.problem);
    store.close().await.unwrap();
}

#[tokio::test]
async fn expect_head_passes_while_the_head_is_in_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("audit.db");
    let (store, _) = two_runs(&db).await;
    let first = verify(&store, &VerifyOptions::default()).await.unwrap();
    // More events later: the old head is still in the chain.
    let run = store.start_run(new_run("third")).await.unwrap();
    run.finish(RunEnd::new(RunStatus::Ok, 0)).await.unwrap();
    let report = verify(
        &store,
        &VerifyOptions {
            expect_head: Some(first.head.to_uppercase()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(report.expect_head_id, first.head_id);
    assert_eq!(report.events, 12);
    let err = verify(
        &store,
        &VerifyOptions {
            expect_head: Some("abc".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(runbook::error::Error::from(err).exit_code(), 2);
}

fn python_verify(export: &str, extra: &[&str]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("export.jsonl");
    std::fs::write(&file, export).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/verify_export.py");
    let out = Command::new("python3")
        .arg(script)
        .args(extra)
        .arg(&file)
        .output()
        .expect("python3 is installed");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[tokio::test]
async fn python_verifier_accepts_an_export_and_rejects_a_tampered_one() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("audit.db");
    let (store, ids) = two_runs(&db).await;
    // Unicode, newlines, quotes and a null step all go through the encoding.
    let run = store.start_run(new_run("unicode")).await.unwrap();
    run.record(
        "log",
        Some("étape \"deux\"\n2"),
        json!({"message": "naïve 😀 \u{0001} \\ \"q\"\nline 2", "n": 1.5}),
        Durability::Durable,
    )
    .await
    .unwrap();
    run.record("log", None, json!({}), Durability::Durable)
        .await
        .unwrap();
    run.finish(RunEnd::new(RunStatus::Failed, 1).with_error("boom"))
        .await
        .unwrap();

    let full = export_text(&store, &EventFilter::default()).await;
    assert_eq!(full.lines().count(), 14);
    let first: Value = serde_json::from_str(full.lines().next().unwrap()).unwrap();
    for key in [
        "id",
        "run",
        "seq",
        "time",
        "kind",
        "step",
        "payload_text",
        "prev_hash",
        "hash",
    ] {
        assert!(first.get(key).is_some(), "export lines have {key}");
    }
    let (ok, out) = python_verify(&full, &[]);
    assert!(ok, "{out}");
    assert!(out.starts_with("ok: 14 events from the genesis"), "{out}");

    // One run only: each event's hash, not the links.
    let mut conn = store.reader().await.unwrap();
    let second = resolve_run(&mut conn, &ids[1]).await.unwrap();
    let one = export_text(
        &store,
        &EventFilter {
            since: None,
            run: Some(second),
        },
    )
    .await;
    assert_eq!(one.lines().count(), 5);
    assert!(python_verify(&one, &["--partial"]).0);

    // A tail of the chain verifies from its anchor.
    let tail_time: String = {
        let line: Value = serde_json::from_str(full.lines().nth(9).unwrap()).unwrap();
        line["time"].as_str().unwrap().to_string()
    };
    let tail = export_text(
        &store,
        &EventFilter {
            since: Some(tail_time),
            run: None,
        },
    )
    .await;
    assert_eq!(tail.lines().count(), 5);
    let (ok, out) = python_verify(&tail, &[]);
    assert!(ok && out.contains("anchor"), "{out}");

    // Tampering with any line's payload is caught.
    let tampered = full.replacen("/etc/2", "/etc/9", 1);
    assert_ne!(tampered, full);
    let (ok, out) = python_verify(&tampered, &[]);
    assert!(!ok, "{out}");
    assert!(out.starts_with("BROKEN line 4"), "{out}");
    // So is dropping a line from the middle.
    let dropped: String = full
        .lines()
        .enumerate()
        .filter(|(i, _)| *i != 6)
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    assert!(!python_verify(&dropped, &[]).0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_stores_append_concurrently() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("audit.db");
    let mut tasks = Vec::new();
    for t in 0..8 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            // Each task opens its own store (its own connection), as separate processes do.
            let store = AuditStore::open(&db).await.unwrap();
            let run = store.start_run(new_run(&format!("task{t}"))).await.unwrap();
            for i in 0..500 {
                let d = if i % 5 == 0 {
                    Durability::Durable
                } else {
                    Durability::Buffered
                };
                run.record("call", Some("one"), call(i), d).await.unwrap();
                if i % 20 == 19 {
                    run.flush().await.unwrap();
                }
            }
            run.finish(RunEnd::new(RunStatus::Ok, 0)).await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let store = AuditStore::open(&db).await.unwrap();
    let report = verify(&store, &VerifyOptions::default()).await.unwrap();
    assert_eq!(report.events, 8 * 502);
    assert_eq!(report.runs, 8);
}

/// Two runs take turns: each round, each records 50 buffered events (more than the
/// single-statement path takes: a transaction of its own) and flushes them; with `wait`, it
/// also waits until they are written. Then both finish and the chain must verify.
async fn take_turns(store: &AuditStore, rounds: usize, wait: bool) -> [RunRecorder; 2] {
    let a = store.start_run(new_run("a")).await.unwrap();
    let b = store.start_run(new_run("b")).await.unwrap();
    for round in 0..rounds {
        for run in [&a, &b] {
            for i in 0..50 {
                run.record(
                    "call",
                    Some("one"),
                    call(round * 50 + i),
                    Durability::Buffered,
                )
                .await
                .unwrap();
            }
            run.flush().await.unwrap();
            if wait {
                run.wait_written().await.unwrap();
            }
        }
    }
    a.finish(RunEnd::new(RunStatus::Ok, 0)).await.unwrap();
    b.finish(RunEnd::new(RunStatus::Ok, 0)).await.unwrap();
    let report = verify(store, &VerifyOptions::default()).await.unwrap();
    assert_eq!(report.events, 2 * (1 + rounds as u64 * 50 + 1));
    assert_eq!(report.runs, 2);
    [a, b]
}

/// A recorder hashes its background batches ahead, against the head its last write left.
/// Another run writing in between makes that guess wrong: the batch must be hashed again
/// against the real head, or the chain breaks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interleaved_background_batches_keep_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let store = AuditStore::open(&dir.path().join("audit.db"))
        .await
        .unwrap();
    take_turns(&store, 6, true).await;
}

/// Flushes that do not wait leave up to two batches of a run in flight. They must still be
/// written in order, and when another run writes in between, hashed again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_in_flight_keep_their_order_and_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("audit.db");
    let store = AuditStore::open(&db).await.unwrap();
    for run in take_turns(&store, 20, false).await {
        let seqs = sqlite3_ok(
            &db,
            &format!(
                "SELECT seq FROM events WHERE run = '{}' ORDER BY id",
                run.id()
            ),
        );
        let expected: Vec<String> = (1..=1002).map(|n| n.to_string()).collect();
        assert_eq!(seqs.split_whitespace().collect::<Vec<_>>(), expected);
    }
}

/// A background batch that fails to be written is reported, and the batches flushed after
/// it are not written either: the run's events never skip a seq in the middle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_behind_a_failed_one_are_not_written() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("audit.db");
    let store = AuditStore::open(&db).await.unwrap();
    // Another writer has taken seq 60 of the run about to start, inside its second batch
    // (seq 52 to 101). Planted before the run starts, so that the run's batches are hashed
    // against the right head and nothing but the conflict stops them.
    let start = RunStart::now();
    sqlite3_ok(
        &db,
        &format!(
            "INSERT INTO events (run, seq, time, kind, payload, prev_hash, hash) \
             VALUES ('{}', 60, 't', 'call', '{{}}', zeroblob(32), randomblob(32))",
            start.id
        ),
    );
    let run = store
        .start_run_with(new_run("a"), start, Redactor::new())
        .await
        .unwrap();
    // Three batches flushed back to back: the third is handed over while the second, which
    // fails, is still in flight.
    let mut failed = None;
    for i in 0..150 {
        run.record("call", Some("one"), call(i), Durability::Buffered)
            .await
            .unwrap();
        if i % 50 == 49 {
            if let Err(e) = run.flush().await {
                failed.get_or_insert(e);
            }
        }
    }
    let error = match failed {
        Some(e) => e,
        None => run.wait_written().await.unwrap_err(),
    };
    assert!(error.to_string().contains("UNIQUE"), "{error}");
    let seqs = sqlite3_ok(
        &db,
        &format!(
            "SELECT seq FROM events WHERE run = '{}' ORDER BY seq",
            run.id()
        ),
    );
    let mut expected: Vec<String> = (1..=51).map(|n| n.to_string()).collect();
    expected.push("60".into());
    assert_eq!(seqs.split_whitespace().collect::<Vec<_>>(), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_processes_append_concurrently() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("audit.db");
    // The first opens race to create and migrate the database too.
    let children: Vec<_> = (0..8)
        .map(|_| spawn_child("append", &db, Stdio::null()))
        .collect();
    for mut c in children {
        assert!(
            c.wait().unwrap().success(),
            "a child failed (see its output)"
        );
    }
    let store = AuditStore::open(&db).await.unwrap();
    let report = verify(&store, &VerifyOptions::default()).await.unwrap();
    assert_eq!(report.events, 8 * 502);
    let mut conn = store.reader().await.unwrap();
    let runs = list_runs(&mut conn, &RunFilter::default()).await.unwrap();
    assert_eq!(runs.len(), 8);
    assert!(runs.iter().all(|r| r.status == RunState::Ok));
}

#[tokio::test]
async fn secrets_never_reach_the_database_file_or_the_export() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("audit.db");
    let store = AuditStore::open(&db).await.unwrap();
    let mut spec = new_run("secrets");
    spec.params = json!({"user": "app", "password": "param-secret-77"});
    let run = store.start_run(spec).await.unwrap();
    run.add_secret("runtime-secret-42");
    let key = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAAkeymaterial\n\
               -----END OPENSSH PRIVATE KEY-----";
    run.record(
        "call",
        Some("Look"),
        json!({
            "fn": "commands.run",
            "args": {"argv": ["env"]},
            "result": {"stdout": format!("POSTGRES_PASSWORD=hunter2-secret\nPATH=/bin\n{key}\n")},
        }),
        Durability::Buffered,
    )
    .await
    .unwrap();
    run.record(
        "log",
        Some("Look"),
        json!({"message": "token is runtime-secret-42"}),
        Durability::Durable,
    )
    .await
    .unwrap();
    run.finish(RunEnd::new(RunStatus::Ok, 0)).await.unwrap();

    let secrets = [
        "hunter2-secret",
        "b3BlbnNzaC1rZXktdjEAAAAAkeymaterial",
        "runtime-secret-42",
        "param-secret-77",
    ];
    let check_files = |when: &str| {
        for suffix in ["", "-wal"] {
            let path = PathBuf::from(format!("{}{suffix}", db.display()));
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            for s in secrets {
                assert!(
                    !bytes.windows(s.len()).any(|w| w == s.as_bytes()),
                    "{s} found in {} {when}",
                    path.display()
                );
            }
        }
    };
    check_files("while open");
    let text = export_text(&store, &EventFilter::default()).await;
    for s in secrets {
        assert!(!text.contains(s), "{s} in the export");
    }
    let payloads: String = text
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v["payload_text"].as_str().unwrap().to_string()
        })
        .collect();
    assert!(payloads.contains("POSTGRES_PASSWORD=[REDACTED]"));
    assert!(payloads.contains("PRIVATE KEY-----\\n[REDACTED]\\n-----END"));
    assert!(payloads.contains(r#""password":"[REDACTED]""#));
    assert!(payloads.contains("token is [REDACTED]"));
    store.close().await.unwrap();
    check_files("after close");
}

#[tokio::test]
async fn a_run_whose_process_died_is_marked_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("audit.db");
    let mut child = spawn_child("abandon", &db, Stdio::null());
    assert!(child.wait().unwrap().success());

    let store = AuditStore::open(&db).await.unwrap();
    let mut conn = store.reader().await.unwrap();
    let runs = list_runs(&mut conn, &RunFilter::default()).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, RunState::Interrupted);
    assert!(runs[0].error.as_deref().unwrap().contains("is gone"));
    assert!(runs[0].duration_ms.is_some());

    let text = export_text(&store, &EventFilter::default()).await;
    let last: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["kind"], "interrupted");
    assert_eq!(last["seq"], 3);
    let payload: Value = serde_json::from_str(last["payload_text"].as_str().unwrap()).unwrap();
    assert_eq!(payload["last_kind"], "intent");
    assert_eq!(payload["last_seq"], 2);

    // Opening again does not mark it twice.
    drop(conn);
    store.close().await.unwrap();
    let store = AuditStore::open(&db).await.unwrap();
    let report = verify(&store, &VerifyOptions::default()).await.unwrap();
    assert_eq!(report.events, 3);
}

#[tokio::test]
async fn runs_of_live_processes_are_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("audit.db");
    let store = AuditStore::open(&db).await.unwrap();
    let run = store.start_run(new_run("live")).await.unwrap();
    run.record("intent", Some("one"), call(1), Durability::Durable)
        .await
        .unwrap();

    // Another store (another "invocation") opens while the run is in progress.
    let other = AuditStore::open(&db).await.unwrap();
    assert!(other.recover_interrupted().await.unwrap().is_empty());
    let mut conn = other.reader().await.unwrap();
    let runs = list_runs(&mut conn, &RunFilter::default()).await.unwrap();
    assert_eq!(runs[0].status, RunState::Running);

    // A live child process's run as well.
    let mut child = spawn_child("loop", &db, Stdio::piped());
    let child_run = wait_started(&mut child);
    assert!(other.recover_interrupted().await.unwrap().is_empty());
    child.kill().unwrap();
    child.wait().unwrap();
    let marked = other.recover_interrupted().await.unwrap();
    assert_eq!(marked, vec![child_run]);

    run.finish(RunEnd::new(RunStatus::Ok, 0)).await.unwrap();
    let runs = list_runs(&mut conn, &RunFilter::default()).await.unwrap();
    let live = runs.iter().find(|r| r.runbook == "live").unwrap();
    assert_eq!(live.status, RunState::Ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_any_moment_leaves_a_consistent_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("audit.db");
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    for round in 0..6u64 {
        let mut child = spawn_child("loop", &db, Stdio::piped());
        wait_started(&mut child);
        let delay = (seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(round * 7919))
            % 60;
        tokio::time::sleep(Duration::from_millis(delay)).await;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();

        let store = AuditStore::open(&db).await.unwrap();
        let report = verify(&store, &VerifyOptions::default())
            .await
            .unwrap_or_else(|e| panic!("round {round} (killed after {delay} ms): {e}"));
        assert!(report.events > 0);
        let mut conn = store.reader().await.unwrap();
        let runs = list_runs(&mut conn, &RunFilter::default()).await.unwrap();
        assert_eq!(runs.len() as u64, round + 1);
        assert!(
            runs.iter().all(|r| r.status == RunState::Interrupted),
            "round {round}"
        );
        drop(conn);
        store.close().await.unwrap();
    }
}

#[tokio::test]
async fn status_is_derived_from_events() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("audit.db");
    let store = AuditStore::open(&db).await.unwrap();
    let cases = [
        ("ok", RunStatus::Ok, 0, false),
        ("findings", RunStatus::Findings, 5, false),
        ("failed", RunStatus::Failed, 1, false),
        ("refused", RunStatus::Refused, 3, false),
        ("canceled", RunStatus::Canceled, 130, false),
        ("dry", RunStatus::Ok, 0, true),
    ];
    for (name, status, code, dry) in cases {
        let mut spec = new_run(name);
        spec.dry_run = dry;
        spec.dry_run_reason = dry.then(|| "--dry-run".to_string());
        let run = store.start_run(spec).await.unwrap();
        run.finish(RunEnd::new(status, code).with_error(format!("{name} error")))
            .await
            .unwrap();
        assert!(matches!(
            run.record("log", None, json!({}), Durability::Buffered)
                .await,
            Err(AuditError::Finished(_))
        ));
        assert!(run.finish(RunEnd::new(RunStatus::Ok, 0)).await.is_err());
    }
    let mut conn = store.reader().await.unwrap();
    let runs = list_runs(&mut conn, &RunFilter::default()).await.unwrap();
    let by_name = |n: &str| runs.iter().find(|r| r.runbook == n).unwrap().clone();
    assert_eq!(by_name("ok").status, RunState::Ok);
    assert_eq!(by_name("ok").exit_code, Some(0));
    assert_eq!(by_name("findings").status, RunState::Findings);
    assert_eq!(by_name("findings").exit_code, Some(5));
    assert_eq!(by_name("failed").status, RunState::Failed);
    assert_eq!(by_name("failed").exit_code, Some(1));
    assert_eq!(by_name("failed").error.as_deref(), Some("failed error"));
    assert_eq!(by_name("refused").exit_code, Some(3));
    assert_eq!(by_name("canceled").status, RunState::Canceled);
    assert_eq!(by_name("canceled").exit_code, Some(130));
    assert!(by_name("dry").dry_run && !by_name("ok").dry_run);
    // Newest first.
    assert_eq!(runs[0].runbook, "dry");

    let only = list_runs(
        &mut conn,
        &RunFilter {
            runbook: Some("refused".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(only.len(), 1);
    let me = runs[0].operator.clone();
    let mine = RunFilter {
        operator: Some(me),
        limit: Some(2),
        ..Default::default()
    };
    assert_eq!(list_runs(&mut conn, &mine).await.unwrap().len(), 2);
    let nobody = RunFilter {
        operator: Some("nobody-at-all".into()),
        ..Default::default()
    };
    assert!(list_runs(&mut conn, &nobody).await.unwrap().is_empty());
    let future = RunFilter {
        since: Some("2999-01-01T00:00:00.000000Z".into()),
        ..Default::default()
    };
    assert!(list_runs(&mut conn, &future).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_durable_event_writes_the_buffered_ones_first() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("audit.db");
    let store = AuditStore::open(&db).await.unwrap();
    let run = store.start_run(new_run("order")).await.unwrap();
    let a = run
        .record("call", Some("s"), call(1), Durability::Buffered)
        .await
        .unwrap();
    let b = run
        .record("call", Some("s"), call(2), Durability::Buffered)
        .await
        .unwrap();
    // Nothing buffered is visible yet.
    let count = |db: &Path| {
        sqlite3_ok(db, "SELECT COUNT(*) FROM events")
            .trim()
            .to_string()
    };
    assert_eq!(count(&db), "1");
    let c = run
        .record("intent", Some("s"), call(3), Durability::Durable)
        .await
        .unwrap();
    assert_eq!((a, b, c), (2, 3, 4));
    assert_eq!(count(&db), "4");
    let order = sqlite3_ok(&db, "SELECT seq FROM events ORDER BY id");
    assert_eq!(
        order.split_whitespace().collect::<Vec<_>>(),
        ["1", "2", "3", "4"]
    );
    // flush with nothing buffered is a no-op.
    run.flush().await.unwrap();
    run.record("call", Some("s"), call(4), Durability::Buffered)
        .await
        .unwrap();
    run.flush().await.unwrap();
    // The flush writes in the background.
    run.wait_written().await.unwrap();
    assert_eq!(count(&db), "5");
}

#[tokio::test]
async fn runs_are_found_by_prefix_or_last_and_sources_are_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("audit.db");
    let (store, ids) = two_runs(&db).await;
    let mut conn = store.reader().await.unwrap();
    assert_eq!(resolve_run(&mut conn, "last").await.unwrap(), ids[1]);
    assert_eq!(resolve_run(&mut conn, &ids[0]).await.unwrap(), ids[0]);
    assert_eq!(
        resolve_run(&mut conn, &ids[0][..ids[0].len() - 2])
            .await
            .unwrap(),
        ids[0]
    );
    let err = resolve_run(&mut conn, "2").await.unwrap_err();
    assert!(matches!(err, AuditError::AmbiguousRun(..)), "{err}");
    assert_eq!(runbook::error::Error::from(err).exit_code(), 2);
    assert!(matches!(
        resolve_run(&mut conn, "nope").await,
        Err(AuditError::NoSuchRun(_))
    ));

    // Two runs of the same source store its text once.
    let spec = new_run("same");
    for _ in 0..2 {
        let run = store.start_run(spec.clone()).await.unwrap();
        run.finish(RunEnd::new(RunStatus::Ok, 0)).await.unwrap();
    }
    let n = sqlite3_ok(&db, "SELECT COUNT(*) FROM sources");
    assert_eq!(n.trim(), "3");
    let id = resolve_run(&mut conn, "last").await.unwrap();
    let detail = runbook::audit::run_detail(&mut conn, &id).await.unwrap();
    let text = runbook::audit::source_text(&mut conn, &detail.source_sha256)
        .await
        .unwrap();
    assert_eq!(text.as_deref(), Some(spec.source.as_str()));
}

#[tokio::test]
async fn a_changed_runs_row_or_source_fails_verify() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("audit.db");
    let (store, _) = two_runs(&db).await;
    store.close().await.unwrap();
    sqlite3_ok(&db, DROP_TRIGGERS);
    sqlite3_ok(
        &db,
        "UPDATE runs SET runbook = 'innocent' WHERE runbook = 'first'",
    );
    let store = AuditStore::open(&db).await.unwrap();
    let err = verify(&store, &VerifyOptions::default()).await.unwrap_err();
    assert!(err.to_string().contains("runbook"), "{err}");
    store.close().await.unwrap();

    sqlite3_ok(
        &db,
        "UPDATE runs SET runbook = 'first' WHERE runbook = 'innocent'",
    );
    sqlite3_ok(&db, "UPDATE sources SET text = text || ' '");
    let store = AuditStore::open(&db).await.unwrap();
    let err = verify(&store, &VerifyOptions::default()).await.unwrap_err();
    assert!(err.to_string().contains("source was changed"), "{err}");
}

/// Edits that keep a value's bytes but change its storage type read back as the same bytes,
/// so they hash alike: verify must still see each one (with the triggers put back, so their
/// absence does not give the edit away).
#[tokio::test]
async fn verify_sees_a_column_retyped_with_the_same_bytes() {
    let edits = [
        "seq = seq + 0.5",
        "seq = seq || 'x'",
        "run = CAST(run AS BLOB)",
        "time = CAST(time AS BLOB)",
        "kind = CAST(kind AS BLOB)",
        "step = CAST(step AS BLOB)",
        "payload = CAST(payload AS BLOB)",
        "hash = hex(hash)",
        "prev_hash = hex(prev_hash)",
    ];
    for edit in edits {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("audit.db");
        let (store, ids) = two_runs(&db).await;
        store.close().await.unwrap();
        sqlite3_ok(
            &db,
            &format!(
                "{DROP_TRIGGERS} UPDATE events SET {edit} WHERE run = '{}' AND seq = 3; {}",
                ids[1],
                restore_triggers()
            ),
        );
        let store = AuditStore::open(&db).await.unwrap();
        let err = match verify(&store, &VerifyOptions::default()).await {
            Ok(report) => panic!("`{edit}` passed verify: {report:?}"),
            Err(err) => err,
        };
        let AuditError::ChainBroken(b) = &err else {
            panic!("`{edit}`: expected a chain break, got {err}");
        };
        assert_eq!(b.run, ids[1], "`{edit}`: {err}");
        assert_eq!(b.seq, 3, "`{edit}`: {err}");
        store.close().await.unwrap();
    }
}
