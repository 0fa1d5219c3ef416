//! `runbook audit verify`: recompute the whole chain and cross-check the tables around it.
//!
//! Checks, in order, each stopping at the first problem:
//!
//! 1. The chain, in id order: every event's `prev_hash` equals the previous event's `hash`
//!    (all zeros for the first event), its `hash` equals the recomputation from its fields
//!    ([`super::chain`]), and its id is the previous event's id + 1 (ids are never skipped, so
//!    a gap under intact links means the newest events were deleted and others appended since).
//!    A break names the event's id, run and seq and says what is wrong. Then every column's
//!    storage type (text, integer, 32-byte blob): the same bytes under another type hash alike.
//! 2. Truncation: SQLite's `sqlite_sequence` remembers the highest event id ever written; if it
//!    is above the newest event, the newest events were deleted. With `expect_head`, the chain
//!    must still contain an event with that hash (an anchor kept elsewhere, e.g. from an earlier
//!    `verify` or the journal), which also catches a deletion covered up by resetting
//!    `sqlite_sequence`.
//! 3. The `runs` and `sources` tables, which the chain does not cover directly: each run's row
//!    must agree with its hash-chained `run-start` event, and each source text must hash to its
//!    key. Last, the append-only triggers must all be in place: changing anything requires
//!    dropping them, so their absence is evidence in itself.
//!
//! Speed: the chain is read with SQLite's C API on sqlx's own connection (see [`super::scan`]),
//! copied into batches of 8192 rows, and the batches are hashed in parallel on one thread per
//! core (each batch carries the stored hash and id of the event before it, so batches are
//! independent), while the calling thread keeps reading. Streaming rows through sqlx instead
//! costs a thread hand-off per row and managed about 150,000 events/s. The scan blocks the
//! calling thread for its duration.

use std::time::Instant;

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::{Connection, Row};

use super::chain::{digest_bytes, Hash, StoredHash};
use super::{AuditError, AuditStore};

/// Options of [`verify`].
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// Fail unless the chain contains an event with this hash (64 hex digits).
    pub expect_head: Option<String>,
}

/// The first event that does not verify.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainBreak {
    pub id: i64,
    pub run: String,
    pub seq: i64,
    pub problem: String,
}

/// What a successful verification saw. Field names are the `audit verify --json` schema.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub ok: bool,
    pub events: u64,
    pub runs: u64,
    pub sources: u64,
    /// Hash of the newest event (the genesis value for an empty chain).
    pub head: String,
    pub head_id: Option<i64>,
    /// Id of the event whose hash is `expect_head`, when one was given.
    pub expect_head_id: Option<i64>,
    pub seconds: f64,
}

struct Checker {
    /// The hash and id of the event checked last (before the first: the genesis value, None).
    prev: Hash,
    prev_id: Option<i64>,
    events: u64,
    expect: Option<Hash>,
    expect_id: Option<i64>,
}

struct RawEvent<'a> {
    id: i64,
    run: &'a [u8],
    seq: i64,
    time: &'a [u8],
    kind: &'a [u8],
    step: Option<&'a [u8]>,
    payload: &'a [u8],
    prev_hash: &'a [u8],
    hash: &'a [u8],
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

impl Checker {
    /// A checker for events that follow the event with hash `prev` and id `prev_id` (None:
    /// there is none and `prev` is the genesis value).
    fn after(prev: Hash, prev_id: Option<i64>, expect: Option<Hash>) -> Checker {
        Checker {
            prev,
            prev_id,
            events: 0,
            expect,
            expect_id: None,
        }
    }

