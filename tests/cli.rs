//! The command line on the shipped runbooks and on fixtures: list, show, check, parameters.

mod common;

use common::{Runbook, Sandbox, FIXTURES};

#[test]
fn list_shows_every_shipped_runbook_with_its_kind() {
    let out = Runbook::new().args(["list", "--json"]).run().code(0);
    let rows = out.json();
    let names: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    for expected in [
        "triage",
        "restart-unit",
        "restart-safe-units",
        "diagnose",
        "verify-hardening",
        "health",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    let triage = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "triage")
        .unwrap();
    assert_eq!(triage["mutates"], false);
    let restart = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "restart-unit")
        .unwrap();
    assert_eq!(restart["mutates"], true);
    let text = Runbook::new().args(["list"]).run().code(0).stdout;
    assert!(
        text.contains("triage") && text.contains("read-only") && text.contains("mutates"),
        "{text}"
    );
}

#[test]
fn show_reads_header_params_and_steps_without_running() {
    let out = Runbook::new()
        .args(["show", "restart-unit", "--json"])
        .run()
        .code(0);
    let v = out.json();
    assert_eq!(v["name"], "restart-unit");
    assert!(v["params"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == "unit" && p["required"] == true));
    assert!(v["steps"].as_array().unwrap().len() >= 2);
    let text = Runbook::new()
        .fixtures()
        .args(["show", "typed-params"])
        .run()
        .code(0)
        .stdout;
    assert!(
        text.contains("-p unit=") && text.contains("pattern [a-z0-9-]+\\.service"),
        "{text}"
    );
    assert!(text.contains("1. Print"), "{text}");
}

#[test]
fn check_passes_on_shipped_runbooks() {
    let out = Runbook::new().args(["check"]).run().code(0);
    assert!(out.stdout.contains("no errors"), "{}", out.all());
}

#[test]
fn check_reports_file_line_and_column_of_a_syntax_error() {
    let out = Runbook::new()
        .fixtures()
        .args(["check", "syntax-error"])
        .run()
        .code(2);
    let expected = format!("{FIXTURES}/syntax-error.rhai:5:19: ");
    assert!(out.stderr.contains(&expected), "{}", out.stderr);
    assert!(
        out.stderr.contains("let broken = (1 + ;"),
        "source line missing: {}",
        out.stderr
    );
    assert!(
        out.stderr.contains("                      ^"),
        "caret missing: {}",
        out.stderr
    );
}

#[test]
fn unknown_runbook_is_a_usage_error() {
    let out = Runbook::new()
        .args(["run", "no-such-runbook"])
        .run()
        .code(2);
    assert!(
        out.stderr.contains("no runbook named `no-such-runbook`"),
        "{}",
        out.stderr
    );
}

#[test]
fn invalid_parameters_exit_2_before_any_step_runs() {
    let sb = Sandbox::new();
    let cases: [(&[&str], &str); 5] = [
        (
            &["-p", "unit=a.service", "-p", "count=many"],
            "`count` expects an integer",
        ),
        (
            &["-p", "unit=a.service", "-p", "force=maybe"],
            "`force` expects true or false",
        ),
        (&["-p", "unit=NOT A UNIT"], "`unit` must match"),
        (
            &["-p", "unit=a.service", "-p", "colour=red"],
            "unknown parameter `colour`",
        ),
        (&[], "missing required parameter `unit`"),
    ];
    for (params, needle) in cases {
        let out = sb
            .cmd()
            .fixtures()
            .args(["run", "typed-params"])
            .args(params)
            .run()
            .code(2);
        assert!(out.stderr.contains(needle), "{needle}: {}", out.stderr);
        assert!(!out.stdout.contains("unit="), "a step ran: {}", out.stdout);
    }
    assert!(
        !sb.db().exists(),
        "bad parameters must not even open the audit store"
    );
    let ok = sb
        .cmd()
        .fixtures()
        .args([
            "run",
            "typed-params",
            "-p",
            "unit=a.service",
            "-p",
            "count=7",
        ])
        .run()
        .code(0);
    assert!(
        ok.stdout.contains("unit=a.service count=7 force=false"),
        "{}",
        ok.stdout
    );
}

#[test]
fn malformed_kv_is_a_usage_error() {
    let out = Runbook::new()
        .args(["run", "triage", "-p", "no-equals-sign"])
        .run()
        .code(2);
    assert!(out.stderr.contains("KEY=VALUE"), "{}", out.stderr);
}

#[test]
fn help_has_examples_and_completions_and_man_generate() {
    let help = Runbook::new().args(["--help"]).run().code(0).stdout;
    assert!(
        help.contains("Examples:") && help.contains("runbook run triage"),
        "{help}"
    );
    let run_help = Runbook::new().args(["run", "--help"]).run().code(0).stdout;
    assert!(
        run_help.contains("--dry-run") && run_help.contains("OPENCLAW_DRY_RUN"),
        "{run_help}"
    );
    for shell in ["bash", "zsh", "fish"] {
        let c = Runbook::new()
            .args(["completions", shell])
            .run()
            .code(0)
            .stdout;
        assert!(
            c.contains("COMPLETE=") && c.contains("runbook"),
            "{shell}: {c}"
        );
    }
}

#[test]
fn api_lists_every_host_function_with_its_effect() {
    let v = Runbook::new().args(["api", "--json"]).run().code(0).json();
    let rows = v.as_array().unwrap();
    let find = |name: &str| {
        rows.iter()
            .find(|r| r["function"] == name)
            .unwrap_or_else(|| panic!("{name} missing"))
    };
    assert_eq!(find("systemd::status")["effect"], "read");
    assert_eq!(find("systemd::restart")["effect"], "mutate");
    assert_eq!(find("files::replace")["effect"], "mutate");
    // The shell equivalent from the registration: the pattern, arguments in capitals.
    assert_eq!(
        find("systemd::restart")["shell"],
        serde_json::json!(["sudo systemctl restart UNIT"])
    );
    assert_eq!(
        find("host::disk")["shell"],
        serde_json::json!(["df -h PATH"])
    );
    let text = Runbook::new().args(["api"]).run().code(0).stdout;
    assert!(text.contains("    $ sudo docker ps\n"), "{text}");
    for f in ["cmd::run", "docker::exec"] {
        assert_eq!(
            find(f)["effect"],
            "classified by the site's command rules",
            "{f}"
        );
        assert!(
            find(f)["params"]
                .as_array()
                .unwrap()
                .iter()
                .all(|p| p["name"] != "readonly"),
            "{f} lets the caller classify"
        );
    }
    // The rules of the site in force, each with its effect.
    let rules = find("cmd::run")["rules"].as_array().unwrap();
    assert!(
        rules.iter().any(|r| r
            .as_str()
            .unwrap()
            .starts_with("commands.allow[0] (read): /usr/sbin/sshd -T")),
        "{rules:?}"
    );
    assert!(find("docker::exec")["rules"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r
            .as_str()
            .unwrap()
            .starts_with("containers.aurora-postgres.exec[0] (read)")));
    assert!(rows.len() >= 30, "only {} host functions", rows.len());
}
