//! `runbook replay RUN`: one run's timeline, from the audit store.

use std::io::{BufWriter, Write};
use std::path::Path;

use console::Style;
use serde_json::{Map, Value};
use tokio::runtime::Runtime;

use super::log::{color_setup, flush, ignore_broken_pipe, io, json_err, status_cell};
use crate::audit::chain::StoredHash;
use crate::audit::clock::{self, human_duration};
use crate::audit::event::StepStatus;
use crate::audit::{
    for_each_event, resolve_run, run_detail, source_text, AuditStore, Event, EventFilter, EventRef,
    Parsed,
};
use crate::error::{Error, Result};
use crate::identity::Operator;

pub const REPLAY_EXAMPLES: &str = "\
Examples:
  runbook replay last                           the newest run, step by step
  runbook replay 20261121T0522                  a run by a unique prefix of its id
  runbook replay last --full                    without folding long values
  runbook replay last --source                  the exact runbook source that ran
  runbook replay last --source --module checks  the exact text of a stdlib module it loaded
  runbook replay last --json | jq '.events | length'

On a terminal the timeline goes through $PAGER (less -FRX by default); --no-pager or
RUNBOOK_PAGER=cat prints it directly.";

/// Show one run: its steps, host calls, gates and outcome.
#[derive(Debug, Clone, clap::Args)]
pub struct ReplayArgs {
    /// The run: a unique prefix of its id, or `last` for the newest run.
    #[arg(value_name = "RUN", add = super::complete::run_ids())]
    pub run: String,
    /// Print JSON: the run and all its events, payloads as stored.
    #[arg(long)]
    pub json: bool,
    /// Print the exact runbook source that ran, and nothing else.
    #[arg(long)]
    pub source: bool,
    /// With --source: the stdlib module NAME the run loaded, instead of the runbook.
    #[arg(long, value_name = "NAME", requires = "source")]
    pub module: Option<String>,
    /// Do not fold long output.
    #[arg(long)]
    pub full: bool,
}

/// The source hash of the module `name` that run `id` loaded, from its `module` event.
async fn module_sha256(conn: &mut sqlx::SqliteConnection, id: &str, name: &str) -> Result<String> {
    let filter = EventFilter {
        run: Some(id.to_string()),
        since: None,
    };
    let (mut found, mut loaded) = (None, Vec::new());
    for_each_event(conn, &filter, |e| {
        if e.kind != "module" {
            return Ok::<(), Error>(());
        }
        if let Parsed::Event(Event::Module(m)) = Event::parse(e.kind, e.payload) {
            if m.name == name {
                found = Some(m.source_sha256.clone());
            }
            loaded.push(m.name);
        }
        Ok::<(), Error>(())
    })
    .await?;
    found.ok_or_else(|| {
        Error::Usage(format!(
            "run {id} loaded no module `{name}` (it loaded: {})",
            if loaded.is_empty() {
                "none".to_string()
            } else {
                loaded.join(", ")
            }
        ))
    })
}

/// Lines of a multi-line value shown before folding.
const FOLD_LINES: usize = 4;
/// Characters of a single-line value shown before folding.
const FOLD_CHARS: usize = 240;

