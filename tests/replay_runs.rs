//! `runbook replay` of runs made by the real binary: what the door, the builtins and the
//! executor actually record, read back by `replay` as text and as JSON.
//!
//! The snapshots under `tests/snapshots/` are the replays of four runs (passing, failing, dry,
//! refused) with what changes from run to run redacted: times, offsets, run ids, hashes,
//! durations, the host and the operator (machine-dependent; the identity tests cover them),
//! and the scratch directory. After an intended change to what is recorded or shown, rewrite
//! them with `UPDATE_SNAPSHOTS=1 cargo test --test replay_runs` and review the diff.

mod common;

use std::path::{Path, PathBuf};

use common::{Run, Runbook, Sandbox};
use regex::Regex;
use serde_json::Value;

const RUNBOOKS: &[(&str, &str)] = &[
    (
        "snap-pass",
        r#"//! name: snap-pass
//! summary: Reads a file and reports what it found
//! mutates: false
//! param dir: string, required -- the directory to look in
step "Look" {
    let motd = files::read(`${params.dir}/motd`);
    print(`motd has ${motd.size} bytes`);
    report(#{subject: "motd", severity: "info", summary: `motd is ${motd.size} bytes`});
}
"#,
    ),
    (
        "snap-fail",
        r#"//! name: snap-fail
//! summary: Reads a file that is not there
//! mutates: false
//! param dir: string, required -- the directory to look in
step "Look" {
    files::exists(`${params.dir}/motd`);
}
step "Read the missing file" {
    files::read(`${params.dir}/missing`);
}
step "Never reached" {
    print("not reached");
}
"#,
    ),
    (
        "snap-write",
        r#"//! name: snap-write
//! summary: Asks, then replaces a file
//! mutates: true
//! param dir: string, required -- the directory to write in
step "Write" {
    let before = files::exists(`${params.dir}/out`);
    confirm(`Write ${params.dir}/out?`);
    files::replace(`${params.dir}/out`, "new\n");
}
"#,
    ),
];

struct Scratch {
    sb: Sandbox,
    runbooks: PathBuf,
    site: PathBuf,
}

impl Scratch {
    fn new() -> Scratch {
        let sb = Sandbox::new();
        let site = sb.site(&[]);
        let runbooks = sb.path().join("runbooks");
        std::fs::create_dir_all(&runbooks).unwrap();
        for (name, source) in RUNBOOKS {
            std::fs::write(runbooks.join(format!("{name}.rhai")), source).unwrap();
        }
        std::fs::write(sb.path().join("files/motd"), "hello\n").unwrap();
        Scratch { sb, runbooks, site }
    }

    fn files(&self) -> PathBuf {
        self.sb.path().join("files")
    }

    fn cmd(&self) -> Runbook {
        Runbook::new()
            .args(["--audit-db".as_ref(), self.sb.db().as_os_str()])
            .args(["--runbooks".as_ref(), self.runbooks.as_os_str()])
            .args(["--site".as_ref(), self.site.as_os_str()])
    }

    /// `runbook run NAME -p dir=FILES [extra]`, expecting `code`.
    fn run(&self, name: &str, extra: &[&str], code: i32) -> Run {
        self.cmd()
            .args(["run", name])
            .arg_path("-pdir=", &self.files())
            .args(extra)
            .run()
            .code(code)
    }

    fn replay_text(&self) -> String {
        self.cmd().args(["replay", "last"]).run().code(0).stdout
    }

    fn replay_json(&self) -> Value {
        self.cmd()
            .args(["replay", "last", "--json"])
            .run()
            .code(0)
            .json()
    }

    fn redact_text(&self, text: &str) -> String {
        let text = text.replace(&self.sb.path().display().to_string(), "<dir>");
        let rules = [
            (r"\d{8}T\d{6}Z-[0-9a-f]{6}", "<run>"),
            (r"(?m)^\s*\+\d+\.\d{3}s", "     +<t>"),
            (r"\((\d+\.\d{3}s|\d+\.\ds|\d+m\d{2}s)\)", "(<duration>)"),
            (r"took (\d+\.\d{3}s|\d+\.\ds|\d+m\d{2}s)", "took <duration>"),
            (
                r"(?m)^(  (operator|evidence|host|started) +).*$",
                "$1<redacted>",
            ),
            (r"\(by [^,]+, ", "(by <operator>, "),
        ];
        let mut text = text;
        for (pattern, with) in rules {
            text = Regex::new(pattern)
                .unwrap()
                .replace_all(&text, with)
                .into_owned();
        }
        text
    }

    fn redact_json(&self, mut v: Value) -> String {
        const REDACTED: &[&str] = &[
            "id",
            "time",
            "offset_s",
            "prev_hash",
            "hash",
            "started_at",
            "ended_at",
            "duration_ms",
            "operator",
            "operator_identity",
            "answered_by",
            "host",
            "pid",
            "proc_start",
            "boot_id",
            "pid_ns",
            "version",
        ];
        fn walk(v: &mut Value) {
            match v {
                Value::Object(m) => {
                    for (k, v) in m.iter_mut() {
                        if REDACTED.contains(&k.as_str()) && !v.is_null() {
                            *v = Value::String("<redacted>".into());
                        } else {
                            walk(v);
                        }
                    }
                }
                Value::Array(a) => a.iter_mut().for_each(walk),
                _ => {}
            }
        }
        walk(&mut v);
        let text = serde_json::to_string_pretty(&v).unwrap() + "\n";
        self.redact_text(&text)
    }
}

/// Compare `actual` with `tests/snapshots/NAME`, or write it with `UPDATE_SNAPSHOTS=1`.
fn snapshot(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; write it with UPDATE_SNAPSHOTS=1\n--- actual\n{actual}",
            path.display()
        )
    });
    if expected != actual {
        let diff = similar::TextDiff::from_lines(expected.as_str(), actual)
            .unified_diff()
            .header("expected", "actual")
            .to_string();
        panic!(
            "{} differs (UPDATE_SNAPSHOTS=1 rewrites it):\n{diff}",
            path.display()
        );
    }
}

