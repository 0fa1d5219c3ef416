//! The shipped runbooks in the twin, against real systemd, journald, Docker, sshd, sudo and
//! PostgreSQL: triage sees every fault, restarts follow the site policy and are audited,
//! hardening is verified control by control.
//!
//! Needs a running twin (`tests/twin/e2e` brings it up and sets RUNBOOK_TWIN=1).

mod common;

use common::twin::{self, available, exec, exec_ok, lock, must, runbook};
use std::time::Duration;

use serde_json::Value;

/// Findings of severity warn or crit.
fn troubles(report: &Value) -> Vec<&Value> {
    report["findings"]
        .as_array()
        .expect("findings array")
        .iter()
        .filter(|f| f["severity"] == "warn" || f["severity"] == "crit")
        .collect()
}

/// The unit's main PID as systemd reports it.
fn main_pid(unit: &str) -> String {
    exec_ok(&["systemctl", "show", "-p", "MainPID", "--value", unit])
}

/// Triage with the site as it applies to the twin (twin::install_twin_site).
fn triage() -> Value {
    let site = twin::install_twin_site();
    twin::completed(&runbook(&["--site", site, "run", "triage", "--json"]))
}

fn brief(findings: &[&Value]) -> String {
    findings
        .iter()
        .map(|f| format!("{} {}: {}", f["severity"], f["subject"], f["summary"]))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn triage_on_a_healthy_twin_reports_no_warning() {
    if !available() {
        return;
    }
    let _g = lock();
    must("reset", &[]);
    let report = triage();
    assert_eq!(report["status"], "ok");
    let bad = troubles(&report);
    assert!(
        bad.is_empty(),
        "a healthy twin has troubles:\n{}",
        brief(&bad)
    );
    let subjects: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["subject"].as_str().unwrap())
        .collect();
    for expected in [
        "systemd",
        "disk /",
        "memory",
        "aurora-postgres",
        "aurora-pgadmin",
        "journal",
        "openclaw-bg-worker",
    ] {
        assert!(
            subjects.iter().any(|s| s.starts_with(expected)),
            "no finding about {expected}: {subjects:?}"
        );
    }
}

#[test]
fn triage_names_the_culprit_of_every_fault_and_reset_clears_it() {
    if !available() {
        return;
    }
    let _g = lock();
    let culprits = [
        ("failed-unit", "openclaw-bg-dispatcher"),
        ("crash-loop", "openclaw-owner-policy"),
        ("stopped-container", "aurora-pgadmin"),
        ("stale-heartbeat", "openclaw-bg-worker"),
        ("failing-healthz", "gateway"),
        ("error-burst", "openclaw-bg-worker"),
    ];
    let listed = must("fault", &["list"]);
    for (fault, _) in culprits {
        assert!(
            listed.contains(fault),
            "fault {fault} is not in `fault list`:\n{listed}"
        );
    }
    for (fault, culprit) in culprits {
        must("reset", &[]);
        must("fault", &[fault]);
        let report = triage();
        let bad = troubles(&report);
        assert!(
            bad.iter()
                .any(|f| f["subject"].as_str().unwrap().contains(culprit)),
            "{fault}: no warn/crit finding names {culprit}:\n{}",
            brief(&bad)
        );
        must("reset", &[]);
        let after = triage();
        let bad = troubles(&after);
        assert!(
            bad.is_empty(),
            "{fault}: still troubled after reset:\n{}",
            brief(&bad)
        );
    }
}

