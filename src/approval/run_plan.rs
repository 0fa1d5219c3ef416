//! `runbook run --plan PLAN`: a plan's run, in the order that keeps it honest.
//!
//! 1. the plan file hashes to its `plan_hash` (else it was edited);
//! 2. it is for this host and has not expired;
//! 3. its approvals verify again and meet the site's rules (never the requester's own);
//! 4. a fresh dry run with the plan's parameters plans the same effects, from the same
//!    runbook source and site config (else: drift, shown as a diff);
//! 5. its nonce is marked used (a plan, and so each approval, runs once);
//! 6. the real run, with the approvals recorded as `approval` events before anything else,
//!    and the door letting the approved principals' units through.
//!
//! With `--break-glass REASON`, step 3 lets unmet rules through when the site allows it for
//! each of them (`break_glass: true`) and the operator is one of their approvers; the run
//! records a `break-glass` event before its first step.
//!
//! Each refusal exits 3, says what to do, and is recorded (`plan-refused`, in a run of kind
//! `run-plan`; see `record.rs`).

use std::path::Path;

use super::plan::{self, Plan};
use super::{flow, record};
use crate::audit::event::{BreakGlass, PlanRefused};
use crate::engine::run::{execute, RunEnv, RunReport, RunRequest};
use crate::error::{Error, Result};
use crate::identity::Operator;

/// The plan's parameters as `-p KEY=VALUE` pairs.
fn params_of(plan: &Plan) -> Vec<(String, String)> {
    plan.params
        .iter()
        .map(|(k, v)| {
            let text = match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), text)
        })
        .collect()
}

/// Dry-run a runbook and build its plan (used by `runbook plan` and by the drift check).
pub fn dry_plan(
    req: &RunRequest,
    env: &RunEnv,
    valid_for: chrono::Duration,
) -> Result<(RunReport, Plan)> {
    let entry = env.catalog.runbook(&req.name)?;
    let header = crate::engine::header::parse(&entry.source).map_err(|e| {
        Error::Usage(format!(
            "{}:{}: invalid header: {}",
            entry.file, e.line, e.message
        ))
    })?;
    if let Some(p) = header.params.iter().find(|p| p.secret) {
        return Err(Error::Usage(format!(
            "{} has the secret parameter `{}`: a plan is a file others read and sign, so runbooks with secret parameters cannot be planned",
            header.name, p.name
        )));
    }
    let dry = RunRequest {
        dry_run_flag: true,
        collect_facts: true,
        approved: Vec::new(),
        break_glass: None,
        ..req.clone()
    };
    let report = execute(&dry, env)?;
    let plan = flow::plan_of(
        &report,
        &env.site,
        header.change,
        valid_for,
        chrono::Utc::now(),
    );
    Ok((report, plan))
}

/// Why `run --plan` stopped before its run: the check that refused it, for the record.
struct Refusal {
    check: &'static str,
    reason: String,
}

fn refusal(check: &'static str, reason: impl Into<String>) -> Refusal {
    Refusal {
        check,
        reason: reason.into(),
    }
}

pub fn run_plan(
    path: &Path,
    base: &RunRequest,
    env: &RunEnv,
    break_glass: Option<&str>,
) -> Result<RunReport> {
    if let Some(reason) = break_glass {
        if reason.trim().is_empty() {
            return Err(Error::Usage(
                "--break-glass needs a reason (what is broken and why it cannot wait for the approvers), e.g. --break-glass \"gateway down, miguel unreachable\"".into(),
            ));
        }
    }
    let operator = Operator::detect();
    let plan = match Plan::load(path) {
        Ok(plan) => plan,
        Err(e) => {
            let subject = record::Subject::peek(path);
            return Err(refused(env, &operator, &subject, &[], refusal("plan", e)));
        }
    };
    let subject = record::Subject::of(&plan);
    let mut signers_seen = Vec::new();
    match prepare(
        &plan,
        path,
        base,
        env,
        &operator,
        break_glass,
        &mut signers_seen,
    ) {
        Ok(real) => execute(&real, env),
        Err(Stop::Refused(r)) => Err(refused(env, &operator, &subject, &signers_seen, r)),
        Err(Stop::Error(e)) => Err(e),
    }
}

enum Stop {
    Refused(Refusal),
    /// Not a refusal of the plan (bad input found by the fresh dry run, the audit store).
    Error(Error),
}

impl From<Refusal> for Stop {
    fn from(r: Refusal) -> Stop {
        Stop::Refused(r)
    }
}

/// Record the refusal as a run of kind `run-plan`, and return the error to exit with. A
/// store that cannot record it does not make the plan run: the refusal stands, and says so.
fn refused(
    env: &RunEnv,
    operator: &Operator,
    subject: &record::Subject,
    signers: &[String],
    r: Refusal,
) -> Error {
    let event = PlanRefused {
        plan_hash: subject.plan_hash.clone(),
        check: r.check.to_string(),
        reason: r.reason.clone(),
        requester: subject.requester.clone(),
        signers: signers.to_vec(),
    };
    let recorded = env.rt.block_on(record::record(
        &env.audit_db,
        record::RUN_PLAN,
        subject,
        operator,
        event.into(),
        Some(&r.reason),
    ));
    match recorded {
        Ok(_) => Error::Refused(r.reason),
        Err(e) => Error::Refused(format!(
            "{}\n(this refusal could not be recorded: {e})",
            r.reason
        )),
    }
}

