//! One self-contained HTML file: inline CSS and script, a Content-Security-Policy that
//! forbids fetching anything, readable without script (the timeline is plain HTML; the
//! script only checks integrity and filters), printable.
//!
//! Every timeline row carries the hash of its event and the SHA-256 of its own text, which
//! this module computes from the same characters it escapes into the page; `verify.js`
//! recomputes both in the browser. Text is normalized before it is shown (line ends to `\n`,
//! other control characters dropped), because an HTML parser would change them anyway and
//! the row's digest must be of what the reader sees.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use base64::Engine as _;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{ReportData, RunSection, StoredEvent};
use crate::audit::clock::{self, human_duration};
use crate::audit::event::{GateType, StepStatus};
use crate::audit::Event;
use crate::engine::header;

const STYLE: &str = include_str!("report.css");
const SCRIPT: &str = include_str!("verify.js");

/// Longest excerpt of a value shown in a row before it folds into a `<details>`.
const EXCERPT: usize = 160;

/// Render the whole document.
pub fn render(data: &ReportData) -> String {
    let events_json = embedded_events(data);
    let events_sha = hex::encode(Sha256::digest(events_json.as_bytes()));
    let script_sha = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(SCRIPT));
    let mut h =
        String::with_capacity(4096 + data.runs.iter().map(|r| r.events.len()).sum::<usize>() * 600);
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; script-src 'sha256-{script_sha}'; img-src data:; \
         base-uri 'none'; form-action 'none'\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body>\n",
        esc(&format!("runbook report: {}", data.title))
    );
    let _ = write!(h, "<header><h1>{}</h1>", esc(&data.title));
    badge(&mut h, data, &events_sha);
    h.push_str("</header>\n");
    if data.runs.len() > 1 {
        window_table(&mut h, data);
    }
    filters(&mut h, data);
    for run in &data.runs {
        section(&mut h, run, data.runs.len() > 1);
    }
    let _ = write!(
        h,
        "<footer>Rendered {} by runbook {}. Events were redacted when recorded.</footer>\n\
         <script type=\"application/json\" id=\"events\">{events_json}</script>\n\
         <script>{SCRIPT}</script>\n</body></html>\n",
        esc(&data.rendered_at),
        env!("CARGO_PKG_VERSION")
    );
    h
}

/// The events as `audit export` writes them, in chain order, as a JSON array safe inside a
/// `<script>` element (`<` escaped, so no payload can close it).
fn embedded_events(data: &ReportData) -> String {
    #[derive(serde::Serialize)]
    struct Line<'a> {
        id: i64,
        run: &'a str,
        seq: i64,
        time: &'a str,
        kind: &'a str,
        step: Option<&'a str>,
        payload_text: &'a str,
        prev_hash: &'a str,
        hash: &'a str,
    }
    let mut all: Vec<&StoredEvent> = data.runs.iter().flat_map(|r| &r.events).collect();
    all.sort_by_key(|e| e.id);
    let lines: Vec<Line> = all
        .iter()
        .map(|e| Line {
            id: e.id,
            run: &e.run,
            seq: e.seq,
            time: &e.time,
            kind: &e.kind,
            step: e.step.as_deref(),
            payload_text: &e.payload_text,
            prev_hash: &e.prev_hash,
            hash: &e.hash,
        })
        .collect();
    serde_json::to_string(&lines)
        .expect("events serialize")
        .replace('<', "\\u003c")
}

fn badge(h: &mut String, data: &ReportData, events_sha: &str) {
    let all: Vec<&StoredEvent> = data.runs.iter().flat_map(|r| &r.events).collect();
    let first = all
        .iter()
        .min_by_key(|e| e.id)
        .map_or("-", |e| e.hash.as_str());
    let last = all
        .iter()
        .max_by_key(|e| e.id)
        .map_or("-", |e| e.hash.as_str());
    let head = data.head.as_deref().unwrap_or("-");
    let _ = write!(
        h,
        "<div id=\"badge\" class=\"badge pending\" data-events-sha256=\"{events_sha}\">\
         <strong class=\"verdict\">Integrity not checked: this viewer runs no script.</strong>\
         <dl><dt>events</dt><dd>{}</dd><dt>first hash</dt><dd><code>{}</code></dd>\
         <dt>last hash</dt><dd><code>{}</code></dd>\
         <dt>database head at render time</dt><dd><code>{}</code></dd>\
         <dt>check against the live store</dt><dd><code>runbook audit verify --expect-head {}</code></dd></dl></div>",
        all.len(),
        esc(first),
        esc(last),
        esc(head),
        esc(head)
    );
}

