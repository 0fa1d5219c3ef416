//! Who is running this: the human behind the session, not just the effective user, from
//! evidence a caller cannot simply claim.
//!
//! In order:
//!
//! 1. The kernel login uid (`/proc/self/loginuid`). It is set at login and survives `sudo`
//!    and `su`, and changing it takes a capability an ordinary user does not have, so when it
//!    is set it names the person who logged in.
//! 2. `SUDO_USER` (and `SUDO_UID`), only when the process runs as root *and* a `sudo`
//!    process running as root is among its ancestors, and `SUDO_UID`, if set, is that
//!    user's uid and the real uid of that sudo process (the user who ran it). Anyone can set
//!    the variables: without root and a sudo parent they are ignored.
//! 3. The effective user.
//!
//! Whatever the outcome, the raw evidence (login uid, euid, the `SUDO_*` values seen, the
//! tty, the sudo parent's pid) is kept in the record, and why `SUDO_USER` was not believed.

use serde::{Deserialize, Serialize};

use crate::audit::process::{hostname, user_name};

/// How [`Operator::login`] was determined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The kernel login uid.
    Loginuid,
    /// `SUDO_USER`, believed because the process is root and was started by sudo.
    Sudo,
    /// The effective user: no better evidence.
    #[default]
    Euid,
    /// A record written by a version that used another name.
    #[serde(other)]
    Unknown,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Loginuid => "loginuid",
            Source::Sudo => "sudo",
            Source::Euid => "euid",
            Source::Unknown => "unknown",
        }
    }
}

/// What the identity was decided from, as seen by the process.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Evidence {
    /// `/proc/self/loginuid`, when set.
    pub loginuid: Option<u32>,
    pub euid: u32,
    /// `SUDO_USER` as found in the environment, believed or not.
    pub sudo_user: Option<String>,
    /// `SUDO_UID` as found in the environment, believed or not.
    pub sudo_uid: Option<String>,
    /// The nearest ancestor that is a sudo process running as root, if any.
    pub sudo_parent_pid: Option<u32>,
    /// That process's real uid: the user who ran sudo.
    pub sudo_parent_uid: Option<u32>,
    /// Why `SUDO_USER` was not believed, when it was set and not used.
    pub sudo_ignored: Option<String>,
}

/// The operator of a run, as recorded in its `run-start` event and its `runs` row.
///
/// Reading accepts records of earlier versions (`login_source` for `source`, `user` for
/// `effective_user`, no evidence): every field has a default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Operator {
    /// The human, by name.
    pub login: String,
    /// How `login` was determined.
    #[serde(alias = "login_source")]
    pub source: Source,
    /// The uid of `login`, when known.
    pub uid: Option<u32>,
    pub euid: u32,
    #[serde(alias = "user")]
    pub effective_user: String,
    pub hostname: String,
    pub tty: Option<String>,
    /// None in records of versions that did not keep it.
    pub evidence: Option<Evidence>,
}

impl Operator {
    /// The operator of this process.
    pub fn detect() -> Operator {
        // SAFETY: geteuid has no preconditions and cannot fail.
        let euid = unsafe { libc::geteuid() };
        let loginuid = std::fs::read_to_string("/proc/self/loginuid")
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
            .filter(|&u| u != u32::MAX);
        let evidence = Evidence {
            loginuid,
            euid,
            sudo_user: std::env::var("SUDO_USER").ok().filter(|s| !s.is_empty()),
            sudo_uid: std::env::var("SUDO_UID").ok().filter(|s| !s.is_empty()),
            sudo_parent_pid: None,
            sudo_parent_uid: None,
            sudo_ignored: None,
        };
        let mut evidence = evidence;
        if euid == 0 {
            if let Some((pid, uid)) = sudo_ancestor() {
                evidence.sudo_parent_pid = Some(pid);
                evidence.sudo_parent_uid = Some(uid);
            }
        }
        Operator::decide(evidence, user_name, hostname(), tty_name())
    }

