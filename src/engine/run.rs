//! The executor: one runbook, from parameters to the final audit event.
//!
//! Order matters and is the point of this file: everything that can be checked without
//! touching the machine (runbook exists, header, parameters, dry-run setting, compilation) is
//! checked before the audit store is opened, so bad input exits 2 and changes nothing. Once a
//! run is open, every way it can end (success, script error, refusal, Ctrl-C, audit failure)
//! appends exactly one `run-end` event.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use rhai::EvalAltResult;
use serde::Serialize;
use serde_json::{json, Value};

use super::catalog::{backends_named, Catalog, Entry};
use super::gates::Gates;
use super::outcome::{Counts, Ending, FailOn, Outcome, Severity};
use super::state::{RunState, Stop};
use super::walker::Walker;
use super::{
    build_engine_with, compile, harden, header, import_cycle_error, initial_scope, params, resolver,
};
use crate::audit::event::{Finding, RunEnd};
use crate::audit::{AuditStore, NewRun, Redactor, RunAudit, RunStart};
use crate::effect::{Door, LockRequest};
use crate::error::{Error, Result};
use crate::host::HostCtx;
use crate::identity::Operator;
use crate::output::Printer;
use crate::site::Site;

#[derive(Clone)]
pub struct RunRequest {
    pub name: String,
    pub params: Vec<(String, String)>,
    pub dry_run_flag: bool,
    pub yes: bool,
    pub json: bool,
    pub verbose: bool,
    /// Print only the summary line (warnings and errors still go to stderr).
    pub quiet: bool,
    /// The severity from which a completed run exits 5.
    pub fail_on: FailOn,
    /// How long to wait for a lock another run holds (zero: fail at once).
    pub lock_wait: std::time::Duration,
    /// Keep the dry run's planned effects and reads in the report (for a plan).
    pub collect_facts: bool,
    /// Verified approvals of the plan this run carries out (recorded first; the door lets
    /// their principals' signal-required units and approval-gated runbooks through).
    pub approved: Vec<crate::audit::event::Approval>,
    /// The plan runs under break-glass: its operator's own approval, checked against the
    /// site's rules before the run (recorded after the approvals, before the first step).
    pub break_glass: Option<crate::audit::event::BreakGlass>,
    /// A `runbook learn` session: who walks the learner through the steps, and whether it
    /// may change the host.
    pub learn: Option<Lesson>,
}

/// A run that is a lesson (`runbook learn`).
#[derive(Clone)]
pub struct Lesson {
    pub walker: Arc<dyn Walker>,
    /// `--live`: a mutating runbook really changes the host (every gate still asks).
    /// Without it a lesson of a mutating runbook is a dry run.
    pub live: bool,
}

/// Why a lesson is a dry run, in the run header and the record.
pub const LESSON_DRY_RUN: &str = "learn without --live";

pub struct RunEnv<'a> {
    pub catalog: &'a Catalog,
    pub site: Arc<Site>,
    pub audit_db: PathBuf,
    pub rt: &'a tokio::runtime::Runtime,
    pub cancel: Arc<AtomicBool>,
}

/// What `runbook run --json` prints; field names are documented in README.md.
#[derive(Debug, Serialize)]
pub struct RunReport {
    pub run_id: String,
    pub runbook: String,
    pub status: &'static str,
    pub exit_code: i32,
    /// The worst severity among the findings, null when there were none.
    pub worst: Option<Severity>,
    /// Findings per severity.
    pub counts: Counts,
    pub dry_run: bool,
    pub dry_run_reason: Option<String>,
    pub operator: Operator,
    pub params: serde_json::Map<String, Value>,
    pub duration_ms: u64,
    pub findings: Vec<Value>,
    pub error: Option<String>,
    /// The verified approvals of the plan the run carried out (`run --plan`).
    pub approvals: Vec<crate::audit::event::Approval>,
    /// The break-glass the run was carried out under (`run --plan --break-glass`); a new
    /// run is never co-signed yet (`co_signed: false`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub break_glass: Option<crate::audit::BreakGlassState>,
    /// The locks the run took, or the one it found held.
    pub locks: Option<crate::audit::event::Lock>,
    /// The runbook's source hash, the planned effects and the reads (with `collect_facts`).
    #[serde(skip)]
    pub source_sha256: String,
    #[serde(skip)]
    pub planned: Vec<crate::approval::plan::Effect>,
    #[serde(skip)]
    pub facts: Vec<crate::approval::plan::Fact>,
}

