//! The effect door: the one function every host call passes through.
//!
//! ```text
//! host function called from Rhai
//!   └─ Door::call
//!        ├─ classify (classify.rs): read or mutate, from the function and the site rule
//!        ├─ mutate: site policy (policy.rs): refuse, or a gate, for every runbook
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
//! call is still recorded where the runbook uses its result, marked `prefetched`, and one the
//! runbook never used is recorded when the run ends, marked `unused`: every call that ran is
//! in the record. Calls that change the host cannot be prefetched.

pub mod classify;
pub mod locks;
pub mod policy;

use std::collections::HashMap;
use std::sync::{mpsc, Arc, Mutex};
use std::time::Instant;

use serde_json::{json, Value};

use crate::audit::event::{Call, Event, Intent, Lock, Module, Outcome, Planned, Refused};
use crate::audit::{AuditError, Durability, RunAudit};
use crate::engine::gates::{Decision, GateKind, Gates};
use crate::engine::walker::Walker;
use crate::host::{Args, HostCtx, HostError, HostFn};
use crate::output::Printer;
use classify::Class;

/// Why a host call did not return a value.
#[derive(Debug, thiserror::Error)]
pub enum DoorError {
    #[error(transparent)]
    Host(#[from] HostError),
    /// The audit store could not record the call, so it was not performed.
    #[error("audit store: {0}")]
    Audit(#[from] AuditError),
    /// The operator pressed Ctrl-C at a gate.
    #[error("canceled at a gate")]
    Canceled,
}

/// A read started by `prefetch`: what it is, and its result and duration when it arrives.
struct Pending {
    function: &'static HostFn,
    args: Args,
    result: mpsc::Receiver<(Result<Value, HostError>, u64)>,
}

pub struct Door {
    pub host: Arc<HostCtx>,
    pub audit: Arc<RunAudit>,
    pub rt: tokio::runtime::Handle,
    pub dry_run: bool,
    pub out: Arc<Printer>,
    /// False for runbooks whose header says `mutates: false`: the door refuses their
    /// mutating calls, so a read-only runbook is read-only by construction.
    allow_mutation: bool,
    /// Asks the operator at gates (the runbook's own and the policy's). None: every gate
    /// refuses as if there were no terminal.
    gates: Option<Gates>,
    /// The operator's login name, recorded as who answered each gate.
    operator: String,
    step: Mutex<Option<String>>,
    prefetched: Mutex<HashMap<String, Pending>>,
    /// Texts of the stdlib modules the run loaded, to store when the run ends.
    module_sources: Mutex<Vec<String>>,
    /// The locks the runbook declares, taken before its first real mutating call.
    locks: Option<LockRequest>,
    /// The locks once taken: held until the door (the run) ends.
    held: Mutex<Option<locks::Held>>,
    /// Principals whose verified approval this run carries (`run --plan`), and the
    /// break-glass operator's.
    approved: Vec<String>,
    /// The run carries out a plan under break-glass: its approval rules were checked (and
    /// allowed to be gone around) before the run started.
    break_glass: bool,
    /// The runbook, for the site's approval rules.
    runbook: String,
    /// Keep planned effects and reads (a dry run making a plan).
    collect: bool,
    collected: Mutex<(
        Vec<crate::approval::plan::Effect>,
        Vec<crate::approval::plan::Fact>,
    )>,
    /// Whether the runbook's approval rule was checked (at the first real mutation).
    approval_checked: Mutex<bool>,
    /// The `lock` event recorded, for `run --json`.
    lock_event: Mutex<Option<Lock>>,
    /// Who watches the steps and calls of a `runbook learn` session.
    pub walker: Option<Arc<dyn Walker>>,
}

/// What the door locks, where, for how long it may wait, and the name it leaves in each
/// lock file.
#[derive(Debug, Clone)]
pub struct LockRequest {
    pub resources: Vec<String>,
    pub dir: std::path::PathBuf,
    pub wait: std::time::Duration,
    pub runbook: String,
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
            gates: None,
            operator: String::new(),
            step: Mutex::new(None),
            prefetched: Mutex::new(HashMap::new()),
            module_sources: Mutex::new(Vec::new()),
            locks: None,
            held: Mutex::new(None),
            approved: Vec::new(),
            break_glass: false,
            runbook: String::new(),
            collect: false,
            collected: Mutex::new((Vec::new(), Vec::new())),
            approval_checked: Mutex::new(false),
            lock_event: Mutex::new(None),
            walker: None,
        }
    }

