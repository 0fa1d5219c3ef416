//! Change control's own records: each `runbook approve`, and each `run --plan` refused before
//! its run started, is a short run of its own in the audit store (kind `approve` or
//! `run-plan`): `run-start`, the one event that says what happened (`signature`, `co-sign` or
//! `plan-refused`), `run-end`. So `log` lists them, `replay` shows them and a report can
//! include them, like any run; the plan file is never the only place an approval is written.
//!
//! The run's "source" is the plan's challenge line (what an approver signs): the runbook's
//! own source is recorded by the runs that execute it.

use std::path::Path;

use serde_json::Value;

use super::plan::Plan;
use crate::audit::event::{Event, RunEnd};
use crate::audit::{AuditError, AuditStore, Durability, NewRun, RunStatus};
use crate::error::exit;
use crate::identity::Operator;

/// `run-start`'s `kind` for a `runbook approve`.
pub const APPROVE: &str = "approve";
/// `run-start`'s `kind` for a `run --plan` refused before its run started.
pub const RUN_PLAN: &str = "run-plan";

/// What the record is about: a plan, or what could be read of a file that is not one.
#[derive(Debug, Clone)]
pub struct Subject {
    pub runbook: String,
    pub plan_hash: String,
    pub requester: String,
    pub params: Value,
    /// Stored as the record's source: the challenge line, or what the file was.
    pub text: String,
}

impl Subject {
    pub fn of(plan: &Plan) -> Subject {
        Subject {
            runbook: plan.runbook.clone(),
            plan_hash: plan.plan_hash.clone(),
            requester: plan.requester.login.clone(),
            params: Value::Object(plan.params.clone()),
            text: format!("{}\n", plan.challenge()),
        }
    }

    /// What a plan file that does not load still says about itself (its hash no longer
    /// matching, a damaged file), for the record of its refusal. Nothing of it is trusted.
    pub fn peek(path: &Path) -> Subject {
        let value: Value = std::fs::read_to_string(path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null);
        let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
        let runbook = text(&value["runbook"]);
        Subject {
            runbook: if runbook.is_empty() {
                "(not a plan)".into()
            } else {
                runbook
            },
            plan_hash: text(&value["plan_hash"]),
            requester: text(&value["requester"]["login"]),
            params: match &value["params"] {
                Value::Object(m) => Value::Object(m.clone()),
                _ => Value::Object(Default::default()),
            },
            text: format!("plan file {} (it did not load)\n", path.display()),
        }
    }
}

/// Record `event` as a run of `kind` by `operator` about `subject`, ending `refused` (exit 3)
/// or ok. Returns the record's run id.
pub async fn record(
    db: &Path,
    kind: &str,
    subject: &Subject,
    operator: &Operator,
    event: Event,
    refused: Option<&str>,
) -> Result<String, AuditError> {
    let store = AuditStore::open(db).await?;
    let run = store
        .start_run(NewRun {
            runbook: subject.runbook.clone(),
            source: subject.text.clone(),
            params: subject.params.clone(),
            operator: serde_json::to_value(operator).expect("an operator serializes"),
            host: operator.hostname.clone(),
            dry_run: false,
            dry_run_reason: None,
            kind: Some(kind.to_string()),
        })
        .await?;
    run.record_event(None, &event, Durability::Durable).await?;
    let end = match refused {
        Some(why) => RunEnd::new(RunStatus::Refused, exit::REFUSED).with_error(why),
        None => RunEnd::new(RunStatus::Ok, exit::OK),
    };
    run.finish(end).await?;
    let id = run.id().to_string();
    drop(run);
    store.close().await?;
    Ok(id)
}

/// The break-glass run of `plan_hash`, if the plan ran under break-glass.
pub async fn break_glass_run(
    db: &Path,
    plan_hash: &str,
) -> Result<Option<(String, crate::audit::event::BreakGlass)>, AuditError> {
    let Some(store) = AuditStore::open_existing(db).await? else {
        return Ok(None);
    };
    let mut conn = store.reader().await?;
    crate::audit::break_glass_run(&mut conn, plan_hash).await
}
