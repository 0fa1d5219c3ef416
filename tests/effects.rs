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

/// A touch rule confined to the sandbox's files directory, with the given effect line.
fn touch_rule(sb: &Sandbox, effect: &str) -> std::path::PathBuf {
    let files = sb.path().join("files");
    sb.site_with_rules(&format!(
        "    - program: /usr/bin/touch\n      args: [{{path: [{}]}}]\n{effect}      why: test\n",
        files.display()
    ))
}

#[test]
fn a_read_only_runbook_refuses_a_mutate_classified_command_and_it_does_not_run() {
    let sb = Sandbox::new();
    let site = touch_rule(&sb, "");
    let path = target(&sb);
    let out = sb
        .with_site(&site)
        .args(["run", "touch-read-only", "-p"])
        .arg_path("path=", &path)
        .run()
        .code(3);
    assert!(!path.exists(), "the mutating command ran");
    assert!(
        out.stderr.contains("mutates: false") && out.stderr.contains("commands.allow[0] (mutate)"),
        "the refusal names the rule: {}",
        out.stderr
    );
    let replay = sb
        .cmd()
        .args(["replay", "last", "--json"])
        .run()
        .code(0)
        .json();
    let refused = common::events_of(&replay, "refused");
    assert_eq!(refused.len(), 1, "{replay}");
    assert_eq!(refused[0]["payload"]["function"], "cmd::run");
}

