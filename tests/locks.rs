//! Locks between runs, with real processes: a run holding a declared lock makes a second
//! run that needs it exit 3 naming the first; SIGKILL of the holder frees the lock.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::Sandbox;

const HOLDER: &str = r#"//! name: hold-lock
//! summary: Writes a file, then holds its lock until a release file appears
//! mutates: true
//! locks: files:motd, unit:caddy.service
//! time to apply: seconds
//! downtime: none
//! rollback: write the old text back
//! param path: string, required -- the file to write
//! param release: string, default "" -- wait for this file to exist before ending
step "Write" {
    files::replace(params.path, "held\n");
}
step "Hold" {
    if params.release != "" {
        while !files::stat(params.release).exists { sleep(1); }
    }
}
"#;

fn start_holder(sb: &Sandbox, tree: &Path, site: &Path, locks: &Path, release: &Path) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_runbook"));
    cmd.env("RUNBOOK_AUDIT_DB", sb.db())
        .env("RUNBOOK_LOCK_DIR", locks)
        .env("NO_COLOR", "1")
        .env_remove("OPENCLAW_DRY_RUN")
        .env_remove("RUNBOOK_PATH")
        .args(["--runbooks".as_ref(), tree.as_os_str()])
        .args(["--site".as_ref(), site.as_os_str()])
        .args(["run", "hold-lock", "-p"])
        .arg(format!("path={}", sb.path().join("files/motd").display()))
        .arg("-p")
        .arg(format!("release={}", release.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd.spawn().expect("runbook starts")
}

/// The run id the holder wrote into its lock file, once it holds the lock (bounded wait for
/// the process to get there; no assertion on how long it took).
fn holder_run_id(locks: &Path, child: &mut Child) -> String {
    let file = locks.join("files:motd.lock");
    for _ in 0..1200 {
        if let Ok(text) = std::fs::read_to_string(&file) {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
                return v["run_id"]
                    .as_str()
                    .expect("run_id in the lock file")
                    .to_string();
            }
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the holder ended before taking its lock"
        );
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    panic!("the holder never wrote {}", file.display());
}

#[test]
fn a_second_run_is_refused_naming_the_holder_and_sigkill_frees_the_lock() {
    let sb = Sandbox::new();
    let site = sb.site(&[]);
    let tree = sb.tree(&[("hold-lock", HOLDER)], &[]);
    let locks = sb.path().join("locks");
    let release = sb.path().join("files/release");
    let mut first = start_holder(&sb, &tree, &site, &locks, &release);
    let first_id = holder_run_id(&locks, &mut first);

    let second = sb
        .in_tree(&tree, &site)
        .env("RUNBOOK_LOCK_DIR", &locks)
        .args(["run", "hold-lock", "--json", "-p"])
        .arg_path("path=", &sb.path().join("files/motd"))
        .run()
        .code(3);
    assert!(
        second.stderr.contains(&format!("run {first_id}"))
            && second.stderr.contains("files:motd is locked by")
            && second.stderr.contains("runbook hold-lock"),
        "{}",
        second.stderr
    );
    let second_json = second.json();
    assert_eq!(second_json["locks"]["acquired"], false);
    assert_eq!(second_json["locks"]["holder"]["run_id"], first_id.as_str());
    let second_id = second_json["run_id"].as_str().unwrap().to_string();
    let replay = sb
        .cmd()
        .args(["replay", &second_id, "--json"])
        .run()
        .code(0)
        .json();
    let lock = common::events_of(&replay, "lock");
    assert_eq!(lock.len(), 1, "{replay}");
    assert_eq!(lock[0]["payload"]["acquired"], false);
    assert_eq!(lock[0]["payload"]["holder"]["run_id"], first_id.as_str());
    assert_eq!(
        lock[0]["payload"]["resources"],
        serde_json::json!(["files:motd", "unit:caddy.service"])
    );
    // Nothing was written by the refused run: the first mutation waits for the locks.
    assert_eq!(
        common::events_of(&replay, "intent").len(),
        0,
        "the refused run recorded an intent"
    );

    // SIGKILL: no handler runs, no cleanup; the kernel drops the lock with the process.
    // SAFETY: kill(2) on our own child, not yet reaped.
    unsafe { libc::kill(first.id() as i32, libc::SIGKILL) };
    first.wait().unwrap();
    let third = sb
        .in_tree(&tree, &site)
        .env("RUNBOOK_LOCK_DIR", &locks)
        .args(["run", "hold-lock", "--json", "-p"])
        .arg_path("path=", &sb.path().join("files/motd"))
        .run()
        .code(0);
    let third_id = third.json()["run_id"].as_str().unwrap().to_string();
    let replay = sb
        .cmd()
        .args(["replay", &third_id, "--json"])
        .run()
        .code(0)
        .json();
    assert_eq!(
        common::events_of(&replay, "lock")[0]["payload"]["acquired"],
        true
    );
}

#[test]
fn lock_wait_outlasts_a_holder_that_ends() {
    let sb = Sandbox::new();
    let site = sb.site(&[]);
    let tree = sb.tree(&[("hold-lock", HOLDER)], &[]);
    let locks = sb.path().join("locks");
    let release = sb.path().join("files/release");
    let mut first = start_holder(&sb, &tree, &site, &locks, &release);
    holder_run_id(&locks, &mut first);
    std::fs::write(&release, "").unwrap();
    // The holder ends by itself once it sees the release file; the waiter outlasts it.
    sb.in_tree(&tree, &site)
        .env("RUNBOOK_LOCK_DIR", &locks)
        .args(["run", "hold-lock", "--lock-wait", "2m", "-p"])
        .arg_path("path=", &sb.path().join("files/motd"))
        .run()
        .code(0);
    assert!(first.wait().unwrap().success());
}
