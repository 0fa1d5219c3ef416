//! The .deb in the twin: installed with dpkg, then used the way an operator would: the man
//! pages, the bash completion, `/usr/bin/runbook` with the packaged site, the timers, a run
//! of the health service in the journal and in `runbook log`, `systemd-analyze verify` on
//! every shipped unit, and a purge that removes units and binary but keeps the audit trail.
//!
//! The package comes from `cargo xtask deb` (scripts/test builds it first): RUNBOOK_DEB, else
//! the newest `target/debian/runbook_*.deb`.

mod common;

use std::path::PathBuf;

use common::twin::{self, exec, exec_ok};

const UNITS: &[&str] = &[
    "runbook-health.service",
    "runbook-health.timer",
    "runbook-backup.service",
    "runbook-backup.timer",
    "runbook-prune.service",
    "runbook-prune.timer",
    "runbook-drill-due.service",
    "runbook-drill-due.timer",
];

fn deb() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("RUNBOOK_DEB") {
        return Some(PathBuf::from(p));
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/debian");
    let mut debs: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "deb"))
        .collect();
    debs.sort_by_key(|p| p.metadata().and_then(|m| m.modified()).ok());
    debs.pop()
}

/// Leaves the twin as tests/twin/up left it, even when an assertion failed: the package
/// purged, no failed runbook units, the site file back.
struct Cleanup;

impl Drop for Cleanup {
    fn drop(&mut self) {
        purge();
        exec(&[
            "sh",
            "-c",
            "systemctl reset-failed 'runbook-*' 2>/dev/null; mkdir -p /etc/runbook",
        ]);
        let site = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("site/openclaw.yaml");
        twin::copy_in(&site, "/etc/runbook/site.yaml");
    }
}

/// Purge whatever a previous (failed) run left, so the test starts from "not installed".
fn purge() -> common::Run {
    exec(&[
        "sh",
        "-c",
        "DEBIAN_FRONTEND=noninteractive dpkg --purge runbook 2>&1",
    ])
}

