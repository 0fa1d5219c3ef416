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
    /// The approvals the run carried and its break-glass state (`approvals`, `break_glass`).
    #[serde(flatten)]
    pub change_control: ChangeControl,
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
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| AuditError::NoSuchRun(id.into()))?;
    let summary = summary_from_row(&row)?;
    let operator: String = row.try_get(2)?;
    let params: String = row.try_get(10)?;
    let source_sha256 = row.try_get(9)?;
    Ok(RunDetail {
        summary,
        source_sha256,
        params: serde_json::from_str(&params).unwrap_or(Value::Null),
        operator_identity: serde_json::from_str(&operator).unwrap_or(Value::Null),
        change_control: change_control(conn, id).await?,
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

/// What change control recorded about a run: the approvals it carried, and, for a plan run
/// under break-glass, who broke the glass and who co-signed it later (from other runs, of
/// kind `approve`). Field names are part of `replay --json` and `report --format json`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ChangeControl {
    pub approvals: Vec<super::event::Approval>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub break_glass: Option<BreakGlassState>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BreakGlassState {
    #[serde(flatten)]
    pub event: super::event::BreakGlass,
    /// Whether a second operator has co-signed the plan since.
    pub co_signed: bool,
    pub co_signs: Vec<super::event::CoSign>,
}

impl BreakGlassState {
    /// One sentence for replay and reports: who broke the glass, why, and whether a second
    /// operator co-signed it (the wording `not co-signed` / `co-signed by` is what readers
    /// look for).
    pub fn describe(&self) -> String {
        let g = &self.event;
        if self.co_signs.is_empty() {
            return format!(
                "BREAK-GLASS by {}, not co-signed: a second operator co-signs with runbook approve PLAN SIGFILE (reason: {})",
                g.principal, g.reason
            );
        }
        let by: Vec<String> = self
            .co_signs
            .iter()
            .map(|c| format!("{} ({} {})", c.principal, c.algorithm, c.fingerprint))
            .collect();
        format!(
            "break-glass by {}, co-signed by {} (reason: {})",
            g.principal,
            by.join(", "),
            g.reason
        )
    }
}

/// The run's approvals and break-glass state. Reads the run's own events (by the run
/// index), and the whole chain's co-signs only for a break-glass run.
pub async fn change_control(
    conn: &mut SqliteConnection,
    run: &str,
) -> Result<ChangeControl, AuditError> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT kind, payload FROM events WHERE run = ?1 AND kind IN ('approval', 'break-glass') ORDER BY seq",
    )
    .bind(run.to_string())
    .fetch_all(&mut *conn)
    .await?;
    let mut cc = ChangeControl::default();
    for (kind, payload) in rows {
        match Event::parse(&kind, &payload) {
            Parsed::Event(Event::Approval(a)) => cc.approvals.push(a),
            Parsed::Event(Event::BreakGlass(b)) => {
                cc.break_glass = Some(BreakGlassState {
                    event: b,
                    co_signed: false,
                    co_signs: Vec::new(),
                })
            }
            _ => {}
        }
    }
    if let Some(state) = &mut cc.break_glass {
        state.co_signs = co_signs_of(conn, run).await?;
        state.co_signed = !state.co_signs.is_empty();
    }
    Ok(cc)
}

/// The co-signs recorded for break-glass run `run`.
pub async fn co_signs_of(
    conn: &mut SqliteConnection,
    run: &str,
) -> Result<Vec<super::event::CoSign>, AuditError> {
    let rows: Vec<String> = sqlx::query_scalar(
        "SELECT payload FROM events WHERE kind = 'co-sign' AND json_extract(payload, '$.run') = ?1 ORDER BY id",
    )
    .bind(run.to_string())
    .fetch_all(conn)
    .await?;
    Ok(rows
        .iter()
        .filter_map(|p| match Event::parse("co-sign", p) {
            Parsed::Event(Event::CoSign(c)) => Some(c),
            _ => None,
        })
        .collect())
}

/// The run that carried out plan `plan_hash` under break-glass, if one did.
pub async fn break_glass_run(
    conn: &mut SqliteConnection,
    plan_hash: &str,
) -> Result<Option<(String, super::event::BreakGlass)>, AuditError> {
    let row: Option<(String, String)> = sqlx::query_as(
        "SELECT run, payload FROM events WHERE kind = 'break-glass' AND json_extract(payload, '$.plan_hash') = ?1 ORDER BY id LIMIT 1",
    )
    .bind(plan_hash.to_string())
    .fetch_optional(conn)
    .await?;
    Ok(row.and_then(
        |(run, payload)| match Event::parse("break-glass", &payload) {
            Parsed::Event(Event::BreakGlass(b)) => Some((run, b)),
            _ => None,
        },
    ))
}
