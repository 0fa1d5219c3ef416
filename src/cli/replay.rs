//! `runbook replay RUN`: one run's timeline, from the audit store.

use std::io::{BufWriter, Write};
use std::path::Path;

use console::Style;
use serde_json::{Map, Value};
use tokio::runtime::Runtime;

use super::log::{color_setup, flush, ignore_broken_pipe, io, json_err, status_cell};
use crate::audit::chain::StoredHash;
use crate::audit::clock::{self, human_duration};
use crate::audit::{
    for_each_event, resolve_run, run_detail, source_text, AuditStore, EventFilter, EventRef,
};
use crate::error::{Error, Result};

/// Show one run: its steps, host calls, gates and outcome.
#[derive(Debug, Clone, clap::Args)]
pub struct ReplayArgs {
    /// The run: a unique prefix of its id, or `last` for the newest run.
    #[arg(value_name = "RUN")]
    pub run: String,
    /// Print JSON: the run and all its events, payloads as stored.
    #[arg(long)]
    pub json: bool,
    /// Print the exact runbook source that ran, and nothing else.
    #[arg(long)]
    pub source: bool,
    /// Do not fold long output.
    #[arg(long)]
    pub full: bool,
}

/// Lines of a multi-line value shown before folding.
const FOLD_LINES: usize = 4;
/// Characters of a single-line value shown before folding.
const FOLD_CHARS: usize = 240;

pub fn run(args: &ReplayArgs, db: &Path, rt: &Runtime) -> Result<()> {
    color_setup();
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(64 * 1024, stdout.lock());
    ignore_broken_pipe(render(args, db, rt, &mut out).and_then(|()| flush(&mut out)))
}

/// Write the replay of `args.run` to `out`.
pub fn render(args: &ReplayArgs, db: &Path, rt: &Runtime, out: &mut dyn Write) -> Result<()> {
    rt.block_on(async {
        let store = AuditStore::open_existing(db).await?.ok_or_else(|| {
            Error::Usage(format!(
                "no run {:?}: no runs recorded yet ({} does not exist)",
                args.run,
                db.display()
            ))
        })?;
        let mut conn = store.reader().await?;
        let id = resolve_run(&mut conn, &args.run).await?;
        let detail = run_detail(&mut conn, &id).await?;

        if args.source {
            let text = source_text(&mut conn, &detail.source_sha256)
                .await?
                .ok_or_else(|| {
                    Error::Audit(format!(
                        "the source of run {id} (sha256 {}) is missing from the database",
                        detail.source_sha256
                    ))
                })?;
            if args.json {
                let v = serde_json::json!({"sha256": detail.source_sha256, "text": text});
                writeln!(out, "{v}").map_err(io)?;
            } else {
                out.write_all(text.as_bytes()).map_err(io)?;
            }
            return Ok(());
        }

        let started = clock::parse_time(&detail.summary.started_at);
        let only_this_run = EventFilter {
            run: Some(id.clone()),
            since: None,
        };
        if args.json {
            write!(out, "{{\"run\":").map_err(io)?;
            serde_json::to_writer(&mut *out, &detail).map_err(json_err)?;
            write!(out, ",\"events\":[").map_err(io)?;
            let mut first = true;
            for_each_event(&mut conn, &only_this_run, |e| {
                if !first {
                    out.write_all(b",").map_err(io)?;
                }
                first = false;
                write_json_event(out, e, started)
            })
            .await?;
            writeln!(out, "]}}").map_err(io)?;
            return Ok(());
        }

        header(out, &detail)?;
        let mut timeline = Timeline {
            full: args.full,
            started,
        };
        for_each_event(&mut conn, &only_this_run, |e| timeline.event(out, e)).await?;
        footer(out, &detail)
    })
}

fn offset(started: Option<chrono::DateTime<chrono::Utc>>, time: &str) -> Option<f64> {
    let t = clock::parse_time(time)?;
    Some((t - started?).num_microseconds()? as f64 / 1e6)
}

