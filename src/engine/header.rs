//! Runbook headers: the `//!` lines at the top of a `.rhai` file.
//!
//! `runbook show` and parameter validation read the header without executing the script:
//!
//! ```text
//! //! name: restart-unit
//! //! summary: Restart one systemd unit, if the site policy allows it
//! //! description: Follows the site's restart policy for the unit ...
//! //! mutates: true
//! //! param unit: string, required, pattern ^[A-Za-z0-9@._-]+$ -- the unit to restart
//! //! param reason: string, default "not given" -- why, for the audit trail
//! //! locks: unit:caddy.service, backups:db
//! //! time to apply: about 10 s
//! //! downtime: the unit is down while it restarts (seconds)
//! //! rollback: none needed; if it does not come back, see the unit's journal
//! ```
//!
//! `locks` names the resources the runbook changes (`KIND:NAME`, comma separated): the door
//! takes a lock on each before the first mutating call (see `effect::locks`). `time to
//! apply`, `downtime` and `rollback` are the change table the guide asks for before any
//! change (§11); `runbook check` reports a mutating runbook without all three.
//!
//! Parameter attributes, comma separated after the type: `required`, `default VALUE` (quote
//! it when it contains a comma), `secret` (the value is redacted everywhere), `one of
//! site.SECTION` (the value must be an id in that list, or a key of that map, of the site
//! config: `runbook show` lists them), `min N` and `max N` (bounds of an `int`, inclusive),
//! and `pattern REGEX` (must come last, since patterns may contain commas; anchored for you).

use std::fmt;

use regex::Regex;

/// The types a runbook parameter can declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    String,
    Int,
    Bool,
    /// A point in time in the one time grammar (`crate::time`): "10 minutes ago", "2h",
    /// "2026-11-21 05:00", ... The runbook gets the text as given, checked.
    Time,
    /// A span: "30s", "10m", "2h 30min". The runbook gets whole seconds (an int).
    Duration,
}

impl ParamKind {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "string" | "str" => Some(ParamKind::String),
            "int" | "integer" => Some(ParamKind::Int),
            "bool" | "boolean" => Some(ParamKind::Bool),
            "time" => Some(ParamKind::Time),
            "duration" => Some(ParamKind::Duration),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ParamKind::String => "string",
            ParamKind::Int => "int",
            ParamKind::Bool => "bool",
            ParamKind::Time => "time",
            ParamKind::Duration => "duration",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ParamSpec {
    pub name: String,
    pub kind: ParamKind,
    pub required: bool,
    pub default: Option<String>,
    pub secret: bool,
    pub pattern: Option<Regex>,
    /// `one of site.symptoms`: the site config section whose ids are the allowed values.
    pub choices_from: Option<String>,
    /// `min N`, `max N`: inclusive bounds of an `int` parameter.
    pub min: Option<i64>,
    pub max: Option<i64>,
    pub help: String,
}

#[derive(Debug, Clone, Default)]
pub struct Header {
    pub name: String,
    pub summary: String,
    pub description: String,
    pub mutates: bool,
    pub params: Vec<ParamSpec>,
    /// Resources the runbook changes, `KIND:NAME`, as written (the door sorts them).
    pub locks: Vec<String>,
    pub change: ChangeTable,
}

/// The guide's table for a change (§11): how long it takes, what is down meanwhile, and how
/// to undo it. Each is free text, None when the header does not say.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChangeTable {
    pub time_to_apply: Option<String>,
    pub downtime: Option<String>,
    pub rollback: Option<String>,
}

impl ChangeTable {
    /// The keys the header lacks, by their header names.
    pub fn missing(&self) -> Vec<&'static str> {
        [
            ("time to apply", &self.time_to_apply),
            ("downtime", &self.downtime),
            ("rollback", &self.rollback),
        ]
        .into_iter()
        .filter(|(_, v)| v.is_none())
        .map(|(k, _)| k)
        .collect()
    }

    /// The rows, for printing: (label, value or "not stated").
    pub fn rows(&self) -> [(&'static str, &str); 3] {
        fn v(o: &Option<String>) -> &str {
            o.as_deref().unwrap_or("not stated")
        }
        [
            ("time to apply", v(&self.time_to_apply)),
            ("downtime", v(&self.downtime)),
            ("rollback", v(&self.rollback)),
        ]
    }
}

