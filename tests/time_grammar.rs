//! One time grammar for every flag and parameter that takes a time (`crate::time`), seen
//! through the real binary.

mod common;

use common::Sandbox;

fn one_run(sb: &Sandbox) {
    sb.cmd()
        .fixtures()
        .args(["run", "findings-demo"])
        .run()
        .code(0);
}

#[test]
fn log_since_and_until_take_the_journalctl_forms() {
    let sb = Sandbox::new();
    one_run(&sb);
    for since in ["10 minutes ago", "2h", "-2h", "today", "@0", "1970-01-02"] {
        let v = sb
            .cmd()
            .args(["log", "--json", "--since", since])
            .run()
            .code(0)
            .json();
        assert_eq!(v.as_array().unwrap().len(), 1, "--since {since}: {v}");
    }
    for since in ["+1h", "tomorrow"] {
        let v = sb
            .cmd()
            .args(["log", "--json", "--since", since])
            .run()
            .code(0)
            .json();
        assert!(v.as_array().unwrap().is_empty(), "--since {since}: {v}");
    }
    let v = sb
        .cmd()
        .args(["log", "--json", "--until", "1 hour ago"])
        .run()
        .code(0)
        .json();
    assert!(v.as_array().unwrap().is_empty(), "--until 1 hour ago: {v}");
    let v = sb
        .cmd()
        .args(["log", "--json", "--since", "1h", "--until", "now"])
        .run()
        .code(0)
        .json();
    assert_eq!(v.as_array().unwrap().len(), 1);
}

#[test]
fn a_garbage_time_is_a_usage_error_that_lists_the_forms() {
    let sb = Sandbox::new();
    one_run(&sb);
    for (args, flag) in [
        (vec!["log", "--since", "garbage"], "--since"),
        (vec!["log", "--until", "soonish"], "--until"),
        (vec!["log", "--since", "99999999999h"], "--since"),
        (vec!["audit", "export", "--since", "whenever"], "--since"),
    ] {
        let out = sb.cmd().args(&args).run().code(2);
        assert!(
            out.stderr.contains(flag) && out.stderr.contains("10 minutes ago"),
            "{args:?}: {}",
            out.stderr
        );
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    }
}

#[test]
fn a_time_parameter_is_checked_before_anything_runs() {
    let sb = Sandbox::new();
    let out = sb
        .cmd()
        .args(["run", "triage", "-p", "since=garbage"])
        .run()
        .code(2);
    assert!(
        out.stderr.contains("parameter `since`") && out.stderr.contains("10 minutes ago"),
        "{}",
        out.stderr
    );
    assert!(!out.stdout.contains('▸'), "a step ran: {}", out.stdout);
    assert!(!sb.db().exists(), "a run was recorded");
}

#[test]
fn triage_takes_a_bare_duration_as_its_journal_window() {
    // `-p since=2h` is the example of `log --help`; journalctl itself would reject "2h".
    let sb = Sandbox::new();
    let out = sb
        .cmd()
        .args(["run", "triage", "-p", "since=2h", "--json"])
        .run();
    assert!(out.code == 0 || out.code == 5, "{}", out.all());
    let v = out.json();
    let journal: Vec<_> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["subject"] == "journal")
        .collect();
    assert!(!journal.is_empty(), "no journal finding: {v}");
    for f in &journal {
        let summary = f["summary"].as_str().unwrap();
        assert!(
            !summary.contains("journalctl time") && !summary.contains("invalid"),
            "the window was not understood: {f}"
        );
    }
}
