//! The command line: clap definitions and one file per subcommand.
//!
//! Arguments are parsed, then each subcommand validates its input before doing any work.
//! Errors come back as [`crate::error::Error`] and are printed once, here, with the exit code
//! the error chooses.

mod api;
mod approve;
mod audit;
mod check;
pub mod complete;
mod learn;
mod list;
mod log;
pub mod pager;
mod plan;
mod replay;
mod report;
mod run;
pub mod show;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::engine::catalog::Catalog;
use crate::error::{exit, Error, Result};

const EXAMPLES: &str = "\
Examples:
  runbook list                                  every runbook and whether it can change the host
  runbook run triage                            what is wrong with this server, read-only
  runbook run restart-unit -p unit=openclaw-bg-worker.service --dry-run
  OPENCLAW_DRY_RUN=true runbook run restart-safe-units
  runbook log --since 2h                        recent runs, newest first
  runbook replay last --source                  what the last run did, and its exact code
  runbook audit verify                          recompute the audit hash chain";

/// `runbook --version`: the package version, the commit it was built from and the build
/// date (see build.rs).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("RUNBOOK_GIT_COMMIT"),
    " ",
    env!("RUNBOOK_BUILD_DATE"),
    ")"
);

#[derive(Debug, Parser)]
#[command(
    name = "runbook",
    version = VERSION,
    about = "Executable, audited operations runbooks for one server",
    long_about = "Runs a server's written procedures as Rhai scripts that touch the machine only through a vetted host API, with confirmation gates before risky steps and every step recorded in an append-only, hash-chained audit database.",
    after_help = EXAMPLES
)]
pub struct Cli {
    /// Audit database [default: /var/lib/runbook/audit.db as root, else $XDG_STATE_HOME/runbook/audit.db]
    #[arg(long, global = true, env = "RUNBOOK_AUDIT_DB", value_name = "PATH")]
    pub audit_db: Option<PathBuf>,

    /// Site config describing this machine [default: /etc/runbook/site.yaml, else the built-in OpenClaw site]
    #[arg(long, global = true, env = "RUNBOOK_SITE", value_name = "FILE")]
    pub site: Option<PathBuf>,

    /// Extra runbook directory; its runbooks override built-in ones of the same name (repeatable; RUNBOOK_PATH takes DIR:DIR)
    #[arg(long = "runbooks", global = true, value_name = "DIR")]
    pub runbook_dirs: Vec<PathBuf>,

    /// More output: every read-only host call (-v), debug logs (-vv). RUST_LOG also works.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Never page output (log, replay); so do RUNBOOK_PAGER=cat, PAGER=cat and a pipe
    #[arg(long, global = true)]
    pub no_pager: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List every runbook with its summary and whether it can change the host
    #[command(after_help = list::LIST_EXAMPLES)]
    List(list::ListArgs),
    /// Show a runbook's header, parameters and steps without running it
    #[command(after_help = show::SHOW_EXAMPLES)]
    Show(show::ShowArgs),
    /// Run a runbook
    #[command(after_help = run::RUN_EXAMPLES)]
    Run(run::RunArgs),
    /// Dry-run a runbook and write the plan an approver signs (change table, effects, challenge)
    #[command(after_help = plan::PLAN_EXAMPLES)]
    Plan(plan::PlanArgs),
    /// Add an approver's SSH signature (ssh-keygen -Y sign) of a plan's challenge to the plan
    #[command(after_help = approve::APPROVE_EXAMPLES)]
    Approve(approve::ApproveArgs),
    /// Learn a runbook step by step on this server, with the shell behind every step
    #[command(after_help = learn::LEARN_EXAMPLES)]
    Learn(learn::LearnArgs),
    /// Compile every runbook (or one) and report errors as FILE:LINE:COL
    #[command(after_help = check::CHECK_EXAMPLES)]
    Check(check::CheckArgs),
    /// Runs, newest first, with status, operator and duration
    #[command(after_help = log::LOG_EXAMPLES)]
    Log(log::LogArgs),
    /// One run's timeline: steps, host calls, gates and who answered, final status
    #[command(after_help = replay::REPLAY_EXAMPLES)]
    Replay(replay::ReplayArgs),
    /// One run, or every run of an incident window, as a self-contained HTML file or Markdown
    #[command(after_help = report::REPORT_EXAMPLES)]
    Report(report::ReportArgs),
    /// Verify or export the audit trail
    #[command(after_help = audit::AUDIT_EXAMPLES)]
    Audit(audit::AuditArgs),
    /// List every host function runbooks can call, with its arguments and whether it mutates
    #[command(after_help = api::API_EXAMPLES)]
    Api(api::ApiArgs),
    /// Print the shell script that makes TAB ask runbook for completions
    #[command(after_help = COMPLETIONS_EXAMPLES)]
    Completions {
        /// The shell to register with
        #[arg(value_parser = ["bash", "zsh", "fish"])]
        shell: String,
    },
}

const COMPLETIONS_EXAMPLES: &str = "\
Examples:
  source <(runbook completions bash)            this bash session (the package installs it for all)
  runbook completions zsh > ~/.zfunc/_runbook
  runbook completions fish > ~/.config/fish/completions/runbook.fish
  COMPLETE=bash runbook                         the same script, as clap_complete prints it

