//! The hash chain: how each event's hash is computed, precisely enough to re-implement.
//!
//! # Canonical encoding, version 1
//!
//! All events of all runs form one chain, ordered by `events.id`. Each event stores the hash of
//! the event before it (`prev_hash`; for the first event ever, the genesis value of all zeros)
//! and its own `hash`:
//!
//! ```text
//! hash = lowercase_hex( SHA-256( "runbook-audit-v1\n"
//!                                || field(prev_hash) || field(run) || field(seq)
//!                                || field(time) || field(kind) || field(step)
//!                                || field(payload) ) )
//!
//! field(x)    = decimal(byte_length(x)) || ":" || x || "\n"     x as UTF-8 bytes
//! field(null) = "-\n"                                            only step can be null
//! ```
//!
//! - `prev_hash`, `hash`: 64 lowercase hex characters (`runbook audit export` writes them so;
//!   the database stores the same 32 bytes as a BLOB).
//! - `run`: the run id, e.g. `20261121T051200Z-3f9a1c`.
//! - `seq`: the event's number within its run, written in ASCII decimal without leading zeros
//!   (`1`, `2`, ...).
//! - `time`: exactly the stored text, RFC 3339 in UTC with microseconds,
//!   e.g. `2026-11-21T05:12:00.123456Z`.
//! - `kind`, `step`: the stored text; `step` is null for events outside a step.
//! - `payload`: exactly the stored JSON text (the `payload` column, `payload_text` in
//!   `runbook audit export`). The text is hashed as stored, never re-serialized, so a verifier
//!   needs no JSON canonicalization.
//!
//! Lengths are byte counts of the UTF-8 encoding. Because every field carries its length, no
//! field can bleed into the next whatever characters it contains, and null (`-`) cannot be
//! confused with an empty string (`0:`).
//!
//! The chain is valid when, for every event in id order, `prev_hash` equals the previous event's
//! `hash` (64 zeros for the first event) and `hash` equals the recomputation above.
//!
//! The same check in Python (see `tests/verify_export.py` for the full script):
//!
//! ```python
//! import hashlib
//! def field(x):
//!     if x is None:
//!         return b"-\n"
//!     b = str(x).encode("utf-8")
//!     return str(len(b)).encode() + b":" + b + b"\n"
//! def event_hash(e):
//!     m = b"runbook-audit-v1\n" + b"".join(field(e[k]) for k in
//!         ("prev_hash", "run", "seq", "time", "kind", "step", "payload_text"))
//!     return hashlib.sha256(m).hexdigest()
//! ```

use std::fmt;

use serde::{Serialize, Serializer};
use sha2::{Digest, Sha256};

/// Domain separation and version tag: the first bytes of every hashed message.
pub const DOMAIN: &[u8] = b"runbook-audit-v1\n";

/// An event's hash: the SHA-256 digest of its canonical encoding.
///
/// The database stores it as a 32-byte BLOB: as 64 characters of hex text the two hash columns
/// were a third of each row, and appends wrote that much more. Everywhere people and other
/// tools see it (export, replay, verify, the journal), and inside the next event's canonical
/// encoding, it is 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Hash([u8; 32]);

impl Hash {
    /// The `prev_hash` of the first event in the chain: 32 zero bytes, 64 zeros in hex.
    pub const GENESIS: Hash = Hash([0; 32]);

    /// A stored hash column's bytes, if they are a hash (exactly 32 bytes).
    pub fn from_bytes(bytes: &[u8]) -> Option<Hash> {
        bytes.try_into().ok().map(Hash)
    }

    /// 64 hex digits (either case, as people copy them), else None.
    pub fn parse(hex: &str) -> Option<Hash> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(hex, &mut out).ok()?;
        Some(Hash(out))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lowercase hex in a stack buffer.
    pub fn hex(&self) -> [u8; 64] {
        let mut out = [0u8; 64];
        hex::encode_to_slice(self.0, &mut out).expect("64 bytes hold 32 bytes of hex");
        out
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(std::str::from_utf8(&self.hex()).expect("hex digits are ASCII"))
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({self})")
    }
}

impl Serialize for Hash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A hash column as read back: a [`Hash`] unless the database was tampered with, in which case
/// it may hold anything. Shown as the hex of whatever bytes are there, so export and replay
/// still show a tampered row as it is (and `verify` names it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoredHash<'a>(pub &'a [u8]);

impl fmt::Display for StoredHash<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match Hash::from_bytes(self.0) {
            Some(h) => h.fmt(f),
            None => f.write_str(&hex::encode(self.0)),
        }
    }
}

impl Serialize for StoredHash<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The fields of one event that the hash covers, borrowed.
#[derive(Debug, Clone, Copy)]
pub struct EventFields<'a> {
    pub prev_hash: Hash,
    pub run: &'a str,
    pub seq: i64,
    pub time: &'a str,
    pub kind: &'a str,
    pub step: Option<&'a str>,
    pub payload: &'a str,
}

