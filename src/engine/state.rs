//! The state one run shares between the engine thread's host functions and the executor.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rhai::{Dynamic, EvalAltResult, Position};
use serde_json::Value;

use super::harden::{HOST_CALL_COST, MAX_OPERATIONS};
use crate::effect::Door;

/// Why a run was stopped from inside. These end the script with a non-catchable error, so a
/// runbook's `try`/`catch` cannot swallow a policy refusal, a cancellation, an exhausted
/// budget or an audit failure.
///
/// A stop is also *sticky*: once set, every further operation of the script (in any
/// callback, closure, comparator or module) and every host call ends with it again. Rhai
/// turns some errors into values on the way out (the module resolver wraps them in a
/// catchable `ErrorInModule`; `sort` and `dedup` discard their comparator's errors), so
/// being uncatchable where it is raised is not enough: the first thing the script does
/// after a swallowed stop ends the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    Refused(String),
    Canceled,
    Audit(String),
    /// The run used up its operation budget ([`MAX_OPERATIONS`]).
    Budget,
}

pub struct RunState {
    pub door: Door,
    pub findings: Mutex<Vec<Value>>,
    pub cancel: Arc<AtomicBool>,
    stop: Mutex<Option<Stop>>,
    /// Whether `stop` is set: read on every operation, so an atomic rather than the lock.
    is_stopped: AtomicBool,
    /// Operations used by the whole run: script operations wherever they run (Rhai counts
    /// per call context and starts callbacks and modules afresh, so it cannot be the
    /// budget), plus [`HOST_CALL_COST`] per host call.
    used: AtomicU64,
    budget: u64,
}

impl RunState {
    pub fn new(door: Door, cancel: Arc<AtomicBool>) -> Self {
        RunState {
            door,
            findings: Mutex::new(Vec::new()),
            cancel,
            stop: Mutex::new(None),
            is_stopped: AtomicBool::new(false),
            used: AtomicU64::new(0),
            budget: MAX_OPERATIONS,
        }
    }

    /// The same state with another operation budget (tests use small ones).
    pub fn with_budget(mut self, budget: u64) -> Self {
        self.budget = budget;
        self
    }

    /// Remember why the run stops (the first reason wins) and build the error that ends it.
    pub fn stop(&self, why: Stop, pos: Position) -> Box<EvalAltResult> {
        self.set_stop(why);
        EvalAltResult::ErrorTerminated(Dynamic::UNIT, pos).into()
    }

    fn set_stop(&self, why: Stop) {
        let mut slot = self.stop.lock().expect("stop lock");
        if slot.is_none() {
            *slot = Some(why);
            self.is_stopped.store(true, Ordering::SeqCst);
        }
    }

    pub fn stopped(&self) -> Option<Stop> {
        self.stop.lock().expect("stop lock").clone()
    }

    pub fn canceled(&self) -> bool {
        self.cancel.load(Ordering::SeqCst)
    }

    /// Operations used so far.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// Charge `cost` operations; true when the run must stop (now or earlier): budget used
    /// up, canceled, or stopped for another reason.
    fn charge(&self, cost: u64) -> bool {
        let used = self.used.fetch_add(cost, Ordering::Relaxed) + cost;
        if used > self.budget {
            self.set_stop(Stop::Budget);
        } else if self.canceled() {
            self.set_stop(Stop::Canceled);
        }
        self.is_stopped.load(Ordering::SeqCst)
    }

    /// The engine's progress callback: one script operation. `Some` terminates the script.
    pub fn tick(&self) -> Option<Dynamic> {
        self.charge(1).then_some(Dynamic::UNIT)
    }

    /// Charge one host call's cost where no error can be returned (the print callback):
    /// the script's next operation ends it if the budget is used up.
    pub fn spend_host_call(&self) {
        self.charge(HOST_CALL_COST);
    }

    /// Admit one host call (or any built-in that records an event): charged
    /// [`HOST_CALL_COST`] operations, and refused once the run is stopped, so a native
    /// function that swallowed a stop cannot go on to touch the host.
    pub fn admit(&self, pos: Position) -> Result<(), Box<EvalAltResult>> {
        if self.charge(HOST_CALL_COST) {
            return Err(EvalAltResult::ErrorTerminated(Dynamic::UNIT, pos).into());
        }
        Ok(())
    }
}
