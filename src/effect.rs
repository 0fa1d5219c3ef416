//! The effect door: the one function every host call passes through.
//!
//! ```text
//! host function called from Rhai
//!   └─ Door::call
//!        ├─ read                → perform → record `call` (group-committed at step end)
//!        ├─ mutate, dry run     → describe (plan) → record `planned` → return the plan
//!        └─ mutate              → record `intent` (durable, fsync) → perform → record `outcome`
//! ```
//!
//! Because nothing else reaches a backend, dry-run, audit, redaction and policy refusals are
//! written once, here. A crash can leave an intent without an outcome, never an outcome (or a
//! change to the machine) without its intent.
//!
//! Read-only calls can also be *prefetched*: started at once on their own threads, so that a
//! runbook like triage waits for its slowest read instead of the sum of them all. A prefetched
//! call is still recorded where the runbook uses its result, marked `prefetched`; calls that
//! change the host cannot be prefetched.

use std::collections::HashMap;
use std::sync::{mpsc, Arc, Mutex};
use std::time::Instant;

use serde_json::{json, Value};

use crate::audit::{AuditError, Durability, RunAudit};
use crate::host::{Args, HostCtx, HostError, HostFn};
use crate::output::Printer;

/// Why a host call did not return a value.
#[derive(Debug, thiserror::Error)]
pub enum DoorError {
    #[error(transparent)]
    Host(#[from] HostError),
    /// The audit store could not record the call, so it was not performed.
    #[error("audit store: {0}")]
    Audit(#[from] AuditError),
}

/// A read started by `prefetch`: its result and how long it took, when it arrives.
type Pending = mpsc::Receiver<(Result<Value, HostError>, u64)>;

pub struct Door {
    pub host: Arc<HostCtx>,
    pub audit: Arc<RunAudit>,
    pub rt: tokio::runtime::Handle,
    pub dry_run: bool,
    pub out: Arc<Printer>,
    /// False for runbooks whose header says `mutates: false`: the door refuses their
    /// mutating calls, so a read-only runbook is read-only by construction.
    allow_mutation: bool,
    step: Mutex<Option<String>>,
    prefetched: Mutex<HashMap<String, Pending>>,
}

impl Door {
    pub fn new(
        host: impl Into<Arc<HostCtx>>,
        audit: Arc<RunAudit>,
        rt: tokio::runtime::Handle,
        dry_run: bool,
        out: Arc<Printer>,
    ) -> Self {
        Door {
            host: host.into(),
            audit,
            rt,
            dry_run,
            out,
            allow_mutation: true,
            step: Mutex::new(None),
            prefetched: Mutex::new(HashMap::new()),
        }
    }

    pub fn with_mutation_allowed(mut self, allowed: bool) -> Self {
        self.allow_mutation = allowed;
        self
    }

    /// The step events are attributed to (set by the `step` syntax).
    pub fn set_step(&self, step: Option<String>) {
        *self.step.lock().expect("step lock") = step;
    }

    pub fn step(&self) -> Option<String> {
        self.step.lock().expect("step lock").clone()
    }

    /// Append one event to the run's audit trail.
    pub fn record(
        &self,
        kind: &str,
        payload: Value,
        durability: Durability,
    ) -> Result<(), AuditError> {
        let step = self.step();
        self.rt.block_on(
            self.audit
                .record(kind, step.as_deref(), payload, durability),
        )
    }

    /// Write buffered (read-only) events: called at the end of every step.
    pub fn flush(&self) -> Result<(), AuditError> {
        self.rt.block_on(self.audit.flush())
    }

    /// Redact a value before it is recorded or shown (runbooks themselves get real values).
    pub fn redact(&self, value: &mut Value) {
        self.audit.redactor().redact_json(value);
    }

    /// Perform (or, in dry-run, plan) one host call. `args` are already type-checked against
    /// the function's declared parameters.
    pub fn call(&self, f: &'static HostFn, args: Args) -> Result<Value, DoorError> {
        let name = f.qualified_name();
        let mutates = f.effect.mutates(&args);
        let mut shown_args = Value::Object(args.clone());
        self.redact(&mut shown_args);

        if mutates && !self.allow_mutation {
            let err = HostError::Refused(format!(
                "{name} changes the host, but this runbook's header says `mutates: false`; declare `//! mutates: true` if it is meant to"
            ));
            return self.fail(&name, Some(shown_args), err, 0, Durability::Durable);
        }

        if mutates && self.dry_run {
            return self.plan(f, &name, &args, shown_args);
        }

        if mutates {
            let plan = self.describe(f, &args)?;
            self.record(
                "intent",
                json!({"function": name, "args": shown_args, "plan": plan}),
                Durability::Durable,
            )?;
            self.out.mutation(&name, &shown_args);
            let started = Instant::now();
            let result = (f.run)(&self.host, &args);
            let ms = started.elapsed().as_millis() as u64;
            self.finish_call("outcome", &name, result, ms, Durability::Durable)
        } else {
            let (result, ms, prefetched) = match self.take_prefetched(f, &args) {
                Some((result, ms)) => (result, ms, true),
                None => {
                    let started = Instant::now();
                    let result = (f.run)(&self.host, &args);
                    (result, started.elapsed().as_millis() as u64, false)
                }
            };
            self.out.read_call(&name, &shown_args, ms);
            let mut shown = shown_args;
            if prefetched {
                shown["prefetched"] = Value::Bool(true);
            }
            self.finish_call_read(&name, shown, result, ms)
        }
    }

    /// Start a read-only call now, on its own thread; `call` with the same function and
    /// arguments later takes its result instead of calling again.
    pub fn prefetch(&self, f: &'static HostFn, args: Args) -> Result<(), HostError> {
        if f.effect.mutates(&args) {
            return Err(HostError::InvalidArgument(format!(
                "{} changes the host; only read-only calls can be prefetched",
                f.qualified_name()
            )));
        }
        let key = call_key(f, &args);
        let (tx, rx) = mpsc::channel();
        let host = self.host.clone();
        std::thread::spawn(move || {
            let started = Instant::now();
            let result = (f.run)(&host, &args);
            let _ = tx.send((result, started.elapsed().as_millis() as u64));
        });
        self.prefetched
            .lock()
            .expect("prefetch lock")
            .insert(key, rx);
        Ok(())
    }

    fn take_prefetched(&self, f: &HostFn, args: &Args) -> Option<(Result<Value, HostError>, u64)> {
        let rx = self
            .prefetched
            .lock()
            .expect("prefetch lock")
            .remove(&call_key(f, args))?;
        rx.recv().ok()
    }

    /// Record a read's result (redacted) and hand the runbook the real value: redaction
    /// guards the sinks (the audit trail, the terminal, findings), and a runbook comparing a
    /// setting named `key` must see its value. Secret files never reach it at all: the files
    /// backend returns only their key names.
    fn finish_call_read(
        &self,
        name: &str,
        shown_args: Value,
        result: Result<Value, HostError>,
        ms: u64,
    ) -> Result<Value, DoorError> {
        match result {
            Ok(value) => {
                self.record(
                    "call",
                    json!({"function": name, "args": shown_args, "ok": true, "result": value, "ms": ms}),
                    Durability::Buffered,
                )?;
                Ok(value)
            }
            Err(err) => self.fail(name, Some(shown_args), err, ms, Durability::Buffered),
        }
    }

    fn finish_call(
        &self,
        kind: &str,
        name: &str,
        result: Result<Value, HostError>,
        ms: u64,
        durability: Durability,
    ) -> Result<Value, DoorError> {
        match result {
            Ok(value) => {
                let mut shown = value.clone();
                self.redact(&mut shown);
                self.record(
                    kind,
                    json!({"function": name, "ok": true, "result": shown, "ms": ms}),
                    durability,
                )?;
                self.out.outcome(name, true, &shown);
                Ok(value)
            }
            Err(err) => {
                let v = Value::String(err.to_string());
                self.out.outcome(name, false, &v);
                self.fail(name, None, err, ms, durability)
            }
        }
    }

    /// Record a failed call. Policy refusals are always durable: they end the run with exit 3.
    fn fail(
        &self,
        name: &str,
        shown_args: Option<Value>,
        err: HostError,
        ms: u64,
        durability: Durability,
    ) -> Result<Value, DoorError> {
        let mut message = Value::String(err.to_string());
        self.redact(&mut message);
        let (kind, durability) = match err {
            HostError::Refused(_) => ("refused", Durability::Durable),
            _ if shown_args.is_none() => ("outcome", durability),
            _ => ("call", durability),
        };
        let mut payload = json!({"function": name, "ok": false, "error_kind": err.kind(), "error": message, "ms": ms});
        if let Some(args) = shown_args {
            payload["args"] = args;
        }
        self.record(kind, payload, durability)?;
        Err(DoorError::Host(err))
    }

    /// What a mutating call would do, from the function's read-only `plan`. Policy refusals
    /// surface here too, so a dry run refuses exactly what the real run would.
    fn describe(&self, f: &HostFn, args: &Args) -> Result<Value, DoorError> {
        let Some(plan) = f.plan else {
            return Ok(Value::Null);
        };
        match plan(&self.host, args) {
            Ok(mut v) => {
                self.redact(&mut v);
                Ok(v)
            }
            Err(err @ HostError::Refused(_)) => {
                self.fail(&f.qualified_name(), None, err, 0, Durability::Durable)
            }
            Err(err) => Ok(json!({"plan_error": err.to_string()})),
        }
    }

    fn plan(
        &self,
        f: &'static HostFn,
        name: &str,
        args: &Args,
        shown_args: Value,
    ) -> Result<Value, DoorError> {
        let plan = self.describe(f, args)?;
        self.record(
            "planned",
            json!({"function": name, "args": shown_args, "plan": plan}),
            Durability::Buffered,
        )?;
        self.out.planned(name, &shown_args, &plan);
        Ok(
            json!({"planned": true, "dry_run": true, "function": name, "args": shown_args, "plan": plan}),
        )
    }
}

/// Identifies one call: the function and its arguments in declaration order.
fn call_key(f: &HostFn, args: &Args) -> String {
    format!("{}({})", f.qualified_name(), Value::Object(args.clone()))
}
