//! The systemd, Docker and journal host functions against the real services in the twin.

mod common;

use std::path::Path;

use common::twin::{available, copy_in, exec, exec_ok, lock, must, runbook};
use serde_json::Value;

fn evidence<'a>(report: &'a Value, subject: &str) -> &'a Value {
    &report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["subject"] == subject)
        .unwrap_or_else(|| panic!("no {subject} in {report}"))["evidence"]
}

#[test]
fn systemd_docker_and_journal_functions_on_real_services() {
    if !available() {
        return;
    }
    let _g = lock();
    must("reset", &[]);
    must("fault", &["failed-unit"]);
    exec_ok(&["mkdir", "-p", "/tmp/probe"]);
    copy_in(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/twin/host-probe.rhai"),
        "/tmp/probe/host-probe.rhai",
    );
    let out = runbook(&[
        "--runbooks",
        "/tmp/probe",
        "run",
        "host-probe",
        "--json",
        "-p",
        "failed_unit=openclaw-bg-dispatcher.service",
    ]);
    must("reset", &[]);
    assert_eq!(out.code, 0, "{}", out.all());
    let r = out.json();

    let running = evidence(&r, "status-running");
    assert_eq!(running["active_state"], "active");
    assert_eq!(running["sub_state"], "running");
    assert_eq!(running["load_state"], "loaded");
    assert!(running["main_pid"].as_i64().unwrap() > 1);
    assert!(running["active_since"].is_string());
    assert_eq!(running["unit_file_state"], "enabled");

    let failed = evidence(&r, "status-failed");
    assert_eq!(failed["active_state"], "failed");
    assert!(evidence(&r, "failed")
        .as_array()
        .unwrap()
        .iter()
        .any(|u| u["name"] == "openclaw-bg-dispatcher.service"));
    assert!(evidence(&r, "list").as_array().unwrap().len() >= 4);
    let many = evidence(&r, "statuses").as_array().unwrap();
    assert_eq!(many.len(), 3, "{many:?}");
    let by = |u: &str| {
        many.iter()
            .find(|s| s["unit"] == u)
            .unwrap_or_else(|| panic!("{u} missing"))
    };
    assert_eq!(by("openclaw-gateway.service")["active_state"], "active");
    assert!(by("openclaw-gateway.service")["main_pid"].as_i64().unwrap() > 1);
    assert_eq!(by("openclaw-gateway.service")["n_restarts"], 0);
    assert_eq!(
        by("openclaw-bg-dispatcher.service")["active_state"],
        "failed"
    );
    assert_eq!(by("no-such-unit.service")["load_state"], "not-found");

    assert_eq!(evidence(&r, "restart")["result"], "done");
    let reload_err = evidence(&r, "reload-unsupported-error").as_str().unwrap();
    assert!(reload_err.contains("cannot reload"), "{reload_err}");
    assert_eq!(evidence(&r, "reload-supported")["result"], "done");

    let containers = evidence(&r, "containers").as_array().unwrap();
    let pg = containers
        .iter()
        .find(|c| c["name"] == "aurora-postgres")
        .expect("aurora-postgres listed");
    assert_eq!(pg["state"], "running");
    assert_eq!(evidence(&r, "container")["running"], true);
    let ex = evidence(&r, "exec");
    assert_eq!(ex["exit_code"], 0);
    assert_eq!(ex["stdout"].as_str().unwrap().trim(), "5");

    assert!(!evidence(&r, "entries").as_array().unwrap().is_empty());
    assert_eq!(
        exec(&["systemctl", "is-active", "openclaw-bg-worker"])
            .stdout
            .trim(),
        "active"
    );
}

/// `journal::error_counts` over the whole journal is counted in process (libsystemd's
/// sd-journal, loaded at run time): it must count what journalctl shows, by the same keys.
#[test]
fn in_process_error_counts_match_journalctl() {
    if !available() {
        return;
    }
    let _g = lock();
    must("reset", &[]);
    must("fault", &["error-burst"]);
    exec_ok(&["mkdir", "-p", "/tmp/journal-probe"]);
    copy_in(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/twin/journal-probe.rhai"),
        "/tmp/journal-probe/journal-probe.rhai",
    );
    let out = runbook(&[
        "--runbooks",
        "/tmp/journal-probe",
        "run",
        "journal-probe",
        "--json",
    ]);
    assert_eq!(out.code, 0, "{}", out.all());
    let counts = evidence(&out.json(), "counts").clone();
    // The same window through journalctl, keyed as error_counts keys entries.
    let lines = exec_ok(&[
        "journalctl",
        "-o",
        "json",
        "--no-pager",
        "-p",
        "3",
        "--since",
        "10 minutes ago",
    ]);
    let mut expected: std::collections::BTreeMap<String, u64> = Default::default();
    for line in lines.lines() {
        let e: Value = serde_json::from_str(line).unwrap();
        let key = ["UNIT", "_SYSTEMD_UNIT", "SYSLOG_IDENTIFIER"]
            .iter()
            .find_map(|k| e[*k].as_str())
            .unwrap_or("unknown")
            .to_string();
        *expected.entry(key).or_default() += 1;
    }
    must("reset", &[]);
    let total: u64 = expected.values().sum();
    assert!(
        total >= 5,
        "the error burst is in the journal: {expected:?}"
    );
    assert_eq!(counts["reader"], "sd-journal", "{counts}");
    assert_eq!(counts["total"], total, "{counts}");
    assert_eq!(
        counts["by_unit"],
        serde_json::to_value(&expected).unwrap(),
        "{counts}"
    );
}