#[test]
fn restart_unit_follows_the_site_policy_and_is_audited() {
    if !available() {
        return;
    }
    let _g = lock();
    must("reset", &[]);

    // signal-required without an approved plan: refused, exit 3, the gateway untouched.
    let pid_before = main_pid("openclaw-gateway");
    let out = runbook(&[
        "run",
        "restart-unit",
        "-p",
        "unit=openclaw-gateway",
        "--yes",
    ]);
    assert_eq!(out.code, 3, "{}", out.all());
    assert!(out.stderr.contains("needs an approval"), "{}", out.stderr);
    let pid_after = main_pid("openclaw-gateway");
    assert_eq!(pid_before, pid_after, "the gateway was restarted");

    // Units the site policy does not list: refused.
    let out = runbook(&["run", "restart-unit", "-p", "unit=cron.service", "--yes"]);
    assert_eq!(out.code, 3, "{}", out.all());
    assert!(
        out.stderr.contains("not in the site policy"),
        "{}",
        out.stderr
    );

    // A safe unit restarts with --yes, and the trail shows intent, job result, verification.
    let before = main_pid("openclaw-bg-worker");
    let out = runbook(&[
        "run",
        "restart-unit",
        "-p",
        "unit=openclaw-bg-worker",
        "-p",
        "reason=e2e test",
        "--yes",
    ]);
    assert_eq!(out.code, 0, "{}", out.all());
    let after = main_pid("openclaw-bg-worker");
    assert_ne!(before, after, "the worker's main PID did not change");
    assert!(out.stdout.contains("heartbeat written"), "{}", out.stdout);

    let replay = runbook(&["replay", "last", "--json"]);
    assert_eq!(replay.code, 0, "{}", replay.all());
    let v = replay.json();
    let events = v["events"].as_array().unwrap();
    let intent = events
        .iter()
        .position(|e| e["kind"] == "intent" && e["payload"]["function"] == "systemd::restart")
        .unwrap_or_else(|| panic!("no restart intent: {v}"));
    let outcome = events
        .iter()
        .position(|e| e["kind"] == "outcome" && e["payload"]["function"] == "systemd::restart")
        .expect("restart outcome");
    assert!(intent < outcome, "the intent must come before the outcome");
    assert_eq!(events[outcome]["payload"]["result"]["result"], "done");
    assert!(
        events[outcome..].iter().any(|e| e["step"] == "Verify"
            && e["kind"] == "call"
            && e["payload"]["function"] == "files::stat"),
        "no verification after the restart"
    );
    assert!(events
        .iter()
        .any(|e| e["kind"] == "gate" && e["payload"]["via"] == "--yes"));
}

#[test]
fn restart_safe_units_fixes_safe_units_and_leaves_others_alone() {
    if !available() {
        return;
    }
    let _g = lock();
    must("reset", &[]);
    must("fault", &["failed-unit"]); // openclaw-bg-dispatcher: policy safe
                                     // aurora is ask-first: make it fail too, with the same kind of runtime drop-in the twin's
                                     // faults use (so tests/twin/reset removes it).
    exec_ok(&[
        "sh",
        "-c",
        "mkdir -p /run/systemd/system/aurora.service.d && \
         printf '[Service]\\nRestart=no\\n' > /run/systemd/system/aurora.service.d/50-twin-fault.conf && \
         systemctl daemon-reload && systemctl kill -s KILL aurora",
    ]);
    assert!(
        twin::poll(Duration::from_secs(10), || {
            exec(&["systemctl", "is-failed", "aurora"]).stdout.trim() == "failed"
        }),
        "aurora did not fail"
    );
    let out = runbook(&["run", "restart-safe-units", "--yes", "--json"]);
    twin::completed(&out);
    assert_eq!(
        exec(&["systemctl", "is-active", "openclaw-bg-dispatcher"])
            .stdout
            .trim(),
        "active"
    );
    assert_ne!(
        exec(&["systemctl", "is-active", "aurora"]).stdout.trim(),
        "active",
        "aurora was restarted"
    );
    let v = out.json();
    let left = v["findings"].as_array().unwrap().iter().any(|f| {
        f["subject"].as_str().unwrap().starts_with("aurora")
            && f["summary"].as_str().unwrap().contains("left alone")
    });
    assert!(left, "the run does not say it left aurora alone: {v}");
    must("reset", &[]);
}

