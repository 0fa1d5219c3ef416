//! The sections after a run's timeline: gates, refusals, file changes, findings (each read
//! from the store by kind, streamed, its heading written only when it has a row) and the
//! source listing.

use std::fmt::Write as _;

use serde_json::Value;
use sqlx::sqlite::SqliteConnection;

use super::{esc, shown};
use crate::audit::Event;
use crate::report::{each_of_kinds, RenderError, RunHead, Sink};

pub(super) async fn gates(
    conn: &mut SqliteConnection,
    h: &mut Sink,
    run: &RunHead,
) -> Result<(), RenderError> {
    let open = "<h3>Gates</h3><table class=\"gates\"><thead><tr><th>question</th><th>answer</th>\
                <th>verdict</th><th>who</th><th>how</th></tr></thead><tbody>";
    each_of_kinds(
        conn,
        h,
        run,
        &["gate"],
        (open, "</tbody></table>"),
        |h, e| {
            let Event::Gate(g) = e else { return };
            let verdict = match g.approved {
                Some(true) => "approved",
                Some(false) => "refused",
                None => "-",
            };
            let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td class=\"{}\">{verdict}</td><td>{}</td><td>{}</td></tr>",
            esc(&shown(&g.question)),
            esc(&shown(&g.answer)),
            if g.approved == Some(false) {
                "st-refused"
            } else {
                "st-ok"
            },
            esc(&shown(&g.answered_by)),
            esc(&shown(&g.via))
        );
        },
    )
    .await
}

pub(super) async fn refusals(
    conn: &mut SqliteConnection,
    h: &mut Sink,
    run: &RunHead,
) -> Result<(), RenderError> {
    let open = "<h3>Refusals</h3><ul class=\"refusals\">";
    each_of_kinds(conn, h, run, &["refused"], (open, "</ul>"), |h, e| {
        let Event::Refused(r) = e else { return };
        let _ = write!(
            h,
            "<li>{}{}</li>",
            r.function
                .as_deref()
                .map(|f| format!("{} ", esc(f)))
                .unwrap_or_default(),
            esc(&shown(&r.reason))
        );
    })
    .await
}

/// File changes: the unified diffs that intents and planned calls carry in their plan.
pub(super) async fn changes(
    conn: &mut SqliteConnection,
    h: &mut Sink,
    run: &RunHead,
) -> Result<(), RenderError> {
    // A plan without a diff writes nothing, so the heading waits for the first diff.
    let mut any = false;
    each_of_kinds(conn, h, run, &["intent", "planned"], ("", ""), |h, e| {
        let (function, plan, planned) = match e {
            Event::Intent(i) => (&i.function, &i.plan, false),
            Event::Planned(p) => (&p.function, &p.plan, true),
            _ => return,
        };
        let Some(diff) = plan.get("diff").and_then(Value::as_str) else {
            return;
        };
        if !any {
            h.push_str("<h3>File changes</h3>");
            any = true;
        }
        let path = plan.get("path").and_then(Value::as_str).unwrap_or_default();
        let _ = write!(
            h,
            "<div class=\"diff\"><p>{} <code>{}</code>{}</p><code class=\"block\">",
            esc(function),
            esc(path),
            if planned {
                " (dry run: not written)"
            } else {
                ""
            }
        );
        for line in shown(diff).lines() {
            let class = if line.starts_with("+++") || line.starts_with("---") {
                "hd"
            } else if line.starts_with('+') {
                "add"
            } else if line.starts_with('-') {
                "del"
            } else if line.starts_with("@@") {
                "hunk"
            } else {
                "ctx"
            };
            let _ = write!(h, "<span class=\"{class}\">{}</span>", esc(line));
        }
        h.push_str("</code></div>");
    })
    .await
}

pub(super) async fn findings(
    conn: &mut SqliteConnection,
    h: &mut Sink,
    run: &RunHead,
) -> Result<(), RenderError> {
    let open = "<h3>Findings</h3><table class=\"findings\"><thead><tr><th>severity</th>\
                <th>subject</th><th>summary</th><th>next step</th></tr></thead><tbody>";
    each_of_kinds(
        conn,
        h,
        run,
        &["finding"],
        (open, "</tbody></table>"),
        |h, e| {
            let Event::Finding(f) = e else { return };
            let _ = write!(
                h,
                "<tr class=\"sev-{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&f.severity),
                esc(&f.severity),
                esc(&shown(&f.subject)),
                esc(&shown(&f.summary)),
                esc(&shown(&f.next_step))
            );
        },
    )
    .await
}

/// The exact source with line numbers: recorded verbatim by design, so the listing is the
/// one part of the document the redaction check skips (escaping keeps runbook text from
/// closing the element).
pub(super) fn source(h: &mut Sink, run: &RunHead) -> Result<(), RenderError> {
    let id = &run.detail.summary.id;
    let Some(text) = &run.source else {
        let _ = write!(
            h,
            "<h3>Source</h3><p class=\"st-failed\">The source (sha256 {}) is missing from the database.</p>",
            esc(&run.detail.source_sha256)
        );
        return Ok(());
    };
    let _ = write!(
        h,
        "<h3>Source <small>sha256 {}</small></h3>",
        esc(&run.detail.source_sha256)
    );
    h.begin_exempt()?;
    h.push_str("<ol class=\"source\">");
    for (i, line) in shown(text).lines().enumerate() {
        let n = i + 1;
        let _ = write!(
            h,
            "<li id=\"src-{}-{n}\"><code>{}</code></li>",
            esc(id),
            esc(line)
        );
    }
    h.push_str("</ol>");
    h.end_exempt()
}
