//! Who is running, and whether the process that started a run is still alive.
//!
//! A run's `run-start` payload records the pid, the process start time (clock ticks since boot,
//! field 22 of `/proc/PID/stat`), the boot id and the pid namespace. A run without an end event
//! is *interrupted* when that exact process is gone: its pid no longer exists, is a zombie, or now
//! belongs to a process that started at another time, or the machine has rebooted since. A run
//! recorded from another pid namespace (a container sharing the database file) cannot be judged
//! from here and is left alone.

use serde_json::{json, Value};

/// The identity of one process, enough to tell it apart from a later process with the same pid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessIdentity {
    pub pid: u32,
    /// Start time in clock ticks since boot (`/proc/PID/stat` field 22).
    pub start_ticks: Option<u64>,
    /// `/proc/sys/kernel/random/boot_id`.
    pub boot_id: Option<String>,
    /// The target of `/proc/self/ns/pid`, e.g. `pid:[4026531836]`.
    pub pid_ns: Option<String>,
}

impl ProcessIdentity {
    /// The identity of this process.
    pub fn current() -> ProcessIdentity {
        let pid = std::process::id();
        ProcessIdentity {
            pid,
            start_ticks: start_ticks(pid),
            boot_id: boot_id(),
            pid_ns: std::fs::read_link("/proc/self/ns/pid")
                .ok()
                .map(|p| p.to_string_lossy().into_owned()),
        }
    }

    /// The fields stored in a `run-start` payload.
    pub fn to_json(&self) -> Value {
        json!({
            "pid": self.pid,
            "proc_start": self.start_ticks,
            "boot_id": self.boot_id,
            "pid_ns": self.pid_ns,
        })
    }

    /// Read the fields back from a `run-start` payload. `None` if there is no pid.
    pub fn from_json(v: &Value) -> Option<ProcessIdentity> {
        Some(ProcessIdentity {
            pid: u32::try_from(v.get("pid")?.as_u64()?).ok()?,
            start_ticks: v.get("proc_start").and_then(Value::as_u64),
            boot_id: v.get("boot_id").and_then(Value::as_str).map(str::to_string),
            pid_ns: v.get("pid_ns").and_then(Value::as_str).map(str::to_string),
        })
    }
}

/// Whether a recorded process still runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    Alive,
    Gone,
    /// Recorded in another pid namespace on this boot: cannot tell from here.
    Unknown,
}

/// Is the process `recorded` still running? `me` is the identity of the caller.
pub fn liveness(recorded: &ProcessIdentity, me: &ProcessIdentity) -> Liveness {
    if let (Some(then), Some(now)) = (&recorded.boot_id, &me.boot_id) {
        if then != now {
            return Liveness::Gone;
        }
    }
    if let (Some(then), Some(now)) = (&recorded.pid_ns, &me.pid_ns) {
        if then != now {
            return Liveness::Unknown;
        }
    }
    if recorded.pid == me.pid {
        return if recorded.start_ticks == me.start_ticks {
            Liveness::Alive
        } else {
            Liveness::Gone
        };
    }
    match std::fs::read_to_string(format!("/proc/{}/stat", recorded.pid)) {
        Ok(stat) => match parse_stat(&stat) {
            Some((state, _)) if state == 'Z' || state == 'X' => Liveness::Gone,
            Some((_, start)) => match recorded.start_ticks {
                Some(then) if then != start => Liveness::Gone,
                _ => Liveness::Alive,
            },
            None => Liveness::Alive,
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Liveness::Gone,
        Err(_) => {
            // No procfs: ask the kernel whether the pid exists at all.
            // SAFETY: signal 0 performs only the existence and permission check.
            let r = unsafe { libc::kill(recorded.pid as libc::pid_t, 0) };
            if r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM) {
                Liveness::Alive
            } else {
                Liveness::Gone
            }
        }
    }
}

/// (state, start time in ticks) from the text of `/proc/PID/stat`.
fn parse_stat(stat: &str) -> Option<(char, u64)> {
    // The command name (field 2) is in parentheses and may contain spaces and parentheses.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    // `state` is field 3; start time is field 22.
    let start = fields.nth(22 - 4)?.parse().ok()?;
    Some((state, start))
}

fn start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&stat).map(|(_, start)| start)
}

fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|s| s.trim().to_string())
}

/// This machine's host name.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes a NUL-terminated name of at most buf.len() bytes.
    let r = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if r != 0 {
        return "localhost".to_string();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// One field of a user id's password database entry, read with `getpwuid_r`.
fn passwd_field(uid: u32, field: fn(&libc::passwd) -> *const libc::c_char) -> Option<String> {
    // SAFETY: an all-zero passwd is a valid value for getpwuid_r to overwrite.
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0u8; 4096];
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: getpwuid_r fills pwd with pointers into buf, which outlives their use here.
    let r = unsafe {
        libc::getpwuid_r(
            uid,
            &mut pwd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut result,
        )
    };
    let ptr = field(&pwd);
    if r != 0 || result.is_null() || ptr.is_null() {
        return None;
    }
    // SAFETY: the field is a NUL-terminated string inside buf.
    let text = unsafe { std::ffi::CStr::from_ptr(ptr) };
    Some(text.to_string_lossy().into_owned())
}

/// The name of a user id from the password database.
pub fn user_name(uid: u32) -> Option<String> {
    passwd_field(uid, |p| p.pw_name)
}

/// The home directory of a user id from the password database.
pub fn user_home(uid: u32) -> Option<String> {
    passwd_field(uid, |p| p.pw_dir)
}

/// The short operator name shown by `runbook log`: `login`, else `user`, else `?`.
pub fn operator_name(operator: &Value) -> String {
    operator
        .get("login")
        .or_else(|| operator.get("user"))
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_odd_command_names() {
        let stat =
            "1234 (a (b) c) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1 2";
        assert_eq!(parse_stat(stat), Some(('S', 987654)));
    }

    #[test]
    fn this_process_is_alive_and_a_dead_one_is_not() {
        let me = ProcessIdentity::current();
        assert!(me.start_ticks.is_some());
        assert_eq!(liveness(&me, &me), Liveness::Alive);

        let reused = ProcessIdentity {
            start_ticks: me.start_ticks.map(|t| t + 1),
            ..me.clone()
        };
        assert_eq!(liveness(&reused, &me), Liveness::Gone);

        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        let gone = ProcessIdentity {
            pid,
            start_ticks: Some(1),
            ..me.clone()
        };
        assert_eq!(liveness(&gone, &me), Liveness::Gone);

        let rebooted = ProcessIdentity {
            boot_id: Some("another-boot".into()),
            ..me.clone()
        };
        assert_eq!(liveness(&rebooted, &me), Liveness::Gone);

        let other_ns = ProcessIdentity {
            pid: 1,
            pid_ns: Some("pid:[1]".into()),
            ..me.clone()
        };
        assert_eq!(liveness(&other_ns, &me), Liveness::Unknown);

        assert_eq!(ProcessIdentity::from_json(&me.to_json()), Some(me));
    }

    #[test]
    fn operator_name_prefers_the_login() {
        assert_eq!(
            operator_name(&json!({"login": "miguel", "user": "root"})),
            "miguel"
        );
        assert_eq!(operator_name(&json!({"user": "root"})), "root");
        assert_eq!(operator_name(&json!({})), "?");
    }

    #[test]
    fn users_are_looked_up_by_uid() {
        assert_eq!(user_name(0).as_deref(), Some("root"));
        assert!(user_home(0).is_some());
        assert_eq!(user_name(u32::MAX - 1), None);
    }
}
