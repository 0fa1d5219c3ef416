//! Appending many events fast: SQLite's C API on sqlx's own connection.
//!
//! Through sqlx, every bound value is converted and sent to sqlx's worker thread, and a flush
//! of 10,000 events spent about as long in that machinery as in SQLite. A batch instead locks
//! the connection away from the worker ([`SqliteConnection::lock_handle`]), hashes the events,
//! and inserts them [`ROWS_PER_STATEMENT`] rows per statement, binding the fields without
//! copying (`SQLITE_STATIC`: they outlive the step). The caller holds the write transaction.

use std::sync::Arc;

use libsqlite3_sys as ffi;
use sqlx::sqlite::SqliteConnection;

use super::scan::sqlite_error;
use super::store::{seal, values_clause, Pending, Sealed, COLUMNS, PARAMS_PER_ROW};
use super::AuditError;

/// Rows per INSERT statement. One statement per row spent a third of SQLite's time starting
/// and ending statements (opening cursors, reading and rewriting the AUTOINCREMENT counter);
/// 32 rows (256 parameters) keep that small.
const ROWS_PER_STATEMENT: usize = 32;

/// `INSERT INTO events (...) VALUES (...), (...), ...` with `rows` rows, NUL-terminated.
fn insert_sql(rows: usize) -> std::ffi::CString {
    std::ffi::CString::new(format!(
        "INSERT INTO events ({COLUMNS}) VALUES {}",
        values_clause(rows)
    ))
    .expect("no NUL in SQL")
}

/// Insert `events`, chained after `prev`, inside the caller's write transaction. Returns
/// their hashes: `sealed`'s if it was computed against this same `prev`, else new ones.
/// Blocks the calling thread while SQLite works.
pub(crate) async fn insert_events(
    conn: &mut SqliteConnection,
    prev: Arc<str>,
    events: &[Pending],
    sealed: Option<Sealed>,
) -> Result<Vec<Arc<str>>, AuditError> {
    let hashes = match sealed {
        Some(s) if s.prev == prev && s.hashes.len() == events.len() => s.hashes,
        _ => seal(&prev, events),
    };
    let mut handle = conn.lock_handle().await?;
    let db = handle.as_raw_handle().as_ptr();
    // SAFETY: the handle is locked away from sqlx's worker thread until `handle` drops, after
    // this call; `insert` finalizes its statement before returning.
    unsafe { insert(db, &prev, events, &hashes)? };
    Ok(hashes)
}

/// # Safety
/// `db` must be a valid connection that no other thread uses during the call.
unsafe fn insert(
    db: *mut ffi::sqlite3,
    prev: &str,
    events: &[Pending],
    hashes: &[Arc<str>],
) -> Result<(), AuditError> {
    let mut full: Option<Statement> = None;
    for (n, chunk) in events.chunks(ROWS_PER_STATEMENT).enumerate() {
        // The full-size statement is prepared once; only a last, shorter chunk needs another.
        let mut rest;
        // SAFETY (both prepares): per this function's contract.
        let stmt = if chunk.len() == ROWS_PER_STATEMENT {
            match &mut full {
                Some(s) => s,
                None => full.insert(unsafe { Statement::prepare(db, chunk.len())? }),
            }
        } else {
            rest = unsafe { Statement::prepare(db, chunk.len())? };
            &mut rest
        };
        for (row, e) in chunk.iter().enumerate() {
            let i = n * ROWS_PER_STATEMENT + row;
            let prev_hash = if i == 0 { prev } else { &hashes[i - 1] };
            let at = (row * PARAMS_PER_ROW) as i32;
            // SAFETY: the statement is valid; every bound text lives until after its step.
            unsafe {
                stmt.text(at + 1, &e.run);
                ffi::sqlite3_bind_int64(stmt.0, at + 2, e.seq);
                stmt.text(at + 3, &e.time);
                stmt.text(at + 4, &e.kind);
                match &e.step {
                    Some(step) => stmt.text(at + 5, step),
                    None => ffi::sqlite3_bind_null(stmt.0, at + 5),
                };
                stmt.text(at + 6, &e.payload);
                stmt.text(at + 7, prev_hash);
                stmt.text(at + 8, &hashes[i]);
            }
        }
        // SAFETY: the statement is valid and fully bound.
        unsafe {
            if ffi::sqlite3_step(stmt.0) != ffi::SQLITE_DONE {
                return Err(sqlite_error(db, "cannot append events"));
            }
            ffi::sqlite3_reset(stmt.0);
        }
    }
    Ok(())
}

/// A prepared statement, finalized when dropped.
struct Statement(*mut ffi::sqlite3_stmt);

impl Statement {
    /// # Safety
    /// `db` must be a valid connection used by no other thread.
    unsafe fn prepare(db: *mut ffi::sqlite3, rows: usize) -> Result<Statement, AuditError> {
        let sql = insert_sql(rows);
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
}

impl Drop for Statement {
    fn drop(&mut self) {
        // SAFETY: the statement is valid and not used afterwards.
        unsafe { ffi::sqlite3_finalize(self.0) };
    }
}