    /// The approvals this run carries, the runbook (for the site's rules), and whether to
    /// keep what a dry run plans and reads.
    pub fn with_approvals(mut self, approved: Vec<String>, runbook: String, collect: bool) -> Self {
        self.approved = approved;
        self.runbook = runbook;
        self.collect = collect;
        self
    }

    /// A plan run under break-glass by `principal`, who then counts as its units' signal
    /// (the site allowed it for every rule the plan's approvals did not meet).
    pub fn with_break_glass(mut self, principal: Option<String>) -> Self {
        if let Some(p) = principal {
            self.approved.push(p);
            self.break_glass = true;
        }
        self
    }

    /// The locks the run took, or the one it found held (None: it declared none, or made no
    /// real change).
    pub fn lock_event(&self) -> Option<Lock> {
        self.lock_event.lock().expect("lock event").clone()
    }

    /// Record a `lock` event durably, and keep it for the report.
    fn record_lock(&self, event: Lock) -> Result<(), AuditError> {
        *self.lock_event.lock().expect("lock event") = Some(event.clone());
        self.record(event, Durability::Durable)
    }

    /// The planned effects and reads kept for a plan.
    pub fn collected(
        &self,
    ) -> (
        Vec<crate::approval::plan::Effect>,
        Vec<crate::approval::plan::Fact>,
    ) {
        std::mem::take(&mut *self.collected.lock().expect("collected lock"))
    }

    /// A runbook the site's approval rules name runs for real only with those approvals
    /// (`run --plan`): checked at its first real mutation, so a plain run is refused there.
    fn check_runbook_approval(&self, name: &str) -> Result<(), DoorError> {
        let mut checked = self.approval_checked.lock().expect("approval lock");
        if *checked {
            return Ok(());
        }
        let rules = crate::approval::quorum::rules_for(&self.host.site, &self.runbook, &[]);
        let unmet = crate::approval::quorum::unmet(&rules, &self.approved, &[]);
        // Break-glass was checked against these rules before the run started, and recorded.
        if let Some(why) = unmet.first().filter(|_| !self.break_glass).map(|u| &u.why) {
            let err = HostError::Refused(format!(
                "{why}: make a plan (runbook plan {} -p ...), have it signed and approved (runbook approve), then runbook run --plan PLAN",
                self.runbook
            ));
            return self.refuse(name, None, err).map(drop);
        }
        *checked = true;
        Ok(())
    }

    /// The locks to take before the first real mutating call (none when `resources` is empty).
    pub fn with_locks(mut self, request: LockRequest) -> Self {
        self.locks = (!request.resources.is_empty()).then_some(request);
        self
    }

    /// Take the runbook's locks if this is the first mutation: record the `lock` event, and
    /// refuse (exit 3) naming the holder when one is held past the wait.
    fn take_locks(&self, name: &str) -> Result<(), DoorError> {
        let Some(request) = &self.locks else {
            return Ok(());
        };
        let mut held = self.held.lock().expect("held locks");
        if held.is_some() {
            return Ok(());
        }
        let holder = locks::Holder {
            operator: self.operator.clone(),
            run_id: self.audit.requested_id().to_string(),
            runbook: request.runbook.clone(),
            since: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            pid: std::process::id(),
        };
        match locks::acquire(&request.dir, &request.resources, &holder, request.wait) {
            Ok(taken) => {
                self.record_lock(Lock {
                    resources: taken.resources.clone(),
                    acquired: true,
                    waited_ms: taken.waited.as_millis() as u64,
                    blocked_on: None,
                    holder: None,
                })?;
                self.out
                    .locked(&taken.resources, taken.waited.as_millis() as u64);
                *held = Some(taken);
                Ok(())
            }
            Err(err @ locks::LockError::Held { .. }) => {
                let locks::LockError::Held {
                    resource,
                    holder,
                    waited,
                } = &err
                else {
                    unreachable!()
                };
                let mut sorted = request.resources.clone();
                sorted.sort();
                sorted.dedup();
                self.record_lock(Lock {
                    resources: sorted,
                    acquired: false,
                    waited_ms: waited.as_millis() as u64,
                    blocked_on: Some(resource.clone()),
                    holder: holder
                        .as_ref()
                        .map(|h| serde_json::to_value(h).expect("a holder serializes")),
                })?;
                let why = HostError::Refused(format!(
                    "{err}: wait until that run ends, or pass --lock-wait DURATION to wait for it"
                ));
                self.refuse(name, None, why).map(drop)
            }
            Err(err) => self
                .refuse(name, None, HostError::Refused(err.to_string()))
                .map(drop),
        }
    }

