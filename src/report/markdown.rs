//! Markdown for pasting into a ticket: per run the header, the step table, gates and
//! findings, with the run id and the chain head to check it against. Streamed like the HTML:
//! each table is read from the store by kind, so memory does not grow with the run.

use std::fmt::Write as _;

use sqlx::sqlite::SqliteConnection;

use super::html::shown;
use super::{each_of_kinds, Outline, RenderError, RunHead, Sink};
use crate::audit::clock::{self, human_duration};
use crate::audit::event::StepStatus;
use crate::audit::Event;

pub async fn render(
    conn: &mut SqliteConnection,
    data: &Outline,
    m: &mut Sink,
) -> Result<(), RenderError> {
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
        section(conn, m, run).await?;
        m.tick()?;
    }
    Ok(())
}

async fn section(
    conn: &mut SqliteConnection,
    m: &mut Sink,
    run: &RunHead,
) -> Result<(), RenderError> {
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
    let steps = "\n| step | result | took |\n| --- | --- | --- |\n";
    // The step table's heading is written even for a run without steps, as before.
    m.push_str(steps);
    each_of_kinds(conn, m, run, &["step-end"], ("", ""), |m, e| {
        let Event::StepEnd(st) = e else { return };
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
    })
    .await?;
    let gates = "\n**Gates**\n\n| question | answer | verdict | who | how |\n| --- | --- | --- | --- | --- |\n";
    each_of_kinds(conn, m, run, &["gate"], (gates, ""), |m, e| {
        let Event::Gate(g) = e else { return };
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
    })
    .await?;
    let findings = "\n**Findings**\n\n| severity | subject | summary | next step |\n| --- | --- | --- | --- |\n";
    each_of_kinds(conn, m, run, &["finding"], (findings, ""), |m, e| {
        let Event::Finding(f) = e else { return };
        let _ = writeln!(
            m,
            "| {} | {} | {} | {} |",
            f.severity,
            cell(&f.subject),
            cell(&f.summary),
            cell(&f.next_step)
        );
    })
    .await?;
    if let (Some(first), Some(last)) = (&run.first, &run.last) {
        let _ = writeln!(
            m,
            "\nEvents {}-{} (seq 1-{}), first hash `{}`, last hash `{}`.\n",
            first.id, last.id, last.seq, first.hash, last.hash
        );
    }
    Ok(())
}

/// One table cell: on one line, pipes escaped.
fn cell(s: &str) -> String {
    shown(s).replace('\n', " ").replace('|', "\\|")
}