#[test]
fn passing_readonly_is_an_error_that_names_the_fix() {
    let sb = Sandbox::new();
    // Even with a rule that says read, the caller's flag is not accepted.
    let site = touch_rule(&sb, "      effect: read\n");
    let path = target(&sb);
    let out = sb
        .with_site(&site)
        .args(["run", "touch-read-only", "-p", "readonly=true", "-p"])
        .arg_path("path=", &path)
        .run()
        .code(1);
    assert!(!path.exists(), "the command ran");
    assert!(
        out.stderr.contains("`readonly` is no longer accepted")
            && out.stderr.contains("effect: read"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_dry_run_never_performs_a_mutate_command_and_prints_what_it_would_run() {
    let sb = Sandbox::new();
    let site = touch_rule(&sb, "      effect: mutate\n");
    let path = target(&sb);
    let out = sb
        .with_site(&site)
        .args(["run", "touch-mutating", "--dry-run", "-p"])
        .arg_path("path=", &path)
        .run()
        .code(0);
    assert!(!path.exists(), "the dry run ran the command");
    assert!(
        out.stdout.contains("would call cmd::run")
            && out.stdout.contains("/usr/bin/touch")
            && out.stdout.contains(&path.display().to_string()),
        "{}",
        out.stdout
    );
    // The same run for real leaves the file: the test above would notice a command that ran.
    sb.with_site(&site)
        .args(["run", "touch-mutating", "-p"])
        .arg_path("path=", &path)
        .run()
        .code(0);
    assert!(path.exists(), "the real run did not run the command");
}

#[test]
fn a_read_rule_runs_in_a_dry_run_and_in_a_read_only_runbook() {
    let sb = Sandbox::new();
    let site = touch_rule(&sb, "      effect: read\n");
    let path = target(&sb);
    sb.with_site(&site)
        .args(["run", "touch-mutating", "--dry-run", "-p"])
        .arg_path("path=", &path)
        .run()
        .code(0);
    assert!(path.exists(), "a read rule did not run in the dry run");
    std::fs::remove_file(&path).unwrap();
    sb.with_site(&site)
        .args(["run", "touch-read-only", "-p"])
        .arg_path("path=", &path)
        .run()
        .code(0);
    assert!(
        path.exists(),
        "a read rule did not run in a read-only runbook"
    );
    let replay = sb
        .cmd()
        .args(["replay", "last", "--json"])
        .run()
        .code(0)
        .json();
    let calls = common::events_of(&replay, "call");
    assert!(
        calls.iter().any(|e| e["payload"]["args"]["classified_by"]
            .as_str()
            .is_some_and(|r| r.starts_with("commands.allow[0] (read)"))),
        "the record names the rule: {replay}"
    );
}

/// Scripts for the interpreter tests: an allowed one, one elsewhere with the same relative
/// path, and a BASH_ENV file; each leaves a marker file when it runs.
fn scripts(sb: &Sandbox) -> (std::path::PathBuf, std::path::PathBuf) {
    let allowed = sb.path().join("allowed");
    let other = sb.path().join("other");
    for (dir, marker) in [(&allowed, "allowed-ran"), (&other, "other-ran")] {
        std::fs::create_dir_all(dir.join("scripts")).unwrap();
        std::fs::write(
            dir.join("scripts/job.sh"),
            format!("touch {}\n", sb.path().join(marker).display()),
        )
        .unwrap();
    }
    std::fs::write(
        sb.path().join("evil-env.sh"),
        format!("touch {}\n", sb.path().join("bash-env-ran").display()),
    )
    .unwrap();
    let site = sb.site_with_rules(&format!(
        "    - program: /usr/bin/bash\n      script_dir: {}/scripts\n      env: {{LEVEL: 'info|debug'}}\n      why: test\n",
        allowed.display()
    ));
    (site, allowed)
}

#[test]
fn code_loading_variables_never_reach_the_child() {
    let sb = Sandbox::new();
    let (site, allowed) = scripts(&sb);
    let job = allowed.join("scripts/job.sh");
    let evil = sb.path().join("evil-env.sh");
    for var in [
        "BASH_ENV",
        "ENV",
        "PYTHONSTARTUP",
        "LD_PRELOAD",
        "NODE_OPTIONS",
        "UNLISTED",
    ] {
        let out = sb
            .with_site(&site)
            .args(["run", "run-script", "-p"])
            .arg_path("script=", &job)
            .args(["-p"])
            .arg_path("cwd=", sb.path())
            .args(["-p"])
            .arg_path(&format!("setenv={var}="), &evil)
            .run()
            .code(3);
        assert!(out.stderr.contains(var), "{var}: {}", out.stderr);
        assert!(!sb.path().join("bash-env-ran").exists(), "{var} ran code");
        assert!(
            !sb.path().join("allowed-ran").exists(),
            "{var}: the script ran"
        );
    }
    // A listed variable with an allowed value passes.
    sb.with_site(&site)
        .args(["run", "run-script", "-p", "setenv=LEVEL=info", "-p"])
        .arg_path("script=", &job)
        .args(["-p"])
        .arg_path("cwd=", sb.path())
        .run()
        .code(0);
    assert!(sb.path().join("allowed-ran").exists());
}

#[test]
fn a_relative_script_is_checked_where_it_runs() {
    let sb = Sandbox::new();
    let (site, allowed) = scripts(&sb);
    // The runbook starts where the allowed script is; the child runs where another one is.
    let out = sb
        .with_site(&site)
        .cwd(&allowed)
        .args(["run", "run-script", "-p", "script=scripts/job.sh", "-p"])
        .arg_path("cwd=", &sb.path().join("other"))
        .run()
        .code(3);
    assert!(!sb.path().join("other-ran").exists(), "another script ran");
    assert!(out.stderr.contains("run from"), "{}", out.stderr);
    sb.with_site(&site)
        .args(["run", "run-script", "-p", "script=scripts/job.sh", "-p"])
        .arg_path("cwd=", &allowed)
        .run()
        .code(0);
    assert!(sb.path().join("allowed-ran").exists());
}

#[test]
fn a_files_root_holding_a_script_dir_stops_the_site_from_loading() {
    let sb = Sandbox::new();
    let (site, allowed) = scripts(&sb);
    let text = std::fs::read_to_string(&site).unwrap();
    let bad = text.replace(
        "files:\n  roots:\n",
        &format!("files:\n  roots:\n    - {}\n", allowed.display()),
    );
    std::fs::write(&site, bad).unwrap();
    let out = sb
        .with_site(&site)
        .args(["run", "run-script", "-p", "script=scripts/job.sh", "-p"])
        .arg_path("cwd=", &allowed)
        .run()
        .code(2);
    assert!(
        out.stderr
            .contains(&format!("`{}` overlaps", allowed.display()))
            && out.stderr.contains("script_dir"),
        "{}",
        out.stderr
    );
    assert!(!sb.path().join("allowed-ran").exists());
}

#[test]
fn a_command_meets_the_policy_of_the_units_its_rule_says_it_acts_on() {
    let sb = Sandbox::new();
    let path = target(&sb);
    // aurora is ask-first: the door asks for its name typed, which no terminal can give.
    let site = touch_rule(&sb, "      affects: [aurora]\n");
    let out = sb
        .with_site(&site)
        .args(["run", "touch-mutating", "--yes", "-p"])
        .arg_path("path=", &path)
        .run()
        .code(3);
    assert!(!path.exists(), "the command ran without the gate");
    assert!(
        out.stderr.contains("needs `aurora` typed"),
        "{}",
        out.stderr
    );
    // The openclaw gateway is signal-required: without an approved plan a real run is
    // refused; a dry run shows the approval it would need and goes on (so a plan can be made).
    let site = touch_rule(&sb, "      affects: [openclaw-gateway]\n");
    let out = sb
        .with_site(&site)
        .args(["run", "touch-mutating", "-p"])
        .arg_path("path=", &path)
        .run()
        .code(3);
    assert!(
        out.stderr.contains("needs an approval") && out.stderr.contains("approvers: miguel"),
        "{}",
        out.stderr
    );
    assert!(!path.exists());
    let out = sb
        .with_site(&site)
        .args(["run", "touch-mutating", "--dry-run", "-p"])
        .arg_path("path=", &path)
        .run()
        .code(0);
    assert!(
        out.stdout.contains("needs an approved plan"),
        "{}",
        out.stdout
    );
    // A safe unit: it runs.
    let site = touch_rule(&sb, "      affects: [openclaw-bg-worker]\n");
    sb.with_site(&site)
        .args(["run", "touch-mutating", "-p"])
        .arg_path("path=", &path)
        .run()
        .code(0);
    assert!(path.exists());
}
