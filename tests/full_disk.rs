//! The audit store on a full or unwritable file system: a full disk is step 2 of the
//! guide's triage flow, so read-only runbooks must still run and report, and nothing may
//! change the machine without its record. Real file systems: small tmpfs mounts (needs root;
//! skipped with a message otherwise).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::Sandbox;

/// A tmpfs of `size` mounted under the sandbox, unmounted when dropped.
struct Mount(PathBuf);

impl Mount {
    fn new(sb: &Sandbox, name: &str, size: &str) -> Option<Mount> {
        let dir = sb.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("skipped: cannot mount a tmpfs here (needs root)");
            return None;
        }
        Some(Mount(dir))
    }

    fn fill(&self) {
        // dd stops with "No space left on device": that is the point.
        let _ = Command::new("dd")
            .args(["if=/dev/zero", "bs=64k"])
            .arg(format!("of={}", self.0.join("fill").display()))
            .stderr(std::process::Stdio::null())
            .status();
    }

    fn remount_read_only(&self) {
        assert!(Command::new("mount")
            .args(["-o", "remount,ro"])
            .arg(&self.0)
            .status()
            .unwrap()
            .success());
    }

    fn db(&self) -> PathBuf {
        self.0.join("audit.db")
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn audit_finding(v: &serde_json::Value) -> serde_json::Value {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["subject"] == "audit store")
        .cloned()
        .unwrap_or_else(|| panic!("no finding about the audit store: {v}"))
}

fn triage_json(sb: &Sandbox, db: &Path) -> (i32, serde_json::Value) {
    let out = sb
        .cmd()
        .env("RUNBOOK_AUDIT_DB", db)
        .args(["run", "triage", "--json"])
        .run();
    assert!(out.code == 0 || out.code == 5, "{}", out.all());
    (out.code, out.json())
}

#[test]
fn triage_runs_unrecorded_when_the_store_cannot_be_created_on_a_full_disk() {
    let sb = Sandbox::new();
    let Some(m) = Mount::new(&sb, "full", "1m") else {
        return;
    };
    m.fill();
    let (code, v) = triage_json(&sb, &m.db());
    assert_eq!(code, 5, "a crit finding about the store: {v}");
    let f = audit_finding(&v);
    assert_eq!(f["severity"], "crit");
    assert!(
        f["summary"].as_str().unwrap().contains("not recorded")
            && f["summary"].as_str().unwrap().contains("full"),
        "{f}"
    );
    // The other checks ran: triage's own findings are there.
    assert!(
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["subject"] == "disk /"),
        "{v}"
    );
    // The terminal says plainly that nothing was recorded.
    let out = sb
        .cmd()
        .env("RUNBOOK_AUDIT_DB", m.db())
        .args(["run", "triage"])
        .run();
    let last = out.stdout.trim_end().lines().last().unwrap_or_default();
    assert!(last.contains("NOT RECORDED"), "{last}");
}

#[test]
fn a_mutating_runbook_on_a_store_that_cannot_open_changes_nothing() {
    let sb = Sandbox::new();
    let site = sb.site(&[]);
    let Some(m) = Mount::new(&sb, "full", "1m") else {
        return;
    };
    m.fill();
    let target = sb.path().join("files").join("x.txt");
    sb.with_site(&site)
        .env("RUNBOOK_AUDIT_DB", m.db())
        .args(["run", "write-file", "-p"])
        .arg_path("path=", &target)
        .run()
        .code(4);
    assert!(!target.exists(), "the file was written without a record");
}

#[test]
fn on_a_full_disk_the_reserve_records_triage_and_refuses_changes() {
    let sb = Sandbox::new();
    let site = sb.site(&[]);
    let Some(m) = Mount::new(&sb, "store", "40m") else {
        return;
    };
    // A first run on a roomy file system creates the store and its reserve.
    triage_json(&sb, &m.db());
    assert!(m.0.join("audit.db.reserve").exists());
    m.fill();

    let (code, v) = triage_json(&sb, &m.db());
    assert_eq!(code, 5);
    let f = audit_finding(&v);
    assert!(f["summary"].as_str().unwrap().contains("is full"), "{f}");
    let log = sb
        .cmd()
        .env("RUNBOOK_AUDIT_DB", m.db())
        .args(["log", "--json"])
        .run()
        .code(0)
        .json();
    assert_eq!(
        log.as_array().unwrap().len(),
        2,
        "both runs recorded: {log}"
    );
    assert_eq!(log[0]["exit_code"], 5);

    // A live change is refused before it is made, and that refusal is recorded as exit 4.
    let target = sb.path().join("files").join("x.txt");
    let out = sb
        .with_site(&site)
        .env("RUNBOOK_AUDIT_DB", m.db())
        .args(["run", "write-file", "-p"])
        .arg_path("path=", &target)
        .run()
        .code(4);
    assert!(out.stderr.contains("full"), "{}", out.stderr);
    assert!(!target.exists(), "the file was written");
    let replay = sb
        .cmd()
        .env("RUNBOOK_AUDIT_DB", m.db())
        .args(["replay", "last", "--json"])
        .run()
        .code(0)
        .json();
    let ends = common::events_of(&replay, "run-end");
    assert_eq!(ends[0]["payload"]["exit_code"], 4, "{replay}");
    assert!(common::events_of(&replay, "intent").is_empty(), "{replay}");
    // The chain is intact.
    sb.cmd()
        .env("RUNBOOK_AUDIT_DB", m.db())
        .args(["audit", "verify"])
        .run()
        .code(0);
}

#[test]
fn triage_runs_unrecorded_on_a_read_only_file_system() {
    let sb = Sandbox::new();
    let Some(m) = Mount::new(&sb, "ro", "40m") else {
        return;
    };
    triage_json(&sb, &m.db());
    m.remount_read_only();
    let (_, v) = triage_json(&sb, &m.db());
    let f = audit_finding(&v);
    assert_eq!(f["severity"], "crit");
    assert!(
        f["summary"].as_str().unwrap().contains("not recorded"),
        "{f}"
    );
}
