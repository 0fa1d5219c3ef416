//! Events on their way to the database: what the recorder buffers, the background writer
//! carries and the store inserts. Kept apart from all three so that none of them imports
//! another for these types.

use std::sync::Arc;

use super::chain::{self, EventFields, Hash};

/// The columns an append writes, in the order their parameters are bound.
pub(crate) const COLUMNS: &str = "run, seq, time, kind, step, payload, prev_hash, hash";
pub(crate) const PARAMS_PER_ROW: usize = 8;

pub(crate) fn values_clause(rows: usize) -> String {
    let row = format!("({})", ["?"; PARAMS_PER_ROW].join(", "));
    vec![row; rows].join(", ")
}

/// An event ready to be hashed and written: everything but the chain fields.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub run: Arc<str>,
    pub seq: i64,
    pub time: Arc<str>,
    pub kind: Arc<str>,
    pub step: Option<Arc<str>>,
    pub payload: Arc<str>,
}

impl Pending {
    pub(crate) fn fields(&self, prev_hash: Hash) -> EventFields<'_> {
        EventFields {
            prev_hash,
            run: &self.run,
            seq: self.seq,
            time: &self.time,
            kind: &self.kind,
            step: self.step.as_deref(),
            payload: &self.payload,
        }
    }
}

/// Hashes computed ahead of a write (by a recorder, for its background batches, so that the
/// writer does not have to), valid if the chain head is still `prev` when the batch is
/// inserted. Otherwise the writer hashes the batch again against the real head.
#[derive(Debug)]
pub(crate) struct Sealed {
    pub prev: Hash,
    pub hashes: Vec<Hash>,
}

/// Hash `events` as a continuation of `prev`.
pub(crate) fn seal(prev: Hash, events: &[Pending]) -> Vec<Hash> {
    let mut hashes = Vec::with_capacity(events.len());
    for e in events {
        let prev = hashes.last().copied().unwrap_or(prev);
        hashes.push(chain::event_hash(&e.fields(prev)));
    }
    hashes
}
