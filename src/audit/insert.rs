//! Appending many events fast: SQLite's C API on sqlx's own connection.
//!
//! Through sqlx, every bound value is converted and sent to sqlx's worker thread, and a flush
//! of 10,000 events spent about as long in that machinery as in SQLite. A batch instead locks
//! the connection away from the worker ([`SqliteConnection::lock_handle`]), prepares one
//! single-row INSERT, and for each event computes its hash, binds the fields without copying
//! (`SQLITE_STATIC`: they outlive the step) and steps. The caller holds the write transaction.

use std::ffi::CStr;
use std::sync::Arc;

use libsqlite3_sys as ffi;
use sqlx::sqlite::SqliteConnection;

use super::chain;
use super::scan::sqlite_error;
use super::store::Pending;
use super::AuditError;

const INSERT: &CStr = c"INSERT INTO events (run, seq, time, kind, step, payload, prev_hash, hash) \
                        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";

/// Insert `events`, chained after `prev`, inside the caller's write transaction. Returns
/// their hashes. Blocks the calling thread while SQLite works.
pub(crate) async fn insert_events(
    conn: &mut SqliteConnection,
    prev: Arc<str>,
    events: &[Pending],
) -> Result<Vec<Arc<str>>, AuditError> {
    let mut handle = conn.lock_handle().await?;
    let db = handle.as_raw_handle().as_ptr();
    // SAFETY: the handle is locked away from sqlx's worker thread until `handle` drops, after
    // this call; `insert` finalizes its statement before returning.
    unsafe { insert(db, prev, events) }
}

/// # Safety
/// `db` must be a valid connection that no other thread uses during the call.
unsafe fn insert(
    db: *mut ffi::sqlite3,
    prev: Arc<str>,
    events: &[Pending],
) -> Result<Vec<Arc<str>>, AuditError> {
    let mut stmt: *mut ffi::sqlite3_stmt = std::ptr::null_mut();
    // SAFETY: valid connection and NUL-terminated SQL.
    let rc = unsafe {
        ffi::sqlite3_prepare_v3(
            db,
            INSERT.as_ptr(),
            -1,
            ffi::SQLITE_PREPARE_PERSISTENT,
            &mut stmt,
            std::ptr::null_mut(),
        )
    };
    if rc != ffi::SQLITE_OK {
        return Err(sqlite_error(db, "cannot append events"));
    }
    let mut hashes: Vec<Arc<str>> = Vec::with_capacity(events.len());
    let result = (|| {
        for e in events {
            let prev_hash = hashes.last().unwrap_or(&prev).clone();
            let hex = chain::hex_digest(&chain::event_digest(&e.fields(&prev_hash)));
            // SAFETY: stmt is valid; every bound text lives until after the step below.
            unsafe {
                bind_text(stmt, 1, &e.run);
                ffi::sqlite3_bind_int64(stmt, 2, e.seq);
                bind_text(stmt, 3, &e.time);
                bind_text(stmt, 4, &e.kind);
                match &e.step {
                    Some(step) => bind_text(stmt, 5, step),
                    None => ffi::sqlite3_bind_null(stmt, 5),
                };
                bind_text(stmt, 6, &e.payload);
                bind_text(stmt, 7, &prev_hash);
                bind_text(stmt, 8, std::str::from_utf8(&hex).expect("hex is ASCII"));
                if ffi::sqlite3_step(stmt) != ffi::SQLITE_DONE {
                    return Err(sqlite_error(db, "cannot append events"));
                }
                ffi::sqlite3_reset(stmt);
            }
            hashes.push(std::str::from_utf8(&hex).expect("hex is ASCII").into());
        }
        Ok(())
    })();
    // SAFETY: stmt is valid and not used afterwards.
    unsafe { ffi::sqlite3_finalize(stmt) };
    result.map(|()| hashes)
}

/// Bind `text` without copying it: the caller keeps it alive until the statement is stepped.
///
/// # Safety
/// `stmt` must be valid, and `text` must outlive the next `sqlite3_step` of it.
unsafe fn bind_text(stmt: *mut ffi::sqlite3_stmt, index: i32, text: &str) -> i32 {
    // SAFETY: per the function's contract.
    unsafe {
        ffi::sqlite3_bind_text64(
            stmt,
            index,
            text.as_ptr().cast(),
            text.len() as u64,
            ffi::SQLITE_STATIC(),
            ffi::SQLITE_UTF8 as u8,
        )
    }
}
