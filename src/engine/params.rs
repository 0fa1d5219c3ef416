//! Parameter validation against the runbook header, before anything runs.

use rhai::{Dynamic, Map};
use serde_json::Value;

use super::header::{check_value, choices, Header, ParamKind};
use crate::error::{Error, Result};

/// Validated parameters: what the script sees, what the audit trail records (secret values
/// replaced), and the secret values to redact everywhere.
#[derive(Debug)]
pub struct Validated {
    pub script: Map,
    pub recorded: serde_json::Map<String, Value>,
    pub secrets: Vec<String>,
}

/// Parse `KEY=VALUE` as given on the command line.
pub fn split_kv(raw: &str) -> std::result::Result<(String, String), String> {
    match raw.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("expected KEY=VALUE, got `{raw}`")),
    }
}

/// Check the given values against the header (and, for `one of site.X`, the site config).
pub fn validate(header: &Header, given: &[(String, String)], site: &Value) -> Result<Validated> {
    let usage = |m: String| Error::Usage(format!("runbook `{}`: {m}", header.name));
    for (i, (k, _)) in given.iter().enumerate() {
        if header.param(k).is_none() {
            let known: Vec<&str> = header.params.iter().map(|p| p.name.as_str()).collect();
            return Err(usage(if known.is_empty() {
                format!("unknown parameter `{k}`: this runbook takes no parameters")
            } else {
                let hint = nearest(k, &known)
                    .map(|n| format!("did you mean `{n}`? "))
                    .unwrap_or_default();
                format!(
                    "unknown parameter `{k}` ({hint}known: {})",
                    known.join(", ")
                )
            }));
        }
        if given[..i].iter().any(|(seen, _)| seen == k) {
            return Err(usage(format!("parameter `{k}` given twice")));
        }
    }
    let mut out = Validated {
        script: Map::new(),
        recorded: serde_json::Map::new(),
        secrets: Vec::new(),
    };
    for spec in &header.params {
        let raw = given
            .iter()
            .find(|(k, _)| k == &spec.name)
            .map(|(_, v)| v.clone())
            .or_else(|| spec.default.clone());
        let Some(raw) = raw else {
            if let (true, Some(allowed)) = (spec.required, choices(spec, site)) {
                return Err(usage(format!(
                    "missing required parameter `{}`: pass -p {}=ID, one of (from the site config):\n{}",
                    spec.name,
                    spec.name,
                    list_choices(&allowed)
                )));
            }
            if spec.required {
                return Err(usage(format!(
                    "missing required parameter `{}` ({}{}): pass -p {}=VALUE",
                    spec.name,
                    spec.kind.name(),
                    if spec.help.is_empty() {
                        String::new()
                    } else {
                        format!(", {}", spec.help)
                    },
                    spec.name
                )));
            }
            out.script.insert(spec.name.as_str().into(), Dynamic::UNIT);
            out.recorded.insert(spec.name.clone(), Value::Null);
            continue;
        };
        check_value(spec, &raw).map_err(usage)?;
        if let Some(allowed) = choices(spec, site) {
            if !allowed.iter().any(|(id, _)| id == &raw) {
                let ids: Vec<&str> = allowed.iter().map(|(id, _)| id.as_str()).collect();
                let hint = nearest(&raw, &ids)
                    .map(|n| format!("; did you mean `{n}`?"))
                    .unwrap_or_default();
                return Err(usage(format!(
                    "parameter `{}` must be one of {} (from the site config), got `{raw}`{hint}\n{}",
                    spec.name,
                    ids.join(", "),
                    list_choices(&allowed)
                )));
            }
        }
        let (dynamic, json) = match spec.kind {
            ParamKind::String => (Dynamic::from(raw.clone()), Value::String(raw.clone())),
            ParamKind::Int => {
                let n: i64 = raw.parse().expect("checked above");
                (Dynamic::from(n), Value::from(n))
            }
            ParamKind::Bool => {
                let b = raw == "true";
                (Dynamic::from(b), Value::Bool(b))
            }
            ParamKind::Time => (Dynamic::from(raw.clone()), Value::String(raw.clone())),
            ParamKind::Duration => {
                let secs = crate::time::parse_duration(&raw)
                    .expect("checked above")
                    .num_seconds();
                (Dynamic::from(secs), Value::String(raw.clone()))
            }
        };
        if spec.secret {
            out.secrets.push(raw.clone());
            out.recorded
                .insert(spec.name.clone(), Value::String("[REDACTED]".into()));
        } else {
            out.recorded.insert(spec.name.clone(), json);
        }
        out.script.insert(spec.name.as_str().into(), dynamic);
    }
    Ok(out)
}

