//! `runbook log`: the runs in the audit store, newest first.

use std::io::{BufWriter, Write};
use std::path::Path;

use console::Style;
use tokio::runtime::Runtime;

use crate::audit::clock::{self, human_duration};
use crate::audit::{list_runs, AuditStore, RunFilter, RunState, RunSummary};
use crate::error::{Error, Result};

pub const LOG_EXAMPLES: &str = "\
Examples:
  runbook log                                   the last 20 runs, newest first
  runbook log -n 5 -u triage                    the last 5 triage runs
  runbook log --since '1 hour ago' -r           the last hour, oldest first
  runbook log --since yesterday --until today --operator miguel
  runbook log -n 0 --json | jq '.[].id'         every run, as JSON

On a terminal the list goes through $PAGER (less -FRX by default); --no-pager or
RUNBOOK_PAGER=cat prints it directly.";

/// List runs, newest first.
#[derive(Debug, Clone, clap::Args)]
pub struct LogArgs {
    /// Only runs of this runbook (as journalctl -u names a unit).
    #[arg(short = 'u', long, value_name = "NAME", add = super::complete::runbook_names())]
    pub runbook: Option<String>,
    /// Only runs by this operator (login name).
    #[arg(long, value_name = "USER")]
    pub operator: Option<String>,
    /// Only runs started at or after TIME: "10 minutes ago", "2h", "-2h", "today",
    /// "yesterday", "2026-11-21", "2026-11-21 05:00", "2026-11-21T05:00:00Z", "@EPOCH"
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub since: Option<String>,
    /// Only runs started at or before TIME (same forms as --since)
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub until: Option<String>,
    /// Show at most the N newest runs; 0 shows all.
    #[arg(
        short = 'n',
        long,
        visible_alias = "lines",
        value_name = "N",
        default_value_t = 20
    )]
    pub limit: u32,
    /// Oldest first (the same runs as without it, in the other order).
    #[arg(short = 'r', long)]
    pub reverse: bool,
    /// Print a JSON array of runs instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &LogArgs, db: &Path, rt: &Runtime, no_pager: bool) -> Result<()> {
    color_setup();
    let mut paged = super::pager::start(no_pager || args.json)?;
    let result = {
        let mut out = BufWriter::new(paged.writer());
        ignore_broken_pipe(render(args, db, rt, &mut out).and_then(|()| flush(&mut out)))
    };
    let finished = paged.finish();
    result.and(finished)
}

/// Turn colors off when `NO_COLOR` is set (console already checks that stdout is a terminal).
pub(crate) fn color_setup() {
    if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
        console::set_colors_enabled(false);
    }
}

pub(crate) fn flush(out: &mut dyn Write) -> Result<()> {
    out.flush().map_err(io)
}

/// A closed pipe (`runbook log | head`) is not an error.
pub(crate) fn ignore_broken_pipe(r: Result<()>) -> Result<()> {
    match r {
        Err(Error::Other(e))
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            Ok(())
        }
        other => other,
    }
}

/// A serialization error while writing output; I/O errors keep their kind (broken pipe).
pub(crate) fn json_err(e: serde_json::Error) -> Error {
    if e.is_io() {
        io(e.into())
    } else {
        Error::Other(e.into())
    }
}

pub(crate) fn io(e: std::io::Error) -> Error {
    Error::Other(e.into())
}

/// Status text and style, dry runs marked.
pub(crate) fn status_cell(status: RunState, dry_run: bool) -> (String, Style) {
    let style = match status {
        RunState::Ok => Style::new().green(),
        RunState::Failed | RunState::Findings => Style::new().red().bold(),
        RunState::Refused | RunState::Canceled => Style::new().yellow(),
        RunState::Interrupted => Style::new().magenta().bold(),
        RunState::Running => Style::new().cyan(),
    };
    let mut text = status.as_str().to_string();
    if dry_run {
        text.push_str(" (dry run)");
    }
    (text, style)
}

