//! `runbook report RUN|last [-o FILE]` and `runbook report --since TIME [--until TIME]`: a
//! run, or every run of an incident window, as one document (see `crate::report`).

use std::io::Write;
use std::path::{Path, PathBuf};

use tokio::runtime::Runtime;

use crate::audit::{list_runs, resolve_run, AuditStore, RunFilter};
use crate::error::{Error, Result};
use crate::report::{self, html, markdown, RenderError, Sink};

pub const REPORT_EXAMPLES: &str = "\
Examples:
  runbook report last -o incident.html          one self-contained file, checks itself in the browser
  runbook report 20261121T0512 --format markdown   for a ticket (markdown is the default on stdout)
  runbook report --since '2 hours ago' -o window.html   every run of an incident window
  runbook report --since 2026-11-21T05:00 --until 2026-11-21T06:00 --format json

Open the HTML file from disk: it fetches nothing. Its badge turns green when every embedded
event hashes to its record; check it against the live store with the command it prints.";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Html,
    Markdown,
    Json,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ReportArgs {
    /// The run: a unique prefix of its id, or `last`. Omit it with --since.
    #[arg(
        value_name = "RUN",
        add = super::complete::run_ids(),
        required_unless_present = "since",
        conflicts_with = "since"
    )]
    pub run: Option<String>,
    /// Every run started at or after TIME (the forms of `log --since`)
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub since: Option<String>,
    /// With --since: runs started at or before TIME
    #[arg(
        long,
        value_name = "TIME",
        allow_hyphen_values = true,
        requires = "since"
    )]
    pub until: Option<String>,
    /// Write to FILE instead of stdout (written whole or not at all)
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// html, markdown or json [default: html when -o ends in .html, else markdown]
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

pub fn run(args: &ReportArgs, db: &Path, rt: &Runtime) -> Result<()> {
    let format = args.format.unwrap_or(match &args.output {
        Some(p) if p.extension().is_some_and(|e| e == "html" || e == "htm") => Format::Html,
        _ => Format::Markdown,
    });
    let now = chrono::Utc::now();
    let when = |arg: &Option<String>, flag: &str| -> Result<Option<String>> {
        arg.as_deref()
            .map(|s| {
                crate::time::parse_time(s, now)
                    .map(crate::audit::clock::format_time)
                    .map_err(|e| Error::Usage(format!("{flag}: {e}")))
            })
            .transpose()
    };
    let since = when(&args.since, "--since")?;
    let until = when(&args.until, "--until")?;
    rt.block_on(async {
        let store = AuditStore::open_existing(db).await?.ok_or_else(|| {
            Error::Usage(format!(
                "no runs recorded yet ({} does not exist)",
                db.display()
            ))
        })?;
        let mut conn = store.reader().await?;
        let (ids, title) = match &args.run {
            Some(spec) => {
                let id = resolve_run(&mut conn, spec).await?;
                (vec![id.clone()], format!("run {id}"))
            }
            None => {
                let filter = RunFilter {
                    since: since.clone(),
                    until: until.clone(),
                    ..RunFilter::default()
                };
                let mut runs = list_runs(&mut conn, &filter).await?;
                runs.reverse(); // oldest first: the order things happened
                if runs.is_empty() {
                    return Err(Error::Usage(format!(
                        "no runs started in that window ({} .. {})",
                        args.since.as_deref().unwrap_or("-"),
                        args.until.as_deref().unwrap_or("now")
                    )));
                }
                let title = format!(
                    "incident window {} .. {} ({} runs)",
                    args.since.as_deref().unwrap_or("-"),
                    args.until.as_deref().unwrap_or("now"),
                    runs.len()
                );
                (runs.into_iter().map(|r| r.id).collect(), title)
            }
        };
        // The store's page cache is sized for writing many events; the report reads each
        // page once per pass, in order, and a small cache keeps its memory flat.
        sqlx::query("PRAGMA cache_size = -2048")
            .execute(&mut conn)
            .await
            .map_err(crate::audit::AuditError::from)?;
        // One read transaction: every query of the report sees the same snapshot, so a run
        // still recording cannot add rows that its embedded events lack.
        sqlx::query("BEGIN")
            .execute(&mut conn)
            .await
            .map_err(crate::audit::AuditError::from)?;
        let written = match format {
            Format::Html | Format::Markdown => {
                stream(&mut conn, &ids, title, format, args.output.as_deref()).await
            }
            Format::Json => {
                let data = report::load(&mut conn, &ids, title).await?;
                in_memory(&data, args.output.as_deref())
            }
        };
        let _ = sqlx::query("ROLLBACK").execute(&mut conn).await;
        written
    })
}

/// The HTML or Markdown document, streamed through the redaction check into its file (or
/// stdout).
async fn stream(
    conn: &mut sqlx::SqliteConnection,
    ids: &[String],
    title: String,
    format: Format,
    output: Option<&Path>,
) -> Result<()> {
    let outline = report::load_outline(conn, ids, title).await?;
    let mut sink = match output {
        Some(path) => Sink::file(path),
        None => Sink::stdout(),
    }
    .map_err(render_error)?;
    let rendered = match format {
        Format::Html => html::render(conn, &outline, &mut sink).await,
        _ => markdown::render(conn, &outline, &mut sink).await,
    };
    rendered.map_err(render_error)?;
    sink.finish().map_err(render_error)
}

fn render_error(e: RenderError) -> Error {
    match e {
        RenderError::Audit(e) => e.into(),
        RenderError::Io(why) => Error::Usage(why),
        RenderError::Secret(why) => Error::Refused(why),
    }
}

/// JSON, made whole in memory (it carries every event's record), then checked.
fn in_memory(data: &report::ReportData, output: Option<&Path>) -> Result<()> {
    let document = serde_json::to_string_pretty(data).expect("report data serializes") + "\n";
    // The sources are in the JSON as strings: check everything else.
    let mut without_sources = data.clone();
    for run in &mut without_sources.runs {
        run.source = None;
    }
    report::guard(&serde_json::to_string(&without_sources).expect("serializes"))
        .map_err(Error::Refused)?;
    match output {
        Some(path) => write_whole(path, &document),
        None => {
            let _ = std::io::stdout().lock().write_all(document.as_bytes());
            Ok(())
        }
    }
}

/// Write through a temporary file and rename, so a failure leaves no half report.
fn write_whole(path: &Path, text: &str) -> Result<()> {
    let tmp = crate::report::temp_beside(path);
    let fail = |e: std::io::Error| Error::Usage(format!("cannot write {}: {e}", path.display()));
    std::fs::write(&tmp, text).map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        fail(e)
    })
}