    /// A learner watches this run: each call is shown before it is made and after.
    pub fn with_walker(mut self, walker: Option<Arc<dyn Walker>>) -> Self {
        self.walker = walker;
        self
    }

    pub fn with_mutation_allowed(mut self, allowed: bool) -> Self {
        self.allow_mutation = allowed;
        self
    }

    /// Who answers gates, and how they are asked.
    pub fn with_gates(mut self, gates: Gates, operator: String) -> Self {
        self.gates = Some(gates);
        self.operator = operator;
        self
    }

    /// Ask a gate, record the question and the answer durably, and say whether to go on. A dry
    /// run changes nothing, so there is nothing to approve: the gate is shown and recorded as
    /// one the real run would ask, and the run goes on to show the rest.
    pub fn gate(&self, question: &str, kind: GateKind) -> Result<(), DoorError> {
        self.flush()?;
        let decision = match &self.gates {
            _ if self.dry_run => {
                self.out.planned_gate(question);
                Decision::DryRun
            }
            Some(gates) => gates.ask(question, &kind),
            None => Decision::NoTerminal,
        };
        let record = decision.to_event(question, &kind, &self.operator);
        self.record(record, Durability::Durable)?;
        match decision {
            Decision::Approved { .. } | Decision::DryRun => Ok(()),
            Decision::Canceled => Err(DoorError::Canceled),
            other => Err(DoorError::Host(HostError::Refused(
                other.refusal(question, &kind),
            ))),
        }
    }

    /// Who answers gates: the operator's login name.
    pub fn operator(&self) -> &str {
        &self.operator
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
        event: impl Into<Event>,
        durability: Durability,
    ) -> Result<(), AuditError> {
        let step = self.step();
        self.rt.block_on(
            self.audit
                .record(step.as_deref(), &event.into(), durability),
        )
    }

    /// Write buffered (read-only) events: called at the end of every step.
    pub fn flush(&self) -> Result<(), AuditError> {
        self.rt.block_on(self.audit.flush())
    }

    /// The audit chain's head after everything recorded so far is written (see
    /// [`crate::audit::RunAudit::chain_head`]).
    pub fn chain_head(&self) -> Result<Option<String>, AuditError> {
        self.rt.block_on(self.audit.chain_head())
    }

    /// Redact a value before it is recorded or shown (runbooks themselves get real values).
    pub fn redact(&self, value: &mut Value) {
        self.audit.redactor().redact_json(value);
    }

    /// Perform (or, in dry-run, plan) one host call. `args` are already type-checked against
    /// the function's declared parameters.
    pub fn call(&self, f: &'static HostFn, args: Args) -> Result<Value, DoorError> {
        let Some(walker) = &self.walker else {
            return self.call_once(f, args);
        };
        let mut shown = Value::Object(args.clone());
        self.redact(&mut shown);
        // The effect the function declares; a site-classified call says "may change" until
        // its rule is known.
        let mutates = !matches!(f.effect, crate::host::Effect::Read);
        walker.before_call(f, &shown, mutates, self.dry_run);
        let result = self.call_once(f, args);
        match &result {
            Ok(value) => {
                let mut v = value.clone();
                self.redact(&mut v);
                walker.after_call(f, Ok(&v));
            }
            Err(e) => {
                let mut v = Value::String(e.to_string());
                self.redact(&mut v);
                walker.after_call(f, Err(v.as_str().unwrap_or_default()));
            }
        }
        result
    }

