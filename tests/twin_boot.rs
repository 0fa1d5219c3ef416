//! End-to-end checks of the twin (tests/twin, see tests/twin/README.md): it boots configured
//! like the OpenClaw server with every unit active, and each fault of `tests/twin/fault list`
//! is visible through the same low-level check an operator would use, and gone after
//! `tests/twin/reset`.
//!
//! Needs a running twin: `tests/twin/up`, then `RUNBOOK_TWIN=1 cargo test --test twin_boot`
//! (`tests/twin/e2e` does both). Without RUNBOOK_TWIN=1 the tests skip, loudly, except on CI
//! (CI=true) where they fail. The twin is shared state, so the tests hold one lock.

mod common;

use std::time::{Duration, Instant};

use common::twin::{available as twin_available, exec_ok, lock, must, poll};

/// Run a command inside the twin (as root); returns (success, stdout).
fn exec(args: &[&str]) -> (bool, String) {
    let out = common::twin::exec(args);
    (out.code == 0, out.stdout)
}

fn twin_dir() -> std::path::PathBuf {
    common::twin::dir()
}

fn units() -> Vec<String> {
    let text = std::fs::read_to_string(twin_dir().join("units")).expect("tests/twin/units");
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect()
}

fn pgadmin_name() -> String {
    std::env::var("TWIN_PGADMIN_NAME").unwrap_or_else(|_| "aurora-pgadmin".into())
}

// ---- low-level observations, one per fault -------------------------------------------------

const HEARTBEAT: &str = "/home/agent/.openclaw/workspace/runtime/worker-heartbeat.json";

/// `systemctl --failed`: the failed units.
fn failed_units() -> Vec<String> {
    exec_ok(&[
        "systemctl",
        "--failed",
        "--plain",
        "--no-legend",
        "--no-pager",
    ])
    .lines()
    .filter_map(|l| l.split_whitespace().next().map(String::from))
    .collect()
}

fn n_restarts(unit: &str) -> u64 {
    exec_ok(&["systemctl", "show", "-p", "NRestarts", "--value", unit])
        .trim()
        .parse()
        .expect("NRestarts is a number")
}

/// NRestarts of the unit goes up while we watch.
fn restarts_climbing(unit: &str) -> bool {
    let first = n_restarts(unit);
    first > 0 && poll(Duration::from_secs(10), || n_restarts(unit) > first)
}

/// `docker ps` (the twin's client, talking to the host's engine): names of running containers.
fn running_containers() -> Vec<String> {
    exec_ok(&["docker", "ps", "--format", "{{.Names}}"])
        .lines()
        .map(String::from)
        .collect()
}

/// Seconds since the worker's last heartbeat (the file's "ts").
fn heartbeat_age() -> i64 {
    let json = exec_ok(&["cat", HEARTBEAT]);
    let ts = json
        .split("\"ts\"")
        .nth(1)
        .and_then(|rest| {
            let digits: String = rest
                .trim_start_matches(|c: char| c == ':' || c.is_whitespace())
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse::<i64>().ok()
        })
        .unwrap_or_else(|| panic!("no ts in heartbeat: {json}"));
    let now: i64 = exec_ok(&["date", "+%s"]).trim().parse().expect("date +%s");
    now - ts
}

fn healthz_status() -> String {
    exec(&[
        "curl",
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "http://127.0.0.1:18789/healthz",
    ])
    .1
}

/// `journalctl -p err --since '10 min ago'`: the recent error lines.
fn recent_errors() -> Vec<String> {
    exec_ok(&[
        "journalctl",
        "-q",
        "-p",
        "err",
        "--since",
        "10 min ago",
        "--no-pager",
    ])
    .lines()
    .map(String::from)
    .collect()
}

/// Is FAULT visible by its low-level check?
fn visible(fault: &str) -> bool {
    match fault {
        "failed-unit" => failed_units()
            .iter()
            .any(|u| u == "openclaw-bg-dispatcher.service"),
        "crash-loop" => restarts_climbing("openclaw-owner-policy.service"),
        "stopped-container" => !running_containers().contains(&pgadmin_name()),
        "stale-heartbeat" => heartbeat_age() > 300,
        "failing-healthz" => healthz_status() == "503",
        "error-burst" => {
            recent_errors()
                .iter()
                .filter(|l| l.contains("openclaw-bg-worker"))
                .count()
                >= 20
        }
        other => panic!("tests/twin/fault lists '{other}' but twin_boot.rs has no check for it"),
    }
}

