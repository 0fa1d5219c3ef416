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
//! Speed: the chain is read with SQLite's C API (see [`super::scan`]) in one id range per core,
//! each on its own read connection and thread, through a memory map of the file. Each row is
//! checked while it is current, hashing the bytes SQLite lends, so nothing is copied out but
//! the canonical message. Each later range starts from the stored hash of the event before it,
//! so every link is checked as one scan in id order would. Streaming rows through sqlx instead
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
    /// How many id ranges to read and check in parallel, one connection and thread each.
    /// None: one per core (at most 4), as long as each range has at least
    /// [`MIN_EVENTS_PER_RANGE`] events.
    pub ranges: Option<usize>,
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

    // 1. The chain, in id ranges read in parallel (see [`ranges`]).
    let ranges = ranges(&mut tx, opts.ranges).await?;
    let mut extra = Vec::with_capacity(ranges.len().saturating_sub(1));
    for _ in 1..ranges.len() {
        extra.push(store.reader().await?);
    }
    let checker = {
        let mut handles = vec![tx.lock_handle().await?];
        for conn in &mut extra {
            handles.push(conn.lock_handle().await?);
        }
        let dbs: Vec<raw::SendDb> = handles
            .iter_mut()
            .map(|h| raw::SendDb(h.as_raw_handle().as_ptr()))
            .collect();
        // SAFETY: each handle is locked away from its sqlx worker thread for the whole scan,
        // each connection is scanned by one thread, and `scan_range` finalizes the statement it
        // prepares before returning.
        unsafe { raw::scan_ranges(&dbs, &ranges, expect) }?
    };
    for conn in extra {
        conn.close().await?;
    }

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

/// Below this many events one range is read: a second connection costs more than it saves.
pub const MIN_EVENTS_PER_RANGE: i64 = 10_000;

/// A part of the chain one thread reads and checks: the events with ids up to `last`, after
/// the event `anchor` (None for the first range, which starts at the genesis).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IdRange {
    pub anchor: Option<i64>,
    pub last: i64,
}

