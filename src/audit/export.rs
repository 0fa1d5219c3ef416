//! `runbook audit export`: events as JSON Lines, exactly as stored.
//!
//! One event per line, in chain order:
//!
//! ```json
//! {"id":1,"run":"20261121T051200Z-3f9a1c","seq":1,"time":"2026-11-21T05:12:00.123456Z",
//!  "kind":"run-start","step":null,"payload_text":"{\"runbook\":\"restart-unit\",...}",
//!  "prev_hash":"000...000","hash":"9f2c..."}
//! ```
//!
//! `payload_text` is the stored payload as a JSON *string*, so a verifier hashes exactly the
//! bytes that were hashed (see [`super::chain`]) without re-serializing JSON;
//! `json.loads(payload_text)` gives the payload itself.

use std::io::Write;

use futures_util::TryStreamExt;
use serde::Serialize;
use sqlx::sqlite::SqliteConnection;

use super::AuditError;

/// Which events to export. Both filters may be combined.
#[derive(Debug, Clone, Default)]
pub struct ExportFilter {
    /// A contiguous tail of the chain: every event from the first one recorded at or after this
    /// time (stored format), so the export can be verified link by link.
    pub since: Option<String>,
    /// Only this run's events (full run id). Links between them cannot be checked, only each
    /// event's own hash.
    pub run: Option<String>,
}

#[derive(Serialize)]
struct Line<'a> {
    id: i64,
    run: &'a str,
    seq: i64,
    time: &'a str,
    kind: &'a str,
    step: Option<&'a str>,
    payload_text: &'a str,
    prev_hash: &'a str,
    hash: &'a str,
}

/// Write matching events to `out` as JSON Lines. Returns the number of events written.
pub async fn export(
    conn: &mut SqliteConnection,
    filter: &ExportFilter,
    out: &mut dyn Write,
) -> Result<u64, AuditError> {
    let mut rows = sqlx::query(
        "SELECT id, run, seq, time, kind, step, payload, prev_hash, hash FROM events \
         WHERE (?1 IS NULL OR id >= (SELECT MIN(id) FROM events WHERE time >= ?1)) \
           AND (?2 IS NULL OR run = ?2) \
         ORDER BY id",
    )
    .bind(filter.since.clone())
    .bind(filter.run.clone())
    .fetch(conn);
    let mut n = 0u64;
    let io = |source| AuditError::Io {
        path: "-".into(),
        what: "cannot write the export",
        source,
    };
    while let Some(row) = rows.try_next().await? {
        let e = super::query::event_from_row(&row)?;
        serde_json::to_writer(
            &mut *out,
            &Line {
                id: e.id,
                run: &e.run,
                seq: e.seq,
                time: &e.time,
                kind: &e.kind,
                step: e.step.as_deref(),
                payload_text: &e.payload,
                prev_hash: &e.prev_hash,
                hash: &e.hash,
            },
        )
        .map_err(|e| io(e.into()))?;
        out.write_all(b"\n").map_err(io)?;
        n += 1;
    }
    out.flush().map_err(io)?;
    Ok(n)
}
