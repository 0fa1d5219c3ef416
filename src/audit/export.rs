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

use serde::Serialize;
use sqlx::sqlite::SqliteConnection;

use super::chain::StoredHash;
use super::scan::{for_each_event, EventFilter, EventRef};
use super::AuditError;

/// One exported event: the stored columns as they are hashed, the payload as its stored text.
/// The incident report embeds its events in the same shape, so a page and an export are
/// checked by the same rules.
#[derive(Serialize)]
pub struct ExportLine<'a> {
    id: i64,
    run: &'a str,
    seq: i64,
    time: &'a str,
    kind: &'a str,
    step: Option<&'a str>,
    payload_text: &'a str,
    prev_hash: StoredHash<'a>,
    hash: StoredHash<'a>,
}

impl<'a> From<&EventRef<'a>> for ExportLine<'a> {
    fn from(e: &EventRef<'a>) -> ExportLine<'a> {
        ExportLine {
            id: e.id,
            run: e.run,
            seq: e.seq,
            time: e.time,
            kind: e.kind,
            step: e.step,
            payload_text: e.payload,
            prev_hash: e.prev_hash,
            hash: e.hash,
        }
    }
}

/// Write the events `filter` selects to `out` as JSON Lines, in chain order. Returns the number
/// of events written. With `filter.run`, links between the lines cannot be checked (the run's
/// events are not adjacent in the chain), only each event's own hash; with `filter.since` the
/// export is a contiguous tail of the chain.
pub async fn export(
    conn: &mut SqliteConnection,
    filter: &EventFilter,
    out: &mut dyn Write,
) -> Result<u64, AuditError> {
    let io = |source| AuditError::Io {
        path: "-".into(),
        what: "cannot write the export",
        source,
    };
    let n = for_each_event(conn, filter, |e| {
        serde_json::to_writer(&mut *out, &ExportLine::from(e)).map_err(|e| io(e.into()))?;
        out.write_all(b"\n").map_err(io)
    })
    .await?;
    out.flush().map_err(io)?;
    Ok(n)
}
