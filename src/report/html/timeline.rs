//! A run's timeline: its first [`PAGE`] rows as plain HTML (readable without script), read
//! from the store without the rest. The rows past the first page are not written at all: the
//! page's script builds them from the embedded events once those verified (`rows.js`), a page
//! at a time, so a run of 100,000 events carries each event once and does not put 100,000
//! rows in the document.
//!
//! Every HTML row carries its event and the SHA-256 of its own text, computed here from the
//! same characters the page shows; `verify.js` recomputes it from the row's text.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use sha2::{Digest, Sha256};
use sqlx::sqlite::SqliteConnection;

use super::describe::describe;
use super::{esc, esc_to, shown};
use crate::audit::clock;
use crate::audit::{for_first_events, Event, EventRef};
use crate::report::{RenderError, RunHead, Sink};

/// Rows of a timeline per page; the first page is plain HTML.
pub const PAGE: usize = 200;

/// Longest excerpt of a value shown in a row before it folds into a `<details>`.
const EXCERPT: usize = 160;

/// One row's texts, normalized as shown.
struct Row<'a> {
    kind: &'a str,
    class: &'static str,
    at: String,
    step: String,
    /// The step's line in the source listing.
    line: Option<usize>,
    label: String,
    lead: String,
    value: String,
    /// Empty when the value is short enough to show whole.
    excerpt: String,
    took: String,
}

impl<'a> Row<'a> {
    fn of(
        e: &EventRef<'a>,
        started: Option<chrono::DateTime<chrono::Utc>>,
        step_lines: &BTreeMap<String, usize>,
    ) -> Row<'a> {
        let at = clock::parse_time(e.time)
            .zip(started)
            .map(|(t, s)| format!("+{:.3}s", (t - s).num_milliseconds() as f64 / 1000.0))
            .unwrap_or_default();
        let step = shown(e.step.unwrap_or_default());
        let line = step_lines.get(step.as_str()).copied();
        let parsed = Event::parse(e.kind, e.payload);
        let (label, lead, value, took, class) = describe(e.kind, &parsed, e.payload);
        let value = shown(&value);
        let excerpt = if value.chars().count() <= EXCERPT && !value.contains('\n') {
            String::new()
        } else {
            let mut x: String = value
                .chars()
                .take(EXCERPT)
                .map(|c| if c == '\n' { ' ' } else { c })
                .collect();
            x.push('…');
            x
        };
        Row {
            kind: e.kind,
            class,
            at,
            step,
            line,
            label: shown(&label),
            lead: shown(&lead),
            value,
            excerpt,
            took: took.map(|ms| format!("{ms} ms")).unwrap_or_default(),
        }
    }

    /// SHA-256 of the row's text in the order the page shows it.
    fn text_sha256(&self) -> String {
        let mut sha = Sha256::new();
        for part in [
            &self.at,
            &self.step,
            &self.label,
            &self.lead,
            &self.excerpt,
            &self.value,
            &self.took,
        ] {
            sha.update(part.as_bytes());
        }
        hex::encode(sha.finalize())
    }

    fn html(&self, h: &mut Sink, hash: &str, run: &str) {
        h.push_str("<tr class=\"kind-");
        esc_to(h, self.kind);
        let _ = write!(
            h,
            " {}\" data-event=\"{hash}\" data-text-sha256=\"{}\"><td class=\"at\">",
            self.class,
            self.text_sha256()
        );
        esc_to(h, &self.at);
        h.push_str("</td><td class=\"step\">");
        match self.line {
            Some(line) => {
                h.push_str("<a href=\"#src-");
                esc_to(h, run);
                let _ = write!(h, "-{line}\">");
                esc_to(h, &self.step);
                h.push_str("</a>");
            }
            None => esc_to(h, &self.step),
        }
        h.push_str("</td><td class=\"kind\">");
        esc_to(h, &self.label);
        h.push_str("</td><td class=\"what\">");
        esc_to(h, &self.lead);
        if self.excerpt.is_empty() {
            if !self.value.is_empty() {
                h.push_str("<code>");
                esc_to(h, &self.value);
                h.push_str("</code>");
            }
        } else {
            h.push_str("<details><summary>");
            esc_to(h, &self.excerpt);
            h.push_str("</summary><code class=\"block\">");
            esc_to(h, &self.value);
            h.push_str("</code></details>");
        }
        h.push_str("</td><td class=\"took\">");
        esc_to(h, &self.took);
        h.push_str("</td></tr>");
    }
}

pub(super) async fn timeline(
    conn: &mut SqliteConnection,
    h: &mut Sink,
    run: &RunHead,
    step_lines: &BTreeMap<String, usize>,
) -> Result<(), RenderError> {
    let id = run.detail.summary.id.as_str();
    let started = clock::parse_time(&run.detail.summary.started_at);
    h.push_str("<h3>Timeline</h3>");
    let paged = run.events as usize > PAGE;
    if paged {
        let _ = write!(
            h,
            "<p class=\"paging\">{} events: the first {PAGE} are shown here as plain HTML; \
             with script the page shows the rest, {PAGE} at a time, after checking each one \
             (<code>runbook replay {}</code> shows them all in a terminal).</p>",
            run.events,
            esc(id)
        );
    }
    if paged {
        // What the page's script needs to build the rows past the first page from the events.
        let lines = serde_json::to_string(step_lines).expect("a map of lines serializes");
        let _ = write!(
            h,
            "<nav class=\"pager\" data-run=\"{id}\" hidden></nav>\
             <table class=\"timeline\" data-run=\"{id}\" data-started=\"{}\" data-step-lines=\"{}\">",
            esc(&run.detail.summary.started_at),
            esc(&lines),
            id = esc(id)
        );
    } else {
        let _ = write!(h, "<table class=\"timeline\" data-run=\"{}\">", esc(id));
    }
    h.push_str(
        "<thead><tr><th>at</th><th>step</th><th>event</th><th>what</th><th>took</th></tr></thead>\
         <tbody>",
    );
    for_first_events(conn, id, PAGE as u64, |e| {
        Row::of(e, started, step_lines).html(h, &e.hash.to_string(), id);
        h.tick()
    })
    .await?;
    h.push_str(if paged {
        "</tbody><tbody class=\"paged\"></tbody></table>"
    } else {
        "</tbody></table>"
    });
    Ok(())
}
