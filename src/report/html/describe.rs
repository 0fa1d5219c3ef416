//! What a timeline row says about one event: its label, lead text, value, duration and
//! row class, from the typed event.

use serde_json::Value;

use crate::audit::event::{GateType, StepStatus};
use crate::audit::{Event, Parsed};

/// Label, lead text, value, duration and row class of one event.
pub(super) fn describe(
    kind: &str,
    parsed: &Parsed,
    payload: &str,
) -> (String, String, String, Option<u64>, &'static str) {
    let kind = kind.to_string();
    let Parsed::Event(ev) = parsed else {
        return (
            kind,
            "unreadable payload: ".into(),
            payload.to_string(),
            None,
            "bad",
        );
    };
    match ev {
        Event::RunStart(s) => (
            kind,
            format!(
                "{} started by {} on {}",
                s.runbook,
                operator_login(&s.operator),
                s.host
            ),
            String::new(),
            None,
            "",
        ),
        Event::StepStart(s) => (kind, format!("step {}", s.name), String::new(), None, ""),
        Event::StepEnd(s) => {
            let failed = s.status == StepStatus::Failed;
            (
                kind,
                match s.status {
                    StepStatus::Failed => "failed: ".into(),
                    StepStatus::Ok => "ok".into(),
                    StepStatus::Skipped => "skipped by the learner".into(),
                },
                s.error.clone().unwrap_or_default(),
                s.duration_ms,
                if failed { "bad" } else { "" },
            )
        }
        Event::Call(c) => match &c.error {
            Some(err) => (
                "read".into(),
                format!("{}({}) failed: ", c.function, compact(&c.args)),
                err.clone(),
                c.duration_ms,
                "bad",
            ),
            None => (
                "read".into(),
                format!("{}({}) → ", c.function, compact(&c.args)),
                c.result.as_ref().map(pretty).unwrap_or_default(),
                c.duration_ms,
                "",
            ),
        },
        Event::Planned(p) => (
            "planned".into(),
            format!("would call {}({}); ", p.function, compact(&p.args)),
            pretty(&p.plan),
            None,
            "planned",
        ),
        Event::Intent(i) => (
            "intent".into(),
            format!("about to call {}({})", i.function, compact(&i.args)),
            String::new(),
            None,
            "change",
        ),
        Event::Outcome(o) => match &o.error {
            Some(err) => (
                "outcome".into(),
                format!("{} failed: ", o.function),
                err.clone(),
                o.duration_ms,
                "bad",
            ),
            None => (
                "outcome".into(),
                format!("{} done → ", o.function),
                o.result.as_ref().map(pretty).unwrap_or_default(),
                o.duration_ms,
                "change",
            ),
        },
        Event::Gate(g) => {
            let approved = match g.approved {
                Some(true) => "approved",
                Some(false) => "refused",
                None => "answer not judged by this version",
            };
            (
                "gate".into(),
                format!(
                    "asked \"{}\"{}: answered \"{}\" ({approved}) by {} via {}",
                    g.question,
                    match (g.gate, &g.expected) {
                        (GateType::Typed, Some(w)) => format!(" (type \"{w}\")"),
                        _ => String::new(),
                    },
                    g.answer,
                    g.answered_by,
                    g.via
                ),
                String::new(),
                None,
                if g.approved == Some(false) {
                    "bad"
                } else {
                    "gate"
                },
            )
        }
        Event::Refused(r) => (
            "refused".into(),
            match &r.function {
                Some(f) => format!("{f} refused: "),
                None => "refused: ".into(),
            },
            r.reason.clone(),
            None,
            "bad",
        ),
        Event::Approval(a) => (
            kind,
            format!(
                "approved by {} ({} {})",
                a.principal, a.algorithm, a.fingerprint
            ),
            format!("plan {} requested by {}", a.plan_hash, a.requester),
            None,
            "",
        ),
        Event::Signature(sig) => (
            kind,
            format!(
                "signature by {} {}",
                sig.principal.as_deref().unwrap_or("no operator"),
                sig.verdict
            ),
            format!(
                "{} ({} {}, namespace {}) for plan {}",
                sig.reason,
                sig.algorithm.as_deref().unwrap_or("-"),
                sig.fingerprint.as_deref().unwrap_or("-"),
                sig.namespace.as_deref().unwrap_or("-"),
                sig.plan_hash
            ),
            None,
            if sig.verdict == crate::audit::event::ACCEPTED {
                ""
            } else {
                "bad"
            },
        ),
        Event::PlanRefused(r) => (
            kind,
            format!("run --plan refused ({}): ", r.check),
            format!("{} (plan {})", r.reason, r.plan_hash),
            None,
            "bad",
        ),
        Event::BreakGlass(g) => (
            kind,
            format!("BREAK-GLASS by {}: ", g.principal),
            format!(
                "{} (in place of: {}; plan {})",
                g.reason,
                g.rules.join("; "),
                g.plan_hash
            ),
            None,
            "bad",
        ),
        Event::CoSign(c) => (
            kind,
            format!(
                "co-signed break-glass run {} by {} ({} {})",
                c.run, c.principal, c.algorithm, c.fingerprint
            ),
            format!("plan {}", c.plan_hash),
            None,
            "",
        ),
        Event::Lock(l) => (
            kind,
            if l.acquired {
                format!("locked {}", l.resources.join(", "))
            } else {
                format!(
                    "lock {} held by another run",
                    l.blocked_on.as_deref().unwrap_or("")
                )
            },
            l.holder.as_ref().map(|h| h.to_string()).unwrap_or_default(),
            None,
            if l.acquired { "" } else { "bad" },
        ),
        Event::Module(m) => (
            kind,
            format!("loaded module {} ({})", m.name, m.origin),
            format!("sha256 {}", m.source_sha256),
            None,
            if m.origin == "built-in" {
                ""
            } else {
                "sev-warn"
            },
        ),
        Event::Log(l) => ("print".into(), String::new(), l.message.clone(), None, ""),
        Event::Answer(a) => (
            "answer".into(),
            format!(
                "{} answered {} (try {}): ",
                a.question,
                if a.correct { "right" } else { "wrong" },
                a.attempt
            ),
            a.answer.clone(),
            None,
            if a.correct { "" } else { "bad" },
        ),
        Event::Finding(f) => (
            "finding".into(),
            format!("{} {} — {}", f.severity, f.subject, f.summary),
            String::new(),
            None,
            match f.severity.as_str() {
                "crit" => "sev-crit",
                "warn" => "sev-warn",
                _ => "",
            },
        ),
        Event::Drill(d) => (
            kind,
            format!(
                "drill {} of {}: {}",
                d.result,
                d.dump,
                d.mismatches.join("; ")
            ),
            format!(
                "RPO {} s, RTO {} ms, sha256 {}",
                d.rpo_secs.map_or("?".into(), |s| s.to_string()),
                d.rto_ms,
                d.sha256
            ),
            None,
            if d.result == "pass" { "" } else { "bad" },
        ),
        Event::RunEnd(r) => (
            kind,
            format!("{}, exit {}", r.status, r.exit_code),
            r.error
                .clone()
                .map(|e| format!(": {e}"))
                .unwrap_or_default(),
            r.duration_ms,
            if r.exit_code == 0 { "" } else { "bad" },
        ),
        Event::Interrupted(i) => (
            kind,
            format!("interrupted: {}", i.reason),
            String::new(),
            None,
            "bad",
        ),
    }
}

fn operator_login(operator: &Value) -> String {
    operator["login"]
        .as_str()
        .or_else(|| operator["user"].as_str())
        .unwrap_or("?")
        .to_string()
}

/// `key=value` pairs of a map, on one line.
pub(super) fn compact(v: &Value) -> String {
    match v {
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect::<Vec<_>>()
            .join(", "),
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn pretty(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => serde_json::to_string_pretty(other).unwrap_or_default(),
    }
}
