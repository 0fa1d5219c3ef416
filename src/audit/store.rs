//! Opening the database and appending to the chain.
//!
//! Each [`AuditStore`] owns one write connection, guarded by a mutex, so writes from one process
//! are serialized. Several processes may append to the same file: every append re-checks the
//! chain head inside its write transaction, which SQLite serializes across processes.
//!
//! - A single event (the common durable case: an intent, a gate) is one statement,
//!   `INSERT ... SELECT ... WHERE <current head> = <head we hashed against>`, which SQLite runs
//!   as its own write transaction: one statement and one WAL fsync. The head is cached between
//!   appends; if another process appended meanwhile, the statement inserts nothing and we re-read
//!   the head and try again.
//! - Several events (a flush) use `BEGIN IMMEDIATE`, read the head, insert in multi-row
//!   statements (with the hashes the recorder computed ahead if they follow that head, else
//!   new ones), `COMMIT`.
//!
//! Both run on the calling thread through SQLite's C API (see [`insert`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, Row};

use super::batch::{seal, Pending, Sealed};
use super::chain::Hash;
use super::event::{self, Detector, Event, Interrupted};
use super::ffi::{self, BUSY_TIMEOUT};
use super::journal::{is_mirrored, Mirror, MirrorEntry};
use super::process::{liveness, Liveness, ProcessIdentity};
use super::redact::Redactor;
use super::reserve::{self, SpaceWarning};
use super::{clock, insert, path, AuditError};

static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// What the executor knows about a run before it starts.
#[derive(Debug, Clone)]
pub struct NewRun {
    /// The runbook's name (its `name:` header).
    pub runbook: String,
    /// The exact source text that will run; stored once per SHA-256 for `replay --source`.
    pub source: String,
    /// Validated parameters, as a JSON object. Redacted before storing.
    pub params: Value,
    /// Who runs it: see [`crate::identity::Operator`].
    pub operator: Value,
    /// The host the run acts on.
    pub host: String,
    pub dry_run: bool,
    /// Why this is a dry run (`--dry-run`, site policy, ...), if it is one.
    pub dry_run_reason: Option<String>,
    /// `learn` for a `runbook learn` session, None for a run.
    pub kind: Option<String>,
}

/// When a run starts and the id it asks for: chosen before the store is open, so the run's
/// header can be printed while it opens. The id is used unless another run already has it
/// (same second, same random suffix); then [`super::RunRecorder::id`] names the one recorded.
#[derive(Debug, Clone)]
pub struct RunStart {
    pub id: String,
    pub time: chrono::DateTime<chrono::Utc>,
}

impl RunStart {
    pub fn now() -> RunStart {
        let time = chrono::Utc::now();
        RunStart {
            id: clock::new_run_id(time),
            time,
        }
    }
}

struct Writer {
    /// Declared before `conn`: statements must be finalized before it closes.
    prepared: insert::Prepared,
    conn: SqliteConnection,
    /// The chain head as of our last append, or None when unknown.
    head: Option<Hash>,
    /// Whether commits currently fsync the write-ahead log (`synchronous=FULL`, the
    /// connection's setting from open) or not (`NORMAL`).
    sync_full: bool,
}

impl Writer {
    /// Make the next commit fsync the log (`durable`) or not. Set before every write, never
    /// restored after one, so that a failure half-way cannot leave a durable write unsynced.
    async fn set_durable(&mut self, durable: bool) -> Result<(), sqlx::Error> {
        if self.sync_full != durable {
            let pragma = if durable {
                "PRAGMA synchronous = FULL"
            } else {
                "PRAGMA synchronous = NORMAL"
            };
            sqlx::query(pragma).execute(&mut self.conn).await?;
            self.sync_full = durable;
        }
        Ok(())
    }
}

struct Inner {
    path: PathBuf,
    options: SqliteConnectOptions,
    writer: tokio::sync::Mutex<Writer>,
    mirror: Mirror,
    /// Set when the database's file system was (nearly) full at open (see `reserve`).
    space: Option<SpaceWarning>,
    me: ProcessIdentity,
}

/// The audit database of this machine. Cheap to clone; clones share one write connection.
#[derive(Clone)]
pub struct AuditStore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for AuditStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditStore")
            .field("path", &self.inner.path)
            .finish()
    }
}

