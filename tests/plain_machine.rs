//! The shipped triage and diagnose on a plain machine: no systemd on the bus address, no
//! Docker engine behind the socket, no journal files. Every check that cannot run says so
//! (never `ok`), and nothing crashes.

mod common;

use common::{Runbook, Sandbox};
use serde_json::Value;

/// `runbook` with the shipped runbooks and site, and every backend pointed at nothing: the
/// system bus and the Docker socket at paths that do not exist.
fn plain(sb: &Sandbox) -> Runbook {
    let none = sb.path().join("nothing-listens-here");
    sb.cmd()
        .env(
            "DBUS_SYSTEM_BUS_ADDRESS",
            format!("unix:path={}", none.display()),
        )
        .env("DOCKER_HOST", format!("unix://{}", none.display()))
}

/// The shipped site with `paths.journal_dir` set to `dir`.
fn site_with_journal_dir(sb: &Sandbox, dir: &std::path::Path) -> std::path::PathBuf {
    let base = include_str!("../site/openclaw.yaml");
    let text = base.replacen(
        "  journalctl: /usr/bin/journalctl\n",
        &format!(
            "  journalctl: /usr/bin/journalctl\n  journal_dir: {}\n",
            dir.display()
        ),
        1,
    );
    assert_ne!(
        text, base,
        "site/openclaw.yaml has no paths.journalctl line"
    );
    let path = sb.path().join("site.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

fn finding<'a>(v: &'a Value, subject: &str) -> &'a Value {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["subject"] == subject)
        .unwrap_or_else(|| panic!("no finding about {subject}: {v}"))
}

/// A run that completed (0, or 5 for a crit finding), never failed or crashed.
fn completed(out: &common::Run) -> Value {
    assert!(
        out.code == 0 || out.code == 5,
        "did not complete (exit {}): {}",
        out.code,
        out.all()
    );
    assert!(!out.all().contains("panicked"), "{}", out.all());
    out.json()
}

#[test]
fn triage_without_journal_files_does_not_say_the_journal_is_clean() {
    let sb = Sandbox::new();
    let empty = sb.path().join("journal");
    std::fs::create_dir(&empty).unwrap();
    let site = site_with_journal_dir(&sb, &empty);
    let out = plain(&sb)
        .args(["--site".as_ref(), site.as_os_str()])
        .args(["run", "triage", "--json"])
        .run();
    let v = completed(&out);
    let journal = finding(&v, "journal");
    assert_eq!(journal["severity"], "warn", "{journal}");
    let summary = journal["summary"].as_str().unwrap();
    assert!(
        summary.contains("could not check the journal") && summary.contains("no journal files"),
        "{summary}"
    );
    // Neither systemd nor Docker answers: each is a warning naming what was not checked.
    for (subject, what) in [
        ("systemd", "could not check the units"),
        ("docker", "could not check the containers"),
    ] {
        let f = finding(&v, subject);
        assert_eq!(f["severity"], "warn", "{f}");
        assert!(f["summary"].as_str().unwrap().contains(what), "{f}");
    }
    // No finding claims a backend that did not answer is fine.
    for f in v["findings"].as_array().unwrap() {
        if f["severity"] == "ok" {
            let s = f["subject"].as_str().unwrap();
            assert!(
                !["systemd", "docker", "journal"].contains(&s) && !s.ends_with(".service"),
                "ok about something that could not be checked: {f}"
            );
        }
    }
}

#[test]
fn every_diagnose_symptom_runs_to_the_end_without_systemd_docker_or_journal() {
    let sb = Sandbox::new();
    let empty = sb.path().join("journal");
    std::fs::create_dir(&empty).unwrap();
    let site = site_with_journal_dir(&sb, &empty);
    let symptoms: Vec<String> =
        serde_yaml::from_str::<Value>(include_str!("../site/openclaw.yaml")).unwrap()["symptoms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_string())
            .collect();
    assert_eq!(symptoms.len(), 12, "{symptoms:?}");
    for symptom in &symptoms {
        let out = plain(&sb)
            .args(["--site".as_ref(), site.as_os_str()])
            .args([
                "run",
                "diagnose",
                "-p",
                &format!("symptom={symptom}"),
                "--json",
            ])
            .run();
        let v = completed(&out);
        let findings = v["findings"].as_array().unwrap();
        assert!(findings.len() >= 2, "{symptom}: {v}");
        let conclusion = finding(&v, symptom);
        let summary = conclusion["summary"].as_str().unwrap();
        // A likely cause is named only with a confirming finding from a check that ran.
        if summary.starts_with("likely cause") {
            assert!(
                findings.iter().any(|f| f["subject"] != symptom.as_str()
                    && (f["severity"] == "crit" || f["severity"] == "warn")
                    && !f["summary"]
                        .as_str()
                        .unwrap()
                        .starts_with("could not check")),
                "{symptom}: cause named without evidence: {v}"
            );
        }
        // Checks that could not run are named as such, and never make the conclusion "ok".
        assert_ne!(conclusion["severity"], "ok", "{symptom}: {conclusion}");
    }
}

#[test]
fn diagnose_without_or_with_a_misspelt_symptom_lists_the_symptoms() {
    let sb = Sandbox::new();
    let out = Runbook::new()
        .env("RUNBOOK_AUDIT_DB", sb.db())
        .args(["run", "diagnose"])
        .run()
        .code(2);
    for row in [
        "ssh-timeout",
        "SSH \"Connection timed out\"",
        "agent-sudo-denied",
    ] {
        assert!(out.stderr.contains(row), "{row} not listed: {}", out.stderr);
    }
    let out = Runbook::new()
        .env("RUNBOOK_AUDIT_DB", sb.db())
        .args(["run", "diagnose", "-p", "symptom=aurora-520"])
        .run()
        .code(2);
    assert!(
        out.stderr.contains("did you mean `aurora-502`?"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("disk-filling"), "{}", out.stderr);
}