    fn call_once(&self, f: &'static HostFn, args: Args) -> Result<Value, DoorError> {
        let name = f.qualified_name();
        let mut shown_args = Value::Object(args.clone());
        self.redact(&mut shown_args);
        let class = match classify::classify(f, &self.host, &args) {
            Ok(class) => class,
            Err(err) => {
                let call = Call {
                    function: name,
                    args: shown_args,
                    ..Call::default()
                };
                return self.finish_read(call, Err(err));
            }
        };
        let mutates = class.mutates;

        if mutates && !self.allow_mutation {
            let by = match &class.rule {
                Some(rule) => format!(" (the site rule {rule} says it mutates)"),
                None => String::new(),
            };
            let err = HostError::Refused(format!(
                "{name} changes the host{by}, but this runbook's header says `mutates: false`; declare `//! mutates: true` if it is meant to"
            ));
            return self.refuse(&name, Some(shown_args), err);
        }

        if mutates {
            self.apply_policy(f, &name, &args, &class, &shown_args)?;
        }
        let shown_args = with_rule(shown_args, &class);

        if mutates && self.dry_run {
            return self.plan(f, &name, &args, shown_args);
        }

        if mutates {
            // A change whose record might not fit is not made (see `audit::reserve`).
            if let Some(why) = self.rt.block_on(self.audit.refuses_changes()) {
                return Err(DoorError::Audit(AuditError::Unavailable(why)));
            }
            self.check_runbook_approval(&name)?;
            self.take_locks(&name)?;
            let plan = self.describe(f, &args)?;
            self.record(
                Intent {
                    function: name.clone(),
                    args: shown_args.clone(),
                    plan,
                },
                Durability::Durable,
            )?;
            self.out.mutation(&name, &shown_args);
            let started = Instant::now();
            let result = (f.run)(&self.host, &args);
            let ms = started.elapsed().as_millis() as u64;
            self.finish_mutation(&name, result, ms)
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
            if self.collect {
                if let Ok(value) = &result {
                    let mut shown = value.clone();
                    self.redact(&mut shown);
                    self.collected.lock().expect("collected lock").1.push(
                        crate::approval::plan::Fact {
                            function: name.clone(),
                            args: shown_args.clone(),
                            result: shown,
                        },
                    );
                }
            }
            let call = Call {
                function: name,
                args: shown_args,
                duration_ms: Some(ms),
                prefetched,
                ..Call::default()
            };
            self.finish_read(call, result)
        }
    }

    /// The site's policy for the call's unit or container (or, for a command, what its rule
    /// says it acts on): refuse, or pass its gates first.
    fn apply_policy(
        &self,
        f: &HostFn,
        name: &str,
        args: &Args,
        class: &Class,
        shown_args: &Value,
    ) -> Result<(), DoorError> {
        let site = &self.host.site;
        let approval = policy::Approvals {
            approved: &self.approved,
            dry_run: self.dry_run,
        };
        let gates = policy::check(f, args, site, approval).and_then(|own| {
            let mut gates: Vec<_> = own.into_iter().collect();
            gates.extend(policy::check_affected(&class.affects, site, approval)?);
            Ok(gates)
        });
        let gates = match gates {
            Ok(gates) => gates,
            Err(err) => return self.refuse(name, Some(shown_args.clone()), err).map(drop),
        };
        for gate in gates {
            let (question, kind) = match gate {
                policy::Gate::Confirm { question } => (question, GateKind::Confirm),
                policy::Gate::Typed { question, expected } => {
                    (question, GateKind::Typed { expected })
                }
            };
            match self.gate(&question, kind) {
                Ok(()) => {}
                Err(DoorError::Host(err @ HostError::Refused(_))) => {
                    return self.refuse(name, Some(shown_args.clone()), err).map(drop)
                }
                Err(other) => return Err(other),
            }
        }
        Ok(())
    }

