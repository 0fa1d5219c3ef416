//! Best-effort mirror of important events to the system journal.
//!
//! A copy outside the database is the anchor that exposes truncation of the newest events: the
//! journal keeps each mirrored event's run, seq and hash. Mirrored kinds are `run-start`,
//! `run-end`, `interrupted`, `intent`, `outcome` and `gate`. Entries carry
//! `SYSLOG_IDENTIFIER=runbook`, `PRIORITY=6`, `RUNBOOK_RUN`, `RUNBOOK_SEQ`, `RUNBOOK_HASH`,
//! `RUNBOOK_KIND` (and `RUNBOOK_STEP` when there is one), so
//! `journalctl SYSLOG_IDENTIFIER=runbook RUNBOOK_RUN=<id>` lists a run.
//!
//! Datagrams use journald's native protocol on `/run/systemd/journal/socket`, sent without
//! blocking. When the socket does not exist the mirror switches itself off silently; a full
//! socket buffer drops the entry. Payloads are already redacted and are cut to a short summary.

use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::Mutex;

use super::chain::Hash;

/// The journald native protocol socket.
pub const JOURNAL_SOCKET: &str = "/run/systemd/journal/socket";

/// Kinds mirrored to the journal.
pub fn is_mirrored(kind: &str) -> bool {
    matches!(
        kind,
        "run-start" | "run-end" | "interrupted" | "intent" | "outcome" | "gate"
    )
}

/// Longest payload excerpt put in `MESSAGE`.
const SUMMARY_MAX: usize = 480;

enum State {
    Untried,
    Ready(UnixDatagram),
    Off,
}

pub(crate) struct Mirror {
    socket: PathBuf,
    state: Mutex<State>,
}

/// One event as mirrored.
pub(crate) struct MirrorEntry<'a> {
    pub run: &'a str,
    pub seq: i64,
    pub kind: &'a str,
    pub step: Option<&'a str>,
    pub payload: &'a str,
    /// None for a run the database could not record: the entry then says so
    /// (`RUNBOOK_RECORDED=no`), and the journal is the only trace of the run.
    pub hash: Option<Hash>,
}

impl Mirror {
    pub(crate) fn system() -> Mirror {
        Mirror::at(PathBuf::from(JOURNAL_SOCKET))
    }

    pub(crate) fn at(socket: PathBuf) -> Mirror {
        Mirror {
            socket,
            state: Mutex::new(State::Untried),
        }
    }

    /// Send one entry; never blocks, never fails.
    pub(crate) fn send(&self, e: &MirrorEntry<'_>) {
        let mut state = match self.state.lock() {
            Ok(s) => s,
            Err(_) => return,
        };
        if let State::Untried = *state {
            *state = if self.socket.exists() {
                match UnixDatagram::unbound().and_then(|s| s.set_nonblocking(true).map(|_| s)) {
                    Ok(s) => State::Ready(s),
                    Err(_) => State::Off,
                }
            } else {
                State::Off
            };
        }
        let State::Ready(sock) = &*state else {
            return;
        };
        let datagram = encode(&entry_fields(e));
        if let Err(err) = sock.send_to(&datagram, &self.socket) {
            if matches!(
                err.raw_os_error(),
                Some(libc::ENOENT) | Some(libc::ECONNREFUSED) | Some(libc::ENOTDIR)
            ) {
                *state = State::Off;
            }
        }
    }
}

fn entry_fields(e: &MirrorEntry<'_>) -> Vec<(&'static str, String)> {
    let mut summary: String = e.payload.chars().take(SUMMARY_MAX).collect();
    if summary.len() < e.payload.len() {
        summary.push('…');
    }
    let step = e.step.map(|s| format!(" [{s}]")).unwrap_or_default();
    let mut fields = vec![
        (
            "MESSAGE",
            format!("run {} #{} {}{}: {}", e.run, e.seq, e.kind, step, summary),
        ),
        ("PRIORITY", "6".to_string()),
        ("SYSLOG_IDENTIFIER", "runbook".to_string()),
        ("RUNBOOK_RUN", e.run.to_string()),
        ("RUNBOOK_SEQ", e.seq.to_string()),
        ("RUNBOOK_KIND", e.kind.to_string()),
    ];
    match e.hash {
        Some(hash) => fields.push(("RUNBOOK_HASH", hash.to_string())),
        None => fields.push(("RUNBOOK_RECORDED", "no".to_string())),
    }
    if let Some(step) = e.step {
        fields.push(("RUNBOOK_STEP", step.to_string()));
    }
    fields
}

/// journald native protocol: `KEY=value\n`, or for values containing a newline
/// `KEY\n` + little-endian u64 length + value + `\n`.
fn encode(fields: &[(&str, String)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    for (key, value) in fields {
        out.extend_from_slice(key.as_bytes());
        if value.contains('\n') {
            out.push(b'\n');
            out.extend_from_slice(&(value.len() as u64).to_le_bytes());
            out.extend_from_slice(value.as_bytes());
        } else {
            out.push(b'=');
            out.extend_from_slice(value.as_bytes());
        }
        out.push(b'\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_protocol() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("socket");
        let server = UnixDatagram::bind(&path).unwrap();
        let mirror = Mirror::at(path);
        mirror.send(&MirrorEntry {
            run: "20261121T051200Z-3f9a1c",
            seq: 3,
            kind: "intent",
            step: Some("Restart"),
            payload: "{\"fn\":\"systemd.restart\",\"args\":{\"unit\":\"a\\nb\"}}",
            hash: Some(Hash::parse(&"ab".repeat(32)).unwrap()),
        });
        let mut buf = [0u8; 4096];
        let n = server.recv(&mut buf).unwrap();
        let text = String::from_utf8_lossy(&buf[..n]);
        assert!(text.contains("SYSLOG_IDENTIFIER=runbook\n"), "{text}");
        assert!(text.contains("PRIORITY=6\n"));
        assert!(text.contains("RUNBOOK_RUN=20261121T051200Z-3f9a1c\n"));
        assert!(text.contains("RUNBOOK_SEQ=3\n"));
        assert!(text.contains(&format!("RUNBOOK_HASH={}\n", "ab".repeat(32))));
        assert!(text.contains("RUNBOOK_KIND=intent\n"));
        assert!(text.contains("RUNBOOK_STEP=Restart\n"));
        assert!(text.contains(
            "MESSAGE=run 20261121T051200Z-3f9a1c #3 intent [Restart]: {\"fn\":\"systemd.restart\""
        ));
    }

    #[test]
    fn multiline_values_use_the_binary_form() {
        let out = encode(&[("MESSAGE", "a\nb".to_string())]);
        let mut expected = b"MESSAGE\n".to_vec();
        expected.extend_from_slice(&3u64.to_le_bytes());
        expected.extend_from_slice(b"a\nb\n");
        assert_eq!(out, expected);
    }

    #[test]
    fn missing_socket_is_silent() {
        let dir = tempfile::tempdir().unwrap();
        let mirror = Mirror::at(dir.path().join("nope"));
        for _ in 0..3 {
            mirror.send(&MirrorEntry {
                run: "r",
                seq: 1,
                kind: "run-start",
                step: None,
                payload: "{}",
                hash: Some(Hash::GENESIS),
            });
        }
        assert!(matches!(*mirror.state.lock().unwrap(), State::Off));
    }
}