pub fn run(args: &ReplayArgs, db: &Path, rt: &Runtime, no_pager: bool) -> Result<()> {
    color_setup();
    let mut paged = super::pager::start(no_pager || args.json)?;
    let result = {
        let mut out = BufWriter::with_capacity(64 * 1024, paged.writer());
        ignore_broken_pipe(render(args, db, rt, &mut out).and_then(|()| flush(&mut out)))
    };
    let finished = paged.finish();
    result.and(finished)
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
            let (what, sha256) = match &args.module {
                None => ("source".to_string(), detail.source_sha256.clone()),
                Some(name) => (
                    format!("module {name}"),
                    module_sha256(&mut conn, &id, name).await?,
                ),
            };
            let text = source_text(&mut conn, &sha256).await?.ok_or_else(|| {
                Error::Audit(format!(
                    "the {what} of run {id} (sha256 {sha256}) is missing from the database"
                ))
            })?;
            if args.json {
                let v = serde_json::json!({"sha256": sha256, "text": text});
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
    let op = Operator::from_record(&d.operator_identity);
    let mut who = s.operator.clone();
    who.push_str(&format!(" (from {})", op.source.as_str()));
    if !op.effective_user.is_empty() && op.effective_user != s.operator {
        who.push_str(&format!(", as {}", op.effective_user));
    }
    if let Some(tty) = &op.tty {
        who.push_str(&format!(", on {tty}"));
    }
    let field = |name: &str| dim.apply_to(format!("{name:<9}")).to_string();
    writeln!(out, "  {} {who}", field("operator")).map_err(io)?;
    writeln!(out, "  {} {}", field("evidence"), evidence(&op)).map_err(io)?;
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
    if let Some(state) = &d.change_control.break_glass {
        writeln!(out, "  {} {}", field("approval"), break_glass_line(state)).map_err(io)?;
    }
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

/// What the operator's identity was decided from: `loginuid unset, euid 0, SUDO_USER=miguel
/// (ignored: ...)`.
fn evidence(op: &Operator) -> String {
    let Some(e) = &op.evidence else {
        return "not recorded (an earlier version recorded this run)".into();
    };
    let mut parts = vec![
        match e.loginuid {
            Some(u) => format!("loginuid {u}"),
            None => "loginuid unset".to_string(),
        },
        format!("euid {}", op.euid),
    ];
    if let Some(user) = &e.sudo_user {
        parts.push(format!("SUDO_USER={user}"));
    }
    if let Some(uid) = &e.sudo_uid {
        parts.push(format!("SUDO_UID={uid}"));
    }
    if let Some(pid) = e.sudo_parent_pid {
        let by = e
            .sudo_parent_uid
            .map(|u| format!(", run by uid {u}"))
            .unwrap_or_default();
        parts.push(format!("sudo parent pid {pid}{by}"));
    }
    let mut text = parts.join(", ");
    if let Some(why) = &e.sudo_ignored {
        text.push_str(&format!(" (SUDO_USER ignored: {why})"));
    }
    text
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
    fn call(&self, name: &str, args: &Value) -> String {
        let args = match args {
            Value::Object(m) => m
                .iter()
                .map(|(k, v)| format!("{k}={}", compact(v, false)))
                .collect::<Vec<_>>()
                .join(", "),
            Value::Null => String::new(),
            other => compact(other, false),
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

    /// ` (12 ms)` for a known duration.
    fn took(ms: Option<u64>) -> String {
        ms.map(|ms| {
            Style::new()
                .dim()
                .apply_to(format!(" ({})", human_duration(ms as f64 / 1000.0)))
                .to_string()
        })
        .unwrap_or_default()
    }

    /// `= result (took)` or `✗ error (took)`, and the result's folded blocks.
    fn result_lines(
        &self,
        head: String,
        result: Option<&Value>,
        error: Option<&str>,
        ms: Option<u64>,
    ) -> (String, Vec<String>) {
        let took = Self::took(ms);
        match (error, result) {
            (Some(err), _) => (
                format!(
                    "{head} {} {}{took}",
                    Style::new().red().apply_to("✗"),
                    self.fold_line(err)
                ),
                vec![],
            ),
            (None, Some(result)) => {
                let (inline, blocks) = self.value_lines(result, &" ".repeat(18));
                (format!("{head} = {inline}{took}"), blocks)
            }
            (None, None) => (format!("{head}{took}"), vec![]),
        }
    }

    fn event(&mut self, out: &mut dyn Write, e: &EventRef<'_>) -> Result<()> {
        let at = match offset(self.started, e.time) {
            Some(s) => format!("+{s:.3}s"),
            None => e.time.to_string(),
        };
        let dim = Style::new().dim();
        let at = dim.apply_to(format!("{at:>10}"));
        let ok = Style::new().green();
        let bad = Style::new().red();
        let warn = Style::new().yellow();
        let event = match Event::parse(e.kind, e.payload) {
            Parsed::Event(event) => event,
            Parsed::Other { kind, payload } => {
                let (inline, blocks) = self.value_lines(&payload, &" ".repeat(18));
                return self.write(out, &at, format!("    {kind} {inline}"), blocks);
            }
            Parsed::Unreadable {
                kind,
                payload,
                problem,
            } => {
                let (inline, blocks) = self.value_lines(&payload, &" ".repeat(18));
                let line = format!(
                    "    {kind} {} {inline}",
                    warn.apply_to(format!("(unreadable: {problem})"))
                );
                return self.write(out, &at, line, blocks);
            }
        };
        let (line, blocks): (String, Vec<String>) = match &event {
            Event::RunStart(start) => (
                format!(
                    "start{}{}",
                    if start.kind.as_deref() == Some("learn") {
                        " (learn session)"
                    } else {
                        ""
                    },
                    if start.dry_run {
                        format!(
                            " (dry run{})",
                            start
                                .dry_run_reason
                                .as_ref()
                                .map(|r| format!(": {r}"))
                                .unwrap_or_default()
                        )
                    } else {
                        String::new()
                    }
                ),
                vec![],
            ),
            Event::StepStart(_) => (
                format!(
                    "{} {}",
                    Style::new().bold().apply_to("▸ step"),
                    Style::new().bold().apply_to(e.step.unwrap_or("?"))
                ),
                vec![],
            ),
            Event::StepEnd(end) => {
                let took = Self::took(end.duration_ms);
                let text = match (end.status, &end.error) {
                    (StepStatus::Failed, err) => format!(
                        "{} step failed{}{took}",
                        bad.apply_to("✗"),
                        err.as_ref()
                            .map(|e| format!(": {}", self.fold_line(e)))
                            .unwrap_or_default()
                    ),
                    (StepStatus::Ok, _) => format!("{} step ok{took}", ok.apply_to("✓")),
                    (StepStatus::Skipped, _) => {
                        format!("{} step skipped by the learner", dim.apply_to("-"))
                    }
                };
                (format!("  {text}"), vec![])
            }
            Event::Call(call) => {
                let mut head = format!("    · {}", self.call(&call.function, &call.args));
                if call.prefetched {
                    head.push_str(&dim.apply_to(" (prefetched)").to_string());
                }
                self.result_lines(
                    head,
                    call.result.as_ref(),
                    call.error.as_deref(),
                    call.duration_ms,
                )
            }
            Event::Outcome(outcome) => self.result_lines(
                format!("      → {}", outcome.function),
                outcome.result.as_ref(),
                outcome.error.as_deref(),
                outcome.duration_ms,
            ),
            Event::Intent(intent) => (
                format!(
                    "    {} {}",
                    warn.apply_to("✎"),
                    warn.apply_to(self.call(&intent.function, &intent.args))
                ),
                vec![],
            ),
            Event::Planned(planned) => {
                let plan = if planned.plan.is_null() {
                    String::new()
                } else {
                    format!(": {}", self.fold_line(&compact(&planned.plan, true)))
                };
                (
                    format!(
                        "    {} would {}{plan}",
                        dim.apply_to("◌"),
                        self.call(&planned.function, &planned.args)
                    ),
                    vec![],
                )
            }
            Event::Gate(gate) => {
                let who = if gate.answered_by.is_empty() {
                    String::new()
                } else {
                    format!("by {}, ", gate.answered_by)
                };
                let how = match (who.as_str(), gate.via.as_str()) {
                    ("", "") => String::new(),
                    (who, via) => format!(" ({})", format!("{who}{via}").trim_end_matches(", ")),
                };
                let verdict = match gate.approved {
                    Some(true) => format!(": {}", ok.apply_to("approved")),
                    Some(false) => format!(": {}", bad.apply_to("refused")),
                    None => String::new(),
                };
                let answer = match (gate.via.as_str(), gate.answer.as_str()) {
                    ("dry run: not asked", _) => dim.apply_to("not asked (dry run)").to_string(),
                    (_, "") => format!("no answer{how}{verdict}"),
                    (_, answer) => {
                        format!("{}{how}{verdict}", Style::new().bold().apply_to(answer))
                    }
                };
                (
                    format!("    {} {} → {answer}", warn.apply_to("?"), gate.question),
                    vec![],
                )
            }
            Event::Refused(refused) => {
                let what = refused
                    .function
                    .as_ref()
                    .map(|f| format!("{f}: "))
                    .unwrap_or_default();
                (
                    format!(
                        "    {} refused: {what}{}",
                        bad.apply_to("⊘"),
                        self.fold_line(&refused.reason)
                    ),
                    vec![],
                )
            }
            Event::Approval(a) => (
                format!(
                    "    {} approved by {} ({} {}) for plan {}",
                    ok.apply_to("✔"),
                    a.principal,
                    a.algorithm,
                    a.fingerprint,
                    short(&a.plan_hash)
                ),
                vec![],
            ),
            Event::Signature(sig) => {
                let key = match (&sig.algorithm, &sig.fingerprint) {
                    (Some(a), Some(f)) => format!(" ({a} {f}"),
                    _ => " (not a signature".to_string(),
                };
                let ns = sig
                    .namespace
                    .as_ref()
                    .map(|n| format!(", namespace {n}"))
                    .unwrap_or_default();
                let who = sig.principal.as_deref().unwrap_or("no operator");
                let mark = if sig.verdict == crate::audit::event::ACCEPTED {
                    ok.apply_to("✔")
                } else {
                    bad.apply_to("⊘")
                };
                (
                    format!(
                        "    {mark} signature by {who}{key}{ns}) {} for plan {}: {}",
                        sig.verdict,
                        short(&sig.plan_hash),
                        self.fold_line(&sig.reason)
                    ),
                    vec![],
                )
            }
            Event::PlanRefused(r) => {
                let mut blocks = Vec::new();
                let (first, rest) = r.reason.split_once('\n').unwrap_or((&r.reason, ""));
                if !rest.is_empty() {
                    self.block(rest, &" ".repeat(18), &mut blocks);
                }
                (
                    format!(
                        "    {} run --plan refused ({}) for plan {}: {}",
                        bad.apply_to("⊘"),
                        r.check,
                        short(&r.plan_hash),
                        self.fold_line(first)
                    ),
                    blocks,
                )
            }
            Event::BreakGlass(g) => (
                format!(
                    "    {} by {} for plan {}: {} (in place of: {})",
                    bad.clone().bold().apply_to("BREAK-GLASS"),
                    g.principal,
                    short(&g.plan_hash),
                    self.fold_line(&g.reason),
                    self.fold_line(&g.rules.join("; "))
                ),
                vec![],
            ),
            Event::CoSign(c) => (
                format!(
                    "    {} co-signed break-glass run {} by {} ({} {}) for plan {}",
                    ok.apply_to("✔"),
                    c.run,
                    c.principal,
                    c.algorithm,
                    c.fingerprint,
                    short(&c.plan_hash)
                ),
                vec![],
            ),
            Event::Lock(lock) => (format!("    {}", lock_line(lock, &ok, &bad)), vec![]),
            Event::Module(m) => (
                format!(
                    "    {} module {} ({}, sha256 {})",
                    dim.apply_to("import"),
                    m.name,
                    m.origin,
                    &m.source_sha256[..m.source_sha256.len().min(12)]
                ),
                vec![],
            ),
            Event::Answer(a) => (
                format!(
                    "    {} {} -> {} ({}, try {})",
                    dim.apply_to("answer:"),
                    self.fold_line(&a.question),
                    self.fold_line(&a.answer),
                    if a.correct { "right" } else { "wrong" },
                    a.attempt
                ),
                vec![],
            ),
            Event::Log(log) => {
                let mut blocks = Vec::new();
                let first = if log.message.contains('\n') {
                    self.block(&log.message, &" ".repeat(18), &mut blocks);
                    String::new()
                } else {
                    self.fold_line(&log.message)
                };
                (
                    format!("    {} {first}", dim.apply_to(format!("{}:", log.level))),
                    blocks,
                )
            }
            Event::Finding(f) => (
                format!(
                    "    ! [{}] {}: {}",
                    f.severity,
                    f.subject,
                    self.fold_line(&f.summary)
                ),
                vec![],
            ),
            Event::Drill(d) => (
                format!(
                    "    {} drill {} of {} (RPO {} s, RTO {} ms){}",
                    if d.result == "pass" {
                        ok.apply_to("✓")
                    } else {
                        bad.apply_to("✗")
                    },
                    d.result,
                    d.dump,
                    d.rpo_secs.map_or("?".into(), |s| s.to_string()),
                    d.rto_ms,
                    if d.mismatches.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", self.fold_line(&d.mismatches.join("; ")))
                    }
                ),
                vec![],
            ),
            Event::RunEnd(end) => {
                let state = crate::audit::RunState::from_end_status(&end.status);
                let (text, style) = status_cell(state, false);
                let err = end
                    .error
                    .as_ref()
                    .map(|e| format!(": {}", self.fold_line(e)))
                    .unwrap_or_default();
                (
                    format!(
                        "end {} (exit code {}){err}",
                        style.apply_to(text),
                        end.exit_code
                    ),
                    vec![],
                )
            }
            Event::Interrupted(i) => (
                format!(
                    "{} {}",
                    Style::new().magenta().bold().apply_to("interrupted"),
                    i.reason
                ),
                vec![],
            ),
        };
        self.write(out, &at, line, blocks)
    }

    fn write(
        &self,
        out: &mut dyn Write,
        at: &dyn std::fmt::Display,
        line: String,
        blocks: Vec<String>,
    ) -> Result<()> {
        writeln!(out, "{at}  {line}").map_err(io)?;
        for b in blocks {
            writeln!(out, "{b}").map_err(io)?;
        }
        Ok(())
    }
}

/// A plan hash as replay shows it: its first 16 hex digits.
fn short(hash: &str) -> &str {
    &hash[..hash.len().min(16)]
}

/// The break-glass state of a run, for its header: red until a second operator co-signed.
fn break_glass_line(state: &crate::audit::BreakGlassState) -> String {
    let style = if state.co_signed {
        Style::new().yellow()
    } else {
        Style::new().red().bold()
    };
    style.apply_to(state.describe()).to_string()
}

/// One line for a `lock` event: what was locked after how long, or who held what.
fn lock_line(lock: &crate::audit::event::Lock, ok: &Style, bad: &Style) -> String {
    let what = lock.resources.join(", ");
    if lock.acquired {
        return format!(
            "{} locked {what} (waited {} ms)",
            ok.apply_to("🔒"),
            lock.waited_ms
        );
    }
    let holder = lock
        .holder
        .as_ref()
        .map_or("an unknown run".to_string(), |h| {
            format!(
                "{} (run {}, runbook {}, since {})",
                h["operator"].as_str().unwrap_or("?"),
                h["run_id"].as_str().unwrap_or("?"),
                h["runbook"].as_str().unwrap_or("?"),
                h["since"].as_str().unwrap_or("?")
            )
        });
    format!(
        "{} lock {} held by {holder} (waited {} ms)",
        bad.apply_to("⊘"),
        lock.blocked_on.as_deref().unwrap_or(&what),
        lock.waited_ms
    )
}
