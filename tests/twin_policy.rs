//! The site's unit policy is enforced by the effect door for every runbook: a runbook with no
//! policy logic of its own (`restart-any`, which just calls `systemd::restart`) is refused or
//! gated exactly as `restart-unit` is, in a dry run as in a real one, against real systemd.
//!
//! Needs a running twin (`tests/twin/e2e` brings it up and sets RUNBOOK_TWIN=1).

mod common;

use std::path::Path;

use common::twin::{available, copy_in, exec, exec_ok, lock, must, runbook};
use common::Run;

fn main_pid(unit: &str) -> String {
    exec_ok(&["systemctl", "show", "-p", "MainPID", "--value", unit])
}

fn install_fixture() {
    exec_ok(&["mkdir", "-p", "/tmp/door"]);
    copy_in(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/twin/restart-any.rhai"),
        "/tmp/door/restart-any.rhai",
    );
}

fn run(runbook_name: &str, unit: &str, signal: Option<&str>, dry: bool) -> Run {
    let mut args = vec!["--runbooks", "/tmp/door", "run", runbook_name, "--yes"];
    let unit_arg = format!("unit={unit}");
    args.extend(["-p", &unit_arg]);
    let signal_arg = signal.map(|s| format!("signal={s}"));
    if let Some(s) = &signal_arg {
        args.extend(["-p", s]);
    }
    if dry {
        args.push("--dry-run");
    }
    runbook(&args)
}

/// The kinds and functions of the last run's events.
fn last_events() -> Vec<serde_json::Value> {
    let replay = runbook(&["replay", "last", "--json"]);
    assert_eq!(replay.code, 0, "{}", replay.all());
    replay.json()["events"].as_array().unwrap().clone()
}

#[test]
fn any_runbooks_restart_meets_the_same_policy_as_restart_unit() {
    if !available() {
        return;
    }
    let _g = lock();
    must("reset", &[]);
    install_fixture();
    // (unit, signal, exit code expected of a real run, of a dry run)
    let cases: [(&str, Option<&str>, i32, i32); 3] = [
        // signal-required without an approved plan: refused; a dry run shows the approval it
        // needs as a gate and goes on, so a plan can be made (tests/twin_approvals.rs).
        ("openclaw-gateway", None, 3, 0),
        // ask-first: typed gate.
        ("aurora", None, 3, 0),
        // not in the site: refused, dry or not.
        ("cron.service", None, 3, 3),
    ];
    for (unit, signal, real_code, dry_code) in cases {
        for dry in [false, true] {
            let pid = main_pid(unit);
            let expected = if dry { dry_code } else { real_code };
            for name in ["restart-unit", "restart-any"] {
                let out = run(name, unit, signal, dry);
                let what = format!("{name} {unit} signal={signal:?} dry={dry}");
                assert_eq!(out.code, expected, "{what}: {}", out.all());
                assert_eq!(main_pid(unit), pid, "{what}: the unit was restarted");
                let events = last_events();
                assert!(
                    !events.iter().any(|e| e["kind"] == "intent"),
                    "{what}: an intent was recorded, so the restart was about to run"
                );
                if name == "restart-any" && expected == 3 {
                    assert!(
                        events.iter().any(|e| e["kind"] == "refused"
                            && e["payload"]["function"] == "systemd::restart"),
                        "{what}: the door did not record its refusal: {events:?}"
                    );
                }
                if name == "restart-any" && unit == "aurora" {
                    let gate = events
                        .iter()
                        .find(|e| e["kind"] == "gate")
                        .unwrap_or_else(|| panic!("{what}: no gate: {events:?}"));
                    assert_eq!(gate["payload"]["gate"], "typed", "{what}");
                    assert_eq!(
                        gate["payload"]["expected"],
                        format!("{}.service", unit.trim_end_matches(".service")),
                        "{what}"
                    );
                }
            }
        }
    }
    must("reset", &[]);
}

/// The door's typed gate is a real gate: typing the unit name on a terminal lets the restart
/// through, and the answer is on the record.
#[test]
fn the_doors_typed_gate_lets_a_restart_through_when_the_name_is_typed() {
    if !available() {
        return;
    }
    let _g = lock();
    must("reset", &[]);
    install_fixture();
    let before = main_pid("aurora");
    let out = exec(&[
        "sh",
        "-c",
        "echo aurora.service | script -qec \"NO_COLOR=1 runbook --runbooks /tmp/door run restart-any -p unit=aurora\" /dev/null",
    ]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert_ne!(main_pid("aurora"), before, "aurora was not restarted");
    let events = last_events();
    let gate = events
        .iter()
        .find(|e| e["kind"] == "gate")
        .expect("gate event");
    assert_eq!(gate["payload"]["approved"], true);
    assert_eq!(gate["payload"]["answer"], "aurora.service");
    let gate_at = events.iter().position(|e| e["kind"] == "gate").unwrap();
    let intent_at = events
        .iter()
        .position(|e| e["kind"] == "intent")
        .expect("intent after the gate");
    assert!(gate_at < intent_at, "the gate must come before the intent");
    must("reset", &[]);
}
