//! The functions and syntax every runbook has besides the host API: `step`, gates,
//! findings (`report`, and `report_live` for a watch), `print`, `refuse()`, `dry_run()`, `secret()`, `sleep()`, and text helpers
//! (`trimmed`, `words`, `lines`).
//!
//! None of these touch the machine, so they do not pass the effect door; each records what
//! it did in the audit trail itself.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rhai::{Dynamic, Engine, EvalAltResult, Map, NativeCallContext};
use serde_json::Value;

use super::gates::GateKind;
use super::host_fns::runtime;
use super::state::{RunState, Stop};
use super::walker::{StepChoice, StepDone};
use crate::audit::event::{Drill, Finding, Log, Refused, StepEnd, StepStart, StepStatus};
use crate::audit::Durability;
use crate::effect::DoorError;
use crate::host::HostError;

const SEVERITIES: [&str; 4] = ["ok", "info", "warn", "crit"];

/// The longest `sleep()`: longer waits are a mistake (and past some point overflow the clock).
const MAX_SLEEP_SECS: i64 = 86_400;

pub fn register(engine: &mut Engine, state: &Arc<RunState>) {
    register_step(engine, state);
    register_gates(engine, state);

    let st = state.clone();
    engine.on_print(move |text| {
        // Printing records an event: it costs what a host call does (the next operation
        // ends the script if that used up the budget; this callback cannot return an error).
        st.spend_host_call();
        let mut v = Value::String(text.to_string());
        st.door.redact(&mut v);
        let shown = v.as_str().unwrap_or_default();
        st.door.out.print(shown);
        // A failed write here surfaces at the step's flush, which stops the run.
        let _ = st.door.record(
            Log {
                level: "info".into(),
                message: shown.to_string(),
            },
            Durability::Buffered,
        );
    });
    engine.on_debug(|_, _, _| {});

    let st = state.clone();
    engine.register_fn("dry_run", move || st.door.dry_run);
    // Who runs it and which run this is, for records a runbook writes itself (the drill log).
    let st = state.clone();
    engine.register_fn("operator", move || st.door.operator().to_string());
    let st = state.clone();
    engine.register_fn("run_id", move || st.door.audit.requested_id().to_string());

    // The audit chain's head now, for a record that cites the trail (the drill log's row);
    // () when the run is not recorded.
    let st = state.clone();
    engine.register_fn(
        "chain_head",
        move |ctx: NativeCallContext| -> Result<Dynamic, Box<EvalAltResult>> {
            st.admit(ctx.call_position())?;
            match st.door.chain_head() {
                Ok(Some(h)) => Ok(h.into()),
                Ok(None) => Ok(Dynamic::UNIT),
                Err(e) => Err(st.stop(Stop::Audit(e.to_string()), ctx.call_position())),
            }
        },
    );

    let st = state.clone();
    engine.register_fn(
        "secret",
        move |ctx: NativeCallContext, value: &str| -> Result<String, Box<EvalAltResult>> {
            st.admit(ctx.call_position())?;
            st.door.audit.redactor().add_secret(value);
            Ok(value.to_string())
        },
    );

    let st = state.clone();
    engine.register_fn(
        "sleep",
        move |ctx: NativeCallContext, secs: i64| -> Result<(), Box<EvalAltResult>> {
            st.admit(ctx.call_position())?;
            // Waiting is a natural commit point: a long watch loop must not hold events.
            st.door
                .flush()
                .map_err(|e| st.stop(Stop::Audit(e.to_string()), ctx.call_position()))?;
            if !(0..=MAX_SLEEP_SECS).contains(&secs) {
                return Err(runtime(
                    format!("sleep({secs}): seconds must be from 0 to {MAX_SLEEP_SECS} (a day)"),
                    ctx.call_position(),
                ));
            }
            let until = Instant::now() + Duration::from_secs(secs as u64);
            while Instant::now() < until {
                if st.canceled() {
                    return Err(st.stop(Stop::Canceled, ctx.call_position()));
                }
                std::thread::sleep(Duration::from_millis(50).min(until - Instant::now()));
            }
            Ok(())
        },
    );

    let st = state.clone();
    engine.register_fn(
        "report",
        move |ctx: NativeCallContext, finding: Map| -> Result<(), Box<EvalAltResult>> {
            st.admit(ctx.call_position())?;
            let finding = finding_of(finding).map_err(|m| runtime(m, ctx.call_position()))?;
            let mut shown = serde_json::to_value(&finding).expect("a finding serializes");
            st.door.redact(&mut shown);
            st.door
                .record(finding, Durability::Buffered)
                .map_err(|e| st.stop(Stop::Audit(e.to_string()), ctx.call_position()))?;
            st.findings.lock().expect("findings lock").push(shown);
            Ok(())
        },
    );

    // A restore drill's result as a typed event, beside the row `drill::log` appended (the
    // door records that call; this is what replay and reports read). A dry run appended no
    // row, so it records none.
    let st = state.clone();
    engine.register_fn(
        "record_drill",
        move |ctx: NativeCallContext, row: Map| -> Result<(), Box<EvalAltResult>> {
            st.admit(ctx.call_position())?;
            if st.door.dry_run {
                return Ok(());
            }
            let v: Value = rhai::serde::from_dynamic(&Dynamic::from_map(row))
                .map_err(|e| runtime(e.to_string(), ctx.call_position()))?;
            let drill: Drill = serde_json::from_value(v).map_err(|e| {
                runtime(
                    format!(
                        "record_drill(): not a drill row ({e}): it needs set, dump, rto_ms, result"
                    ),
                    ctx.call_position(),
                )
            })?;
            st.door
                .record(drill, Durability::Durable)
                .map_err(|e| st.stop(Stop::Audit(e.to_string()), ctx.call_position()))?;
            Ok(())
        },
    );

    // A watching runbook (health -p watch=N) shows each finding when it happens, with the
    // time it was seen, instead of in the table at the end: the run may last until Ctrl-C.
    let st = state.clone();
    engine.register_fn(
        "report_live",
        move |ctx: NativeCallContext, finding: Map| -> Result<(), Box<EvalAltResult>> {
            let finding = finding_of(finding).map_err(|m| runtime(m, ctx.call_position()))?;
            let mut shown = serde_json::to_value(&finding).expect("a finding serializes");
            // The audit event has its own time; the one shown and returned says when it was seen.
            shown["time"] = Value::String(
                chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            );
            st.door.redact(&mut shown);
            st.door
                .record(finding, Durability::Buffered)
                .map_err(|e| st.stop(Stop::Audit(e.to_string()), ctx.call_position()))?;
            st.door.out.live_finding(&shown);
            st.findings.lock().expect("findings lock").push(shown);
            Ok(())
        },
    );

    // A policy decision made by the runbook itself: ends the run with exit 3, like a gate.
    let st = state.clone();
    engine.register_fn(
        "refuse",
        move |ctx: NativeCallContext, reason: &str| -> Result<(), Box<EvalAltResult>> {
            st.admit(ctx.call_position())?;
            let refused = Refused {
                function: None,
                args: None,
                reason: reason.to_string(),
            };
            st.door
                .record(refused, Durability::Durable)
                .map_err(|e| st.stop(Stop::Audit(e.to_string()), ctx.call_position()))?;
            Err(st.stop(Stop::Refused(reason.to_string()), ctx.call_position()))
        },
    );

    // Text helpers for parsing command output. Rhai's own `trim` trims in place and returns
    // `()`, which reads wrong in an expression, so runbooks use these.
    engine.register_fn("trimmed", |s: &str| s.trim().to_string());
    engine.register_fn("words", |s: &str| -> rhai::Array {
        s.split_whitespace()
            .map(|w| Dynamic::from(w.to_string()))
            .collect()
    });
    engine.register_fn("lines", |s: &str| -> rhai::Array {
        s.lines().map(|l| Dynamic::from(l.to_string())).collect()
    });

    engine.register_fn("unix_time", || chrono::Utc::now().timestamp());
    engine.register_fn("now_rfc3339", || chrono::Utc::now().to_rfc3339());
}

