//! The state one run shares between the engine thread's host functions and the executor.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rhai::{Dynamic, EvalAltResult, Position};
use serde_json::Value;

use super::gates::Gates;
use crate::effect::Door;

/// Why a run was stopped from inside. These end the script with a non-catchable error, so a
/// runbook's `try`/`catch` cannot swallow a policy refusal, a cancellation or an audit failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    Refused(String),
    Canceled,
    Audit(String),
}

pub struct RunState {
    pub door: Door,
    pub gates: Gates,
    /// The operator's login name, recorded as who answered each gate.
    pub operator: String,
    pub findings: Mutex<Vec<Value>>,
    pub cancel: Arc<AtomicBool>,
    stop: Mutex<Option<Stop>>,
}

impl RunState {
    pub fn new(door: Door, gates: Gates, operator: String, cancel: Arc<AtomicBool>) -> Self {
        RunState {
            door,
            gates,
            operator,
            findings: Mutex::new(Vec::new()),
            cancel,
            stop: Mutex::new(None),
        }
    }

    /// Remember why the run stops (the first reason wins) and build the error that ends it.
    pub fn stop(&self, why: Stop, pos: Position) -> Box<EvalAltResult> {
        let mut slot = self.stop.lock().expect("stop lock");
        if slot.is_none() {
            *slot = Some(why);
        }
        EvalAltResult::ErrorTerminated(Dynamic::UNIT, pos).into()
    }

    pub fn stopped(&self) -> Option<Stop> {
        self.stop.lock().expect("stop lock").clone()
    }

    pub fn canceled(&self) -> bool {
        self.cancel.load(Ordering::SeqCst)
    }
}
