//! Secrets reach children, never runbooks: psql over TCP in the twin needs the password of
//! /opt/aurora-infra/.env, which the runbook names only by key. The count arrives; the value
//! is in none of the audit database's bytes, the replay, the export or the terminal output.
//! `backup` and `restore-drill` never need it (they use the containers' own sockets, and the
//! scratch has trust auth): it is in no process's argv seen in /proc while they run, nor in
//! their records or output.

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

use common::twin::{available, copy_in, exec, exec_ok, lock, runbook, seed_messages};

const DB: &str = "/tmp/withheld/audit.db";

fn finding<'a>(v: &'a serde_json::Value, subject: &str) -> &'a serde_json::Value {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["subject"] == subject)
        .unwrap_or_else(|| panic!("no {subject} in {v}"))
}

/// The twin's database password, from its secret file.
fn env_password() -> String {
    let password = exec_ok(&[
        "sed",
        "-n",
        "s/^POSTGRES_PASSWORD=//p",
        "/opt/aurora-infra/.env",
    ]);
    let password = password.trim().trim_matches('"').to_string();
    assert!(password.len() >= 8, "the twin's .env has a password");
    password
}

/// What a sampler of every process's argv saw: the argv lines that held the needle, and the
/// distinct argv lines seen (to show it saw the run's children at all).
#[derive(Default)]
struct Sampled {
    with_needle: Vec<String>,
    seen: std::collections::BTreeSet<String>,
    scans: usize,
}

/// Read /proc/*/cmdline of this host (its PID namespace holds the twin's processes and the
/// sibling containers', production's and the scratch's) over and over until `stop`.
fn sample_argv(needle: String, stop: Arc<AtomicBool>) -> thread::JoinHandle<Sampled> {
    thread::spawn(move || {
        let mut s = Sampled::default();
        while !stop.load(Ordering::Relaxed) {
            for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
                let Ok(raw) = std::fs::read(entry.path().join("cmdline")) else {
                    continue;
                };
                if raw.is_empty() {
                    continue;
                }
                let argv = String::from_utf8_lossy(&raw).replace('\0', " ");
                if argv.contains(&needle) {
                    s.with_needle.push(argv.replace(&needle, "<PASSWORD>"));
                } else if argv.starts_with("pg_")
                    || argv.contains(" pg_")
                    || argv.starts_with("/usr/bin/pg_")
                {
                    s.seen.insert(argv.trim().to_string());
                }
            }
            s.scans += 1;
        }
        s
    })
}

#[test]
fn backup_and_the_drill_show_the_password_nowhere() {
    if !available() {
        return;
    }
    let _g = lock();
    seed_messages();
    let password = env_password();
    let db = "/tmp/withheld-drill/audit.db";
    exec_ok(&["rm", "-rf", "/tmp/withheld-drill"]);
    exec_ok(&["mkdir", "-p", "/tmp/withheld-drill"]);
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = sample_argv(password.clone(), stop.clone());
    let backup = runbook(&["--audit-db", db, "-v", "run", "backup", "--yes"]);
    let made = exec(&["sh", "-c", "ls -t /opt/aurora-infra/backups | grep -E '^aurora_[0-9]{8}T[0-9]{6}Z[.]dump$' | head -n 1"])
        .stdout
        .trim()
        .to_string();
    let drill = runbook(&[
        "--audit-db",
        db,
        "-v",
        "run",
        "restore-drill",
        "--yes",
        "-p",
        &format!("dump={made}"),
    ]);
    stop.store(true, Ordering::Relaxed);
    let sampled = sampler.join().unwrap();
    let cleanup = || {
        exec(&[
            "sh",
            "-c",
            &format!(
                "cd /opt/aurora-infra/backups && rm -f {made} {made}.sha256 {made}.manifest.json"
            ),
        ]);
    };
    let mut codes = Vec::new();
    let mut seen = vec![
        ("run backup -v".to_string(), backup.all()),
        ("run restore-drill -v".to_string(), drill.all()),
    ];
    for args in [
        &["replay", "last", "--source"][..],
        &["replay", "last", "--json"],
        &["audit", "export"],
    ] {
        let mut a = vec!["--audit-db", db];
        a.extend_from_slice(args);
        let r = runbook(&a);
        codes.push((args.join(" "), r.code));
        seen.push((args.join(" "), r.all()));
    }
    cleanup();
    for (what, code) in codes {
        assert_eq!(code, 0, "{what}");
    }
    assert_eq!(backup.code, 0, "{}", backup.all());
    assert_eq!(drill.code, 0, "{}", drill.all());
    assert!(
        sampled.with_needle.is_empty(),
        "the password was on an argv: {:?}",
        sampled.with_needle
    );
    // The sampler saw the run's children, so it was looking while they ran.
    for child in ["pg_dump", "pg_restore --exit-on-error"] {
        assert!(
            sampled.seen.iter().any(|a| a.contains(child)),
            "{child} never seen in {} scans: {:?}",
            sampled.scans,
            sampled.seen
        );
    }
    absent_everywhere(&password, &seen, "/tmp/withheld-drill");
}