#[test]
fn package_installs_works_and_purges_in_the_twin() {
    if !twin::available() {
        return;
    }
    let Some(deb) = deb() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "no .deb to test: run `cargo xtask deb` (scripts/test does) or set RUNBOOK_DEB"
        );
        eprintln!("SKIPPED: no .deb in target/debian (run `cargo xtask deb`)");
        return;
    };
    let _lock = twin::lock();
    let _cleanup = Cleanup;
    purge();
    twin::copy_in(&deb, "/tmp/runbook.deb");
    // The twin's /etc/runbook/site.yaml is the same OpenClaw site the package ships.
    let version = exec(&["sh", "-c", "dpkg-deb --fsys-tarfile /tmp/runbook.deb | tar -xO ./usr/bin/runbook > /tmp/runbook.bin && chmod +x /tmp/runbook.bin && /tmp/runbook.bin --version"]);
    eprintln!("testing {} ({})", deb.display(), version.stdout.trim());
    let install = exec(&[
        "sh",
        "-c",
        "DEBIAN_FRONTEND=noninteractive dpkg -i --force-confdef --force-confold /tmp/runbook.deb 2>&1",
    ]);
    assert_eq!(install.code, 0, "dpkg -i: {}", install.all());

    // Files and modes.
    let stat = exec_ok(&[
        "stat",
        "-c",
        "%a %U",
        "/var/lib/runbook",
        "/usr/bin/runbook",
    ]);
    assert_eq!(stat, "700 root\n755 root\n");
    let conffiles = exec_ok(&["dpkg-query", "-W", "-f", "${Conffiles}", "runbook"]);
    assert!(conffiles.contains("/etc/runbook/site.yaml"), "{conffiles}");

    // man runbook-run renders, with the sections the issue asked for.
    let man = exec_ok(&["sh", "-c", "MANWIDTH=100 man -P cat runbook-run 2>&1"]);
    for want in [
        "NAME",
        "runbook-run",
        "EXAMPLES",
        "EXIT STATUS",
        "--dry-run",
    ] {
        assert!(man.contains(want), "man runbook-run lacks {want}:\n{man}");
    }
    let top = exec_ok(&["sh", "-c", "MANWIDTH=100 man -P cat runbook 2>&1"]);
    for want in ["ENVIRONMENT", "FILES", "RUNBOOK_PAGER", "runbook-replay(1)"] {
        assert!(top.contains(want), "man runbook lacks {want}:\n{top}");
    }

    // A login bash has the completion once bash-completion loads it (as at the first TAB),
    // and it completes from the packaged binary.
    let spec = exec_ok(&[
        "bash",
        "-lic",
        "_completion_loader runbook >/dev/null 2>&1; complete -p runbook",
    ]);
    assert!(spec.contains("_clap_complete_runbook"), "{spec}");
    let offered = exec_ok(&[
        "bash",
        "-lic",
        "PATH=/usr/bin:$PATH; _completion_loader runbook; COMP_WORDS=(runbook run tri); \
         COMP_CWORD=2; COMP_TYPE=9; _clap_complete_runbook runbook tri run; \
         printf '%s\\n' \"${COMPREPLY[@]}\"",
    ]);
    assert!(offered.lines().any(|l| l == "triage"), "{offered}");

    // /usr/bin/runbook runs triage with the packaged site (the built-in runbooks, not the
    // twin's RUNBOOK_PATH copies).
    let triage = exec(&[
        "env",
        "-u",
        "RUNBOOK_PATH",
        "NO_COLOR=1",
        "/usr/bin/runbook",
        "run",
        "triage",
        "--site",
        "/etc/runbook/site.yaml",
    ]);
    assert!(
        triage.code == 0 || triage.code == 5,
        "triage from /usr/bin: {}",
        triage.all()
    );
    assert!(triage.stdout.contains("runbook replay"), "{}", triage.all());

    // Every shipped unit passes systemd-analyze verify.
    let mut verify = vec!["systemd-analyze", "verify"];
    let paths: Vec<String> = UNITS
        .iter()
        .map(|u| format!("/usr/lib/systemd/system/{u}"))
        .collect();
    verify.extend(paths.iter().map(String::as_str));
    let verified = exec(&verify);
    // verify also loads the units these pull in; only what it says about ours counts.
    let said = verified.all();
    let ours: Vec<&str> = said.lines().filter(|l| l.contains("runbook")).collect();
    assert!(
        verified.code == 0 && ours.is_empty(),
        "systemd-analyze verify: {}",
        verified.all()
    );

    // Timers: the read-only ones (health, drill-due) enabled and waiting, backup and prune
    // installed but disabled.
    let timers = exec_ok(&["systemctl", "list-timers", "--all", "--no-pager"]);
    for t in ["runbook-health.timer", "runbook-drill-due.timer"] {
        assert!(timers.contains(t), "{timers}");
        assert_eq!(exec_ok(&["systemctl", "is-enabled", t]), "enabled\n", "{t}");
        assert_eq!(exec_ok(&["systemctl", "is-active", t]), "active\n", "{t}");
    }
    for t in ["runbook-backup.timer", "runbook-prune.timer"] {
        assert_eq!(
            exec(&["systemctl", "is-enabled", t]).stdout,
            "disabled\n",
            "{t}"
        );
    }

    // An upgrade (here the same version again) keeps each timer as the operator left it.
    exec_ok(&["systemctl", "disable", "--now", "runbook-health.timer"]);
    exec_ok(&["systemctl", "enable", "runbook-prune.timer"]);
    let again = exec(&[
        "sh",
        "-c",
        "DEBIAN_FRONTEND=noninteractive dpkg -i --force-confdef --force-confold /tmp/runbook.deb 2>&1",
    ]);
    assert_eq!(again.code, 0, "dpkg -i again: {}", again.all());
    let state = |t: &str| {
        (
            exec(&["systemctl", "is-enabled", t]).stdout,
            exec(&["systemctl", "is-active", t]).stdout,
        )
    };
    assert_eq!(
        state("runbook-health.timer"),
        ("disabled\n".into(), "inactive\n".into())
    );
    assert_eq!(state("runbook-prune.timer").0, "enabled\n");
    exec_ok(&["systemctl", "enable", "--now", "runbook-health.timer"]);
    exec_ok(&["systemctl", "disable", "runbook-prune.timer"]);

    // The health service, started as the timer starts it: its result is the findings exit
    // code, shown by systemctl, in the journal and in `runbook log`.
    let before = exec_ok(&["date", "+@%s"]);
    exec(&["systemctl", "start", "runbook-health.service"]);
    let result = exec_ok(&[
        "systemctl",
        "show",
        "-p",
        "Result,ExecMainStatus",
        "runbook-health.service",
    ]);
    assert!(
        result.contains("ExecMainStatus=0") || result.contains("ExecMainStatus=5"),
        "{result}"
    );
    let journal = exec_ok(&[
        "journalctl",
        "-u",
        "runbook-health.service",
        "--since",
        before.trim(),
        "--no-pager",
        "-o",
        "cat",
    ]);
    assert!(
        journal.contains("runbook health") && journal.contains("runbook replay"),
        "journal of runbook-health.service:\n{journal}"
    );
    let logged = exec_ok(&[
        "env",
        "NO_COLOR=1",
        "/usr/bin/runbook",
        "log",
        "-n",
        "1",
        "-u",
        "health",
        "--json",
    ]);
    let runs: serde_json::Value = serde_json::from_str(&logged).expect("log --json");
    let run = &runs[0];
    assert!(
        journal.contains(run["id"].as_str().unwrap_or("?")),
        "the journal names the run `runbook log` shows: {run}\n{journal}"
    );
    let code = run["exit_code"].as_i64().unwrap_or(-1);
    assert!(
        result.contains(&format!("ExecMainStatus={code}")),
        "systemd saw the run's exit code {code}: {result}"
    );

    // The weekly drill check, started as its timer starts it: a due drill fails the unit with
    // the run's exit code, and the run names the drill finding.
    exec(&["systemctl", "start", "runbook-drill-due.service"]);
    let result = exec_ok(&[
        "systemctl",
        "show",
        "-p",
        "ExecMainStatus",
        "runbook-drill-due.service",
    ]);
    let logged = exec_ok(&[
        "/usr/bin/runbook",
        "log",
        "-n",
        "1",
        "-u",
        "drill-due",
        "--json",
    ]);
    let runs: serde_json::Value = serde_json::from_str(&logged).expect("log --json");
    let code = runs[0]["exit_code"].as_i64().unwrap_or(-1);
    assert!(code == 0 || code == 5, "drill-due: {logged}");
    assert_eq!(result.trim(), format!("ExecMainStatus={code}"), "{logged}");

    // Purge: units and binary gone, the audit trail kept.
    let purged = purge();
    assert_eq!(purged.code, 0, "{}", purged.all());
    for gone in [
        "/usr/bin/runbook",
        "/usr/lib/systemd/system/runbook-health.timer",
        "/usr/lib/systemd/system/runbook-drill-due.timer",
    ] {
        assert_ne!(exec(&["test", "-e", gone]).code, 0, "{gone} is still there");
    }
    assert_eq!(
        exec(&["test", "-s", "/var/lib/runbook/audit.db"]).code,
        0,
        "audit db kept"
    );
    let timers = exec_ok(&["systemctl", "list-timers", "--all", "--no-pager"]);
    assert!(!timers.contains("runbook-health"), "{timers}");
    // Nothing failed is left behind: the twin is as healthy as before.
    let failed = exec_ok(&[
        "systemctl",
        "list-units",
        "--failed",
        "--plain",
        "--no-legend",
    ]);
    assert!(!failed.contains("runbook"), "{failed}");
}
