//! `runbook learn [NAME] [-p KEY=VALUE]... [--live]`, `runbook learn --status [--json]`

use std::io::IsTerminal;
use std::sync::Arc;

use clap::Args;

use super::run::load_site;
use super::{print_json, runtime, watch_sigint, Globals};
use crate::audit::{list_runs, AuditStore, RunFilter, RunSummary};
use crate::engine::outcome::FailOn;
use crate::engine::params::split_kv;
use crate::engine::run::{execute, Lesson, RunEnv, RunRequest};
use crate::engine::{header, run::dry_run_mode};
use crate::error::{exit, Error, Result};
use crate::identity::Operator;
use crate::learn::terminal::{clean, TerminalWalker};
use crate::learn::{self, lesson, status};
use crate::site::Site;

pub const LEARN_EXAMPLES: &str = "\
Examples:
  runbook learn                                 the next lesson of the site's curriculum
  runbook learn triage                          walk through triage on this server, step by step
  runbook learn restart-unit -p unit=openclaw-bg-worker          a dry run: nothing changes
  runbook learn restart-unit -p unit=openclaw-bg-worker --live   really restart; every gate asks
  runbook learn --status                        who has learned what (learned, stale, never)
  runbook learn --status --json

Before each step: what it is for, what it reads and would change, the site policy, and the
shell commands an operator would type. Enter runs the step, s skips it, q stops the lesson
(recorded as canceled), ? shows its source. Each lesson is recorded as a run of kind learn.

Learning needs a person: without a terminal it exits 2. A lesson of a mutating runbook is a
dry run unless --live is given; read-only steps always run for real.";

#[derive(Debug, Args)]
pub struct LearnArgs {
    /// The runbook to learn; without one, the next lesson of the curriculum is shown
    #[arg(add = super::complete::runbook_names(), conflicts_with = "status")]
    pub name: Option<String>,
    /// A parameter, KEY=VALUE; repeat for more (the curriculum's are used for those not given)
    #[arg(short = 'p', long = "param", value_name = "KEY=VALUE", value_parser = parse_kv,
          add = super::complete::params())]
    pub params: Vec<(String, String)>,
    /// Really change the host in a lesson of a mutating runbook (every gate still asks)
    #[arg(long, conflicts_with = "status")]
    pub live: bool,
    /// Show operators × runbooks: learned (date), stale (the runbook changed since), never
    #[arg(long)]
    pub status: bool,
    /// With --status: print JSON instead of a table
    #[arg(long, requires = "status")]
    pub json: bool,
}

fn parse_kv(raw: &str) -> std::result::Result<(String, String), String> {
    split_kv(raw)
}

pub fn run(args: &LearnArgs, globals: &Globals) -> Result<i32> {
    let catalog = globals.catalog()?;
    let site = Arc::new(load_site(globals.cli_site.as_deref())?);
    if args.status {
        let m = matrix(&site, &catalog, globals)?;
        if args.json {
            print_json(&m);
        } else {
            println!("{}", status::table(&m));
        }
        return Ok(exit::OK);
    }
    let Some(name) = &args.name else {
        return next_lesson(&site, &catalog, globals);
    };
    if !(std::io::stdin().is_terminal() && std::io::stdout().is_terminal()) {
        return Err(Error::Usage(format!(
            "runbook learn walks a person through `{name}` step by step, and there is no terminal \
             to ask on (stdin and stdout must both be terminals): learning needs a person. Run it \
             from an interactive shell (over SSH: ssh -t); to run the runbook unattended, use \
             `runbook run {name}`"
        )));
    }
    crate::engine::warm_up();
    let entry = catalog.runbook(name)?;
    let head = header::parse(&entry.source).map_err(|e| {
        Error::Usage(format!(
            "{}:{}: invalid header: {}",
            entry.file, e.line, e.message
        ))
    })?;
    let params = with_curriculum_params(&site, name, &args.params);
    let env_dry = dry_run_mode(false, std::env::var_os("OPENCLAW_DRY_RUN").as_deref())?;
    let dry_run = head.mutates && (!args.live || env_dry.is_some());
    let steps = lesson::steps(&entry.source, &catalog);
    introduce(&head, &site, steps.len(), dry_run, args.live, &params);

    let rt = runtime()?;
    let cancel = watch_sigint(&rt);
    let unit = params
        .iter()
        .find(|(k, _)| k == "unit")
        .map(|(_, v)| v.clone());
    let walker = Arc::new(TerminalWalker::new(
        steps,
        site.clone(),
        unit,
        args.live && head.mutates,
        dry_run,
        cancel.clone(),
    ));
    let req = RunRequest {
        name: name.clone(),
        params,
        dry_run_flag: false,
        yes: false,
        json: false,
        verbose: false,
        quiet: false,
        fail_on: FailOn::Crit,
        lock_wait: std::time::Duration::ZERO,
        collect_facts: false,
        approved: Vec::new(),
        break_glass: None,
        learn: Some(Lesson {
            walker,
            live: args.live,
        }),
    };
    let env = RunEnv {
        catalog: &catalog,
        site,
        audit_db: globals.audit_db.clone(),
        rt: &rt,
        cancel,
    };
    let report = execute(&req, &env)?;
    rt.shutdown_background();
    if let Some(message) = &report.error {
        super::print_error(message);
    }
    println!(
        "Lesson {}: recorded as learn run {}. `runbook learn --status` shows what you have learned.",
        report.status, report.run_id
    );
    Ok(report.exit_code)
}

