//! `runbook learn` on a real pseudo-terminal, on this machine: the walker's keys, the
//! record of a lesson, checks of understanding, the status matrix. What it shows of a real
//! server (systemd, the guide's commands, a restart) is in tests/twin_learn.rs.

mod common;

use common::lesson::{answer_tries, walk, END, PROMPT};
use common::Sandbox;
use serde_json::Value;

fn status_json(sb: &Sandbox, dir: Option<&std::path::Path>) -> Value {
    let mut cmd = sb.cmd();
    if let Some(d) = dir {
        cmd = cmd.args(["--runbooks".as_ref(), d.as_os_str()]);
    }
    cmd.args(["learn", "--status", "--json"])
        .run()
        .code(0)
        .json()
}

fn cell<'a>(status: &'a Value, runbook: &str) -> &'a Value {
    let rows = status["operators"].as_array().expect("operators");
    let me = rows
        .iter()
        .find(|r| r["lessons"][runbook]["state"] != "never")
        .unwrap_or_else(|| &rows[0]);
    &me["lessons"][runbook]
}

#[test]
fn without_a_terminal_it_refuses_with_exit_2_and_changes_nothing() {
    let sb = Sandbox::new();
    let out = sb.cmd().args(["learn", "triage"]).run().code(2);
    assert!(
        out.stderr.contains("learning needs a person"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("runbook run triage"), "{}", out.stderr);
    assert!(
        !sb.db().exists(),
        "a refused lesson created the audit store"
    );
}

#[test]
fn a_triage_lesson_is_recorded_as_a_learn_run_and_learned() {
    let sb = Sandbox::new();
    let s = sb.cmd().args(["learn", "triage"]).session();
    let answer = |q: &str| {
        // The first try at the signal question is wrong on purpose: the hint must show.
        if q.contains("explicit signal") {
            if !HINTED.swap(true, std::sync::atomic::Ordering::SeqCst) {
                "caddy".into()
            } else {
                "openclaw-gateway".into()
            }
        } else if q.contains("Which command") {
            "df -h /".into()
        } else {
            String::new()
        }
    };
    let (code, screen) = walk(s, answer, "n");
    // 0, or 5 when this machine has crit findings (no systemd here): a completed lesson.
    assert!(code == 0 || code == 5, "exit {code}:\n{screen}");
    for step in [
        "Units",
        "Root disk",
        "Memory",
        "Containers",
        "Journal errors",
        "Health endpoints",
        "Worker heartbeat",
        "fail2ban",
    ] {
        assert!(
            screen.contains(&format!(": {step} ==")),
            "{step}:\n{screen}"
        );
    }
    assert!(screen.contains("$ df -h /"), "{screen}");
    assert!(screen.contains("$ free -h"), "{screen}");
    assert!(
        screen.contains("not quite. hint: its site policy is signal-required"),
        "{screen}"
    );
    assert!(screen.contains("right."), "{screen}");
    assert!(screen.is_ascii(), "non-ASCII output:\n{screen}");

    let log = sb.cmd().args(["log", "--json"]).run().code(0).json();
    assert_eq!(log[0]["runbook"], "triage");
    assert_eq!(log[0]["kind"], "learn");
    let text = sb.cmd().args(["log"]).run().code(0).stdout;
    assert!(text.contains("triage (learn)"), "{text}");
    let replay = sb
        .cmd()
        .args(["replay", "last", "--json"])
        .run()
        .code(0)
        .json();
    assert_eq!(
        answer_tries(&replay),
        [(false, 1), (true, 2), (true, 1)],
        "{replay}"
    );

    let status = status_json(&sb, None);
    assert_eq!(cell(&status, "triage")["state"], "learned", "{status}");
    assert_eq!(cell(&status, "health")["state"], "never", "{status}");
    let table = sb.cmd().args(["learn", "--status"]).run().code(0).stdout;
    assert!(table.contains("learned 20"), "{table}");
    // The next lesson is the first of the curriculum not learned.
    let next = sb.cmd().args(["learn"]).run().code(0).stdout;
    assert!(next.contains("runbook learn verify-hardening"), "{next}");
}

static HINTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

#[test]
fn q_in_the_middle_ends_the_lesson_as_canceled_and_records_it() {
    let sb = Sandbox::new();
    let mut s = sb.cmd().args(["learn", "triage"]).session();
    s.expect(": Units ==");
    s.expect(PROMPT);
    s.line("s");
    s.expect(": Root disk ==");
    s.expect(PROMPT);
    s.line("?");
    s.expect("| step \"Root disk\" {");
    s.expect(PROMPT);
    s.line("q");
    s.expect("recorded as canceled");
    let (code, screen) = s.finish();
    assert_eq!(code, 130, "{screen}");
    let log = sb.cmd().args(["log", "--json"]).run().code(0).json();
    assert_eq!(log[0]["status"], "canceled");
    assert_eq!(log[0]["kind"], "learn");
    let replay = sb
        .cmd()
        .args(["replay", "last", "--json"])
        .run()
        .code(0)
        .json();
    let ends = common::events_of(&replay, "step-end");
    assert_eq!(ends.len(), 1, "{ends:?}");
    assert_eq!(ends[0]["payload"]["status"], "skipped");
    assert!(common::events_of(&replay, "call")
        .iter()
        .all(|c| c["payload"]["function"] != "host::disk"));
    assert_eq!(cell(&status_json(&sb, None), "triage")["state"], "never");
}

const WRITER: &str = "//! name: note
//! summary: write a note
//! mutates: true

// sudo tee the note
step \"Write\" {
    confirm(\"Write the note?\");
    files::replace(`${site::config().files.roots[0]}/note.txt`, \"after\\n\");
}
";

/// A lesson of a mutating runbook changes nothing without --live; with it, every gate asks.
#[test]
fn a_mutating_lesson_is_a_dry_run_unless_live_and_live_keeps_the_gate() {
    let sb = Sandbox::new();
    let site = sb.site(&[]);
    let note = sb.path().join("files").join("note.txt");
    std::fs::write(&note, "before\n").unwrap();
    let dir = sb.tree(&[("note", WRITER)], &[]);

    let s = sb.in_tree(&dir, &site).args(["learn", "note"]).session();
    let (code, screen) = walk(s, |_| String::new(), "n");
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("DRY RUN"), "{screen}");
    assert!(
        screen.contains("would change: files::replace (dry run: shown, not done)"),
        "{screen}"
    );
    assert!(screen.contains("# dry run: not done"), "{screen}");
    assert!(screen.is_ascii(), "non-ASCII output:\n{screen}");
    assert_eq!(std::fs::read_to_string(&note).unwrap(), "before\n");

    let mut s = sb
        .in_tree(&dir, &site)
        .args(["learn", "note", "--live"])
        .session();
    s.expect(PROMPT);
    // A live lesson keeps every gate: a step that asks one cannot be skipped.
    s.line("s");
    s.expect("a live lesson keeps every gate");
    s.expect(PROMPT);
    s.line("");
    s.expect("Write the note? [y/N]");
    s.line("y");
    s.expect(END);
    let (code, screen) = s.finish();
    assert_eq!(code, 0, "{screen}");
    assert_eq!(std::fs::read_to_string(&note).unwrap(), "after\n");
    let replay = sb
        .cmd()
        .args(["replay", "last", "--json"])
        .run()
        .code(0)
        .json();
    let gates = common::events_of(&replay, "gate");
    assert_eq!(gates.len(), 1, "{gates:?}");
    assert_eq!(gates[0]["payload"]["approved"], true);
    assert_eq!(gates[0]["payload"]["via"], "terminal");
    assert_eq!(common::events_of(&replay, "outcome").len(), 1);
}

/// The site file without its curriculum: then every runbook is a column of the status.
fn without_curriculum(site: &std::path::Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(site).unwrap();
    let mut out = String::new();
    let mut skip = false;
    for line in text.lines() {
        if !line.starts_with(' ') && !line.starts_with('#') && !line.is_empty() {
            skip = line.starts_with("curriculum:");
        }
        if !skip {
            out.push_str(line);
            out.push('\n');
        }
    }
    let path = site.with_file_name("site-no-curriculum.yaml");
    std::fs::write(&path, out).unwrap();
    path
}

/// One byte changed in a learned runbook: its lesson is stale.
#[test]
fn one_changed_byte_makes_a_learned_runbook_stale() {
    let sb = Sandbox::new();
    let source = "//! name: disk
//! summary: the root disk
//! mutates: false

// df -h /
step \"Disk\" {
    host::disk(\"/\");
}
";
    let dir = sb.tree(&[("disk", source)], &[]);
    let site = without_curriculum(&sb.site(&[]));
    let s = sb.in_tree(&dir, &site).args(["learn", "disk"]).session();
    let (code, screen) = walk(s, |_| String::new(), "n");
    assert_eq!(code, 0, "{screen}");
    let status = |sb: &Sandbox| {
        sb.cmd()
            .args(["--runbooks".as_ref(), dir.as_os_str()])
            .args(["--site".as_ref(), site.as_os_str()])
            .args(["learn", "--status", "--json"])
            .run()
            .code(0)
            .json()
    };
    // Without a curriculum in this site, every runbook is a column.
    assert_eq!(cell(&status(&sb), "disk")["state"], "learned");
    std::fs::write(dir.join("disk.rhai"), source.replace("df -h /", "df -h ?")).unwrap();
    let after = status(&sb);
    assert_eq!(cell(&after, "disk")["state"], "stale", "{after}");
}
