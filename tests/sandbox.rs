//! The sandbox seen from the command line: budgets, eval, imports, Ctrl-C.

mod common;

use std::time::Duration;

use common::Sandbox;

/// The budget's message and place. (How soon it arrives in a release build is measured, not
/// tested: README.md gives the number.) A lowered budget keeps the debug build quick.
#[test]
fn endless_loop_ends_with_the_budget_error() {
    let sb = Sandbox::new();
    let out = sb
        .cmd()
        .fixtures()
        .env("RUNBOOK_OPERATION_BUDGET", "1000000")
        .args(["run", "endless-loop"])
        .run()
        .code(1);
    assert!(
        out.stderr
            .contains("runbook exceeded its operation budget at")
            && out.stderr.contains("endless-loop.rhai:5"),
        "{}",
        out.stderr
    );
}

#[test]
fn eval_is_refused() {
    let sb = Sandbox::new();
    let out = sb.cmd().fixtures().args(["run", "uses-eval"]).run().code(2);
    assert!(out.stderr.contains("'eval' is disabled"), "{}", out.stderr);
}

#[test]
fn imports_outside_stdlib_are_refused() {
    for name in ["import-parent", "import-absolute"] {
        let sb = Sandbox::new();
        let out = sb.cmd().fixtures().args(["run", name]).run();
        assert_ne!(out.code, 0, "{name} succeeded");
        assert!(
            out.stderr
                .contains("refused: runbooks may import stdlib modules only"),
            "{name}: {}",
            out.stderr
        );
    }
}

#[test]
fn stdlib_imports_work_and_findings_reach_json() {
    let sb = Sandbox::new();
    let out = sb
        .cmd()
        .fixtures()
        .args(["run", "findings-demo", "--json"])
        .run()
        .code(0);
    let v = out.json();
    let f = v["findings"].as_array().unwrap();
    assert_eq!(f.len(), 3);
    assert_eq!(f[1]["severity"], "warn");
    assert_eq!(f[1]["evidence"]["used_percent"], 81);
    assert_eq!(f[1]["next_step"], "find the process with top");
    assert_eq!(v["status"], "ok");
}

#[test]
fn sigint_cancels_the_run_and_is_recorded() {
    let sb = Sandbox::new();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_runbook"))
        .args(["--runbooks", common::FIXTURES, "run", "endless-loop"])
        .env("RUNBOOK_AUDIT_DB", sb.db())
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: plain kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = sb.cmd().args(["log", "--json"]).run().code(0).json();
    assert_eq!(log[0]["status"], "canceled", "{log}");
}