/// The choices one per line, with their labels (a symptom's text), for an error message.
fn list_choices(allowed: &[(String, String)]) -> String {
    let width = allowed.iter().map(|(id, _)| id.len()).max().unwrap_or(0);
    allowed
        .iter()
        .map(|(id, label)| format!("  {id:<width$}  {label}").trim_end().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The choice a typo most likely meant: the closest by edit distance (strsim's
/// Damerau-Levenshtein, so a swapped pair of letters counts once), if it is close enough.
pub(crate) fn nearest<'a>(raw: &str, ids: &[&'a str]) -> Option<&'a str> {
    ids.iter()
        .map(|id| (strsim::damerau_levenshtein(raw, id), *id))
        .filter(|(d, id)| *d <= 3.max(id.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, id)| id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::header::parse;

    fn header() -> Header {
        parse(
            "//! name: t\n//! summary: s\n//! mutates: false\n\
             //! param unit: string, required, pattern [a-z]+\\.service\n\
             //! param n: int, default 5\n//! param token: string, secret\n",
        )
        .unwrap()
    }

    fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn applies_defaults_and_types() {
        let v = validate(&header(), &kv(&[("unit", "caddy.service")]), &Value::Null).unwrap();
        assert_eq!(v.script["n"].as_int().unwrap(), 5);
        assert!(v.script["token"].is_unit());
    }

    #[test]
    fn secrets_are_not_recorded() {
        let v = validate(
            &header(),
            &kv(&[("unit", "a.service"), ("token", "hunter22")]),
            &Value::Null,
        )
        .unwrap();
        assert_eq!(v.recorded["token"], "[REDACTED]");
        assert_eq!(v.secrets, vec!["hunter22".to_string()]);
    }

    #[test]
    fn every_kind_of_bad_input_is_a_usage_error_naming_the_parameter() {
        let cases: [(&[(&str, &str)], &str); 4] = [
            (
                &[("unit", "a.service"), ("n", "five")],
                "`n` expects an integer",
            ),
            (&[("unit", "A B")], "`unit` must match"),
            (
                &[("unit", "a.service"), ("bogus", "1")],
                "unknown parameter `bogus`",
            ),
            (&[], "missing required parameter `unit`"),
        ];
        for (given, needle) in cases {
            let err = validate(&header(), &kv(given), &Value::Null).unwrap_err();
            assert!(matches!(err, Error::Usage(_)));
            assert!(err.to_string().contains(needle), "{err} lacks {needle}");
        }
    }

    #[test]
    fn one_of_site_section_is_enforced() {
        let h = parse("//! name: t\n//! summary: s\n//! mutates: false\n//! param symptom: string, required, one of site.symptoms\n").unwrap();
        let site = serde_json::json!({"symptoms": [{"id": "disk-filling"}, {"id": "bg-hang"}]});
        assert!(validate(&h, &kv(&[("symptom", "bg-hang")]), &site).is_ok());
        let err = validate(&h, &kv(&[("symptom", "haunted")]), &site).unwrap_err();
        assert!(
            err.to_string()
                .contains("must be one of disk-filling, bg-hang"),
            "{err}"
        );
        assert!(!err.to_string().contains("did you mean"), "{err}");
        // A typo gets the nearest symptom; a missing one gets the list with each symptom's text.
        let site = serde_json::json!({"symptoms": [
            {"id": "disk-filling", "symptom": "Disk filling up"},
            {"id": "bg-hang", "symptom": "/bg commands hang"}]});
        let err = validate(&h, &kv(&[("symptom", "bg-hnag")]), &site).unwrap_err();
        assert!(err.to_string().contains("did you mean `bg-hang`?"), "{err}");
        let err = validate(&h, &kv(&[]), &site).unwrap_err().to_string();
        assert!(
            err.contains("missing required parameter `symptom`"),
            "{err}"
        );
        assert!(err.contains("disk-filling  Disk filling up"), "{err}");
        assert!(err.contains("bg-hang       /bg commands hang"), "{err}");
    }

    #[test]
    fn splits_key_value() {
        assert_eq!(split_kv("a=b=c").unwrap(), ("a".into(), "b=c".into()));
        assert!(split_kv("=x").is_err());
        assert!(split_kv("x").is_err());
    }
}
