//! `replay` and `log` go through a pager on a terminal, as git and journalctl do, and never
//! into a pipe; `--no-pager`, `RUNBOOK_PAGER=cat` and `PAGER=cat` turn it off.

mod common;

use common::Sandbox;

/// A pager that marks every line it shows, so the test sees which output went through it.
const MARKING_PAGER: &str = "sed 's/^/paged: /'";

fn sandbox_with_a_run() -> Sandbox {
    let sb = Sandbox::new();
    sb.cmd().args(["run", "triage"]).run();
    sb
}

fn paged_lines(output: &str) -> usize {
    output.lines().filter(|l| l.starts_with("paged: ")).count()
}

#[test]
fn replay_on_a_terminal_runs_the_pager() {
    let sb = sandbox_with_a_run();
    let out = sb
        .cmd()
        .args(["replay", "last"])
        .env("RUNBOOK_PAGER", MARKING_PAGER)
        .on_pty();
    assert_eq!(out.code, 0, "{}", out.output);
    let lines: Vec<&str> = out.output.lines().filter(|l| !l.is_empty()).collect();
    assert!(lines.len() > 5, "{}", out.output);
    assert!(
        lines.iter().all(|l| l.starts_with("paged: ")),
        "every line should come through the pager:\n{}",
        out.output
    );
    assert!(out.output.contains("triage"), "{}", out.output);
}

#[test]
fn replay_into_a_pipe_does_not() {
    let sb = sandbox_with_a_run();
    let out = sb
        .cmd()
        .args(["replay", "last"])
        .env("RUNBOOK_PAGER", MARKING_PAGER)
        .run()
        .code(0);
    assert!(out.stdout.contains("triage"), "{}", out.stdout);
    assert_eq!(paged_lines(&out.stdout), 0, "{}", out.stdout);
}

#[test]
fn no_pager_and_cat_turn_it_off_on_a_terminal() {
    let sb = sandbox_with_a_run();
    let runs = [
        sb.cmd()
            .args(["replay", "last", "--no-pager"])
            .env("RUNBOOK_PAGER", MARKING_PAGER)
            .on_pty(),
        sb.cmd()
            .args(["--no-pager", "log"])
            .env("RUNBOOK_PAGER", MARKING_PAGER)
            .on_pty(),
        sb.cmd()
            .args(["replay", "last"])
            .env("RUNBOOK_PAGER", "cat")
            .env("PAGER", MARKING_PAGER)
            .on_pty(),
        sb.cmd()
            .args(["replay", "last"])
            .env_remove("RUNBOOK_PAGER")
            .env("PAGER", "cat")
            .on_pty(),
    ];
    for out in runs {
        assert_eq!(out.code, 0, "{}", out.output);
        assert!(out.output.contains("triage"), "{}", out.output);
        assert_eq!(paged_lines(&out.output), 0, "{}", out.output);
    }
}

#[test]
fn log_on_a_terminal_uses_pager_then_runbook_pager_wins() {
    let sb = sandbox_with_a_run();
    let out = sb
        .cmd()
        .args(["log"])
        .env_remove("RUNBOOK_PAGER")
        .env("PAGER", MARKING_PAGER)
        .on_pty();
    assert_eq!(out.code, 0, "{}", out.output);
    assert!(paged_lines(&out.output) >= 2, "{}", out.output);
    let out = sb
        .cmd()
        .args(["log"])
        .env("RUNBOOK_PAGER", "sed 's/^/runbook-pager: /'")
        .env("PAGER", MARKING_PAGER)
        .on_pty();
    assert_eq!(paged_lines(&out.output), 0, "{}", out.output);
    assert!(out.output.contains("runbook-pager: RUN"), "{}", out.output);
}

/// Without RUNBOOK_PAGER and PAGER, the pager is `less -FRX`, found on the PATH, with
/// `LESS=FRX` for a less started by another name.
#[test]
fn default_pager_is_less_frx() {
    let sb = sandbox_with_a_run();
    let bin = sb.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let record = sb.path().join("less-args");
    let less = bin.join("less");
    std::fs::write(
        &less,
        format!(
            "#!/bin/sh\necho \"args=$* LESS=$LESS\" > {}\nexec cat\n",
            record.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&less, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let out = sb
        .cmd()
        .args(["replay", "last"])
        .env_remove("RUNBOOK_PAGER")
        .env_remove("PAGER")
        .env_remove("LESS")
        .env("PATH", path)
        .on_pty();
    assert_eq!(out.code, 0, "{}", out.output);
    assert!(out.output.contains("triage"), "{}", out.output);
    let seen = std::fs::read_to_string(&record).expect("less was started");
    assert_eq!(seen.trim(), "args=-FRX LESS=FRX");
}

/// A pager command that does not exist is an error naming the ways around it.
#[test]
fn missing_pager_says_how_to_do_without() {
    let sb = sandbox_with_a_run();
    let out = sb
        .cmd()
        .args(["replay", "last"])
        .env("RUNBOOK_PAGER", "no-such-pager-here")
        .on_pty();
    assert_ne!(out.code, 0, "{}", out.output);
    assert!(
        out.output.contains("--no-pager") && out.output.contains("RUNBOOK_PAGER=cat"),
        "{}",
        out.output
    );
}