/// For an incident window: who ran what, when.
fn window_table(h: &mut String, data: &ReportData) {
    h.push_str("<section><h2>Runs in this window</h2><table class=\"runs\"><thead><tr><th>started</th><th>operator</th><th>runbook</th><th>status</th><th>worst</th><th>run</th></tr></thead><tbody>");
    for r in &data.runs {
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

fn filters(h: &mut String, data: &ReportData) {
    let mut kinds: Vec<&str> = data
        .runs
        .iter()
        .flat_map(|r| r.events.iter().map(|e| e.kind.as_str()))
        .collect();
    kinds.sort_unstable();
    kinds.dedup();
    h.push_str("<nav class=\"filters\">");
    for k in kinds {
        let _ = write!(
            h,
            "<label hidden><input type=\"checkbox\" checked data-kind-filter=\"{k}\"> {k}</label> ",
            k = esc(k)
        );
    }
    h.push_str("</nav>\n");
}

fn section(h: &mut String, run: &RunSection, in_window: bool) {
    let s = &run.detail.summary;
    let _ = write!(
        h,
        "<section class=\"run\" id=\"run-{}\"><h2>{} <small>{}</small></h2>",
        esc(&s.id),
        esc(&s.runbook),
        esc(&s.id)
    );
    meta(h, run);
    let lines = run.source.as_deref().map(header::steps).unwrap_or_default();
    let step_lines: BTreeMap<&str, usize> =
        lines.iter().map(|st| (st.name.as_str(), st.line)).collect();
    timeline(h, run, &step_lines);
    gates(h, run);
    refusals(h, run);
    changes(h, run);
    findings(h, run);
    source(h, run);
    if in_window {
        h.push_str("<p><a href=\"#badge\">back to the top</a></p>");
    }
    h.push_str("</section>\n");
}

fn meta(h: &mut String, run: &RunSection) {
    let d = &run.detail;
    let s = &d.summary;
    let identity = &d.operator_identity;
    let who = format!(
        "{} (identity from {})",
        s.operator,
        identity["source"].as_str().unwrap_or("unknown")
    );
    let dry = if s.dry_run {
        let why = run
            .events
            .iter()
            .find_map(|e| match e.event() {
                Some(Event::RunStart(st)) => st.dry_run_reason.clone(),
                _ => None,
            })
            .unwrap_or_default();
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

/// A timeline row: cells whose text is tracked for the row's digest.
struct Row {
    html: String,
    text: String,
}

impl Row {
    fn new() -> Row {
        Row {
            html: String::new(),
            text: String::new(),
        }
    }

    fn cell(&mut self, class: &str, text: &str) {
        let text = shown(text);
        let _ = write!(self.html, "<td class=\"{class}\">{}</td>", esc(&text));
        self.text.push_str(&text);
    }

    /// A cell whose long value folds into `<details>`, still plain HTML.
    fn value_cell(&mut self, lead: &str, value: &str) {
        let lead = shown(lead);
        let value = shown(value);
        self.text.push_str(&lead);
        if value.chars().count() <= EXCERPT && !value.contains('\n') {
            let _ = write!(self.html, "<td class=\"what\">{}", esc(&lead));
            if !value.is_empty() {
                let _ = write!(self.html, "<code>{}</code>", esc(&value));
                self.text.push_str(&value);
            }
            self.html.push_str("</td>");
            return;
        }
        let excerpt: String = value
            .chars()
            .take(EXCERPT)
            .collect::<String>()
            .replace('\n', " ");
        let excerpt = format!("{excerpt}…");
        let _ = write!(
            self.html,
            "<td class=\"what\">{}<details><summary>{}</summary><code class=\"block\">{}</code></details></td>",
            esc(&lead),
            esc(&excerpt),
            esc(&value)
        );
        self.text.push_str(&excerpt);
        self.text.push_str(&value);
    }

    fn link_cell(&mut self, class: &str, text: &str, href: Option<String>) {
        let text = shown(text);
        match href {
            Some(href) => {
                let _ = write!(
                    self.html,
                    "<td class=\"{class}\"><a href=\"{}\">{}</a></td>",
                    esc(&href),
                    esc(&text)
                );
            }
            None => {
                let _ = write!(self.html, "<td class=\"{class}\">{}</td>", esc(&text));
            }
        }
        self.text.push_str(&text);
    }

    fn finish(self, h: &mut String, e: &StoredEvent, class: &str) {
        let sha = hex::encode(Sha256::digest(self.text.as_bytes()));
        let _ = write!(
            h,
            "<tr class=\"kind-{} {class}\" data-event=\"{}\" data-text-sha256=\"{sha}\">{}</tr>",
            esc(&e.kind),
            esc(&e.hash),
            self.html
        );
    }
}

fn timeline(h: &mut String, run: &RunSection, step_lines: &BTreeMap<&str, usize>) {
    let started = clock::parse_time(&run.detail.summary.started_at);
    h.push_str("<h3>Timeline</h3><table class=\"timeline\"><thead><tr><th>at</th><th>step</th><th>event</th><th>what</th><th>took</th></tr></thead><tbody>");
    for e in &run.events {
        let mut row = Row::new();
        let at = clock::parse_time(&e.time)
            .zip(started)
            .map(|(t, s)| format!("+{:.3}s", (t - s).num_milliseconds() as f64 / 1000.0))
            .unwrap_or_default();
        row.cell("at", &at);
        let step = e.step.clone().unwrap_or_default();
        let href = step_lines
            .get(step.as_str())
            .map(|line| format!("#src-{}-{line}", run.detail.summary.id));
        row.link_cell("step", &step, href);
        let (label, what, value, took, class) = describe(e);
        row.cell("kind", &label);
        row.value_cell(&what, &value);
        row.cell(
            "took",
            &took.map(|ms| format!("{ms} ms")).unwrap_or_default(),
        );
        row.finish(h, e, class);
    }
    h.push_str("</tbody></table>");
}

/// Label, lead text, value, duration and row class of one event.
fn describe(e: &StoredEvent) -> (String, String, String, Option<u64>, &'static str) {
    let kind = e.kind.clone();
    let Some(ev) = e.event() else {
        return (
            kind,
            "unreadable payload: ".into(),
            e.payload_text.clone(),
            None,
            "bad",
        );
    };
    match ev {
        Event::RunStart(s) => (
            kind,
            format!(
                "{} started by {} on {}",
                s.runbook,
                operator_login(&s.operator),
                s.host
            ),
            String::new(),
            None,
            "",
        ),
        Event::StepStart(s) => (kind, format!("step {}", s.name), String::new(), None, ""),
        Event::StepEnd(s) => {
            let failed = s.status == StepStatus::Failed;
            (
                kind,
                match s.status {
                    StepStatus::Failed => "failed: ".into(),
                    StepStatus::Ok => "ok".into(),
                    StepStatus::Skipped => "skipped by the learner".into(),
                },
                s.error.clone().unwrap_or_default(),
                s.duration_ms,
                if failed { "bad" } else { "" },
            )
        }
        Event::Call(c) => match &c.error {
            Some(err) => (
                "read".into(),
                format!("{}({}) failed: ", c.function, compact(&c.args)),
                err.clone(),
                c.duration_ms,
                "bad",
            ),
            None => (
                "read".into(),
                format!("{}({}) → ", c.function, compact(&c.args)),
                c.result.as_ref().map(pretty).unwrap_or_default(),
                c.duration_ms,
                "",
            ),
        },
        Event::Planned(p) => (
            "planned".into(),
            format!("would call {}({}); ", p.function, compact(&p.args)),
            pretty(&p.plan),
            None,
            "planned",
        ),
        Event::Intent(i) => (
            "intent".into(),
            format!("about to call {}({})", i.function, compact(&i.args)),
            String::new(),
            None,
            "change",
        ),
        Event::Outcome(o) => match &o.error {
            Some(err) => (
                "outcome".into(),
                format!("{} failed: ", o.function),
                err.clone(),
                o.duration_ms,
                "bad",
            ),
            None => (
                "outcome".into(),
                format!("{} done → ", o.function),
                o.result.as_ref().map(pretty).unwrap_or_default(),
                o.duration_ms,
                "change",
            ),
        },
        Event::Gate(g) => {
            let approved = match g.approved {
                Some(true) => "approved",
                Some(false) => "refused",
                None => "answer not judged by this version",
            };
            (
                "gate".into(),
                format!(
                    "asked \"{}\"{}: answered \"{}\" ({approved}) by {} via {}",
                    g.question,
                    match (g.gate, &g.expected) {
                        (GateType::Typed, Some(w)) => format!(" (type \"{w}\")"),
                        _ => String::new(),
                    },
                    g.answer,
                    g.answered_by,
                    g.via
                ),
                String::new(),
                None,
                if g.approved == Some(false) {
                    "bad"
                } else {
                    "gate"
                },
            )
        }
        Event::Refused(r) => (
            "refused".into(),
            match &r.function {
                Some(f) => format!("{f} refused: "),
                None => "refused: ".into(),
            },
            r.reason.clone(),
            None,
            "bad",
        ),
        Event::Approval(a) => (
            kind,
            format!(
                "approved by {} ({} {})",
                a.principal, a.algorithm, a.fingerprint
            ),
            format!("plan {} requested by {}", a.plan_hash, a.requester),
            None,
            "",
        ),
        Event::Signature(sig) => (
            kind,
            format!(
                "signature by {} {}",
                sig.principal.as_deref().unwrap_or("no operator"),
                sig.verdict
            ),
            format!(
                "{} ({} {}, namespace {}) for plan {}",
                sig.reason,
                sig.algorithm.as_deref().unwrap_or("-"),
                sig.fingerprint.as_deref().unwrap_or("-"),
                sig.namespace.as_deref().unwrap_or("-"),
                sig.plan_hash
            ),
            None,
            if sig.verdict == crate::audit::event::ACCEPTED {
                ""
            } else {
                "bad"
            },
        ),
        Event::PlanRefused(r) => (
            kind,
            format!("run --plan refused ({}): ", r.check),
            format!("{} (plan {})", r.reason, r.plan_hash),
            None,
            "bad",
        ),
        Event::BreakGlass(g) => (
            kind,
            format!("BREAK-GLASS by {}: ", g.principal),
            format!(
                "{} (in place of: {}; plan {})",
                g.reason,
                g.rules.join("; "),
                g.plan_hash
            ),
            None,
            "bad",
        ),
        Event::CoSign(c) => (
            kind,
            format!(
                "co-signed break-glass run {} by {} ({} {})",
                c.run, c.principal, c.algorithm, c.fingerprint
            ),
            format!("plan {}", c.plan_hash),
            None,
            "",
        ),
        Event::Lock(l) => (
            kind,
            if l.acquired {
                format!("locked {}", l.resources.join(", "))
            } else {
                format!(
                    "lock {} held by another run",
                    l.blocked_on.as_deref().unwrap_or("")
                )
            },
            l.holder.as_ref().map(|h| h.to_string()).unwrap_or_default(),
            None,
            if l.acquired { "" } else { "bad" },
        ),
        Event::Module(m) => (
            kind,
            format!("loaded module {} ({})", m.name, m.origin),
            format!("sha256 {}", m.source_sha256),
            None,
            if m.origin == "built-in" {
                ""
            } else {
                "sev-warn"
            },
        ),
        Event::Log(l) => ("print".into(), String::new(), l.message.clone(), None, ""),
        Event::Answer(a) => (
            "answer".into(),
            format!(
                "{} answered {} (try {}): ",
                a.question,
                if a.correct { "right" } else { "wrong" },
                a.attempt
            ),
            a.answer.clone(),
            None,
            if a.correct { "" } else { "bad" },
        ),
        Event::Finding(f) => (
            "finding".into(),
            format!("{} {} — {}", f.severity, f.subject, f.summary),
            String::new(),
            None,
            match f.severity.as_str() {
                "crit" => "sev-crit",
                "warn" => "sev-warn",
                _ => "",
            },
        ),
        Event::Drill(d) => (
            kind,
            format!(
                "drill {} of {}: {}",
                d.result,
                d.dump,
                d.mismatches.join("; ")
            ),
            format!(
                "RPO {} s, RTO {} ms, sha256 {}",
                d.rpo_secs.map_or("?".into(), |s| s.to_string()),
                d.rto_ms,
                d.sha256
            ),
            None,
            if d.result == "pass" { "" } else { "bad" },
        ),
        Event::RunEnd(r) => (
            kind,
            format!("{}, exit {}", r.status, r.exit_code),
            r.error
                .clone()
                .map(|e| format!(": {e}"))
                .unwrap_or_default(),
            r.duration_ms,
            if r.exit_code == 0 { "" } else { "bad" },
        ),
        Event::Interrupted(i) => (
            kind,
            format!("interrupted: {}", i.reason),
            String::new(),
            None,
            "bad",
        ),
    }
}

fn gates(h: &mut String, run: &RunSection) {
    let rows: Vec<_> = run
        .events
        .iter()
        .filter_map(|e| match e.event() {
            Some(Event::Gate(g)) => Some((e, g)),
            _ => None,
        })
        .collect();
    if rows.is_empty() {
        return;
    }
    h.push_str("<h3>Gates</h3><table class=\"gates\"><thead><tr><th>question</th><th>answer</th><th>verdict</th><th>who</th><th>how</th></tr></thead><tbody>");
    for (_, g) in rows {
        let verdict = match g.approved {
            Some(true) => "approved",
            Some(false) => "refused",
            None => "-",
        };
        let _ =
            write!(
            h,
            "<tr><td>{}</td><td>{}</td><td class=\"{}\">{verdict}</td><td>{}</td><td>{}</td></tr>",
            esc(&shown(&g.question)),
            esc(&shown(&g.answer)),
            if g.approved == Some(false) { "st-refused" } else { "st-ok" },
            esc(&shown(&g.answered_by)),
            esc(&shown(&g.via))
        );
    }
    h.push_str("</tbody></table>");
}

fn refusals(h: &mut String, run: &RunSection) {
    let reasons: Vec<_> = run
        .events
        .iter()
        .filter_map(|e| match e.event() {
            Some(Event::Refused(r)) => Some(r),
            _ => None,
        })
        .collect();
    if reasons.is_empty() {
        return;
    }
    h.push_str("<h3>Refusals</h3><ul class=\"refusals\">");
    for r in reasons {
        let _ = write!(
            h,
            "<li>{}{}</li>",
            r.function
                .as_deref()
                .map(|f| format!("{} ", esc(f)))
                .unwrap_or_default(),
            esc(&shown(&r.reason))
        );
    }
    h.push_str("</ul>");
}

/// File changes: the unified diffs that intents and planned calls carry in their plan.
fn changes(h: &mut String, run: &RunSection) {
    let mut diffs = Vec::new();
    for e in &run.events {
        let (function, plan, planned) = match e.event() {
            Some(Event::Intent(i)) => (&i.function, &i.plan, false),
            Some(Event::Planned(p)) => (&p.function, &p.plan, true),
            _ => continue,
        };
        if let Some(diff) = plan.get("diff").and_then(Value::as_str) {
            let path = plan
                .get("path")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            diffs.push((function.clone(), path, diff.to_string(), planned));
        }
    }
    if diffs.is_empty() {
        return;
    }
    h.push_str("<h3>File changes</h3>");
    for (function, path, diff, planned) in diffs {
        let _ = write!(
            h,
            "<div class=\"diff\"><p>{} <code>{}</code>{}</p><code class=\"block\">",
            esc(&function),
            esc(&path),
            if planned {
                " (dry run: not written)"
            } else {
                ""
            }
        );
        for line in shown(&diff).lines() {
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
    }
}

fn findings(h: &mut String, run: &RunSection) {
    let list: Vec<_> = run
        .events
        .iter()
        .filter_map(|e| match e.event() {
            Some(Event::Finding(f)) => Some(f),
            _ => None,
        })
        .collect();
    if list.is_empty() {
        return;
    }
    h.push_str("<h3>Findings</h3><table class=\"findings\"><thead><tr><th>severity</th><th>subject</th><th>summary</th><th>next step</th></tr></thead><tbody>");
    for f in list {
        let _ = write!(
            h,
            "<tr class=\"sev-{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&f.severity),
            esc(&f.severity),
            esc(&shown(&f.subject)),
            esc(&shown(&f.summary)),
            esc(&shown(&f.next_step))
        );
    }
    h.push_str("</tbody></table>");
}

fn source(h: &mut String, run: &RunSection) {
    let id = &run.detail.summary.id;
    let Some(text) = &run.source else {
        let _ = write!(
            h,
            "<h3>Source</h3><p class=\"st-failed\">The source (sha256 {}) is missing from the database.</p>",
            esc(&run.detail.source_sha256)
        );
        return;
    };
    let _ = write!(
        h,
        "<h3>Source <small>sha256 {}</small></h3><ol class=\"source\">",
        esc(&run.detail.source_sha256)
    );
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
}

fn operator_login(operator: &Value) -> String {
    operator["login"]
        .as_str()
        .or_else(|| operator["user"].as_str())
        .unwrap_or("?")
        .to_string()
}

/// `key=value` pairs of a map, on one line.
fn compact(v: &Value) -> String {
    match v {
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect::<Vec<_>>()
            .join(", "),
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn pretty(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => serde_json::to_string_pretty(other).unwrap_or_default(),
    }
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