/// Every check reads healthy.
fn assert_healthy(context: &str) {
    let failed = failed_units();
    assert!(failed.is_empty(), "{context}: failed units: {failed:?}");
    assert_eq!(
        n_restarts("openclaw-owner-policy.service"),
        0,
        "{context}: NRestarts"
    );
    let running = running_containers();
    for name in [
        pgadmin_name(),
        std::env::var("TWIN_PG_NAME").unwrap_or_else(|_| "aurora-postgres".into()),
    ] {
        assert!(
            running.contains(&name),
            "{context}: {name} not in docker ps: {running:?}"
        );
    }
    let age = heartbeat_age();
    assert!(age < 60, "{context}: heartbeat is {age} s old");
    assert_eq!(healthz_status(), "200", "{context}: /healthz");
    let errors = recent_errors();
    assert!(
        errors.is_empty(),
        "{context}: journal errors:\n{}",
        errors.join("\n")
    );
}

// ---- tests -----------------------------------------------------------------------------------

#[test]
fn twin_boots_with_every_unit_active() {
    if !twin_available() {
        return;
    }
    let _twin = lock();
    let units = units();
    assert!(
        units.len() >= 10,
        "tests/twin/units lists too few units: {units:?}"
    );
    for unit in &units {
        let (_, state) = exec(&["systemctl", "is-active", unit]);
        assert_eq!(state.trim(), "active", "{unit} is not active");
    }
    let (_, system) = exec(&["systemctl", "is-system-running"]);
    assert_eq!(system.trim(), "running", "systemctl is-system-running");
}