/// Dry-run is on with `--dry-run` or with `OPENCLAW_DRY_RUN=true` (or `1`), the server's own
/// convention; `false`, `0`, empty or unset mean a real run. Any other value (another
/// spelling, spaces, bytes that are not UTF-8) is refused rather than guessed at: a switch
/// that guards the machine must not read an unknown value as "live".
/// The value is checked even with `--dry-run`, so a mistyped switch never goes unnoticed.
pub fn dry_run_mode(flag: bool, env: Option<&std::ffi::OsStr>) -> Result<Option<String>> {
    let from_env = match env.map(|v| v.to_str()) {
        None | Some(Some("" | "false" | "0")) => None,
        Some(Some(v @ ("true" | "1"))) => Some(format!("OPENCLAW_DRY_RUN={v}")),
        Some(other) => {
            let shown = match other {
                Some(v) => v.escape_debug().to_string(),
                None => format!("{} (not UTF-8)", env.unwrap_or_default().to_string_lossy()),
            };
            return Err(Error::Usage(format!(
                "OPENCLAW_DRY_RUN={shown} is not understood: use true or 1 for a dry run, false or 0 (or unset) for a real one"
            )));
        }
    };
    Ok(if flag {
        Some("--dry-run".into())
    } else {
        from_env
    })
}

