//! Every raw SQLite C API call of the audit store, behind one statement type.
//!
//! Appends, scans and verify run SQLite directly on sqlx's own connection (locked away from
//! its worker thread, see [`insert`](super::insert) and [`scan`](super::scan)) because the
//! worker's per-statement and per-row thread hops cost as much as SQLite itself. The unsafe
//! calls are here and nowhere else in the store; callers hold a [`Db`] for the duration of a
//! `lock_handle` and use [`Statement`].

use std::ffi::CStr;
use std::ptr::NonNull;
use std::time::Duration;

use libsqlite3_sys as sys;

use super::AuditError;

/// How long a writer waits for another process's write transaction.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// A raw connection, valid while the sqlx handle it came from stays locked.
pub(crate) type Db = *mut sys::sqlite3;

/// The connection's last error, as an [`AuditError`] saying what was being done.
pub(crate) fn error(db: Db, what: &str) -> AuditError {
    // SAFETY: sqlite3_errmsg returns a NUL-terminated string owned by the connection.
    let msg = unsafe { CStr::from_ptr(sys::sqlite3_errmsg(db)) };
    AuditError::Inconsistent(format!("{what}: {}", msg.to_string_lossy()))
}

/// How a statement step ended.
pub(crate) enum Step<T = u64> {
    /// Rows changed, or what the attempt produced.
    Done(T),
    /// Another connection holds the lock the statement needs.
    Busy(AuditError),
    Failed(AuditError),
}

/// Run SQL without results (`BEGIN`, `COMMIT`, ...).
///
/// # Safety
/// `db` must be a valid connection used by no other thread.
pub(crate) unsafe fn exec(db: Db, sql: &CStr, what: &str) -> Step<()> {
    // SAFETY: per the function's contract; no callback.
    let rc = unsafe {
        sys::sqlite3_exec(
            db,
            sql.as_ptr(),
            None,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    };
    match rc {
        sys::SQLITE_OK => Step::Done(()),
        rc if rc & 0xff == sys::SQLITE_BUSY => Step::Busy(error(db, what)),
        _ => Step::Failed(error(db, what)),
    }
}

/// Set SQLite's own busy handler to wait up to `timeout` (zero: not at all).
///
/// # Safety
/// `db` must be a valid connection used by no other thread.
pub(crate) unsafe fn set_busy_timeout(db: Db, timeout: Duration) {
    // SAFETY: per the function's contract.
    unsafe { sys::sqlite3_busy_timeout(db, timeout.as_millis() as i32) };
}

/// Leave the write-ahead log in place when this connection closes (see the store's
/// `skip_checkpoint_on_close`).
///
/// # Safety
/// `db` must be a valid connection used by no other thread.
pub(crate) unsafe fn no_checkpoint_on_close(db: Db) -> Result<(), AuditError> {
    // SAFETY: per the function's contract; this option takes an int and an optional int
    // pointer.
    let rc = unsafe {
        sys::sqlite3_db_config(
            db,
            sys::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
            1 as std::os::raw::c_int,
            std::ptr::null_mut::<std::os::raw::c_int>(),
        )
    };
    if rc != sys::SQLITE_OK {
        return Err(AuditError::Inconsistent(format!(
            "sqlite3_db_config(NO_CKPT_ON_CLOSE) failed with code {rc}"
        )));
    }
    Ok(())
}

/// Tell SQLite, before its first connection, not to keep allocation statistics (see the
/// store's `connect`). Once SQLite is initialized the call is refused and changes nothing.
pub(crate) fn skip_memory_statistics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: SQLITE_CONFIG_MEMSTATUS takes one int. This runs before the process's first
        // connection (every connection is opened through the store's `connect`), and `Once`
        // keeps other threads of this process from using SQLite until it returns; if SQLite
        // was initialized anyway, the call only returns SQLITE_MISUSE.
        unsafe { sys::sqlite3_config(sys::SQLITE_CONFIG_MEMSTATUS, 0 as std::os::raw::c_int) };
    });
}

/// A prepared statement of one connection, finalized when dropped.
pub(crate) struct Statement {
    raw: NonNull<sys::sqlite3_stmt>,
    db: Db,
}

// SAFETY: a statement is used only by whoever holds its connection (the store's writer
// mutex, then `lock_handle`), one thread at a time.
unsafe impl Send for Statement {}

