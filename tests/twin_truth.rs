//! Results that tell the truth, in the twin: triage sees every site unit that is not in its
//! expected state however it got there, every expected container that is not running and
//! healthy; diagnose names a likely cause only when a first check confirmed it; health's watch
//! shows a change as it happens.
//!
//! Needs a running twin (`tests/twin/e2e` brings it up and sets RUNBOOK_TWIN=1).

mod common;

use common::twin::{self, available, exec, exec_ok, lock, must, runbook};
use std::time::{Duration, Instant};

use serde_json::Value;

fn troubles(report: &Value) -> Vec<&Value> {
    report["findings"]
        .as_array()
        .expect("findings array")
        .iter()
        .filter(|f| f["severity"] == "warn" || f["severity"] == "crit")
        .collect()
}

fn brief(findings: &[&Value]) -> String {
    findings
        .iter()
        .map(|f| format!("{} {}: {}", f["severity"], f["subject"], f["summary"]))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Triage with the twin's site; returns the run's JSON and its exit code.
fn triage(site: &str) -> (Value, i32) {
    let out = runbook(&["--site", site, "run", "triage", "--json"]);
    (twin::completed(&out), out.code)
}

/// The crit findings naming `name`.
fn crit_about<'a>(report: &'a Value, name: &str) -> Vec<&'a Value> {
    troubles(report)
        .into_iter()
        .filter(|f| f["severity"] == "crit" && f["subject"].as_str().unwrap().contains(name))
        .collect()
}

/// The newest run in `runbook log --json`, which must be `run_id`.
fn logged(run_id: &str) -> Value {
    let out = runbook(&["log", "--json", "--limit", "1"]);
    assert_eq!(out.code, 0, "{}", out.all());
    let runs = out.json();
    let run = runs[0].clone();
    assert_eq!(run["id"], run_id, "{runs}");
    run
}

/// A site unit stopped (`systemctl stop`, which is not a failure) is a crit finding naming it:
/// the run exits 5 and the log shows it crit. Each unit of the site the twin runs, in turn.
#[test]
fn triage_reports_every_stopped_site_unit_and_exits_5() {
    if !available() {
        return;
    }
    let _g = lock();
    must("reset", &[]);
    let site = twin::install_twin_site();
    let (healthy, code) = triage(site);
    assert!(
        troubles(&healthy).is_empty(),
        "a healthy twin has troubles:\n{}",
        brief(&troubles(&healthy))
    );
    assert_eq!(code, 0);
    let units = twin::site_units_in_twin();
    assert!(units.len() >= 9, "{units:?}");
    for unit in &units {
        exec_ok(&["systemctl", "stop", &format!("{unit}.service")]);
        let (report, code) = triage(site);
        let run_id = report["run_id"].as_str().unwrap().to_string();
        must("reset", &[]);
        let about = crit_about(&report, unit);
        assert!(
            about
                .iter()
                .any(|f| f["summary"].as_str().unwrap().contains("inactive")),
            "{unit} stopped: no crit finding names it as inactive:\n{}",
            brief(&troubles(&report))
        );
        assert_eq!(code, 5, "{unit} stopped");
        assert_eq!(logged(&run_id)["worst"], "crit", "{unit} stopped");
    }
}

