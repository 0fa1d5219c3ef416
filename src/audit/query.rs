//! Reading runs and events back: what `log`, `replay` and `export` show.

use std::sync::LazyLock;

use serde::Serialize;
use serde_json::Value;
use sqlx::sqlite::{SqliteConnection, SqliteRow};
use sqlx::Row;

use super::event::{Event, Parsed};
use super::process::operator_name;
use super::{clock, AuditError, RunState};

/// Which runs `log` lists.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    /// Exact runbook name.
    pub runbook: Option<String>,
    /// Operator login (or effective user) name.
    pub operator: Option<String>,
    /// Runs started at or after this time (stored format, see [`clock::format_time`]).
    pub since: Option<String>,
    /// Runs started at or before this time (same format).
    pub until: Option<String>,
    /// At most this many runs (newest first); `None` for all.
    pub limit: Option<u32>,
}

/// One run as `log` shows it. Field names are the `log --json` schema.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub id: String,
    pub runbook: String,
    /// ok, failed, refused, canceled, interrupted or running.
    pub status: RunState,
    pub dry_run: bool,
    /// The operator's login name (see `operator_identity`).
    pub operator: String,
    pub host: String,
    pub started_at: String,
    /// Time of the `run-end` event; for interrupted runs, of the last event recorded.
    pub ended_at: Option<String>,
    pub duration_ms: Option<i64>,
    /// From the `run-end` event.
    pub exit_code: Option<i64>,
    /// The worst finding's severity (ok, info, warn, crit), from the `run-end` event; null
    /// when the run reported no findings or ended before recording them.
    pub worst: Option<String>,
    /// Findings per severity, from the `run-end` event.
    pub counts: Option<Value>,
    /// From the `run-end` event, or the reason of the `interrupted` event.
    pub error: Option<String>,
    /// `learn` for a `runbook learn` session (from the `run-start` event); absent for a run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The SHA-256 of the source that ran (in `replay --json` as the detail's field).
    #[serde(skip)]
    pub source_sha256: String,
}

/// Everything `replay` prints about a run before its events.
#[derive(Debug, Clone, Serialize)]
pub struct RunDetail {
    #[serde(flatten)]
    pub summary: RunSummary,
    pub source_sha256: String,
    pub params: Value,
    pub operator_identity: Value,
}

const RUN_SELECT: &str = "SELECT r.id, r.runbook, r.operator, r.host, r.dry_run, r.started_at, \
     e.kind, e.time, e.payload, r.source_sha256, r.params, \
     (SELECT json_extract(s.payload, '$.kind') FROM events s \
        WHERE s.run = r.id AND s.seq = 1 AND s.kind = 'run-start') \
     FROM runs r LEFT JOIN events e ON e.id = ( \
        SELECT x.id FROM events x WHERE x.run = r.id AND x.kind IN ('run-end', 'interrupted') \
        ORDER BY x.kind = 'run-end' DESC, x.id LIMIT 1)";

static LIST_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "{RUN_SELECT} WHERE (?1 IS NULL OR r.runbook = ?1) \
         AND (?2 IS NULL OR json_extract(r.operator, '$.login') = ?2 \
              OR json_extract(r.operator, '$.effective_user') = ?2 \
              OR json_extract(r.operator, '$.user') = ?2) \
         AND (?3 IS NULL OR r.started_at >= ?3) \
         AND (?5 IS NULL OR r.started_at <= ?5) \
         ORDER BY r.started_at DESC, r.rowid DESC LIMIT ?4"
    )
});

static DETAIL_SQL: LazyLock<String> = LazyLock::new(|| format!("{RUN_SELECT} WHERE r.id = ?1"));

