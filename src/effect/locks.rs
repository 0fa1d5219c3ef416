//! Locks between operators: one kernel advisory lock (flock) per resource a runbook declares.
//!
//! A runbook names what it changes in its header (`//! locks: unit:caddy.service,
//! postgres:aurora`). Before its first mutating call the door takes every lock, in sorted
//! order (so two runs needing the same two locks cannot deadlock), and holds them until the
//! process ends. Each lock is a file under the lock directory (`/run/runbook/locks`, or
//! `RUNBOOK_LOCK_DIR`); the holder writes who it is into its file once it holds the lock, so
//! a run that finds it taken can say who has it.
//!
//! The lock is the kernel's, not the file: it goes away with the process however the process
//! ends (SIGKILL included), so there are no stale locks to clean up. A file left behind by a
//! dead holder still names it, but is no longer locked, and the next holder overwrites it.
//!
//! A run that finds a lock taken fails at once, or retries until `--lock-wait` has passed;
//! either way the door records the wait as a `lock` event. Tested by `tests/locks.rs` (two
//! real processes, and SIGKILL of the holder).

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Where locks live when `RUNBOOK_LOCK_DIR` is not set (a tmpfs: emptied at boot).
pub const DEFAULT_DIR: &str = "/run/runbook/locks";

/// The lock directory: `RUNBOOK_LOCK_DIR`, else [`DEFAULT_DIR`].
pub fn dir() -> PathBuf {
    std::env::var_os("RUNBOOK_LOCK_DIR")
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from(DEFAULT_DIR), PathBuf::from)
}

/// Is `resource` a valid lock name: `KIND:NAME`, both non-empty, of letters, digits and
/// `@._-` (so it is one file name, never a path)?
pub fn valid_resource(resource: &str) -> bool {
    let ok = |s: &str| {
        !s.is_empty()
            && s.len() <= 200
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"@._-".contains(&b))
            && !s.starts_with('.')
    };
    matches!(resource.split_once(':'), Some((kind, name)) if ok(kind) && ok(name))
}

/// Is `template` a valid lock once each `{param}` in it is replaced by a value? Returns the
/// parameter names it uses.
pub fn template_params(template: &str) -> Option<Vec<String>> {
    let re = regex::Regex::new(r"\{([A-Za-z0-9_]+)\}").expect("static regex");
    let names = re
        .captures_iter(template)
        .map(|c| c[1].to_string())
        .collect();
    valid_resource(&re.replace_all(template, "x")).then_some(names)
}

/// A declared lock with its `{param}` placeholders replaced by the run's values. A unit's
/// name gets `.service` when it has no suffix, as systemd would read it, so `unit:caddy` and
/// `unit:caddy.service` are one lock.
pub fn resolve(
    template: &str,
    params: &serde_json::Map<String, serde_json::Value>,
) -> Result<String, String> {
    let re = regex::Regex::new(r"\{([A-Za-z0-9_]+)\}").expect("static regex");
    let mut bad = None;
    let text = re.replace_all(template, |c: &regex::Captures| match params.get(&c[1]) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => {
            bad = Some(format!(
                "lock {template} names parameter `{}`, which the run does not have",
                &c[1]
            ));
            String::new()
        }
    });
    if let Some(bad) = bad {
        return Err(bad);
    }
    let mut text = text.into_owned();
    if let Some(name) = text.strip_prefix("unit:") {
        if !name.contains('.') {
            text.push_str(".service");
        }
    }
    if !valid_resource(&text) {
        return Err(format!(
            "lock {template} becomes `{text}` with this run's parameters, which is not KIND:NAME of letters, digits and @._-"
        ));
    }
    Ok(text)
}

/// Who holds a lock, as the holder writes it into the lock file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Holder {
    pub operator: String,
    pub run_id: String,
    pub runbook: String,
    /// When the holder took the lock (RFC 3339, UTC).
    pub since: String,
    pub pid: u32,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} (run {}, runbook {}, since {}, pid {})",
            self.operator, self.run_id, self.runbook, self.since, self.pid
        )
    }
}

/// Why the locks could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds one of them (and kept it past the wait).
    #[error("{resource} is locked by {}", holder.as_ref().map_or("another run (it has not written its name yet)".to_string(), |h| h.to_string()))]
    Held {
        resource: String,
        /// Boxed: the error stays small on the success path.
        holder: Option<Box<Holder>>,
        waited: Duration,
    },
    #[error("lock {path}: {source}; set RUNBOOK_LOCK_DIR to a directory this user may write")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Locks held by this process; dropping it (or the process ending) releases them.
#[derive(Debug)]
pub struct Held {
    files: Vec<File>,
    pub resources: Vec<String>,
    pub waited: Duration,
}