#[test]
fn verify_hardening_reports_every_control_and_catches_a_broken_one() {
    if !available() {
        return;
    }
    let _g = lock();
    must("reset", &[]);
    let run = || twin::completed(&runbook(&["run", "verify-hardening", "--json"]));
    let v = run();
    let site = exec_ok(&["cat", "/etc/runbook/site.yaml"]);
    let findings = v["findings"].as_array().unwrap();
    let result = |id: &str| -> String {
        findings
            .iter()
            .find(|f| f["subject"] == id)
            .unwrap_or_else(|| panic!("control {id} not reported"))["summary"]
            .as_str()
            .unwrap()
            .split(':')
            .next()
            .unwrap()
            .to_string()
    };
    // Every control of the site's list is reported.
    for line in site
        .lines()
        .filter(|l| l.trim_start().starts_with("- {id: "))
    {
        let id = line
            .trim_start()
            .trim_start_matches("- {id: ")
            .split(',')
            .next()
            .unwrap();
        result(id);
    }
    for id in [
        "ssh-port",
        "ssh-no-password",
        "ssh-no-root",
        "ssh-no-x11",
        "ssh-no-tcp-forwarding",
        "ssh-maxauthtries",
        "ssh-logingracetime",
        "shm-mount",
        "shm-fstab",
        "docker-no-new-privileges",
        "docker-icc",
        "docker-userland-proxy",
        "docker-live-restore",
        "fail2ban-active",
        "fail2ban-maxretry",
        "fail2ban-bantime",
        "sudoers-miguel",
        "sudoers-juanesteban",
        "sudoers-nat",
        "agent-no-sudo",
    ] {
        assert_eq!(result(id), "pass", "{id}: {findings:?}");
    }
    for id in [
        "kernel-dmesg-restrict",
        "kernel-aslr",
        "kernel-syncookies",
        "ufw-default-deny",
        "ufw-ssh",
    ] {
        assert_eq!(
            result(id),
            "not verifiable here",
            "{id} must be reported as not verifiable in a container"
        );
    }

    // Break exactly one control.
    exec_ok(&[
        "sh",
        "-c",
        "echo 'PasswordAuthentication yes' > /etc/ssh/sshd_config.d/00-e2e-broken.conf",
    ]);
    let broken = run();
    exec_ok(&["rm", "-f", "/etc/ssh/sshd_config.d/00-e2e-broken.conf"]);
    let before: Vec<(String, String)> = findings
        .iter()
        .map(|f| {
            (
                f["subject"].as_str().unwrap().to_string(),
                f["severity"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let changed: Vec<String> = broken["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            !before.contains(&(
                f["subject"].as_str().unwrap().to_string(),
                f["severity"].as_str().unwrap().to_string(),
            ))
        })
        .map(|f| format!("{} {}", f["subject"], f["severity"]))
        .collect();
    assert_eq!(
        changed,
        vec!["\"ssh-no-password\" \"crit\"".to_string()],
        "exactly one control must fail"
    );
}

#[test]
fn diagnose_runs_a_symptoms_first_checks_and_names_the_likely_cause() {
    if !available() {
        return;
    }
    let _g = lock();
    must("reset", &[]);
    let likely = |symptom: &str| -> Value {
        let out = runbook(&[
            "run",
            "diagnose",
            "-p",
            &format!("symptom={symptom}"),
            "--json",
        ]);
        let v = twin::completed(&out);
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["subject"] == symptom)
            .unwrap_or_else(|| panic!("no conclusion about {symptom}: {v}"))
            .clone()
    };
    // Healthy: the first checks find nothing, and the run says so.
    let healthy = likely("agent-502");
    assert_eq!(healthy["severity"], "info", "{healthy}");
    // The gateway answers 503: the guide's likely cause is named, with its next step.
    must("fault", &["failing-healthz"]);
    let sick = likely("agent-502");
    must("reset", &[]);
    assert_eq!(sick["severity"], "crit", "{sick}");
    assert!(
        sick["summary"]
            .as_str()
            .unwrap()
            .contains("Gateway down or tunnel disconnected"),
        "{sick}"
    );
    assert!(!sick["next_step"].as_str().unwrap().is_empty());
    // Symptoms come from the site config; anything else is refused before a step runs.
    let out = runbook(&["run", "diagnose", "-p", "symptom=haunted"]);
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains("must be one of"), "{}", out.stderr);
    let show = runbook(&["show", "diagnose"]);
    assert!(
        show.stdout.contains("aurora-502") && show.stdout.contains("disk-filling"),
        "{}",
        show.stdout
    );
}

