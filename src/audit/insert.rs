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

use libsqlite3_sys as ffi;
use sqlx::sqlite::SqliteConnection;

use super::chain::Hash;
use super::scan::sqlite_error;
use super::store::{seal, values_clause, Pending, Sealed, BUSY_TIMEOUT, COLUMNS, PARAMS_PER_ROW};
use super::AuditError;

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
                stmt.bind_row(i, e, prev_hash, &hashes[i]);
            }
            stmt.blob((n * PARAMS_PER_ROW + 1) as i32, prev.as_bytes());
            stmt.step(db)
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
            match exec(db, c"BEGIN IMMEDIATE") {
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
                match exec(db, c"COMMIT") {
                    Step::Done(_) => Ok(hashes),
                    Step::Busy(e) | Step::Failed(e) => Err(e),
                }
            })();
            match written {
                Ok(hashes) => Step::Done(hashes),
                Err(e) => {
                    // Undo whatever the transaction did; its own error is the one to report.
                    exec(db, c"ROLLBACK");
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
    mut attempt: impl FnMut(*mut ffi::sqlite3) -> Step<T>,
) -> Result<T, AuditError> {
    let deadline = Instant::now() + BUSY_TIMEOUT;
    let mut pause = Duration::from_millis(1);
    loop {
        let mut handle = conn.lock_handle().await?;
        let db = handle.as_raw_handle().as_ptr();
        // SAFETY: the handle is locked away from sqlx's worker thread while it lives.
        unsafe { ffi::sqlite3_busy_timeout(db, 0) };
        let outcome = attempt(db);
        // SAFETY: as above.
        unsafe { ffi::sqlite3_busy_timeout(db, BUSY_TIMEOUT.as_millis() as i32) };
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

/// Run one SQL statement without results (`BEGIN`, `COMMIT`, ...).
///
/// # Safety
/// `db` must be a valid connection used by no other thread.
unsafe fn exec(db: *mut ffi::sqlite3, sql: &CStr) -> Step<()> {
    let what = "cannot append events";
    // SAFETY: per the function's contract; no callback.
    match unsafe {
        ffi::sqlite3_exec(
            db,
            sql.as_ptr(),
            None,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    } {
        ffi::SQLITE_OK => Step::Done(()),
        rc if rc & 0xff == ffi::SQLITE_BUSY => Step::Busy(sqlite_error(db, what)),
        _ => Step::Failed(sqlite_error(db, what)),
    }
}

/// The hash of the newest event, or the genesis value for an empty chain.
///
/// # Safety
/// `db` must be a valid connection used by no other thread; `slot` holds its statement.
unsafe fn read_head(
    db: *mut ffi::sqlite3,
    slot: &mut Option<Statement>,
) -> Result<Hash, AuditError> {
    // SAFETY: per the function's contract.
    let stmt = unsafe { cached(slot, db, HEAD_SQL)? };
    // SAFETY: the statement is valid; the column's bytes are copied before the reset.
    unsafe {
        let head = match ffi::sqlite3_step(stmt.0) {
            ffi::SQLITE_ROW => {
                let blob = ffi::sqlite3_column_blob(stmt.0, 0).cast::<u8>();
                let len = ffi::sqlite3_column_bytes(stmt.0, 0) as usize;
                let bytes = if blob.is_null() {
                    &[][..]
                } else {
                    std::slice::from_raw_parts(blob, len)
                };
                Hash::from_bytes(bytes).ok_or_else(|| {
                    AuditError::Inconsistent(format!(
                        "the newest event's hash column holds {len} bytes, not a 32-byte \
                         hash: the database was altered. Run `runbook audit verify` on it, \
                         and record new runs elsewhere (--audit-db PATH) until it is looked \
                         into"
                    ))
                })
            }
            ffi::SQLITE_DONE => Ok(Hash::GENESIS),
            _ => Err(sqlite_error(db, "cannot read the chain head")),
        };
        ffi::sqlite3_reset(stmt.0);
        head
    }
}

const HEAD_SQL: &CStr = c"SELECT hash FROM events ORDER BY id DESC LIMIT 1";

/// The statement kept in `slot`, prepared from `sql` on first use.
///
/// # Safety
/// `db` must be a valid connection used by no other thread; `slot`, if set, holds a statement
/// of it.
unsafe fn cached<'a>(
    slot: &'a mut Option<Statement>,
    db: *mut ffi::sqlite3,
    sql: &CStr,
) -> Result<&'a mut Statement, AuditError> {
    match slot {
        Some(stmt) => Ok(stmt),
        // SAFETY: per the function's contract.
        None => Ok(slot.insert(unsafe { Statement::prepare(db, sql)? })),
    }
}

/// Insert `events` with their `hashes`, chained after `prev`, inside the caller's
/// transaction. `full` keeps the full-size statement for the next call.
///
/// # Safety
/// `db` must be a valid connection that no other thread uses during the call; `full`, if
/// set, holds a statement of it.
unsafe fn insert(
    db: *mut ffi::sqlite3,
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
            rest = unsafe { Statement::prepare(db, &insert_sql(chunk.len()))? };
            &mut rest
        };
        for (row, e) in chunk.iter().enumerate() {
            let i = n * ROWS_PER_STATEMENT + row;
            let prev_hash = if i == 0 { &prev } else { &hashes[i - 1] };
            // SAFETY: every bound value lives until after the step below.
            unsafe { stmt.bind_row(row, e, prev_hash, &hashes[i]) };
        }
        // SAFETY: the statement is fully bound.
        unsafe { stmt.execute(db)? };
    }
    Ok(())
}

