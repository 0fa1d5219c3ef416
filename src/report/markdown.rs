//! Markdown for pasting into a ticket: per run the header, the step table, gates and
//! findings, with the run id and the chain head to check it against.

use std::fmt::Write as _;

use super::html::shown;
use super::{ReportData, RunSection};
use crate::audit::clock::{self, human_duration};
use crate::audit::event::StepStatus;
use crate::audit::Event;

pub fn render(data: &ReportData) -> String {
    let mut m = String::new();
    let _ = writeln!(m, "# {}\n", cell(&data.title));
    let _ = writeln!(
        m,
        "Database head at render time: `{}`; check against the live store with \
         `runbook audit verify --expect-head {}`.\n",
        data.head.as_deref().unwrap_or("-"),
        data.head.as_deref().unwrap_or("-")
    );
    if data.runs.len() > 1 {
        m.push_str("| started | operator | runbook | status | worst | run |\n| --- | --- | --- | --- | --- | --- |\n");
        for r in &data.runs {
            let s = &r.detail.summary;
            let _ = writeln!(
                m,
                "| {} | {} | {} | {} | {} | `{}` |",
                clock::local_display(&s.started_at),
                cell(&s.operator),
                cell(&s.runbook),
                s.status.as_str(),
                s.worst.as_deref().unwrap_or("-"),
                s.id
            );
        }
        m.push('\n');
    }
    for run in &data.runs {
        section(&mut m, run);
    }
    m
}

fn section(m: &mut String, run: &RunSection) {
    let d = &run.detail;
    let s = &d.summary;
    let _ = writeln!(m, "## {} `{}`\n", cell(&s.runbook), s.id);
    let _ = writeln!(
        m,
        "- operator: {} (identity from {})\n- host: {}\n- parameters: `{}`\n- dry run: {}\n\
         - status: **{}**, exit code {}, worst finding {}\n- started: {}, duration {}\n\
         - source sha256: `{}`",
        cell(&s.operator),
        d.operator_identity["source"].as_str().unwrap_or("unknown"),
        cell(&s.host),
        cell(&d.params.to_string()),
        if s.dry_run { "yes" } else { "no" },
        s.status.as_str(),
        s.exit_code.map_or("-".into(), |c| c.to_string()),
        s.worst.as_deref().unwrap_or("none"),
        clock::local_display(&s.started_at),
        s.duration_ms
            .map(|ms| human_duration(ms as f64 / 1000.0))
            .unwrap_or_else(|| "-".into()),
        d.source_sha256
    );
    if let Some(e) = &s.error {
        let _ = writeln!(m, "- error: {}", cell(e));
    }
    if let Some(state) = &d.change_control.break_glass {
        // Bold until co-signed: Markdown has no red, and a ticket must not miss it.
        let text = cell(&state.describe());
        if state.co_signed {
            let _ = writeln!(m, "- approval: {text}");
        } else {
            let _ = writeln!(m, "- approval: **{text}**");
        }
    }
    m.push_str("\n| step | result | took |\n| --- | --- | --- |\n");
    for e in &run.events {
        if let Some(Event::StepEnd(st)) = e.event() {
            let result = match (st.status, &st.error) {
                (StepStatus::Ok, _) => "ok".to_string(),
                (StepStatus::Failed, Some(err)) => format!("**failed**: {}", cell(err)),
                (StepStatus::Failed, None) => "**failed**".to_string(),
                (StepStatus::Skipped, _) => "skipped by the learner".to_string(),
            };
            let _ = writeln!(
                m,
                "| {} | {result} | {} |",
                cell(&st.name),
                st.duration_ms.map_or("-".into(), |ms| format!("{ms} ms"))
            );
        }
    }
    let gates: Vec<_> = run
        .events
        .iter()
        .filter_map(|e| match e.event() {
            Some(Event::Gate(g)) => Some(g),
            _ => None,
        })
        .collect();
    if !gates.is_empty() {
        m.push_str("\n**Gates**\n\n| question | answer | verdict | who | how |\n| --- | --- | --- | --- | --- |\n");
        for g in gates {
            let _ = writeln!(
                m,
                "| {} | {} | {} | {} | {} |",
                cell(&g.question),
                cell(&g.answer),
                match g.approved {
                    Some(true) => "approved",
                    Some(false) => "refused",
                    None => "-",
                },
                cell(&g.answered_by),
                cell(&g.via)
            );
        }
    }
    let findings: Vec<_> = run
        .events
        .iter()
        .filter_map(|e| match e.event() {
            Some(Event::Finding(f)) => Some(f),
            _ => None,
        })
        .collect();
    if !findings.is_empty() {
        m.push_str("\n**Findings**\n\n| severity | subject | summary | next step |\n| --- | --- | --- | --- |\n");
        for f in findings {
            let _ = writeln!(
                m,
                "| {} | {} | {} | {} |",
                f.severity,
                cell(&f.subject),
                cell(&f.summary),
                cell(&f.next_step)
            );
        }
    }
    if let (Some(first), Some(last)) = (run.events.first(), run.events.last()) {
        let _ = writeln!(
            m,
            "\nEvents {}-{} (seq 1-{}), first hash `{}`, last hash `{}`.\n",
            first.id, last.id, last.seq, first.hash, last.hash
        );
    }
}

/// One table cell: on one line, pipes escaped.
fn cell(s: &str) -> String {
    shown(s).replace('\n', " ").replace('|', "\\|")
}