/// Append one length-prefixed field: `<len>:<bytes>\n`.
fn field(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(itoa::Buffer::new().format(bytes.len()).as_bytes());
    out.push(b':');
    out.extend_from_slice(bytes);
    out.push(b'\n');
}

/// An event's hash under the version 1 encoding.
pub fn event_hash(e: &EventFields<'_>) -> Hash {
    digest_bytes(
        &e.prev_hash,
        e.run.as_bytes(),
        e.seq,
        e.time.as_bytes(),
        e.kind.as_bytes(),
        e.step.map(str::as_bytes),
        e.payload.as_bytes(),
    )
}

/// [`event_hash`] over raw column bytes (what `verify` reads).
pub fn digest_bytes(
    prev_hash: &Hash,
    run: &[u8],
    seq: i64,
    time: &[u8],
    kind: &[u8],
    step: Option<&[u8]>,
    payload: &[u8],
) -> Hash {
    // The message is assembled in one buffer and hashed in one call: feeding the hasher
    // field by field spent as long copying small pieces into its block buffer as hashing.
    thread_local! {
        static MESSAGE: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    MESSAGE.with_borrow_mut(|m| {
        m.clear();
        m.extend_from_slice(DOMAIN);
        field(m, &prev_hash.hex());
        field(m, run);
        field(m, itoa::Buffer::new().format(seq).as_bytes());
        field(m, time);
        field(m, kind);
        match step {
            Some(step) => field(m, step),
            None => m.extend_from_slice(b"-\n"),
        }
        field(m, payload);
        Hash(Sha256::digest(&m[..]).into())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> EventFields<'static> {
        EventFields {
            prev_hash: Hash::GENESIS,
            run: "20261121T051200Z-3f9a1c",
            seq: 1,
            time: "2026-11-21T05:12:00.123456Z",
            kind: "run-start",
            step: None,
            payload: r#"{"a":1}"#,
        }
    }

    #[test]
    fn encoding_matches_the_documented_bytes() {
        let e = sample();
        let message = "runbook-audit-v1\n\
             64:0000000000000000000000000000000000000000000000000000000000000000\n\
             23:20261121T051200Z-3f9a1c\n\
             1:1\n\
             27:2026-11-21T05:12:00.123456Z\n\
             9:run-start\n\
             -\n\
             7:{\"a\":1}\n";
        let expected = hex::encode(Sha256::digest(message.as_bytes()));
        assert_eq!(event_hash(&e).to_string(), expected);
    }

    #[test]
    fn null_step_differs_from_empty_step() {
        let a = sample();
        let b = EventFields {
            step: Some(""),
            ..sample()
        };
        assert_ne!(event_hash(&a), event_hash(&b));
    }

    #[test]
    fn field_boundaries_are_unambiguous() {
        let a = EventFields {
            kind: "ab",
            step: Some("c"),
            ..sample()
        };
        let b = EventFields {
            kind: "a",
            step: Some("bc"),
            ..sample()
        };
        assert_ne!(event_hash(&a), event_hash(&b));
    }

    #[test]
    fn lengths_count_utf8_bytes() {
        let e = EventFields {
            step: Some("é"),
            ..sample()
        };
        let mut h = Sha256::new();
        h.update(DOMAIN);
        for f in [
            "0000000000000000000000000000000000000000000000000000000000000000",
            "20261121T051200Z-3f9a1c",
            "1",
            "2026-11-21T05:12:00.123456Z",
            "run-start",
            "é",
            r#"{"a":1}"#,
        ] {
            h.update(format!("{}:{}\n", f.len(), f).as_bytes());
        }
        assert_eq!(event_hash(&e).to_string(), hex::encode(h.finalize()));
        assert_eq!("é".len(), 2);
    }

    #[test]
    fn hash_text_round_trips() {
        let h = event_hash(&sample());
        let hex = h.to_string();
        assert_eq!(hex.len(), 64);
        assert!(hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert_eq!(Hash::parse(&hex), Some(h));
        assert_eq!(Hash::parse(&hex.to_uppercase()), Some(h));
        assert_eq!(Hash::parse(&hex[..63]), None);
        assert_eq!(Hash::parse(&format!("{}g", &hex[..63])), None);
        assert_eq!(Hash::from_bytes(h.as_bytes()), Some(h));
        assert_eq!(Hash::from_bytes(&h.as_bytes()[..31]), None);
        assert_eq!(Hash::GENESIS.to_string(), "0".repeat(64));
        assert_eq!(serde_json::to_string(&h).unwrap(), format!("\"{hex}\""));
    }

    #[test]
    fn a_stored_hash_shows_what_is_there() {
        let h = event_hash(&sample());
        assert_eq!(StoredHash(h.as_bytes()).to_string(), h.to_string());
        // A tampered row: text where the hash belongs.
        assert_eq!(StoredHash(b"ab").to_string(), "6162");
    }
}