pub fn execute(req: &RunRequest, env: &RunEnv) -> Result<RunReport> {
    let entry = env.catalog.runbook(&req.name)?;
    // The stdlib modules it imports compile on another thread while this one prepares.
    let imports = env.catalog.imported_modules(entry);
    let precompiled = resolver::precompile(imports.iter().map(|m| (*m).clone()).collect());
    let header = header::parse(&entry.source).map_err(|e| {
        Error::Usage(format!(
            "{}:{}: invalid header: {}",
            entry.file, e.line, e.message
        ))
    })?;
    let site_json = serde_json::to_value(&*env.site).unwrap_or(Value::Null);
    let validated = params::validate(&header, &req.params, &site_json)?;
    let dry_run_reason = dry_run_mode(
        req.dry_run_flag,
        std::env::var_os("OPENCLAW_DRY_RUN").as_deref(),
    )?;
    let dry_run_reason = match &req.learn {
        Some(lesson) if header.mutates && !lesson.live && dry_run_reason.is_none() => {
            Some(LESSON_DRY_RUN.to_string())
        }
        _ => dry_run_reason,
    };
    let dry_run = dry_run_reason.is_some();
    let locks = header
        .locks
        .iter()
        .map(|l| crate::effect::locks::resolve(l, &validated.recorded))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::Usage(format!("{}: {e}", entry.file)))?;
    // The run's pieces, none of which touches the machine or the audit store yet.
    let operator = Operator::detect();
    let start = RunStart::now();
    let redactor = Redactor::new();
    for secret in &validated.secrets {
        redactor.add_secret(secret);
    }
    let mut audit = RunAudit::new(start.id.clone(), redactor.clone());
    if !header.mutates {
        // A read-only runbook still runs when the store cannot be written (a full disk is
        // when triage is needed most); its start, findings and end go to the journal.
        let mut summary = json!({
            "runbook": header.name,
            "operator": operator.login,
            "host": operator.hostname,
            "params": Value::Object(validated.recorded.clone()),
        });
        redactor.redact_json(&mut summary);
        audit = audit.unrecorded_allowed(summary);
    }
    let audit = Arc::new(audit);
    let out = Arc::new(Printer {
        json: req.json,
        verbose: req.verbose,
        quiet: req.quiet,
        redactor: redactor.clone(),
        ascii: req.learn.is_some(),
    });
    let host = Arc::new(
        HostCtx::new(env.rt.handle().clone(), env.site.clone())
            .with_progress(!req.json && !req.quiet && req.learn.is_none()),
    );
    // Connect to the backends the runbook will use while it compiles: a connection reads
    // nothing and records nothing, and its handshake (several milliseconds for D-Bus) was
    // the first step's wait when it started after the compile.
    host.warm_up(&backends_named(entry, &imports, &HostCtx::WARMABLE));
    let door = Door::new(
        host.clone(),
        audit.clone(),
        env.rt.handle().clone(),
        dry_run,
        out.clone(),
    )
    .with_mutation_allowed(header.mutates)
    .with_gates(
        Gates::new(req.yes, env.cancel.clone()),
        operator.login.clone(),
    )
    .with_locks(LockRequest {
        resources: locks,
        dir: crate::effect::locks::dir(),
        wait: req.lock_wait,
        runbook: header.name.clone(),
    })
    .with_approvals(
        req.approved.iter().map(|a| a.principal.clone()).collect(),
        header.name.clone(),
        req.collect_facts,
    )
    .with_break_glass(req.break_glass.as_ref().map(|b| b.principal.clone()))
    .with_walker(req.learn.as_ref().map(|l| l.walker.clone()));
    let budget = harden::operation_budget(std::env::var_os("RUNBOOK_OPERATION_BUDGET").as_deref())
        .map_err(Error::Usage)?;
    let state = Arc::new(RunState::new(door, env.cancel.clone()).with_budget(budget));
    let engine = build_engine_with(env.catalog, Some(&state), Some(precompiled.clone()));
    // Compile before the audit store opens, so a syntax error exits 2 and records nothing.
    let mut scope = initial_scope(validated.script);
    let ast = compile(&engine, entry, &scope).map_err(|e| Error::Usage(e.to_string()))?;
    if let Some(cycle) = precompiled.import_cycle(&engine, &ast, |name| env.catalog.module(name)) {
        return Err(Error::Usage(import_cycle_error(entry, &cycle).to_string()));
    }
    tracing::debug!(runbook = %header.name, "compiled");

    // Input is valid. Open the audit store and record the run's start in the background:
    // the runbook starts meanwhile, and whatever must be on disk first waits for the store
    // (see `audit::RunAudit`).
    let new_run = NewRun {
        runbook: header.name.clone(),
        source: entry.source.clone(),
        params: Value::Object(validated.recorded.clone()),
        operator: serde_json::to_value(&operator).expect("operator serializes"),
        host: operator.hostname.clone(),
        dry_run,
        dry_run_reason: dry_run_reason.clone(),
        kind: req.learn.as_ref().map(|_| "learn".to_string()),
    };
    let path = env.audit_db.clone();
    audit.begin(env.rt.spawn(async move {
        let store = AuditStore::open(&path).await?;
        tracing::debug!(path = %path.display(), "audit store open");
        let recorder = store.start_run_with(new_run, start, redactor).await?;
        tracing::debug!(run = recorder.id(), "run started");
        Ok(recorder)
    }));

    let run_id = audit.requested_id().to_string();
    let mode = match &dry_run_reason {
        Some(why) => format!(
            "{} ({why}): nothing will be changed",
            console::style("DRY RUN").yellow().bold()
        ),
        None if header.mutates => console::style("LIVE: may change this host")
            .red()
            .bold()
            .to_string(),
        None => "read-only".to_string(),
    };
    out.run_header(&header.name, &run_id, &operator.login, &mode);
    for approval in &req.approved {
        out.approval(
            &approval.principal,
            &approval.algorithm,
            &approval.fingerprint,
        );
        if let Err(e) = state
            .door
            .record(approval.clone(), crate::audit::Durability::Durable)
        {
            tracing::warn!("could not record an approval: {e}");
        }
    }
    if let Some(glass) = &req.break_glass {
        out.break_glass(glass);
        // Durable: a store that cannot take it cannot take the intent of any change either,
        // so nothing is changed without this on disk first.
        if let Err(e) = state
            .door
            .record(glass.clone(), crate::audit::Durability::Durable)
        {
            tracing::warn!("could not record the break-glass: {e}");
        }
    }

    let started = Instant::now();
    let result = engine
        .run_ast_with_scope(&mut scope, &ast)
        .map_err(|e| describe(&e, entry, state.stopped().as_ref()));
    let duration_ms = started.elapsed().as_millis() as u64;
    tracing::debug!(duration_ms, "script done");
    // Outside any step: the calls were started by the script, not by one of its steps.
    state.door.set_step(None);
    state.door.remove_leftover_scratch();
    if let Err(e) = state.door.record_unused_prefetches() {
        tracing::warn!("could not record unused prefetched calls: {e}");
    }
    if let Err(e) = state.door.store_module_sources() {
        tracing::warn!("could not store the sources of the run's modules: {e}");
    }
    let not_recorded = env.rt.block_on(state.door.audit.unrecorded());
    report_store_trouble(&state, &env.audit_db, not_recorded.as_deref(), env.rt);
    let findings = std::mem::take(&mut *state.findings.lock().expect("findings lock"));
    let outcome = Outcome {
        ending: ending(&state, result),
        counts: Counts::of(&findings),
        fail_on: req.fail_on,
    };

    let door = &state.door;
    let end = RunEnd {
        status: outcome.status().as_str().into(),
        exit_code: outcome.exit_code(),
        duration_ms: Some(duration_ms),
        worst: outcome.counts.worst().map(|s| s.as_str().to_string()),
        counts: Some(serde_json::to_value(outcome.counts).expect("counts serialize")),
        error: outcome.error(),
    };
    let finished = door
        .flush()
        .and_then(|_| env.rt.block_on(door.audit.finish(end)));
    let outcome = match finished {
        Ok(()) => outcome,
        Err(e) => outcome.with_audit_failure(e.to_string()),
    };
    let error = outcome.error().map(|e| {
        let mut v = Value::String(e);
        door.redact(&mut v);
        v.as_str().unwrap_or_default().to_string()
    });
    tracing::debug!("run ended");
    // The id asked for, unless another run took it first (same second, same random suffix);
    // none if the store never opened.
    let recorded_id = env
        .rt
        .block_on(door.audit.recorder())
        .ok()
        .map(|recorder| recorder.id().to_string());
    out.findings(&findings);
    out.summary(
        outcome.status().as_str(),
        &outcome.counts,
        recorded_id.as_deref(),
        not_recorded.as_deref(),
        duration_ms,
    );
    let run_id = recorded_id.unwrap_or(run_id);
    let (planned, facts) = door.collected();
    use sha2::Digest;
    let source_sha256 = hex::encode(sha2::Sha256::digest(entry.source.as_bytes()));
    let locks = door.lock_event();
    Ok(RunReport {
        approvals: req.approved.clone(),
        break_glass: req
            .break_glass
            .clone()
            .map(|event| crate::audit::BreakGlassState {
                event,
                co_signed: false,
                co_signs: Vec::new(),
            }),
        locks,
        source_sha256,
        planned,
        facts,
        run_id,
        runbook: header.name,
        status: outcome.status().as_str(),
        exit_code: outcome.exit_code(),
        worst: outcome.counts.worst(),
        counts: outcome.counts,
        dry_run,
        dry_run_reason,
        operator,
        params: validated.recorded,
        duration_ms,
        findings,
        error,
    })
}

