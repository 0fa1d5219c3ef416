//! The operator a run records, through real sudo in the twin: `SUDO_USER` names the human
//! when the run really came through sudo, and is ignored when anyone else sets it.

mod common;

use common::twin::{available, exec, exec_ok, lock};
use serde_json::Value;

const HELLO: &str = "//! name: hello\n//! summary: Says hello\n//! mutates: false\nstep \"Hello\" {\n    print(\"hello\");\n}\n";

/// `runbook run hello --json` inside the twin, run by `launcher` (a command prefix), with a
/// database of its own; returns the recorded operator (from `replay --json`) and the text
/// replay.
fn operator_of(launcher: &[&str], name: &str) -> (Value, String) {
    let dir = format!("/tmp/identity-{name}");
    exec_ok(&["rm", "-rf", &dir]);
    exec_ok(&["mkdir", "-p", &dir]);
    exec_ok(&["chmod", "0777", &dir]);
    exec_ok(&[
        "sh",
        "-c",
        &format!("cat > {dir}/hello.rhai <<'EOF'\n{HELLO}EOF"),
    ]);
    let db = format!("{dir}/audit.db");
    let mut args: Vec<&str> = launcher.to_vec();
    args.extend([
        "env",
        "NO_COLOR=1",
        "runbook",
        "--audit-db",
        &db,
        "--runbooks",
        &dir,
        "run",
        "hello",
        "--json",
    ]);
    let run = exec(&args);
    assert_eq!(run.code, 0, "{}", run.all());
    let replay = exec(&["runbook", "--audit-db", &db, "replay", "last", "--json"]);
    assert_eq!(replay.code, 0, "{}", replay.all());
    let replay: Value = serde_json::from_str(&replay.stdout).unwrap();
    let text = exec(&[
        "env",
        "NO_COLOR=1",
        "runbook",
        "--audit-db",
        &db,
        "replay",
        "last",
    ]);
    (replay["run"]["operator_identity"].clone(), text.stdout)
}

#[test]
fn sudo_caller_is_recorded_and_a_claimed_sudo_user_is_not() {
    if !available() {
        return;
    }
    let _g = lock();
    let loginuid = exec_ok(&["cat", "/proc/self/loginuid"]);
    let loginuid_unset = loginuid.trim() == "4294967295";

    // miguel runs it through real sudo (NOPASSWD in the twin's sudoers).
    let (op, text) = operator_of(&["runuser", "-u", "miguel", "--", "sudo", "-n"], "sudo");
    if loginuid_unset {
        assert_eq!(op["login"], "miguel", "{op}");
        assert_eq!(op["source"], "sudo", "{op}");
        let miguel_uid = exec_ok(&["id", "-u", "miguel"]);
        assert_eq!(op["uid"].to_string(), miguel_uid.trim(), "{op}");
        assert_eq!(
            op["evidence"]["sudo_parent_uid"].to_string(),
            miguel_uid.trim(),
            "{op}"
        );
    } else {
        // A login uid names the human before sudo does.
        assert_eq!(op["source"], "loginuid", "{op}");
    }
    assert_eq!(op["euid"], 0, "{op}");
    assert_eq!(op["effective_user"], "root", "{op}");
    assert!(op["evidence"]["sudo_parent_pid"].is_u64(), "{op}");
    assert!(text.contains("SUDO_USER=miguel"), "{text}");
    assert!(text.contains("sudo parent pid"), "{text}");

    // Root, not through sudo, claiming to be miguel: the effective user is recorded.
    let (op, _) = operator_of(&["env", "SUDO_USER=miguel", "SUDO_UID=1000"], "root-claim");
    if loginuid_unset {
        assert_eq!(op["login"], "root", "{op}");
        assert_eq!(op["source"], "euid", "{op}");
    }
    assert_eq!(op["evidence"]["sudo_parent_pid"], Value::Null, "{op}");
    assert!(op["evidence"]["sudo_ignored"].is_string(), "{op}");

    // An unprivileged user claiming to be miguel.
    let (op, _) = operator_of(
        &["runuser", "-u", "nobody", "--", "env", "SUDO_USER=miguel"],
        "nobody-claim",
    );
    if loginuid_unset {
        assert_eq!(op["login"], "nobody", "{op}");
    }
    assert_eq!(op["effective_user"], "nobody", "{op}");
    assert!(op["evidence"]["sudo_ignored"]
        .as_str()
        .is_some_and(|why| why.contains("not root")));
}
