//! Every kind of event the audit trail records, one type each.
//!
//! The writers (the effect door, the builtins, the gates, the executor, the store) build these
//! types; the readers (`replay`, `log`, reports) parse them back with [`Event::parse`]. The
//! store keeps the kind in its own column and the payload as JSON text, and hashes that text
//! as stored, so changing a type here changes what new events look like but never whether old
//! ones verify.
//!
//! Old shapes: payloads written by earlier versions are brought up to date before they are
//! parsed (`upgrade`): `fn` for `function`, `ms` for `duration_ms`, `{"ok": bool}` step ends.
//! A payload that still does not fit its kind (a damaged or foreign record) comes back as
//! [`Parsed::Unreadable`] with the raw JSON, so a reader can still show it.
//!
//! The README's event table lists exactly these kinds and fields; a test compares the two.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Declares the event enum and, for each variant, its kind name and payload type.
macro_rules! events {
    ($($(#[$doc:meta])* $variant:ident($ty:ident) = $kind:literal,)*) => {
        /// One recorded event: its kind and its payload.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Event {
            $($(#[$doc])* $variant($ty),)*
        }

        impl Event {
            /// Every kind, in the order of the README's table.
            pub const KINDS: &'static [&'static str] = &[$($kind),*];

            /// The kind, as stored in the `kind` column.
            pub fn kind(&self) -> &'static str {
                match self {
                    $(Event::$variant(_) => $kind,)*
                }
            }

            /// The payload as JSON, as it will be stored (before redaction).
            pub fn payload(&self) -> Value {
                match self {
                    $(Event::$variant(e) => serde_json::to_value(e),)*
                }
                .expect("event payloads serialize")
            }

            fn from_payload(kind: &str, payload: Value) -> Option<Result<Event, serde_json::Error>> {
                Some(match kind {
                    $($kind => serde_json::from_value::<$ty>(payload).map(Event::$variant),)*
                    _ => return None,
                })
            }

            /// The payload fields of each kind, for the README test.
            #[cfg(test)]
            fn fields() -> Vec<(&'static str, &'static [&'static str])> {
                vec![$(($kind, serde_aux::serde_introspection::serde_introspect::<$ty>())),*]
            }
        }

        $(impl From<$ty> for Event {
            fn from(e: $ty) -> Event {
                Event::$variant(e)
            }
        })*
    };
}

events! {
    RunStart(RunStart) = "run-start",
    StepStart(StepStart) = "step-start",
    StepEnd(StepEnd) = "step-end",
    /// A read-only host call.
    Call(Call) = "call",
    /// A mutating call not performed (dry run).
    Planned(Planned) = "planned",
    /// A mutating call about to run: durable before it does.
    Intent(Intent) = "intent",
    /// What a mutating call did.
    Outcome(Outcome) = "outcome",
    Gate(Gate) = "gate",
    Refused(Refused) = "refused",
    /// The run took (or could not take) the locks its header declares.
    Lock(Lock) = "lock",
    /// A verified approval of the plan the run carries out (`run --plan`).
    Approval(Approval) = "approval",
    /// A signature handed in with `runbook approve`, and whether it was accepted.
    Signature(Signature) = "signature",
    /// `run --plan` refused before any run started (bad hash, expired, nonce, quorum, drift).
    PlanRefused(PlanRefused) = "plan-refused",
    /// The run's operator approved their own plan in an emergency, with a reason.
    BreakGlass(BreakGlass) = "break-glass",
    /// A second operator's signature of a plan that ran under break-glass.
    CoSign(CoSign) = "co-sign",
    /// A stdlib module the run loaded (built-in or an override), its source stored by hash.
    Module(Module) = "module",
    /// Output of the runbook itself (`print`).
    Log(Log) = "log",
    /// A learner's answer to a step's check of understanding (`runbook learn`).
    Answer(Answer) = "answer",
    Finding(Finding) = "finding",
    /// A restore drill's result, as the row it appended to the drill log.
    Drill(Drill) = "drill",
    RunEnd(RunEnd) = "run-end",
    /// Appended by recovery to a run whose process is gone and that recorded no end.
    Interrupted(Interrupted) = "interrupted",
}

/// What [`Event::parse`] found in a stored event.
// A short-lived return value, almost always the `Event` variant: boxing it would cost an
// allocation per event read back to save stack space in the rare other cases.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    Event(Event),
    /// A kind this version does not know; the payload as JSON (or as a string if it is not).
    Other {
        kind: String,
        payload: Value,
    },
    /// A known kind whose payload does not fit its type.
    Unreadable {
        kind: String,
        payload: Value,
        problem: String,
    },
}

impl Event {
    /// Parse a stored event: its `kind` column and payload text, of this version or an
    /// earlier one.
    pub fn parse(kind: &str, payload: &str) -> Parsed {
        let value: Value =
            serde_json::from_str(payload).unwrap_or_else(|_| Value::String(payload.into()));
        let mut upgraded = value.clone();
        if let Value::Object(fields) = &mut upgraded {
            upgrade(kind, fields);
        }
        match Event::from_payload(kind, upgraded) {
            Some(Ok(event)) => Parsed::Event(event),
            Some(Err(e)) => Parsed::Unreadable {
                kind: kind.into(),
                payload: value,
                problem: e.to_string(),
            },
            None => Parsed::Other {
                kind: kind.into(),
                payload: value,
            },
        }
    }
}

/// Rename the fields of earlier versions' payloads to this version's names, in place.
///
/// - every kind: `fn` → `function`, `ms` → `duration_ms`;
/// - `step-end`: `{"ok": bool}` → `status` `ok`/`failed`;
/// - `refused` from the door: `error` → `reason`.
fn upgrade(kind: &str, fields: &mut Map<String, Value>) {
    let rename = |fields: &mut Map<String, Value>, old: &str, new: &str| {
        if !fields.contains_key(new) {
            if let Some(v) = fields.remove(old) {
                fields.insert(new.into(), v);
            }
        }
    };
    rename(fields, "fn", "function");
    rename(fields, "ms", "duration_ms");
    match kind {
        "step-end" if !fields.contains_key("status") => {
            let failed = fields.get("ok") == Some(&Value::Bool(false))
                || fields.get("error").is_some_and(|e| !e.is_null());
            fields.insert("status".into(), if failed { "failed" } else { "ok" }.into());
        }
        "refused" => rename(fields, "error", "reason"),
        _ => {}
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The first event of every run.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RunStart {
    pub runbook: String,
    /// The source text that ran, stored once in `sources` by this hash.
    pub source_sha256: String,
    /// Validated parameters (secret ones redacted).
    pub params: Value,
    /// Who ran it: [`crate::identity::Operator`], with its evidence.
    pub operator: Value,
    pub host: String,
    pub dry_run: bool,
    pub dry_run_reason: Option<String>,
    /// The process that ran it (see `audit::process`): for recovery.
    #[serde(default)]
    pub pid: Option<u32>,
    #[serde(default)]
    pub proc_start: Option<u64>,
    #[serde(default)]
    pub boot_id: Option<String>,
    #[serde(default)]
    pub pid_ns: Option<String>,
    /// The version of runbook that recorded it.
    #[serde(default)]
    pub version: Option<String>,
    /// `learn` for a `runbook learn` session; absent for a run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// A `step "name" { ... }` began; the name is also the event's `step`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StepStart {
    #[serde(default)]
    pub name: String,
}

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    Ok,
    Failed,
    /// Not run: the learner skipped it (`runbook learn`).
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepEnd {
    #[serde(default)]
    pub name: String,
    pub status: StepStatus,
    #[serde(default)]
    pub duration_ms: Option<u64>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A read-only host call and what it returned.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Call {
    pub function: String,
    #[serde(default)]
    pub args: Value,
    /// The value returned (redacted), when it succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    /// Why it failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The error's class (`not_found`, `refused`, `backend`, ...), when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_kind: Option<String>,
    #[serde(default)]
    pub duration_ms: Option<u64>,
    /// Started ahead of use by `prefetch`: its duration overlapped other calls.
    #[serde(default, skip_serializing_if = "is_false")]
    pub prefetched: bool,
    /// Prefetched, and the runbook never used its result (recorded when the run ended).
    #[serde(default, skip_serializing_if = "is_false")]
    pub unused: bool,
}

/// A mutating call in a dry run: what it would do, not done.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Planned {
    pub function: String,
    #[serde(default)]
    pub args: Value,
    /// The function's own description of the change (null if it has none).
    #[serde(default)]
    pub plan: Value,
}

/// A mutating call about to be performed.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Intent {
    pub function: String,
    #[serde(default)]
    pub args: Value,
    #[serde(default)]
    pub plan: Value,
}

/// What a mutating call did.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Outcome {
    pub function: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_kind: Option<String>,
    #[serde(default)]
    pub duration_ms: Option<u64>,
}

/// Which kind of question a gate asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GateType {
    /// y/N.
    Confirm,
    /// The operator had to type `expected`.
    Typed,
}