/// A header line that could not be understood. `line` is 1-based.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl Header {
    pub fn param(&self, name: &str) -> Option<&ParamSpec> {
        self.params.iter().find(|p| p.name == name)
    }
}

/// Parse the leading `//!` block of a runbook. Lines after the first non-`//!` line are code.
pub fn parse(source: &str) -> Result<Header, HeaderError> {
    let mut header = Header::default();
    let mut seen_mutates = false;
    for (idx, raw) in source.lines().enumerate() {
        let line_no = idx + 1;
        let trimmed = raw.trim_start();
        let Some(body) = trimmed.strip_prefix("//!") else {
            if trimmed.is_empty() {
                continue;
            }
            break;
        };
        let body = body.trim();
        if body.is_empty() {
            continue;
        }
        let err = |message: String| HeaderError {
            line: line_no,
            message,
        };
        if let Some(rest) = body.strip_prefix("param ") {
            let spec = parse_param(rest).map_err(err)?;
            if header.param(&spec.name).is_some() {
                return Err(err(format!("parameter `{}` is declared twice", spec.name)));
            }
            header.params.push(spec);
            continue;
        }
        let Some((key, value)) = body.split_once(':') else {
            return Err(err(format!(
                "expected `key: value` or `param NAME: TYPE ...`, found `{body}`"
            )));
        };
        let value = value.trim();
        match key.trim() {
            "name" => header.name = value.to_string(),
            "summary" => header.summary = value.to_string(),
            "description" => {
                if !header.description.is_empty() {
                    header.description.push(' ');
                }
                header.description.push_str(value);
            }
            "mutates" => {
                header.mutates = match value {
                    "true" | "yes" => true,
                    "false" | "no" => false,
                    other => {
                        return Err(err(format!("mutates must be true or false, not `{other}`")))
                    }
                };
                seen_mutates = true;
            }
            "locks" => {
                for resource in value.split(',').map(str::trim).filter(|r| !r.is_empty()) {
                    if crate::effect::locks::template_params(resource).is_none() {
                        return Err(err(format!(
                            "lock `{resource}` must be KIND:NAME of letters, digits and @._-, or {{param}} for a parameter's value (like unit:caddy.service, unit:{{unit}})"
                        )));
                    }
                    header.locks.push(resource.to_string());
                }
            }
            "time to apply" => header.change.time_to_apply = Some(value.to_string()),
            "downtime" => header.change.downtime = Some(value.to_string()),
            "rollback" => header.change.rollback = Some(value.to_string()),
            other => {
                return Err(err(format!(
                "unknown header key `{other}` (known: name, summary, description, mutates, locks, time to apply, downtime, rollback, param)"
            )))
            }
        }
    }
    if header.name.is_empty() {
        return Err(HeaderError {
            line: 1,
            message: "header has no `//! name: ...` line".into(),
        });
    }
    if header.summary.is_empty() {
        return Err(HeaderError {
            line: 1,
            message: "header has no `//! summary: ...` line".into(),
        });
    }
    for lock in &header.locks {
        for name in crate::effect::locks::template_params(lock).unwrap_or_default() {
            if header.param(&name).is_none() {
                return Err(HeaderError {
                    line: 1,
                    message: format!(
                        "lock `{lock}` names `{{{name}}}`, which is not a declared parameter"
                    ),
                });
            }
        }
    }
    if !seen_mutates {
        return Err(HeaderError {
            line: 1,
            message: "header must say `//! mutates: true` or `//! mutates: false`".into(),
        });
    }
    Ok(header)
}

