//! Terminal output of a run: one of the two sinks (the audit recorder is the other) where
//! secrets are redacted, whatever the caller did. Text from runbooks and from the host
//! (names, arguments, results, `print`) also has its control characters escaped, so that a
//! value cannot move the cursor, retitle the terminal or hide what follows it.
//!
//! With `--json` nothing is printed while the run goes on; the command prints one JSON
//! document at the end. Colors come from `console`, which turns them off when stdout is not a
//! terminal; `NO_COLOR` turns them off everywhere.

use std::io::Write;

use console::{style, Style};
use serde_json::Value;

use crate::audit::Redactor;

pub struct Printer {
    pub json: bool,
    pub verbose: bool,
    /// Only the summary line (`-q`).
    pub quiet: bool,
    /// The run's redactor (it learns the run's secrets as they are marked).
    pub redactor: Redactor,
    /// ASCII marks only (`runbook learn`, which must work on any terminal over SSH).
    pub ascii: bool,
}

/// `text` with control characters (and the Unicode controls that reorder text) written as
/// escapes such as `\u{1b}`; newlines only where `keep_newlines`.
pub fn escape_controls(text: &str, keep_newlines: bool) -> String {
    let reorders = |c: char| matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if !text
        .chars()
        .any(|c| (c.is_control() && !(keep_newlines && c == '\n')) || reorders(c))
    {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if (c.is_control() && !(keep_newlines && c == '\n')) || reorders(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

/// Apply the NO_COLOR convention once, at start-up.
pub fn init_colors() {
    if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
        console::set_colors_enabled(false);
        console::set_colors_enabled_stderr(false);
    }
}

/// `key=value` pairs of a JSON map, short enough for one line.
pub fn compact_args(args: &Value) -> String {
    let Value::Object(map) = args else {
        return compact_value(args, 60);
    };
    map.iter()
        .map(|(k, v)| format!("{k}={}", compact_value(v, 60)))
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn compact_value(v: &Value, max: usize) -> String {
    let s = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let s = escape_controls(&s.replace('\n', "⏎"), false);
    if s.chars().count() > max {
        let cut: String = s.chars().take(max).collect();
        format!("{cut}…")
    } else {
        s
    }
}

impl Printer {
    /// A mark: the Unicode one, or its ASCII stand-in.
    fn mark(&self, unicode: &'static str, ascii: &'static str) -> &'static str {
        if self.ascii {
            ascii
        } else {
            unicode
        }
    }

    /// Text from the runbook or the host, made safe to show: redacted, controls escaped.
    fn clean(&self, text: &str) -> String {
        escape_controls(&self.redactor.redact_str(text), false)
    }

    /// A JSON value from the runbook or the host, redacted (keys too).
    fn clean_value(&self, value: &Value) -> Value {
        let mut v = value.clone();
        self.redactor.redact_json(&mut v);
        v
    }

    fn line(&self, text: impl std::fmt::Display) {
        if !self.json && !self.quiet {
            if self.ascii {
                let text = text.to_string().replace('⏎', "\\n").replace('…', "...");
                self.always(text);
            } else {
                self.always(text);
            }
        }
    }

    /// A line even with `-q` (the summary), never with `--json`.
    fn always(&self, text: impl std::fmt::Display) {
        if !self.json {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{text}");
        }
    }

    pub fn run_header(&self, runbook: &str, run_id: &str, operator: &str, mode: &str) {
        self.line(format!(
            "{} {}  run {}  operator {}  {}",
            style("runbook").bold(),
            style(self.clean(runbook)).bold().cyan(),
            style(run_id).dim(),
            operator,
            mode
        ));
    }

    pub fn step_start(&self, name: &str) {
        let name = self.clean(name);
        self.line(format!(
            "{} {}",
            style(self.mark("▸", ">")).cyan(),
            style(name).bold()
        ));
    }

    /// The end of a step: nothing when it went well (unless verbose); when it failed, why,
    /// on the same line, so the cause is seen before the summary.
    pub fn step_end(&self, name: &str, failed: Option<&str>, ms: u64) {
        let name = self.clean(name);
        if let Some(why) = failed {
            self.line(format!(
                "  {} step \"{name}\" failed after {ms} ms: {}",
                style(self.mark("✗", "x")).red(),
                one_line(why)
            ));
        } else if self.verbose {
            self.line(format!("  {} {ms} ms", style(self.mark("✓", "ok")).green()));
        }
    }

    pub fn read_call(&self, name: &str, args: &Value, ms: u64) {
        if self.verbose {
            self.line(format!(
                "  {} {name} {} ({ms} ms)",
                style(self.mark("·", ".")).dim(),
                compact_args(&self.clean_value(args))
            ));
        }
    }

    /// A verified approval the run carries out (`run --plan`).
    pub fn approval(&self, principal: &str, algorithm: &str, fingerprint: &str) {
        self.line(format!(
            "  {} approved by {principal} ({algorithm} {fingerprint})",
            style("✔").green()
        ));
    }

    /// The plan runs on its operator's own word (`--break-glass`): loud, and red.
    pub fn break_glass(&self, glass: &crate::audit::event::BreakGlass) {
        self.line(format!(
            "  {} by {}: {} (not co-signed: a second operator co-signs with runbook approve PLAN SIGFILE)",
            style("BREAK-GLASS").red().bold(),
            glass.principal,
            self.clean(&glass.reason)
        ));
    }

    /// The run took the locks its header declares.
    pub fn locked(&self, resources: &[String], waited_ms: u64) {
        let waited = if waited_ms > 0 {
            format!(" after waiting {waited_ms} ms")
        } else {
            String::new()
        };
        self.line(format!(
            "  {} locked {}{waited}",
            style("🔒").dim(),
            resources.join(", ")
        ));
    }

    pub fn mutation(&self, name: &str, args: &Value) {
        self.line(format!(
            "  {} {name} {}",
            style(self.mark("→", "->")).yellow().bold(),
            compact_args(&self.clean_value(args))
        ));
    }

    pub fn outcome(&self, name: &str, ok: bool, value: &Value) {
        let mark = if ok {
            style(self.mark("✓", "ok")).green()
        } else {
            style(self.mark("✗", "x")).red()
        };
        self.line(format!(
            "    {mark} {name}: {}",
            compact_value(&self.clean_value(value), 100)
        ));
    }

    pub fn planned(&self, name: &str, args: &Value, plan: &Value) {
        self.line(format!(
            "  {} would call {name} {}",
            style("DRY RUN").yellow().bold(),
            compact_args(&self.clean_value(args))
        ));
        match &self.clean_value(plan) {
            Value::Null => {}
            Value::Object(map) => {
                for (k, v) in map {
                    match v {
                        Value::String(s) if s.contains('\n') => {
                            self.line(format!("      {}:", self.clean(k)));
                            for l in s.lines() {
                                self.line(format!("        {}", diff_style(&self.clean(l))));
                            }
                        }
                        other => self.line(format!(
                            "      {}: {}",
                            self.clean(k),
                            compact_value(other, 120)
                        )),
                    }
                }
            }
            other => self.line(format!("      {}", compact_value(other, 120))),
        }
    }

    pub fn planned_gate(&self, question: &str) {
        self.line(format!(
            "  {} would ask: {}",
            style("DRY RUN").yellow().bold(),
            self.clean(question)
        ));
    }

    pub fn print(&self, text: &str) {
        for l in text.lines() {
            self.line(format!("  {}", self.clean(l)));
        }
    }

    pub fn warn(&self, text: &str) {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(
            err,
            "{} {}",
            style("warning:").yellow().bold(),
            self.clean(text)
        );
    }

    /// The findings table at the end of a run. Findings a watch already showed as they
    /// happened (`report_live`, which stamps them with a `time`) are not repeated.
    pub fn findings(&self, findings: &[Value]) {
        let rest: Vec<&Value> = findings
            .iter()
            .filter(|f| f.get("time").is_none())
            .collect();
        if self.json || rest.is_empty() {
            return;
        }
        let cleaned: Vec<Value> = rest.iter().map(|f| self.clean_value(f)).collect();
        let rest: Vec<&Value> = cleaned.iter().collect();
        self.line(String::new());
        self.line(findings_table(&rest, table_width()));
    }

    /// One finding of a watch, the moment it is reported: time, severity, subject, summary
    /// (and the next step for warn and crit), on one line each.
    pub fn live_finding(&self, f: &Value) {
        let f = &self.clean_value(f);
        let time = f["time"].as_str().unwrap_or("");
        // RFC 3339 in UTC: the clock time is characters 11..19.
        let clock = time.get(11..19).unwrap_or(time);
        let sev = f["severity"].as_str().unwrap_or("info");
        self.line(format!(
            "{} {} {} {}",
            style(clock).dim(),
            severity_style(sev).apply_to(format!("{sev:<4}")),
            one_line(f["subject"].as_str().unwrap_or("")),
            one_line(f["summary"].as_str().unwrap_or(""))
        ));
        if let Some(next) = next_step(f) {
            self.line(format!(
                "              {} {}",
                style("next:").dim(),
                one_line(next)
            ));
        }
    }

    /// The last line of a run: its status, what it found, how long it took, where to look.
    /// `run_id` is None when the run has no record (its audit store could not be opened):
    /// then the line must not point at a replay.
    pub fn summary(
        &self,
        status: &str,
        counts: &crate::engine::outcome::Counts,
        run_id: Option<&str>,
        not_recorded: Option<&str>,
        ms: u64,
    ) {
        let st = match status {
            "ok" => style(status).green().bold(),
            "refused" | "canceled" => style(status).yellow().bold(),
            _ => style(status).red().bold(),
        };
        let secs = ms as f64 / 1000.0;
        let found = match counts.total() {
            0 => String::new(),
            _ => format!(" ({})", counts.describe()),
        };
        let gap = if self.quiet { "" } else { "\n" };
        self.always(match run_id {
            Some(id) => {
                format!("{gap}{st}{found} in {secs:.1}s; `runbook replay {id}` shows every step")
            }
            None => format!(
                "{gap}{st}{found} in {secs:.1}s; NOT RECORDED in the audit database: {}{}",
                not_recorded.unwrap_or("the audit store could not be opened"),
                if std::path::Path::new(crate::audit::JOURNAL_SOCKET).exists() {
                    "; its start, findings and end are in the journal \
                     (journalctl SYSLOG_IDENTIFIER=runbook)"
                } else {
                    "; no journal here either: this output is the only trace"
                }
            ),
        });
    }
}

fn severity_style(sev: &str) -> Style {
    match sev {
        "crit" => Style::new().red().bold(),
        "warn" => Style::new().yellow().bold(),
        "ok" => Style::new().green(),
        _ => Style::new().cyan(),
    }
}

/// The next step worth showing: warn and crit findings only.
fn next_step(f: &Value) -> Option<&str> {
    let sev = f["severity"].as_str().unwrap_or("");
    if sev != "warn" && sev != "crit" {
        return None;
    }
    f["next_step"].as_str().filter(|s| !s.trim().is_empty())
}

/// A value for one line of output: line breaks (a command's output in a summary) become `⏎`.
fn one_line(s: &str) -> String {
    let s = s.trim_end().replace("\r\n", "⏎").replace(['\n', '\r'], "⏎");
    escape_controls(&s, false)
}

/// The width tables wrap to: the terminal's, else `COLUMNS`, else none (a pipe or a file
/// gets whole lines, for grep).
fn table_width() -> Option<u16> {
    if let Some((_, cols)) = console::Term::stdout().size_checked() {
        return Some(cols);
    }
    std::env::var("COLUMNS").ok()?.trim().parse().ok()
}

/// SEV, SUBJECT, SUMMARY with the next step under the summary, wrapped to `width` when given.
/// comfy-table (maintained, widely used) wraps cells on word boundaries, measures wide and
/// combining characters and, with its `custom_styling` feature, ignores color codes when it
/// measures; a value with line breaks is made one line first, so no value can break a row.
pub fn findings_table(findings: &[&Value], width: Option<u16>) -> String {
    use comfy_table::{presets, Cell, ColumnConstraint, ContentArrangement, Table, Width};
    let mut table = Table::new();
    table.load_preset(presets::NOTHING);
    table.set_header(["SEV", "SUBJECT", "SUMMARY"].map(|h| Cell::new(style(h).bold())));
    match width {
        Some(w) => {
            table.set_content_arrangement(ContentArrangement::Dynamic);
            table.set_width(w);
        }
        None => {
            table.set_content_arrangement(ContentArrangement::Dynamic);
        }
    }
    for f in findings {
        let sev = f["severity"].as_str().unwrap_or("info");
        let mut summary = one_line(f["summary"].as_str().unwrap_or(""));
        if let Some(next) = next_step(f) {
            summary = format!("{summary}\n{} {}", style("next:").dim(), one_line(next));
        }
        table.add_row([
            Cell::new(severity_style(sev).apply_to(sev)),
            Cell::new(one_line(f["subject"].as_str().unwrap_or(""))),
            Cell::new(summary),
        ]);
    }
    // A long subject (a URL) may take at most 40% of a narrow terminal; the summary wraps.
    if let (Some(w), Some(col)) = (width, table.column_mut(1)) {
        col.set_constraint(ColumnConstraint::UpperBoundary(Width::Fixed(
            (w * 2 / 5).max(12),
        )));
    }
    for col in table.column_iter_mut() {
        col.set_padding((0, 1));
    }
    table
        .lines()
        .map(|l| l.trim_end().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

fn diff_style(line: &str) -> String {
    if line.starts_with('+') && !line.starts_with("+++") {
        style(line).green().to_string()
    } else if line.starts_with('-') && !line.starts_with("---") {
        style(line).red().to_string()
    } else {
        line.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn finding(sev: &str, subject: &str, summary: &str, next: &str) -> Value {
        json!({"subject": subject, "severity": sev, "summary": summary, "next_step": next})
    }

    #[test]
    fn table_wraps_to_the_width_and_keeps_multi_line_values_in_their_row() {
        console::set_colors_enabled(false);
        let long = "could not check the units: systemd not reachable at unix:path=/var/run/dbus/system_bus_socket: No such file or directory (os error 2)";
        let rows = [
            finding("warn", "systemd", long, "systemctl --failed"),
            finding("ok", "disk /", "41% used,\nsecond line", ""),
            finding(
                "crit",
                "cloudflared.service",
                "inactive/dead",
                "journalctl -u cloudflared",
            ),
        ];
        let refs: Vec<&Value> = rows.iter().collect();
        let text = findings_table(&refs, Some(60));
        for line in text.lines() {
            assert!(
                line.chars().count() <= 60,
                "wider than 60: {line:?}\n{text}"
            );
        }
        // The multi-line value stays in its own row: one line, with a marker.
        assert!(text.contains("41% used,⏎second line"), "{text}");
        assert!(
            !text
                .lines()
                .any(|l| l.trim_start().starts_with("second line")),
            "{text}"
        );
        // Every word of the long summary is there, wrapped, and the next steps of warn/crit.
        let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(flat.contains("(os error 2)"), "{text}");
        assert!(flat.contains("next: systemctl --failed"), "{text}");
        assert!(flat.contains("next: journalctl -u cloudflared"), "{text}");
        // Without a width (a pipe), each finding keeps its summary on one line.
        let piped = findings_table(&refs, None);
        assert!(piped.lines().any(|l| l.contains(long)), "{piped}");
    }
}