fn write_json_event(
    out: &mut dyn Write,
    e: &EventRef<'_>,
    started: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<()> {
    #[derive(serde::Serialize)]
    struct Head<'a> {
        id: i64,
        seq: i64,
        time: &'a str,
        offset_s: Option<f64>,
        kind: &'a str,
        step: Option<&'a str>,
        prev_hash: StoredHash<'a>,
        hash: StoredHash<'a>,
    }
    let head = Head {
        id: e.id,
        seq: e.seq,
        time: e.time,
        offset_s: offset(started, e.time),
        kind: e.kind,
        step: e.step,
        prev_hash: e.prev_hash,
        hash: e.hash,
    };
    let mut text = serde_json::to_vec(&head).map_err(json_err)?;
    text.pop(); // the closing brace
    out.write_all(&text).map_err(io)?;
    out.write_all(b",\"payload\":").map_err(io)?;
    // The stored text is JSON written by the store; splice it in as is (fast, and exactly what
    // was hashed). Should it not parse (a tampered database), emit it as a string instead.
    if serde_json::from_str::<serde::de::IgnoredAny>(e.payload).is_ok() {
        out.write_all(e.payload.as_bytes()).map_err(io)?;
    } else {
        serde_json::to_writer(&mut *out, e.payload).map_err(json_err)?;
    }
    out.write_all(b"}").map_err(io)?;
    Ok(())
}

fn header(out: &mut dyn Write, d: &crate::audit::RunDetail) -> Result<()> {
    let s = &d.summary;
    let bold = Style::new().bold();
    let dim = Style::new().dim();
    let (status, style) = status_cell(s.status, s.dry_run);
    writeln!(
        out,
        "{} {}  {}",
        bold.apply_to(&s.runbook),
        dim.apply_to(&s.id),
        style.apply_to(status)
    )
    .map_err(io)?;
    let op = &d.operator_identity;
    let mut who = s.operator.clone();
    if let Some(src) = op.get("login_source").and_then(Value::as_str) {
        who.push_str(&format!(" (from {src})"));
    }
    if let Some(user) = op.get("user").and_then(Value::as_str) {
        if user != s.operator {
            who.push_str(&format!(", as {user}"));
        }
    }
    if let Some(tty) = op.get("tty").and_then(Value::as_str) {
        who.push_str(&format!(", on {tty}"));
    }
    let field = |name: &str| dim.apply_to(format!("{name:<9}")).to_string();
    writeln!(out, "  {} {who}", field("operator")).map_err(io)?;
    writeln!(out, "  {} {}", field("host"), s.host).map_err(io)?;
    writeln!(
        out,
        "  {} {} ({})",
        field("started"),
        clock::local_display(&s.started_at),
        s.started_at
    )
    .map_err(io)?;
    writeln!(out, "  {} {}", field("params"), d.params).map_err(io)?;
    writeln!(
        out,
        "  {} sha256 {} (runbook replay {} --source)",
        field("source"),
        d.source_sha256,
        s.id
    )
    .map_err(io)?;
    writeln!(out).map_err(io)?;
    Ok(())
}

fn footer(out: &mut dyn Write, d: &crate::audit::RunDetail) -> Result<()> {
    let s = &d.summary;
    let (status, style) = status_cell(s.status, s.dry_run);
    let mut line = format!("status: {}", style.apply_to(status));
    if let Some(code) = s.exit_code {
        line.push_str(&format!(", exit code {code}"));
    }
    if let Some(ms) = s.duration_ms {
        line.push_str(&format!(", took {}", human_duration(ms as f64 / 1000.0)));
    }
    writeln!(out).map_err(io)?;
    writeln!(out, "{line}").map_err(io)?;
    if let Some(err) = &s.error {
        writeln!(out, "error: {err}").map_err(io)?;
    }
    Ok(())
}

struct Timeline {
    full: bool,
    started: Option<chrono::DateTime<chrono::Utc>>,
}

/// Compact one-line JSON of a value; strings without quotes when `bare`.
fn compact(v: &Value, bare: bool) -> String {
    match v {
        Value::String(s) if bare => s.clone(),
        other => other.to_string(),
    }
}

