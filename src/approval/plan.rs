//! A plan: what a dry run of one runbook with given parameters would do, bound by a hash.
//!
//! The plan file is JSON. `plan_hash` is the SHA-256 (hex) of the plan's *canonical
//! encoding*: every field except `plan_hash` and `approvals`, as JSON with the keys of every
//! object sorted by their UTF-8 bytes, no whitespace, strings escaped as serde_json writes
//! them (`"` `\` and control characters only; everything else as UTF-8), integers in decimal.
//! An auditor can recompute it with `jq -cS 'del(.plan_hash, .approvals)' PLAN | tr -d '\n' |
//! sha256sum` (jq's `-S` sorts keys the same way for the ASCII keys plans use).
//!
//! The approver signs the *challenge*, one line naming the host, the runbook, the expiry and
//! the hash (see [`Plan::challenge`]); the signature is kept in `approvals`, outside the hash,
//! and is checked again whenever the plan is used.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::engine::header::ChangeTable;

/// The plan format this version writes and reads.
pub const FORMAT: u32 = 1;

/// One mutating call the dry run planned, in order: what `run --plan` must plan again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Effect {
    pub function: String,
    pub args: Value,
    /// What the host function said it would do (a diff, the unit's current state, ...).
    pub plan: Value,
}

/// A read the plan depended on (the unit's state, the dump chosen), with its result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fact {
    pub function: String,
    pub args: Value,
    pub result: Value,
}

/// Who asked for the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requester {
    pub login: String,
    /// How the login was determined (`loginuid`, `sudo`, `euid`).
    pub source: String,
    pub uid: Option<u32>,
}

/// A signature handed in with `runbook approve`, and who it was found to be by then. Outside
/// the hash; every use verifies the signature again and ignores `principal` as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    /// The SSHSIG, PEM-armored, as `ssh-keygen -Y sign` wrote it.
    pub signature: String,
    pub principal: String,
    pub fingerprint: String,
    pub added: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub format: u32,
    pub runbook: String,
    pub source_sha256: String,
    /// Validated parameters, as the run records them.
    pub params: Map<String, Value>,
    /// SHA-256 of the site config's canonical encoding (see [`site_hash`]).
    pub site_sha256: String,
    /// Where the site config came from (for people; the hash is what counts).
    pub site_origin: String,
    pub effects: Vec<Effect>,
    pub facts: Vec<Fact>,
    pub change: ChangeTable,
    pub requester: Requester,
    /// The machine the plan is for: the signature namespace is `runbook-plan@HOST`.
    pub host: String,
    /// The dry run that made the plan.
    pub run_id: String,
    pub created: String,
    pub expires: String,
    pub nonce: String,
    #[serde(default)]
    pub plan_hash: String,
    #[serde(default)]
    pub approvals: Vec<Approval>,
}

/// Sort every object's keys, recursively (serde_json here keeps insertion order).
pub fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), canonical(&map[k])))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// SHA-256 (hex) of a value's canonical encoding.
pub fn hash_of(value: &Value) -> String {
    hex::encode(Sha256::digest(canonical(value).to_string().as_bytes()))
}

/// The site config's hash: its parsed content (not its comments or layout), without where
/// it was loaded from.
pub fn site_hash(site: &crate::site::Site) -> String {
    let mut value = serde_json::to_value(site).expect("a site serializes");
    if let Value::Object(map) = &mut value {
        map.remove("origin");
    }
    hash_of(&value)
}

impl Plan {
    /// The hash of everything but `plan_hash` and `approvals`.
    pub fn compute_hash(&self) -> String {
        let mut value = serde_json::to_value(self).expect("a plan serializes");
        if let Value::Object(map) = &mut value {
            map.remove("plan_hash");
            map.remove("approvals");
        }
        hash_of(&value)
    }

    /// Set `plan_hash` (once every other field is final).
    pub fn seal(mut self) -> Plan {
        self.plan_hash = self.compute_hash();
        self
    }

    /// The signature namespace: approvals for one host never count on another.
    pub fn namespace(&self) -> String {
        format!("runbook-plan@{}", self.host)
    }