/// A prepared statement, finalized when dropped.
pub(crate) struct Statement(*mut ffi::sqlite3_stmt);

// SAFETY: a statement is used only by whoever holds its connection (the store's writer
// mutex, then `lock_handle`), one thread at a time.
unsafe impl Send for Statement {}

impl Statement {
    /// # Safety
    /// `db` must be a valid connection used by no other thread.
    unsafe fn prepare(db: *mut ffi::sqlite3, sql: &CStr) -> Result<Statement, AuditError> {
        let mut stmt: *mut ffi::sqlite3_stmt = std::ptr::null_mut();
        // SAFETY: valid connection and NUL-terminated SQL.
        let rc = unsafe {
            ffi::sqlite3_prepare_v3(
                db,
                sql.as_ptr(),
                -1,
                ffi::SQLITE_PREPARE_PERSISTENT,
                &mut stmt,
                std::ptr::null_mut(),
            )
        };
        if rc != ffi::SQLITE_OK {
            return Err(sqlite_error(db, "cannot append events"));
        }
        Ok(Statement(stmt))
    }

    /// Bind event `e` as the statement's `row`-th row (0-based), chained after `prev_hash`.
    ///
    /// # Safety
    /// The bound texts must outlive the next `sqlite3_step` of the statement.
    unsafe fn bind_row(&mut self, row: usize, e: &Pending, prev_hash: &Hash, hash: &Hash) {
        let at = (row * PARAMS_PER_ROW) as i32;
        // SAFETY: per the function's contract.
        unsafe {
            self.text(at + 1, &e.run);
            ffi::sqlite3_bind_int64(self.0, at + 2, e.seq);
            self.text(at + 3, &e.time);
            self.text(at + 4, &e.kind);
            match &e.step {
                Some(step) => self.text(at + 5, step),
                None => ffi::sqlite3_bind_null(self.0, at + 5),
            };
            self.text(at + 6, &e.payload);
            self.blob(at + 7, prev_hash.as_bytes());
            self.blob(at + 8, hash.as_bytes());
        }
    }

    /// Bind `bytes` as a BLOB without copying them (`SQLITE_STATIC`).
    ///
    /// # Safety
    /// `bytes` must outlive the next `sqlite3_step` of the statement.
    unsafe fn blob(&mut self, index: i32, bytes: &[u8]) -> i32 {
        // SAFETY: per the function's contract.
        unsafe {
            ffi::sqlite3_bind_blob64(
                self.0,
                index,
                bytes.as_ptr().cast(),
                bytes.len() as u64,
                ffi::SQLITE_STATIC(),
            )
        }
    }

    /// Bind `text` without copying it (`SQLITE_STATIC`).
    ///
    /// # Safety
    /// `text` must outlive the next `sqlite3_step` of the statement.
    unsafe fn text(&mut self, index: i32, text: &str) -> i32 {
        // SAFETY: per the function's contract.
        unsafe {
            ffi::sqlite3_bind_text64(
                self.0,
                index,
                text.as_ptr().cast(),
                text.len() as u64,
                ffi::SQLITE_STATIC(),
                ffi::SQLITE_UTF8 as u8,
            )
        }
    }

    /// Run the bound statement to completion, then reset it and drop its bindings (which
    /// point into memory the caller is about to free). Returns the rows it changed.
    ///
    /// # Safety
    /// `db` must be the statement's connection, used by no other thread; every bound text
    /// must still be alive.
    unsafe fn execute(&mut self, db: *mut ffi::sqlite3) -> Result<u64, AuditError> {
        // SAFETY: per the function's contract.
        match unsafe { self.step(db) } {
            Step::Done(changed) => Ok(changed),
            Step::Busy(e) | Step::Failed(e) => Err(e),
        }
    }

    /// [`Statement::execute`], telling a lock held by another connection (SQLITE_BUSY) apart.
    ///
    /// # Safety
    /// As for [`Statement::execute`].
    unsafe fn step(&mut self, db: *mut ffi::sqlite3) -> Step {
        // SAFETY: per the function's contract.
        unsafe {
            let rc = ffi::sqlite3_step(self.0);
            // The error is read before the reset, which would report it again.
            let outcome = match rc {
                ffi::SQLITE_DONE => Step::Done(ffi::sqlite3_changes64(db) as u64),
                rc if rc & 0xff == ffi::SQLITE_BUSY => {
                    Step::Busy(sqlite_error(db, "cannot append events"))
                }
                _ => Step::Failed(sqlite_error(db, "cannot append events")),
            };
            ffi::sqlite3_reset(self.0);
            ffi::sqlite3_clear_bindings(self.0);
            outcome
        }
    }
}

enum Step<T = u64> {
    /// Rows changed, or what the attempt produced.
    Done(T),
    /// Another connection holds the lock the statement needs.
    Busy(AuditError),
    Failed(AuditError),
}

impl Drop for Statement {
    fn drop(&mut self) {
        // SAFETY: the statement is valid and not used afterwards.
        unsafe { ffi::sqlite3_finalize(self.0) };
    }
}