    /// Start a read-only call now, on its own thread; `call` with the same function and
    /// arguments later takes its result instead of calling again.
    pub fn prefetch(&self, f: &'static HostFn, args: Args) -> Result<(), HostError> {
        if classify::classify(f, &self.host, &args)?.mutates {
            return Err(HostError::InvalidArgument(format!(
                "{} changes the host; only read-only calls can be prefetched",
                f.qualified_name()
            )));
        }
        let key = call_key(f, &args);
        let (tx, rx) = mpsc::channel();
        let host = self.host.clone();
        let args_copy = args.clone();
        std::thread::spawn(move || {
            let started = Instant::now();
            let result = (f.run)(&host, &args);
            let _ = tx.send((result, started.elapsed().as_millis() as u64));
        });
        let pending = Pending {
            function: f,
            args: args_copy,
            result: rx,
        };
        self.prefetched
            .lock()
            .expect("prefetch lock")
            .insert(key, pending);
        Ok(())
    }

    /// Record a stdlib module the run loaded (`origin`: `built-in` or its file). The event is
    /// recorded now; the text is stored when the run ends ([`Door::store_module_sources`]), so
    /// the first import does not wait for the audit store to open.
    pub fn record_module(&self, name: &str, origin: &str, source: &str) -> Result<(), DoorError> {
        use sha2::{Digest, Sha256};
        let module = Module {
            name: name.to_string(),
            origin: origin.to_string(),
            source_sha256: hex::encode(Sha256::digest(source.as_bytes())),
        };
        self.module_sources
            .lock()
            .expect("module sources lock")
            .push(source.to_string());
        self.record(module, Durability::Buffered)?;
        Ok(())
    }

    /// Store the texts of the modules the run loaded (nothing for an unrecorded run).
    pub fn store_module_sources(&self) -> Result<(), AuditError> {
        let texts = std::mem::take(&mut *self.module_sources.lock().expect("module sources lock"));
        if texts.is_empty() || self.rt.block_on(self.audit.unrecorded()).is_some() {
            return Ok(());
        }
        let recorder = self.rt.block_on(self.audit.recorder())?;
        for text in texts {
            self.rt.block_on(recorder.store().store_source(&text))?;
        }
        Ok(())
    }

    /// Remove, through the door like any call, the drill scratches the runbook made and did
    /// not remove (a failed step, Ctrl-C): a scratch never outlives its run.
    pub fn remove_leftover_scratch(&self) {
        let Some(remove) = crate::host::registry::find("drill", "remove") else {
            return;
        };
        for (set, target) in self.host.leftover_scratch() {
            let mut args = Args::new();
            args.insert("set".into(), Value::String(set));
            args.insert("target".into(), Value::String(target.clone()));
            if let Err(e) = self.call(remove, args) {
                self.out.warn(&format!(
                    "could not remove the drill scratch {target}: {e}; docker rm -fv {target}"
                ));
            }
        }
    }

    /// Record the prefetched calls the runbook never used: they ran, so the record has them
    /// (marked `unused`). Called once, when the run's script is done.
    pub fn record_unused_prefetches(&self) -> Result<(), DoorError> {
        let left: Vec<Pending> = {
            let mut map = self.prefetched.lock().expect("prefetch lock");
            let mut left: Vec<(String, Pending)> = map.drain().collect();
            left.sort_by(|a, b| a.0.cmp(&b.0));
            left.into_iter().map(|(_, p)| p).collect()
        };
        for pending in left {
            let Ok((result, ms)) = pending.result.recv() else {
                continue;
            };
            let mut shown_args = Value::Object(pending.args);
            self.redact(&mut shown_args);
            let mut call = Call {
                function: pending.function.qualified_name(),
                args: shown_args,
                duration_ms: Some(ms),
                prefetched: true,
                unused: true,
                ..Call::default()
            };
            // Redacted where it is recorded, as every read's result is (see `finish_read`).
            match result {
                Ok(value) => call.result = Some(value),
                Err(err) => {
                    call.error = Some(self.redacted_message(&err));
                    call.error_kind = Some(err.kind().into());
                }
            }
            self.record(call, Durability::Buffered)?;
        }
        Ok(())
    }

