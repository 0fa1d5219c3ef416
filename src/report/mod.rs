//! The incident report: one run, or every run of an incident window, as one document that
//! people without a shell on the box can read (HTML, Markdown) and check.
//!
//! ```text
//! audit store ──► load_outline (runs, counts, sources, chain head) ──► Outline ─┬─► html/       one self-contained file, streamed
//!                                                                               └─► markdown.rs for a ticket, streamed
//!             ──► load (the same, with every event in memory) ──► ReportData ──► JSON
//! ```
//!
//! Renderers read typed events ([`crate::audit::Event`]), never payloads by key. Events were
//! redacted when they were recorded; before anything is written, the redaction rules run over
//! the whole document once more ([`Sink`] as it streams, [`guard`] for JSON) and nothing is
//! written if any rule still matches, so a secret that slipped into the record does not
//! travel further.
//!
//! The HTML embeds the events exactly as `audit export` writes them, and a script in the page
//! recomputes every hash with its own SHA-256 (no `crypto.subtle`, which viewers of files
//! opened from disk may lack): see `verify.js`. What the page can prove is that the record
//! was not edited after rendering; what it cannot prove alone is that the record is the
//! store's, which is why the badge prints the `audit verify --expect-head` command to check
//! against the live store.

pub mod html;
pub mod markdown;
mod sink;

pub use sink::{temp_beside, RenderError, Sink};

use serde::Serialize;
use sqlx::sqlite::SqliteConnection;
use sqlx::Row;

use crate::audit::{
    for_each_event, for_each_event_where, run_detail, source_text, AuditError, Event, EventFilter,
    Parsed, Redactor, RunDetail, ScanOrder,
};

/// One event as stored: the fields the chain hashes (see `audit::chain`), plus its id.
#[derive(Debug, Clone, Serialize)]
pub struct StoredEvent {
    pub id: i64,
    pub run: String,
    pub seq: i64,
    pub time: String,
    pub kind: String,
    pub step: Option<String>,
    /// The payload text exactly as hashed.
    pub payload_text: String,
    pub prev_hash: String,
    pub hash: String,
    #[serde(skip)]
    pub parsed: Parsed,
}

impl StoredEvent {
    pub fn event(&self) -> Option<&Event> {
        match &self.parsed {
            Parsed::Event(e) => Some(e),
            _ => None,
        }
    }
}

/// One run of the report, with its events in memory (JSON).
#[derive(Debug, Clone, Serialize)]
pub struct RunSection {
    pub detail: RunDetail,
    pub events: Vec<StoredEvent>,
    /// The exact runbook source that ran (None if the database lost it).
    pub source: Option<String>,
}

/// Everything the JSON document holds.
#[derive(Debug, Clone, Serialize)]
pub struct ReportData {
    pub runs: Vec<RunSection>,
    /// The chain's newest hash when the report was made.
    pub head: Option<String>,
    pub rendered_at: String,
    /// What was asked for: a run id, or a window.
    pub title: String,
}

/// One run without its events: what the streamed renderers need before they read them.
#[derive(Debug, Clone)]
pub struct RunHead {
    pub detail: RunDetail,
    pub source: Option<String>,
    /// Why the run was a dry run, from its run-start event.
    pub dry_run_reason: Option<String>,
    /// How many events the run has.
    pub events: u64,
    /// Its first and last event (none when it has none).
    pub first: Option<EventEnd>,
    pub last: Option<EventEnd>,
}

impl RunHead {
    /// The SQL condition selecting this run's events (`?` bound to its id): a scan of its
    /// span of ids in chain order, which is also its seq order. Reading by the run's index
    /// instead looks every row up in the table, several times slower for a long run.
    pub fn events_clause(&self) -> String {
        match (&self.first, &self.last) {
            (Some(lo), Some(hi)) => format!("id BETWEEN {} AND {} AND +run = ?", lo.id, hi.id),
            _ => "run = ?".to_string(),
        }
    }
}

/// Where a run's events start or end in the chain.
#[derive(Debug, Clone)]
pub struct EventEnd {
    pub id: i64,
    pub seq: i64,
    pub hash: String,
}

/// The report without its events: runs, counts and the ends of the span of events, read
/// with a few small queries so the events themselves can be streamed.
#[derive(Debug, Clone)]
pub struct Outline {
    pub runs: Vec<RunHead>,
    /// The chain's newest hash when the report was made.
    pub head: Option<String>,
    pub rendered_at: String,
    /// What was asked for: a run id, or a window.
    pub title: String,
    /// Events of all the runs.
    pub events: u64,
    /// Smallest and largest event id of the runs (chain order).
    pub first_id: Option<i64>,
    pub last_id: Option<i64>,
    pub first_hash: Option<String>,
    pub last_hash: Option<String>,
    /// The distinct event kinds, sorted.
    pub kinds: Vec<String>,
}

