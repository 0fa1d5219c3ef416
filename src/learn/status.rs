//! Who has learned what: operators × runbooks from the learn sessions in the audit trail.
//!
//! A runbook is *learned* by an operator when a learn session of it ended completed (ok, or
//! with findings); *stale* when the runbook's source has changed since (its SHA-256 differs
//! from the source the session ran); *never* otherwise. The newest completed session counts.

use std::collections::BTreeMap;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::audit::RunState;
use crate::audit::RunSummary;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Learned,
    Stale,
    Never,
}

#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    pub state: State,
    /// When the counted session started (stored format, UTC).
    pub date: Option<String>,
    pub run: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub operator: String,
    /// By runbook, in the order of `Matrix::runbooks`.
    pub lessons: BTreeMap<String, Cell>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Matrix {
    pub runbooks: Vec<String>,
    pub operators: Vec<Row>,
}

/// The SHA-256 of a source text, as the audit store names sources.
pub fn source_sha256(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// The matrix for `runbooks` (name and current source, in curriculum order) and `operators`
/// (the site's, in order), from `runs` (any runs, newest first; only completed learn sessions
/// count). Operators who learned something but are not in the site are added at the end.
pub fn matrix(runbooks: &[(String, String)], operators: &[String], runs: &[RunSummary]) -> Matrix {
    let mut names: Vec<String> = operators.to_vec();
    let sessions: Vec<&RunSummary> = runs
        .iter()
        .filter(|r| r.kind.as_deref() == Some("learn"))
        .filter(|r| matches!(r.status, RunState::Ok | RunState::Findings))
        .collect();
    for s in &sessions {
        if !names.contains(&s.operator) {
            names.push(s.operator.clone());
        }
    }
    let rows = names
        .into_iter()
        .map(|operator| {
            let lessons = runbooks
                .iter()
                .map(|(runbook, source)| {
                    let newest = sessions
                        .iter()
                        .filter(|s| s.operator == operator && &s.runbook == runbook)
                        .max_by(|a, b| a.started_at.cmp(&b.started_at));
                    let cell = match newest {
                        None => Cell {
                            state: State::Never,
                            date: None,
                            run: None,
                        },
                        Some(s) => Cell {
                            state: if s.source_sha256 == source_sha256(source) {
                                State::Learned
                            } else {
                                State::Stale
                            },
                            date: Some(s.started_at.clone()),
                            run: Some(s.id.clone()),
                        },
                    };
                    (runbook.clone(), cell)
                })
                .collect();
            Row { operator, lessons }
        })
        .collect();
    Matrix {
        runbooks: runbooks.iter().map(|(n, _)| n.clone()).collect(),
        operators: rows,
    }
}

/// The matrix as a table: a row per operator, a column per runbook; `learned 2026-12-02`,
/// `stale 2026-11-30`, `never`.
pub fn table(m: &Matrix) -> String {
    use comfy_table::{presets, Table};
    let mut t = Table::new();
    t.load_preset(presets::NOTHING);
    let mut header = vec!["OPERATOR".to_string()];
    header.extend(m.runbooks.iter().cloned());
    t.set_header(header);
    for row in &m.operators {
        let mut cells = vec![row.operator.clone()];
        for rb in &m.runbooks {
            let c = &row.lessons[rb];
            let day = c.date.as_deref().map(|d| d.get(..10).unwrap_or(d));
            cells.push(match (c.state, day) {
                (State::Learned, Some(d)) => format!("learned {d}"),
                (State::Stale, Some(d)) => format!("stale {d}"),
                _ => "never".to_string(),
            });
        }
        t.add_row(cells);
    }
    t.lines()
        .map(|l| l.trim_end().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(op: &str, rb: &str, at: &str, source: &str, status: RunState) -> RunSummary {
        RunSummary {
            id: format!("{at}-{op}"),
            runbook: rb.into(),
            status,
            dry_run: false,
            operator: op.into(),
            host: "h".into(),
            started_at: at.into(),
            ended_at: None,
            duration_ms: None,
            exit_code: Some(0),
            worst: None,
            counts: None,
            error: None,
            kind: Some("learn".into()),
            source_sha256: source_sha256(source),
        }
    }

    #[test]
    fn learned_stale_and_never() {
        let runbooks = vec![
            ("triage".to_string(), "v2".to_string()),
            ("health".to_string(), "h1".to_string()),
        ];
        let ops = vec!["miguel".to_string(), "juanesteban".to_string()];
        let mut plain_run = session("juanesteban", "health", "2026-12-01T01", "h1", RunState::Ok);
        plain_run.kind = None;
        let runs = vec![
            session(
                "miguel",
                "triage",
                "2026-12-02T05",
                "v2",
                RunState::Findings,
            ),
            session("juanesteban", "triage", "2026-12-01T05", "v1", RunState::Ok),
            session(
                "miguel",
                "health",
                "2026-12-02T06",
                "h1",
                RunState::Canceled,
            ),
            plain_run,
            session("trainee", "health", "2026-12-02T07", "h1", RunState::Ok),
        ];
        let m = matrix(&runbooks, &ops, &runs);
        let cell = |op: &str, rb: &str| {
            m.operators
                .iter()
                .find(|r| r.operator == op)
                .unwrap()
                .lessons[rb]
                .state
        };
        assert_eq!(cell("miguel", "triage"), State::Learned);
        assert_eq!(cell("juanesteban", "triage"), State::Stale);
        // A canceled session and a plain run teach nothing.
        assert_eq!(cell("miguel", "health"), State::Never);
        assert_eq!(cell("juanesteban", "health"), State::Never);
        assert_eq!(cell("trainee", "health"), State::Learned);
        let text = table(&m);
        assert!(text.contains("learned 2026-12-02"), "{text}");
        assert!(text.contains("stale 2026-12-01"), "{text}");
    }
}
