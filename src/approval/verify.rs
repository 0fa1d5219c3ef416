//! Who signed a plan: an SSHSIG (`ssh-keygen -Y sign`) checked against the operators' own
//! `authorized_keys`.
//!
//! The signature carries its public key; that key is looked up in the `authorized_keys` of
//! each operator the site lists (the file in their home, from /etc/passwd, or the site's
//! `authorized_keys` path for the operator). The principal is the account whose file holds
//! the key: a key's comment is never read, so a key whose comment says "miguel" is nobody's
//! unless it is in an account's file. A key found in two accounts' files names no one. The
//! namespace must be `runbook-plan@HOST` exactly, so a signature made for git (`-n git`) or
//! for another host does not count. Verification is the `ssh-key` crate's (ed25519 and RSA,
//! rsa-sha2-256/512); tests/approvals.rs checks that it agrees with `ssh-keygen -Y verify`.

use ssh_key::{AuthorizedKeys, HashAlg, SshSig};

use crate::site::Site;

/// A signature that verified, and whose key is in exactly one operator's authorized_keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    pub principal: String,
    /// `SHA256:...`, as `ssh-keygen -l` prints it.
    pub fingerprint: String,
    pub key_type: String,
}

/// A signature that does not count, with what it says about itself (for the record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The namespace, fingerprint and algorithm the signature names; None when it is not
    /// an SSH signature at all.
    pub key: Option<KeyInfo>,
    /// The account whose authorized_keys holds the key, when exactly one does.
    pub principal: Option<String>,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    pub namespace: String,
    pub fingerprint: String,
    pub algorithm: String,
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

impl From<Rejection> for String {
    fn from(r: Rejection) -> String {
        r.reason
    }
}

/// Where an operator's authorized_keys is: the site's path for them, else their home's.
fn authorized_keys_path(site: &Site, login: &str) -> Option<std::path::PathBuf> {
    let op = site.operators.get(login)?;
    if let Some(path) = &op.authorized_keys {
        return Some(path.into());
    }
    let passwd = crate::host::users::passwd().ok()?;
    let user = passwd.iter().find(|u| u.name == login)?;
    Some(std::path::Path::new(&user.home).join(".ssh/authorized_keys"))
}

/// Verify `pem` over `message` under `namespace`, and name its signer.
pub fn verify(
    pem: &str,
    message: &[u8],
    namespace: &str,
    site: &Site,
) -> Result<Signer, Rejection> {
    let sig = SshSig::from_pem(pem.trim()).map_err(|e| Rejection {
        key: None,
        principal: None,
        reason: format!("not an SSH signature (ssh-keygen -Y sign writes one): {e}"),
    })?;
    let fingerprint = sig.public_key().fingerprint(HashAlg::Sha256).to_string();
    let info = KeyInfo {
        namespace: sig.namespace().to_string(),
        fingerprint: fingerprint.clone(),
        algorithm: sig.public_key().algorithm().to_string(),
    };
    let reject = |principal: Option<&str>, reason: String| Rejection {
        key: Some(info.clone()),
        principal: principal.map(str::to_string),
        reason,
    };
    if sig.namespace() != namespace {
        return Err(reject(None, format!(
            "the signature is for namespace `{}`, not `{namespace}`: sign with ssh-keygen -Y sign -n {namespace}",
            sig.namespace()
        )));
    }
    let mut owners = Vec::new();
    for (login, op) in &site.operators {
        if op.role != crate::site::Role::Operator {
            continue;
        }
        let Some(path) = authorized_keys_path(site, login) else {
            continue;
        };
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let holds = AuthorizedKeys::new(&text)
            .filter_map(Result::ok)
            .any(|entry| entry.public_key().key_data() == sig.public_key());
        if holds {
            owners.push(login.clone());
        }
    }
    let principal = match owners.as_slice() {
        [one] => one.clone(),
        [] => {
            return Err(reject(None, format!(
                "key {fingerprint} is in no operator's authorized_keys (site operators: {}), so it approves nothing",
                site.operators.keys().cloned().collect::<Vec<_>>().join(", ")
            )))
        }
        many => {
            return Err(reject(None, format!(
                "key {fingerprint} is in the authorized_keys of {}: a shared key names no one",
                many.join(" and ")
            )))
        }
    };
    let key = ssh_key::PublicKey::from(sig.public_key().clone());
    key.verify(namespace, message, &sig).map_err(|e| {
        reject(Some(&principal), format!("the signature by {principal}'s key {fingerprint} does not verify over this plan's challenge: {e}"))
    })?;
    Ok(Signer {
        principal,
        fingerprint,
        key_type: info.algorithm,
    })
}