Completions are computed when TAB is pressed: runbook names, the chosen runbook's -p keys
and their values (symptoms from the site), run ids for replay and report.";

/// Parse, run, print the error once, return the exit code.
pub fn main() -> i32 {
    complete::complete_if_asked();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
        }
    };
    crate::output::init_colors();
    init_tracing(cli.verbose);
    if !matches!(cli.command, Command::Run(_) | Command::Learn(_)) {
        exit_quietly_on_closed_pipe();
    }
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            print_error(&e.to_string());
            e.exit_code()
        }
    }
}

/// Print an error line on stderr, the one way every command reports why it stopped. A closed
/// stderr is not worth a panic.
pub fn print_error(message: &str) {
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr().lock(),
        "{} {message}",
        console::style("error:").red().bold()
    );
}

/// `runbook list | head -1`: when the reader goes away, end like `cat` or `git log` do, at
/// once and without a word (the default action of SIGPIPE, which Rust programs start with
/// ignored, so that every print would otherwise fail or panic). Not for `run`: a run must
/// finish and record its end whoever reads its output, so its printer ignores write errors
/// instead.
fn exit_quietly_on_closed_pipe() {
    // SAFETY: signal(2) with SIG_DFL installs no handler; nothing runs in a signal context.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 | 1 => "warn",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// What subcommands share: the catalog of runbooks, the runtime, the cancel flag.
pub struct Globals {
    pub cli_site: Option<PathBuf>,
    pub audit_db: PathBuf,
    pub runbook_dirs: Vec<PathBuf>,
    pub verbose: bool,
    pub no_pager: bool,
}

impl Globals {
    pub fn catalog(&self) -> Result<Catalog> {
        Catalog::load(&self.runbook_dirs)
    }
}

fn runbook_dirs(cli: &Cli) -> Vec<PathBuf> {
    if !cli.runbook_dirs.is_empty() {
        return cli.runbook_dirs.clone();
    }
    std::env::var("RUNBOOK_PATH")
        .ok()
        .map(|p| {
            p.split(':')
                .filter(|s| !s.is_empty())
                .map(PathBuf::from)
                .collect()
        })
        .unwrap_or_default()
}

/// The tokio runtime, built explicitly: `main` stays synchronous and the Rhai engine runs on
/// this thread, outside the runtime, so host functions may `block_on`.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::Other(anyhow::anyhow!("cannot start the async runtime: {e}")))
}

/// First Ctrl-C: set the cancel flag (the run stops at its next operation and records it).
/// Second Ctrl-C: exit at once; the next invocation marks the run interrupted.
pub fn watch_sigint(rt: &tokio::runtime::Runtime) -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    rt.spawn(async move {
        while tokio::signal::ctrl_c().await.is_ok() {
            if f.swap(true, Ordering::SeqCst) {
                eprintln!("\ncanceled again: exiting now");
                std::process::exit(exit::CANCELED);
            }
            eprintln!("\ncanceling at the next operation (Ctrl-C again to exit now)");
        }
    });
    flag
}

fn dispatch(cli: Cli) -> Result<i32> {
    let globals = Globals {
        cli_site: cli.site.clone(),
        audit_db: cli
            .audit_db
            .clone()
            .unwrap_or_else(crate::audit::default_path),
        runbook_dirs: runbook_dirs(&cli),
        verbose: cli.verbose > 0,
        no_pager: cli.no_pager,
    };
    match cli.command {
        Command::List(args) => list::run(&args, &globals),
        Command::Show(args) => show::run(&args, &globals),
        Command::Run(args) => run::run(&args, &globals),
        Command::Learn(args) => learn::run(&args, &globals),
        Command::Check(args) => check::run(&args, &globals),
        Command::Plan(args) => plan::run(&args, &globals),
        Command::Approve(args) => approve::run(&args, &globals),
        Command::Log(args) => {
            log::run(&args, &globals.audit_db, &runtime()?, globals.no_pager)?;
            Ok(exit::OK)
        }
        Command::Replay(args) => {
            replay::run(&args, &globals.audit_db, &runtime()?, globals.no_pager)?;
            Ok(exit::OK)
        }
        Command::Report(args) => {
            report::run(&args, &globals.audit_db, &runtime()?)?;
            Ok(exit::OK)
        }
        Command::Audit(args) => {
            audit::run(&args, &globals.audit_db, &runtime()?)?;
            Ok(exit::OK)
        }
        Command::Api(args) => api::run(&args, &globals),
        Command::Completions { shell } => {
            complete::registration(&shell, &mut std::io::stdout().lock())
                .map_err(|e| Error::Other(e.into()))?;
            Ok(exit::OK)
        }
    }
}

/// Print a value as one JSON document on stdout. A reader that went away is ignored (see
/// [`exit_quietly_on_closed_pipe`]).
pub fn print_json(value: &impl serde::Serialize) {
    use std::io::Write;
    let text = serde_json::to_string_pretty(value).expect("JSON output serializes");
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}