fn connect_options(path: &Path) -> SqliteConnectOptions {
    SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(false)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(BUSY_TIMEOUT)
        .foreign_keys(true)
        .row_buffer_size(1024)
        // 32 MiB of page cache (allocated as used): a flush of many events touches many pages.
        .pragma("cache_size", "-32768")
        // Statement journals of multi-row INSERTs stay in memory.
        .pragma("temp_store", "memory")
        .disable_statement_logging()
}

/// SQLITE_BUSY (any extended code): another connection holds a lock we could not wait for.
fn is_busy(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => db
            .code()
            .and_then(|c| c.parse::<i32>().ok())
            .is_some_and(|c| c & 0xff == 5),
        _ => false,
    }
}

/// Leave the write-ahead log in place when this process closes the database. By default the
/// last connection to close checkpoints the log into the database (two more fsyncs) and
/// deletes it (the next open recreates it and syncs the directory): for a command that runs a
/// few dozen milliseconds that was most of the audit store's cost. Checkpoints still happen
/// as the log grows (`wal_autocheckpoint`), and a reader sees committed data either way.
async fn skip_checkpoint_on_close(conn: &mut SqliteConnection) -> Result<(), AuditError> {
    let mut handle = conn.lock_handle().await?;
    // SAFETY: the handle is locked away from sqlx's worker thread while `handle` lives.
    unsafe { ffi::no_checkpoint_on_close(handle.as_raw_handle().as_ptr()) }
}

/// Connect, retrying while another process holds the exclusive lock that switching a new
/// database to WAL needs (SQLite does not wait for that one with busy_timeout).
async fn connect(
    path: &Path,
    options: &SqliteConnectOptions,
) -> Result<SqliteConnection, AuditError> {
    // SQLite keeps no allocation statistics: it counted every allocation under a process-wide
    // mutex, which took a few percent of a batch's insert, and nothing reads them.
    ffi::skip_memory_statistics();
    let mut delay = Duration::from_millis(5);
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    loop {
        match options.connect().await {
            Ok(mut conn) => {
                skip_checkpoint_on_close(&mut conn).await?;
                return Ok(conn);
            }
            Err(e) if is_busy(&e) && std::time::Instant::now() < deadline => {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_millis(200));
            }
            Err(e) => {
                return Err(AuditError::Open {
                    path: path.to_path_buf(),
                    source: e,
                })
            }
        }
    }
}

/// Apply pending migrations inside `BEGIN IMMEDIATE`, so two processes opening a new database
/// at once do not both try to create it.
async fn migrate(path: &Path, conn: &mut SqliteConnection) -> Result<(), AuditError> {
    let latest = MIGRATOR.iter().map(|m| m.version).max();
    let applied: Option<i64> =
        sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
            .fetch_one(&mut *conn)
            .await
            .unwrap_or(None);
    if applied.is_some() && applied == latest {
        return Ok(());
    }
    let err = |source| AuditError::Migrate {
        path: path.to_path_buf(),
        source,
    };
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    // `run_direct` is what `Migrator::run` calls after acquiring a connection; calling it
    // directly keeps this future `Send` (sqlx's own workaround for "implementation of
    // `Acquire` is not general enough"), so the store can be used from spawned tasks.
    MIGRATOR
        .run_direct(None, &mut *tx, false)
        .await
        .map_err(err)?;
    tx.commit().await?;
    Ok(())
}