/// A question put to the operator, and the answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gate {
    pub question: String,
    #[serde(default = "confirm")]
    pub gate: GateType,
    /// The word a typed gate wanted.
    #[serde(default)]
    pub expected: Option<String>,
    #[serde(default)]
    pub answer: String,
    /// None only in records of versions that did not say.
    #[serde(default)]
    pub approved: Option<bool>,
    /// How it was answered: `terminal`, `--yes`, `no terminal`, `dry run: not asked`,
    /// `canceled`.
    #[serde(default)]
    pub via: String,
    /// Who answered: the run's operator.
    #[serde(default)]
    pub answered_by: String,
}

fn confirm() -> GateType {
    GateType::Confirm
}

/// A refusal by policy: of a host call by the door, or by the runbook (`refuse()`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Refused {
    /// The refused host call, if a call was refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Value>,
    pub reason: String,
}

/// The locks a run took before its first mutating call, or the one it could not take.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Lock {
    /// The resources, sorted, as the header declares them.
    pub resources: Vec<String>,
    pub acquired: bool,
    /// How long the run waited for them.
    pub waited_ms: u64,
    /// The resource that was held by another run (when not acquired).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked_on: Option<String>,
    /// Who held it: operator, run id, runbook, since, pid (when known).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder: Option<Value>,
}