/// Validate a finding map: subject, severity, summary are required; evidence and next_step
/// are optional.
fn finding_of(finding: Map) -> Result<Finding, String> {
    let v: Value =
        rhai::serde::from_dynamic(&Dynamic::from_map(finding)).map_err(|e| e.to_string())?;
    let field = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let subject = field("subject").ok_or("report(): a finding needs a `subject` string")?;
    let severity = field("severity").ok_or("report(): a finding needs a `severity` string")?;
    if !SEVERITIES.contains(&severity.as_str()) {
        return Err(format!(
            "report(): severity `{severity}` is not one of ok, info, warn, crit"
        ));
    }
    let summary = field("summary").ok_or("report(): a finding needs a `summary` string")?;
    Ok(Finding {
        subject,
        severity,
        summary,
        evidence: v.get("evidence").cloned().unwrap_or(Value::Null),
        next_step: field("next_step").unwrap_or_default(),
    })
}

fn register_step(engine: &mut Engine, state: &Arc<RunState>) {
    let st = state.clone();
    engine
        .register_custom_syntax(
            ["step", "$string$", "$block$"],
            false,
            move |ctx, inputs| {
                let name = inputs[0].get_string_value().unwrap_or_default().to_string();
                let pos = inputs[0].position();
                st.admit(pos)?;
                let choice = st
                    .door
                    .walker
                    .as_ref()
                    .map_or(StepChoice::Run, |w| w.before_step(&name));
                if choice == StepChoice::Stop {
                    return Err(st.stop(Stop::Canceled, pos));
                }
                let previous = st.door.step();
                st.door.set_step(Some(name.clone()));
                st.door.out.step_start(&name);
                st.door
                    .record(StepStart { name: name.clone() }, Durability::Buffered)
                    .map_err(|e| st.stop(Stop::Audit(e.to_string()), pos))?;
                if choice == StepChoice::Skip {
                    let end = StepEnd {
                        name: name.clone(),
                        status: StepStatus::Skipped,
                        duration_ms: Some(0),
                        error: None,
                    };
                    let recorded = st
                        .door
                        .record(end, Durability::Buffered)
                        .and_then(|_| st.door.flush());
                    st.door.set_step(previous);
                    recorded.map_err(|e| st.stop(Stop::Audit(e.to_string()), pos))?;
                    return Ok(Dynamic::UNIT);
                }
                let findings_before = st.findings.lock().expect("findings lock").len();
                let started = Instant::now();
                let result = ctx.eval_expression_tree(&inputs[1]);
                let ms = started.elapsed().as_millis() as u64;
                let ok = result.is_ok();
                let why = result.as_ref().err().map(|e| {
                    // The cause, redacted like everything shown, on the step's own line.
                    let mut shown = Value::String(match st.stopped() {
                        Some(Stop::Refused(m)) => format!("refused: {m}"),
                        Some(Stop::Canceled) => {
                            "canceled by the operator (Ctrl-C, or q in a lesson)".into()
                        }
                        Some(Stop::Audit(m)) => format!("audit store: {m}"),
                        Some(Stop::Budget) => "the run used up its operation budget".into(),
                        None => cause(e),
                    });
                    st.door.redact(&mut shown);
                    shown.as_str().unwrap_or_default().to_string()
                });
                let end = StepEnd {
                    name: name.clone(),
                    status: if ok {
                        StepStatus::Ok
                    } else {
                        StepStatus::Failed
                    },
                    duration_ms: Some(ms),
                    error: result.as_ref().err().map(|e| {
                        let mut v = Value::String(e.to_string());
                        st.door.redact(&mut v);
                        v.as_str().unwrap_or_default().to_string()
                    }),
                };
                st.door.out.step_end(&name, why.as_deref(), ms);
                let mut recorded = st.door.record(end, Durability::Buffered);
                if let Some(walker) = &st.door.walker {
                    // Not after a stop (refusal, Ctrl-C, `q`): the learner is told by the run's end.
                    if st.stopped().is_none() {
                        let findings =
                            st.findings.lock().expect("findings lock")[findings_before..].to_vec();
                        let done = StepDone {
                            name: &name,
                            error: why.as_deref(),
                            findings: &findings,
                            duration_ms: ms,
                        };
                        for answer in walker.after_step(&done) {
                            recorded =
                                recorded.and_then(|_| st.door.record(answer, Durability::Buffered));
                        }
                    }
                }
                let recorded = recorded.and_then(|_| st.door.flush());
                st.door.set_step(previous);
                recorded.map_err(|e| st.stop(Stop::Audit(e.to_string()), pos))?;
                result
            },
        )
        .expect("step syntax registers");
}

