//! Driving the twin (tests/twin, see its README) from integration tests: the gate that skips
//! or fails when it is not up, one lock for its shared state, and `exec` inside it.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard, Once};
use std::thread::sleep;
use std::time::{Duration, Instant};

use super::Run;

static TWIN: Mutex<()> = Mutex::new(());

/// True when the twin is up (RUNBOOK_TWIN=1); false when it may be skipped: quietly with
/// RUNBOOK_TWIN=0 (the test script runs the twin tests in a later phase), loudly otherwise.
/// On CI (CI=true) a missing twin fails the test instead.
pub fn available() -> bool {
    match std::env::var("RUNBOOK_TWIN").as_deref() {
        Ok("1") => return true,
        Ok("0") => return false,
        _ => {}
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "the twin is required on CI: run tests/twin/up and set RUNBOOK_TWIN=1 \
             (tests/twin/e2e does both)"
        );
    }
    // Written to the real stderr, not eprintln!, which the test harness captures.
    static NOTICE: Once = Once::new();
    NOTICE.call_once(|| {
        let _ = writeln!(
            std::io::stderr(),
            "\n********************************************************************\n\
             SKIPPED: twin not available, run tests/twin/up\n\
             (then RUNBOOK_TWIN=1 cargo test --test 'twin_*', or tests/twin/e2e)\n\
             ********************************************************************\n"
        );
    });
    false
}

/// The twin is shared state: every test holds this lock. A failed test must not poison the
/// others; each resets the twin itself.
pub fn lock() -> MutexGuard<'static, ()> {
    TWIN.lock().unwrap_or_else(|e| e.into_inner())
}

pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("twin")
}

pub fn script(name: &str, args: &[&str]) -> Output {
    Command::new(dir().join(name))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run tests/twin/{name}: {e}"))
}

pub fn describe(what: &str, out: &Output) -> String {
    format!(
        "{what}: {}\n--- stdout\n{}--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Run a twin script and insist it succeeds; returns its stdout.
pub fn must(name: &str, args: &[&str]) -> String {
    let out = script(name, args);
    assert!(
        out.status.success(),
        "{}",
        describe(&format!("tests/twin/{name} {}", args.join(" ")), &out)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Run a command inside the twin as root.
pub fn exec(args: &[&str]) -> Run {
    let out = script("exec", args);
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `runbook ARGS` inside the twin, without colors, as root.
pub fn runbook(args: &[&str]) -> Run {
    let mut full = vec!["env", "NO_COLOR=1", "runbook"];
    full.extend_from_slice(args);
    exec(&full)
}

pub fn exec_ok(args: &[&str]) -> String {
    let out = exec(args);
    assert_eq!(out.code, 0, "exec {}: {}", args.join(" "), out.all());
    out.stdout
}

pub fn poll(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        sleep(Duration::from_millis(500));
    }
}

/// Copy a file from the checkout into the twin.
pub fn copy_in(from: &Path, to: &str) {
    let name = std::env::var("TWIN_NAME").unwrap_or_else(|_| "runbook-twin".into());
    let out = Command::new("docker")
        .args(["cp"])
        .arg(from)
        .arg(format!("{name}:{to}"))
        .output()
        .expect("docker cp runs");
    assert!(out.status.success(), "{}", describe("docker cp", &out));
}

/// A `run --json` that completed, with its exit code checked against its findings: 5 when
/// any finding is crit (the default `--fail-on`), else 0. Returns the JSON document.
pub fn completed(out: &Run) -> serde_json::Value {
    assert!(
        out.code == 0 || out.code == 5,
        "the run did not complete (exit {}): {}",
        out.code,
        out.all()
    );
    let v = out.json();
    let any_crit = v["findings"]
        .as_array()
        .is_some_and(|f| f.iter().any(|f| f["severity"] == "crit"));
    let expected = if any_crit { 5 } else { 0 };
    assert_eq!(out.code, expected, "exit code vs findings: {}", out.all());
    assert_eq!(v["exit_code"], expected);
    v
}

/// Where `install_twin_site` puts the twin's site file.
pub const TWIN_SITE: &str = "/etc/runbook/twin-site.yaml";

/// The shipped site as it applies to the twin, installed at `TWIN_SITE`: without the units
/// the twin does not run (tests/twin/README.md, "What the twin does not replicate": docker is
/// masked, the engine being the host's; auditd and unattended-upgrades are not installed), and
/// with CPU pressure levels out of reach, because the pressure the twin sees is that of the
/// shared host it runs on, not of the server it stands in for.
pub fn install_twin_site() -> &'static str {
    let base: serde_yaml::Value =
        serde_yaml::from_str(include_str!("../../site/openclaw.yaml")).expect("site parses");
    let mut site = base;
    let units = site["units"].as_mapping_mut().expect("units map");
    for absent in ["docker", "auditd", "unattended-upgrades"] {
        units.remove(absent);
    }
    site["thresholds"]["cpu_pressure_percent"] =
        serde_yaml::from_str("{warn: 100, crit: 100}").unwrap();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("twin-site.yaml");
    std::fs::write(&path, serde_yaml::to_string(&site).unwrap()).unwrap();
    copy_in(&path, TWIN_SITE);
    exec_ok(&["chmod", "0644", TWIN_SITE]);
    TWIN_SITE
}

/// The site units the twin runs: those of tests/twin/units that the site lists.
pub fn site_units_in_twin() -> Vec<String> {
    let site: serde_yaml::Value =
        serde_yaml::from_str(include_str!("../../site/openclaw.yaml")).expect("site parses");
    let listed = std::fs::read_to_string(dir().join("units")).expect("tests/twin/units");
    listed
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.trim().trim_end_matches(".service").to_string())
        .filter(|u| site["units"].get(u.as_str()).is_some())
        .collect()
}

/// Enough rows that the dump has many compressed data blocks (a few MB), once per twin.
pub fn seed_messages() {
    exec_ok(&[
        "docker",
        "exec",
        "aurora-postgres",
        "psql",
        "-U",
        "postgres",
        "-d",
        "aurora",
        "-v",
        "ON_ERROR_STOP=1",
        "-qc",
        "CREATE TABLE IF NOT EXISTS \"Message\" (id serial PRIMARY KEY, body text NOT NULL); \
         INSERT INTO \"Message\" (body) SELECT md5(random()::text) || md5(random()::text) \
         FROM generate_series(1, 200000) WHERE NOT EXISTS (SELECT 1 FROM \"Message\")",
    ]);
}
