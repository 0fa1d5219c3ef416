//! Who is running this: the human behind the session, not just the effective user.
//!
//! The kernel login uid (`/proc/self/loginuid`) survives `sudo` and `su`, so it names the
//! person who logged in; when it is unset (containers, cron) `SUDO_USER` is next, then the
//! effective user.

use serde::Serialize;

use crate::audit::process::{hostname, user_name};

#[derive(Debug, Clone, Serialize)]
pub struct Operator {
    /// The human, by name.
    pub login: String,
    /// How `login` was determined: `loginuid`, `sudo` or `euid`.
    pub source: &'static str,
    pub uid: Option<u32>,
    pub euid: u32,
    pub effective_user: String,
    pub hostname: String,
    pub tty: Option<String>,
}

impl Operator {
    pub fn detect() -> Operator {
        // SAFETY: geteuid has no preconditions and cannot fail.
        let euid = unsafe { libc::geteuid() };
        let effective_user = user_name(euid).unwrap_or_else(|| euid.to_string());
        let loginuid = std::fs::read_to_string("/proc/self/loginuid")
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
            .filter(|&u| u != u32::MAX);
        let sudo_user = std::env::var("SUDO_USER").ok().filter(|s| !s.is_empty());
        let (login, source, uid) = match (loginuid, sudo_user) {
            (Some(u), _) => (
                user_name(u).unwrap_or_else(|| u.to_string()),
                "loginuid",
                Some(u),
            ),
            (None, Some(s)) => (s, "sudo", None),
            (None, None) => (effective_user.clone(), "euid", Some(euid)),
        };
        Operator {
            login,
            source,
            uid,
            euid,
            effective_user,
            hostname: hostname(),
            tty: tty_name(),
        }
    }
}

/// The terminal on stdin, if any (`/dev/pts/3`).
fn tty_name() -> Option<String> {
    std::fs::read_link("/proc/self/fd/0")
        .ok()
        .map(|p| p.display().to_string())
        .filter(|p| p.starts_with("/dev/pts/") || p.starts_with("/dev/tty"))
}