impl Statement {
    /// Prepare `sql`; `persistent` for statements kept for many uses.
    ///
    /// # Safety
    /// `db` must be a valid connection used by no other thread, and outlive the statement.
    pub(crate) unsafe fn prepare(
        db: Db,
        sql: &CStr,
        persistent: bool,
        what: &str,
    ) -> Result<Statement, AuditError> {
        let mut stmt: *mut sys::sqlite3_stmt = std::ptr::null_mut();
        let flags = if persistent {
            sys::SQLITE_PREPARE_PERSISTENT
        } else {
            0
        };
        // SAFETY: valid connection and NUL-terminated SQL.
        let rc = unsafe {
            sys::sqlite3_prepare_v3(db, sql.as_ptr(), -1, flags, &mut stmt, std::ptr::null_mut())
        };
        match NonNull::new(stmt) {
            Some(raw) if rc == sys::SQLITE_OK => Ok(Statement { raw, db }),
            _ => Err(error(db, what)),
        }
    }

    fn ptr(&self) -> *mut sys::sqlite3_stmt {
        self.raw.as_ptr()
    }

    /// Bind `text` to parameter `index` (1-based) without copying it.
    ///
    /// # Safety
    /// `text` must outlive the next step of the statement.
    pub(crate) unsafe fn bind_text(&mut self, index: i32, text: &str) {
        // SAFETY: per the function's contract (SQLITE_STATIC).
        unsafe {
            sys::sqlite3_bind_text64(
                self.ptr(),
                index,
                text.as_ptr().cast(),
                text.len() as u64,
                sys::SQLITE_STATIC(),
                sys::SQLITE_UTF8 as u8,
            )
        };
    }

    /// Bind a copy of `text` to parameter `index`.
    pub(crate) fn bind_text_copy(&mut self, index: i32, text: &str) -> Result<(), AuditError> {
        // SAFETY: SQLITE_TRANSIENT makes SQLite copy the bytes before returning.
        let rc = unsafe {
            sys::sqlite3_bind_text64(
                self.ptr(),
                index,
                text.as_ptr().cast(),
                text.len() as u64,
                sys::SQLITE_TRANSIENT(),
                sys::SQLITE_UTF8 as u8,
            )
        };
        if rc == sys::SQLITE_OK {
            Ok(())
        } else {
            Err(error(self.db, "cannot bind a parameter"))
        }
    }

    /// Bind `bytes` as a BLOB to parameter `index` without copying them.
    ///
    /// # Safety
    /// `bytes` must outlive the next step of the statement.
    pub(crate) unsafe fn bind_blob(&mut self, index: i32, bytes: &[u8]) {
        // SAFETY: per the function's contract (SQLITE_STATIC).
        unsafe {
            sys::sqlite3_bind_blob64(
                self.ptr(),
                index,
                bytes.as_ptr().cast(),
                bytes.len() as u64,
                sys::SQLITE_STATIC(),
            )
        };
    }

    pub(crate) fn bind_int64(&mut self, index: i32, value: i64) {
        // SAFETY: the statement is valid; out-of-range indexes only return an error code.
        unsafe { sys::sqlite3_bind_int64(self.ptr(), index, value) };
    }

    pub(crate) fn bind_null(&mut self, index: i32) {
        // SAFETY: as for bind_int64.
        unsafe { sys::sqlite3_bind_null(self.ptr(), index) };
    }

    /// Step once: `Some(true)` on a row, `Some(false)` when done, else the error.
    ///
    /// # Safety
    /// Every value bound without copying must still be alive.
    pub(crate) unsafe fn next_row(&mut self, what: &str) -> Result<bool, AuditError> {
        // SAFETY: per the function's contract.
        match unsafe { sys::sqlite3_step(self.ptr()) } {
            sys::SQLITE_ROW => Ok(true),
            sys::SQLITE_DONE => Ok(false),
            _ => Err(error(self.db, what)),
        }
    }

    /// Run the bound statement to completion, then reset it and drop its bindings (which
    /// point into memory the caller is about to free). Tells a lock held by another
    /// connection (SQLITE_BUSY) apart; `Done` carries the rows changed.
    ///
    /// # Safety
    /// Every value bound without copying must still be alive.
    pub(crate) unsafe fn run(&mut self, what: &str) -> Step {
        // SAFETY: per the function's contract.
        unsafe {
            let rc = sys::sqlite3_step(self.ptr());
            // The error is read before the reset, which would report it again.
            let outcome = match rc {
                sys::SQLITE_DONE => Step::Done(sys::sqlite3_changes64(self.db) as u64),
                rc if rc & 0xff == sys::SQLITE_BUSY => Step::Busy(error(self.db, what)),
                _ => Step::Failed(error(self.db, what)),
            };
            self.reset();
            outcome
        }
    }

