//! The conventions of journalctl and git: `log -n/-u/-r`, nearest names for typos,
//! `--version` with the commit, examples in every subcommand's `--help`, `run -q`.

mod common;

use common::{Runbook, Sandbox};

/// Run ids of `log --json` with `args`, in the order printed.
fn logged(sb: &Sandbox, args: &[&str]) -> Vec<(String, String)> {
    let mut all = vec!["log", "--json"];
    all.extend_from_slice(args);
    let v = sb.cmd().args(all).run().code(0).json();
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_string(),
                r["runbook"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn log_takes_n_u_and_r() {
    let sb = Sandbox::new();
    for name in ["triage", "health", "triage", "health"] {
        sb.cmd().args(["run", name]).run();
    }
    let all = logged(&sb, &[]);
    assert_eq!(all.len(), 4, "{all:?}");
    let names: Vec<&str> = all.iter().map(|(_, n)| n.as_str()).collect();
    assert_eq!(
        names,
        ["health", "triage", "health", "triage"],
        "newest first"
    );

    assert_eq!(logged(&sb, &["-n", "2"]), all[..2]);
    assert_eq!(logged(&sb, &["--lines", "1"]), all[..1]);
    let triage: Vec<_> = all.iter().filter(|(_, n)| n == "triage").cloned().collect();
    assert_eq!(logged(&sb, &["-u", "triage"]), triage);
    assert_eq!(logged(&sb, &["--runbook", "triage"]), triage);

    // -r: the same selection, oldest first.
    let mut newest_two_reversed = all[..2].to_vec();
    newest_two_reversed.reverse();
    assert_eq!(logged(&sb, &["-n", "2", "-r"]), newest_two_reversed);

    // The table too: -n 1 -u health prints one run, the newest health.
    let text = sb
        .cmd()
        .args(["log", "-n", "1", "-u", "health"])
        .run()
        .code(0)
        .stdout;
    let rows: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "{text}");
    assert!(rows[0].starts_with(&all[0].0), "{text}");
}

#[test]
fn a_mistyped_runbook_gets_the_nearest_name() {
    for args in [
        &["show", "triag"][..],
        &["run", "triag"],
        &["show", "diagnoze"],
        &["check", "restart-unti"],
    ] {
        let out = Runbook::new().args(args).run().code(2);
        let want = match args[1] {
            "triag" => "triage",
            "diagnoze" => "diagnose",
            _ => "restart-unit",
        };
        assert!(
            out.stderr.contains(&format!("did you mean `{want}`?")),
            "{args:?}: {}",
            out.stderr
        );
        assert!(
            !out.stderr.contains("verify-hardening"),
            "not the whole list: {}",
            out.stderr
        );
    }
    // Nothing near: the list, so the operator sees what exists.
    let out = Runbook::new().args(["show", "zzzzzzzzzzzz"]).run().code(2);
    assert!(
        out.stderr.contains("known:") && out.stderr.contains("triage"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_mistyped_parameter_gets_the_nearest_key() {
    let sb = Sandbox::new();
    let out = sb
        .cmd()
        .args(["run", "diagnose", "-p", "symptm=aurora-502"])
        .run()
        .code(2);
    assert!(
        out.stderr.contains("did you mean `symptom`?"),
        "{}",
        out.stderr
    );
}

#[test]
fn version_names_the_commit_and_build_date() {
    let out = Runbook::new().args(["--version"]).run().code(0).stdout;
    let head = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let re = regex::Regex::new(
        r"^runbook \d+\.\d+\.\d+ \(([0-9a-f]{12}|unknown) \d{4}-\d{2}-\d{2}\)\n$",
    )
    .unwrap();
    assert!(re.is_match(&out), "{out:?}");
    if let Some(head) = head {
        assert!(out.contains(&head), "built from {head}: {out}");
    }
}

#[test]
fn every_subcommand_help_has_examples() {
    let top = Runbook::new().args(["--help"]).run().code(0).stdout;
    let commands: Vec<String> = top
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter(|l| !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|c| c != "help")
        .collect();
    assert!(commands.len() >= 10, "{top}");
    let mut paths: Vec<Vec<String>> = commands.iter().map(|c| vec![c.clone()]).collect();
    paths.push(vec!["audit".into(), "verify".into()]);
    paths.push(vec!["audit".into(), "export".into()]);
    for path in paths {
        let mut args = path.clone();
        args.push("--help".into());
        let help = Runbook::new().args(&args).run().code(0).stdout;
        assert!(
            help.contains("\nExamples:\n"),
            "{path:?} --help has no examples:\n{help}"
        );
        let first = help
            .lines()
            .skip_while(|l| *l != "Examples:")
            .nth(1)
            .unwrap_or("");
        assert!(
            first.trim_start().starts_with("runbook ")
                || first.trim_start().starts_with("source ")
                || first.contains("runbook "),
            "{path:?}: {first}"
        );
    }
}

#[test]
fn quiet_run_prints_only_the_summary_line() {
    let sb = Sandbox::new();
    let out = sb.cmd().args(["run", "triage", "-q"]).run();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{}", out.stdout);
    assert!(lines[0].contains("runbook replay"), "{}", out.stdout);
    let loud = sb.cmd().args(["run", "triage"]).run();
    assert_eq!(loud.code, out.code);
    assert!(loud.stdout.lines().count() > 3, "{}", loud.stdout);
    assert!(!loud.stdout.starts_with(lines[0]), "{}", loud.stdout);
}
