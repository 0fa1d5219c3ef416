//! The onboarding and maintenance procedures in the twin: dry-running the readymode-support
//! scripts in their own OPENCLAW_DRY_RUN mode, and adding an operator through a typed gate
//! answered on a real pseudo-terminal.

mod common;

use common::twin::{available, exec, exec_ok, lock, must, runbook};

const OPS_LOG: &str = "/home/agent/.openclaw/workspace/runtime/ops.log";

fn ops_log_lines() -> usize {
    exec(&["sh", "-c", &format!("cat {OPS_LOG} 2>/dev/null | wc -l")])
        .stdout
        .trim()
        .parse()
        .unwrap_or(0)
}

#[test]
fn readymode_scripts_run_in_their_own_dry_run_mode_unless_live() {
    if !available() {
        return;
    }
    let _g = lock();
    must("reset", &[]);
    let before = ops_log_lines();
    let out = runbook(&[
        "run",
        "readymode-script",
        "-p",
        "script=clear_licenses.sh",
        "-p",
        "log_level=debug",
    ]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("DRY RUN: would"), "{}", out.stdout);
    assert_eq!(
        ops_log_lines(),
        before,
        "the script's dry run changed ops.log"
    );

    // live=true needs the script name typed: without a terminal it is refused.
    let out = runbook(&[
        "run",
        "readymode-script",
        "-p",
        "script=clear_licenses.sh",
        "-p",
        "live=true",
        "--yes",
    ]);
    assert_eq!(out.code, 3, "{}", out.all());
    assert_eq!(ops_log_lines(), before);

    // A path outside the scripts directory cannot be named: the parameter pattern refuses it.
    let out = runbook(&["run", "readymode-script", "-p", "script=../../bin/bgctl.py"]);
    assert_eq!(out.code, 2, "{}", out.all());
}

#[test]
fn add_operator_creates_one_account_after_a_typed_confirmation() {
    if !available() {
        return;
    }
    let _g = lock();
    exec(&[
        "sh",
        "-c",
        "userdel -r jane 2>/dev/null; rm -f /etc/sudoers.d/90-jane",
    ]);
    let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl jane@laptop";
    let args = format!("-p name=jane -p 'key={key}' -p approved_by=miguel -p sudo=true");

    // Approver who may not approve: refused.
    let out = exec(&[
        "sh",
        "-c",
        &format!(
            "NO_COLOR=1 runbook run add-operator -p name=jane -p 'key={key}' -p approved_by=agent"
        ),
    ]);
    assert_eq!(out.code, 3, "{}", out.all());
    // No terminal: the typed gate refuses, and nothing was created.
    let out = exec(&[
        "sh",
        "-c",
        &format!("NO_COLOR=1 runbook run add-operator {args} --yes"),
    ]);
    assert_eq!(out.code, 3, "{}", out.all());
    assert_ne!(
        exec(&["id", "jane"]).code,
        0,
        "jane exists after a refused run"
    );
    // A dry run shows the plan and creates nothing.
    let out = exec(&[
        "sh",
        "-c",
        &format!("NO_COLOR=1 runbook run add-operator {args} --dry-run"),
    ]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stdout.contains("would call cmd::run") && out.stdout.contains("useradd"),
        "{}",
        out.stdout
    );
    assert_ne!(exec(&["id", "jane"]).code, 0, "the dry run created jane");

    // On a pseudo-terminal (util-linux `script`), typing the name approves it.
    let out = exec(&[
        "sh",
        "-c",
        &format!(
            "echo jane | script -qec \"NO_COLOR=1 runbook run add-operator {}\" /dev/null",
            args
        ),
    ]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(exec_ok(&["id", "-u", "jane"]).trim().parse::<u32>().is_ok());
    assert_eq!(
        exec_ok(&["stat", "-c", "%a %U", "/home/jane/.ssh/authorized_keys"]).trim(),
        "600 jane"
    );
    assert!(exec_ok(&["cat", "/home/jane/.ssh/authorized_keys"]).contains("jane@laptop"));
    assert_eq!(
        exec_ok(&["stat", "-c", "%a", "/etc/sudoers.d/90-jane"]).trim(),
        "440"
    );
    exec_ok(&["visudo", "-cf", "/etc/sudoers.d/90-jane"]);
    // The gate's answer and who gave it are in the trail.
    let replay = runbook(&["replay", "last", "--json"]);
    let v = replay.json();
    let gate = *common::events_of(&v, "gate").first().expect("gate event");
    assert_eq!(gate["payload"]["approved"], true);
    assert_eq!(gate["payload"]["answer"], "jane");
    exec(&[
        "sh",
        "-c",
        "userdel -r jane 2>/dev/null; rm -f /etc/sudoers.d/90-jane",
    ]);
}
