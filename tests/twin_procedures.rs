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

    // On a pseudo-terminal, typing the name is not enough: a new account needs two
    // approvers' signatures (the plan flow is tests/twin_approvals.rs).
    let out = exec(&[
        "sh",
        "-c",
        &format!(
            "echo jane | script -qec \"NO_COLOR=1 runbook run add-operator {}\" /dev/null",
            args
        ),
    ]);
    assert!(
        out.stdout.contains("needs 2 approval(s)") || out.stderr.contains("needs 2 approval(s)"),
        "{}",
        out.all()
    );
    assert_ne!(
        exec(&["id", "jane"]).code,
        0,
        "jane exists without approvals"
    );
    exec(&[
        "sh",
        "-c",
        "userdel -r jane 2>/dev/null; rm -f /etc/sudoers.d/90-jane",
    ]);
}

const TUNNEL_CONFIG: &str = "/etc/cloudflared/config.yml";

/// Put the tunnel config back as it was and reload cloudflared, whatever the test did.
struct RestoreTunnel(String);

impl Drop for RestoreTunnel {
    fn drop(&mut self) {
        let script = format!(
            "cat > {TUNNEL_CONFIG} <<'EOF'\n{}EOF\nsystemctl reload cloudflared",
            self.0
        );
        exec(&["sh", "-c", &script]);
    }
}

#[test]
fn add_hostname_puts_the_rule_above_the_catch_all_and_reloads_the_tunnel() {
    if !available() {
        return;
    }
    let _g = lock();
    must("reset", &[]);
    let original = exec_ok(&["cat", TUNNEL_CONFIG]);
    let _restore = RestoreTunnel(original.clone());
    let pid = || {
        exec_ok(&[
            "systemctl",
            "show",
            "-p",
            "MainPID",
            "--value",
            "cloudflared",
        ])
    };
    let before_pid = pid();
    let add = |extra: &[&str]| {
        let mut args = vec![
            "run",
            "add-hostname",
            "-p",
            "hostname=shop.nheo.ai",
            "-p",
            "port=3000",
        ];
        args.extend_from_slice(extra);
        runbook(&args)
    };

    // A name that is not a hostname is refused before anything runs.
    let bad = runbook(&[
        "run",
        "add-hostname",
        "-p",
        "hostname=Shop_1",
        "-p",
        "port=3000",
        "--yes",
    ]);
    assert_eq!(bad.code, 2, "{}", bad.all());

    // A dry run shows the change and leaves the file alone.
    let dry = add(&["--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.all());
    assert!(
        dry.stdout.contains("+  - hostname: shop.nheo.ai"),
        "{}",
        dry.stdout
    );
    assert_eq!(
        exec_ok(&["cat", TUNNEL_CONFIG]),
        original,
        "the dry run changed the file"
    );

    let live = add(&["--yes"]);
    assert_eq!(live.code, 0, "{}", live.all());
    let config = exec_ok(&["cat", TUNNEL_CONFIG]);
    let rule = config.find("hostname: shop.nheo.ai").expect("rule added");
    let catch_all = config
        .find("service: http_status:404")
        .expect("catch-all kept");
    assert!(
        rule < catch_all,
        "the rule must come before the catch-all:\n{config}"
    );
    assert!(
        config.contains("service: http://127.0.0.1:3000"),
        "{config}"
    );
    // Reloaded (SIGHUP), not restarted: same process, still active.
    assert_eq!(pid(), before_pid, "cloudflared was restarted, not reloaded");
    assert_eq!(
        exec_ok(&["systemctl", "is-active", "cloudflared"]).trim(),
        "active"
    );
    assert!(
        live.stdout
            .contains("remaining manual step: add the DNS CNAME"),
        "{}",
        live.stdout
    );

    // The same name again is refused, and nothing changes.
    let again = add(&["--yes"]);
    assert_eq!(again.code, 3, "{}", again.all());
    assert_eq!(exec_ok(&["cat", TUNNEL_CONFIG]), config);
}
