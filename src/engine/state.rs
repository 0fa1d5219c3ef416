//! The state one run shares between the engine thread's host functions and the executor.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rhai::{Dynamic, EvalAltResult, Position};
use serde_json::Value;

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
    pub findings: Mutex<Vec<Value>>,
    pub cancel: Arc<AtomicBool>,
    stop: Mutex<Option<Stop>>,
}

impl RunState {
    pub fn new(door: Door, cancel: Arc<AtomicBool>) -> Self {
        RunState {
            door,
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
