//! Room to record a run on a full disk.
//!
//! A full disk is step 2 of the guide's triage flow: the tool has to work exactly then. The
//! store keeps a reserve file beside the database (`audit.db.reserve`, [`RESERVE_BYTES`]),
//! created while there is room. When the database's file system has less than
//! [`LOW_WATER_BYTES`] free at open, the reserve is deleted first, so SQLite has room for the
//! run's events, and the store reports a [`SpaceWarning`]:
//!
//! - the executor adds a `crit` finding naming the full file system to every run;
//! - the effect door refuses a live run's first change (exit 4): a change whose record might
//!   not fit is not made.
//!
//! The reserve comes back at a later open once the file system has room again. Nothing here
//! ever fails an open: the reserve is a convenience, and a store that cannot write at all is
//! handled by the executor (read-only runbooks still run, unrecorded; see `RunAudit`).

use std::path::{Path, PathBuf};

/// Size of the reserve file: far more than a triage run writes (about 100 events of a few
/// hundred bytes, plus the write-ahead log's pages).
pub const RESERVE_BYTES: u64 = 8 << 20;

/// Below this much free space the store uses its reserve and reports the disk as full.
pub const LOW_WATER_BYTES: u64 = 16 << 20;

/// The file system holding the database is (nearly) full.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpaceWarning {
    /// What the operator is told, with the numbers and the fix.
    pub message: String,
}

/// The reserve file of the database at `db`.
pub fn reserve_path(db: &Path) -> PathBuf {
    let mut name = db.file_name().unwrap_or_default().to_os_string();
    name.push(".reserve");
    db.with_file_name(name)
}

/// Bytes available to this process on the file system holding `dir`.
pub fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: c is a valid NUL-terminated path; st is a properly sized out-parameter.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    Some(st.f_bavail as u64 * st.f_frsize as u64)
}

/// Before the database opens: use the reserve if space is low, or create it if it is
/// missing and there is room. Returns the warning to report, if any.
pub fn prepare(db: &Path) -> Option<SpaceWarning> {
    let dir = db.parent().filter(|d| !d.as_os_str().is_empty())?;
    let free = free_bytes(dir)?;
    let reserve = reserve_path(db);
    if free < LOW_WATER_BYTES {
        let released = std::fs::remove_file(&reserve).is_ok();
        let mib = |b: u64| b as f64 / (1 << 20) as f64;
        let how = if released {
            format!(
                "its {:.0} MiB reserve was released to record this run",
                mib(RESERVE_BYTES)
            )
        } else {
            "it has no reserve left, so this run may not be recorded in full".to_string()
        };
        return Some(SpaceWarning {
            message: format!(
                "the file system of the audit database {} is full ({:.1} MiB free): {how}; \
                 nothing will be changed until there is room (df -h {}; then du -xhd 1 on it)",
                db.display(),
                mib(free),
                dir.display()
            ),
        });
    }
    if free > LOW_WATER_BYTES + 2 * RESERVE_BYTES && !reserve.exists() {
        create(&reserve);
    }
    None
}

/// Allocate the reserve for real (fallocate, not a sparse file: a hole frees nothing when it
/// is deleted). Best effort.
fn create(path: &Path) {
    use std::os::unix::fs::OpenOptionsExt;
    use std::os::unix::io::AsRawFd;
    let Ok(file) = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    else {
        return;
    };
    // SAFETY: fallocate on a file descriptor we own, with a valid length.
    let ok = unsafe { libc::fallocate(file.as_raw_fd(), 0, 0, RESERVE_BYTES as libc::off_t) } == 0;
    if !ok {
        drop(file);
        let _ = std::fs::remove_file(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_roomy_file_system_gets_a_real_reserve_and_no_warning() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("audit.db");
        if free_bytes(dir.path()).unwrap() < LOW_WATER_BYTES + 3 * RESERVE_BYTES {
            eprintln!("skipped: the temporary directory's file system is nearly full");
            return;
        }
        assert_eq!(prepare(&db), None);
        let meta = std::fs::metadata(reserve_path(&db)).unwrap();
        assert_eq!(meta.len(), RESERVE_BYTES);
        use std::os::unix::fs::MetadataExt;
        assert!(
            meta.blocks() * 512 >= RESERVE_BYTES,
            "the reserve is sparse"
        );
        assert_eq!(meta.mode() & 0o777, 0o600);
    }

    #[test]
    fn reserve_sits_beside_the_database() {
        assert_eq!(
            reserve_path(Path::new("/var/lib/runbook/audit.db")),
            Path::new("/var/lib/runbook/audit.db.reserve")
        );
    }
}