    /// The identity `evidence` supports; `name_of` maps a uid to its user name.
    pub fn decide(
        mut evidence: Evidence,
        name_of: impl Fn(u32) -> Option<String>,
        hostname: String,
        tty: Option<String>,
    ) -> Operator {
        let euid = evidence.euid;
        let effective_user = name_of(euid).unwrap_or_else(|| euid.to_string());
        let sudo = evidence.sudo_user.clone().map(|user| {
            let uid = evidence.sudo_uid.as_deref().map(str::parse::<u32>);
            let ignored = if euid != 0 {
                Some(format!(
                    "the process runs as {effective_user} (uid {euid}), not root: \
                     sudo would have made it root"
                ))
            } else if evidence.sudo_parent_pid.is_none() {
                Some("no sudo process owned by root among the process's ancestors".into())
            } else {
                match (&uid, evidence.sudo_parent_uid) {
                    (Some(Err(_)), _) => Some("SUDO_UID is not a number".into()),
                    (Some(Ok(u)), _) if name_of(*u).as_deref() != Some(user.as_str()) => {
                        Some(format!("SUDO_UID {u} is not the uid of SUDO_USER {user}"))
                    }
                    (Some(Ok(u)), Some(caller)) if *u != caller => Some(format!(
                        "the sudo process was started by uid {caller}, not SUDO_UID {u}"
                    )),
                    (None, Some(caller)) if name_of(caller).as_deref() != Some(user.as_str()) => {
                        Some(format!(
                            "the sudo process was started by uid {caller}, not by SUDO_USER {user}"
                        ))
                    }
                    _ => None,
                }
            };
            (user, uid.and_then(Result::ok), ignored)
        });
        let (login, source, uid) = match (evidence.loginuid, sudo) {
            (Some(u), sudo) => {
                if let Some((_, _, why)) = sudo {
                    evidence.sudo_ignored =
                        Some(why.unwrap_or_else(|| {
                            "the login uid is set, and it names the human".into()
                        }));
                }
                (
                    name_of(u).unwrap_or_else(|| u.to_string()),
                    Source::Loginuid,
                    Some(u),
                )
            }
            (None, Some((user, uid, None))) => (user, Source::Sudo, uid),
            (None, other) => {
                if let Some((_, _, why)) = other {
                    evidence.sudo_ignored = why;
                }
                (effective_user.clone(), Source::Euid, Some(euid))
            }
        };
        Operator {
            login,
            source,
            uid,
            euid,
            effective_user,
            hostname,
            tty,
            evidence: Some(evidence),
        }
    }

    /// The operator recorded in a run, from any version's record (missing fields default).
    pub fn from_record(v: &serde_json::Value) -> Operator {
        Operator::deserialize(v).unwrap_or_default()
    }
}

/// The terminal on stdin, if any (`/dev/pts/3`).
fn tty_name() -> Option<String> {
    std::fs::read_link("/proc/self/fd/0")
        .ok()
        .map(|p| p.display().to_string())
        .filter(|p| p.starts_with("/dev/pts/") || p.starts_with("/dev/tty"))
}

/// The nearest ancestor process that is sudo running as root: named `sudo`, effective uid
/// 0, and (where this process may read it) its executable's file name `sudo`. A name alone
/// can be set by anyone, but only root can start a process whose effective uid is 0 except
/// through a setuid program; the executable link of such a process is often unreadable
/// (without CAP_SYS_PTRACE, as in containers), so it is checked only when it can be read.
/// Returns its pid and real uid (the user who ran sudo).
fn sudo_ancestor() -> Option<(u32, u32)> {
    let mut pid = std::os::unix::process::parent_id();
    for _ in 0..32 {
        if pid <= 1 {
            return None;
        }
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let named_sudo = status
            .lines()
            .find_map(|l| l.strip_prefix("Name:"))
            .is_some_and(|n| n.trim() == "sudo");
        let exe_is_sudo = match std::fs::read_link(format!("/proc/{pid}/exe")) {
            Ok(exe) => exe.file_name().is_some_and(|n| n == "sudo"),
            Err(_) => true,
        };
        if named_sudo && exe_is_sudo && status_field(&status, "Uid:", 1) == Some(0) {
            return Some((pid, status_field(&status, "Uid:", 0)?));
        }
        pid = status_field(&status, "PPid:", 0)?;
    }
    None
}