/// `password` is in none of the texts shown (terminal, replay, export) nor in any byte of
/// the files under `dir` (the audit database); `dir` is removed after.
fn absent_everywhere(password: &str, seen: &[(String, String)], dir: &str) {
    for (what, text) in seen {
        assert!(!text.contains(password), "{what} shows the password");
    }
    exec_ok(&["sync"]);
    let grep = exec(&["grep", "-r", "-F", "-l", "-a", "--", password, dir]);
    assert_eq!(
        grep.code,
        1,
        "the audit database holds the password: {}",
        grep.all()
    );
    exec_ok(&["rm", "-rf", dir]);
}

#[test]
fn the_password_reaches_psql_and_nothing_else() {
    if !available() {
        return;
    }
    let _g = lock();
    let password = env_password();
    let password = password.as_str();
    exec_ok(&["rm", "-rf", "/tmp/withheld"]);
    exec_ok(&["mkdir", "-p", "/tmp/withheld/runbooks"]);
    copy_in(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/twin/withheld-probe.rhai"),
        "/tmp/withheld/runbooks/withheld-probe.rhai",
    );
    let base = ["--audit-db", DB, "--runbooks", "/tmp/withheld/runbooks"];
    let run = |extra: &[&str]| {
        let mut a: Vec<&str> = base.to_vec();
        a.extend_from_slice(extra);
        runbook(&a)
    };

    let out = run(&["run", "withheld-probe", "--json"]);
    assert_eq!(out.code, 0, "{}", out.all());
    let v = out.json();
    let with = finding(&v, "with");
    assert_eq!(with["summary"], "5", "{with}");
    assert_eq!(
        with["evidence"]["withheld_env"],
        serde_json::json!(["POSTGRES_PASSWORD from /opt/aurora-infra/.env (withheld)"])
    );
    // The same call without the key: the server asks for a password it does not get.
    let without = finding(&v, "without");
    assert_ne!(without["evidence"]["exit_code"], 0, "{without}");
    assert!(
        without["summary"].as_str().unwrap().contains("password"),
        "{without}"
    );

    // Every sink: the terminal (verbose, human output), replay, export, the database bytes.
    let mut seen = vec![("run --json".to_string(), out.all())];
    let human = run(&["-v", "run", "withheld-probe"]);
    assert_eq!(human.code, 0, "{}", human.all());
    assert!(human.all().contains("psql said: 5"), "{}", human.all());
    seen.push(("run -v".into(), human.all()));
    for args in [
        &["replay", "last", "--source"][..],
        &["replay", "last", "--json"],
        &["audit", "export"],
    ] {
        let r = run(args);
        assert_eq!(r.code, 0, "{args:?}: {}", r.all());
        seen.push((args.join(" "), r.all()));
    }
    let replay = run(&["replay", "last", "--json"]).stdout;
    assert!(
        replay.contains("POSTGRES_PASSWORD from /opt/aurora-infra/.env (withheld)"),
        "the record says what was withheld: {replay}"
    );
    absent_everywhere(password, &seen, "/tmp/withheld");
}
