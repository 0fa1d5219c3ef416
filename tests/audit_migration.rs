//! Databases written by an earlier schema: opening one migrates it, and its chain, its
//! evidence of tampering and its record of deleted events all survive the migration.
//!
//! The old database is built from the first migration alone (copied out of `migrations/`),
//! with events hashed by the public chain code and stored the way that schema stored them.

use std::path::Path;

use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::migrate::Migrator;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, SqliteConnection};

use runbook::audit::chain::{event_hash, EventFields, Hash};
use runbook::audit::event::RunEnd;
use runbook::audit::process::ProcessIdentity;
use runbook::audit::{verify, AuditError, AuditStore, Durability, NewRun, RunStatus};
use runbook::audit::{VerifyOptions, VerifyReport};

const FIRST_MIGRATION: &str = "20261121000001_audit_store.sql";

/// A database at schema version 1 with one finished run of `events` events (run-start, calls,
/// run-end), hashes as hex text. Returns the open connection and the chain head.
async fn version_1_database(db: &Path, events: i64) -> (SqliteConnection, Hash) {
    let dir = db.parent().unwrap().join("migrations-v1");
    std::fs::create_dir_all(&dir).unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    std::fs::copy(src.join(FIRST_MIGRATION), dir.join(FIRST_MIGRATION)).unwrap();
    let mut conn = SqliteConnectOptions::new()
        .filename(db)
        .create_if_missing(true)
        .connect()
        .await
        .unwrap();
    Migrator::new(dir.as_path())
        .await
        .unwrap()
        .run_direct(None, &mut conn, false)
        .await
        .unwrap();

    let (run, time, source) = (
        "20261121T051200Z-3f9a1c",
        "2026-11-21T05:12:00.000001Z",
        "x",
    );
    let sha = hex::encode(Sha256::digest(source));
    let mut start = json!({"runbook": "old", "source_sha256": sha, "params": {}, "operator": {},
                           "host": "h", "dry_run": false});
    // Recorded by this (live) process, so that opening the store never takes the run for an
    // interrupted one and appends to it.
    let me = ProcessIdentity::current().to_json();
    start
        .as_object_mut()
        .unwrap()
        .extend(me.as_object().unwrap().clone());
    sqlx::query("INSERT INTO sources VALUES (?, ?)")
        .bind(&sha)
        .bind(source)
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("INSERT INTO runs VALUES (?, 'old', ?, '{}', '{}', 'h', 0, ?)")
        .bind(run)
        .bind(&sha)
        .bind(time)
        .execute(&mut conn)
        .await
        .unwrap();
    let mut prev = Hash::GENESIS;
    for seq in 1..=events {
        let (kind, payload) = match seq {
            1 => ("run-start", start.to_string()),
            s if s == events => ("run-end", json!({"status": "ok"}).to_string()),
            s => ("call", json!({"fn": "files.stat", "n": s}).to_string()),
        };
        let step = (kind == "call").then_some("one");
        let hash = event_hash(&EventFields {
            prev_hash: prev,
            run,
            seq,
            time,
            kind,
            step,
            payload: &payload,
        });
        sqlx::query(
            "INSERT INTO events (run, seq, time, kind, step, payload, prev_hash, hash) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(run)
        .bind(seq)
        .bind(time)
        .bind(kind)
        .bind(step)
        .bind(&payload)
        .bind(prev.to_string())
        .bind(hash.to_string())
        .execute(&mut conn)
        .await
        .unwrap();
        prev = hash;
    }
    (conn, prev)
}

async fn verify_at(db: &Path) -> Result<VerifyReport, AuditError> {
    let store = AuditStore::open(db).await.unwrap();
    let report = verify(&store, &VerifyOptions::default()).await;
    store.close().await.unwrap();
    report
}

async fn hash_column_type(db: &Path) -> String {
    let mut conn = SqliteConnectOptions::new()
        .filename(db)
        .connect()
        .await
        .unwrap();
    let t: Vec<String> = sqlx::query_scalar("SELECT DISTINCT typeof(hash) FROM events")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    t.join(",")
}

#[tokio::test]
async fn an_old_chain_converts_and_new_runs_continue_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("audit.db");
    let (conn, head) = version_1_database(&db, 10).await;
    conn.close().await.unwrap();

    let report = verify_at(&db).await.unwrap();
    assert_eq!(report.events, 10);
    assert_eq!(
        report.head,
        head.to_string(),
        "the same chain, the same head"
    );
    assert_eq!(hash_column_type(&db).await, "blob");

    // New runs chain onto the converted head, and ids go on from the old ones.
    let store = AuditStore::open(&db).await.unwrap();
    let run = store
        .start_run(NewRun {
            runbook: "new".into(),
            source: "y".into(),
            params: json!({}),
            operator: json!({}),
            host: "h".into(),
            dry_run: false,
            dry_run_reason: None,
            kind: None,
        })
        .await
        .unwrap();
    run.record("call", Some("one"), json!({}), Durability::Durable)
        .await
        .unwrap();
    run.finish(RunEnd::new(RunStatus::Ok, 0)).await.unwrap();
    let expect_old_head = VerifyOptions {
        expect_head: Some(head.to_string()),
        ..Default::default()
    };
    let report = verify(&store, &expect_old_head).await.unwrap();
    assert_eq!(report.events, 13);
    assert_eq!(report.head_id, Some(13));
    assert_eq!(report.expect_head_id, Some(10));
    store.close().await.unwrap();
}

#[tokio::test]
async fn tampering_before_the_migration_is_still_reported_after_it() {
    // An edited hash: kept as it was, and named by verify.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("audit.db");
    let (mut conn, _) = version_1_database(&db, 6).await;
    sqlx::raw_sql("DROP TRIGGER events_no_update; UPDATE events SET hash = 'zz' WHERE seq = 4")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let Err(AuditError::ChainBroken(b)) = verify_at(&db).await else {
        panic!("expected a chain break");
    };
    assert_eq!(b.seq, 4);
    assert!(b.problem.contains("7a7a"), "{}", b.problem);

    // Deleted newest events: the highest id ever written is carried over.
    let db = dir.path().join("truncated.db");
    let (mut conn, _) = version_1_database(&db, 6).await;
    sqlx::raw_sql("DROP TRIGGER events_no_delete; DELETE FROM events WHERE seq > 4")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let err = verify_at(&db).await.unwrap_err().to_string();
    assert!(err.contains("events up to id 6 were written"), "{err}");
}
