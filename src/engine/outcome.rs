//! How a run ended, and the one place that turns that into a status and an exit code.
//!
//! The executor builds one [`Outcome`] when the script stops. The `run-end` event, the
//! summary line, `run --json` and the process exit code all read it, so they cannot
//! disagree: a run that exits 4 records 4, a run whose findings reach `--fail-on` records 5.
//!
//! A runbook that completes is not the same as a healthy server: triage that reports a
//! `crit` finding has done its job, but a cron job or `&&` must be able to tell. So a
//! completed run whose worst finding is at or above the `--fail-on` threshold (crit by
//! default) ends with status `findings` and exit code 5.

use serde::Serialize;
use serde_json::Value;

use crate::audit::RunStatus;
use crate::error::exit;

/// A finding's severity, worst last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Ok,
    Info,
    Warn,
    Crit,
}

impl Severity {
    pub const ALL: [Severity; 4] = [Severity::Ok, Severity::Info, Severity::Warn, Severity::Crit];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Ok => "ok",
            Severity::Info => "info",
            Severity::Warn => "warn",
            Severity::Crit => "crit",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// `--fail-on`: the severity from which a completed run exits 5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum FailOn {
    /// Exit 5 when any finding is crit (the default)
    #[default]
    Crit,
    /// Exit 5 when any finding is warn or crit
    Warn,
    /// Never exit 5: findings are reported, the exit code only says whether the run completed
    Never,
}

impl FailOn {
    fn threshold(self) -> Option<Severity> {
        match self {
            FailOn::Crit => Some(Severity::Crit),
            FailOn::Warn => Some(Severity::Warn),
            FailOn::Never => None,
        }
    }
}

/// How many findings of each severity a run reported. Serialized as
/// `{"ok": N, "info": N, "warn": N, "crit": N}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Counts {
    pub ok: u64,
    pub info: u64,
    pub warn: u64,
    pub crit: u64,
}

impl Counts {
    /// Count the `severity` fields of reported findings (anything unknown counts as info:
    /// the `report` builtin already refuses unknown severities).
    pub fn of(findings: &[Value]) -> Counts {
        let mut c = Counts::default();
        for f in findings {
            match f["severity"].as_str().and_then(Severity::parse) {
                Some(Severity::Ok) => c.ok += 1,
                Some(Severity::Warn) => c.warn += 1,
                Some(Severity::Crit) => c.crit += 1,
                Some(Severity::Info) | None => c.info += 1,
            }
        }
        c
    }

    pub fn total(&self) -> u64 {
        self.ok + self.info + self.warn + self.crit
    }

    /// The worst severity reported, or None when there were no findings.
    pub fn worst(&self) -> Option<Severity> {
        [
            (Severity::Crit, self.crit),
            (Severity::Warn, self.warn),
            (Severity::Info, self.info),
            (Severity::Ok, self.ok),
        ]
        .into_iter()
        .find(|(_, n)| *n > 0)
        .map(|(s, _)| s)
    }

    /// `2 crit, 1 warn, 9 ok`: worst first, severities with none left out.
    pub fn describe(&self) -> String {
        [
            (self.crit, "crit"),
            (self.warn, "warn"),
            (self.info, "info"),
            (self.ok, "ok"),
        ]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, s)| format!("{n} {s}"))
        .collect::<Vec<_>>()
        .join(", ")
    }
}

/// How the script stopped, before findings are taken into account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// Every step ran.
    Completed,
    /// A step raised an error, a verification did not hold, the budget ran out.
    Failed(String),
    /// A gate or the site policy refused.
    Refused(String),
    /// Ctrl-C.
    Canceled,
    /// The audit store could not record what the run needed recorded.
    Audit(String),
}

/// The whole result of a run: how it ended and what it found.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub ending: Ending,
    pub counts: Counts,
    pub fail_on: FailOn,
}