impl Timeline {
    fn fold_line(&self, s: &str) -> String {
        if self.full || s.chars().count() <= FOLD_CHARS {
            return s.to_string();
        }
        let cut: String = s.chars().take(FOLD_CHARS).collect();
        let more = s.chars().count() - FOLD_CHARS;
        format!("{cut}… {more} more characters (use --full)")
    }

    /// `fn(a="x", b=2)`.
    fn call(&self, p: &Value) -> String {
        let name = p
            .get("function")
            .or_else(|| p.get("fn"))
            .and_then(Value::as_str)
            .unwrap_or("?");
        let args = match p.get("args") {
            Some(Value::Object(m)) => m
                .iter()
                .map(|(k, v)| format!("{k}={}", compact(v, false)))
                .collect::<Vec<_>>()
                .join(", "),
            Some(Value::Null) | None => String::new(),
            Some(other) => compact(other, false),
        };
        self.fold_line(&format!("{name}({args})"))
    }

    /// A result: inline fields, then multi-line strings as folded blocks.
    fn value_lines(&self, v: &Value, indent: &str) -> (String, Vec<String>) {
        let mut blocks = Vec::new();
        let inline = match v {
            Value::String(s) if s.contains('\n') => {
                self.block(s, indent, &mut blocks);
                String::new()
            }
            Value::Object(m) => {
                let mut inline = Map::new();
                let mut multi = Vec::new();
                for (k, v) in m {
                    match v {
                        Value::String(s) if s.contains('\n') => multi.push((k, s)),
                        other => {
                            inline.insert(k.clone(), other.clone());
                        }
                    }
                }
                for (k, s) in multi {
                    blocks.push(format!("{indent}{k}:"));
                    self.block(s, &format!("{indent}  "), &mut blocks);
                }
                if inline.is_empty() {
                    String::new()
                } else {
                    self.fold_line(&Value::Object(inline).to_string())
                }
            }
            other => self.fold_line(&compact(other, false)),
        };
        (inline, blocks)
    }

    fn block(&self, s: &str, indent: &str, out: &mut Vec<String>) {
        let lines: Vec<&str> = s.trim_end_matches('\n').lines().collect();
        let shown = if self.full {
            lines.len()
        } else {
            lines.len().min(FOLD_LINES)
        };
        for l in &lines[..shown] {
            out.push(format!("{indent}{}", self.fold_line(l)));
        }
        if shown < lines.len() {
            out.push(format!(
                "{indent}{}",
                Style::new()
                    .dim()
                    .apply_to(format!("… {} more lines (use --full)", lines.len() - shown))
            ));
        }
    }

