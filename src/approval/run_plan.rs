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
//! Each refusal exits 3 and says what to do.

use std::path::Path;

use super::flow;
use super::plan::{self, Plan};
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

pub fn run_plan(path: &Path, base: &RunRequest, env: &RunEnv) -> Result<RunReport> {
    let refused = Error::Refused;
    let plan = Plan::load(path).map_err(refused)?;
    let operator = Operator::detect();
    flow::check_usable(&plan, &operator.hostname, chrono::Utc::now()).map_err(refused)?;
    if plan::nonce_used(&env.audit_db, &plan) {
        return Err(Error::Refused(plan::nonce_used_message(&plan)));
    }
    let (signers, unmet, problems) = flow::check_approvals(&plan, &env.site, &operator);
    if !unmet.is_empty() {
        let mut why = format!("plan {} is not approved enough:", plan.plan_hash);
        for u in &unmet {
            why.push_str(&format!("\n  - {u}"));
        }
        for p in &problems {
            why.push_str(&format!("\n  - an approval does not count: {p}"));
        }
        why.push_str(&format!(
            "\nhave an approver sign the plan's challenge (runbook plan prints it) and hand it in with runbook approve {} SIGFILE",
            path.display()
        ));
        return Err(Error::Refused(why));
    }
    let req = RunRequest {
        name: plan.runbook.clone(),
        params: params_of(&plan),
        ..base.clone()
    };
    let (fresh_report, fresh) = dry_plan(&req, env, chrono::Duration::hours(1))?;
    if fresh_report.exit_code != 0 {
        return Err(Error::Refused(format!(
            "the fresh dry run of plan {} did not complete (run {}, exit {}): {}",
            plan.plan_hash,
            fresh_report.run_id,
            fresh_report.exit_code,
            fresh_report.error.clone().unwrap_or_default()
        )));
    }
    if let Some(diff) = flow::drift(&plan, &fresh) {
        return Err(Error::Refused(format!(
            "plan {} has drifted: what the run would do now differs from what was approved (fresh dry run {}); make a new plan and have it approved again\n{diff}",
            plan.plan_hash, fresh_report.run_id
        )));
    }
    plan::consume_nonce(&env.audit_db, &plan).map_err(refused)?;
    let counted: Vec<_> = signers
        .into_iter()
        .filter(|s| s.principal != plan.requester.login && s.principal != operator.login)
        .collect();
    let real = RunRequest {
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
        ..req
    };
    execute(&real, env)
}