impl AuditStore {
    /// Open (creating if needed) the database at `path`, apply migrations, and mark runs whose
    /// process is gone as interrupted.
    pub async fn open(path: &Path) -> Result<AuditStore, AuditError> {
        path::prepare(path).map_err(|source| AuditError::Io {
            path: path.to_path_buf(),
            what: "cannot create",
            source,
        })?;
        let space = reserve::prepare(path);
        let options = connect_options(path);
        let mut conn = connect(path, &options).await?;
        migrate(path, &mut conn).await?;
        path::tighten_sidecars(path);
        let store = AuditStore {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                options,
                writer: tokio::sync::Mutex::new(Writer {
                    prepared: insert::Prepared::default(),
                    conn,
                    head: None,
                    sync_full: true,
                }),
                mirror: Mirror::system(),
                space,
                me: ProcessIdentity::current(),
            }),
        };
        store.recover_interrupted().await?;
        Ok(store)
    }

    /// Like [`AuditStore::open`], but `None` when the file does not exist (for read-only
    /// commands, which should not create a database at a mistyped path).
    pub async fn open_existing(path: &Path) -> Result<Option<AuditStore>, AuditError> {
        if !path.exists() {
            return Ok(None);
        }
        AuditStore::open(path).await.map(Some)
    }

    /// Close the write connection now (checkpointing the WAL into the database file) if this is
    /// the last handle on the store; otherwise just drop this handle. Dropping the last handle
    /// closes it too, in the background.
    pub async fn close(self) -> Result<(), AuditError> {
        if let Ok(inner) = Arc::try_unwrap(self.inner) {
            let Writer { prepared, conn, .. } = inner.writer.into_inner();
            drop(prepared);
            conn.close().await?;
        }
        Ok(())
    }

    /// Whether the database's file system was full when the store opened (its reserve is
    /// then what this process writes into).
    pub fn space_warning(&self) -> Option<&SpaceWarning> {
        self.inner.space.as_ref()
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// A separate connection for reading (`log`, `replay`, `verify`, `export`).
    pub async fn reader(&self) -> Result<SqliteConnection, AuditError> {
        let options = self.inner.options.clone().row_buffer_size(8192);
        connect(&self.inner.path, &options).await
    }

    /// Store a source text (a stdlib module a run loaded) once, by its SHA-256, which it
    /// returns. Durable with the run's next durable commit.
    pub async fn store_source(&self, text: &str) -> Result<String, AuditError> {
        let sha256 = hex::encode(Sha256::digest(text.as_bytes()));
        let mut guard = self.inner.writer.lock().await;
        let w = &mut *guard;
        w.set_durable(false).await?;
        insert_source(&mut w.conn, &sha256, text).await?;
        Ok(sha256)
    }

    /// The database side of [`AuditStore::start_run_with`] (in `recorder.rs`, which hands
    /// out the recorder): store the source once, insert the `runs` row and append the
    /// `run-start` event, in one transaction. Returns the run id recorded and the chain head
    /// it left.
    pub(super) async fn begin_run(
        &self,
        run: NewRun,
        start: RunStart,
        redactor: &Redactor,
    ) -> Result<(Arc<str>, Option<Hash>), AuditError> {
        let source_sha256 = hex::encode(Sha256::digest(run.source.as_bytes()));
        let me = &self.inner.me;
        let start_event = Event::from(event::RunStart {
            runbook: run.runbook,
            source_sha256: source_sha256.clone(),
            params: run.params,
            operator: run.operator,
            host: run.host,
            dry_run: run.dry_run,
            dry_run_reason: run.dry_run_reason,
            pid: Some(me.pid),
            proc_start: me.start_ticks,
            boot_id: me.boot_id.clone(),
            pid_ns: me.pid_ns.clone(),
            version: Some(env!("CARGO_PKG_VERSION").into()),
            kind: run.kind,
        });
        let mut payload = start_event.payload();
        redactor.redact_json(&mut payload);
        let payload_text: Arc<str> = serde_json::to_string(&payload)
            .expect("JSON values serialize")
            .into();
        let runbook = payload["runbook"].as_str().unwrap_or_default().to_string();
        let host = payload["host"].as_str().unwrap_or_default().to_string();
        let params = payload["params"].to_string();
        let operator = payload["operator"].to_string();

        let mut guard = self.inner.writer.lock().await;
        // Through a plain reference, so that a transaction on `conn` can use `prepared` too.
        let w = &mut *guard;
        // The run-start commit needs no fsync of its own: whatever the run does that must
        // survive a power cut (an intent, a gate, its end) is a durable commit, and syncing
        // the log then makes this earlier commit durable too.
        w.set_durable(false).await?;
        let time: Arc<str> = clock::format_time(start.time).into();
        for attempt in 0..8 {
            let id: Arc<str> = if attempt == 0 {
                start.id.as_str().into()
            } else {
                clock::new_run_id(start.time).into()
            };
            let time = time.clone();
            let mut tx = w.conn.begin_with("BEGIN IMMEDIATE").await?;
            insert_source(&mut tx, &source_sha256, &run.source).await?;
            let inserted = sqlx::query(
                "INSERT INTO runs (id, runbook, source_sha256, params, operator, host, dry_run, \
                 started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
            )
            .bind(id.clone())
            .bind(runbook.clone())
            .bind(source_sha256.clone())
            .bind(params.clone())
            .bind(operator.clone())
            .bind(host.clone())
            .bind(run.dry_run)
            .bind(time.clone())
            .execute(&mut *tx)
            .await?;
            if inserted.rows_affected() == 0 {
                // Two runs started in the same second drew the same random suffix.
                tx.rollback().await?;
                continue;
            }
            let event = Pending {
                run: id.clone(),
                seq: 1,
                time,
                kind: "run-start".into(),
                step: None,
                payload: payload_text.clone(),
            };
            let mut hashes =
                insert::insert_events(&mut tx, &mut w.prepared, std::slice::from_ref(&event))
                    .await?;
            tx.commit().await?;
            w.head = hashes.last().copied();
            drop(guard);
            self.mirror(std::slice::from_ref(&event), &hashes);
            return Ok((id, hashes.pop()));
        }
        Err(AuditError::Inconsistent(
            "could not find an unused run id".into(),
        ))
    }

    /// Append events to the chain, in order. Returns their hashes. On error nothing was written.
    ///
    /// `durable`: the commit is fsync'd before this returns (intents, gates, run start and
    /// end). Otherwise (a step's group of read-only events) the commit skips the fsync: it
    /// survives the process being killed at once, and the next durable commit, which syncs the
    /// write-ahead log, makes it survive a power cut too. A read-only step then costs no disk
    /// flush, while an intent still reaches the disk before its action runs.
    ///
    /// `sealed`: hashes computed ahead, used if still valid (see [`Sealed`]).
    pub(crate) async fn append(
        &self,
        events: &[Pending],
        durable: bool,
        sealed: Option<Sealed>,
    ) -> Result<Vec<Hash>, AuditError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let mut w = self.inner.writer.lock().await;
        w.set_durable(durable).await?;
        let result = self.append_locked(&mut w, events, sealed).await;
        if result.is_err() {
            w.head = None;
        }
        result
    }

    async fn append_locked(
        &self,
        w: &mut Writer,
        events: &[Pending],
        sealed: Option<Sealed>,
    ) -> Result<Vec<Hash>, AuditError> {
        if events.len() <= insert::CONDITIONAL_MAX {
            // Optimistic: hash against the cached head; the statement checks it is still the
            // head. A few retries cover other processes appending in between.
            for _ in 0..4 {
                let prev = match w.head.take() {
                    Some(h) => h,
                    None => insert::chain_head(&mut w.conn, &mut w.prepared).await?,
                };
                let hashes = seal(prev, events);
                let inserted =
                    insert::insert_if_head(&mut w.conn, &mut w.prepared, prev, events, &hashes)
                        .await?;
                if inserted == events.len() as u64 {
                    w.head = hashes.last().copied();
                    return Ok(hashes);
                }
                if inserted != 0 {
                    return Err(AuditError::Inconsistent(format!(
                        "appended {inserted} of {} events",
                        events.len()
                    )));
                }
            }
        }
        let hashes = insert::append_batch(&mut w.conn, &mut w.prepared, events, sealed).await?;
        w.head = hashes.last().copied();
        Ok(hashes)
    }

    /// Copy mirrored kinds to the journal. Best effort.
    pub(crate) fn mirror(&self, events: &[Pending], hashes: &[Hash]) {
        for (e, hash) in events.iter().zip(hashes) {
            if is_mirrored(&e.kind) {
                self.inner.mirror.send(&MirrorEntry {
                    run: &e.run,
                    seq: e.seq,
                    kind: &e.kind,
                    step: e.step.as_deref(),
                    payload: &e.payload,
                    hash: Some(*hash),
                });
            }
        }
    }

    /// Append an `interrupted` event to every run that has no end event and whose process is
    /// gone. Returns the ids of the runs marked.
    pub async fn recover_interrupted(&self) -> Result<Vec<String>, AuditError> {
        let mut guard = self.inner.writer.lock().await;
        // Through a plain reference, so that a transaction on `conn` can use `prepared` too.
        let w = &mut *guard;
        let candidates = unended_runs(&mut w.conn).await?;
        let gone: Vec<(String, ProcessIdentity)> = candidates
            .into_iter()
            .filter(|(_, who)| liveness(who, &self.inner.me) == Liveness::Gone)
            .collect();
        if gone.is_empty() {
            return Ok(Vec::new());
        }
        w.set_durable(true).await?;
        let mut tx = w.conn.begin_with("BEGIN IMMEDIATE").await?;
        // Re-check inside the write transaction: a run may have ended since we looked.
        let still_open: Vec<String> = unended_runs(&mut tx)
            .await?
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        let now = clock::now();
        let mut events = Vec::new();
        for (run, who) in gone.iter().filter(|(id, _)| still_open.contains(id)) {
            let last = sqlx::query(
                "SELECT seq, kind, time FROM events WHERE run = ? ORDER BY seq DESC LIMIT 1",
            )
            .bind(run.clone())
            .fetch_one(&mut *tx)
            .await?;
            let last_seq: i64 = last.try_get(0)?;
            let last_kind: String = last.try_get(1)?;
            let last_time: String = last.try_get(2)?;
            let payload = Event::from(Interrupted {
                reason: format!(
                    "the process that ran it (pid {}) is gone and it recorded no end",
                    who.pid
                ),
                pid: who.pid,
                last_seq,
                last_kind,
                last_time,
                detected_by: Some(Detector {
                    pid: self.inner.me.pid,
                    host: super::process::hostname(),
                }),
            })
            .payload();
            events.push(Pending {
                run: run.as_str().into(),
                seq: last_seq + 1,
                time: now.clone(),
                kind: "interrupted".into(),
                step: None,
                payload: payload.to_string().into(),
            });
        }
        let hashes = insert::insert_events(&mut tx, &mut w.prepared, &events).await?;
        tx.commit().await?;
        w.head = hashes.last().copied();
        drop(guard);
        self.mirror(&events, &hashes);
        Ok(events.iter().map(|e| e.run.to_string()).collect())
    }
}

