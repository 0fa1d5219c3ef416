//! Whether there is a journal to read at all. Both readers (sd-journal and `journalctl
//! --quiet`) see an empty journal when there are no journal files, or when none of them may
//! be opened by this user: "no errors" would then be a claim about nothing. Looking at the
//! files first turns both cases into an error that says what could not be read and why.

use std::path::{Path, PathBuf};

use super::HostError;

/// Where journald keeps its files: persistent, then volatile (journald.conf(5)).
pub const SYSTEM_DIRS: [&str; 2] = ["/var/log/journal", "/run/log/journal"];

/// The journal files (`*.journal`, `*.journal~`) in `dirs` and their machine-id
/// subdirectories, split into those this process may open and those it may not.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Found {
    pub readable: usize,
    pub unreadable: usize,
}

pub fn scan(dirs: &[PathBuf]) -> Found {
    let mut found = Found::default();
    for dir in dirs {
        visit(dir, 1, &mut found);
    }
    found
}

fn visit(dir: &Path, depth: u8, found: &mut Found) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
        if is_dir && depth > 0 {
            visit(&path, depth - 1, found);
        } else if is_journal(&path) {
            match std::fs::File::open(&path) {
                Ok(_) => found.readable += 1,
                Err(_) => found.unreadable += 1,
            }
        }
    }
}

fn is_journal(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name.ends_with(".journal") || name.ends_with(".journal~")
}

/// The directories to look in: the site's `paths.journal_dir`, else the system's.
pub fn dirs(journal_dir: Option<&str>) -> Vec<PathBuf> {
    match journal_dir {
        Some(d) => vec![PathBuf::from(d)],
        None => SYSTEM_DIRS.iter().map(PathBuf::from).collect(),
    }
}

/// Ok when at least one journal file can be read; otherwise why the journal cannot be read.
pub fn require(journal_dir: Option<&str>) -> Result<Found, HostError> {
    let dirs = dirs(journal_dir);
    let found = scan(&dirs);
    let where_ = dirs
        .iter()
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    if found.readable > 0 {
        return Ok(found);
    }
    let reason = if found.unreadable > 0 {
        format!(
            "permission denied: none of the {} journal files may be read by this user \
             (run as root, or in the systemd-journal or adm group)",
            found.unreadable
        )
    } else {
        "no journal files were found (is systemd-journald running, and does it store logs?)"
            .to_string()
    };
    Err(HostError::Unreachable {
        backend: "journal",
        address: where_,
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_missing_and_present_directories() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_str().unwrap().to_string();
        let err = require(Some(&dir)).unwrap_err().to_string();
        assert!(err.contains("no journal files were found"), "{err}");
        let missing = format!("{dir}/nope");
        assert!(require(Some(&missing)).is_err());
        // A machine-id subdirectory with one (empty) file in it counts.
        std::fs::create_dir(tmp.path().join("0123abcd")).unwrap();
        std::fs::write(tmp.path().join("0123abcd/system.journal"), b"").unwrap();
        std::fs::write(tmp.path().join("0123abcd/notes.txt"), b"").unwrap();
        assert_eq!(
            require(Some(&dir)).unwrap(),
            Found {
                readable: 1,
                unreadable: 0
            }
        );
    }
}