    fn check(&mut self, e: &RawEvent<'_>) -> Result<(), ChainBreak> {
        let broken = |problem: String| ChainBreak {
            id: e.id,
            run: text(e.run),
            seq: e.seq,
            problem,
        };
        if e.prev_hash != self.prev.as_bytes() {
            return Err(broken(if self.prev_id.is_none() {
                format!(
                    "it is the first event but its prev_hash is {}, not the genesis value \
                     (events before it were deleted)",
                    StoredHash(e.prev_hash)
                )
            } else {
                format!(
                    "its prev_hash {} is not the previous event's hash {} (an event before it \
                     was deleted, inserted or reordered)",
                    StoredHash(e.prev_hash),
                    self.prev
                )
            }));
        }
        let Some(stored) = Hash::from_bytes(e.hash) else {
            return Err(broken(format!(
                "its hash {} is {} bytes, not 32",
                StoredHash(e.hash),
                e.hash.len()
            )));
        };
        let computed = digest_bytes(&self.prev, e.run, e.seq, e.time, e.kind, e.step, e.payload);
        if computed != stored {
            return Err(broken(format!(
                "its contents do not match its hash (stored {stored}, computed {computed}): the \
                 event was changed after it was written"
            )));
        }
        // Ids are never skipped (AUTOINCREMENT, and a failed write rolls its ids back), so a
        // gap with intact links means the newest events were deleted and new ones appended
        // after the deletion.
        if let Some(prev_id) = self.prev_id.filter(|&p| e.id != p + 1) {
            return Err(broken(format!(
                "its id {} does not follow the previous event's id {prev_id}: the events in \
                 between were deleted (they were the newest, and this one was appended later)",
                e.id
            )));
        }
        self.prev = stored;
        self.prev_id = Some(e.id);
        self.events += 1;
        if self.expect == Some(stored) {
            self.expect_id = Some(e.id);
        }
        Ok(())
    }
}