/// Every check before the real run; the real run's request when all pass.
fn prepare(
    plan: &Plan,
    path: &Path,
    base: &RunRequest,
    env: &RunEnv,
    operator: &Operator,
    break_glass: Option<&str>,
    signers_seen: &mut Vec<String>,
) -> std::result::Result<RunRequest, Stop> {
    flow::check_host(plan, &operator.hostname).map_err(|e| refusal("host", e))?;
    flow::check_expiry(plan, chrono::Utc::now()).map_err(|e| refusal("expired", e))?;
    if plan::nonce_used(&env.audit_db, plan) {
        return Err(refusal("nonce", plan::nonce_used_message(plan)).into());
    }
    let (signers, unmet, problems) = flow::check_approvals(plan, &env.site, operator);
    signers_seen.extend(signers.iter().map(|s| s.principal.clone()));
    let glass = match (unmet.is_empty(), break_glass) {
        (true, None) => None,
        (true, Some(_)) => {
            return Err(Stop::Error(Error::Usage(format!(
                "plan {} is approved enough: run it without --break-glass",
                plan.plan_hash
            ))))
        }
        (false, Some(reason)) => Some(break_glass_of(plan, &unmet, env, operator, reason)?),
        (false, None) => {
            let mut why = format!("plan {} is not approved enough:", plan.plan_hash);
            for u in &unmet {
                why.push_str(&format!("\n  - {}", u.why));
            }
            for p in &problems {
                why.push_str(&format!("\n  - an approval does not count: {p}"));
            }
            why.push_str(&format!(
                "\nhave an approver sign the plan's challenge (runbook plan prints it) and hand it in with runbook approve {} SIGFILE",
                path.display()
            ));
            return Err(refusal("quorum", why).into());
        }
    };
    let req = RunRequest {
        name: plan.runbook.clone(),
        params: params_of(plan),
        ..base.clone()
    };
    let (fresh_report, fresh) =
        dry_plan(&req, env, chrono::Duration::hours(1)).map_err(Stop::Error)?;
    if fresh_report.exit_code != 0 {
        return Err(refusal(
            "dry-run",
            format!(
                "the fresh dry run of plan {} did not complete (run {}, exit {}): {}",
                plan.plan_hash,
                fresh_report.run_id,
                fresh_report.exit_code,
                fresh_report.error.clone().unwrap_or_default()
            ),
        )
        .into());
    }
    if let Some(diff) = flow::drift(plan, &fresh) {
        return Err(refusal("drift", format!(
            "plan {} has drifted: what the run would do now differs from what was approved (fresh dry run {}); make a new plan and have it approved again\n{diff}",
            plan.plan_hash, fresh_report.run_id
        )).into());
    }
    plan::consume_nonce(&env.audit_db, plan).map_err(|e| refusal("nonce", e))?;
    let counted: Vec<_> = signers
        .into_iter()
        .filter(|s| s.principal != plan.requester.login && s.principal != operator.login)
        .collect();
    Ok(RunRequest {
        dry_run_flag: false,
        collect_facts: false,
        approved: counted
            .iter()
            .map(|s| crate::audit::event::Approval {
                plan_hash: plan.plan_hash.clone(),
                principal: s.principal.clone(),
                fingerprint: s.fingerprint.clone(),
                algorithm: s.key_type.clone(),
                requester: plan.requester.login.clone(),
            })
            .collect(),
        break_glass: glass,
        ..req
    })
}

/// Break-glass for the rules the approvals do not meet: each must allow it (the site's
/// `break_glass: true` for it), and the operator must be one of each rule's approvers, so
/// that it is their own approval given without a signature, never someone else's.
fn break_glass_of(
    plan: &Plan,
    unmet: &[super::quorum::Unmet],
    env: &RunEnv,
    operator: &Operator,
    reason: &str,
) -> std::result::Result<BreakGlass, Refusal> {
    for u in unmet {
        if !u.rule.break_glass {
            return Err(refusal(
                "break-glass",
                format!(
                    "break-glass is not allowed for {}: the site allows it only with `{}: true` (site file {}); have {} sign the plan instead",
                    u.rule.what,
                    u.rule.break_glass_field,
                    env.site.origin,
                    u.rule.by.join(" or ")
                ),
            ));
        }
        if !u.rule.by.contains(&operator.login) {
            return Err(refusal(
                "break-glass",
                format!(
                    "break-glass is an approver's own approval: {} is not among the approvers of {} ({})",
                    operator.login,
                    u.rule.what,
                    u.rule.by.join(", ")
                ),
            ));
        }
    }
    Ok(BreakGlass {
        plan_hash: plan.plan_hash.clone(),
        principal: operator.login.clone(),
        reason: reason.trim().to_string(),
        rules: unmet.iter().map(|u| u.why.clone()).collect(),
        requester: plan.requester.login.clone(),
    })
}