impl Outline {
    /// The SQL condition selecting the events of the report's runs (`?` bound to each id).
    pub fn runs_clause(&self) -> String {
        let marks = vec!["?"; self.runs.len()].join(", ");
        format!("run IN ({marks})")
    }

    /// [`Outline::runs_clause`] over the span of ids the runs' events take: read in chain
    /// order without a lookup per row (see [`RunHead::events_clause`]).
    pub fn span_clause(&self) -> String {
        match (self.first_id, self.last_id) {
            (Some(lo), Some(hi)) => format!("id BETWEEN {lo} AND {hi} AND +{}", self.runs_clause()),
            _ => self.runs_clause(),
        }
    }

    pub fn run_ids(&self) -> Vec<&str> {
        self.runs
            .iter()
            .map(|r| r.detail.summary.id.as_str())
            .collect()
    }
}

/// Read the outline of the given runs (ids, oldest first).
pub async fn load_outline(
    conn: &mut SqliteConnection,
    run_ids: &[String],
    title: String,
) -> Result<Outline, AuditError> {
    let mut runs = Vec::with_capacity(run_ids.len());
    let (mut first_id, mut last_id) = (None::<i64>, None::<i64>);
    let mut total = 0u64;
    for id in run_ids {
        let detail = run_detail(conn, id).await?;
        let source = source_text(conn, &detail.source_sha256).await?;
        let start = sqlx::query(
            "SELECT payload FROM events WHERE run = ? AND seq = 1 AND kind = 'run-start'",
        )
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
        let dry_run_reason = match start {
            Some(row) => match Event::parse("run-start", row.try_get::<&str, _>(0)?) {
                Parsed::Event(Event::RunStart(s)) => s.dry_run_reason,
                _ => None,
            },
            None => None,
        };
        let row = sqlx::query("SELECT COUNT(*), MIN(id), MAX(id) FROM events WHERE run = ?")
            .bind(id)
            .fetch_one(&mut *conn)
            .await?;
        let events = row.try_get::<i64, _>(0)? as u64;
        let (lo, hi) = (
            row.try_get::<Option<i64>, _>(1)?,
            row.try_get::<Option<i64>, _>(2)?,
        );
        first_id = first_id.into_iter().chain(lo).min();
        last_id = last_id.into_iter().chain(hi).max();
        total += events;
        runs.push(RunHead {
            detail,
            source,
            dry_run_reason,
            events,
            first: event_end(conn, lo).await?,
            last: event_end(conn, hi).await?,
        });
    }
    let first_hash = event_end(conn, first_id).await?.map(|e| e.hash);
    let last_hash = event_end(conn, last_id).await?.map(|e| e.hash);
    let head = sqlx::query("SELECT lower(hex(hash)) FROM events ORDER BY id DESC LIMIT 1")
        .fetch_optional(&mut *conn)
        .await?
        .map(|row| row.try_get::<String, _>(0))
        .transpose()?;
    let mut outline = Outline {
        runs,
        head,
        rendered_at: crate::audit::clock::format_time(chrono::Utc::now()),
        title,
        events: total,
        first_id,
        last_id,
        first_hash,
        last_hash,
        kinds: Vec::new(),
    };
    // No ORDER BY: with one, SQLite sorts every row of the span before it drops the
    // duplicates (a 2 MB sorter for 100,000 events); the handful of kinds sorts here.
    let sql = format!(
        "SELECT DISTINCT kind FROM events WHERE {}",
        outline.span_clause()
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for id in outline.run_ids() {
        query = query.bind(id.to_string());
    }
    let kinds = query.fetch_all(&mut *conn).await?;
    outline.kinds = kinds
        .iter()
        .map(|row| row.try_get::<String, _>(0))
        .collect::<Result<_, _>>()?;
    outline.kinds.sort_unstable();
    Ok(outline)
}

async fn event_end(
    conn: &mut SqliteConnection,
    id: Option<i64>,
) -> Result<Option<EventEnd>, AuditError> {
    let Some(id) = id else { return Ok(None) };
    let row = sqlx::query("SELECT seq, lower(hex(hash)) FROM events WHERE id = ?")
        .bind(id)
        .fetch_one(conn)
        .await?;
    Ok(Some(EventEnd {
        id,
        seq: row.try_get(0)?,
        hash: row.try_get(1)?,
    }))
}

/// Load the given runs (ids, oldest first) with all their events, for the JSON document.
pub async fn load(
    conn: &mut SqliteConnection,
    run_ids: &[String],
    title: String,
) -> Result<ReportData, AuditError> {
    let outline = load_outline(conn, run_ids, title).await?;
    let mut runs = Vec::with_capacity(outline.runs.len());
    for head in outline.runs {
        let mut events = Vec::with_capacity(head.events as usize);
        let filter = EventFilter {
            run: Some(head.detail.summary.id.clone()),
            since: None,
        };
        for_each_event(conn, &filter, |e| {
            events.push(StoredEvent {
                id: e.id,
                run: e.run.to_string(),
                seq: e.seq,
                time: e.time.to_string(),
                kind: e.kind.to_string(),
                step: e.step.map(str::to_string),
                payload_text: e.payload.to_string(),
                prev_hash: e.prev_hash.to_string(),
                hash: e.hash.to_string(),
                parsed: Event::parse(e.kind, e.payload),
            });
            Ok::<(), AuditError>(())
        })
        .await?;
        runs.push(RunSection {
            detail: head.detail,
            events,
            source: head.source,
        });
    }
    Ok(ReportData {
        runs,
        head: outline.head,
        rendered_at: outline.rendered_at,
        title: outline.title,
    })
}

/// Visit the run's events of the given kinds, typed, in order; `open` is written before the
/// first one and `close` after the last, nothing when there is none.
pub(crate) async fn each_of_kinds(
    conn: &mut SqliteConnection,
    h: &mut Sink,
    run: &RunHead,
    kinds: &[&str],
    (open, close): (&str, &str),
    mut f: impl FnMut(&mut Sink, &Event),
) -> Result<(), RenderError> {
    let clause = format!(
        "{} AND kind IN ({})",
        run.events_clause(),
        kinds
            .iter()
            .map(|k| format!("'{k}'"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut any = false;
    for_each_event_where(
        conn,
        &clause,
        &[run.detail.summary.id.as_str()],
        ScanOrder::Id,
        |e| {
            if let Parsed::Event(event) = Event::parse(e.kind, e.payload) {
                if !any {
                    h.push_str(open);
                    any = true;
                }
                f(h, &event);
            }
            h.tick()
        },
    )
    .await?;
    if any {
        h.push_str(close);
    }
    Ok(())
}

/// Refuse to hand out a document in which a redaction rule still matches, outside the
/// runbook source listings: the source is recorded verbatim by design (`//! param token:
/// string, secret` is code, not a token), and the HTML renders it inside
/// `<ol class="source">`, where escaping keeps runbook text from closing the element.
pub fn guard(document: &str) -> Result<(), String> {
    const OPEN: &str = "<ol class=\"source\">";
    let mut rest = document;
    let mut checked = String::with_capacity(document.len());
    while let Some(at) = rest.find(OPEN) {
        checked.push_str(&rest[..at]);
        let after = &rest[at..];
        rest = after.find("</ol>").map_or("", |end| &after[end..]);
    }
    checked.push_str(rest);
    guard_all(&checked)
}

fn guard_all(document: &str) -> Result<(), String> {
    match first_secret(document) {
        None => Ok(()),
        Some(at) => Err(refusal(document[..at].matches('\n').count() + 1)),
    }
}

/// Where the first text that a redaction rule would change starts, if any.
fn first_secret(text: &str) -> Option<usize> {
    let redactor = Redactor::new();
    // Almost every chunk of a report holds no secret: one scan says so, and only a chunk
    // that might is redacted in full to find where.
    if !redactor.might_change(text) {
        return None;
    }
    let redacted = redactor.redact_str(text);
    if redacted == text {
        return None;
    }
    let at = text
        .char_indices()
        .zip(redacted.char_indices())
        .find(|((_, a), (_, b))| a != b)
        .map_or(0, |((i, _), _)| i);
    Some(at)
}

/// The refusal, naming where without repeating the secret.
fn refusal(line: usize) -> String {
    format!(
        "the report would contain what looks like a secret (line {line} of the document): \
         nothing was written; check the run's record with `runbook replay`"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_refuses_what_redaction_would_change() {
        assert!(guard("POSTGRES_PASSWORD=hunter2\n").is_err());
        assert!(guard("Authorization: Bearer abcdefghijklmnopqrstuvwxyz012345\n").is_err());
        assert!(guard("disk 41% used\n").is_ok());
    }

    #[test]
    fn guard_accepts_what_was_already_redacted() {
        for already in [
            "- parameters: `{\"token\":\"[REDACTED]\"}`",
            "token is [REDACTED]",
            "<td>token=[REDACTED]</td>",
            "&quot;token&quot;: &quot;[REDACTED]&quot;",
        ] {
            assert_eq!(guard(already), Ok(()), "{already}");
        }
    }
}

#[cfg(test)]
mod source_tests {
    use super::*;

    #[test]
    fn the_source_listing_is_exempt_and_nothing_else() {
        let doc = "<p>ok</p><ol class=\"source\"><li><code>//! param token: string, secret</code></li></ol><p>fine</p>";
        assert_eq!(guard(doc), Ok(()));
        let leak = "<ol class=\"source\"><li>x</li></ol><p>PASSWORD=hunter2</p>";
        assert!(guard(leak).is_err());
        let before = "<p>PASSWORD=hunter2</p><ol class=\"source\"></ol>";
        assert!(guard(before).is_err());
    }
}