/// A store that cannot record the run, or whose disk is full, is a finding of every run:
/// triage's operator has to learn it, and a check of the server that could not be recorded
/// must not look like a clean one.
fn report_store_trouble(
    state: &RunState,
    db: &std::path::Path,
    not_recorded: Option<&str>,
    rt: &tokio::runtime::Runtime,
) {
    let door = &state.door;
    let dir = db.parent().unwrap_or(db).display().to_string();
    let (summary, next_step) = match not_recorded {
        Some(reason) => (
            format!("this run is not recorded: {reason}"),
            format!("df -h {dir}; ls -ld {dir}; mount | grep -w ro; then run again to record it"),
        ),
        None => match rt.block_on(door.audit.refuses_changes()) {
            Some(message) => (
                message,
                format!("df -h {dir}; free space (the guide's disk-filling row), then runbook audit verify"),
            ),
            None => return,
        },
    };
    let finding = Finding {
        subject: "audit store".into(),
        severity: "crit".into(),
        summary,
        evidence: json!({"path": db.display().to_string()}),
        next_step,
    };
    let _ = door.record(finding.clone(), crate::audit::Durability::Buffered);
    let shown = serde_json::to_value(&finding).expect("a finding serializes");
    state.findings.lock().expect("findings lock").push(shown);
}

