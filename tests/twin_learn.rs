//! `runbook learn` in the twin, on a real pseudo-terminal (the twin's `docker exec -t` on one
//! this test opens and types into): the triage lesson shows every command of the guide's
//! §8 triage flow and §3 status snapshot, a restart-unit lesson is a dry run by default and
//! restarts the worker with --live and a typed yes, and the record says so.
//!
//! Needs a running twin (`tests/twin/e2e` brings it up and sets RUNBOOK_TWIN=1).

mod common;

use std::process::Command;

use common::lesson::{answer_tries, walk, ASK, PROMPT};
use common::pty::Session;
use common::twin::{self, available, exec, exec_ok, lock, must};
use serde_json::Value;

/// The lessons' own audit database in the twin, so other tests' runs do not mix in.
const DB: &str = "/var/lib/runbook/learn-test.db";

/// The server operations guide, the runbooks' specification, as the repository keeps it.
fn guide() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/server-operations-guide.txt"
    );
    std::fs::read_to_string(path).expect("the operations guide")
}

/// The text of the guide between the line `from` and the next line `to`.
fn section<'a>(text: &'a str, from: &str, to: &str) -> &'a str {
    let start = text
        .find(from)
        .unwrap_or_else(|| panic!("guide has no {from:?}"))
        + from.len();
    let len = text[start..]
        .find(to)
        .unwrap_or_else(|| panic!("guide has no {to:?} after {from:?}"));
    &text[start..start + len]
}

/// The commands of §8's triage flow ("  1. systemctl --no-pager --failed — anything red?",
/// "  6. Drill into the specific unit: journalctl -u <unit> -n 200 --no-pager.") and of §3's
/// quick status snapshot (commands under their comments, `\` continuing a line).
fn guide_commands() -> Vec<String> {
    let text = guide();
    let mut commands = Vec::new();
    let flow = section(&text, "Triage flow", "Symptom");
    for line in flow.lines() {
        let t = line.trim();
        let Some((n, rest)) = t.split_once(". ") else {
            continue;
        };
        if n.parse::<u32>().is_err() {
            continue;
        }
        let cmd = rest.split(" \u{2014} ").next().unwrap_or(rest);
        let cmd = cmd.rsplit_once(": ").map_or(cmd, |(_, c)| c);
        commands.push(cmd.trim().trim_end_matches('.').to_string());
    }
    let snapshot = section(&text, "Quick status snapshot", "Docker containers");
    let mut pending = String::new();
    for line in snapshot.lines() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        match t.strip_suffix('\\') {
            Some(head) => pending.push_str(head),
            None => {
                pending.push_str(t);
                commands.push(std::mem::take(&mut pending));
            }
        }
    }
    assert_eq!(commands.len(), 6 + 5, "{commands:?}");
    commands
}

/// A command's words for comparison: `sudo` dropped (the guide uses it for some reads and
/// not others; both are the same command), `.service` dropped (systemctl and journalctl add
/// it to a bare name), split into `|` segments.
fn segments(line: &str) -> Vec<Vec<String>> {
    let words = shlex::split(line).unwrap_or_else(|| panic!("not a shell line: {line}"));
    let mut out = vec![Vec::new()];
    for w in words {
        match w.as_str() {
            "|" => out.push(Vec::new()),
            "sudo" => {}
            _ => out
                .last_mut()
                .unwrap()
                .push(w.strip_suffix(".service").unwrap_or(&w).to_string()),
        }
    }
    out
}

/// Whether `want`'s words appear in order in `got` (`<unit>` standing for any one word):
/// the shown command may narrow the guide's (`--since`), never leave one of its words out.
fn subsequence(want: &[String], got: &[String]) -> bool {
    let mut it = got.iter();
    want.iter()
        .all(|w| it.any(|g| w == g || (w.starts_with('<') && w.ends_with('>'))))
}

/// One of the shown lines does what the guide's command does. A `grep -E 'a|b'` filter
/// matches when every alternative of the guide's pattern is in one of the shown pattern's.
fn shown(command: &str, lines: &[String]) -> bool {
    let want = segments(command);
    lines.iter().any(|l| {
        let got = segments(l);
        got.len() == want.len()
            && want.iter().zip(&got).all(|(w, g)| {
                if w.first().map(String::as_str) == Some("grep") && w.len() == 3 {
                    let shown_alts: Vec<&str> = g.last().map_or(vec![], |p| p.split('|').collect());
                    w[2].split('|')
                        .all(|alt| shown_alts.iter().any(|s| s.contains(alt)))
                } else {
                    subsequence(w, g)
                }
            })
    })
}