    /// The one line an approver signs (without its newline; the file signed holds it with
    /// one `\n`, as `echo` writes it).
    pub fn challenge(&self) -> String {
        format!(
            "runbook-plan v{} host={} runbook={} expires={} plan_hash={}",
            self.format, self.host, self.runbook, self.expires, self.plan_hash
        )
    }

    /// The bytes signed: the challenge and a newline.
    pub fn challenge_bytes(&self) -> Vec<u8> {
        format!("{}\n", self.challenge()).into_bytes()
    }

    /// Read a plan file, refusing one whose content no longer matches its hash.
    pub fn load(path: &std::path::Path) -> Result<Plan, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read plan {}: {e}", path.display()))?;
        let plan: Plan = serde_json::from_str(&text).map_err(|e| {
            format!(
                "{} is not a plan runbook can read ({e}); make one with runbook plan",
                path.display()
            )
        })?;
        if plan.format != FORMAT {
            return Err(format!(
                "{} is a plan of format {}, this runbook reads format {FORMAT}",
                path.display(),
                plan.format
            ));
        }
        let actual = plan.compute_hash();
        if actual != plan.plan_hash {
            return Err(format!(
                "{} was changed after it was made: its content hashes to {actual}, not its plan_hash {}; make a new plan",
                path.display(),
                plan.plan_hash
            ));
        }
        Ok(plan)
    }

    /// Write the plan (and its approvals) to `path`, replacing it whole.
    pub fn save(&self, path: &std::path::Path) -> Result<(), String> {
        let text = serde_json::to_string_pretty(self).expect("a plan serializes") + "\n";
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, text)
            .and_then(|_| std::fs::rename(&tmp, path))
            .map_err(|e| format!("cannot write plan {}: {e}", path.display()))
    }
}

/// 16 random bytes, hex: what makes each plan (and so each approval) single use.
pub fn nonce() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .expect("/dev/urandom is readable");
    hex::encode(bytes)
}

/// Where each used plan's nonce is kept (beside the audit database): a plan runs once.
pub fn used_dir(audit_db: &std::path::Path) -> std::path::PathBuf {
    audit_db
        .parent()
        .unwrap_or(std::path::Path::new("."))
        .join("used-plans")
}

/// Whether the plan's nonce was used already (checked before the fresh dry run, so a used
/// plan is refused as used rather than as drifted; [`consume_nonce`] is what guarantees it).
pub fn nonce_used_message(plan: &Plan) -> String {
    already_used(plan)
}

pub fn nonce_used(audit_db: &std::path::Path, plan: &Plan) -> bool {
    !plan.nonce.is_empty()
        && plan.nonce.bytes().all(|b| b.is_ascii_hexdigit())
        && used_dir(audit_db).join(&plan.nonce).exists()
}

fn already_used(plan: &Plan) -> String {
    format!(
        "plan {} (nonce {}) was already used: each plan, and so each approval, runs once; make a new plan",
        plan.plan_hash, plan.nonce
    )
}

/// Mark the plan's nonce used; refuses a nonce already used. Atomic (`O_EXCL`), so two runs
/// of one plan cannot both pass.
pub fn consume_nonce(audit_db: &std::path::Path, plan: &Plan) -> Result<(), String> {
    let dir = used_dir(audit_db);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let path = dir.join(&plan.nonce);
    if !plan.nonce.bytes().all(|b| b.is_ascii_hexdigit()) || plan.nonce.is_empty() {
        return Err(format!("plan nonce `{}` is not hex", plan.nonce));
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
    {
        Ok(mut f) => {
            use std::io::Write;
            let _ = writeln!(f, "{} {}", plan.plan_hash, plan.runbook);
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(already_used(plan)),
        Err(e) => Err(format!(
            "cannot record the plan's use in {}: {e}",
            path.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_encoding_sorts_keys_at_every_depth() {
        let v = json!({"b": 1, "a": {"d": [{"z": 1, "y": 2}], "c": "é\n"}});
        assert_eq!(
            canonical(&v).to_string(),
            r#"{"a":{"c":"é\n","d":[{"y":2,"z":1}]},"b":1}"#
        );
        assert_eq!(
            hash_of(&v),
            hash_of(&json!({"a": {"c": "é\n", "d": [{"y": 2, "z": 1}]}, "b": 1}))
        );
    }
}