/// Other ways a unit or container stops being what the site expects: masked, killed, a
/// container paused or killed.
#[test]
fn triage_reports_masked_killed_units_and_paused_or_killed_containers() {
    if !available() {
        return;
    }
    let _g = lock();
    must("reset", &[]);
    let site = twin::install_twin_site();
    let pg_admin = std::env::var("TWIN_PGADMIN_NAME").unwrap_or_else(|_| "aurora-pgadmin".into());
    let cases: [(&str, &[&str], &str, &str); 4] = [
        (
            "masked",
            &[
                "sh",
                "-c",
                "systemctl mask --runtime caddy.service && systemctl stop caddy.service",
            ],
            "caddy",
            "masked",
        ),
        (
            "killed",
            &[
                "sh",
                "-c",
                "systemctl kill -s KILL cloudflared.service; sleep 1",
            ],
            "cloudflared",
            "",
        ),
        ("paused", &[], "aurora-pgadmin", "paused"),
        ("container killed", &[], "aurora-pgadmin", "not running"),
    ];
    for (how, cmd, culprit, word) in cases {
        match how {
            "paused" => host_docker(&["pause", &pg_admin]),
            "container killed" => host_docker(&["kill", &pg_admin]),
            _ => {
                exec(cmd);
            }
        }
        let (report, code) = triage(site);
        if how == "paused" {
            host_docker(&["unpause", &pg_admin]);
        }
        exec(&["systemctl", "unmask", "--runtime", "caddy.service"]);
        must("reset", &[]);
        // A killed unit that systemd restarted is up again: a warning that it died (crit when
        // it keeps dying); everything else here is down, so crit and exit 5.
        let about: Vec<&Value> = if how == "killed" {
            troubles(&report)
                .into_iter()
                .filter(|f| f["subject"].as_str().unwrap().contains(culprit))
                .collect()
        } else {
            assert_eq!(code, 5, "{how}");
            crit_about(&report, culprit)
        };
        assert!(
            about
                .iter()
                .any(|f| f["summary"].as_str().unwrap().contains(word)),
            "{how}: no finding about {culprit} saying {word:?}:\n{}",
            brief(&troubles(&report))
        );
    }
}

fn host_docker(args: &[&str]) {
    let out = std::process::Command::new("docker")
        .args(args)
        .output()
        .expect("docker runs");
    assert!(out.status.success(), "{}", twin::describe("docker", &out));
}

/// The conclusion of `diagnose -p symptom=ID` (its finding about the symptom itself).
fn diagnose(symptom: &str, site: Option<&str>) -> Value {
    let mut args = vec![];
    if let Some(s) = site {
        args.extend(["--site", s]);
    }
    let p = format!("symptom={symptom}");
    args.extend(["run", "diagnose", "-p", &p, "--json"]);
    let v = twin::completed(&runbook(&args));
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["subject"] == symptom)
        .unwrap_or_else(|| panic!("no conclusion about {symptom}: {v}"))
        .clone()
}

fn claims_cause(conclusion: &Value) -> bool {
    conclusion["summary"]
        .as_str()
        .unwrap()
        .starts_with("likely cause")
}

