//! The one error type the CLI prints, and the exit code each error maps to.
//!
//! A run that started ends with an [`crate::engine::outcome::Outcome`] instead, which maps
//! its own result to a code; errors here are what stops a command before or outside a run.
//!
//! Errors are printed once, at the top (`main`), with the exit code chosen by the error. The
//! codes are documented in README.md; change both together.

/// Documented exit codes.
pub mod exit {
    pub const OK: i32 = 0;
    /// The runbook ran and failed (a step raised an error, a verification did not hold).
    pub const RUNBOOK_FAILED: i32 = 1;
    /// Bad command line, unknown runbook, invalid or missing parameter, compile error.
    pub const USAGE: i32 = 2;
    /// A confirmation gate or the site policy refused to go on.
    pub const REFUSED: i32 = 3;
    /// The audit store could not be opened or written, or its chain does not verify.
    pub const AUDIT: i32 = 4;
    /// The runbook completed but reported a finding at or above `--fail-on` (crit by default).
    pub const FINDINGS: i32 = 5;
    /// The operator pressed Ctrl-C (SIGINT).
    pub const CANCELED: i32 = 130;
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Audit(String),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) => exit::USAGE,
            Error::Refused(_) => exit::REFUSED,
            Error::Audit(_) => exit::AUDIT,
            Error::Other(_) => exit::RUNBOOK_FAILED,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
