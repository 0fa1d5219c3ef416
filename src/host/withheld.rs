//! Secrets that reach children, never runbooks.
//!
//! A `cmd::run` or `docker::exec` call may name keys of a site secret file (`withheld_env:
//! ["POSTGRES_PASSWORD"]`) when the site rule it fits maps them to child variables
//! (`withheld_env: {file: /opt/aurora-infra/.env, keys: {POSTGRES_PASSWORD: PGPASSWORD}}`).
//! The backend reads the values here, just before the child starts, and passes them only in the
//! child's environment: never on an argv, never back to the runbook. What the record and the
//! runbook get instead is [`notes`]: `POSTGRES_PASSWORD from /opt/aurora-infra/.env (withheld)`.
//! Whatever the child prints passes [`Withheld::scrub`] first, so a program that echoes its
//! password does not hand it back either. A dry run or a plan never reads the file.
//!
//! Tested here (parsing, errors that name the key and never a value, scrubbing) and in
//! `tests/twin_withheld.rs` (a real psql over TCP that needs the password, with the audit
//! database, replay, export and terminal searched for the value).

use super::HostError;
use crate::audit::redact::REDACTED;
use crate::site::WithheldEnv;

/// The values read for one call: the child's variables, and what to scrub from its output.
pub struct Withheld {
    vars: Vec<(String, String)>,
}

/// What the record says about each withheld key, e.g.
/// `POSTGRES_PASSWORD from /opt/aurora-infra/.env (withheld)`.
pub fn notes(rule: Option<&WithheldEnv>, keys: &[String]) -> Vec<String> {
    let file = rule.map_or("?", |w| w.file.as_str());
    keys.iter()
        .map(|k| format!("{k} from {file} (withheld)"))
        .collect()
}

/// The value of `key` in the `KEY=VALUE` text of a secret file (`export` and one level of
/// quotes allowed); the last assignment wins, as in a shell.
fn value_of(text: &str, key: &str) -> Option<String> {
    text.lines()
        .rev()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            let l = l.strip_prefix("export ").unwrap_or(l);
            let (k, v) = l.split_once('=')?;
            (k.trim() == key).then(|| unquote(v.trim()).to_string())
        })
}

fn unquote(v: &str) -> &str {
    for q in ['"', '\''] {
        if let Some(inner) = v.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            return inner;
        }
    }
    v
}

/// Read the values of `keys` (already checked against `rule` by the allowlist) from the
/// rule's secret file. Errors name the file and the key, never a value.
pub fn load(rule: Option<&WithheldEnv>, keys: &[String]) -> Result<Withheld, HostError> {
    let Some(w) = rule.filter(|_| !keys.is_empty()) else {
        return Ok(Withheld { vars: Vec::new() });
    };
    let text = std::fs::read_to_string(&w.file).map_err(|e| {
        HostError::Failed(format!(
            "cannot read the secret file {} for a withheld value: {e}",
            w.file
        ))
    })?;
    let mut vars = Vec::new();
    for key in keys {
        let var = w.keys.get(key).ok_or_else(|| {
            HostError::Refused(format!("{key} is not a withheld key of {}", w.file))
        })?;
        let value = value_of(&text, key)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                HostError::Failed(format!("the secret file {} has no value for {key}", w.file))
            })?;
        vars.push((var.clone(), value));
    }
    Ok(Withheld { vars })
}

impl Withheld {
    /// The child's variables and their values.
    pub fn vars(&self) -> &[(String, String)] {
        &self.vars
    }

    /// `text` with every withheld value replaced by `[REDACTED]`.
    pub fn scrub(&self, text: String) -> String {
        self.vars
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .fold(text, |t, (_, v)| {
                if t.contains(v.as_str()) {
                    t.replace(v.as_str(), REDACTED)
                } else {
                    t
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(file: &std::path::Path) -> WithheldEnv {
        WithheldEnv {
            file: file.display().to_string(),
            keys: [("POSTGRES_PASSWORD".to_string(), "PGPASSWORD".to_string())].into(),
        }
    }

    #[test]
    fn values_are_read_for_the_child_and_scrubbed_from_its_output() {
        let dir = tempfile::tempdir().unwrap();
        let env = dir.path().join(".env");
        std::fs::write(
            &env,
            "# aurora\nPOSTGRES_USER=postgres\nexport POSTGRES_PASSWORD=\"s3cr3t-Value\"\n",
        )
        .unwrap();
        let r = rule(&env);
        let keys = vec!["POSTGRES_PASSWORD".to_string()];
        let w = load(Some(&r), &keys).unwrap();
        assert_eq!(
            w.vars(),
            &[("PGPASSWORD".to_string(), "s3cr3t-Value".to_string())]
        );
        assert_eq!(
            w.scrub("password s3cr3t-Value rejected".into()),
            "password [REDACTED] rejected"
        );
        assert_eq!(
            notes(Some(&r), &keys),
            vec![format!(
                "POSTGRES_PASSWORD from {} (withheld)",
                env.display()
            )]
        );
    }

    #[test]
    fn a_missing_file_or_key_names_them_and_no_value() {
        let dir = tempfile::tempdir().unwrap();
        let env = dir.path().join(".env");
        let keys = vec!["POSTGRES_PASSWORD".to_string()];
        let err = load(Some(&rule(&env)), &keys).err().unwrap().to_string();
        assert!(err.contains("cannot read the secret file"), "{err}");
        std::fs::write(&env, "POSTGRES_USER=hunter22\nPOSTGRES_PASSWORD=\n").unwrap();
        let err = load(Some(&rule(&env)), &keys).err().unwrap().to_string();
        assert!(err.contains("has no value for POSTGRES_PASSWORD"), "{err}");
        assert!(!err.contains("hunter22"), "{err}");
        let other = vec!["POSTGRES_USER".to_string()];
        let err = load(Some(&rule(&env)), &other).err().unwrap();
        assert!(matches!(err, HostError::Refused(_)), "{err:?}");
        // Nothing named, nothing read (the file need not exist).
        assert!(load(None, &[]).unwrap().vars().is_empty());
    }
}