    fn take_prefetched(&self, f: &HostFn, args: &Args) -> Option<(Result<Value, HostError>, u64)> {
        let rx = self
            .prefetched
            .lock()
            .expect("prefetch lock")
            .remove(&call_key(f, args))?;
        rx.result.recv().ok()
    }

    /// Record a read's result (redacted) and hand the runbook the real value: redaction
    /// guards the sinks (the audit trail, the terminal, findings), and a runbook comparing a
    /// setting named `key` must see its value. Secret files never reach it at all: the files
    /// backend returns only their key names.
    fn finish_read(
        &self,
        mut call: Call,
        result: Result<Value, HostError>,
    ) -> Result<Value, DoorError> {
        match result {
            Ok(value) => {
                call.result = Some(value.clone());
                self.record(call, Durability::Buffered)?;
                Ok(value)
            }
            Err(err) if matches!(err, HostError::Refused(_)) => {
                self.refuse(&call.function, Some(call.args), err)
            }
            Err(err) => {
                call.error = Some(self.redacted_message(&err));
                call.error_kind = Some(err.kind().into());
                self.record(call, Durability::Buffered)?;
                Err(DoorError::Host(err))
            }
        }
    }

    /// Record what a mutating call did (durably, like its intent).
    fn finish_mutation(
        &self,
        name: &str,
        result: Result<Value, HostError>,
        ms: u64,
    ) -> Result<Value, DoorError> {
        let mut outcome = Outcome {
            function: name.to_string(),
            duration_ms: Some(ms),
            ..Outcome::default()
        };
        match result {
            Ok(value) => {
                let mut shown = value.clone();
                self.redact(&mut shown);
                self.out.outcome(name, true, &shown);
                outcome.result = Some(shown);
                self.record(outcome, Durability::Durable)?;
                Ok(value)
            }
            Err(err) => {
                let message = self.redacted_message(&err);
                self.out
                    .outcome(name, false, &Value::String(message.clone()));
                if matches!(err, HostError::Refused(_)) {
                    return self.refuse(name, None, err);
                }
                outcome.error = Some(message);
                outcome.error_kind = Some(err.kind().into());
                self.record(outcome, Durability::Durable)?;
                Err(DoorError::Host(err))
            }
        }
    }

    /// The error's message, redacted for the record and the terminal.
    fn redacted_message(&self, err: &HostError) -> String {
        let mut message = Value::String(err.to_string());
        self.redact(&mut message);
        message.as_str().unwrap_or_default().to_string()
    }

    /// Record a policy refusal of a call. Always durable: it ends the run with exit 3.
    fn refuse(
        &self,
        name: &str,
        shown_args: Option<Value>,
        err: HostError,
    ) -> Result<Value, DoorError> {
        let refused = Refused {
            function: Some(name.to_string()),
            args: shown_args,
            reason: self.redacted_message(&err),
        };
        self.record(refused, Durability::Durable)?;
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
            Err(err @ HostError::Refused(_)) => self.refuse(&f.qualified_name(), None, err),
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
            Planned {
                function: name.to_string(),
                args: shown_args.clone(),
                plan: plan.clone(),
            },
            Durability::Buffered,
        )?;
        self.out.planned(name, &shown_args, &plan);
        if self.collect {
            self.collected
                .lock()
                .expect("collected lock")
                .0
                .push(crate::approval::plan::Effect {
                    function: name.to_string(),
                    args: shown_args.clone(),
                    plan: plan.clone(),
                });
        }
        Ok(
            json!({"planned": true, "dry_run": true, "function": name, "args": shown_args, "plan": plan}),
        )
    }
}

/// The arguments as recorded, with the site rule that classified the call (if one did).
fn with_rule(mut shown_args: Value, class: &Class) -> Value {
    if let (Some(rule), Value::Object(map)) = (&class.rule, &mut shown_args) {
        map.insert("classified_by".into(), Value::String(rule.clone()));
    }
    shown_args
}

/// Identifies one call: the function and its arguments in declaration order.
fn call_key(f: &HostFn, args: &Args) -> String {
    format!("{}({})", f.qualified_name(), Value::Object(args.clone()))
}