/// A signature of the run's plan that verified against an operator's authorized_keys, and
/// counted: recorded before the run's first step.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Approval {
    pub plan_hash: String,
    /// The account whose authorized_keys holds the key (never the key's comment).
    pub principal: String,
    /// `SHA256:...` of the key.
    pub fingerprint: String,
    /// The key's algorithm (`ssh-rsa`, `ssh-ed25519`); not `key_type`, which redaction
    /// would hide.
    pub algorithm: String,
    /// Who asked for the plan.
    pub requester: String,
}

/// Accepted or rejected, as [`Signature::verdict`] says.
pub const ACCEPTED: &str = "accepted";
pub const REJECTED: &str = "rejected";

/// A signature handed in with `runbook approve` and the verdict on it, recorded whether it
/// was accepted or not: who tried to approve what, with which key, and why it did not count.
/// The fields of the key are those the signature itself names, known even when it is refused;
/// they are absent when the file is not a signature at all.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Signature {
    /// The plan's hash (as its file says, when the file no longer matches it).
    pub plan_hash: String,
    /// The account whose authorized_keys holds the key, when one does.
    #[serde(default)]
    pub principal: Option<String>,
    #[serde(default)]
    pub fingerprint: Option<String>,
    #[serde(default)]
    pub algorithm: Option<String>,
    /// The namespace the signature was made under (`runbook-plan@HOST` to count).
    #[serde(default)]
    pub namespace: Option<String>,
    /// `accepted` or `rejected`.
    pub verdict: String,
    /// Why it was rejected, or what accepting it means.
    pub reason: String,
    /// Who asked for the plan.
    #[serde(default)]
    pub requester: String,
}