/// `runbook learn ARGS` in the twin on a terminal, with its own audit database and the
/// shipped site file (`up` installs it as /etc/runbook/site.yaml): the shell lines come from
/// the site's units, and the guide's snapshot names all of them.
fn lesson(args: &[&str]) -> Session {
    let mut cmd = Command::new(twin::dir().join("exec"));
    cmd.args([
        "env",
        "NO_COLOR=1",
        "TERM=dumb",
        "runbook",
        "--audit-db",
        DB,
    ])
    .arg("learn")
    .args(args);
    Session::spawn(cmd)
}

fn runbook_json(args: &[&str]) -> Value {
    let mut full = vec!["--audit-db", DB];
    full.extend_from_slice(args);
    let out = twin::runbook(&full);
    assert_eq!(out.code, 0, "{}", out.all());
    out.json()
}

/// The state of `operator`'s triage lesson in `learn --status --json`, and the whole status.
fn triage_state(operator: &Value) -> (Value, Value) {
    let status = runbook_json(&["learn", "--status", "--json"]);
    let state = status["operators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| &r["operator"] == operator)
        .unwrap_or_else(|| panic!("{status}"))["lessons"]["triage"]["state"]
        .clone();
    (state, status)
}

fn main_pid(unit: &str) -> String {
    exec_ok(&["systemctl", "show", "-p", "MainPID", "--value", unit])
}

fn fresh_db() {
    exec_ok(&["rm", "-f", DB, &format!("{DB}-wal"), &format!("{DB}-shm")]);
}

#[test]
fn the_triage_lesson_shows_every_guide_command_and_is_learned() {
    if !available() {
        return;
    }
    let _g = lock();
    must("reset", &[]);
    fresh_db();
    // A unit that logged errors, so the flow's sixth step (drill into it) runs too.
    must("fault", &["error-burst"]);
    let s = lesson(&["triage"]);
    let (code, screen) = walk(
        s,
        |q| {
            if q.contains("explicit signal") {
                "openclaw-gateway".into()
            } else {
                "df -h /".into()
            }
        },
        "n",
    );
    must("reset", &[]);
    assert!(code == 0 || code == 5, "exit {code}:\n{screen}");
    let steps = screen.matches("== Step ").count();
    let declared = include_str!("../runbooks/triage.rhai")
        .lines()
        .filter(|l| l.starts_with("step \""))
        .count();
    assert_eq!(steps, declared, "{screen}");
    let lines: Vec<String> = screen
        .lines()
        .filter_map(|l| l.trim().strip_prefix("$ "))
        .map(|l| l.trim_end_matches("# dry run: not done").trim().to_string())
        .collect();
    let missing: Vec<String> = guide_commands()
        .into_iter()
        .filter(|c| !shown(c, &lines))
        .collect();
    assert!(
        missing.is_empty(),
        "guide commands not among the shell lines shown: {missing:?}\nshown:\n{}",
        lines.join("\n")
    );
    // Each step ran, its findings explained.
    assert!(screen.contains("[ok] disk /:"), "{screen}");
    assert!(screen.contains("means: "), "{screen}");
    assert!(
        screen.contains("openclaw-bg-worker.service: last "),
        "the drill did not run:\n{screen}"
    );
    assert!(screen.is_ascii(), "non-ASCII output:\n{screen}");

    let log = runbook_json(&["log", "--json"]);
    assert_eq!(log[0]["runbook"], "triage");
    assert_eq!(log[0]["kind"], "learn");
    let (state, status) = triage_state(&log[0]["operator"]);
    assert_eq!(state, "learned", "{status}");

    // One byte added to the installed runbook: the lesson is stale; put back, learned again.
    let path = "/usr/local/share/runbook/runbooks/triage.rhai";
    exec_ok(&[
        "sh",
        "-c",
        &format!("cp {path} /tmp/triage.rhai.orig && printf ' ' >> {path}"),
    ]);
    let (stale, status) = triage_state(&log[0]["operator"]);
    exec_ok(&["cp", "/tmp/triage.rhai.orig", path]);
    assert_eq!(stale, "stale", "{status}");
    let (back, status) = triage_state(&log[0]["operator"]);
    assert_eq!(back, "learned", "{status}");
}

#[test]
fn a_restart_unit_lesson_is_a_dry_run_and_restarts_only_live() {
    if !available() {
        return;
    }
    let _g = lock();
    must("reset", &[]);
    fresh_db();
    let unit = "openclaw-bg-worker.service";
    let before = main_pid(unit);
    let s = lesson(&["restart-unit", "-p", "unit=openclaw-bg-worker"]);
    let (code, screen) = walk(s, |_| "openclaw-bg-worker".into(), "y");
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("This lesson is a DRY RUN"), "{screen}");
    assert!(
        screen.contains("policy:       openclaw-bg-worker: safe to restart: yes"),
        "{screen}"
    );
    assert!(
        screen
            .contains("$ sudo systemctl restart openclaw-bg-worker.service   # dry run: not done"),
        "{screen}"
    );
    assert!(screen.contains("right."), "{screen}");
    assert_eq!(
        main_pid(unit),
        before,
        "a dry-run lesson restarted the worker"
    );
    let dry = runbook_json(&["replay", "last", "--json"]);
    assert_eq!(dry["run"]["dry_run"], true, "{dry}");
    assert_eq!(dry["run"]["kind"], "learn");

    let s = lesson(&["restart-unit", "-p", "unit=openclaw-bg-worker", "--live"]);
    let (code, screen) = walk(s, |_| "openclaw-bg-worker".into(), "y");
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("LIVE lesson"), "{screen}");
    assert!(
        screen.contains("Restart openclaw-bg-worker.service? [y/N]"),
        "{screen}"
    );
    let after = main_pid(unit);
    assert_ne!(after, before, "the live lesson did not restart the worker");
    let live = runbook_json(&["replay", "last", "--json"]);
    assert_eq!(live["run"]["dry_run"], false);
    let gates = common::events_of(&live, "gate");
    assert_eq!(gates.len(), 1, "{gates:?}");
    assert_eq!(gates[0]["payload"]["approved"], true);
    assert_eq!(gates[0]["payload"]["via"], "terminal");
    assert_eq!(gates[0]["payload"]["answer"], "y");
    assert_eq!(common::events_of(&live, "outcome").len(), 1);
    let log = runbook_json(&["log", "--json"]);
    assert_eq!(log[0]["kind"], "learn");
}

