//! The steps between a plan and its run, each testable on its own: make a plan from a dry
//! run, check the approvals a plan carries, and compare a fresh dry run with the plan (drift).

use chrono::{DateTime, Utc};

use super::plan::{self, Approval, Effect, Plan, Requester};
use super::quorum;
use super::verify::{self, Rejection, Signer};
use crate::engine::run::RunReport;
use crate::identity::Operator;
use crate::site::Site;

/// The longest a plan may stay valid: the guide asks for a fresh look at plans more than a
/// few weeks old; approvals are for changes about to be made.
pub const MAX_VALIDITY: chrono::Duration = chrono::Duration::days(14);

/// Build the plan of a finished dry run.
pub fn plan_of(
    report: &RunReport,
    site: &Site,
    change: crate::engine::header::ChangeTable,
    valid_for: chrono::Duration,
    now: DateTime<Utc>,
) -> Plan {
    let op = &report.operator;
    Plan {
        format: plan::FORMAT,
        runbook: report.runbook.clone(),
        source_sha256: report.source_sha256.clone(),
        params: report.params.clone(),
        site_sha256: plan::site_hash(site),
        site_origin: site.origin.clone(),
        effects: report.planned.clone(),
        facts: report.facts.clone(),
        change,
        requester: Requester {
            login: op.login.clone(),
            source: op.source.as_str().to_string(),
            uid: op.uid,
        },
        host: op.hostname.clone(),
        run_id: report.run_id.clone(),
        created: rfc3339(now),
        expires: rfc3339(ceil_second(now + valid_for)),
        nonce: plan::nonce(),
        plan_hash: String::new(),
        approvals: Vec::new(),
    }
    .seal()
}

/// Times are written to the second; an expiry is rounded up, so a plan is valid at least as
/// long as asked (truncating could leave a `1s` plan a millisecond).
fn ceil_second(t: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::{SubsecRound, Timelike};
    if t.nanosecond() == 0 {
        t
    } else {
        t.trunc_subsecs(0) + chrono::Duration::seconds(1)
    }
}

pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Refuse a plan that has expired or is for another host.
pub fn check_usable(plan: &Plan, host: &str, now: DateTime<Utc>) -> Result<(), String> {
    check_host(plan, host)?;
    check_expiry(plan, now)
}

/// Refuse a plan made on another host.
pub fn check_host(plan: &Plan, host: &str) -> Result<(), String> {
    if plan.host != host {
        return Err(format!(
            "the plan is for host {}, this is {host}: approvals for one host never count on another",
            plan.host
        ));
    }
    Ok(())
}

/// Refuse a plan past its expiry.
pub fn check_expiry(plan: &Plan, now: DateTime<Utc>) -> Result<(), String> {
    let expires = DateTime::parse_from_rfc3339(&plan.expires)
        .map_err(|e| format!("the plan's expiry `{}` is not a time: {e}", plan.expires))?;
    if now >= expires {
        return Err(format!(
            "the plan expired at {}: make a new plan (runbook plan {}) and have it approved again",
            plan.expires, plan.runbook
        ));
    }
    Ok(())
}

/// Verify a signature over `plan`'s challenge and record it in the plan's approvals.
pub fn add_approval(
    plan: &mut Plan,
    pem: &str,
    site: &Site,
    now: DateTime<Utc>,
) -> Result<Signer, Rejection> {
    let signer = verify::verify(pem, &plan.challenge_bytes(), &plan.namespace(), site)?;
    if !plan
        .approvals
        .iter()
        .any(|a| a.fingerprint == signer.fingerprint)
    {
        plan.approvals.push(Approval {
            signature: pem.trim().to_string() + "\n",
            principal: signer.principal.clone(),
            fingerprint: signer.fingerprint.clone(),
            added: rfc3339(now),
        });
    }
    Ok(signer)
}

/// Every approval of the plan verified again (none of what the file says is trusted), and
/// the site's rules for it checked. Returns the signers that verified, and the rules unmet.
pub fn check_approvals(
    plan: &Plan,
    site: &Site,
    executor: &Operator,
) -> (Vec<Signer>, Vec<quorum::Unmet>, Vec<String>) {
    let mut signers = Vec::new();
    let mut problems = Vec::new();
    for a in &plan.approvals {
        match verify::verify(
            &a.signature,
            &plan.challenge_bytes(),
            &plan.namespace(),
            site,
        ) {
            Ok(s) => signers.push(s),
            Err(e) => problems.push(e.reason),
        }
    }
    let rules = quorum::rules_for(site, &plan.runbook, &units_of(&plan.effects));
    let principals: Vec<String> = signers.iter().map(|s| s.principal.clone()).collect();
    let unmet = quorum::unmet(
        &rules,
        &principals,
        &[plan.requester.login.as_str(), executor.login.as_str()],
    );
    (signers, unmet, problems)
}

/// The units a plan's effects act on (systemd calls' `unit`, and a command's `affects`).
pub fn units_of(effects: &[Effect]) -> Vec<String> {
    effects
        .iter()
        .filter(|e| e.function.starts_with("systemd::"))
        .filter_map(|e| e.args.get("unit").and_then(|u| u.as_str()))
        .map(|u| {
            if u.contains('.') {
                u.to_string()
            } else {
                format!("{u}.service")
            }
        })
        .collect()
}

/// What differs between a plan and a fresh dry run of it, as a unified diff per part; None
/// when nothing does.
pub fn drift(plan: &Plan, fresh: &Plan) -> Option<String> {
    let mut parts = Vec::new();
    let pretty = |v: &serde_json::Value| {
        serde_json::to_string_pretty(&plan::canonical(v)).unwrap_or_default()
    };
    let mut compare = |what: &str, old: String, new: String| {
        if old != new {
            let diff = similar::TextDiff::from_lines(&old, &new)
                .unified_diff()
                .header(&format!("{what} (plan)"), &format!("{what} (now)"))
                .to_string();
            parts.push(diff);
        }
    };
    let line = |s: &str| format!("{s}\n");
    let effects = |p: &Plan| pretty(&serde_json::to_value(&p.effects).unwrap_or_default());
    let params = |p: &Plan| pretty(&serde_json::Value::Object(p.params.clone()));
    for (what, old, new) in [
        (
            "runbook source sha256",
            line(&plan.source_sha256),
            line(&fresh.source_sha256),
        ),
        ("params", params(plan), params(fresh)),
        (
            "site config sha256",
            line(&plan.site_sha256),
            line(&fresh.site_sha256),
        ),
        ("planned effects", effects(plan), effects(fresh)),
    ] {
        compare(what, old, new);
    }
    (!parts.is_empty()).then(|| parts.join(""))
}