fn check_snapshots(scratch: &Scratch, name: &str) {
    snapshot(
        &format!("replay_{name}.txt"),
        &scratch.redact_text(&scratch.replay_text()),
    );
    snapshot(
        &format!("replay_{name}.json"),
        &scratch.redact_json(scratch.replay_json()),
    );
}

/// Every host call line of a text replay (`· fn(...)` or `→ fn`) ends with its duration.
fn assert_calls_show_durations(text: &str) {
    let calls: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(" · ") || l.contains(" → files::"))
        .collect();
    assert!(!calls.is_empty(), "no host calls in:\n{text}");
    let duration = Regex::new(r"\(\d+\.\d{3}s\)$").unwrap();
    for line in calls {
        assert!(
            duration.is_match(line),
            "no duration on {line:?} in:\n{text}"
        );
    }
}

#[test]
fn a_passing_run_replays_each_call_with_its_duration() {
    let s = Scratch::new();
    s.run("snap-pass", &[], 0);
    let text = s.replay_text();
    assert_calls_show_durations(&text);
    assert!(text.contains("✓ step ok"), "{text}");
    check_snapshots(&s, "pass");
}

#[test]
fn a_failed_step_replays_as_failed_with_its_error() {
    let s = Scratch::new();
    s.run("snap-fail", &[], 1);
    let text = s.replay_text();
    assert_calls_show_durations(&text);
    let failed: Vec<&str> = text.lines().filter(|l| l.contains("step failed")).collect();
    assert_eq!(failed.len(), 1, "{text}");
    assert!(failed[0].contains("missing"), "no error on {:?}", failed[0]);
    // The step before it succeeded, and the one after never ran.
    assert_eq!(text.matches("✓ step ok").count(), 1, "{text}");
    assert!(!text.contains("Never reached"), "{text}");
    let json = s.replay_json();
    let ends = common::events_of(&json, "step-end");
    assert_eq!(ends[1]["payload"]["status"], "failed", "{json}");
    assert!(ends[1]["payload"]["error"]
        .as_str()
        .is_some_and(|e| e.contains("missing")));
    check_snapshots(&s, "fail");
}

#[test]
fn a_dry_run_replays_its_plan_and_the_gate_it_did_not_ask() {
    let s = Scratch::new();
    s.run("snap-write", &["--dry-run"], 0);
    assert!(!s.files().join("out").exists());
    let text = s.replay_text();
    assert!(text.contains("would files::replace("), "{text}");
    assert!(text.contains("not asked (dry run)"), "{text}");
    check_snapshots(&s, "dry");
}

#[test]
fn a_refused_run_replays_the_gate_that_refused_it() {
    let s = Scratch::new();
    s.run("snap-write", &[], 3);
    assert!(!s.files().join("out").exists());
    let text = s.replay_text();
    assert!(text.contains("no terminal"), "{text}");
    assert!(text.contains("): refused"), "{text}");
    check_snapshots(&s, "refused");
}