/// The `index`-th number on the line of `/proc/PID/status` that starts with `key`.
fn status_field(status: &str, key: &str, index: usize) -> Option<u32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))?
        .split_whitespace()
        .nth(index)?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(uid: u32) -> Option<String> {
        match uid {
            0 => Some("root".into()),
            1000 => Some("miguel".into()),
            65534 => Some("nobody".into()),
            _ => None,
        }
    }

    fn decide(evidence: Evidence) -> Operator {
        Operator::decide(evidence, names, "host".into(), None)
    }

    fn sudo_env(euid: u32, parent: Option<u32>) -> Evidence {
        Evidence {
            loginuid: None,
            euid,
            sudo_user: Some("miguel".into()),
            sudo_uid: Some("1000".into()),
            sudo_parent_pid: parent,
            sudo_parent_uid: parent.map(|_| 1000),
            sudo_ignored: None,
        }
    }

    #[test]
    fn sudo_user_without_root_is_not_believed() {
        let op = decide(sudo_env(65534, Some(42)));
        assert_eq!((op.login.as_str(), op.source), ("nobody", Source::Euid));
        assert_eq!(op.uid, Some(65534));
        let evidence = op.evidence.unwrap();
        assert!(evidence.sudo_ignored.unwrap().contains("not root"));
        assert_eq!(evidence.sudo_user.as_deref(), Some("miguel"));
    }

    #[test]
    fn sudo_user_as_root_without_a_sudo_parent_is_not_believed() {
        let op = decide(sudo_env(0, None));
        assert_eq!((op.login.as_str(), op.source), ("root", Source::Euid));
        let evidence = op.evidence.unwrap();
        assert!(evidence.sudo_ignored.unwrap().contains("no sudo process"));
    }

    #[test]
    fn sudo_user_as_root_under_sudo_is_believed() {
        let op = decide(sudo_env(0, Some(42)));
        assert_eq!((op.login.as_str(), op.source), ("miguel", Source::Sudo));
        assert_eq!(op.uid, Some(1000));
        assert_eq!(op.evidence.unwrap().sudo_ignored, None);
    }

    #[test]
    fn sudo_uid_must_match_sudo_user() {
        let mut e = sudo_env(0, Some(42));
        e.sudo_uid = Some("65534".into());
        let op = decide(e);
        assert_eq!(op.source, Source::Euid);
        assert!(op
            .evidence
            .unwrap()
            .sudo_ignored
            .unwrap()
            .contains("not the uid"));
    }

    #[test]
    fn sudo_uid_must_be_the_sudo_callers() {
        let mut e = sudo_env(0, Some(42));
        e.sudo_parent_uid = Some(65534);
        let op = decide(e);
        assert_eq!(op.source, Source::Euid);
        let why = op.evidence.unwrap().sudo_ignored.unwrap();
        assert!(why.contains("started by uid 65534"), "{why}");
    }

    #[test]
    fn login_uid_wins() {
        let mut e = sudo_env(0, Some(42));
        e.loginuid = Some(65534);
        let op = decide(e);
        assert_eq!((op.login.as_str(), op.source), ("nobody", Source::Loginuid));
    }

    #[test]
    fn old_records_read_back() {
        let old = serde_json::json!({"login": "alice", "login_source": "loginuid", "uid": 1000,
                                     "euid": 0, "user": "root", "tty": "/dev/pts/0"});
        let op = Operator::from_record(&old);
        assert_eq!(op.source, Source::Loginuid);
        assert_eq!(op.effective_user, "root");
        let odd = serde_json::json!({"login": "x", "source": "pam"});
        assert_eq!(Operator::from_record(&odd).source, Source::Unknown);
    }
}
