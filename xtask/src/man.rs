//! Man pages from the clap definitions: one per subcommand, each with its examples, and the
//! sections clap does not know about (EXIT STATUS, ENVIRONMENT, FILES, SEE ALSO).

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::CommandFactory;
use clap_mangen::Man;

const EXIT_STATUS: &[(&str, &str)] = &[
    ("0", "The runbook completed and no finding reached --fail-on; any other command succeeded."),
    ("1", "The runbook failed: a step raised an error, a verification did not hold, the operation budget ran out."),
    ("2", "Usage or parameter error, unknown runbook, compile error, malformed site file; nothing ran."),
    ("3", "Refused by a gate (no terminal, answered No, wrong typed word) or by policy."),
    ("4", "Audit store unavailable or inconsistent (audit verify found a break)."),
    ("5", "The runbook completed but reported a finding at or above --fail-on (crit by default)."),
    ("130", "Canceled with Ctrl-C; the run records it."),
];

const ENVIRONMENT: &[(&str, &str)] = &[
    ("RUNBOOK_AUDIT_DB", "The audit database, as --audit-db."),
    ("RUNBOOK_SITE", "The site config, as --site."),
    (
        "RUNBOOK_PATH",
        "Runbook directories separated by colons, as --runbooks.",
    ),
    (
        "RUNBOOK_PAGER, PAGER",
        "The pager for log and replay on a terminal (default: less -FRX). Empty or cat: no pager.",
    ),
    ("LESS", "Options for less; set to FRX when unset."),
    (
        "OPENCLAW_DRY_RUN",
        "true or 1: a dry run, as --dry-run. Any other value is an error.",
    ),
    ("NO_COLOR", "Set and not empty: no colors."),
    ("RUST_LOG", "Log filter for debug output (see -vv)."),
    (
        "XDG_STATE_HOME",
        "Where a non-root user's audit database lives (default ~/.local/state).",
    ),
    (
        "COMPLETE",
        "bash, zsh or fish: print the completion script, or answer a completion request from it.",
    ),
];

const FILES: &[(&str, &str)] = &[
    ("/etc/runbook/site.yaml", "The site config: units and their policy, containers, thresholds, paths, command rules, operators, symptoms. Without it, the built-in OpenClaw site."),
    ("/var/lib/runbook/audit.db", "The audit trail when run as root (0600, in a 0700 directory); audit.db.reserve beside it. Kept when the package is purged."),
    ("~/.local/state/runbook/audit.db", "The audit trail of a non-root user."),
    ("/lib/systemd/system/runbook-health.timer", "Runs runbook run health every 5 minutes; a crit finding fails the service (status 5)."),
    ("/lib/systemd/system/runbook-backup.timer, runbook-prune.timer", "Daily backup and a weekly prune dry run (the table of what a prune would move to the trash), shipped disabled."),
    ("/lib/systemd/system/runbook-drill-due.timer", "Runs runbook run drill-due weekly: a restore drill older than 92 days, or none, fails the service (status 5)."),
];

/// Write every page (uncompressed) to `dir`; returns their paths.
pub fn write_all(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut cmd = runbook::cli::Cli::command().disable_help_subcommand(true);
    cmd.build();
    let mut pages = Vec::new();
    let mut names = Vec::new();
    collect(&cmd, &mut names);
    let version = format!("runbook {}", cmd.get_version().unwrap_or("?"));
    write_page(dir, &cmd, &names, &version, &mut pages)?;
    Ok(pages)
}

fn collect(cmd: &clap::Command, names: &mut Vec<String>) {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        names.push(display_name(sub));
        collect(sub, names);
    }
}

fn display_name(cmd: &clap::Command) -> String {
    cmd.get_display_name().unwrap_or(cmd.get_name()).to_string()
}

fn write_page(
    dir: &Path,
    cmd: &clap::Command,
    all: &[String],
    version: &str,
    pages: &mut Vec<PathBuf>,
) -> std::io::Result<()> {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_page(dir, sub, all, version, pages)?;
    }
    let name = display_name(cmd);
    let man = Man::new(cmd.clone())
        .manual("runbook manual")
        .source(version.to_string());
    let path = dir.join(man.get_filename());
    let mut out = std::fs::File::create(&path)?;
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut out)?;
    }
    if cmd.has_subcommands() {
        man.render_subcommands_section(&mut out)?;
    }
    if let Some(after) = cmd.get_after_help() {
        section(&mut out, "EXAMPLES")?;
        let text = after.to_string();
        preformatted(&mut out, text.strip_prefix("Examples:\n").unwrap_or(&text))?;
    }
    let top = name == "runbook";
    if top || name == "runbook-run" {
        section(&mut out, "EXIT STATUS")?;
        table(&mut out, EXIT_STATUS)?;
    }
    if top {
        section(&mut out, "ENVIRONMENT")?;
        table(&mut out, ENVIRONMENT)?;
        section(&mut out, "FILES")?;
        table(&mut out, FILES)?;
    }
    section(&mut out, "SEE ALSO")?;
    let see: Vec<String> = std::iter::once("runbook".to_string())
        .chain(all.iter().cloned())
        .filter(|n| *n != name)
        .map(|n| format!("\\fB{}\\fR(1)", escape(&n)))
        .chain([
            "\\fBsystemctl\\fR(1)".into(),
            "\\fBjournalctl\\fR(1)".into(),
        ])
        .collect();
    writeln!(out, "{}", see.join(", "))?;
    pages.push(path);
    Ok(())
}

fn section(out: &mut dyn Write, title: &str) -> std::io::Result<()> {
    writeln!(out, ".SH \"{title}\"")
}

fn table(out: &mut dyn Write, rows: &[(&str, &str)]) -> std::io::Result<()> {
    for (key, text) in rows {
        writeln!(out, ".TP\n\\fB{}\\fR\n{}", escape(key), escape_line(text))?;
    }
    Ok(())
}

fn preformatted(out: &mut dyn Write, text: &str) -> std::io::Result<()> {
    writeln!(out, ".nf")?;
    for line in text.lines() {
        writeln!(out, "{}", escape_line(line))?;
    }
    writeln!(out, ".fi")
}

/// Roff text: backslashes and hyphens escaped.
fn escape(text: &str) -> String {
    text.replace('\\', "\\e").replace('-', "\\-")
}

/// A line of roff text: escaped, and never starting with a control character.
fn escape_line(text: &str) -> String {
    let t = escape(text);
    if t.starts_with('.') || t.starts_with('\'') {
        format!("\\&{t}")
    } else {
        t
    }
}
