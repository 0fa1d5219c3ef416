//! The full read of a dump, fed as its bytes go by: `pg_restore -f /dev/null` reading stdin,
//! which decodes every block (a custom-format archive reads front to back, so stdin does what
//! a file argument does). The bytes a caller hashes are the bytes pg_restore decodes, in one
//! pass: a new dump while it streams from pg_dump, an old one while it is read for its sha256.
//!
//! pg_restore's stderr is read on its own thread, so a chatty pg_restore never blocks on a
//! full pipe while it is being fed. When pg_restore stops reading early (it has failed, and
//! its stderr says why), the rest is not fed and the caller goes on hashing.

use std::io::{Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::thread::JoinHandle;

use super::backup::{classify_read, FullRead};
use super::{HostCtx, HostError};

/// stderr kept from pg_restore.
const CAP: u64 = 64 * 1024;

pub(crate) struct FullReader {
    program: String,
    child: Child,
    stdin: Option<ChildStdin>,
    stderr: Option<JoinHandle<Vec<u8>>>,
}

impl FullReader {
    pub(crate) fn start(ctx: &HostCtx) -> Result<FullReader, HostError> {
        let program = ctx.site.backups.pg_restore.clone();
        let mut child = Command::new(&program)
            .args(["-f", "/dev/null"])
            .env_clear()
            .env("PATH", super::commands::SECURE_PATH)
            .env("LANG", "C.UTF-8")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| HostError::Failed(format!("cannot start {program}: {e}")))?;
        let stdin = child.stdin.take();
        let stderr = child.stderr.take().map(|mut e| {
            std::thread::spawn(move || {
                let mut kept = Vec::new();
                let _ = (&mut e).take(CAP).read_to_end(&mut kept);
                // Drain the rest so the child never blocks on a full pipe.
                let _ = std::io::copy(&mut e, &mut std::io::sink());
                kept
            })
        });
        Ok(FullReader {
            program,
            child,
            stdin,
            stderr,
        })
    }

    /// The next bytes of the dump. A pg_restore that stopped reading gets no more.
    pub(crate) fn feed(&mut self, bytes: &[u8]) {
        if let Some(s) = self.stdin.as_mut() {
            if s.write_all(bytes).is_err() {
                self.stdin = None;
            }
        }
    }

    /// End of the dump: pg_restore's verdict, from its exit code and stderr together.
    pub(crate) fn finish(mut self) -> Result<FullRead, HostError> {
        self.stdin = None;
        let status = self
            .child
            .wait()
            .map_err(|e| HostError::Failed(format!("waiting for {}: {e}", self.program)))?;
        let stderr = self
            .stderr
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default();
        Ok(classify_read(
            status.code(),
            &String::from_utf8_lossy(&stderr),
        ))
    }
}

impl Drop for FullReader {
    /// A reader abandoned before `finish` (the dump failed): pg_restore is not left running.
    fn drop(&mut self) {
        if self.stderr.is_some() {
            self.stdin = None;
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