/// `run --plan` refused before the run started. `check` names which check refused it:
/// `plan` (unreadable, or changed after it was made), `host`, `expired`, `nonce`, `quorum`,
/// `break-glass`, `dry-run` (the fresh dry run did not complete) or `drift`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PlanRefused {
    pub plan_hash: String,
    pub check: String,
    pub reason: String,
    #[serde(default)]
    pub requester: String,
    /// The principals whose signatures verified (counted or not).
    #[serde(default)]
    pub signers: Vec<String>,
}

/// A plan run without the approvals its rules ask for, on its operator's own word: allowed
/// only where the site's rule says `break_glass: true`, and shown as not co-signed until a
/// second operator signs the plan (`co-sign`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct BreakGlass {
    pub plan_hash: String,
    /// The operator who ran it and approved it themself.
    pub principal: String,
    pub reason: String,
    /// The rules it went around (`runbook add-operator needs 2 ...`).
    pub rules: Vec<String>,
    pub requester: String,
}

/// A second operator's signature of a plan that ran under break-glass, recorded by
/// `runbook approve` after the run: the break-glass run is co-signed from then on.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CoSign {
    pub plan_hash: String,
    /// The break-glass run it co-signs.
    pub run: String,
    pub principal: String,
    pub fingerprint: String,
    pub algorithm: String,
}

/// A stdlib module the run imported, recorded when it is first loaded: an override from a
/// site directory runs with a trace, and `replay --source --module NAME` shows what ran.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Module {
    pub name: String,
    /// `built-in`, or the file it was read from.
    pub origin: String,
    /// Its text, stored once in `sources` by this hash.
    pub source_sha256: String,
}

/// A line the runbook printed.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Log {
    #[serde(default = "info")]
    pub level: String,
    pub message: String,
}

fn info() -> String {
    "info".into()
}

/// One answer to a check of understanding: the question, what was typed, whether it was
/// right, and which try it was (a wrong answer shows the hint and may be tried again).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Answer {
    pub question: String,
    pub answer: String,
    pub correct: bool,
    pub attempt: u32,
}

/// A finding the runbook reported (`report(#{...})`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Finding {
    pub subject: String,
    /// ok, info, warn or crit.
    pub severity: String,
    pub summary: String,
    #[serde(default)]
    pub evidence: Value,
    #[serde(default)]
    pub next_step: String,
}

/// A restore drill's result: the dump, how old it was, how long each phase took, and what
/// did not match its manifest. Recorded when the drill appends its row to the drill log.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Drill {
    pub set: String,
    pub dump: String,
    #[serde(default)]
    pub sha256: String,
    /// Age of the dump when drilled (the recovery point), seconds.
    #[serde(default)]
    pub rpo_secs: Option<i64>,
    /// Start, restore, compare and teardown together, milliseconds.
    pub rto_ms: i64,
    /// Milliseconds per phase: `{preflight_ms, start_ms, restore_ms, compare_ms, teardown_ms}`.
    #[serde(default)]
    pub phases: Value,
    /// `pass` or `fail`.
    pub result: String,
    #[serde(default)]
    pub mismatches: Vec<String>,
    /// The drill log the row went to.
    #[serde(default)]
    pub log: String,
    /// The audit chain's head when the row was written (`audit verify --expect-head` finds
    /// it): ties the row to the trail that recorded the drill.
    #[serde(default)]
    pub chain_head: Option<String>,
}

/// The last event of a finished run.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RunEnd {
    /// ok, findings, failed, refused or canceled.
    pub status: String,
    /// The process's exit code.
    pub exit_code: i32,
    #[serde(default)]
    pub duration_ms: Option<u64>,
    /// The worst finding's severity (ok, info, warn, crit); null without findings.
    #[serde(default)]
    pub worst: Option<String>,
    /// Findings per severity: `{ok, info, warn, crit}`.
    #[serde(default)]
    pub counts: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl RunEnd {
    /// The end of a run with `status`, which exits with `exit_code`.
    pub fn new(status: super::RunStatus, exit_code: i32) -> RunEnd {
        RunEnd {
            status: status.as_str().into(),
            exit_code,
            duration_ms: None,
            worst: None,
            counts: None,
            error: None,
        }
    }

    pub fn with_error(mut self, error: impl Into<String>) -> RunEnd {
        self.error = Some(error.into());
        self
    }
}