/// How the script stopped: a stop the run state recorded (refusal, Ctrl-C, audit failure)
/// wins over the script's own result, which may be the error that stop raised.
fn ending(state: &RunState, result: std::result::Result<(), String>) -> Ending {
    match (state.stopped(), result) {
        (Some(Stop::Refused(m)), _) => Ending::Refused(m),
        (Some(Stop::Canceled), _) => Ending::Canceled,
        (Some(Stop::Audit(m)), _) => Ending::Audit(m),
        // The budget ran out: the script's error says where, unless a native function
        // swallowed it at the very end of the script.
        (Some(Stop::Budget), result) => Ending::Failed(
            result
                .err()
                .unwrap_or_else(|| "runbook exceeded its operation budget".to_string()),
        ),
        (None, _) if state.canceled() => Ending::Canceled,
        (None, Ok(_)) => Ending::Completed,
        (None, Err(m)) => Ending::Failed(m),
    }
}

/// The innermost error and the file it happened in: Rhai wraps errors raised inside
/// functions (`ErrorInFunctionCall` carries the callee's source file) and modules.
fn innermost<'a>(err: &'a EvalAltResult, file: &'a str) -> (&'a EvalAltResult, &'a str) {
    match err {
        EvalAltResult::ErrorInFunctionCall(_, source, inner, _) => {
            innermost(inner, if source.is_empty() { file } else { source })
        }
        EvalAltResult::ErrorInModule(_, inner, _) => innermost(inner, file),
        other => (other, file),
    }
}

/// `FILE:LINE: message` for the place the error happened, plus where the runbook called
/// into it when that was another file (a stdlib module).
fn describe(err: &EvalAltResult, entry: &Entry, stop: Option<&Stop>) -> String {
    let (inner, file) = innermost(err, &entry.file);
    let pos = inner.position();
    let mut at = match pos.line() {
        Some(line) => format!("{file}:{line}"),
        None => file.to_string(),
    };
    if file != entry.file {
        if let Some(line) = err.position().line() {
            at = format!("{at} (called from {}:{line})", entry.file);
        }
    }
    match inner {
        EvalAltResult::ErrorTooManyOperations(_) => {
            format!("runbook exceeded its operation budget at {at}")
        }
        EvalAltResult::ErrorTerminated(..) if stop == Some(&Stop::Budget) => {
            format!("runbook exceeded its operation budget at {at}")
        }
        EvalAltResult::ErrorRuntime(value, _) => format!("{at}: {value}"),
        other => {
            // Rhai appends "(line N, position M)"; the location is already in front.
            let text = other.to_string();
            let text = text
                .rsplit_once(" (line ")
                .map_or(text.as_str(), |(t, _)| t)
                .to_string();
            format!("{at}: {text}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;

    #[test]
    fn dry_run_switch_accepts_exactly_the_documented_values() {
        let mode = |v: Option<&OsStr>| dry_run_mode(false, v);
        assert_eq!(mode(None).unwrap(), None);
        for off in ["", "false", "0"] {
            assert_eq!(mode(Some(OsStr::new(off))).unwrap(), None, "{off:?}");
        }
        for on in ["true", "1"] {
            assert!(mode(Some(OsStr::new(on))).unwrap().is_some(), "{on:?}");
        }
        for bad in ["TRUE", "yes", " true", "1 ", "false\n", "no", "2"] {
            let err = mode(Some(OsStr::new(bad))).unwrap_err();
            assert!(matches!(err, Error::Usage(_)), "{bad:?}");
        }
        let err = mode(Some(OsStr::from_bytes(b"tru\xffe"))).unwrap_err();
        assert!(err.to_string().contains("not UTF-8"), "{err}");
        // Checked even when --dry-run is given.
        assert!(dry_run_mode(true, Some(OsStr::from_bytes(b"\xff"))).is_err());
        assert!(dry_run_mode(true, Some(OsStr::new("0"))).unwrap().is_some());
    }
}
