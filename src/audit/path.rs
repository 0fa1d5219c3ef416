//! Where the audit database lives, and creating it private to its owner.

use std::fs::{DirBuilder, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The database used when neither `--audit-db` nor `RUNBOOK_AUDIT_DB` is given:
/// `/var/lib/runbook/audit.db` for root (effective uid 0), otherwise
/// `$XDG_STATE_HOME/runbook/audit.db`, where `XDG_STATE_HOME` defaults to `~/.local/state`.
pub fn default_path() -> PathBuf {
    // SAFETY: geteuid and getuid cannot fail.
    let (euid, uid) = unsafe { (libc::geteuid(), libc::getuid()) };
    path_for(
        euid,
        std::env::var_os("XDG_STATE_HOME").map(PathBuf::from),
        std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from)
            .or_else(|| super::process::user_home(uid).map(PathBuf::from)),
    )
}

fn path_for(euid: u32, xdg_state_home: Option<PathBuf>, home: Option<PathBuf>) -> PathBuf {
    if euid == 0 {
        return PathBuf::from("/var/lib/runbook/audit.db");
    }
    // The XDG spec says relative paths are invalid and must be ignored.
    let state = match xdg_state_home.filter(|d| d.is_absolute()) {
        Some(dir) => dir,
        None => home
            .unwrap_or_else(|| PathBuf::from("/"))
            .join(".local")
            .join("state"),
    };
    state.join("runbook").join("audit.db")
}

/// Make sure the database file exists before SQLite opens it: the directory is created with
/// mode 0700 if missing, the file with mode 0600. SQLite creates the `-wal` and `-shm` files
/// with the database file's mode, so they are private too. Existing files keep their mode.
/// Returns whether the file was created.
pub(crate) fn prepare(path: &Path) -> io::Result<bool> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
        }
    }
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(file) => {
            // The umask can only remove bits; make the mode exactly 0600 anyway.
            file.set_permissions(Permissions::from_mode(0o600))?;
            Ok(true)
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

/// The `-wal` and `-shm` companions of a database file.
pub(crate) fn sidecars(path: &Path) -> [PathBuf; 2] {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let mut shm = path.as_os_str().to_owned();
    shm.push("-shm");
    [PathBuf::from(wal), PathBuf::from(shm)]
}

/// Belt and braces: if a `-wal` or `-shm` file is readable by group or others (for example
/// because the database was created by an older tool), make it 0600. Errors are ignored: the
/// file may belong to another user.
pub(crate) fn tighten_sidecars(path: &Path) {
    for p in sidecars(path) {
        if let Ok(meta) = std::fs::metadata(&p) {
            if meta.permissions().mode() & 0o077 != 0 {
                let _ = std::fs::set_permissions(&p, Permissions::from_mode(0o600));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_locations() {
        let p = |euid, xdg: Option<&str>, home: Option<&str>| {
            path_for(euid, xdg.map(PathBuf::from), home.map(PathBuf::from))
        };
        assert_eq!(
            p(0, Some("/x"), Some("/root")),
            PathBuf::from("/var/lib/runbook/audit.db")
        );
        assert_eq!(
            p(1000, Some("/x/state"), Some("/home/a")),
            PathBuf::from("/x/state/runbook/audit.db")
        );
        assert_eq!(
            p(1000, None, Some("/home/a")),
            PathBuf::from("/home/a/.local/state/runbook/audit.db")
        );
        assert_eq!(
            p(1000, Some("relative"), Some("/home/a")),
            PathBuf::from("/home/a/.local/state/runbook/audit.db")
        );
    }

    #[test]
    fn creates_private_directory_and_file() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("a/b/audit.db");
        assert!(prepare(&db).unwrap());
        assert!(!prepare(&db).unwrap());
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&db), 0o600);
        assert_eq!(mode(db.parent().unwrap()), 0o700);
        assert_eq!(mode(db.parent().unwrap().parent().unwrap()), 0o700);
    }
}
