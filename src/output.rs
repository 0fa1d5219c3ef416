//! Terminal output of a run. Everything shown has already been redacted by the caller.
//!
//! With `--json` nothing is printed while the run goes on; the command prints one JSON
//! document at the end. Colors come from `console`, which turns them off when stdout is not a
//! terminal; `NO_COLOR` turns them off everywhere.

use std::io::Write;

use console::{style, Style};
use serde_json::Value;

pub struct Printer {
    pub json: bool,
    pub verbose: bool,
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
    let s = s.replace('\n', "⏎");
    if s.chars().count() > max {
        let cut: String = s.chars().take(max).collect();
        format!("{cut}…")
    } else {
        s
    }
}

impl Printer {
    fn line(&self, text: impl std::fmt::Display) {
        if !self.json {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{text}");
        }
    }

    pub fn run_header(&self, runbook: &str, run_id: &str, operator: &str, mode: &str) {
        self.line(format!(
            "{} {}  run {}  operator {}  {}",
            style("runbook").bold(),
            style(runbook).bold().cyan(),
            style(run_id).dim(),
            operator,
            mode
        ));
    }

    pub fn step_start(&self, name: &str) {
        self.line(format!("{} {}", style("▸").cyan(), style(name).bold()));
    }

    pub fn step_end(&self, name: &str, ok: bool, ms: u64) {
        if !ok {
            self.line(format!(
                "  {} step \"{name}\" failed after {ms} ms",
                style("✗").red()
            ));
        } else if self.verbose {
            self.line(format!("  {} {ms} ms", style("✓").green()));
        }
    }

    pub fn read_call(&self, name: &str, args: &Value, ms: u64) {
        if self.verbose {
            self.line(format!(
                "  {} {name} {} ({ms} ms)",
                style("·").dim(),
                compact_args(args)
            ));
        }
    }

    pub fn mutation(&self, name: &str, args: &Value) {
        self.line(format!(
            "  {} {name} {}",
            style("→").yellow().bold(),
            compact_args(args)
        ));
    }

    pub fn outcome(&self, name: &str, ok: bool, value: &Value) {
        let mark = if ok {
            style("✓").green()
        } else {
            style("✗").red()
        };
        self.line(format!("    {mark} {name}: {}", compact_value(value, 100)));
    }

    pub fn planned(&self, name: &str, args: &Value, plan: &Value) {
        self.line(format!(
            "  {} would call {name} {}",
            style("DRY RUN").yellow().bold(),
            compact_args(args)
        ));
        match plan {
            Value::Null => {}
            Value::Object(map) => {
                for (k, v) in map {
                    match v {
                        Value::String(s) if s.contains('\n') => {
                            self.line(format!("      {k}:"));
                            for l in s.lines() {
                                self.line(format!("        {}", diff_style(l)));
                            }
                        }
                        other => self.line(format!("      {k}: {}", compact_value(other, 120))),
                    }
                }
            }
            other => self.line(format!("      {}", compact_value(other, 120))),
        }
    }

    pub fn planned_gate(&self, question: &str) {
        self.line(format!(
            "  {} would ask: {question}",
            style("DRY RUN").yellow().bold()
        ));
    }

    pub fn print(&self, text: &str) {
        for l in text.lines() {
            self.line(format!("  {l}"));
        }
    }

    pub fn warn(&self, text: &str) {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{} {text}", style("warning:").yellow().bold());
    }

    pub fn findings(&self, findings: &[Value]) {
        if self.json || findings.is_empty() {
            return;
        }
        let width = findings
            .iter()
            .map(|f| f["subject"].as_str().unwrap_or("").chars().count())
            .max()
            .unwrap_or(7)
            .clamp(7, 40);
        self.line(String::new());
        self.line(format!(
            "{}",
            style(format!("{:<5} {:<width$} {}", "SEV", "SUBJECT", "SUMMARY")).bold()
        ));
        for f in findings {
            let sev = f["severity"].as_str().unwrap_or("info");
            let sev_style = match sev {
                "crit" => Style::new().red().bold(),
                "warn" => Style::new().yellow().bold(),
                "ok" => Style::new().green(),
                _ => Style::new().cyan(),
            };
            let subject = f["subject"].as_str().unwrap_or("");
            let summary = f["summary"].as_str().unwrap_or("");
            self.line(format!(
                "{} {:<width$} {}",
                sev_style.apply_to(format!("{sev:<5}")),
                subject,
                summary
            ));
            if sev == "warn" || sev == "crit" {
                if let Some(next) = f["next_step"].as_str().filter(|s| !s.is_empty()) {
                    self.line(format!(
                        "{:<5} {:<width$} {} {next}",
                        "",
                        "",
                        style("next:").dim()
                    ));
                }
            }
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
        self.line(match run_id {
            Some(id) => {
                format!("\n{st}{found} in {secs:.1}s; `runbook replay {id}` shows every step")
            }
            None => format!(
                "\n{st}{found} in {secs:.1}s; NOT RECORDED in the audit database: {}{}",
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

fn diff_style(line: &str) -> String {
    if line.starts_with('+') && !line.starts_with("+++") {
        style(line).green().to_string()
    } else if line.starts_with('-') && !line.starts_with("---") {
        style(line).red().to_string()
    } else {
        line.to_string()
    }
}
