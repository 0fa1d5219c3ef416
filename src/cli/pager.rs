//! Long output through a pager, as git and journalctl do.
//!
//! When stdout is a terminal, `log` and `replay` write into the pager's stdin instead:
//! `RUNBOOK_PAGER`, else `PAGER`, else `less -FRX` (quit when it fits one screen, keep colors,
//! leave the text on the screen). An empty value or `cat` means no pager, and so do
//! `--no-pager` and a stdout that is a pipe or a file. The pager command is run by `sh -c`,
//! so it may carry arguments. The pager inherits the terminal, and since stdout stays a
//! terminal, colors stay on (less gets `-R` through `LESS=FRX` when `LESS` is unset).
//!
//! Quitting the pager early is not an error: the write that meets the closed pipe ends the
//! output quietly (see `log::ignore_broken_pipe`), then the pager is waited for so that the
//! shell prompt comes back after it has restored the terminal.

use std::io::{IsTerminal, Write};
use std::process::{Child, Command, Stdio};

use crate::error::{Error, Result};

const DEFAULT: &str = "less -FRX";

/// Where paged output goes: the pager's stdin, or stdout itself.
pub enum Paged {
    Pager(Child),
    Stdout,
}

/// The pager command in force, or None for none: `--no-pager`, stdout not a terminal, or a
/// pager variable set to nothing or `cat`.
pub fn command(no_pager: bool) -> Option<String> {
    if no_pager || !std::io::stdout().is_terminal() {
        return None;
    }
    let chosen = ["RUNBOOK_PAGER", "PAGER"]
        .iter()
        .find_map(|v| std::env::var(v).ok())
        .unwrap_or_else(|| DEFAULT.to_string());
    let chosen = chosen.trim().to_string();
    (!chosen.is_empty() && chosen != "cat").then_some(chosen)
}

/// Start the pager if one is in force. A pager that cannot be started at all (no `sh`) is an
/// error naming the ways around it.
pub fn start(no_pager: bool) -> Result<Paged> {
    let Some(cmd) = command(no_pager) else {
        return Ok(Paged::Stdout);
    };
    let mut command = Command::new("sh");
    command.arg("-c").arg(&cmd).stdin(Stdio::piped());
    if std::env::var_os("LESS").is_none() {
        command.env("LESS", "FRX");
    }
    if std::env::var_os("LV").is_none() {
        command.env("LV", "-c");
    }
    let child = command.spawn().map_err(|e| {
        Error::Other(anyhow::anyhow!(
            "cannot start the pager `{cmd}`: {e}; use --no-pager, or set RUNBOOK_PAGER=cat"
        ))
    })?;
    // A pager that quits early closes the pipe: the next write fails with EPIPE (handled as
    // the end of output) instead of killing this process with SIGPIPE before it can wait for
    // the pager.
    // SAFETY: signal(2) with SIG_IGN installs no handler; nothing runs in a signal context.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    Ok(Paged::Pager(child))
}

impl Paged {
    /// The writer to render into.
    pub fn writer(&mut self) -> Box<dyn Write + '_> {
        match self {
            Paged::Pager(child) => Box::new(child.stdin.as_mut().expect("pager stdin is piped")),
            Paged::Stdout => Box::new(std::io::stdout().lock()),
        }
    }

    /// Close the pager's input and wait until the reader is done. A pager command that does
    /// not exist (the shell's 127) is reported, since its output went nowhere.
    pub fn finish(self) -> Result<()> {
        let Paged::Pager(mut child) = self else {
            return Ok(());
        };
        drop(child.stdin.take());
        let status = child
            .wait()
            .map_err(|e| Error::Other(anyhow::anyhow!("waiting for the pager: {e}")))?;
        if status.code() == Some(127) {
            return Err(Error::Other(anyhow::anyhow!(
                "the pager could not be run (exit 127: command not found); \
                 set RUNBOOK_PAGER or PAGER to an installed pager, RUNBOOK_PAGER=cat, or use --no-pager"
            )));
        }
        Ok(())
    }
}
