//! `runbook plan NAME [-p KEY=VALUE]... [-o PLAN]`: a dry run written down as a plan to sign.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;

use super::{runtime, watch_sigint, Globals};
use crate::approval::{quorum, run_plan};
use crate::engine::outcome::FailOn;
use crate::engine::run::{RunEnv, RunRequest};
use crate::error::{exit, Error, Result};

pub const PLAN_EXAMPLES: &str = "\
Examples:
  runbook plan restart-unit -p unit=openclaw-gateway -o gateway.plan
  runbook plan add-operator -p name=ana -p key='ssh-ed25519 AAAA... ana@laptop' -p approved_by=miguel
  runbook plan backup --expires-in 2h

Then the approver, on their own workstation, signs the challenge line the plan prints:
  echo 'runbook-plan v1 host=... plan_hash=...' > challenge
  ssh-keygen -Y sign -n runbook-plan@HOST -f ~/.ssh/id_ed25519 challenge
and hands in challenge.sig: runbook approve gateway.plan challenge.sig; then
runbook run --plan gateway.plan.

Exit codes: 0 plan written; 2 bad input; 3 the dry run was refused; 1 it failed.";

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The runbook to plan
    #[arg(add = super::complete::runbook_names())]
    pub name: String,
    /// A parameter, KEY=VALUE; repeat for more
    #[arg(short = 'p', long = "param", value_name = "KEY=VALUE", value_parser = crate::engine::params::split_kv,
          add = super::complete::params())]
    pub params: Vec<(String, String)>,
    /// Where to write the plan [default: NAME.plan in the current directory]
    #[arg(short = 'o', long = "output", value_name = "PLAN")]
    pub output: Option<PathBuf>,
    /// How long the plan stays valid (at most 14d)
    #[arg(long, value_name = "DURATION", default_value = "24h")]
    pub expires_in: String,
}

pub fn run(args: &PlanArgs, globals: &Globals) -> Result<i32> {
    let valid_for = crate::time::parse_duration(&args.expires_in)
        .map_err(|e| Error::Usage(format!("--expires-in: {e}")))?;
    if valid_for <= chrono::Duration::zero() || valid_for > crate::approval::flow::MAX_VALIDITY {
        return Err(Error::Usage(format!(
            "--expires-in {} must be more than 0 and at most 14d",
            args.expires_in
        )));
    }
    let catalog = globals.catalog()?;
    let site = Arc::new(super::run::load_site(globals.cli_site.as_deref())?);
    let rt = runtime()?;
    let cancel = watch_sigint(&rt);
    let req = RunRequest {
        name: args.name.clone(),
        params: args.params.clone(),
        dry_run_flag: true,
        yes: false,
        json: true,
        verbose: false,
        quiet: true,
        fail_on: FailOn::Never,
        lock_wait: std::time::Duration::ZERO,
        collect_facts: true,
        approved: Vec::new(),
        break_glass: None,
        learn: None,
    };
    let env = RunEnv {
        catalog: &catalog,
        site: site.clone(),
        audit_db: globals.audit_db.clone(),
        rt: &rt,
        cancel,
    };
    let (report, plan) = run_plan::dry_plan(&req, &env, valid_for)?;
    rt.shutdown_background();
    if report.exit_code != 0 {
        let why = report.error.unwrap_or_else(|| report.status.to_string());
        super::print_error(&format!(
            "the dry run did not complete (run {}), so no plan was written: {why}",
            report.run_id
        ));
        return Ok(report.exit_code);
    }
    let path = args
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}.plan", plan.runbook)));
    plan.save(&path).map_err(Error::Usage)?;
    let challenge = path.with_extension("challenge");
    std::fs::write(&challenge, plan.challenge_bytes())
        .map_err(|e| Error::Usage(format!("cannot write {}: {e}", challenge.display())))?;
    println!(
        "plan {} written to {} (dry run {}, expires {})",
        plan.plan_hash,
        path.display(),
        report.run_id,
        plan.expires
    );
    println!("\n{}", console::style("Change").bold());
    print!("{}", super::show::change_table(&plan.change));
    println!("\n{}", console::style("Effects").bold());
    if plan.effects.is_empty() {
        println!("  (none)");
    }
    for (i, e) in plan.effects.iter().enumerate() {
        println!(
            "  {}. {} {}",
            i + 1,
            e.function,
            crate::output::compact_args(&e.args)
        );
    }
    let rules = quorum::rules_for(
        &site,
        &plan.runbook,
        &crate::approval::flow::units_of(&plan.effects),
    );
    println!("\n{}", console::style("Approvals needed").bold());
    if rules.is_empty() {
        println!("  none by the site's rules");
    }
    for r in &rules {
        println!(
            "  {}: {} of {} (not the requester, {})",
            r.what,
            r.count,
            r.by.join(", "),
            plan.requester.login
        );
    }
    println!("\nChallenge (also in {}):", challenge.display());
    println!("{}", plan.challenge());
    println!(
        "\nSign it on your own workstation:\n  ssh-keygen -Y sign -n {} -f ~/.ssh/id_ed25519 {}\nthen: runbook approve {} {}.sig",
        plan.namespace(),
        challenge.display(),
        path.display(),
        challenge.display()
    );
    Ok(exit::OK)
}
