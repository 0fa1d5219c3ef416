//! Appending fast: SQLite's C API on sqlx's own connection.
//!
//! Through sqlx, every statement is a round trip to sqlx's worker thread and every bound value
//! is converted and sent there; a flush of 10,000 events spent about as long in that machinery
//! as in SQLite. Appends instead lock the connection away from the worker
//! ([`SqliteConnection::lock_handle`]) and run on the calling thread: a batch's whole
//! transaction in one go, inserting [`ROWS_PER_STATEMENT`] rows per statement and binding the
//! fields without copying (`SQLITE_STATIC`: they outlive the step); a durable event's
//! head-checking statement likewise. Statements are prepared once per connection ([`Prepared`]).

use std::ffi::{CStr, CString};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use sqlx::sqlite::SqliteConnection;

use super::batch::{seal, values_clause, Pending, Sealed, COLUMNS, PARAMS_PER_ROW};
use super::chain::Hash;
use super::ffi::{self, Db, Statement, Step, BUSY_TIMEOUT};
use super::AuditError;

const WHAT: &str = "cannot append events";

/// Rows per INSERT statement. One statement per row spent a third of SQLite's time starting
/// and ending statements (opening cursors, reading and rewriting the AUTOINCREMENT counter);
/// 32 rows (256 parameters) keep that small.
const ROWS_PER_STATEMENT: usize = 32;

/// `INSERT INTO events (...) VALUES (...), (...), ...` with `rows` rows, NUL-terminated.
fn insert_sql(rows: usize) -> CString {
    CString::new(format!(
        "INSERT INTO events ({COLUMNS}) VALUES {}",
        values_clause(rows)
    ))
    .expect("no NUL in SQL")
}

static INSERT_FULL: LazyLock<CString> = LazyLock::new(|| insert_sql(ROWS_PER_STATEMENT));

/// The hash of the newest event, or the genesis value for an empty chain.
pub(crate) async fn chain_head(
    conn: &mut SqliteConnection,
    prepared: &mut Prepared,
) -> Result<Hash, AuditError> {
    let mut handle = conn.lock_handle().await?;
    // SAFETY: the handle is locked away from sqlx's worker thread while it lives.
    unsafe { read_head(handle.as_raw_handle().as_ptr(), &mut prepared.head) }
}

/// Append `events` after the current chain head inside the caller's write transaction (a
/// run's start, interrupted runs' ends). Returns their hashes. Blocks the calling thread while
/// SQLite works.
pub(crate) async fn insert_events(
    conn: &mut SqliteConnection,
    prepared: &mut Prepared,
    events: &[Pending],
) -> Result<Vec<Hash>, AuditError> {
    let mut handle = conn.lock_handle().await?;
    let db = handle.as_raw_handle().as_ptr();
    // SAFETY: the handle is locked away from sqlx's worker thread while it lives.
    unsafe {
        let prev = read_head(db, &mut prepared.head)?;
        let hashes = seal(prev, events);
        insert(db, &mut prepared.batch, prev, events, &hashes)?;
        Ok(hashes)
    }
}

/// The largest batch appended by the single-statement, head-checking path.
pub(crate) const CONDITIONAL_MAX: usize = 8;

/// `INSERT_IF_HEAD[n - 1]` appends n rows only if the chain head is still the hash bound last
/// (an empty chain's head is the genesis value, 32 zero bytes).
static INSERT_IF_HEAD: LazyLock<Vec<CString>> = LazyLock::new(|| {
    (1..=CONDITIONAL_MAX)
        .map(|n| {
            CString::new(format!(
                "INSERT INTO events ({COLUMNS}) SELECT * FROM (VALUES {}) \
                 WHERE COALESCE((SELECT hash FROM events ORDER BY id DESC LIMIT 1), zeroblob(32)) = ?",
                values_clause(n)
            ))
            .expect("no NUL in SQL")
        })
        .collect()
});

/// The write connection's append statements, prepared on first use and kept: preparing the
/// head-checking append costs about as much as running it. Dropped before the connection
/// closes.
#[derive(Default)]
pub(crate) struct Prepared {
    if_head: [Option<Statement>; CONDITIONAL_MAX],
    /// The [`ROWS_PER_STATEMENT`]-row INSERT of a batch.
    batch: Option<Statement>,
    /// The chain head query.
    head: Option<Statement>,
}