/// The process that recovery found the run's process gone from.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Detector {
    pub pid: u32,
    pub host: String,
}

/// A run that ended without its `run-end`: its process is gone.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Interrupted {
    pub reason: String,
    pub pid: u32,
    pub last_seq: i64,
    pub last_kind: String,
    pub last_time: String,
    #[serde(default)]
    pub detected_by: Option<Detector>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn payloads_round_trip_without_the_kind() {
        let e = Event::from(StepEnd {
            name: "Restart".into(),
            status: StepStatus::Failed,
            duration_ms: Some(12),
            error: Some("boom".into()),
        });
        let text = e.payload().to_string();
        assert!(!text.contains("\"kind\""), "{text}");
        assert_eq!(Event::parse(e.kind(), &text), Parsed::Event(e));
    }

    /// What the door wrote before these types: `ms`, `{"ok": false}`, `fn`.
    #[test]
    fn old_shapes_read_back() {
        let Parsed::Event(Event::StepEnd(end)) = Event::parse(
            "step-end",
            r#"{"name":"s","ok":false,"ms":7,"error":"x failed"}"#,
        ) else {
            panic!("not a step end")
        };
        assert_eq!(end.status, StepStatus::Failed);
        assert_eq!(end.duration_ms, Some(7));
        let Parsed::Event(Event::StepEnd(end)) = Event::parse("step-end", r#"{"status":"ok"}"#)
        else {
            panic!("not a step end")
        };
        assert_eq!(end.status, StepStatus::Ok);
        let Parsed::Event(Event::Call(call)) = Event::parse(
            "call",
            r#"{"fn":"files.stat","args":{"path":"/x"},"ok":true,"result":{"size":1},"ms":3}"#,
        ) else {
            panic!("not a call")
        };
        assert_eq!(
            (call.function.as_str(), call.duration_ms),
            ("files.stat", Some(3))
        );
        let Parsed::Event(Event::Refused(r)) = Event::parse(
            "refused",
            r#"{"function":"cmd.run","ok":false,"error_kind":"refused","error":"no","ms":0}"#,
        ) else {
            panic!("not a refusal")
        };
        assert_eq!(r.reason, "no");
    }

    #[test]
    fn unknown_and_damaged_payloads_still_come_back() {
        assert!(matches!(Event::parse("custom", "{}"), Parsed::Other { .. }));
        let Parsed::Unreadable { payload, .. } = Event::parse("gate", "not json") else {
            panic!("a gate without a question parsed")
        };
        assert_eq!(payload, json!("not json"));
    }

    /// The README's table of event kinds names every kind and every payload field, and
    /// nothing else: adding a kind or a field without documenting it fails here.
    #[test]
    fn readme_event_table_matches_the_types() {
        let readme = include_str!("../../README.md");
        let start = readme
            .find("<!-- event table -->")
            .expect("README has the event table marker");
        let mut documented = Vec::new();
        for line in readme[start..].lines().skip(1) {
            if !line.starts_with('|') {
                if documented.is_empty() {
                    continue;
                }
                break;
            }
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let kind = cells[1].trim_matches('`');
            if kind == "kind" || kind.starts_with("---") {
                continue;
            }
            let mut fields: Vec<String> = cells[2]
                .split(',')
                .map(|f| f.trim().trim_matches('`').to_string())
                .filter(|f| !f.is_empty())
                .collect();
            fields.sort();
            documented.push((kind.to_string(), fields));
        }
        let actual: Vec<(String, Vec<String>)> = Event::fields()
            .into_iter()
            .map(|(kind, fields)| {
                let mut fields: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
                fields.sort();
                (kind.to_string(), fields)
            })
            .collect();
        assert_eq!(
            documented, actual,
            "README event table vs src/audit/event.rs"
        );
    }
}