/// The curriculum's parameters for this runbook, overridden by those given.
fn with_curriculum_params(
    site: &Site,
    name: &str,
    given: &[(String, String)],
) -> Vec<(String, String)> {
    let mut params: Vec<(String, String)> = learn::lesson_for(site, name)
        .map(|l| {
            l.params
                .iter()
                .filter(|(k, _)| !given.iter().any(|(g, _)| g == *k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    params.extend(given.iter().cloned());
    params
}

fn introduce(
    head: &header::Header,
    site: &Site,
    steps: usize,
    dry_run: bool,
    live: bool,
    params: &[(String, String)],
) {
    println!("Lesson: {} -- {}", head.name, clean(&head.summary));
    if !head.description.is_empty() {
        println!("  {}", clean(&head.description));
    }
    if let Some(l) = learn::lesson_for(site, &head.name).filter(|l| !l.about.is_empty()) {
        println!("  In the curriculum: {}", l.about);
    }
    for (k, v) in params {
        println!("  -p {k}={v}");
    }
    let mode = match (head.mutates, dry_run, live) {
        (false, _, _) => "This runbook only reads: every step runs for real and changes nothing.",
        (true, true, _) => {
            "This runbook can change the host. This lesson is a DRY RUN: read-only steps run for \
             real, changes are shown and not made (--live to make them; every gate still asks)."
        }
        (true, false, _) => {
            "LIVE lesson: this runbook changes the host, and every gate asks as in a real run."
        }
    };
    println!("  {mode}");
    println!(
        "  {steps} step(s). At each: Enter runs it, s skips it, q stops the lesson, ? shows its source."
    );
}

fn recorded_runs(globals: &Globals) -> Result<Vec<RunSummary>> {
    let rt = runtime()?;
    let runs = rt.block_on(async {
        match AuditStore::open_existing(&globals.audit_db).await? {
            None => Ok::<_, crate::audit::AuditError>(Vec::new()),
            Some(store) => {
                let mut conn = store.reader().await?;
                list_runs(&mut conn, &RunFilter::default()).await
            }
        }
    })?;
    Ok(runs)
}

fn matrix(
    site: &Site,
    catalog: &crate::engine::catalog::Catalog,
    globals: &Globals,
) -> Result<status::Matrix> {
    let runbooks: Vec<(String, String)> = learn::curriculum_runbooks(site, catalog)
        .into_iter()
        .filter_map(|n| {
            let source = catalog.runbook(&n).ok()?.source.clone();
            Some((n, source))
        })
        .collect();
    let operators: Vec<String> = site.operators.keys().cloned().collect();
    Ok(status::matrix(
        &runbooks,
        &operators,
        &recorded_runs(globals)?,
    ))
}

fn next_lesson(
    site: &Site,
    catalog: &crate::engine::catalog::Catalog,
    globals: &Globals,
) -> Result<i32> {
    let me = Operator::detect().login;
    let m = matrix(site, catalog, globals)?;
    let mine = m.operators.iter().find(|r| r.operator == me);
    let state = |rb: &str| mine.map_or(status::State::Never, |r| r.lessons[rb].state);
    let Some(next) = m
        .runbooks
        .iter()
        .find(|rb| state(rb) != status::State::Learned)
    else {
        println!(
            "{me} has learned all {} lessons. `runbook learn --status` shows everyone's.",
            m.runbooks.len()
        );
        return Ok(exit::OK);
    };
    let position = m.runbooks.iter().position(|r| r == next).unwrap_or(0) + 1;
    let command = match learn::lesson_for(site, next) {
        Some(l) => learn::lesson_command(l),
        None => crate::host::shell::line(["runbook", "learn", next]),
    };
    let why = if state(next) == status::State::Stale {
        " (learned before, but the runbook has changed since)"
    } else {
        ""
    };
    println!(
        "Next lesson for {me}, {position} of {}: {next}{why}",
        m.runbooks.len()
    );
    if let Some(about) = learn::lesson_for(site, next).map(|l| &l.about) {
        println!("  {about}");
    }
    println!("  {command}");
    Ok(exit::OK)
}
