//! `runbook ... | head -c1`: every command ends quietly when its reader goes away. No panic
//! ("failed printing to stdout: Broken pipe", exit 101), no error message; a run still ends
//! with its own exit code, recorded.

mod common;

use std::process::Command;

use common::Sandbox;

/// Run `runbook ARGS | head -c1` `times` times; return each exit status of runbook and all it
/// wrote on stderr.
fn piped(sb: &Sandbox, args: &str, times: usize) -> (Vec<i32>, String) {
    let script = format!(
        "for i in $(seq {times}); do \"$RB\" {args} 2>>\"$ERR\" | head -c1 >/dev/null; \
         echo ${{PIPESTATUS[0]}}; done"
    );
    let err = sb.path().join("stderr.txt");
    let out = Command::new("bash")
        .args(["-c", &script])
        .env("RB", env!("CARGO_BIN_EXE_runbook"))
        .env("ERR", &err)
        .env("RUNBOOK_AUDIT_DB", sb.db())
        .env("NO_COLOR", "1")
        .env_remove("RUNBOOK_PATH")
        .env_remove("OPENCLAW_DRY_RUN")
        .output()
        .expect("bash runs");
    let codes = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().parse().expect("an exit status"))
        .collect();
    (codes, std::fs::read_to_string(err).unwrap_or_default())
}

fn assert_quiet(args: &str, codes: &[i32], stderr: &str, allowed: &[i32]) {
    assert!(
        !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
        "{args}: {stderr}"
    );
    for c in codes {
        assert!(
            allowed.contains(c),
            "{args}: exit {c} (allowed {allowed:?}); {stderr}"
        );
    }
}

#[test]
fn list_into_a_closed_pipe_100_times() {
    let sb = Sandbox::new();
    let (codes, stderr) = piped(&sb, "list", 100);
    assert_eq!(codes.len(), 100);
    // 0 when everything fit in the pipe before head left, 141 (SIGPIPE) otherwise.
    assert_quiet("list", &codes, &stderr, &[0, 141]);
    assert!(stderr.is_empty(), "{stderr}");
}

#[test]
fn run_json_into_a_closed_pipe_100_times_still_records_every_run() {
    let sb = Sandbox::new();
    let (codes, stderr) = piped(&sb, "run triage --json", 100);
    assert_eq!(codes.len(), 100);
    // Triage completes whatever reads it: 0 on a healthy machine, 5 with crit findings.
    assert_quiet("run triage --json", &codes, &stderr, &[0, 5]);
    let log = sb
        .cmd()
        .args(["log", "--json", "--limit", "0"])
        .run()
        .code(0)
        .json();
    let runs = log.as_array().unwrap();
    assert_eq!(runs.len(), 100);
    assert!(
        runs.iter()
            .all(|r| r["exit_code"] == 0 || r["exit_code"] == 5),
        "{log}"
    );
}

#[test]
fn every_other_command_into_a_closed_pipe() {
    let sb = Sandbox::new();
    sb.cmd().args(["run", "triage"]).run();
    for args in [
        "show triage",
        "show triage --json",
        "api",
        "api --json",
        "check",
        "completions bash",
        "log",
        "replay last",
        "replay last --json",
        "audit export",
        "run triage",
        "--help",
    ] {
        let (codes, stderr) = piped(&sb, args, 10);
        assert_quiet(args, &codes, &stderr, &[0, 5, 141]);
    }
}