impl Outcome {
    /// The status recorded in `run-end` and shown by `log` and the summary line.
    pub fn status(&self) -> RunStatus {
        match &self.ending {
            Ending::Completed if self.findings_fail() => RunStatus::Findings,
            Ending::Completed => RunStatus::Ok,
            Ending::Failed(_) | Ending::Audit(_) => RunStatus::Failed,
            Ending::Refused(_) => RunStatus::Refused,
            Ending::Canceled => RunStatus::Canceled,
        }
    }

    /// The process exit code, and the `exit_code` of the `run-end` event. The only mapping
    /// from a run's result to a code; README.md's table documents it.
    pub fn exit_code(&self) -> i32 {
        match &self.ending {
            Ending::Completed if self.findings_fail() => exit::FINDINGS,
            Ending::Completed => exit::OK,
            Ending::Failed(_) => exit::RUNBOOK_FAILED,
            Ending::Refused(_) => exit::REFUSED,
            Ending::Canceled => exit::CANCELED,
            Ending::Audit(_) => exit::AUDIT,
        }
    }

    /// Why the run did not complete, when it did not.
    pub fn error(&self) -> Option<String> {
        match &self.ending {
            Ending::Completed => None,
            Ending::Failed(m) | Ending::Refused(m) => Some(m.clone()),
            Ending::Audit(m) => Some(format!("audit store: {m}")),
            Ending::Canceled => Some("canceled by the operator (Ctrl-C, or q in a lesson)".into()),
        }
    }

    fn findings_fail(&self) -> bool {
        match (self.fail_on.threshold(), self.counts.worst()) {
            (Some(threshold), Some(worst)) => worst >= threshold,
            _ => false,
        }
    }

    /// The same run, except that recording its end failed: exit 4, whatever it found.
    pub fn with_audit_failure(self, message: String) -> Outcome {
        Outcome {
            ending: Ending::Audit(message),
            ..self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn outcome(ending: Ending, findings: &[&str], fail_on: FailOn) -> Outcome {
        let findings: Vec<Value> = findings.iter().map(|s| json!({"severity": s})).collect();
        Outcome {
            ending,
            counts: Counts::of(&findings),
            fail_on,
        }
    }

    #[test]
    fn findings_decide_a_completed_run() {
        let o = outcome(Ending::Completed, &["ok", "crit", "warn"], FailOn::Crit);
        assert_eq!((o.status(), o.exit_code()), (RunStatus::Findings, 5));
        let o = outcome(Ending::Completed, &["ok", "warn"], FailOn::Crit);
        assert_eq!((o.status(), o.exit_code()), (RunStatus::Ok, 0));
        let o = outcome(Ending::Completed, &["ok", "warn"], FailOn::Warn);
        assert_eq!((o.status(), o.exit_code()), (RunStatus::Findings, 5));
        let o = outcome(Ending::Completed, &["crit"], FailOn::Never);
        assert_eq!((o.status(), o.exit_code()), (RunStatus::Ok, 0));
        let o = outcome(Ending::Completed, &[], FailOn::Warn);
        assert_eq!((o.status(), o.exit_code()), (RunStatus::Ok, 0));
    }

    #[test]
    fn a_run_that_did_not_complete_keeps_its_own_code() {
        for (ending, status, code) in [
            (Ending::Failed("x".into()), RunStatus::Failed, 1),
            (Ending::Refused("x".into()), RunStatus::Refused, 3),
            (Ending::Audit("x".into()), RunStatus::Failed, 4),
            (Ending::Canceled, RunStatus::Canceled, 130),
        ] {
            let o = outcome(ending, &["crit"], FailOn::Crit);
            assert_eq!((o.status(), o.exit_code()), (status, code));
            assert!(o.error().is_some());
        }
    }

    #[test]
    fn counts_read_worst_first() {
        let c = Counts::of(&[
            json!({"severity": "ok"}),
            json!({"severity": "crit"}),
            json!({"severity": "crit"}),
            json!({"severity": "warn"}),
        ]);
        assert_eq!(c.describe(), "2 crit, 1 warn, 1 ok");
        assert_eq!(c.worst(), Some(Severity::Crit));
        assert_eq!(Counts::default().worst(), None);
        assert_eq!(Counts::default().describe(), "");
    }
}