/// The journal keeps a copy of each run's start, intents, outcomes and end, with the hashes
/// the audit database holds for them: deleting the database does not erase the trace, and
/// truncating it shows.
#[test]
fn the_journal_mirrors_a_run_with_its_hashes() {
    if !available() {
        return;
    }
    let _g = lock();
    must("reset", &[]);
    let out = runbook(&[
        "run",
        "restart-unit",
        "-p",
        "unit=openclaw-bg-worker",
        "-p",
        "reason=mirror test",
        "--yes",
        "--json",
    ]);
    assert_eq!(out.code, 0, "{}", out.all());
    let run = out.json()["run_id"].as_str().unwrap().to_string();

    // The database's hashes, by seq.
    let export = runbook(&["audit", "export", "--run", &run]);
    assert_eq!(export.code, 0, "{}", export.all());
    let stored: std::collections::BTreeMap<i64, (String, String)> = export
        .stdout
        .lines()
        .map(|l| {
            let e: Value = serde_json::from_str(l).unwrap();
            (
                e["seq"].as_i64().unwrap(),
                (
                    e["kind"].as_str().unwrap().to_string(),
                    e["hash"].as_str().unwrap().to_string(),
                ),
            )
        })
        .collect();

    // journald indexes new entries within a moment.
    let filter = format!("RUNBOOK_RUN={run}");
    let mut mirrored: Vec<Value> = Vec::new();
    let ended = twin::poll(Duration::from_secs(10), || {
        let j = exec_ok(&[
            "journalctl",
            "-o",
            "json",
            "--no-pager",
            "SYSLOG_IDENTIFIER=runbook",
            &filter,
        ]);
        mirrored = j
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        mirrored.iter().any(|e| e["RUNBOOK_KIND"] == "run-end")
    });
    assert!(ended, "no run-end of {run} in the journal: {mirrored:?}");

    let kinds: Vec<&str> = mirrored
        .iter()
        .map(|e| e["RUNBOOK_KIND"].as_str().unwrap())
        .collect();
    for kind in ["run-start", "intent", "outcome", "run-end"] {
        assert!(kinds.contains(&kind), "{kind} not mirrored: {kinds:?}");
    }
    assert!(
        !kinds.contains(&"call"),
        "read-only calls are not mirrored: {kinds:?}"
    );
    for e in &mirrored {
        let seq: i64 = e["RUNBOOK_SEQ"].as_str().unwrap().parse().unwrap();
        let (kind, hash) = &stored[&seq];
        assert_eq!(e["RUNBOOK_KIND"].as_str().unwrap(), kind, "seq {seq}");
        assert_eq!(e["RUNBOOK_HASH"].as_str().unwrap(), hash, "seq {seq}");
    }
}

/// `health -p watch=1` reports every check once, then only changes of state, and Ctrl-C ends
/// it as canceled (exit 130) with the trail intact.
#[test]
fn health_watch_reports_changes_only_and_stops_on_ctrl_c() {
    if !available() {
        return;
    }
    let _g = lock();
    must("reset", &[]);
    // Inside the twin: start the watch, let it run, interrupt it as a terminal would.
    let watch = std::process::Command::new(twin::dir().join("exec"))
        .args([
            "sh",
            "-c",
            "NO_COLOR=1 runbook run health -p watch=1 > /tmp/watch.out 2>&1 & pid=$!; \
             sleep 9; kill -INT $pid; wait $pid; echo \"exit $?\"",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("tests/twin/exec runs");
    std::thread::sleep(Duration::from_secs(3));
    must("fault", &["failing-healthz"]);
    let out = watch.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    must("reset", &[]);
    assert!(
        said.contains("exit 130"),
        "not ended by Ctrl-C as canceled: {said}"
    );

    let replay = runbook(&["replay", "last", "--json"]);
    assert_eq!(replay.code, 0, "{}", replay.all());
    let v = replay.json();
    assert_eq!(v["run"]["runbook"], "health");
    assert_eq!(v["run"]["status"], "canceled");
    let events = v["events"].as_array().unwrap();
    assert!(
        events
            .iter()
            .any(|e| e["kind"] == "run-end" && e["payload"]["status"] == "canceled"),
        "no canceled run-end"
    );
    let findings: Vec<&Value> = events.iter().filter(|e| e["kind"] == "finding").collect();
    let about = |subject: &str| {
        findings
            .iter()
            .filter(|e| {
                e["payload"]["subject"]
                    .as_str()
                    .unwrap_or("")
                    .contains(subject)
            })
            .count()
    };
    // Several rounds ran (9 s at one per second), yet an unchanged check is reported once.
    assert_eq!(about("disk /"), 1, "unchanged disk reported again");
    // The gateway's health went ok → crit during the watch: reported twice, the second time
    // as a transition.
    let gateway: Vec<&&Value> = findings
        .iter()
        .filter(|e| {
            e["payload"]["subject"]
                .as_str()
                .unwrap_or("")
                .starts_with("gateway")
        })
        .collect();
    assert_eq!(gateway.len(), 2, "{gateway:?}");
    assert!(
        gateway[1]["payload"]["summary"]
            .as_str()
            .unwrap()
            .starts_with("ok → "),
        "{gateway:?}"
    );
}
