//! Reading many events fast: SQLite's C API on sqlx's own connection.
//!
//! sqlx hands every row from its worker thread to the caller through a channel, a thread
//! hand-off per row that caps a scan near 150,000 rows/s. Replay, export and verify read up to
//! millions of rows, so they lock the connection away from the worker
//! ([`SqliteConnection::lock_handle`]) and step the statement on the calling thread, lending
//! each row to a callback without copying. The scan blocks the calling thread for its duration.

use std::ffi::CString;

use sqlx::sqlite::SqliteConnection;

use super::chain::StoredHash;
use super::ffi::Statement;
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
    scan(conn, &sql, &binds, &mut f).await
}

/// Visit the events that `clause` (SQL after `WHERE`, with `?` for each of `binds`) selects,
/// in `order` (`id` or `seq`): for readers that need a subset the filter cannot name, such
/// as the report's events of several runs, or one run's gates.
pub async fn for_each_event_where<E>(
    conn: &mut SqliteConnection,
    clause: &str,
    binds: &[&str],
    order: ScanOrder,
    mut f: impl FnMut(&EventRef<'_>) -> Result<(), E>,
) -> Result<u64, E>
where
    E: From<AuditError>,
{
    let order = match order {
        ScanOrder::Id => "id",
        ScanOrder::Seq => "seq",
    };
    let sql = format!("{COLUMNS} WHERE {clause} ORDER BY {order}");
    scan(conn, &sql, binds, &mut f).await
}

/// Call `f` for the first `limit` events of `run`, in seq order: the head of a long run
/// without reading the rest.
pub async fn for_first_events<E>(
    conn: &mut SqliteConnection,
    run: &str,
    limit: u64,
    mut f: impl FnMut(&EventRef<'_>) -> Result<(), E>,
) -> Result<u64, E>
where
    E: From<AuditError>,
{
    let sql = format!("{COLUMNS} WHERE run = ? ORDER BY seq LIMIT {limit}");
    scan(conn, &sql, &[run], &mut f).await
}

/// The order of [`for_each_event_where`]'s visit.
#[derive(Debug, Clone, Copy)]
pub enum ScanOrder {
    /// Chain order across runs.
    Id,
    /// Within one run.
    Seq,
}

async fn scan<E>(
    conn: &mut SqliteConnection,
    sql: &str,
    binds: &[&str],
    f: &mut impl FnMut(&EventRef<'_>) -> Result<(), E>,
) -> Result<u64, E>
where
    E: From<AuditError>,
{
    let sql = CString::new(sql).expect("no NUL in SQL");
    let mut handle = conn
        .lock_handle()
        .await
        .map_err(|e| E::from(AuditError::from(e)))?;
    let db = handle.as_raw_handle().as_ptr();
    // SAFETY: the handle is locked away from sqlx's worker thread until `handle` drops, after
    // the statement, which is dropped (finalized) at the end of this block.
    unsafe {
        let mut stmt = Statement::prepare(db, &sql, false, WHAT)?;
        for (i, value) in binds.iter().enumerate() {
            stmt.bind_text_copy(i as i32 + 1, value)?;
        }
        let mut n = 0u64;
        while stmt.next_row(WHAT)? {
            // The borrowed text lives until the next step, and the callback cannot keep it.
            let e = row(&stmt).map_err(E::from)?;
            f(&e)?;
            n += 1;
        }
        Ok(n)
    }
}

const WHAT: &str = "cannot read the events";

/// Text of column `col` of the current row (empty for NULL).
///
/// # Safety
/// `stmt` must be on a row; the result is valid until the next step.
unsafe fn text<'a>(stmt: &Statement, col: i32) -> Result<&'a str, AuditError> {
    // SAFETY: per the function's contract.
    std::str::from_utf8(unsafe { stmt.bytes(col) })
        .map_err(|_| AuditError::Inconsistent(format!("column {col} of an event is not UTF-8")))
}

/// # Safety
/// `stmt` must be on a row of the events query.
unsafe fn row<'a>(stmt: &Statement) -> Result<EventRef<'a>, AuditError> {
    // SAFETY: per the function's contract.
    unsafe {
        Ok(EventRef {
            id: stmt.int64(0),
            run: text(stmt, 1)?,
            seq: stmt.int64(2),
            time: text(stmt, 3)?,
            kind: text(stmt, 4)?,
            step: if stmt.is_null(5) {
                None
            } else {
                Some(text(stmt, 5)?)
            },
            payload: text(stmt, 6)?,
            prev_hash: StoredHash(stmt.bytes(7)),
            hash: StoredHash(stmt.bytes(8)),
        })
    }
}