/// Why a step's script failed, for its step line: the innermost error (Rhai wraps an error
/// raised in a function or module once per call), where it happened (`checks:39`, the file
/// name of a runbook or module) and the message without Rhai's "Runtime error:" prefix or its
/// "(line N, position M)" suffix.
pub fn cause(err: &EvalAltResult) -> String {
    let mut inner = err;
    let mut file = "";
    loop {
        match inner {
            EvalAltResult::ErrorInFunctionCall(_, source, next, _) => {
                if !source.is_empty() {
                    file = source;
                }
                inner = next;
            }
            EvalAltResult::ErrorInModule(_, next, _) => inner = next,
            _ => break,
        }
    }
    let message = match inner {
        EvalAltResult::ErrorRuntime(value, _) => value.to_string(),
        other => {
            let text = other.to_string();
            let text = text
                .rsplit_once(" (line ")
                .map_or(text.as_str(), |(t, _)| t);
            text.trim_start_matches("Runtime error: ").to_string()
        }
    };
    match (inner.position().line(), file.is_empty()) {
        (Some(line), false) => format!("{file}:{line}: {message}"),
        (Some(line), true) => format!("line {line}: {message}"),
        (None, _) => message,
    }
}

fn register_gates(engine: &mut Engine, state: &Arc<RunState>) {
    let st = state.clone();
    engine.register_fn(
        "confirm",
        move |ctx: NativeCallContext, question: &str| -> Result<(), Box<EvalAltResult>> {
            gate(&st, &ctx, question, GateKind::Confirm)
        },
    );
    let st = state.clone();
    engine.register_fn(
        "confirm_typed",
        move |ctx: NativeCallContext,
              question: &str,
              expected: &str|
              -> Result<(), Box<EvalAltResult>> {
            gate(
                &st,
                &ctx,
                question,
                GateKind::Typed {
                    expected: expected.to_string(),
                },
            )
        },
    );
}

/// Ask through the door's gate machinery (recorded durably) and stop the run unless approved.
fn gate(
    st: &RunState,
    ctx: &NativeCallContext,
    question: &str,
    kind: GateKind,
) -> Result<(), Box<EvalAltResult>> {
    let pos = ctx.call_position();
    st.admit(pos)?;
    match st.door.gate(question, kind) {
        Ok(()) => Ok(()),
        Err(DoorError::Canceled) => Err(st.stop(Stop::Canceled, pos)),
        Err(DoorError::Host(HostError::Refused(msg))) => Err(st.stop(Stop::Refused(msg), pos)),
        Err(DoorError::Host(err)) => Err(runtime(err.to_string(), pos)),
        Err(DoorError::Audit(err)) => Err(st.stop(Stop::Audit(err.to_string()), pos)),
    }
}