/// Append `events` (1 to [`CONDITIONAL_MAX`]) with their `hashes`, chained after `prev`, in
/// one statement that is its own transaction and inserts nothing unless `prev` is still the
/// chain head. Returns the rows inserted: all or none.
///
/// Runs SQLite on the calling thread rather than sqlx's worker: a durable event's append is
/// one short statement and an fsync, and the two thread hops cost a tenth of it. While another
/// connection holds the write lock, it waits asynchronously (up to [`BUSY_TIMEOUT`]) instead of
/// in SQLite's busy handler, which would block the thread, and with it maybe the very task
/// (in this process) that holds the lock.
pub(crate) async fn insert_if_head(
    conn: &mut SqliteConnection,
    prepared: &mut Prepared,
    prev: Hash,
    events: &[Pending],
    hashes: &[Hash],
) -> Result<u64, AuditError> {
    let n = events.len();
    assert!((1..=CONDITIONAL_MAX).contains(&n) && hashes.len() == n);
    without_blocking(conn, |db| {
        // SAFETY: `without_blocking` hands over a connection no other thread uses.
        let stmt = match unsafe { cached(&mut prepared.if_head[n - 1], db, &INSERT_IF_HEAD[n - 1]) }
        {
            Ok(stmt) => stmt,
            Err(e) => return Step::Failed(e),
        };
        // SAFETY: as above; the bound values (`events`, `hashes`, `prev`) outlive the step.
        unsafe {
            for (i, e) in events.iter().enumerate() {
                let prev_hash = if i == 0 { &prev } else { &hashes[i - 1] };
                bind_row(stmt, i, e, prev_hash, &hashes[i]);
            }
            stmt.bind_blob((n * PARAMS_PER_ROW + 1) as i32, prev.as_bytes());
            stmt.run(WHAT)
        }
    })
    .await
}

/// Append `events` after the current chain head in one `BEGIN IMMEDIATE` transaction, with
/// `sealed`'s hashes if they were computed against that head, else new ones. Returns the
/// hashes. On error nothing was written.
///
/// The whole transaction runs on the calling thread, in one go: its statements went through
/// sqlx's worker thread one by one before, each a round trip between threads.
pub(crate) async fn append_batch(
    conn: &mut SqliteConnection,
    prepared: &mut Prepared,
    events: &[Pending],
    mut sealed: Option<Sealed>,
) -> Result<Vec<Hash>, AuditError> {
    without_blocking(conn, |db| {
        // SAFETY: `without_blocking` hands over a connection no other thread uses; the
        // statements of `prepared` belong to it.
        unsafe {
            match ffi::exec(db, c"BEGIN IMMEDIATE", WHAT) {
                Step::Done(_) => {}
                Step::Busy(e) => return Step::Busy(e),
                Step::Failed(e) => return Step::Failed(e),
            }
            let written = (|| {
                let prev = read_head(db, &mut prepared.head)?;
                let hashes = match sealed.take() {
                    Some(s) if s.prev == prev && s.hashes.len() == events.len() => s.hashes,
                    _ => seal(prev, events),
                };
                insert(db, &mut prepared.batch, prev, events, &hashes)?;
                match ffi::exec(db, c"COMMIT", WHAT) {
                    Step::Done(_) => Ok(hashes),
                    Step::Busy(e) | Step::Failed(e) => Err(e),
                }
            })();
            match written {
                Ok(hashes) => Step::Done(hashes),
                Err(e) => {
                    // Undo whatever the transaction did; its own error is the one to report.
                    ffi::exec(db, c"ROLLBACK", WHAT);
                    Step::Failed(e)
                }
            }
        }
    })
    .await
}

/// Run `attempt` on the raw connection with SQLite's busy handler off. While it reports that
/// another connection holds the write lock, pause asynchronously and run it again, up to
/// [`BUSY_TIMEOUT`]. (The busy handler would sleep on this thread, which may be the one the
/// lock's holder in this process needs to finish.)
async fn without_blocking<T>(
    conn: &mut SqliteConnection,
    mut attempt: impl FnMut(Db) -> Step<T>,
) -> Result<T, AuditError> {
    let deadline = Instant::now() + BUSY_TIMEOUT;
    let mut pause = Duration::from_millis(1);
    loop {
        let mut handle = conn.lock_handle().await?;
        let db = handle.as_raw_handle().as_ptr();
        // SAFETY: the handle is locked away from sqlx's worker thread while it lives.
        unsafe { ffi::set_busy_timeout(db, Duration::ZERO) };
        let outcome = attempt(db);
        // SAFETY: as above.
        unsafe { ffi::set_busy_timeout(db, BUSY_TIMEOUT) };
        drop(handle);
        match outcome {
            Step::Done(value) => return Ok(value),
            Step::Busy(_) if Instant::now() < deadline => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Step::Busy(e) | Step::Failed(e) => return Err(e),
        }
    }
}