fn parse_param(rest: &str) -> Result<ParamSpec, String> {
    let (decl, help) = match rest.split_once(" -- ") {
        Some((d, h)) => (d, h.trim().to_string()),
        None => (rest, String::new()),
    };
    let (name, attrs) = decl
        .split_once(':')
        .ok_or_else(|| format!("expected `param NAME: TYPE`, found `param {decl}`"))?;
    let name = name.trim().to_string();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!(
            "parameter name `{name}` must be letters, digits and _"
        ));
    }
    let attrs = attrs.trim();
    let (kind_str, mut rest) = match attrs.split_once(',') {
        Some((k, r)) => (k.trim(), r.trim()),
        None => (attrs, ""),
    };
    let kind = ParamKind::parse(kind_str).ok_or_else(|| {
        format!("parameter `{name}`: unknown type `{kind_str}` (string, int, bool)")
    })?;
    let mut spec = ParamSpec {
        name,
        kind,
        required: false,
        default: None,
        secret: false,
        pattern: None,
        choices_from: None,
        min: None,
        max: None,
        help,
    };
    while !rest.is_empty() {
        let (word, after) = rest.split_once(' ').unwrap_or((rest, ""));
        let word = word.trim_end_matches(',');
        match word {
            "required" => {
                spec.required = true;
                rest = next_attr(after, rest.starts_with("required,"));
            }
            "secret" => {
                spec.secret = true;
                rest = next_attr(after, rest.starts_with("secret,"));
            }
            "one" => {
                let after = after.trim_start();
                let rest_of = after.strip_prefix("of ").ok_or_else(|| {
                    format!("parameter `{}`: expected `one of site.SECTION`", spec.name)
                })?;
                let (section, remaining) = rest_of.split_once(',').unwrap_or((rest_of, ""));
                let section = section.trim();
                if !section.starts_with("site.") || section.len() <= 5 {
                    return Err(format!(
                        "parameter `{}`: `one of` takes a site config section, like site.symptoms",
                        spec.name
                    ));
                }
                spec.choices_from = Some(section.to_string());
                rest = remaining.trim_start();
            }
            bound @ ("min" | "max") => {
                let after = after.trim_start();
                let (value, remaining) = after.split_once(',').unwrap_or((after, ""));
                if spec.kind != ParamKind::Int {
                    return Err(format!(
                        "parameter `{}`: `{bound}` applies to int parameters only",
                        spec.name
                    ));
                }
                let n = value.trim().parse::<i64>().map_err(|_| {
                    format!(
                        "parameter `{}`: `{bound}` takes an integer, got `{}`",
                        spec.name,
                        value.trim()
                    )
                })?;
                *(if bound == "min" { &mut spec.min } else { &mut spec.max }) = Some(n);
                rest = remaining.trim_start();
            }
            "pattern" => {
                let re = after.trim();
                spec.pattern = Some(
                    Regex::new(&format!("^(?:{re})$"))
                        .map_err(|e| format!("parameter `{}`: bad pattern: {e}", spec.name))?,
                );
                rest = "";
            }
            "default" => {
                let after = after.trim_start();
                let (value, remaining) = if let Some(quoted) = after.strip_prefix('"') {
                    let end = quoted
                        .find('"')
                        .ok_or_else(|| format!("parameter `{}`: unterminated quote", spec.name))?;
                    (quoted[..end].to_string(), quoted[end + 1..].trim_start())
                } else {
                    match after.split_once(',') {
                        Some((v, r)) => (v.trim().to_string(), r),
                        None => (after.trim().to_string(), ""),
                    }
                };
                spec.default = Some(value);
                rest = remaining.trim_start().trim_start_matches(',').trim_start();
            }
            other => {
                return Err(format!(
                    "parameter `{}`: unknown attribute `{other}` (required, default, secret, one of, min, max, pattern)",
                    spec.name
                ))
            }
        }
    }
    if spec.required && spec.default.is_some() {
        return Err(format!(
            "parameter `{}` cannot be both required and defaulted",
            spec.name
        ));
    }
    if let (Some(min), Some(max)) = (spec.min, spec.max) {
        if min > max {
            return Err(format!(
                "parameter `{}`: min {min} is greater than max {max}",
                spec.name
            ));
        }
    }
    if let Some(default) = &spec.default {
        check_value(&spec, default).map_err(|e| format!("default of {e}"))?;
    }
    Ok(spec)
}

fn next_attr(after: &str, had_comma: bool) -> &str {
    let after = after.trim_start();
    if had_comma {
        after
    } else {
        after.trim_start_matches(',').trim_start()
    }
}