/// The worst finding's severity in its usual color.
fn worst_style(worst: Option<&str>) -> Style {
    match worst {
        Some("crit") => Style::new().red().bold(),
        Some("warn") => Style::new().yellow().bold(),
        Some("ok") => Style::new().green(),
        _ => Style::new().dim(),
    }
}

/// Print the runs that match `args` to `out`.
pub fn render(args: &LogArgs, db: &Path, rt: &Runtime, out: &mut dyn Write) -> Result<()> {
    let now = chrono::Utc::now();
    let bound = |arg: &Option<String>, flag: &str| -> Result<Option<String>> {
        arg.as_deref()
            .map(|s| {
                crate::time::parse_time(s, now)
                    .map(clock::format_time)
                    .map_err(|e| Error::Usage(format!("{flag}: {e}")))
            })
            .transpose()
    };
    let since = bound(&args.since, "--since")?;
    let until = bound(&args.until, "--until")?;
    let filter = RunFilter {
        runbook: args.runbook.clone(),
        operator: args.operator.clone(),
        since,
        until,
        limit: (args.limit > 0).then_some(args.limit),
    };
    let mut runs = rt.block_on(async {
        match AuditStore::open_existing(db).await? {
            None => Ok::<_, crate::audit::AuditError>(None),
            Some(store) => {
                let mut conn = store.reader().await?;
                list_runs(&mut conn, &filter).await.map(Some)
            }
        }
    })?;
    if args.reverse {
        if let Some(runs) = runs.as_mut() {
            runs.reverse();
        }
    }
    if args.json {
        serde_json::to_writer_pretty(&mut *out, &runs.unwrap_or_default()).map_err(json_err)?;
        writeln!(out).map_err(io)?;
        return Ok(());
    }
    let Some(runs) = runs else {
        writeln!(
            out,
            "No runs recorded yet ({} does not exist).",
            db.display()
        )
        .map_err(io)?;
        return Ok(());
    };
    if runs.is_empty() {
        writeln!(out, "No runs match.").map_err(io)?;
        return Ok(());
    }
    table(&runs, out)
}

fn table(runs: &[RunSummary], out: &mut dyn Write) -> Result<()> {
    let cells: Vec<[String; 7]> = runs
        .iter()
        .map(|r| {
            [
                r.id.clone(),
                match r.kind.as_deref() {
                    Some(kind) => format!("{} ({kind})", r.runbook),
                    None => r.runbook.clone(),
                },
                status_cell(r.status, r.dry_run).0,
                r.worst.clone().unwrap_or_else(|| "-".into()),
                r.operator.clone(),
                clock::local_display(&r.started_at),
                match (r.status, r.duration_ms) {
                    (RunState::Running, _) => "-".to_string(),
                    (_, Some(ms)) => human_duration(ms as f64 / 1000.0),
                    (_, None) => "-".to_string(),
                },
            ]
        })
        .collect();
    let headers = [
        "RUN", "RUNBOOK", "STATUS", "WORST", "OPERATOR", "STARTED", "DURATION",
    ];
    let mut widths = headers.map(|h| h.chars().count());
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let dim = Style::new().dim();
    let header: Vec<String> = headers
        .iter()
        .zip(widths)
        .map(|(h, w)| format!("{h:<w$}"))
        .collect();
    writeln!(out, "{}", dim.apply_to(header.join("  ").trim_end())).map_err(io)?;
    for (row, run) in cells.iter().zip(runs) {
        let mut line = String::new();
        for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
            let padded = if i + 1 == row.len() {
                cell.clone()
            } else {
                format!("{cell:<w$}  ")
            };
            let styled = match i {
                0 => Style::new().bold().apply_to(padded).to_string(),
                2 => status_cell(run.status, run.dry_run)
                    .1
                    .apply_to(padded)
                    .to_string(),
                3 => worst_style(run.worst.as_deref())
                    .apply_to(padded)
                    .to_string(),
                _ => padded,
            };
            line.push_str(&styled);
        }
        writeln!(out, "{}", line.trim_end()).map_err(io)?;
    }
    Ok(())
}