fn summary_from_row(row: &SqliteRow) -> Result<RunSummary, sqlx::Error> {
    let operator: String = row.try_get(2)?;
    let operator: Value = serde_json::from_str(&operator).unwrap_or(Value::Null);
    let started_at: String = row.try_get(5)?;
    let end_kind: Option<String> = row.try_get(6)?;
    let end_time: Option<String> = row.try_get(7)?;
    let end_payload: Option<String> = row.try_get(8)?;
    let end = match (end_kind.as_deref(), end_payload.as_deref()) {
        (Some(kind), Some(payload)) => Some(Event::parse(kind, payload)),
        _ => None,
    };
    let mut worst = None;
    let mut counts = None;
    let (status, ended_at, exit_code, error) = match end {
        Some(Parsed::Event(Event::RunEnd(end))) => {
            worst = end.worst;
            counts = end.counts.filter(Value::is_object);
            (
                RunState::from_end_status(&end.status),
                end_time,
                Some(i64::from(end.exit_code)),
                end.error,
            )
        }
        Some(Parsed::Event(Event::Interrupted(i))) => (
            RunState::Interrupted,
            Some(i.last_time),
            None,
            Some(i.reason),
        ),
        // An end event whose payload does not parse (a damaged record): the run ended, and
        // how is unknown, which counts as failed.
        Some(other) => {
            let problem = match other {
                Parsed::Unreadable { problem, .. } => problem,
                _ => "not an end event".into(),
            };
            let state = if end_kind.as_deref() == Some("interrupted") {
                RunState::Interrupted
            } else {
                RunState::Failed
            };
            (
                state,
                end_time,
                None,
                Some(format!("its end event is unreadable: {problem}")),
            )
        }
        None => (RunState::Running, None, None, None),
    };
    let duration_ms = ended_at.as_deref().and_then(|end| {
        let (a, b) = (clock::parse_time(&started_at)?, clock::parse_time(end)?);
        Some((b - a).num_milliseconds())
    });
    Ok(RunSummary {
        id: row.try_get(0)?,
        runbook: row.try_get(1)?,
        status,
        dry_run: row.try_get(4)?,
        operator: operator_name(&operator),
        host: row.try_get(3)?,
        started_at,
        ended_at,
        duration_ms,
        exit_code,
        worst,
        counts,
        error,
        kind: row.try_get(11)?,
        source_sha256: row.try_get(9)?,
    })
}

/// A connection that can only read, for shell completion: it never migrates, never creates
/// the file and never writes (`mode=ro`). None when there is no database to read.
pub async fn open_read_only(path: &std::path::Path) -> Option<SqliteConnection> {
    use sqlx::sqlite::SqliteConnectOptions;
    use sqlx::ConnectOptions;
    if !path.exists() {
        return None;
    }
    SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .connect()
        .await
        .ok()
}

/// Runs matching `filter`, newest first.
pub async fn list_runs(
    conn: &mut SqliteConnection,
    filter: &RunFilter,
) -> Result<Vec<RunSummary>, AuditError> {
    let rows = sqlx::query(LIST_SQL.as_str())
        .bind(filter.runbook.clone())
        .bind(filter.operator.clone())
        .bind(filter.since.clone())
        .bind(filter.limit.map_or(-1, i64::from))
        .bind(filter.until.clone())
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|r| summary_from_row(r).map_err(AuditError::from))
        .collect()
}

/// Resolve `last` (the newest run) or a unique prefix of a run id to the full id.
pub async fn resolve_run(conn: &mut SqliteConnection, spec: &str) -> Result<String, AuditError> {
    let spec = spec.trim();
    if spec == "last" {
        let id: Option<String> =
            sqlx::query_scalar("SELECT id FROM runs ORDER BY started_at DESC, rowid DESC LIMIT 1")
                .fetch_optional(conn)
                .await?;
        return id.ok_or_else(|| AuditError::NoSuchRun("last".into()));
    }
    if spec.is_empty() {
        return Err(AuditError::NoSuchRun(spec.into()));
    }
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM runs WHERE substr(id, 1, length(?1)) = ?1 ORDER BY id LIMIT 6",
    )
    .bind(spec.to_string())
    .fetch_all(conn)
    .await?;
    match ids.len() {
        0 => Err(AuditError::NoSuchRun(spec.into())),
        1 => Ok(ids.into_iter().next().expect("one id")),
        _ if ids.iter().any(|id| id == spec) => Ok(spec.to_string()),
        n => {
            let mut list = ids[..n.min(5)].join(", ");
            if n > 5 {
                list.push_str(", ...");
            }
            Err(AuditError::AmbiguousRun(spec.into(), list))
        }
    }
}

/// A run's summary, parameters, operator identity and source hash.
pub async fn run_detail(conn: &mut SqliteConnection, id: &str) -> Result<RunDetail, AuditError> {
    let row = sqlx::query(DETAIL_SQL.as_str())
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| AuditError::NoSuchRun(id.into()))?;
    let summary = summary_from_row(&row)?;
    let operator: String = row.try_get(2)?;
    let params: String = row.try_get(10)?;
    Ok(RunDetail {
        summary,
        source_sha256: row.try_get(9)?,
        params: serde_json::from_str(&params).unwrap_or(Value::Null),
        operator_identity: serde_json::from_str(&operator).unwrap_or(Value::Null),
    })
}

/// The stored runbook source with this SHA-256.
pub async fn source_text(
    conn: &mut SqliteConnection,
    sha256: &str,
) -> Result<Option<String>, AuditError> {
    Ok(
        sqlx::query_scalar("SELECT text FROM sources WHERE sha256 = ?")
            .bind(sha256.to_string())
            .fetch_optional(conn)
            .await?,
    )
}
