//! Whether a plan's approvals are enough: the site's rules, counted by distinct principals,
//! never counting the requester.
//!
//! A rule applies to a plan when it names the plan's runbook (`approvals.runbooks`), or when
//! the plan changes a unit whose policy is `signal-required` (its `approvers`, one of them
//! needed). Each rule needs `count` distinct principals among its `by`; the requester's own
//! signature, and the signature of whoever runs the plan, never count; the same approver
//! twice counts once.

use std::collections::BTreeSet;

use crate::site::{RestartPolicy, Site};

/// One approval rule as it applies to a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// What it is for: `runbook add-operator`, `unit openclaw-gateway.service`.
    pub what: String,
    pub by: Vec<String>,
    pub count: usize,
    /// Whether the site allows break-glass for it, and the site field that says so.
    pub break_glass: bool,
    pub break_glass_field: String,
}

/// A rule the approvals do not meet, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmet {
    pub rule: Rule,
    pub why: String,
}

/// The rules that apply to a plan of `runbook` whose effects touch `units`.
pub fn rules_for(site: &Site, runbook: &str, units: &[String]) -> Vec<Rule> {
    let mut rules = Vec::new();
    if let Some(r) = site.approvals.runbooks.get(runbook) {
        rules.push(Rule {
            what: format!("runbook {runbook}"),
            by: r.by.clone(),
            count: r.count as usize,
            break_glass: r.break_glass,
            break_glass_field: format!("approvals.runbooks.{runbook}.break_glass"),
        });
    }
    let mut seen = BTreeSet::new();
    for unit in units {
        if let Some((key, p)) = site.unit(unit) {
            if p.policy == RestartPolicy::SignalRequired && seen.insert(key.to_string()) {
                rules.push(Rule {
                    what: format!("unit {key} (signal-required)"),
                    by: p.approvers.clone(),
                    count: 1,
                    break_glass: p.break_glass,
                    break_glass_field: format!("units.{key}.break_glass"),
                });
            }
        }
    }
    rules
}

/// The rules not met by `signers` (principals), with why; empty when every rule is met.
pub fn unmet(rules: &[Rule], signers: &[String], excluded: &[&str]) -> Vec<Unmet> {
    let counted: BTreeSet<&str> = signers
        .iter()
        .map(String::as_str)
        .filter(|s| !excluded.contains(s))
        .collect();
    rules
        .iter()
        .filter_map(|rule| {
            let have: Vec<&str> = counted
                .iter()
                .copied()
                .filter(|s| rule.by.iter().any(|b| b == s))
                .collect();
            (have.len() < rule.count).then(|| Unmet {
                rule: rule.clone(),
                why: format!(
                    "{} needs {} approval(s) by {} (never the requester's own), has {}{}",
                    rule.what,
                    rule.count,
                    rule.by.join(", "),
                    have.len(),
                    if have.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", have.join(", "))
                    }
                ),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(count: usize) -> Rule {
        Rule {
            what: "runbook add-operator".into(),
            by: vec!["miguel".into(), "juanesteban".into(), "nat".into()],
            count,
            break_glass: false,
            break_glass_field: "approvals.runbooks.add-operator.break_glass".into(),
        }
    }

    #[test]
    fn distinct_principals_count_and_the_requester_never_does() {
        let r = [rule(2)];
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(unmet(&r, &s(&["miguel"]), &["nat"]).len(), 1);
        assert_eq!(unmet(&r, &s(&["miguel", "miguel"]), &["nat"]).len(), 1);
        assert!(unmet(&r, &s(&["miguel", "juanesteban"]), &["nat"]).is_empty());
        assert_eq!(unmet(&r, &s(&["miguel", "nat"]), &["nat"]).len(), 1);
        assert_eq!(unmet(&r, &s(&["miguel", "agent"]), &[]).len(), 1);
    }

    #[test]
    fn the_gateway_needs_miguel() {
        let site = Site::openclaw();
        let rules = rules_for(&site, "restart-unit", &["openclaw-gateway.service".into()]);
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].by, vec!["miguel"]);
        assert!(rules_for(&site, "restart-unit", &["caddy.service".into()]).is_empty());
        let ops = rules_for(&site, "add-operator", &[]);
        assert_eq!(ops[0].count, 2);
    }
}
