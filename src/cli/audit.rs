//! `runbook audit verify` and `runbook audit export`.

use std::io::{BufWriter, Write};
use std::path::Path;

use console::Style;
use tokio::runtime::Runtime;

use super::log::{color_setup, flush, ignore_broken_pipe, io, json_err};
use crate::audit::clock;
use crate::audit::{
    export, resolve_run, verify, AuditError, AuditStore, EventFilter, VerifyOptions,
};
use crate::error::{Error, Result};

pub const AUDIT_EXAMPLES: &str = "\
Examples:
  runbook audit verify                          recompute every hash and link
  runbook audit verify --json                   keep the head hash for next time
  runbook audit verify --expect-head 3f9a...    also fail if that earlier head is gone
  runbook audit export --since yesterday > trail.jsonl
  runbook audit export --run last              one run's events

Exit codes: 0 the chain holds; 4 a break, naming the first bad run and seq.";

/// Check and export the audit trail.
#[derive(Debug, Clone, clap::Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: AuditCommand,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum AuditCommand {
    /// Recompute the hash chain over every event; exit 4 naming the first bad event.
    #[command(after_help = AUDIT_EXAMPLES)]
    Verify(VerifyArgs),
    /// Print events as JSON Lines, exactly as stored, for re-verification elsewhere.
    #[command(after_help = AUDIT_EXAMPLES)]
    Export(ExportArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct VerifyArgs {
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
    /// Also fail unless the chain still contains the event with this hash (a head recorded
    /// earlier, e.g. by a previous verify or from the journal): detects deletion of the newest
    /// events.
    #[arg(long, value_name = "HASH")]
    pub expect_head: Option<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ExportArgs {
    /// Export the chain from the first event recorded at or after TIME ("10 minutes ago",
    /// "2h", "yesterday", "2026-11-21", "2026-11-21T05:00:00Z", ...; the forms of `log --since`)
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub since: Option<String>,
    /// Export only this run's events (a unique id prefix or `last`).
    #[arg(long, value_name = "RUN", add = super::complete::run_ids())]
    pub run: Option<String>,
}

pub fn run(args: &AuditArgs, db: &Path, rt: &Runtime) -> Result<()> {
    color_setup();
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(256 * 1024, stdout.lock());
    let result = match &args.command {
        AuditCommand::Verify(v) => render_verify(v, db, rt, &mut out),
        AuditCommand::Export(e) => render_export(e, db, rt, &mut out),
    };
    let flushed = flush(&mut out);
    ignore_broken_pipe(result.and(flushed))
}

/// `audit verify`, writing its report to `out`.
pub fn render_verify(
    args: &VerifyArgs,
    db: &Path,
    rt: &Runtime,
    out: &mut dyn Write,
) -> Result<()> {
    let opts = VerifyOptions {
        expect_head: args.expect_head.clone(),
        ..Default::default()
    };
    let result = rt.block_on(async {
        match AuditStore::open_existing(db).await? {
            None => Ok(None),
            Some(store) => verify(&store, &opts).await.map(Some),
        }
    });
    match result {
        Ok(Some(report)) => {
            if args.json {
                serde_json::to_writer(&mut *out, &report).map_err(json_err)?;
                writeln!(out).map_err(io)?;
            } else {
                let rate = if report.seconds > 0.0 {
                    format!(", {:.0} events/s", report.events as f64 / report.seconds)
                } else {
                    String::new()
                };
                writeln!(
                    out,
                    "{} {} events in {} runs verified in {:.3}s{rate}",
                    Style::new().green().bold().apply_to("ok:"),
                    report.events,
                    report.runs,
                    report.seconds
                )
                .map_err(io)?;
                match report.head_id {
                    Some(id) => writeln!(out, "head {} (event {id})", report.head),
                    None => writeln!(out, "head {} (empty chain)", report.head),
                }
                .map_err(io)?;
                if let Some(id) = report.expect_head_id {
                    writeln!(out, "expected head found at event {id}").map_err(io)?;
                }
            }
            Ok(())
        }
        Ok(None) => {
            if args.expect_head.is_some() {
                let e = Error::Audit(format!(
                    "no audit database at {}, so the expected head is missing",
                    db.display()
                ));
                if args.json {
                    failure_json(out, &e.to_string(), None)?;
                }
                return Err(e);
            }
            if args.json {
                writeln!(
                    out,
                    "{}",
                    serde_json::json!({"ok": true, "events": 0, "runs": 0,
                    "sources": 0, "head": crate::audit::chain::Hash::GENESIS, "head_id": null,
                    "expect_head_id": null, "seconds": 0.0})
                )
                .map_err(io)?;
            } else {
                writeln!(
                    out,
                    "No audit database at {} yet: nothing to verify.",
                    db.display()
                )
                .map_err(io)?;
            }
            Ok(())
        }
        Err(e) => {
            if args.json {
                let brk = match &e {
                    AuditError::ChainBroken(b) => Some(b.clone()),
                    _ => None,
                };
                failure_json(out, &e.to_string(), brk)?;
            }
            Err(e.into())
        }
    }
}

fn failure_json(
    out: &mut dyn Write,
    error: &str,
    brk: Option<crate::audit::ChainBreak>,
) -> Result<()> {
    let v = serde_json::json!({"ok": false, "error": error, "break": brk});
    writeln!(out, "{v}").map_err(io)
}

/// `audit export`, writing JSON Lines to `out`.
pub fn render_export(
    args: &ExportArgs,
    db: &Path,
    rt: &Runtime,
    out: &mut dyn Write,
) -> Result<()> {
    let since = match &args.since {
        None => None,
        Some(s) => Some(clock::format_time(
            crate::time::parse_time(s, chrono::Utc::now())
                .map_err(|e| Error::Usage(format!("--since: {e}")))?,
        )),
    };
    rt.block_on(async {
        let Some(store) = AuditStore::open_existing(db).await? else {
            if let Some(run) = &args.run {
                return Err(AuditError::NoSuchRun(run.clone()).into());
            }
            return Ok(());
        };
        let mut conn = store.reader().await?;
        let run = match &args.run {
            Some(spec) => Some(resolve_run(&mut conn, spec).await?),
            None => None,
        };
        export(&mut conn, &EventFilter { since, run }, out)
            .await
            .map_err(|e| match e {
                AuditError::Io { source, .. } => io(source),
                other => other.into(),
            })?;
        Ok::<(), Error>(())
    })
}