/// Verify the whole database. `Err(AuditError::ChainBroken)` names the first bad event.
pub async fn verify(store: &AuditStore, opts: &VerifyOptions) -> Result<VerifyReport, AuditError> {
    let started = Instant::now();
    let expect = match &opts.expect_head {
        None => None,
        Some(h) => match Hash::parse(h.trim()) {
            Some(h) => Some(h),
            None => {
                return Err(AuditError::InvalidArgument(format!(
                    "--expect-head {h:?} is not a hash (64 hex digits)"
                )))
            }
        },
    };

    let mut conn = store.reader().await?;
    // One read transaction: every check sees the same snapshot.
    let mut tx = conn.begin().await?;

    // 1. The chain.
    let checker = {
        let mut handle = tx.lock_handle().await?;
        let db = handle.as_raw_handle().as_ptr();
        // SAFETY: the handle is locked away from sqlx's worker thread for the whole scan, and
        // `scan_chain` finalizes the statement it prepares before returning.
        unsafe { raw::scan_chain(db, expect) }?
    };

    let head = checker.head.to_string();
    // The scan noted whether any column had another type; only then is the table searched
    // for the first such row, to name it and its columns.
    if checker.wrong_type_seen {
        check_column_types(&mut tx).await?;
    }

    // 2. Truncation.
    let highest: Option<i64> =
        sqlx::query_scalar("SELECT seq FROM sqlite_sequence WHERE name = 'events'")
            .fetch_optional(&mut *tx)
            .await?;
    if let Some(highest) = highest {
        if highest > checker.head_id.unwrap_or(0) {
            return Err(AuditError::Inconsistent(format!(
                "events up to id {highest} were written but the newest event is {}: the newest \
                 events were deleted",
                checker
                    .head_id
                    .map_or_else(|| "missing".to_string(), |id| format!("id {id}"))
            )));
        }
    }
    if let Some(h) = &opts.expect_head {
        if checker.expect_id.is_none() {
            return Err(AuditError::HeadMissing(h.trim().to_ascii_lowercase()));
        }
    }

    // 3. Sources and runs, then the triggers.
    let sources = check_sources(&mut tx).await?;
    let runs = check_runs(&mut tx).await?;
    check_triggers(&mut tx).await?;
    tx.rollback().await?;
    conn.close().await?;

    Ok(VerifyReport {
        ok: true,
        events: checker.events,
        runs,
        sources,
        head,
        head_id: checker.head_id,
        expect_head_id: checker.expect_id,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The storage type of each event column, as the store writes it. The chain hashes values as
/// the scan reads them, and SQLite converts on read (a `seq` of 3.5 reads as 3, a `run` stored
/// as a blob reads as the same bytes), so an edit that only changes a column's type would
/// pass the chain: it is checked here. Replay selects runs by value and type (`run = ?` with
/// text), so a retyped `run` would also hide its event from `replay RUN`.
const EXPECTED_TYPES: &[(&str, &str)] = &[
    ("id", "integer"),
    ("run", "text"),
    ("seq", "integer"),
    ("time", "text"),
    ("kind", "text"),
    ("step", "text"),
    ("payload", "text"),
    ("prev_hash", "blob"),
    ("hash", "blob"),
];

/// The first event with a column of another type than [`EXPECTED_TYPES`] (written out, since
/// sqlx takes only literal SQL): its id, run, seq and the type of each column.
const WRONG_TYPES: &str = "SELECT id, CAST(run AS TEXT), CAST(seq AS INTEGER), \
     typeof(id), typeof(run), typeof(seq), typeof(time), typeof(kind), typeof(step), \
     typeof(payload), typeof(prev_hash), typeof(hash) FROM events \
     WHERE typeof(id) <> 'integer' OR typeof(run) <> 'text' OR typeof(seq) <> 'integer' \
     OR typeof(time) <> 'text' OR typeof(kind) <> 'text' \
     OR (step IS NOT NULL AND typeof(step) <> 'text') OR typeof(payload) <> 'text' \
     OR typeof(prev_hash) <> 'blob' OR typeof(hash) <> 'blob' ORDER BY id LIMIT 1";

async fn check_column_types(conn: &mut sqlx::SqliteConnection) -> Result<(), AuditError> {
    let Some(row) = sqlx::query(WRONG_TYPES).fetch_optional(&mut *conn).await? else {
        return Ok(());
    };
    let found: Vec<String> = (0..EXPECTED_TYPES.len())
        .map(|i| row.get::<String, _>(i + 3))
        .collect();
    let problems: Vec<String> = EXPECTED_TYPES
        .iter()
        .zip(&found)
        .filter(|((col, ty), got)| got != ty && !(*col == "step" && got.as_str() == "null"))
        .map(|((col, ty), got)| format!("its {col} is stored as {got}, not {ty}"))
        .collect();
    Err(AuditError::ChainBroken(ChainBreak {
        id: row.get(0),
        run: row.get::<Option<String>, _>(1).unwrap_or_default(),
        seq: row.get::<Option<i64>, _>(2).unwrap_or_default(),
        problem: format!(
            "{}: the row was edited after it was written (the same bytes under another type \
             hash alike, so the chain alone cannot see it)",
            problems.join(", ")
        ),
    }))
}

/// Every audit table must still have both append-only triggers: tampering requires dropping
/// them, so their absence is evidence in itself.
async fn check_triggers(conn: &mut sqlx::SqliteConnection) -> Result<(), AuditError> {
    let present: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'trigger' \
         AND sql LIKE '%RAISE(ABORT, ''audit tables are append-only'')%'",
    )
    .fetch_all(conn)
    .await?;
    let missing: Vec<String> = ["sources", "runs", "events"]
        .iter()
        .flat_map(|t| [format!("{t}_no_update"), format!("{t}_no_delete")])
        .filter(|name| !present.contains(name))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(AuditError::Inconsistent(format!(
            "the append-only triggers {} were dropped or changed",
            missing.join(", ")
        )))
    }
}

async fn check_sources(conn: &mut sqlx::SqliteConnection) -> Result<u64, AuditError> {
    use futures_util::TryStreamExt;
    let mut rows = sqlx::query("SELECT sha256, text FROM sources").fetch(conn);
    let mut n = 0;
    while let Some(row) = rows.try_next().await? {
        let key: String = row.try_get(0)?;
        let text: &[u8] = row.try_get_unchecked(1)?;
        let actual = hex::encode(Sha256::digest(text));
        if actual != key {
            return Err(AuditError::Inconsistent(format!(
                "the source stored under {key} hashes to {actual}: the runbook source was changed"
            )));
        }
        n += 1;
    }
    Ok(n)
}

async fn check_runs(conn: &mut sqlx::SqliteConnection) -> Result<u64, AuditError> {
    use futures_util::TryStreamExt;
    let mut rows = sqlx::query(
        "SELECT r.id, r.runbook, r.source_sha256, r.params, r.operator, r.host, r.dry_run, \
         r.started_at, e.kind, e.time, e.payload \
         FROM runs r LEFT JOIN events e ON e.run = r.id AND e.seq = 1",
    )
    .fetch(conn);
    let mut n = 0;
    while let Some(row) = rows.try_next().await? {
        let id: String = row.try_get(0)?;
        let kind: Option<String> = row.try_get(8)?;
        if kind.as_deref() != Some("run-start") {
            return Err(AuditError::Inconsistent(format!(
                "run {id} has no run-start event as its seq 1"
            )));
        }
        let payload: String = row.try_get(10)?;
        let start: Value = serde_json::from_str(&payload).unwrap_or(Value::Null);
        let json_col = |i: usize| -> Result<Value, AuditError> {
            let s: String = row.try_get(i)?;
            Ok(serde_json::from_str(&s).unwrap_or(Value::Null))
        };
        let time: String = row.try_get(9)?;
        let dry_run: bool = row.try_get(6)?;
        let checks: [(&str, bool); 7] = [
            (
                "runbook",
                start["runbook"] == Value::String(row.try_get(1)?),
            ),
            (
                "source_sha256",
                start["source_sha256"] == Value::String(row.try_get(2)?),
            ),
            ("params", start["params"] == json_col(3)?),
            ("operator", start["operator"] == json_col(4)?),
            ("host", start["host"] == Value::String(row.try_get(5)?)),
            ("dry_run", start["dry_run"] == Value::Bool(dry_run)),
            ("started_at", time == row.try_get::<String, _>(7)?),
        ];
        if let Some((field, _)) = checks.iter().find(|(_, ok)| !ok) {
            return Err(AuditError::Inconsistent(format!(
                "run {id}: its {field} in the runs table differs from its hash-chained run-start \
                 event"
            )));
        }
        n += 1;
    }
    Ok(n)
}

/// The chain scan through the raw SQLite API.
mod raw {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{mpsc, Arc};

    use super::super::ffi::{Db, Statement};
    use super::{AuditError, ChainBreak, Checker, Hash, RawEvent};

    const BATCH_ROWS: usize = 8192;
    const TEXT_COLUMNS: usize = 7; // run, time, kind, step, payload, prev_hash, hash: as bytes

    /// Rows copied out of SQLite: all text in one buffer, offsets per row.
    struct Batch {
        /// Position in the chain: batch 0 starts at the genesis.
        index: u64,
        /// The stored hash and id of the event before this batch (None for the first batch).
        prev: Hash,
        prev_id: Option<i64>,
        buf: Vec<u8>,
        rows: Vec<Pos>,
    }

    #[derive(Clone, Copy)]
    struct Pos {
        id: i64,
        seq: i64,
        step_null: bool,
        start: usize,
        ends: [usize; TEXT_COLUMNS],
    }

    impl Batch {
        fn new(index: u64, prev: Hash, prev_id: Option<i64>) -> Batch {
            Batch {
                index,
                prev,
                prev_id,
                buf: Vec::with_capacity(BATCH_ROWS * 400),
                rows: Vec::with_capacity(BATCH_ROWS),
            }
        }

        /// The stored hash and id of the last row, if it is a well-formed hash.
        fn last_hash(&self, hash: &mut Hash, id: &mut Option<i64>) {
            if let Some(p) = self.rows.last() {
                let stored = &self.buf[p.ends[TEXT_COLUMNS - 2]..p.ends[TEXT_COLUMNS - 1]];
                if let Some(h) = Hash::from_bytes(stored) {
                    *hash = h;
                }
                *id = Some(p.id);
            }
        }

        fn check(&self, checker: &mut Checker) -> Result<(), ChainBreak> {
            for p in &self.rows {
                let field = |i: usize| {
                    let from = if i == 0 { p.start } else { p.ends[i - 1] };
                    &self.buf[from..p.ends[i]]
                };
                checker.check(&RawEvent {
                    id: p.id,
                    run: field(0),
                    seq: p.seq,
                    time: field(1),
                    kind: field(2),
                    step: if p.step_null { None } else { Some(field(3)) },
                    payload: field(4),
                    prev_hash: field(5),
                    hash: field(6),
                })?;
            }
            Ok(())
        }
    }

    /// What the chain scan saw.
    pub(super) struct Summary {
        pub events: u64,
        pub head: Hash,
        pub head_id: Option<i64>,
        pub expect_id: Option<i64>,
        /// Some row had a column of another storage type than the store writes (see
        /// [`super::EXPECTED_TYPES`]).
        pub wrong_type_seen: bool,
    }

    /// The result of checking one batch.
    struct Outcome {
        index: u64,
        events: u64,
        expect_id: Option<i64>,
        error: Option<ChainBreak>,
    }

    /// Read every event in id order on this thread and check batches on hashing threads.
    ///
    /// Each batch carries the stored hash of the event before it, so batches are checked
    /// independently and in parallel; the first break (lowest batch) is reported. Reading stops
    /// early once a break is found, after every earlier batch has been handed out.
    ///
    /// # Safety
    /// `db` must be a valid connection that no other thread uses during the call.
    pub(super) unsafe fn scan_chain(db: Db, expect: Option<Hash>) -> Result<Summary, AuditError> {
        let workers = std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .clamp(1, 4);
        let broken = Arc::new(AtomicBool::new(false));
        let (outcome_tx, outcome_rx) = mpsc::channel::<Outcome>();
        let (empty_tx, empty_rx) = mpsc::channel::<Batch>();
        let mut queues = Vec::new();
        let mut hashers = Vec::new();
        for i in 0..workers {
            let (queue, batches) = mpsc::sync_channel::<Batch>(2);
            queues.push(queue);
            let (outcome_tx, empty_tx, broken) =
                (outcome_tx.clone(), empty_tx.clone(), broken.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("audit-verify-{i}"))
                .spawn(move || {
                    for mut batch in batches {
                        let mut checker = Checker::after(batch.prev, batch.prev_id, expect);
                        let error = batch.check(&mut checker).err();
                        if error.is_some() {
                            broken.store(true, Ordering::Relaxed);
                        }
                        let _ = outcome_tx.send(Outcome {
                            index: batch.index,
                            events: checker.events,
                            expect_id: checker.expect_id,
                            error,
                        });
                        batch.buf.clear();
                        batch.rows.clear();
                        let _ = empty_tx.send(batch);
                    }
                });
            match spawned {
                Ok(h) => hashers.push(h),
                Err(e) => {
                    return Err(AuditError::Inconsistent(format!(
                        "cannot start a thread: {e}"
                    )))
                }
            }
        }
        drop((outcome_tx, empty_tx));

        let sql = c"SELECT id, run, seq, time, kind, step, payload, prev_hash, hash \
                    FROM events ORDER BY id";
        const WHAT: &str = "cannot read the events";
        // SAFETY: valid connection, used by no other thread during the call; the statement
        // is dropped (finalized) at the end of the `Ok` arm.
        let prepared = unsafe { Statement::prepare(db, sql, false, WHAT) };
        let mut result = Ok(());
        let mut head = Hash::GENESIS;
        let mut head_id = None;
        let mut wrong_type_seen = false;
        let prepared = prepared.map_err(|e| result = Err(e)).ok();
        if let Some(mut stmt) = prepared {
            let mut index = 0u64;
            let mut batch = Batch::new(index, head, head_id);
            loop {
                // SAFETY: the statement binds nothing.
                match unsafe { stmt.next_row(WHAT) } {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                }
                // SAFETY: stmt is positioned on a row; column pointers are valid until the
                // next step, and we copy the bytes before that.
                unsafe {
                    wrong_type_seen |= !types_expected(&stmt);
                    copy_row(&stmt, &mut batch);
                }
                if batch.rows.len() == BATCH_ROWS {
                    batch.last_hash(&mut head, &mut head_id);
                    index += 1;
                    let mut next = empty_rx
                        .try_recv()
                        .unwrap_or_else(|_| Batch::new(0, head, head_id));
                    next.index = index;
                    next.prev = head;
                    next.prev_id = head_id;
                    let full = std::mem::replace(&mut batch, next);
                    let queue = &queues[(full.index % workers as u64) as usize];
                    if queue.send(full).is_err() || broken.load(Ordering::Relaxed) {
                        break; // a break was found; the outcomes say where
                    }
                }
            }
            if result.is_ok() && !batch.rows.is_empty() && !broken.load(Ordering::Relaxed) {
                batch.last_hash(&mut head, &mut head_id);
                let queue = &queues[(batch.index % workers as u64) as usize];
                let _ = queue.send(batch);
            }
        }
        drop(queues);
        for h in hashers {
            h.join()
                .map_err(|_| AuditError::Inconsistent("a hashing thread panicked".into()))?;
        }
        result?;
        let mut outcomes: Vec<Outcome> = outcome_rx.into_iter().collect();
        outcomes.sort_by_key(|o| o.index);
        let mut summary = Summary {
            events: 0,
            head,
            head_id,
            expect_id: None,
            wrong_type_seen,
        };
        for o in outcomes {
            if let Some(b) = o.error {
                return Err(AuditError::ChainBroken(b));
            }
            summary.events += o.events;
            summary.expect_id = summary.expect_id.or(o.expect_id);
        }
        Ok(summary)
    }

    /// Whether every column of the current row has the storage type the store writes, in the
    /// order of the events query: the same rule as [`super::EXPECTED_TYPES`] (a NULL step is
    /// allowed), checked here because the type is free to read while the row is current.
    ///
    /// # Safety
    /// `stmt` must be positioned on a row of the events query.
    unsafe fn types_expected(stmt: &Statement) -> bool {
        use libsqlite3_sys::{SQLITE_BLOB, SQLITE_INTEGER, SQLITE_NULL, SQLITE_TEXT};
        const EXPECTED: [i32; 9] = [
            SQLITE_INTEGER, // id
            SQLITE_TEXT,    // run
            SQLITE_INTEGER, // seq
            SQLITE_TEXT,    // time
            SQLITE_TEXT,    // kind
            SQLITE_TEXT,    // step (or NULL)
            SQLITE_TEXT,    // payload
            SQLITE_BLOB,    // prev_hash
            SQLITE_BLOB,    // hash
        ];
        EXPECTED.iter().enumerate().all(|(col, &want)| {
            // SAFETY: the caller guarantees a current row.
            let got = unsafe { stmt.column_type(col as i32) };
            got == want || (col == 5 && got == SQLITE_NULL)
        })
    }

    /// # Safety
    /// `stmt` must be positioned on a row of the events query.
    unsafe fn copy_row(stmt: &Statement, batch: &mut Batch) {
        let start = batch.buf.len();
        let mut ends = [0usize; TEXT_COLUMNS];
        let mut step_null = false;
        // Columns: 0 id, 1 run, 2 seq, 3 time, 4 kind, 5 step, 6 payload, 7 prev_hash, 8 hash.
        for (slot, col) in [1, 3, 4, 5, 6, 7, 8].into_iter().enumerate() {
            // SAFETY (whole block): the caller guarantees a current row; blob pointers are
            // valid for `bytes` bytes until the next step.
            unsafe {
                if col == 5 && stmt.is_null(col) {
                    step_null = true;
                } else {
                    batch.buf.extend_from_slice(stmt.bytes(col));
                }
            }
            ends[slot] = batch.buf.len();
        }
        // SAFETY: as above.
        let (id, seq) = unsafe { (stmt.int64(0), stmt.int64(2)) };
        batch.rows.push(Pos {
            id,
            seq,
            step_null,
            start,
            ends,
        });
    }
}
