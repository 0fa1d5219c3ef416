//! Secrets reach children, never runbooks: psql over TCP in the twin needs the password of
//! /opt/aurora-infra/.env, which the runbook names only by key. The count arrives; the value
//! is in none of the audit database's bytes, the replay, the export or the terminal output.

mod common;

use std::path::Path;

use common::twin::{available, copy_in, exec, exec_ok, lock, runbook};

const DB: &str = "/tmp/withheld/audit.db";

fn finding<'a>(v: &'a serde_json::Value, subject: &str) -> &'a serde_json::Value {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["subject"] == subject)
        .unwrap_or_else(|| panic!("no {subject} in {v}"))
}

#[test]
fn the_password_reaches_psql_and_nothing_else() {
    if !available() {
        return;
    }
    let _g = lock();
    let password = exec_ok(&[
        "sed",
        "-n",
        "s/^POSTGRES_PASSWORD=//p",
        "/opt/aurora-infra/.env",
    ]);
    let password = password.trim().trim_matches('"');
    assert!(password.len() >= 8, "the twin's .env has a password");
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
    for (what, text) in &seen {
        assert!(!text.contains(password), "{what} shows the password");
    }
    exec_ok(&["sync"]);
    let grep = exec(&[
        "grep",
        "-r",
        "-F",
        "-l",
        "-a",
        "--",
        password,
        "/tmp/withheld",
    ]);
    assert_eq!(
        grep.code,
        1,
        "the audit database holds the password: {}",
        grep.all()
    );
    exec_ok(&["rm", "-rf", "/tmp/withheld"]);
}