    /// Reset the statement for another run and clear its bindings.
    pub(crate) fn reset(&mut self) {
        // SAFETY: the statement is valid.
        unsafe {
            sys::sqlite3_reset(self.ptr());
            sys::sqlite3_clear_bindings(self.ptr());
        }
    }

    /// Column `col` of the current row as an integer.
    ///
    /// # Safety
    /// The statement must be on a row.
    pub(crate) unsafe fn int64(&self, col: i32) -> i64 {
        // SAFETY: per the function's contract.
        unsafe { sys::sqlite3_column_int64(self.ptr(), col) }
    }

    /// Whether column `col` of the current row is NULL.
    ///
    /// # Safety
    /// The statement must be on a row.
    pub(crate) unsafe fn is_null(&self, col: i32) -> bool {
        // SAFETY: per the function's contract.
        unsafe { sys::sqlite3_column_type(self.ptr(), col) == sys::SQLITE_NULL }
    }

    /// Bytes of column `col` of the current row (empty for NULL), borrowed until the next
    /// step or reset.
    ///
    /// # Safety
    /// The statement must be on a row; the result must not be used after the next step.
    pub(crate) unsafe fn bytes<'a>(&self, col: i32) -> &'a [u8] {
        // SAFETY: per the function's contract.
        unsafe {
            let p = sys::sqlite3_column_blob(self.ptr(), col) as *const u8;
            let n = sys::sqlite3_column_bytes(self.ptr(), col) as usize;
            if p.is_null() || n == 0 {
                &[][..]
            } else {
                std::slice::from_raw_parts(p, n)
            }
        }
    }
}

impl Statement {
    /// Column `col` of the current row, read once for its type and its bytes or integer.
    ///
    /// Each `sqlite3_column_*` call looks the column up again, and a scan that asks every
    /// column for its type and then its bytes spent a third of its time in those look-ups.
    /// The value SQLite hands out is "unprotected": reading it is not thread-safe, which the
    /// contract below already rules out.
    ///
    /// # Safety
    /// The statement must be on a row, used by no other thread; the value must not be used
    /// after the next step.
    pub(crate) unsafe fn column<'a>(&self, col: i32) -> ColumnValue<'a> {
        // SAFETY: per the function's contract.
        let raw = unsafe { sys::sqlite3_column_value(self.ptr(), col) };
        ColumnValue {
            raw,
            _row: std::marker::PhantomData,
        }
    }
}

/// One column of a statement's current row (see [`Statement::column`]).
#[derive(Clone, Copy)]
pub(crate) struct ColumnValue<'a> {
    raw: *mut sys::sqlite3_value,
    _row: std::marker::PhantomData<&'a [u8]>,
}

impl<'a> ColumnValue<'a> {
    /// The storage class as stored (`sys::SQLITE_TEXT`, ...), before any conversion.
    pub(crate) fn storage(&self) -> i32 {
        // SAFETY: the value belongs to the current row (the constructor's contract).
        unsafe { sys::sqlite3_value_type(self.raw) }
    }

    /// The value's bytes (empty for NULL or an empty value).
    pub(crate) fn bytes(&self) -> &'a [u8] {
        // SAFETY: as in `storage`; the blob pointer is valid for `n` bytes until the next step.
        unsafe {
            let p = sys::sqlite3_value_blob(self.raw) as *const u8;
            let n = sys::sqlite3_value_bytes(self.raw) as usize;
            if p.is_null() || n == 0 {
                &[][..]
            } else {
                std::slice::from_raw_parts(p, n)
            }
        }
    }

    pub(crate) fn int64(&self) -> i64 {
        // SAFETY: as in `storage`.
        unsafe { sys::sqlite3_value_int64(self.raw) }
    }
}

impl Drop for Statement {
    fn drop(&mut self) {
        // SAFETY: the statement is valid and not used afterwards.
        unsafe { sys::sqlite3_finalize(self.ptr()) };
    }
}