#[test]
fn without_a_terminal_a_lesson_refuses_with_exit_2() {
    if !available() {
        return;
    }
    let _g = lock();
    let out = exec(&["runbook", "--audit-db", DB, "learn", "triage"]);
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(
        out.stderr.contains("learning needs a person"),
        "{}",
        out.stderr
    );
}

/// On the twin's terminal: a wrong answer shows the hint and lets the learner try again, and
/// `q` at the next step ends the lesson as canceled, recorded with both tries.
#[test]
fn a_wrong_answer_shows_the_hint_and_q_ends_the_lesson_canceled() {
    if !available() {
        return;
    }
    let _g = lock();
    must("reset", &[]);
    fresh_db();
    let mut s = lesson(&["triage"]);
    s.expect(": Units ==");
    s.expect(PROMPT);
    s.line("");
    s.expect("explicit signal");
    s.expect(ASK);
    s.line("caddy");
    s.expect("not quite. hint: ");
    s.expect(ASK);
    s.line("openclaw-gateway");
    s.expect("right.");
    s.expect(": Root disk ==");
    s.expect(PROMPT);
    s.line("q");
    s.expect("recorded as canceled");
    let (code, screen) = s.finish();
    assert_eq!(code, 130, "{screen}");

    let log = runbook_json(&["log", "--json"]);
    assert_eq!(log[0]["runbook"], "triage", "{log}");
    assert_eq!(log[0]["kind"], "learn", "{log}");
    assert_eq!(log[0]["status"], "canceled", "{log}");
    let replay = runbook_json(&["replay", "last", "--json"]);
    assert_eq!(answer_tries(&replay), [(false, 1), (true, 2)], "{replay}");
    // A canceled lesson is not learned.
    let (state, status) = triage_state(&log[0]["operator"]);
    assert_ne!(state, "learned", "{status}");
}