/// Every symptom runs on a healthy twin and claims no cause; where the twin can produce the
/// cause, the symptom names it.
#[test]
fn diagnose_claims_a_cause_only_when_the_twin_has_it() {
    if !available() {
        return;
    }
    let _g = lock();
    must("reset", &[]);
    let twin_site = Some(twin::install_twin_site());
    let site: serde_yaml::Value =
        serde_yaml::from_str(include_str!("../site/openclaw.yaml")).unwrap();
    let symptoms: Vec<String> = site["symptoms"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(symptoms.len(), 12);
    for s in &symptoms {
        let c = diagnose(s, twin_site);
        assert!(!claims_cause(&c), "healthy twin, {s} claims a cause: {c}");
        assert_eq!(c["severity"], "info", "{s}: {c}");
    }

    // (symptom, how to cause it, what the cause names)
    let stop = |unit: &'static str| {
        move || {
            exec_ok(&["systemctl", "stop", unit]);
        }
    };
    type Cause = (&'static str, Box<dyn Fn()>, &'static str);
    let causes: Vec<Cause> = vec![
        (
            "bot-silent",
            Box::new(stop("openclaw-gateway")),
            "Gateway crashed",
        ),
        (
            "agent-502",
            Box::new(stop("openclaw-gateway")),
            "Gateway down",
        ),
        (
            "agent-502",
            Box::new(stop("cloudflared")),
            "tunnel disconnected",
        ),
        (
            "aurora-502",
            Box::new(stop("aurora")),
            "Aurora app or Caddy down",
        ),
        (
            "aurora-502",
            Box::new(stop("caddy")),
            "Aurora app or Caddy down",
        ),
        (
            "bg-hang",
            Box::new(|| {
                must("fault", &["stale-heartbeat"]);
            }),
            "Worker stuck",
        ),
        (
            "bg-hang",
            Box::new(stop("openclaw-bg-dispatcher")),
            "dispatcher down",
        ),
        (
            "aurora-db-unreachable",
            Box::new(|| {
                must("fault", &["stopped-container"]);
            }),
            "Container restart loop",
        ),
        (
            "ssh-refused",
            Box::new(|| {
                exec_ok(&["fail2ban-client", "set", "sshd", "banip", "203.0.113.7"]);
            }),
            "Banned IP",
        ),
        (
            "agent-sudo-denied",
            Box::new(|| {
                // Denied: the agent's allowlist holds only the bg units' restart/status.
                // sudo logs the denial once it has asked for a password (-n does not log).
                exec(&[
                    "sh",
                    "-c",
                    "echo wrong | runuser -u agent -- sudo -S /usr/bin/cat /etc/shadow",
                ]);
                std::thread::sleep(Duration::from_millis(500));
            }),
            "Command not in the allowlist",
        ),
    ];
    for (symptom, cause, named) in causes {
        must("reset", &[]);
        cause();
        let c = diagnose(symptom, twin_site);
        must("reset", &[]);
        assert!(
            claims_cause(&c) && c["summary"].as_str().unwrap().contains(named),
            "{symptom}: cause {named:?} not named: {c}"
        );
        assert_eq!(c["severity"], "crit", "{c}");
    }

    // Disk and memory pressure: a site whose levels the twin's host is above.
    must("reset", &[]);
    let mut low = site.clone();
    low["thresholds"]["cpu_pressure_percent"] =
        serde_yaml::from_str("{warn: 100, crit: 100}").unwrap();
    for t in ["disk_percent", "memory_percent"] {
        low["thresholds"][t] = serde_yaml::from_str("{warn: 0.001, crit: 0.002}").unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("low.yaml");
    std::fs::write(&path, serde_yaml::to_string(&low).unwrap()).unwrap();
    twin::copy_in(&path, "/etc/runbook/low-levels.yaml");
    for (symptom, named) in [
        ("disk-filling", "Docker JSON logs"),
        ("resource-spike", "Bot retry loop"),
    ] {
        let c = diagnose(symptom, Some("/etc/runbook/low-levels.yaml"));
        assert!(
            claims_cause(&c) && c["summary"].as_str().unwrap().contains(named),
            "{symptom}: cause {named:?} not named: {c}"
        );
    }
    exec(&["rm", "-f", "/etc/runbook/low-levels.yaml"]);
}

/// `health -p watch=1` on a terminal prints the state at once and a change within 3 s of the
/// fault, while it still runs (before Ctrl-C).
#[test]
fn health_watch_shows_a_change_as_it_happens() {
    if !available() {
        return;
    }
    let _g = lock();
    must("reset", &[]);
    let site = twin::install_twin_site();
    exec(&["rm", "-f", "/tmp/watch-tty.out"]);
    // script(1) gives the watch a pseudo-terminal, as an operator's shell would.
    let cmd = format!(
        "script -qfc 'echo $$ > /tmp/watch.pid; exec env NO_COLOR=1 runbook --site {site} run health -p watch=1' \
         /tmp/watch-tty.out >/dev/null 2>&1 </dev/null &"
    );
    exec_ok(&["sh", "-c", &cmd]);
    let read = || exec(&["cat", "/tmp/watch-tty.out"]).stdout;
    let first = twin::poll(Duration::from_secs(15), || read().contains("gateway"));
    assert!(first, "no initial state on the terminal: {}", read());
    must("fault", &["failing-healthz"]);
    let injected = Instant::now();
    let changed = twin::poll(Duration::from_secs(3), || read().contains("ok → crit"));
    let seen_after = injected.elapsed();
    let shown = read();
    // Ctrl-C, as the terminal would send it, to the watch's own process id.
    exec(&["sh", "-c", "kill -INT \"$(cat /tmp/watch.pid)\"; sleep 1"]);
    must("reset", &[]);
    assert!(
        changed,
        "no change shown within 3 s of the fault ({seen_after:?}):\n{shown}"
    );
    let line = shown
        .lines()
        .find(|l| l.contains("ok → crit"))
        .unwrap()
        .to_string();
    // hh:mm:ss first: the time the change was seen.
    let clock = line.trim_start().get(..8).unwrap_or("");
    assert!(
        clock.len() == 8 && clock.as_bytes()[2] == b':' && clock.as_bytes()[5] == b':',
        "no time on the change line: {line}"
    );
    assert!(line.contains("gateway"), "{line}");
}