#[test]
fn twin_is_configured_like_the_server() {
    if !twin_available() {
        return;
    }
    let _twin = lock();

    let sshd = exec_ok(&["sshd", "-T"]);
    for line in [
        "port 22022",
        "passwordauthentication no",
        "permitrootlogin no",
        "maxauthtries 3",
        "logingracetime 30",
        "x11forwarding no",
        "allowtcpforwarding no",
        "banner /etc/issue.net",
    ] {
        assert!(sshd.lines().any(|l| l == line), "sshd -T lacks '{line}'");
    }

    let shm = exec_ok(&["findmnt", "-no", "OPTIONS", "/dev/shm"]);
    for opt in ["noexec", "nosuid", "nodev"] {
        assert!(
            shm.split(',').any(|o| o.trim() == opt),
            "/dev/shm options {shm} lack {opt}"
        );
    }
    assert!(
        exec_ok(&["cat", "/etc/fstab"]).contains("/dev/shm"),
        "/etc/fstab has no /dev/shm line"
    );

    for (user, uid) in [
        ("agent", "1000"),
        ("juanesteban", "1001"),
        ("miguel", "1002"),
        ("nat", "1003"),
    ] {
        assert_eq!(exec_ok(&["id", "-u", user]).trim(), uid, "uid of {user}");
    }
    for op in ["miguel", "juanesteban", "nat"] {
        let path = format!("/etc/sudoers.d/90-{op}");
        assert_eq!(
            exec_ok(&["stat", "-c", "%a", &path]).trim(),
            "440",
            "mode of {path}"
        );
        let (ok, _) = exec(&["sudo", "-u", op, "sudo", "-n", "true"]);
        assert!(ok, "{op} cannot sudo without a password");
    }
    let (agent_sudo, _) = exec(&["sudo", "-u", "agent", "sudo", "-n", "true"]);
    assert!(!agent_sudo, "agent must not have general sudo");

    // Key-only ssh on 22022: an operator gets in, root does not.
    let ssh = |user: &str| {
        exec(&[
            "ssh",
            "-p",
            "22022",
            "-i",
            &format!("/etc/twin/keys/{user}"),
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "LogLevel=ERROR",
            &format!("{user}@127.0.0.1"),
            "id",
            "-un",
        ])
    };
    assert_eq!(ssh("miguel"), (true, "miguel\n".to_string()));
    assert!(!ssh("root").0, "root logged in over ssh");

    let ufw = exec_ok(&["ufw", "status", "verbose"]);
    assert!(
        ufw.contains("Status: active") && ufw.contains("deny (incoming)"),
        "ufw: {ufw}"
    );
    assert!(
        ufw.contains("22022/tcp"),
        "ufw does not allow 22022/tcp: {ufw}"
    );
    let jail = exec_ok(&["fail2ban-client", "get", "sshd", "maxretry"]);
    assert_eq!(jail.trim(), "3", "fail2ban sshd maxretry");

    let daemon = exec_ok(&["jq", "-c", ".", "/etc/docker/daemon.json"]);
    for key in [
        "\"no-new-privileges\":true",
        "\"icc\":false",
        "\"userland-proxy\":false",
        "\"live-restore\":true",
    ] {
        assert!(daemon.contains(key), "daemon.json lacks {key}: {daemon}");
    }

    // The stand-ins answer the way the guide's checks expect.
    assert_eq!(
        exec_ok(&["curl", "-fsS", "http://127.0.0.1:18789/healthz"]),
        "{\"ok\":true}"
    );
    exec_ok(&[
        "curl",
        "-fsS",
        "-o",
        "/dev/null",
        "-H",
        "Host: aurora.nheo.ai",
        "http://127.0.0.1/",
    ]);
    exec_ok(&["cloudflared", "tunnel", "ingress", "validate"]);
    exec_ok(&["/home/agent/.openclaw/workspace/bin/bgctl.py", "queue"]);
    exec_ok(&["systemctl", "reload", "caddy", "cloudflared"]);
    let (reloaded, _) = exec(&["systemctl", "reload", "openclaw-bg-dispatcher"]);
    assert!(
        !reloaded,
        "openclaw-bg-dispatcher has no ExecReload, reload must be refused"
    );

    // Aurora data: seeded database, env file, a verifiable backup.
    let users = exec_ok(&[
        "docker",
        "exec",
        "aurora-postgres",
        "psql",
        "-U",
        "postgres",
        "-d",
        "aurora",
        "-tAc",
        "SELECT count(*) FROM \"User\"",
    ]);
    assert!(
        users.trim().parse::<u32>().unwrap_or(0) > 0,
        "no rows in \"User\": {users}"
    );
    assert_eq!(
        exec_ok(&["stat", "-c", "%a %U:%G", "/opt/aurora-infra/.env"]).trim(),
        "600 agent:agent"
    );
    exec_ok(&[
        "sh",
        "-c",
        "cd /opt/aurora-infra/backups && sha256sum -c --quiet aurora_*.dump.sha256",
    ]);
    exec_ok(&[
        "sh",
        "-c",
        "pg_restore --list /opt/aurora-infra/backups/aurora_*.dump | grep -q 'TABLE public User'",
    ]);

    // Dry run changes nothing; a real run leaves a trace in ops.log.
    let script =
        "/home/agent/.openclaw/workspace/skills/readymode-support/scripts/clear_licenses.sh";
    let dry = exec_ok(&[
        "sudo",
        "-u",
        "agent",
        "env",
        "OPENCLAW_DRY_RUN=true",
        "bash",
        script,
    ]);
    assert!(dry.contains("DRY RUN: would"), "dry run output: {dry}");
}

#[test]
fn faults_are_visible_and_reset_clears_them() {
    if !twin_available() {
        return;
    }
    let _twin = lock();
    let started = Instant::now();
    must("reset", &[]);
    assert_healthy("before any fault");

    let list = must("fault", &["list"]);
    let faults: Vec<&str> = list
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    for expected in [
        "failed-unit",
        "crash-loop",
        "stopped-container",
        "stale-heartbeat",
        "failing-healthz",
        "error-burst",
    ] {
        assert!(
            faults.contains(&expected),
            "fault list lacks {expected}:\n{list}"
        );
    }

    for fault in faults {
        assert!(!visible(fault), "{fault} is visible before it was injected");
        must("fault", &[fault]);
        assert!(
            poll(Duration::from_secs(20), || visible(fault)),
            "{fault} was injected but its check does not see it"
        );
        must("reset", &[]);
        assert!(!visible(fault), "{fault} is still visible after reset");
        assert_healthy(&format!("after reset of {fault}"));
    }
    eprintln!(
        "fault scenarios took {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