/// Check one value against its spec; the message names the parameter and what was expected.
pub fn check_value(spec: &ParamSpec, value: &str) -> Result<(), String> {
    if let (ParamKind::Int, Ok(n)) = (spec.kind, value.parse::<i64>()) {
        let (lo, hi) = (spec.min.unwrap_or(i64::MIN), spec.max.unwrap_or(i64::MAX));
        if n < lo || n > hi {
            return Err(format!(
                "parameter `{}` must be from {} to {}, got `{value}`",
                spec.name,
                spec.min.map_or("any".to_string(), |m| m.to_string()),
                spec.max.map_or("any".to_string(), |m| m.to_string()),
            ));
        }
    }
    match spec.kind {
        ParamKind::Int if value.parse::<i64>().is_err() => {
            return Err(format!(
                "parameter `{}` expects an integer, got `{value}`",
                spec.name
            ))
        }
        ParamKind::Bool if !matches!(value, "true" | "false") => {
            return Err(format!(
                "parameter `{}` expects true or false, got `{value}`",
                spec.name
            ))
        }
        ParamKind::Time => {
            crate::time::parse_time(value, chrono::Utc::now())
                .map_err(|e| format!("parameter `{}`: {e}", spec.name))?;
        }
        ParamKind::Duration => {
            crate::time::parse_duration(value)
                .map_err(|e| format!("parameter `{}`: {e}", spec.name))?;
        }
        _ => {}
    }
    if let Some(re) = &spec.pattern {
        if !re.is_match(value) {
            let shown = if spec.secret { "[REDACTED]" } else { value };
            return Err(format!(
                "parameter `{}` must match {}, got `{shown}`",
                spec.name,
                re.as_str()
            ));
        }
    }
    Ok(())
}

/// The allowed values of a `one of site.SECTION` parameter, with a label for each: the ids of
/// a list's entries (label: their `symptom`, `description` or `control` text) or a map's keys.
pub fn choices(spec: &ParamSpec, site: &serde_json::Value) -> Option<Vec<(String, String)>> {
    let path = spec.choices_from.as_deref()?.strip_prefix("site.")?;
    let section = path.split('.').try_fold(site, |v, k| v.get(k))?;
    let label = |v: &serde_json::Value| {
        ["symptom", "description", "control", "summary"]
            .iter()
            .find_map(|k| v.get(*k).and_then(|s| s.as_str()))
            .unwrap_or("")
            .to_string()
    };
    match section {
        serde_json::Value::Array(items) => Some(
            items
                .iter()
                .filter_map(|i| Some((i.get("id")?.as_str()?.to_string(), label(i))))
                .collect(),
        ),
        serde_json::Value::Object(map) => {
            Some(map.iter().map(|(k, v)| (k.clone(), label(v))).collect())
        }
        _ => None,
    }
}

/// One named step as found in the source, for `runbook show`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepInfo {
    pub name: String,
    /// The `//` comment lines directly above the step, if any.
    pub doc: String,
    pub line: usize,
}

