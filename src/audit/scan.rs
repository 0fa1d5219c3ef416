//! Reading many events fast: SQLite's C API on sqlx's own connection.
//!
//! sqlx hands every row from its worker thread to the caller through a channel, a thread
//! hand-off per row that caps a scan near 150,000 rows/s. Replay, export and verify read up to
//! millions of rows, so they lock the connection away from the worker
//! ([`SqliteConnection::lock_handle`]) and step the statement on the calling thread, lending
//! each row to a callback without copying. The scan blocks the calling thread for its duration.

use std::ffi::{CStr, CString};
use std::ptr::NonNull;

use libsqlite3_sys as ffi;
use sqlx::sqlite::SqliteConnection;

use super::chain::StoredHash;
use super::AuditError;

/// One stored event, borrowed from SQLite for the duration of a callback.
#[derive(Debug, Clone, Copy)]
pub struct EventRef<'a> {
    pub id: i64,
    pub run: &'a str,
    pub seq: i64,
    pub time: &'a str,
    pub kind: &'a str,
    pub step: Option<&'a str>,
    /// The stored JSON text, exactly as hashed.
    pub payload: &'a str,
    pub prev_hash: StoredHash<'a>,
    pub hash: StoredHash<'a>,
}

/// Which events [`for_each_event`] visits.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// Only this run's events (full id), in seq order (which is also chain order).
    pub run: Option<String>,
    /// A contiguous tail of the chain: every event from the first one recorded at or after
    /// this time (stored format) on.
    pub since: Option<String>,
}

const COLUMNS: &str = "SELECT id, run, seq, time, kind, step, payload, prev_hash, hash FROM events";

pub(crate) fn sqlite_error(db: *mut ffi::sqlite3, what: &str) -> AuditError {
    // SAFETY: sqlite3_errmsg returns a NUL-terminated string owned by the connection.
    let msg = unsafe { CStr::from_ptr(ffi::sqlite3_errmsg(db)) };
    AuditError::Inconsistent(format!("{what}: {}", msg.to_string_lossy()))
}

/// Call `f` for each event matching `filter`, in order; stops at the first error `f` returns.
/// Returns the number of events visited.
pub async fn for_each_event<E>(
    conn: &mut SqliteConnection,
    filter: &EventFilter,
    mut f: impl FnMut(&EventRef<'_>) -> Result<(), E>,
) -> Result<u64, E>
where
    E: From<AuditError>,
{
    let tail = "id >= (SELECT MIN(id) FROM events WHERE time >= ?)";
    let (sql, binds): (String, Vec<&str>) = match (&filter.run, &filter.since) {
        (None, None) => (format!("{COLUMNS} ORDER BY id"), vec![]),
        (None, Some(t)) => (format!("{COLUMNS} WHERE {tail} ORDER BY id"), vec![t]),
        (Some(r), None) => (format!("{COLUMNS} WHERE run = ? ORDER BY seq"), vec![r]),
        (Some(r), Some(t)) => (
            format!("{COLUMNS} WHERE run = ? AND {tail} ORDER BY seq"),
            vec![r, t],
        ),
    };
    let sql = CString::new(sql).expect("no NUL in SQL");
    let mut handle = conn
        .lock_handle()
        .await
        .map_err(|e| E::from(AuditError::from(e)))?;
    let db = handle.as_raw_handle();
    // SAFETY: the handle is locked away from sqlx's worker thread until `handle` drops, after
    // this call; `scan` finalizes its statement before returning.
    unsafe { scan(db, &sql, &binds, &mut f) }
}

/// # Safety
/// `db` must be a valid connection that no other thread uses during the call.
unsafe fn scan<E: From<AuditError>>(
    db: NonNull<ffi::sqlite3>,
    sql: &CStr,
    binds: &[&str],
    f: &mut impl FnMut(&EventRef<'_>) -> Result<(), E>,
) -> Result<u64, E> {
    let db = db.as_ptr();
    let mut stmt: *mut ffi::sqlite3_stmt = std::ptr::null_mut();
    // SAFETY: valid connection and NUL-terminated SQL.
    let rc =
        unsafe { ffi::sqlite3_prepare_v2(db, sql.as_ptr(), -1, &mut stmt, std::ptr::null_mut()) };
    if rc != ffi::SQLITE_OK {
        return Err(sqlite_error(db, "cannot read the events").into());
    }
    let result = (|| {
        for (i, value) in binds.iter().enumerate() {
            // SAFETY: SQLITE_TRANSIENT makes SQLite copy the bytes before returning.
            let rc = unsafe {
                ffi::sqlite3_bind_text64(
                    stmt,
                    i as i32 + 1,
                    value.as_ptr().cast(),
                    value.len() as u64,
                    ffi::SQLITE_TRANSIENT(),
                    ffi::SQLITE_UTF8 as u8,
                )
            };
            if rc != ffi::SQLITE_OK {
                return Err(sqlite_error(db, "cannot read the events").into());
            }
        }
        let mut n = 0u64;
        loop {
            // SAFETY: stmt is a valid prepared statement.
            match unsafe { ffi::sqlite3_step(stmt) } {
                ffi::SQLITE_DONE => return Ok(n),
                ffi::SQLITE_ROW => {}
                _ => return Err(sqlite_error(db, "cannot read the events").into()),
            }
            // SAFETY: stmt is on a row; the borrowed text lives until the next step, and the
            // callback cannot keep it longer.
            let e = unsafe { row(stmt) }.map_err(E::from)?;
            f(&e)?;
            n += 1;
        }
    })();
    // SAFETY: stmt is valid and not used afterwards.
    unsafe { ffi::sqlite3_finalize(stmt) };
    result
}

/// Bytes of column `col` of the current row (empty for NULL).
///
/// # Safety
/// `stmt` must be on a row; the result is valid until the next step.
unsafe fn bytes<'a>(stmt: *mut ffi::sqlite3_stmt, col: i32) -> &'a [u8] {
    // SAFETY: per the function's contract.
    unsafe {
        let p = ffi::sqlite3_column_blob(stmt, col) as *const u8;
        let n = ffi::sqlite3_column_bytes(stmt, col) as usize;
        if p.is_null() || n == 0 {
            &[][..]
        } else {
            std::slice::from_raw_parts(p, n)
        }
    }
}

/// Text of column `col` of the current row (empty for NULL).
///
/// # Safety
/// `stmt` must be on a row; the result is valid until the next step.
unsafe fn text<'a>(stmt: *mut ffi::sqlite3_stmt, col: i32) -> Result<&'a str, AuditError> {
    // SAFETY: per the function's contract.
    std::str::from_utf8(unsafe { bytes(stmt, col) })
        .map_err(|_| AuditError::Inconsistent(format!("column {col} of an event is not UTF-8")))
}

/// # Safety
/// `stmt` must be on a row of the events query.
unsafe fn row<'a>(stmt: *mut ffi::sqlite3_stmt) -> Result<EventRef<'a>, AuditError> {
    // SAFETY: per the function's contract.
    unsafe {
        Ok(EventRef {
            id: ffi::sqlite3_column_int64(stmt, 0),
            run: text(stmt, 1)?,
            seq: ffi::sqlite3_column_int64(stmt, 2),
            time: text(stmt, 3)?,
            kind: text(stmt, 4)?,
            step: if ffi::sqlite3_column_type(stmt, 5) == ffi::SQLITE_NULL {
                None
            } else {
                Some(text(stmt, 5)?)
            },
            payload: text(stmt, 6)?,
            prev_hash: StoredHash(bytes(stmt, 7)),
            hash: StoredHash(bytes(stmt, 8)),
        })
    }
}
