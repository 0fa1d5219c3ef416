//! A small builder around the real `runbook` binary, shared by the integration tests.
//!
//! Every invocation gets its own audit database and runs with no terminal on stdin, like CI.
#![allow(dead_code)]

pub mod browser;
pub mod lesson;
pub mod pty;
pub mod twin;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/runbooks");

pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn db(&self) -> PathBuf {
        self.dir.path().join("audit.db")
    }

    /// A site config whose `files` module may touch only this sandbox's `files/` directory,
    /// and whose command allowlist holds `programs`, each with any arguments and classified
    /// `read` (for tests about something else than classification).
    pub fn site(&self, programs: &[&str]) -> PathBuf {
        let rules: String = programs
            .iter()
            .map(|p| {
                format!(
                    "    - program: {p}\n      args: [{{pattern: '(?s).*', repeat: true, optional: true, dash: true}}]\n      effect: read\n      why: test\n"
                )
            })
            .collect();
        self.site_with_rules(&rules)
    }

    /// Like `site`, with `rules` (YAML list items, indented by 4) as the command allowlist.
    pub fn site_with_rules(&self, rules: &str) -> PathBuf {
        let root = self.dir.path().join("files");
        std::fs::create_dir_all(&root).unwrap();
        let base = include_str!("../../site/openclaw.yaml");
        let mut text = String::new();
        let mut skip = false;
        for line in base.lines() {
            let top_level = !line.starts_with(' ') && !line.starts_with('#') && !line.is_empty();
            if top_level {
                skip = line.starts_with("files:") || line.starts_with("commands:");
            }
            if !skip {
                text.push_str(line);
                text.push('\n');
            }
        }
        text.push_str(&format!("files:\n  roots:\n    - {}\n", root.display()));
        if rules.is_empty() {
            text.push_str("commands:\n  allow: []\n");
        } else {
            text.push_str("commands:\n  allow:\n");
            text.push_str(rules);
        }
        let path = self.dir.path().join("site.yaml");
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Write runbooks (`name`, source without the header) to this sandbox's `rb/runbooks/` and
    /// stdlib modules to `rb/stdlib/` (which override the built-in ones); returns the runbook
    /// directory. Each runbook gets a header declaring it `mutates: true` with an optional
    /// string parameter `path`, unless its source starts with a header of its own.
    pub fn tree(&self, runbooks: &[(&str, &str)], modules: &[(&str, &str)]) -> PathBuf {
        let dir = self.dir.path().join("rb");
        std::fs::create_dir_all(dir.join("runbooks")).unwrap();
        std::fs::create_dir_all(dir.join("stdlib")).unwrap();
        for (name, body) in runbooks {
            if body.starts_with("//! name:") {
                std::fs::write(dir.join("runbooks").join(format!("{name}.rhai")), body).unwrap();
                continue;
            }
            let text = format!(
                "//! name: {name}\n//! summary: test runbook\n//! mutates: true\n//! param path: string, default \"\" -- a file\n{body}\n"
            );
            std::fs::write(dir.join("runbooks").join(format!("{name}.rhai")), text).unwrap();
        }
        for (name, body) in modules {
            std::fs::write(dir.join("stdlib").join(format!("{name}.rhai")), body).unwrap();
        }
        dir.join("runbooks")
    }

    /// `runbook --runbooks DIR --site SITE` on this sandbox's database.
    pub fn in_tree(&self, dir: &Path, site: &Path) -> Runbook {
        self.cmd()
            .args(["--runbooks".as_ref(), dir.as_os_str()])
            .args(["--site".as_ref(), site.as_os_str()])
    }

    /// `runbook --runbooks FIXTURES --site SITE` on this sandbox's database.
    pub fn with_site(&self, site: &Path) -> Runbook {
        self.cmd()
            .fixtures()
            .args(["--site".as_ref(), site.as_os_str()])
    }

    pub fn cmd(&self) -> Runbook {
        Runbook::new().env("RUNBOOK_AUDIT_DB", self.db())
    }
}

/// The events of one kind in a `replay --json` document, in order.
pub fn events_of<'a>(replay: &'a serde_json::Value, kind: &str) -> Vec<&'a serde_json::Value> {
    replay["events"]
        .as_array()
        .expect("replay --json has events")
        .iter()
        .filter(|e| e["kind"] == kind)
        .collect()
}

pub struct Runbook {
    cmd: Command,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Runbook {
    pub fn new() -> Runbook {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_runbook"));
        cmd.env_remove("OPENCLAW_DRY_RUN")
            .env_remove("RUNBOOK_PATH")
            .env_remove("RUNBOOK_SITE")
            .env_remove("RUNBOOK_AUDIT_DB")
            .env_remove("RUNBOOK_OPERATION_BUDGET")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        Runbook { cmd }
    }

    pub fn args<I, S>(mut self, args: I) -> Runbook
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.cmd.args(args);
        self
    }

    pub fn fixtures(self) -> Runbook {
        self.args(["--runbooks", FIXTURES])
    }

    /// `-p KEY=<path>` style arguments: `prefix` immediately followed by the path.
    pub fn arg_path(mut self, prefix: &str, path: &Path) -> Runbook {
        let mut arg = std::ffi::OsString::from(prefix);
        arg.push(path.as_os_str());
        self.cmd.arg(arg);
        self
    }

    /// The directory the runbook process starts in.
    pub fn cwd(mut self, dir: &Path) -> Runbook {
        self.cmd.current_dir(dir);
        self
    }

    pub fn env_remove(mut self, k: &str) -> Runbook {
        self.cmd.env_remove(k);
        self
    }

    pub fn env(mut self, k: &str, v: impl AsRef<std::ffi::OsStr>) -> Runbook {
        self.cmd.env(k, v);
        self
    }

    /// Run, killing the process if it is still running after `limit` (then `code` is -1): for
    /// tests of runaway runbooks, so that a regression fails the test instead of hanging it.
    pub fn run_at_most(mut self, limit: std::time::Duration) -> Run {
        let child = self
            .cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("runbook binary runs");
        let pid = child.id() as i32;
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let watcher = {
            let done = done.clone();
            std::thread::spawn(move || {
                let until = std::time::Instant::now() + limit;
                while std::time::Instant::now() < until {
                    if done.load(std::sync::atomic::Ordering::SeqCst) {
                        return;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                // SAFETY: kill(2) on our own child's pid, which has not been reaped yet
                // (wait_with_output below has not returned).
                unsafe { libc::kill(pid, libc::SIGKILL) };
            })
        };
        let Output {
            status,
            stdout,
            stderr,
        } = child.wait_with_output().expect("runbook binary runs");
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = watcher.join();
        Run {
            code: status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        }
    }

    /// Run on a new pseudo-terminal (stdin, stdout and stderr), as from an operator's shell.
    pub fn on_pty(mut self) -> pty::PtyRun {
        let cmd = std::mem::replace(&mut self.cmd, Command::new("true"));
        pty::run(cmd)
    }

    /// Start on a new pseudo-terminal, to type into and read from as an operator would.
    pub fn session(mut self) -> pty::Session {
        let cmd = std::mem::replace(&mut self.cmd, Command::new("true"));
        pty::Session::spawn(cmd)
    }

    pub fn run(mut self) -> Run {
        let Output {
            status,
            stdout,
            stderr,
        } = self.cmd.output().expect("runbook binary runs");
        Run {
            code: status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        }
    }
}

impl Run {
    /// Assert the exit code, showing all output when it differs.
    pub fn code(self, expected: i32) -> Run {
        assert_eq!(
            self.code, expected,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }

    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}