/// List the `step "NAME" { ... }` blocks of a runbook in source order, without running it.
pub fn steps(source: &str) -> Vec<StepInfo> {
    let re = Regex::new(r#"^\s*step\s+"((?:[^"\\]|\\.)*)""#).expect("static regex");
    let lines: Vec<&str> = source.lines().collect();
    let mut out = Vec::new();
    for (idx, line) in lines.iter().enumerate() {
        let Some(cap) = re.captures(line) else {
            continue;
        };
        let mut doc = Vec::new();
        for prev in lines[..idx].iter().rev() {
            let t = prev.trim_start();
            match t.strip_prefix("//") {
                Some(c) if !t.starts_with("//!") => doc.push(c.trim().to_string()),
                _ => break,
            }
        }
        doc.reverse();
        out.push(StepInfo {
            name: cap[1].to_string(),
            doc: doc.join(" "),
            line: idx + 1,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = r#"//! name: restart-unit
//! summary: Restart one unit
//! description: Follows the policy.
//! description: Second line.
//! mutates: true
//! param unit: string, required, pattern [a-z-]+\.service -- the unit
//! param reason: string, default "no reason, given" -- why
//! param count: int, default 3
//! param token: string, secret
//! param symptom: string, one of site.symptoms, pattern [a-z-]+
//! locks: unit:caddy.service, backups:db
//! time to apply: 10 s
//! downtime: none
//! rollback: restart again
let x = 1;
// Look the unit up
step "Look up" { x }
step "Restart" {}
"#;

    #[test]
    fn parses_every_field() {
        let h = parse(SRC).unwrap();
        assert_eq!(h.name, "restart-unit");
        assert_eq!(h.summary, "Restart one unit");
        assert_eq!(h.description, "Follows the policy. Second line.");
        assert!(h.mutates);
        assert_eq!(h.params.len(), 5);
        assert_eq!(
            h.param("symptom").unwrap().choices_from.as_deref(),
            Some("site.symptoms")
        );
        assert!(h.param("symptom").unwrap().pattern.is_some());
        let unit = h.param("unit").unwrap();
        assert!(unit.required);
        assert_eq!(unit.help, "the unit");
        assert!(unit.pattern.as_ref().unwrap().is_match("caddy-x.service"));
        assert!(!unit
            .pattern
            .as_ref()
            .unwrap()
            .is_match("x.service; rm -rf /"));
        assert_eq!(
            h.param("reason").unwrap().default.as_deref(),
            Some("no reason, given")
        );
        assert_eq!(h.param("count").unwrap().kind, ParamKind::Int);
        assert!(h.param("token").unwrap().secret);
        assert_eq!(h.locks, vec!["unit:caddy.service", "backups:db"]);
        assert_eq!(h.change.downtime.as_deref(), Some("none"));
        assert!(h.change.missing().is_empty());
        let e = parse("//! name: x\n//! summary: y\n//! mutates: true\n//! locks: caddy\n")
            .unwrap_err();
        assert!(e.message.contains("KIND:NAME"), "{e}");
        let h =
            parse("//! name: x\n//! summary: y\n//! mutates: true\n//! downtime: none\n").unwrap();
        assert_eq!(h.change.missing(), vec!["time to apply", "rollback"]);
    }

    #[test]
    fn lists_steps_with_docs_and_lines() {
        let s = steps(SRC);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].name, "Look up");
        assert_eq!(s[0].doc, "Look the unit up");
        assert_eq!(s[0].line, 17);
        assert_eq!(s[1].doc, "");
    }

    #[test]
    fn rejects_bad_headers_with_line_numbers() {
        let e = parse("//! name: x\n//! summary: y\n//! mutates: maybe\n").unwrap_err();
        assert_eq!(e.line, 3);
        let e = parse("//! name: x\n//! summary: y\n//! mutates: false\n//! param a: float\n")
            .unwrap_err();
        assert!(e.message.contains("unknown type `float`"), "{e}");
        let e = parse("//! name: x\n//! summary: y\n").unwrap_err();
        assert!(e.message.contains("mutates"));
        let e = parse(
            "//! name: x\n//! summary: y\n//! mutates: false\n//! param n: int, default abc\n",
        )
        .unwrap_err();
        assert!(e.message.contains("expects an integer"), "{e}");
    }

    #[test]
    fn choices_come_from_the_site_section() {
        let h = parse(SRC).unwrap();
        let site =
            serde_json::json!({"symptoms": [{"id": "disk-filling", "symptom": "Disk filling up"}]});
        let c = choices(h.param("symptom").unwrap(), &site).unwrap();
        assert_eq!(
            c,
            vec![("disk-filling".to_string(), "Disk filling up".to_string())]
        );
        assert!(choices(h.param("unit").unwrap(), &site).is_none());
    }

    #[test]
    fn checks_values() {
        let h = parse(SRC).unwrap();
        assert!(check_value(h.param("count").unwrap(), "x").is_err());
        assert!(check_value(h.param("count").unwrap(), "-4").is_ok());
        let e = check_value(h.param("unit").unwrap(), "nope").unwrap_err();
        assert!(e.contains("must match"), "{e}");
    }
}
