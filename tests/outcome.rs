//! How a run ends, seen from outside: the exit code, the `run-end` event, `log` and
//! `run --json` must all tell the same thing (one mapping, `engine::outcome`).

mod common;

use std::time::Duration;

use common::{events_of, Sandbox};

/// The `run-end` event of the newest run, as `replay --json` shows it.
fn run_end(sb: &Sandbox) -> serde_json::Value {
    let replay = sb
        .cmd()
        .args(["replay", "last", "--json"])
        .run()
        .code(0)
        .json();
    let ends = events_of(&replay, "run-end");
    assert_eq!(ends.len(), 1, "{replay}");
    ends[0]["payload"].clone()
}

fn newest_log_entry(sb: &Sandbox) -> serde_json::Value {
    let log = sb.cmd().args(["log", "--json"]).run().code(0).json();
    log[0].clone()
}

#[test]
fn a_crit_finding_exits_5_and_every_view_agrees() {
    let sb = Sandbox::new();
    let out = sb
        .cmd()
        .fixtures()
        .args(["run", "crit-finding", "--json"])
        .run()
        .code(5);
    let v = out.json();
    assert_eq!(v["status"], "findings");
    assert_eq!(v["exit_code"], 5);
    assert_eq!(v["worst"], "crit");
    assert_eq!(v["counts"]["crit"], 1);
    assert_eq!(v["counts"]["ok"], 1);
    let end = run_end(&sb);
    assert_eq!(end["exit_code"], 5, "{end}");
    assert_eq!(end["status"], "findings");
    assert_eq!(end["worst"], "crit");
    let log = newest_log_entry(&sb);
    assert_eq!(log["status"], "findings", "{log}");
    assert_eq!(log["worst"], "crit");
    assert_eq!(log["exit_code"], 5);
    assert_eq!(log["counts"]["crit"], 1);
    // The table shows the worst severity beside the status.
    let table = sb.cmd().args(["log"]).run().code(0).stdout;
    let row = table.lines().nth(1).unwrap_or_default();
    assert!(row.contains("findings") && row.contains("crit"), "{table}");
}

#[test]
fn the_summary_line_counts_findings_by_severity() {
    let sb = Sandbox::new();
    let out = sb
        .cmd()
        .fixtures()
        .args(["run", "crit-finding"])
        .run()
        .code(5);
    let last = out.stdout.trim_end().lines().last().unwrap_or_default();
    assert!(
        last.starts_with("findings (1 crit, 1 ok) in "),
        "summary line: {last}\n{}",
        out.stdout
    );
}

#[test]
fn fail_on_sets_the_threshold() {
    // findings-demo reports ok, warn and info: below the default threshold.
    let sb = Sandbox::new();
    let v = sb
        .cmd()
        .fixtures()
        .args(["run", "findings-demo", "--json"])
        .run()
        .code(0)
        .json();
    assert_eq!(v["status"], "ok");
    assert_eq!(v["worst"], "warn");
    assert_eq!(run_end(&sb)["exit_code"], 0);

    let v = sb
        .cmd()
        .fixtures()
        .args(["run", "findings-demo", "--json", "--fail-on", "warn"])
        .run()
        .code(5)
        .json();
    assert_eq!(v["status"], "findings");
    assert_eq!(run_end(&sb)["exit_code"], 5);

    sb.cmd()
        .fixtures()
        .args(["run", "crit-finding", "--fail-on", "never"])
        .run()
        .code(0);
    assert_eq!(run_end(&sb)["exit_code"], 0);
    assert_eq!(run_end(&sb)["worst"], "crit");

    let bad = sb
        .cmd()
        .fixtures()
        .args(["run", "crit-finding", "--fail-on", "sometimes"])
        .run()
        .code(2);
    assert!(bad.stderr.contains("--fail-on"), "{}", bad.stderr);
}

#[test]
fn a_refused_run_records_exit_3() {
    let sb = Sandbox::new();
    let site = sb.site(&[]);
    let path = sb.path().join("files").join("x.txt");
    let out = sb
        .with_site(&site)
        .args(["run", "gated-write", "-p"])
        .arg_path("path=", &path)
        .run()
        .code(3);
    assert!(!path.exists());
    assert!(out.stderr.contains("error:"), "{}", out.stderr);
    let end = run_end(&sb);
    assert_eq!(end["exit_code"], 3, "{end}");
    assert_eq!(end["status"], "refused");
}

#[test]
fn a_canceled_run_records_exit_130() {
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
    // Interrupt only once the run is on record (its run-start is written durably before the
    // first step): a fixed sleep raced the start-up on a loaded machine, and a signal that
    // arrives before the handler is installed kills the process with no run-end at all.
    let started = std::time::Instant::now();
    while sb
        .cmd()
        .args(["log", "--json"])
        .run()
        .stdout
        .parse::<serde_json::Value>()
        .ok()
        .and_then(|log| log.as_array().map(|runs| runs.is_empty()))
        .unwrap_or(true)
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the run never appeared in runbook log"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: plain kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    let end = run_end(&sb);
    assert_eq!(end["exit_code"], 130, "{end}");
    assert_eq!(end["status"], "canceled");
}

#[test]
fn a_failed_step_records_exit_1_even_with_crit_findings() {
    let sb = Sandbox::new();
    let out = sb
        .cmd()
        .fixtures()
        .args(["run", "failing-step"])
        .run()
        .code(1);
    assert!(out.stderr.contains("disk check failed"), "{}", out.stderr);
    let end = run_end(&sb);
    assert_eq!(end["exit_code"], 1, "{end}");
    assert_eq!(end["status"], "failed");
    assert_eq!(end["worst"], "crit");
}
