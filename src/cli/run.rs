//! `runbook run NAME [-p KEY=VALUE]... [--dry-run] [--yes] [--json]`

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;

use super::{print_json, runtime, watch_sigint, Globals};
use crate::engine::outcome::FailOn;
use crate::engine::params::split_kv;
use crate::engine::run::{execute, RunEnv, RunRequest};
use crate::error::{Error, Result};
use crate::site::Site;

pub const RUN_EXAMPLES: &str = "\
Examples:
  runbook run triage
  runbook run triage -p since='30 minutes ago' --json
  runbook run restart-unit -p unit=openclaw-bg-worker.service
  runbook run restart-unit -p unit=caddy.service --dry-run
  OPENCLAW_DRY_RUN=true runbook run readymode-script -p script=clear_licenses.sh
  runbook run triage --fail-on warn && echo healthy
  runbook run health -q                         the summary line only, for a timer's journal
  runbook run --plan gateway.plan               an approved plan (runbook plan, runbook approve)
  runbook run --plan host.plan --break-glass 'site down, approvers unreachable'
                                                your own approval, where the site allows it

Runbooks whose header declares `locks:` take them before their first change; a run that
finds one held exits 3 naming the holder, unless --lock-wait lets it wait.

Exit codes: 0 completed, no finding at or above --fail-on; 5 completed with such a finding;
1 a step failed; 2 bad input, nothing ran; 3 refused; 4 audit store; 130 Ctrl-C.

Gates ask on the terminal and default to No. Without a terminal they refuse (exit 3);
--yes approves ordinary gates but never a typed one.";

/// The site file used when neither --site nor RUNBOOK_SITE is given.
pub const DEFAULT_SITE: &str = "/etc/runbook/site.yaml";

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The runbook to run (`runbook list` shows them)
    #[arg(add = super::complete::runbook_names(), required_unless_present = "plan")]
    pub name: Option<String>,
    /// Run an approved plan (`runbook plan`, `runbook approve`): its runbook and parameters,
    /// refused if it drifted, expired, was used before or lacks its approvals
    #[arg(long, value_name = "PLAN", conflicts_with_all = ["name", "params", "dry_run"])]
    pub plan: Option<PathBuf>,
    /// With --plan: run it on your own approval, in an emergency, where the site allows it
    /// (`break_glass: true` on the rule); recorded loudly until a second operator co-signs
    #[arg(long, value_name = "REASON", requires = "plan")]
    pub break_glass: Option<String>,
    /// A parameter, KEY=VALUE; repeat for more
    #[arg(short = 'p', long = "param", value_name = "KEY=VALUE", value_parser = parse_kv,
          add = super::complete::params())]
    pub params: Vec<(String, String)>,
    /// Change nothing: mutating host calls are recorded and shown as what would be done.
    /// OPENCLAW_DRY_RUN=true (or 1) does the same.
    #[arg(long)]
    pub dry_run: bool,
    /// Approve ordinary confirmation gates without asking (never typed ones)
    #[arg(long)]
    pub yes: bool,
    /// Print one JSON document at the end instead of progress
    #[arg(long)]
    pub json: bool,
    /// Print only the summary line (status, findings per severity, the run id)
    #[arg(short, long, conflicts_with = "json")]
    pub quiet: bool,
    /// Exit 5 when the runbook completes with a finding at or above this severity
    #[arg(long, value_enum, value_name = "SEVERITY", default_value_t = FailOn::Crit)]
    pub fail_on: FailOn,
    /// Wait up to this long (30s, 5m) for a lock another run holds [default: fail at once]
    #[arg(long, value_name = "DURATION", value_parser = parse_wait)]
    pub lock_wait: Option<std::time::Duration>,
}

fn parse_wait(raw: &str) -> std::result::Result<std::time::Duration, String> {
    let span = crate::time::parse_duration(raw).map_err(|e| e.to_string())?;
    span.to_std()
        .map_err(|_| format!("--lock-wait {raw}: must not be negative"))
}

fn parse_kv(raw: &str) -> std::result::Result<(String, String), String> {
    split_kv(raw)
}

/// The site config: --site / RUNBOOK_SITE, else /etc/runbook/site.yaml, else the built-in one.
pub fn load_site(cli_site: Option<&Path>) -> Result<Site> {
    let path: Option<PathBuf> = match cli_site {
        Some(p) => Some(p.to_path_buf()),
        None => Path::new(DEFAULT_SITE)
            .exists()
            .then(|| PathBuf::from(DEFAULT_SITE)),
    };
    match path {
        Some(p) => Site::load(&p).map_err(|e| Error::Usage(e.to_string())),
        None => Ok(Site::openclaw()),
    }
}

pub fn run(args: &RunArgs, globals: &Globals) -> Result<i32> {
    // Every run builds an engine and redacts what it records: prepare both beside the
    // loading below.
    crate::engine::warm_up();
    std::thread::spawn(crate::audit::Redactor::warm_up);
    let catalog = globals.catalog()?;
    let site = Arc::new(load_site(globals.cli_site.as_deref())?);
    let rt = runtime()?;
    tracing::debug!("catalog, site and runtime ready");
    let cancel = watch_sigint(&rt);
    let req = RunRequest {
        name: args.name.clone().unwrap_or_default(),
        params: args.params.clone(),
        dry_run_flag: args.dry_run,
        yes: args.yes,
        json: args.json,
        verbose: globals.verbose,
        quiet: args.quiet,
        fail_on: args.fail_on,
        lock_wait: args.lock_wait.unwrap_or_default(),
        collect_facts: false,
        approved: Vec::new(),
        break_glass: None,
        learn: None,
    };
    let env = RunEnv {
        catalog: &catalog,
        site,
        audit_db: globals.audit_db.clone(),
        rt: &rt,
        cancel,
    };
    let report = match &args.plan {
        Some(plan) => {
            crate::approval::run_plan::run_plan(plan, &req, &env, args.break_glass.as_deref())?
        }
        None => execute(&req, &env)?,
    };
    if args.json {
        print_json(&report);
    }
    // Everything the run recorded is written (finish waits for it): leave connections and
    // idle tasks to the process exit instead of waiting for their orderly shutdown.
    rt.shutdown_background();
    if let Some(message) = &report.error {
        super::print_error(message);
    }
    Ok(report.exit_code)
}