/// Runs without an end event, and their `run-start` payload. Driven by `runs`: one index probe
/// per run for its end, one for its start. (A join on `events` let SQLite choose to scan every
/// event, on every open.)
const UNENDED_RUNS: &str = "SELECT r.id, \
     (SELECT s.payload FROM events s WHERE s.run = r.id AND s.seq = 1) \
     FROM runs r WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.run = r.id \
                                   AND e.kind IN ('run-end', 'interrupted'))";

/// Runs without an end event, with the process identity from their `run-start` payload.
async fn unended_runs(
    conn: &mut SqliteConnection,
) -> Result<Vec<(String, ProcessIdentity)>, AuditError> {
    let rows = sqlx::query(UNENDED_RUNS).fetch_all(conn).await?;
    let mut out = Vec::new();
    for row in rows {
        let id: String = row.try_get(0)?;
        // A run row without its start event (cannot happen: both are one transaction).
        let payload: String = row.try_get::<Option<String>, _>(1)?.unwrap_or_default();
        let who = serde_json::from_str::<Value>(&payload)
            .ok()
            .and_then(|v| ProcessIdentity::from_json(&v))
            // No process recorded: nothing can be waiting to finish it.
            .unwrap_or(ProcessIdentity {
                pid: 0,
                start_ticks: None,
                boot_id: Some(String::new()),
                pid_ns: None,
            });
        out.push((id, who));
    }
    Ok(out)
}