/// The hash of the newest event, or the genesis value for an empty chain.
///
/// # Safety
/// `db` must be a valid connection used by no other thread; `slot` holds its statement.
unsafe fn read_head(db: Db, slot: &mut Option<Statement>) -> Result<Hash, AuditError> {
    // SAFETY: per the function's contract.
    let stmt = unsafe { cached(slot, db, HEAD_SQL)? };
    // SAFETY: the statement is valid; the column's bytes are copied before the reset.
    let head = unsafe {
        match stmt.next_row("cannot read the chain head") {
            Ok(true) => {
                let bytes = stmt.bytes(0);
                Hash::from_bytes(bytes).ok_or_else(|| {
                    AuditError::Inconsistent(format!(
                        "the newest event's hash column holds {} bytes, not a 32-byte \
                         hash: the database was altered. Run `runbook audit verify` on it, \
                         and record new runs elsewhere (--audit-db PATH) until it is looked \
                         into",
                        bytes.len()
                    ))
                })
            }
            Ok(false) => Ok(Hash::GENESIS),
            Err(e) => Err(e),
        }
    };
    stmt.reset();
    head
}

const HEAD_SQL: &CStr = c"SELECT hash FROM events ORDER BY id DESC LIMIT 1";

/// The statement kept in `slot`, prepared from `sql` on first use.
///
/// # Safety
/// `db` must be a valid connection used by no other thread; `slot`, if set, holds a statement
/// of it.
unsafe fn cached<'a>(
    slot: &'a mut Option<Statement>,
    db: Db,
    sql: &CStr,
) -> Result<&'a mut Statement, AuditError> {
    match slot {
        Some(stmt) => Ok(stmt),
        // SAFETY: per the function's contract.
        None => Ok(slot.insert(unsafe { Statement::prepare(db, sql, true, WHAT)? })),
    }
}

/// Insert `events` with their `hashes`, chained after `prev`, inside the caller's
/// transaction. `full` keeps the full-size statement for the next call.
///
/// # Safety
/// `db` must be a valid connection that no other thread uses during the call; `full`, if
/// set, holds a statement of it.
unsafe fn insert(
    db: Db,
    full: &mut Option<Statement>,
    prev: Hash,
    events: &[Pending],
    hashes: &[Hash],
) -> Result<(), AuditError> {
    for (n, chunk) in events.chunks(ROWS_PER_STATEMENT).enumerate() {
        // The full-size statement is kept; only a last, shorter chunk needs one of its own.
        let mut rest;
        // SAFETY (both prepares): per this function's contract.
        let stmt = if chunk.len() == ROWS_PER_STATEMENT {
            unsafe { cached(full, db, &INSERT_FULL)? }
        } else {
            rest = unsafe { Statement::prepare(db, &insert_sql(chunk.len()), false, WHAT)? };
            &mut rest
        };
        for (row, e) in chunk.iter().enumerate() {
            let i = n * ROWS_PER_STATEMENT + row;
            let prev_hash = if i == 0 { &prev } else { &hashes[i - 1] };
            // SAFETY: every bound value lives until after the step below.
            unsafe { bind_row(stmt, row, e, prev_hash, &hashes[i]) };
        }
        // SAFETY: the statement is fully bound and its values are alive.
        match unsafe { stmt.run(WHAT) } {
            Step::Done(_) => {}
            Step::Busy(e) | Step::Failed(e) => return Err(e),
        }
    }
    Ok(())
}

/// Bind event `e` as the statement's `row`-th row (0-based), chained after `prev_hash`.
///
/// # Safety
/// The bound texts must outlive the next step of the statement.
unsafe fn bind_row(stmt: &mut Statement, row: usize, e: &Pending, prev_hash: &Hash, hash: &Hash) {
    let at = (row * PARAMS_PER_ROW) as i32;
    // SAFETY: per the function's contract.
    unsafe {
        stmt.bind_text(at + 1, &e.run);
        stmt.bind_int64(at + 2, e.seq);
        stmt.bind_text(at + 3, &e.time);
        stmt.bind_text(at + 4, &e.kind);
        match &e.step {
            Some(step) => stmt.bind_text(at + 5, step),
            None => stmt.bind_null(at + 5),
        };
        stmt.bind_text(at + 6, &e.payload);
        stmt.bind_blob(at + 7, prev_hash.as_bytes());
        stmt.bind_blob(at + 8, hash.as_bytes());
    }
}
