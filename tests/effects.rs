//! The effect door seen from the command line: dry-run, gates, policy refusals.

mod common;

use common::Sandbox;

fn target(sb: &Sandbox) -> std::path::PathBuf {
    sb.path().join("files").join("motd.txt")
}

#[test]
fn dry_run_flag_writes_nothing_and_says_what_would_be_written() {
    let sb = Sandbox::new();
    let site = sb.site(&[]);
    let path = target(&sb);
    let out = sb
        .with_site(&site)
        .args(["run", "write-file", "--dry-run", "-p"])
        .arg_path("path=", &path)
        .run()
        .code(0);
    assert!(!path.exists(), "dry run created the file");
    assert!(out.stdout.contains("DRY RUN (--dry-run)"), "{}", out.stdout);
    assert!(
        out.stdout.contains("would call files::replace"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("+written by runbook"),
        "the plan shows the content: {}",
        out.stdout
    );
}

#[test]
fn openclaw_dry_run_env_writes_nothing() {
    for value in ["true", "1"] {
        let sb = Sandbox::new();
        let site = sb.site(&[]);
        let path = target(&sb);
        let out = sb
            .with_site(&site)
            .env("OPENCLAW_DRY_RUN", value)
            .args(["run", "write-file", "--json", "-p"])
            .arg_path("path=", &path)
            .run()
            .code(0);
        assert!(!path.exists(), "OPENCLAW_DRY_RUN={value} created the file");
        let v = out.json();
        assert_eq!(v["dry_run"], true);
        assert_eq!(v["dry_run_reason"], format!("OPENCLAW_DRY_RUN={value}"));
    }
}

#[test]
fn unknown_dry_run_value_is_refused_before_anything_runs() {
    let sb = Sandbox::new();
    let out = sb
        .cmd()
        .fixtures()
        .env("OPENCLAW_DRY_RUN", "perhaps")
        .args(["run", "typed-params", "-p", "unit=a.service"])
        .run()
        .code(2);
    assert!(
        out.stderr
            .contains("OPENCLAW_DRY_RUN=perhaps is not understood"),
        "{}",
        out.stderr
    );
}

#[test]
fn real_run_writes_the_file() {
    let sb = Sandbox::new();
    let site = sb.site(&[]);
    let path = target(&sb);
    sb.with_site(&site)
        .args(["run", "write-file", "-p"])
        .arg_path("path=", &path)
        .run()
        .code(0);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "written by runbook"
    );
}

#[test]
fn gate_without_terminal_refuses_with_exit_3_and_nothing_changes() {
    let sb = Sandbox::new();
    let site = sb.site(&[]);
    let path = target(&sb);
    let out = sb
        .with_site(&site)
        .args(["run", "gated-write", "-p"])
        .arg_path("path=", &path)
        .run()
        .code(3);
    assert!(!path.exists(), "the write after the gate happened");
    assert!(
        out.stderr.contains("no terminal") && out.stderr.contains("--yes"),
        "{}",
        out.stderr
    );
}

#[test]
fn yes_passes_ordinary_gates_but_never_a_typed_one() {
    let sb = Sandbox::new();
    let site = sb.site(&[]);
    let path = target(&sb);
    let out = sb
        .with_site(&site)
        .args(["run", "gated-write", "--yes", "-p"])
        .arg_path("path=", &path)
        .run()
        .code(3);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "first\n",
        "second write must not happen"
    );
    assert!(
        out.stderr.contains("--yes does not satisfy typed gates"),
        "{}",
        out.stderr
    );
    let replay = sb
        .cmd()
        .args(["replay", "last", "--json"])
        .run()
        .code(0)
        .json();
    let gates = common::events_of(&replay, "gate");
    assert_eq!(gates.len(), 2, "{replay}");
    assert_eq!(gates[0]["payload"]["approved"], true);
    assert_eq!(gates[0]["payload"]["via"], "--yes");
    assert_eq!(gates[1]["payload"]["approved"], false);
    assert_eq!(gates[1]["payload"]["gate"], "typed");
}

#[test]
fn read_only_runbook_cannot_mutate_even_by_catching() {
    let sb = Sandbox::new();
    let site = sb.site(&[]);
    let path = target(&sb);
    let out = sb
        .with_site(&site)
        .args(["run", "sneaky-write", "-p"])
        .arg_path("path=", &path)
        .run()
        .code(3);
    assert!(!path.exists());
    assert!(
        !out.stdout.contains("caught:"),
        "the refusal was catchable: {}",
        out.stdout
    );
    assert!(out.stderr.contains("mutates: false"), "{}", out.stderr);
}

#[test]
fn command_off_the_allowlist_is_refused_with_exit_3_and_audited() {
    let sb = Sandbox::new();
    let site = sb.site(&["/usr/bin/true"]);
    let out = sb
        .cmd()
        .args(["--runbooks", common::FIXTURES, "--site"])
        .args([site.as_os_str()])
        .args(["run", "run-command", "-p", "program=/usr/bin/id"])
        .run()
        .code(3);
    assert!(out.stderr.contains("/usr/bin/id"), "{}", out.stderr);
    let replay = sb
        .cmd()
        .args(["replay", "last", "--json"])
        .run()
        .code(0)
        .json();
    let refused = *common::events_of(&replay, "refused")
        .first()
        .unwrap_or_else(|| panic!("no refused event: {replay}"));
    assert_eq!(refused["payload"]["function"], "cmd::run");
    assert_eq!(replay["run"]["status"], "refused");
    // The allowlisted program runs.
    sb.cmd()
        .args(["--runbooks", common::FIXTURES, "--site"])
        .args([site.as_os_str()])
        .args(["run", "run-command", "-p", "program=/usr/bin/true"])
        .run()
        .code(0);
}

#[test]
fn a_planted_secret_reaches_neither_the_database_nor_any_output() {
    let sb = Sandbox::new();
    let site = sb.site(&["/usr/bin/printf"]);
    let run = sb
        .with_site(&site)
        .args(["run", "print-secret"])
        .run()
        .code(1);
    let json = sb
        .with_site(&site)
        .args(["run", "print-secret", "--json"])
        .run()
        .code(1);
    let replay = sb.cmd().args(["replay", "last", "--full"]).run().code(0);
    let replay_json = sb.cmd().args(["replay", "last", "--json"]).run().code(0);
    let export = sb.cmd().args(["audit", "export"]).run().code(0);
    assert!(
        replay.stdout.contains("POSTGRES_PASSWORD"),
        "the key name stays: {}",
        replay.stdout
    );
    for (what, text) in [
        ("run", run.all()),
        ("run --json", json.all()),
        ("replay", replay.all()),
        ("replay --json", replay_json.all()),
        ("export", export.all()),
    ] {
        assert!(
            !text.contains("hunter2-planted"),
            "{what} shows the secret:\n{text}"
        );
    }
    for suffix in ["", "-wal"] {
        let mut path = sb.db().into_os_string();
        path.push(suffix);
        if let Ok(bytes) = std::fs::read(&path) {
            let found = bytes.windows(15).any(|w| w == b"hunter2-planted");
            assert!(!found, "{path:?} holds the secret");
        }
    }
}
