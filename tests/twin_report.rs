//! The incident report of real runs in the twin, opened in a real browser (headless Chromium)
//! with the network off: a gated restart of the worker, a failing run, a dry run of
//! add-hostname (its diff) and a triage that finds a fault.
//!
//! Needs a running twin (`tests/twin/e2e` brings it up and sets RUNBOOK_TWIN=1) and chromium.

mod common;

use std::path::Path;

use common::browser;
use common::twin::{self, available, exec, exec_ok, lock, must, runbook};

/// The twin's own audit database for this test, so the report holds exactly these runs.
const DB: &str = "/tmp/report-e2e.db";
const FIXTURES: &str = "/tmp/report-e2e-runbooks";

fn in_db(args: &[&str]) -> common::Run {
    let mut full = vec!["--audit-db", DB];
    full.extend_from_slice(args);
    runbook(&full)
}

#[test]
fn a_report_of_twin_runs_opens_offline_and_shows_who_did_what() {
    if !available() || !browser::available() {
        return;
    }
    let _g = lock();
    must("reset", &[]);
    let site = twin::install_twin_site();
    exec_ok(&[
        "rm",
        "-rf",
        DB,
        &format!("{DB}-wal"),
        &format!("{DB}-shm"),
        FIXTURES,
    ]);
    exec_ok(&["mkdir", "-p", FIXTURES]);
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/runbooks/failing-step.rhai");
    twin::copy_in(&fixture, &format!("{FIXTURES}/failing-step.rhai"));

    // A safe unit restarted; its confirmation answered by --yes.
    let out = in_db(&[
        "--site",
        site,
        "run",
        "restart-unit",
        "-p",
        "unit=openclaw-bg-worker",
        "-p",
        "reason=report e2e",
        "--yes",
    ]);
    assert_eq!(out.code, 0, "{}", out.all());
    // A run that fails in a step.
    let out = in_db(&["--runbooks", FIXTURES, "run", "failing-step"]);
    assert_eq!(out.code, 1, "{}", out.all());
    // A dry run of add-hostname: the diff it would write.
    let out = in_db(&[
        "--site",
        site,
        "run",
        "add-hostname",
        "-p",
        "hostname=report.nheo.ai",
        "-p",
        "port=3000",
        "--dry-run",
    ]);
    assert_eq!(out.code, 0, "{}", out.all());
    // Triage with the pgAdmin container stopped: a crit finding.
    must("fault", &["stopped-container"]);
    let out = in_db(&["--site", site, "run", "triage", "--json"]);
    must("reset", &[]);
    assert_eq!(out.code, 5, "{}", out.all());

    let out = in_db(&[
        "report",
        "--since",
        "1 hour ago",
        "-o",
        "/tmp/report-e2e.html",
    ]);
    assert_eq!(out.code, 0, "{}", out.all());
    let html = exec_ok(&["cat", "/tmp/report-e2e.html"]);
    exec(&["rm", "-f", "/tmp/report-e2e.html"]);

    let scratch = tempfile::tempdir().unwrap();
    let file = scratch.path().join("twin-report.html");
    std::fs::write(&file, &html).unwrap();
    let page = browser::load(&file, scratch.path());
    assert!(
        page.requests.is_empty(),
        "the page fetched: {:?}",
        page.requests
    );
    let dom = &page.dom;
    let badge_at = dom.find("id=\"badge\"").expect("a badge");
    let start = dom[..badge_at].rfind('<').unwrap();
    let badge = &dom[start..start + dom[start..].find("</div>").unwrap()];
    assert!(
        badge.contains("badge good") && badge.contains("data-verified=\"true\""),
        "{badge}"
    );
    for shown in [
        // the four runs
        "restart-unit",
        "failing-step",
        "add-hostname",
        "triage",
        // the restart, its gate and who answered it
        "systemd::restart",
        "openclaw-bg-worker",
        "via --yes",
        // the failure
        "disk check failed",
        // the diff add-hostname would write
        "+  - hostname: report.nheo.ai",
        "dry run",
        // triage's finding about the stopped container
        "aurora-pgadmin",
        "exit 5",
    ] {
        assert!(dom.contains(shown), "the page does not show {shown:?}");
    }
    if let Some(ms) = badge
        .split("data-verify-ms=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
    {
        eprintln!("the browser verified the report in {ms} ms");
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/report-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = dir.join("twin-report.png");
    browser::screenshot(&file, &png, scratch.path());
    eprintln!("screenshot: {}", png.display());
}
