//! `backup` against the twin's real Postgres 15: the new dump verifies and its manifest's row
//! counts equal the live counts; a `backup` killed with SIGKILL while pg_dump streams leaves no
//! dump under a dump's name (only a `.partial` file, which is never taken for one); on a
//! terminal the dump and the verify show progress, erased when they end, and piped they show
//! none.

mod common;

use common::twin::{available, exec, exec_ok, lock, runbook, seed_messages};

const DIR: &str = "/opt/aurora-infra/backups";

fn sh(script: &str) -> String {
    exec_ok(&["bash", "-euo", "pipefail", "-c", script])
}

/// Names of the set's dumps (what `backup::list` would show), sorted.
fn dumps() -> Vec<String> {
    let mut v: Vec<String> = sh(&format!("ls -A {DIR}"))
        .lines()
        .filter(|n| n.starts_with("aurora_") && n.ends_with(".dump"))
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

fn live_count(table: &str) -> i64 {
    let (schema, name) = table.split_once('.').unwrap();
    exec_ok(&[
        "docker",
        "exec",
        "aurora-postgres",
        "psql",
        "-U",
        "postgres",
        "-d",
        "aurora",
        "-tAc",
        &format!("SELECT count(*) FROM \"{schema}\".\"{name}\""),
    ])
    .trim()
    .parse()
    .unwrap()
}

#[test]
fn a_backup_verifies_matches_the_live_counts_and_is_never_half_there() {
    if !available() {
        return;
    }
    let _g = lock();
    seed_messages();
    let before = dumps();
    let out = runbook(&["run", "backup", "--json", "--yes"]);
    assert_eq!(out.code, 0, "{}", out.all());
    let v = out.json();
    let after = dumps();
    let new: Vec<&String> = after.iter().filter(|d| !before.contains(d)).collect();
    assert_eq!(new.len(), 1, "one new dump: {before:?} -> {after:?}");
    let name = new[0].clone();
    let cleanup =
        format!("cd {DIR} && rm -f {name} {name}.sha256 {name}.manifest.json .aurora_*.partial");
    let result = || {
        let f = v["findings"].as_array().unwrap();
        let made = f.iter().find(|x| x["subject"] == name.as_str()).unwrap();
        assert_eq!(made["severity"], "ok", "{made}");
        // The sidecar is sha256sum's own format, and the files are in place.
        sh(&format!("cd {DIR} && sha256sum -c {name}.sha256"));
        let manifest: serde_json::Value =
            serde_json::from_str(&sh(&format!("cat {DIR}/{name}.manifest.json"))).unwrap();
        let tables = manifest["tables"].as_object().unwrap();
        for t in [
            "public.User",
            "public.Listing",
            "public.Order",
            "public._prisma_migrations",
            "public.Message",
        ] {
            let n = tables
                .get(t)
                .unwrap_or_else(|| panic!("{t} not in {manifest}"));
            assert_eq!(n.as_i64().unwrap(), live_count(t), "{t}");
        }
        assert_eq!(manifest["prisma_migrations"].as_array().unwrap().len(), 3);
        assert_eq!(manifest["schema_sha256"].as_str().unwrap().len(), 64);
        assert!(manifest["server_version"]
            .as_str()
            .unwrap()
            .starts_with("15."));
        // And `backups -p verify=true` agrees.
        let check = runbook(&["run", "backups", "-p", "verify=true", "--json"]);
        let cv = check.json();
        let row = cv["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["subject"] == name.as_str())
            .unwrap();
        assert_eq!(row["severity"], "ok", "{row}");

        // SIGKILL while pg_dump streams: poll until the temporary file has bytes, then kill.
        let killed = exec(&[
            "bash",
            "-c",
            &format!(
                "runbook run backup --yes >/dev/null 2>&1 & pid=$!; \
                 for i in $(seq 2000); do \
                   f=$(ls {DIR}/.aurora_*.dump.partial 2>/dev/null | head -1); \
                   if [ -n \"$f\" ] && [ -s \"$f\" ]; then kill -9 $pid; wait $pid; echo killed; exit 0; fi; \
                   sleep 0.01; \
                 done; echo never-saw-the-partial; exit 1"
            ),
        ]);
        assert_eq!(killed.code, 0, "{}", killed.all());
        // The names are checked once the container's pg_dump has ended (its reader is gone).
        assert!(common::twin::poll(
            std::time::Duration::from_secs(30),
            || { exec(&["bash", "-c", "docker top aurora-postgres | grep -q pg_dump"]).code != 0 }
        ));
        let after_kill = dumps();
        assert_eq!(
            after_kill, after,
            "a killed backup left a dump under a dump's name"
        );
        let partial = sh(&format!(
            "ls -A {DIR} | grep -c '^\\.aurora_.*\\.partial$' || true"
        ));
        assert!(partial.trim() != "0", "the temporary file is what remains");
    };
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(result));
    sh(&cleanup);
    // The kill may have left a dump made after the kill check; remove any other new dump.
    remove_new_dumps(&before, caught);
}

/// Remove every dump not in `before` (with its sidecars), then go on with the test's panic.
fn remove_new_dumps(before: &[String], caught: std::thread::Result<()>) {
    for d in dumps() {
        if !before.contains(&d) {
            sh(&format!(
                "cd {DIR} && rm -f {d} {d}.sha256 {d}.manifest.json"
            ));
        }
    }
    if let Err(e) = caught {
        std::panic::resume_unwind(e);
    }
}

/// Everything a command wrote to a pseudo-terminal in the twin (`script`: stdin, stdout and
/// stderr are the terminal), with the escape sequences kept.
fn on_terminal(command: &str) -> String {
    let out = exec(&[
        "script",
        "-qfec",
        &format!("env TERM=xterm NO_COLOR=1 {command}"),
        "/dev/null",
    ]);
    assert_eq!(out.code, 0, "{command}: {}", out.all());
    out.stdout
}

#[test]
fn on_a_terminal_the_dump_and_the_verify_show_progress_and_piped_nothing() {
    if !available() {
        return;
    }
    let _g = lock();
    seed_messages();
    let before = dumps();
    let result = || {
        let screen = on_terminal("runbook run backup --yes");
        // The dump's bar: its name, the bytes so far and the rate.
        let bar = "pg_dump aurora ";
        let drawn: Vec<&str> = screen
            .split(['\r', '\n'])
            .filter(|l| l.contains(bar))
            .collect();
        assert!(
            drawn
                .iter()
                .any(|l| l.contains("iB/s") || l.contains(" B/s")),
            "the progress line shows a rate: {drawn:?}\n{screen:?}"
        );
        // Erased before the run goes on: the bar's last drawing is followed by an erase of
        // its line, and no later line carries it.
        let tail = &screen[screen.rfind(bar).unwrap()..];
        let erased = tail.find("\u{1b}[2K").expect("the bar's line is erased");
        let next_line = tail.find('\n').unwrap_or(tail.len());
        assert!(
            erased < next_line,
            "the bar is erased before the next line is printed: {tail:?}"
        );
        assert!(
            tail.contains("Verify the new dump"),
            "the run's own lines follow: {tail:?}"
        );

        // backups -p verify=true: one bar per dump read, erased the same way.
        let screen = on_terminal("runbook run backups -p verify=true");
        assert!(
            screen.contains("verify aurora_"),
            "the verify shows progress: {screen:?}"
        );

        // Piped (stdout and stderr not terminals), the same runs print no bar and no escape.
        let piped = runbook(&["run", "backup", "--yes"]);
        assert_eq!(piped.code, 0, "{}", piped.all());
        let piped_verify = runbook(&["run", "backups", "-p", "verify=true"]);
        for out in [&piped, &piped_verify] {
            let all = out.all();
            assert!(
                !all.contains(bar) && !all.contains("verify aurora_") && !all.contains('\u{1b}'),
                "a piped run shows no progress: {all:?}"
            );
        }
    };
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(result));
    remove_new_dumps(&before, caught);
}