/// Take a lock on every resource (sorted, each once), writing `holder` into each lock file.
/// Retries every 20 ms until `wait` has passed; a lock still held then is an error naming its
/// holder. Locks taken before a failure are released.
pub fn acquire(
    dir: &Path,
    resources: &[String],
    holder: &Holder,
    wait: Duration,
) -> Result<Held, LockError> {
    let mut sorted: Vec<String> = resources.to_vec();
    sorted.sort();
    sorted.dedup();
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| LockError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let started = Instant::now();
    let deadline = started + wait;
    let text = serde_json::to_string(holder).expect("a holder serializes");
    let mut files = Vec::new();
    for resource in &sorted {
        let path = dir.join(format!("{resource}.lock"));
        // Opened without truncating: the holder's name stays readable until we hold it.
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io(&path))?;
        loop {
            // SAFETY: flock(2) on a descriptor this function owns.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
            if rc == 0 {
                break;
            }
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EWOULDBLOCK) {
                return Err(io(&path)(err));
            }
            if Instant::now() >= deadline {
                return Err(LockError::Held {
                    resource: resource.clone(),
                    holder: read_holder(&mut file).map(Box::new),
                    waited: started.elapsed(),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        file.set_len(0).map_err(io(&path))?;
        file.rewind().map_err(io(&path))?;
        file.write_all(text.as_bytes()).map_err(io(&path))?;
        files.push(file);
    }
    Ok(Held {
        files,
        resources: sorted,
        waited: started.elapsed(),
    })
}

/// The holder named in a lock file. A holder writes its name just after taking the lock, so
/// an empty file is read again a few times before giving up.
fn read_holder(file: &mut File) -> Option<Holder> {
    for _ in 0..10 {
        let mut text = String::new();
        if file.rewind().is_ok() && file.read_to_string(&mut text).is_ok() {
            if let Ok(holder) = serde_json::from_str(&text) {
                return Some(holder);
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

impl Held {
    /// How many locks are held (for tests).
    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder(run: &str) -> Holder {
        Holder {
            operator: "miguel".into(),
            run_id: run.into(),
            runbook: "restart-unit".into(),
            since: "2026-12-02T05:00:00Z".into(),
            pid: std::process::id(),
        }
    }

    #[test]
    fn templates_take_the_run_parameters() {
        assert_eq!(
            template_params("unit:{unit}"),
            Some(vec!["unit".to_string()])
        );
        assert_eq!(template_params("unit:{unit}/x"), None);
        let params = serde_json::json!({"unit": "caddy", "set": "aurora", "bad": "../x"});
        let params = params.as_object().unwrap();
        assert_eq!(
            resolve("unit:{unit}", params).unwrap(),
            "unit:caddy.service"
        );
        assert_eq!(resolve("backups:{set}", params).unwrap(), "backups:aurora");
        assert!(resolve("files:{bad}", params)
            .unwrap_err()
            .contains("not KIND:NAME"));
        assert!(resolve("files:{nope}", params)
            .unwrap_err()
            .contains("`nope`"));
    }

    #[test]
    fn resource_names_are_one_file_name() {
        for ok in [
            "unit:caddy.service",
            "postgres:aurora",
            "backups:db",
            "unit:a@b.service",
        ] {
            assert!(valid_resource(ok), "{ok}");
        }
        for bad in [
            "caddy",
            "unit:",
            ":x",
            "unit:../x",
            "unit:a/b",
            "unit:.x",
            "a:b:c",
            "u nit:x",
        ] {
            assert!(!valid_resource(bad), "{bad}");
        }
    }

    /// flock locks belong to the open file description, so a second open in the same process
    /// conflicts like another process would.
    #[test]
    fn a_held_lock_is_refused_naming_its_holder_and_freed_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let res = vec!["unit:caddy.service".to_string(), "backups:db".to_string()];
        let first = acquire(dir.path(), &res, &holder("run-1"), Duration::ZERO).unwrap();
        assert_eq!(first.resources, vec!["backups:db", "unit:caddy.service"]);
        let err = acquire(
            dir.path(),
            &["unit:caddy.service".to_string()],
            &holder("run-2"),
            Duration::ZERO,
        )
        .unwrap_err();
        match &err {
            LockError::Held {
                resource, holder, ..
            } => {
                assert_eq!(resource, "unit:caddy.service");
                assert_eq!(holder.as_ref().unwrap().run_id, "run-1");
            }
            other => panic!("{other}"),
        }
        assert!(err.to_string().contains("run run-1"), "{err}");
        drop(first);
        let again = acquire(dir.path(), &res, &holder("run-3"), Duration::ZERO).unwrap();
        assert_eq!(again.len(), 2);
        let text = std::fs::read_to_string(dir.path().join("backups:db.lock")).unwrap();
        assert!(text.contains("run-3") && !text.contains("run-1"), "{text}");
    }
}