/// Store a source text once, under its SHA-256 (the run's runbook, or a module it loaded).
async fn insert_source(
    conn: &mut SqliteConnection,
    sha256: &str,
    text: &str,
) -> Result<(), AuditError> {
    sqlx::query("INSERT INTO sources (sha256, text) VALUES (?, ?) ON CONFLICT (sha256) DO NOTHING")
        .bind(sha256.to_string())
        .bind(text.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every open runs the recovery query: it must not read every event of the database.
    #[tokio::test]
    async fn recovery_query_reads_no_event_table_scan() {
        let dir = tempfile::tempdir().unwrap();
        let store = AuditStore::open(&dir.path().join("audit.db"))
            .await
            .unwrap();
        let mut conn = store.reader().await.unwrap();
        let plan: Vec<String> = sqlx::query(sqlx::AssertSqlSafe(format!(
            "EXPLAIN QUERY PLAN {UNENDED_RUNS}"
        )))
        .fetch_all(&mut conn)
        .await
        .unwrap()
        .iter()
        .map(|row| row.get::<String, _>(3))
        .collect();
        assert!(
            plan.iter()
                .all(|step| !step.starts_with("SCAN e") && !step.starts_with("SCAN s")),
            "{plan:?}"
        );
        assert!(
            plan.iter().any(|step| step.contains("events_run_end")),
            "{plan:?}"
        );
    }
}