    fn event(&mut self, out: &mut dyn Write, e: &EventRef<'_>) -> Result<()> {
        let p: Value =
            serde_json::from_str(e.payload).unwrap_or_else(|_| Value::String(e.payload.into()));
        let at = match offset(self.started, e.time) {
            Some(s) => format!("+{s:.3}s"),
            None => e.time.to_string(),
        };
        let dim = Style::new().dim();
        let at = dim.apply_to(format!("{at:>10}"));
        let ok = Style::new().green();
        let bad = Style::new().red();
        let warn = Style::new().yellow();
        let str_of = |k: &str| p.get(k).and_then(Value::as_str).map(str::to_string);
        let (line, blocks): (String, Vec<String>) = match e.kind {
            "run-start" => (
                format!(
                    "start{}",
                    if p["dry_run"] == Value::Bool(true) {
                        format!(
                            " (dry run{})",
                            str_of("dry_run_reason")
                                .map(|r| format!(": {r}"))
                                .unwrap_or_default()
                        )
                    } else {
                        String::new()
                    }
                ),
                vec![],
            ),
            "step-start" => (
                format!(
                    "{} {}",
                    Style::new().bold().apply_to("▸ step"),
                    Style::new().bold().apply_to(e.step.unwrap_or("?"))
                ),
                vec![],
            ),
            "step-end" => {
                let status = str_of("status").unwrap_or_else(|| "done".into());
                let text = match str_of("error") {
                    Some(err) => {
                        format!("{} {status}: {}", bad.apply_to("✗"), self.fold_line(&err))
                    }
                    None => format!("{} step {status}", ok.apply_to("✓")),
                };
                (format!("  {text}"), vec![])
            }
            "call" | "outcome" => {
                let mark = if e.kind == "call" { "·" } else { "  →" };
                let head = if e.kind == "call" {
                    format!("    {mark} {}", self.call(&p))
                } else {
                    format!(
                        "    {mark} {}",
                        p.get("function")
                            .or_else(|| p.get("fn"))
                            .and_then(Value::as_str)
                            .unwrap_or("result")
                    )
                };
                let took = p
                    .get("duration_ms")
                    .and_then(Value::as_f64)
                    .map(|ms| {
                        dim.apply_to(format!(" ({})", human_duration(ms / 1000.0)))
                            .to_string()
                    })
                    .unwrap_or_default();
                if let Some(err) = p.get("error").filter(|v| !v.is_null()) {
                    (
                        format!(
                            "{head} {} {}{took}",
                            bad.apply_to("✗"),
                            self.fold_line(&compact(err, true))
                        ),
                        vec![],
                    )
                } else if let Some(result) = p.get("result") {
                    let (inline, blocks) = self.value_lines(result, &" ".repeat(18));
                    (format!("{head} = {inline}{took}"), blocks)
                } else {
                    (format!("{head}{took}"), vec![])
                }
            }
            "intent" => (
                format!(
                    "    {} {}",
                    warn.apply_to("✎"),
                    warn.apply_to(self.call(&p))
                ),
                vec![],
            ),
            "planned" => {
                let plan = p
                    .get("plan")
                    .map(|v| format!(": {}", self.fold_line(&compact(v, true))))
                    .unwrap_or_default();
                (
                    format!("    {} would {}{plan}", dim.apply_to("◌"), self.call(&p)),
                    vec![],
                )
            }
            "gate" => {
                let q = str_of("question").unwrap_or_else(|| "?".into());
                let answer = p
                    .get("answer")
                    .map(|a| compact(a, true))
                    .unwrap_or_default();
                let by = str_of("answered_by")
                    .map(|b| format!(" (by {b})"))
                    .unwrap_or_default();
                (
                    format!(
                        "    {} {q} → {}{by}",
                        warn.apply_to("?"),
                        Style::new().bold().apply_to(answer)
                    ),
                    vec![],
                )
            }
            "log" => {
                let level = str_of("level").unwrap_or_else(|| "info".into());
                let msg = p
                    .get("message")
                    .map(|m| compact(m, true))
                    .unwrap_or_default();
                let mut blocks = Vec::new();
                let first = if msg.contains('\n') {
                    self.block(&msg, &" ".repeat(18), &mut blocks);
                    String::new()
                } else {
                    self.fold_line(&msg)
                };
                (
                    format!("    {} {first}", dim.apply_to(format!("{level}:"))),
                    blocks,
                )
            }
            "finding" => {
                let sev = str_of("severity").unwrap_or_else(|| "info".into());
                let subject = str_of("subject").unwrap_or_default();
                let summary = str_of("summary").unwrap_or_default();
                (
                    format!("    ! [{sev}] {subject}: {}", self.fold_line(&summary)),
                    vec![],
                )
            }
            "run-end" => {
                let status = str_of("status").unwrap_or_else(|| "?".into());
                let state = crate::audit::RunState::from_end_status(&status);
                let (text, style) = status_cell(state, false);
                let err = str_of("error")
                    .map(|e| format!(": {}", self.fold_line(&e)))
                    .unwrap_or_default();
                (format!("end {}{err}", style.apply_to(text)), vec![])
            }
            "interrupted" => (
                format!(
                    "{} {}",
                    Style::new().magenta().bold().apply_to("interrupted"),
                    str_of("reason").unwrap_or_default()
                ),
                vec![],
            ),
            other => {
                let (inline, blocks) = self.value_lines(&p, &" ".repeat(18));
                (format!("    {other} {inline}"), blocks)
            }
        };
        writeln!(out, "{at}  {line}").map_err(io)?;
        for b in blocks {
            writeln!(out, "{b}").map_err(io)?;
        }
        Ok(())
    }
}
