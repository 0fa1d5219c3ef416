//! The hook between steps: something that walks a person through a run (`runbook learn`)
//! decides before each step whether it runs, is skipped or ends the run, sees each host call
//! as it is made, and is told after each step what happened.
//!
//! The engine executes exactly as in `runbook run`: the walker only watches and chooses, so
//! a lesson runs the same code, the same door and the same gates as a real run.

use serde_json::Value;

use crate::audit::event::Answer;
use crate::host::HostFn;

/// What to do with the step about to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepChoice {
    Run,
    /// Not run; recorded as skipped.
    Skip,
    /// End the run here, as canceled.
    Stop,
}

/// A step that ran, as the walker is told about it.
pub struct StepDone<'a> {
    pub name: &'a str,
    /// Why it failed, if it did.
    pub error: Option<&'a str>,
    /// The findings it reported (redacted, as shown).
    pub findings: &'a [Value],
    pub duration_ms: u64,
}

pub trait Walker: Send + Sync {
    fn before_step(&self, name: &str) -> StepChoice;
    /// After a step ran; the answers to its checks of understanding, to record.
    fn after_step(&self, done: &StepDone) -> Vec<Answer>;
    /// A host call about to be made (arguments redacted), and whether it changes the host.
    fn before_call(&self, f: &'static HostFn, args: &Value, mutates: bool, dry_run: bool);
    /// What the call returned (redacted), or why it failed.
    fn after_call(&self, f: &'static HostFn, result: Result<&Value, &str>);
}
