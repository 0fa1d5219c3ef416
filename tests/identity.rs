//! The operator a run records cannot be claimed through the environment: `SUDO_USER` is
//! believed only as root under a real sudo (see `tests/twin_identity.rs` for that side).

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use common::Runbook;

const HELLO: &str = "//! name: hello\n//! summary: Says hello\n//! mutates: false\nstep \"Hello\" {\n    print(\"hello\");\n}\n";

/// `runbook run hello` as uid/gid 65534 with `SUDO_USER=miguel SUDO_UID=1000` set, through
/// `setpriv`; then the run's `replay --json`, read as root.
#[test]
fn sudo_user_set_by_an_unprivileged_user_is_not_believed() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED: this test switches to uid 65534 with setpriv, which needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let runbooks = dir.path().join("runbooks");
    std::fs::create_dir(&runbooks).unwrap();
    std::fs::write(runbooks.join("hello.rhai"), HELLO).unwrap();
    let db = dir.path().join("audit.db");

    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_runbook"))
        .arg("--audit-db")
        .arg(&db)
        .arg("--runbooks")
        .arg(&runbooks)
        .args(["run", "hello", "--json"])
        .env("SUDO_USER", "miguel")
        .env("SUDO_UID", "1000")
        .env("SUDO_COMMAND", "/usr/local/bin/runbook run hello")
        .env_remove("RUNBOOK_AUDIT_DB")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("setpriv runs");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();

    // What the kernel says about this session decides what the record must name: the login
    // uid's user when it is set (it survives setpriv too), else the effective user.
    let loginuid = std::fs::read_to_string("/proc/self/loginuid")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .filter(|&u| u != u32::MAX);
    let (login, source) = match loginuid {
        Some(u) => (runbook::audit::process::user_name(u).unwrap(), "loginuid"),
        None => ("nobody".to_string(), "euid"),
    };

    let replay = Runbook::new()
        .args(["--audit-db".as_ref(), db.as_os_str()])
        .args(["replay", "last", "--json"])
        .run()
        .code(0)
        .json();
    for (what, op) in [
        ("run --json", &report["operator"]),
        ("the recorded run", &replay["run"]["operator_identity"]),
        ("run-start", &replay["events"][0]["payload"]["operator"]),
    ] {
        assert_eq!(op["login"], login.as_str(), "{what}: {op}");
        assert_eq!(op["source"], source, "{what}: {op}");
        assert_eq!(op["euid"], 65534, "{what}: {op}");
        assert_eq!(op["effective_user"], "nobody", "{what}: {op}");
        // The claim is kept as evidence, with why it was not believed.
        assert_eq!(op["evidence"]["sudo_user"], "miguel", "{what}: {op}");
        assert_eq!(op["evidence"]["sudo_uid"], "1000", "{what}: {op}");
        assert_eq!(op["evidence"]["sudo_parent_pid"], serde_json::Value::Null);
        assert!(
            op["evidence"]["sudo_ignored"].as_str().is_some(),
            "{what}: {op}"
        );
    }
    assert_eq!(replay["run"]["operator"], login.as_str());

    // `replay` shows the identity and its evidence.
    let text = Runbook::new()
        .args(["--audit-db".as_ref(), db.as_os_str()])
        .args(["replay", "last"])
        .run()
        .code(0)
        .stdout;
    let evidence = text
        .lines()
        .find(|l| l.trim_start().starts_with("evidence"))
        .unwrap_or_else(|| panic!("no evidence line in:\n{text}"));
    assert!(evidence.contains("euid 65534"), "{evidence}");
    assert!(evidence.contains("SUDO_USER=miguel"), "{evidence}");
    assert!(evidence.contains("SUDO_USER ignored"), "{evidence}");
    let operator = text
        .lines()
        .find(|l| l.trim_start().starts_with("operator"))
        .unwrap();
    assert!(
        operator.contains(&format!("{login} (from {source})")),
        "{operator}"
    );
}
