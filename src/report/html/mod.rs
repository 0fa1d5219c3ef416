//! One self-contained HTML file: inline CSS and script, a Content-Security-Policy that
//! forbids fetching anything, readable without script (the first page of each timeline and
//! every other section are plain HTML; the script checks integrity, shows the rest of a long
//! timeline a page at a time from the checked events, and filters), printable.
//!
//! The document is streamed: events are read from the store in order and written as they
//! come, so memory does not grow with the run. The embedded events come last, and the digest
//! of their text after them (`#digest`), computed while they were written.
//!
//! Text is normalized before it is shown (line ends to `\n`, other control characters
//! dropped), because an HTML parser would change them anyway and a row's digest must be of
//! what the reader sees.

mod describe;
mod sections;
mod timeline;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use base64::Engine as _;
use sha2::{Digest, Sha256};
use sqlx::sqlite::SqliteConnection;

use super::{Outline, RenderError, RunHead, Sink};
use crate::audit::clock::{self, human_duration};
use crate::audit::{for_each_event_where, ExportLine, ScanOrder};
use crate::engine::header;
use describe::compact;

pub use timeline::PAGE;

const STYLE: &str = include_str!("../report.css");
/// The page's script: the integrity check, the rows built from checked events, the pager,
/// inside one function so they share the checked events and nothing leaks into the page.
const SCRIPT: &str = concat!(
    "(function () {\n  \"use strict\";\n",
    include_str!("../verify.js"),
    include_str!("../rows.js"),
    include_str!("../pager.js"),
    "})();\n"
);

/// Stream the whole document into `h`.
pub async fn render(
    conn: &mut SqliteConnection,
    outline: &Outline,
    h: &mut Sink,
) -> Result<(), RenderError> {
    let script_sha = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(SCRIPT));
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; script-src 'sha256-{script_sha}'; img-src data:; \
         base-uri 'none'; form-action 'none'\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body>\n",
        esc(&format!("runbook report: {}", outline.title))
    );
    let _ = write!(h, "<header><h1>{}</h1>", esc(&outline.title));
    badge(h, outline);
    h.push_str("</header>\n");
    if outline.runs.len() > 1 {
        window_table(h, outline);
    }
    filters(h, outline);
    for run in &outline.runs {
        section(conn, h, run, outline.runs.len() > 1).await?;
    }
    let _ = writeln!(
        h,
        "<footer>Rendered {} by runbook {}. Events were redacted when recorded.</footer>",
        esc(&outline.rendered_at),
        env!("CARGO_PKG_VERSION")
    );
    embedded_events(conn, outline, h).await?;
    let _ = write!(h, "<script>{SCRIPT}</script>\n</body></html>\n");
    Ok(())
}

/// The events as `audit export` writes them, in chain order, one per line of a JSON array
/// safe inside a `<script>` element (`<` escaped, so no payload can close it); then the
/// SHA-256 of exactly that text, which the page checks first.
async fn embedded_events(
    conn: &mut SqliteConnection,
    outline: &Outline,
    h: &mut Sink,
) -> Result<(), RenderError> {
    h.push_str("<script type=\"application/json\" id=\"events\">");
    let mut sha = Sha256::new();
    let mut json = Vec::with_capacity(4096);
    let mut piece = String::with_capacity(4096);
    piece.push('[');
    if outline.first_id.is_some() {
        let ids = outline.run_ids();
        let mut first = true;
        for_each_event_where(conn, &outline.span_clause(), &ids, ScanOrder::Id, |e| {
            json.clear();
            serde_json::to_writer(&mut json, &ExportLine::from(e)).expect("events serialize");
            piece.push_str(if first { "\n" } else { ",\n" });
            first = false;
            let text = std::str::from_utf8(&json).expect("JSON is UTF-8");
            for (i, part) in text.split('<').enumerate() {
                if i > 0 {
                    piece.push_str("\\u003c");
                }
                piece.push_str(part);
            }
            sha.update(piece.as_bytes());
            h.push_str(&piece);
            piece.clear();
            h.tick()
        })
        .await?;
        piece.push('\n');
    }
    piece.push(']');
    sha.update(piece.as_bytes());
    h.push_str(&piece);
    let _ = write!(
        h,
        "</script>\n<div id=\"digest\" hidden data-events-sha256=\"{}\"></div>\n",
        hex::encode(sha.finalize())
    );
    Ok(())
}

fn badge(h: &mut Sink, outline: &Outline) {
    let head = outline.head.as_deref().unwrap_or("-");
    let _ = write!(
        h,
        "<div id=\"badge\" class=\"badge pending\">\
         <strong class=\"verdict\">Integrity not checked: this viewer runs no script.</strong>\
         <dl><dt>events</dt><dd>{}</dd><dt>first hash</dt><dd><code>{}</code></dd>\
         <dt>last hash</dt><dd><code>{}</code></dd>\
         <dt>database head at render time</dt><dd><code>{}</code></dd>\
         <dt>check against the live store</dt><dd><code>runbook audit verify --expect-head {}</code></dd></dl></div>",
        outline.events,
        esc(outline.first_hash.as_deref().unwrap_or("-")),
        esc(outline.last_hash.as_deref().unwrap_or("-")),
        esc(head),
        esc(head)
    );
}