/// Split the chain of this snapshot into one id range per core, so that reading (SQLite's
/// stepping and copying, the bound of a scan on one thread) runs on every core, not only the
/// hashing. Each later range starts at the stored hash of its anchor, the newest event at or
/// below its lower bound as this snapshot sees it; that anchor is the previous range's last
/// event, so every link is checked exactly as one scan in id order would, seams included.
///
/// The other ranges are read on connections of their own, whose snapshots begin a moment
/// later: the events table is append-only (its triggers are checked at the end, on this
/// snapshot), so they agree with this one up to its newest event, which bounds the last range;
/// events appended meanwhile are not read.
async fn ranges(
    conn: &mut sqlx::SqliteConnection,
    wanted: Option<usize>,
) -> Result<Vec<IdRange>, AuditError> {
    let (first, newest): (Option<i64>, Option<i64>) =
        // Two subqueries: SQLite answers min() or max() alone from the end of the table,
        // but scans every row for both in one query.
        sqlx::query_as("SELECT (SELECT min(id) FROM events), (SELECT max(id) FROM events)")
            .fetch_one(&mut *conn)
            .await?;
    let (Some(first), Some(newest)) = (first, newest) else {
        return Ok(vec![IdRange {
            anchor: None,
            last: i64::MAX,
        }]);
    };
    let span = newest - first + 1;
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get()) as i64;
    let count = match wanted {
        Some(n) => (n as i64).clamp(1, span),
        None => cores.clamp(1, 4).min(span / MIN_EVENTS_PER_RANGE).max(1),
    };
    let mut ranges = Vec::with_capacity(count as usize);
    let mut anchor = None;
    for k in 1..=count {
        let last = if k == count {
            newest
        } else {
            first - 1 + span * k / count
        };
        ranges.push(IdRange { anchor, last });
        if k < count {
            anchor = sqlx::query_scalar("SELECT max(id) FROM events WHERE id <= ?")
                .bind(last)
                .fetch_one(&mut *conn)
                .await?;
        }
    }
    Ok(ranges)
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
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::super::ffi::{self, ColumnValue, Db, Statement};
    use super::{AuditError, Checker, Hash, IdRange, RawEvent};

    /// A connection handed to the thread that scans one range.
    pub(super) struct SendDb(pub Db);
    // SAFETY: each connection is used by exactly one scanning thread, while its sqlx handle
    // stays locked by the caller (see `scan_ranges`).
    unsafe impl Send for SendDb {}
    unsafe impl Sync for SendDb {}

    /// Scan each range on its own connection and thread, and combine what they saw in chain
    /// order: the first break of the lowest range is the first break of the chain, because
    /// ranges are contiguous in id order and each checks its first event against the one
    /// before it.
    ///
    /// # Safety
    /// `dbs[i]` must be a valid connection that no other thread uses during the call, one per
    /// range.
    pub(super) unsafe fn scan_ranges(
        dbs: &[SendDb],
        ranges: &[IdRange],
        expect: Option<Hash>,
    ) -> Result<Summary, AuditError> {
        // The lowest range that found a break: the ranges above it stop reading.
        let first_broken = AtomicUsize::new(usize::MAX);
        let first_broken = &first_broken;
        let results: Vec<Result<Summary, AuditError>> = std::thread::scope(|s| {
            let scans: Vec<_> = dbs
                .iter()
                .zip(ranges)
                .enumerate()
                .map(|(index, (db, &range))| {
                    std::thread::Builder::new()
                        .name("audit-verify".into())
                        // SAFETY: per the function's contract.
                        .spawn_scoped(s, move || unsafe {
                            let result = scan_range(db.0, range, expect, index, first_broken);
                            if result.is_err() {
                                first_broken.fetch_min(index, Ordering::Relaxed);
                            }
                            result
                        })
                })
                .collect();
            scans
                .into_iter()
                .map(|spawned| match spawned {
                    Ok(h) => h.join().unwrap_or_else(|_| {
                        Err(AuditError::Inconsistent("a reading thread panicked".into()))
                    }),
                    Err(e) => Err(AuditError::Inconsistent(format!(
                        "cannot start a thread: {e}"
                    ))),
                })
                .collect()
        });
        let mut total: Option<Summary> = None;
        for result in results {
            let part = result?;
            total = Some(match total {
                None => part,
                Some(t) => Summary {
                    events: t.events + part.events,
                    head: part.head,
                    head_id: part.head_id.or(t.head_id),
                    expect_id: t.expect_id.or(part.expect_id),
                    wrong_type_seen: t.wrong_type_seen || part.wrong_type_seen,
                },
            });
        }
        total.ok_or_else(|| AuditError::Inconsistent("no range to verify".into()))
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

    /// How often (in rows) a range looks whether a lower range already found a break.
    const STOP_CHECK_ROWS: u64 = 4096;

    /// Read the events of `range` in id order and check each one as it is read, hashing the
    /// bytes SQLite lends for the current row. Nothing is copied out of SQLite but the
    /// canonical message the hash needs: copying rows into batches for other threads to hash
    /// cost the reading thread as much as the hashing saved, and one reading thread was the
    /// bound (ranges put the reading on every core instead). A range with an anchor reads the
    /// anchor first, only as the event before its first one (the range before checks it).
    /// Stops early, with what it saw so far, once a lower range (`index` orders them) found a
    /// break: that break is the one reported.
    ///
    /// # Safety
    /// `db` must be a valid connection that no other thread uses during the call.
    unsafe fn scan_range(
        db: Db,
        range: IdRange,
        expect: Option<Hash>,
        index: usize,
        first_broken: &AtomicUsize,
    ) -> Result<Summary, AuditError> {
        let sql = c"SELECT id, run, seq, time, kind, step, payload, prev_hash, hash \
                    FROM events WHERE id >= ?1 AND id <= ?2 ORDER BY id";
        const WHAT: &str = "cannot read the events";
        // SAFETY: valid connection, used by no other thread during the call; the statement
        // is finalized when dropped, at the end of this function.
        // Read the file through a memory map (up to SQLite's compiled limit, 2 GB by default;
        // the rest and the WAL are read as before): each page read was a system call that
        // copied 4 KB, a tenth of the scan's time, and with the scan on every core the copies
        // were what bound it (2.5-2.9 -> 3.8-4.1 million events/s over 1,000,000 events).
        // Only verify's own read connections map the file; they close when it returns.
        // SAFETY: valid connection, used by no other thread during the call.
        match unsafe { ffi::exec(db, c"PRAGMA mmap_size = 4294967296", WHAT) } {
            ffi::Step::Done(()) => {}
            ffi::Step::Busy(e) | ffi::Step::Failed(e) => return Err(e),
        }
        let mut stmt = unsafe { Statement::prepare(db, sql, false, WHAT) }?;
        stmt.bind_int64(1, range.anchor.unwrap_or(i64::MIN));
        stmt.bind_int64(2, range.last);
        let (mut prev, mut prev_id) = (Hash::GENESIS, None);
        // SAFETY (every `next_row` below): the statement binds only integers.
        if range.anchor.is_some() && unsafe { stmt.next_row(WHAT) }? {
            // SAFETY: positioned on a row; the hash is copied before the next step.
            unsafe {
                prev = Hash::from_bytes(stmt.column(8).bytes()).unwrap_or(Hash::GENESIS);
                prev_id = Some(stmt.column(0).int64());
            }
        }
        let mut checker = Checker::after(prev, prev_id, expect);
        let mut wrong_type_seen = false;
        while unsafe { stmt.next_row(WHAT) }? {
            // SAFETY: positioned on a row; the columns are used only before the next step.
            let cols: [ColumnValue<'_>; 9] =
                std::array::from_fn(|i| unsafe { stmt.column(i as i32) });
            wrong_type_seen |= !types_expected(&cols);
            let step = cols[5];
            checker
                .check(&RawEvent {
                    id: cols[0].int64(),
                    run: cols[1].bytes(),
                    seq: cols[2].int64(),
                    time: cols[3].bytes(),
                    kind: cols[4].bytes(),
                    step: (step.storage() != libsqlite3_sys::SQLITE_NULL).then(|| step.bytes()),
                    payload: cols[6].bytes(),
                    prev_hash: cols[7].bytes(),
                    hash: cols[8].bytes(),
                })
                .map_err(AuditError::ChainBroken)?;
            if checker.events % STOP_CHECK_ROWS == 0 && first_broken.load(Ordering::Relaxed) < index
            {
                break;
            }
        }
        Ok(Summary {
            events: checker.events,
            head: checker.prev,
            head_id: checker.prev_id,
            expect_id: checker.expect_id,
            wrong_type_seen,
        })
    }

    /// Whether every column of the current row has the storage type the store writes, in the
    /// order of the events query: the same rule as [`super::EXPECTED_TYPES`] (a NULL step is
    /// allowed), checked here because the type is free to read while the row is current.
    fn types_expected(cols: &[ColumnValue<'_>; 9]) -> bool {
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
        cols.iter()
            .zip(EXPECTED)
            .enumerate()
            .all(|(col, (value, want))| {
                let got = value.storage();
                got == want || (col == 5 && got == SQLITE_NULL)
            })
    }
}