/// For an incident window: who ran what, when.
fn window_table(h: &mut Sink, outline: &Outline) {
    h.push_str("<section><h2>Runs in this window</h2><table class=\"runs\"><thead><tr><th>started</th><th>operator</th><th>runbook</th><th>status</th><th>worst</th><th>run</th></tr></thead><tbody>");
    for r in &outline.runs {
        let s = &r.detail.summary;
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"st-{}\">{}</td><td class=\"sev-{}\">{}</td><td><a href=\"#run-{}\">{}</a></td></tr>",
            esc(&clock::local_display(&s.started_at)),
            esc(&s.operator),
            esc(&s.runbook),
            esc(s.status.as_str()),
            esc(s.status.as_str()),
            esc(s.worst.as_deref().unwrap_or("none")),
            esc(s.worst.as_deref().unwrap_or("-")),
            esc(&s.id),
            esc(&s.id)
        );
    }
    h.push_str("</tbody></table></section>\n");
}

fn filters(h: &mut Sink, outline: &Outline) {
    h.push_str("<nav class=\"filters\">");
    for k in &outline.kinds {
        let _ = write!(
            h,
            "<label hidden><input type=\"checkbox\" checked data-kind-filter=\"{k}\"> {k}</label> ",
            k = esc(k)
        );
    }
    h.push_str("</nav>\n");
}

async fn section(
    conn: &mut SqliteConnection,
    h: &mut Sink,
    run: &RunHead,
    in_window: bool,
) -> Result<(), RenderError> {
    let s = &run.detail.summary;
    let _ = write!(
        h,
        "<section class=\"run\" id=\"run-{}\"><h2>{} <small>{}</small></h2>",
        esc(&s.id),
        esc(&s.runbook),
        esc(&s.id)
    );
    meta(h, run);
    let step_lines: BTreeMap<String, usize> = run
        .source
        .as_deref()
        .map(header::steps)
        .unwrap_or_default()
        .into_iter()
        .map(|st| (st.name, st.line))
        .collect();
    timeline::timeline(conn, h, run, &step_lines).await?;
    sections::gates(conn, h, run).await?;
    sections::refusals(conn, h, run).await?;
    sections::changes(conn, h, run).await?;
    sections::findings(conn, h, run).await?;
    sections::source(h, run)?;
    if in_window {
        h.push_str("<p><a href=\"#badge\">back to the top</a></p>");
    }
    h.push_str("</section>\n");
    h.tick()
}

fn meta(h: &mut Sink, run: &RunHead) {
    let d = &run.detail;
    let s = &d.summary;
    let identity = &d.operator_identity;
    let who = format!(
        "{} (identity from {})",
        s.operator,
        identity["source"].as_str().unwrap_or("unknown")
    );
    let dry = if s.dry_run {
        let why = run.dry_run_reason.clone().unwrap_or_default();
        format!("yes ({why}): nothing was changed")
    } else {
        "no".to_string()
    };
    let duration = s
        .duration_ms
        .map(|ms| human_duration(ms as f64 / 1000.0))
        .unwrap_or_else(|| "-".into());
    let rows = [
        ("runbook", s.runbook.clone()),
        ("run", s.id.clone()),
        ("operator", who),
        ("host", s.host.clone()),
        ("parameters", compact(&d.params)),
        ("dry run", dry),
        ("status", s.status.as_str().to_string()),
        (
            "exit code",
            s.exit_code.map_or("-".into(), |c| c.to_string()),
        ),
        (
            "worst finding",
            s.worst.clone().unwrap_or_else(|| "none".into()),
        ),
        ("started", clock::local_display(&s.started_at)),
        ("duration", duration),
        ("source sha256", d.source_sha256.clone()),
    ];
    h.push_str("<table class=\"meta\"><tbody>");
    for (k, v) in rows {
        let class = match k {
            "status" => format!(" class=\"st-{}\"", esc(&v)),
            "worst finding" => format!(" class=\"sev-{}\"", esc(&v)),
            _ => String::new(),
        };
        let _ = write!(
            h,
            "<tr><th>{k}</th><td{class}>{}</td></tr>",
            esc(&shown(&v))
        );
    }
    if let Some(e) = &s.error {
        let _ = write!(
            h,
            "<tr><th>error</th><td class=\"st-failed\">{}</td></tr>",
            esc(&shown(e))
        );
    }
    if let Some(state) = &d.change_control.break_glass {
        let class = if state.co_signed {
            "co-signed"
        } else {
            "break-glass"
        };
        let _ = write!(
            h,
            "<tr><th>approval</th><td class=\"{class}\">{}</td></tr>",
            esc(&shown(&state.describe()))
        );
    }
    h.push_str("</tbody></table>");
}

/// Text as a reader will see it: line ends as `\n`, no other control characters (an HTML
/// parser would rewrite them, and a terminal escape has no business in a report).
pub fn shown(s: &str) -> String {
    s.replace("\r\n", "\n")
        .chars()
        .map(|c| if c == '\r' { '\n' } else { c })
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .collect()
}

/// Escape text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// [`esc`] into `out`, without a string in between.
pub fn esc_to(out: &mut Sink, s: &str) {
    let mut rest = s;
    while let Some(i) = rest.find(['&', '<', '>', '"', '\'']) {
        out.push_str(&rest[..i]);
        out.push_str(match rest.as_bytes()[i] {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            _ => "&#39;",
        });
        rest = &rest[i + 1..];
    }
    out.push_str(rest);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_and_normalizing() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(shown("a\r\nb\rc\u{1b}[31md\u{0}"), "a\nb\nc[31md");
    }
}
