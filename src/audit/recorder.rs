//! One run's handle on the audit store.

use std::sync::Arc;

use tokio::task::JoinHandle;

use serde_json::{Map, Value};

use super::store::{seal, AuditStore, Pending, Sealed};
use super::{clock, AuditError, Durability, Redactor, RunStatus};

/// How [`RunRecorder::write_buffer`] writes.
#[derive(Clone, Copy)]
enum Write {
    /// Hand the batch to a background task (a flush).
    Background,
    /// Write it before returning; `fsync`: and sync the log (a durable event).
    Now { fsync: bool },
}

/// Buffered events kept in memory before a flush is forced, to bound memory use in runs that
/// make many read-only calls within one step.
const AUTO_FLUSH: usize = 4096;

struct State {
    next_seq: i64,
    buffer: Vec<Pending>,
    /// The batch being written in the background by the last flush, if any. It comes back
    /// when written, to be dropped here and its allocation kept in `spare`: freeing ten
    /// thousand events took a tenth of the writer's time.
    writing: Option<JoinHandle<Result<Written, AuditError>>>,
    /// An empty buffer with the capacity of the last written batch: the next flush's buffer.
    spare: Vec<Pending>,
    /// The chain head this run's writes so far are expected to leave: the hash its next write
    /// should follow, so that a flush can hash its batch here while the writer still inserts
    /// the last one. Set to the real head when a write completes; None when unknown (after a
    /// failed write, or while a batch that could not be hashed ahead is in flight).
    tail: Option<Arc<str>>,
    /// Whether any event of this run was durable (an intent, a gate, a refusal): then its end
    /// is fsync'd too.
    any_durable: bool,
    finished: bool,
    /// Kind and step names seen so far, shared between events instead of copied.
    names: Vec<Arc<str>>,
}

/// What a background write hands back.
struct Written {
    batch: Vec<Pending>,
    /// The hash of its last event.
    tail: Option<Arc<str>>,
}

impl State {
    fn intern(&mut self, name: &str) -> Arc<str> {
        if let Some(n) = self.names.iter().rev().find(|n| &***n == name) {
            return n.clone();
        }
        if self.names.len() >= 64 {
            self.names.remove(0);
        }
        let n: Arc<str> = name.into();
        self.names.push(n.clone());
        n
    }
}

/// Records the events of one run. Obtained from [`AuditStore::start_run`]; `Send + Sync`, so
/// host functions on the engine thread can call it through `Handle::block_on`.
///
/// Events are numbered 1, 2, 3, ... in the order `record` is called (`run-start` is 1). Call
/// [`RunRecorder::flush`] at the end of each step and [`RunRecorder::finish`] at the end of the
/// run: buffered events still in memory when the recorder is dropped are lost.
pub struct RunRecorder {
    store: AuditStore,
    id: Arc<str>,
    redactor: Redactor,
    state: tokio::sync::Mutex<State>,
}

impl std::fmt::Debug for RunRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunRecorder").field("id", &self.id).finish()
    }
}

impl RunRecorder {
    pub(crate) fn new(
        store: AuditStore,
        id: Arc<str>,
        redactor: Redactor,
        next_seq: i64,
        tail: Option<Arc<str>>,
    ) -> RunRecorder {
        RunRecorder {
            store,
            id,
            redactor,
            state: tokio::sync::Mutex::new(State {
                next_seq,
                buffer: Vec::new(),
                writing: None,
                spare: Vec::new(),
                tail,
                any_durable: false,
                finished: false,
                names: Vec::new(),
            }),
        }
    }

    /// The run id, e.g. `20261121T051200Z-3f9a1c`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The store this run writes to.
    pub fn store(&self) -> &AuditStore {
        &self.store
    }

    /// The redactor applied to this run's payloads. Use it for terminal output too; clones
    /// share runtime secrets.
    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// Redact `value` from this run's events and output from now on (a runbook marked it
    /// secret). Values shorter than 4 characters are ignored.
    pub fn add_secret(&self, value: &str) {
        self.redactor.add_secret(value);
    }

    /// Record one event. The payload is redacted, then serialized once; that text is what is
    /// hashed and stored. Returns the event's seq.
    ///
    /// `Durable`: this run's buffered events and this one are committed (fsync'd) before
    /// returning; on error nothing of this event was written and the buffered events stay
    /// buffered. `Buffered`: kept in memory until the next flush or durable event.
    pub async fn record(
        &self,
        kind: &str,
        step: Option<&str>,
        payload: Value,
        durability: Durability,
    ) -> Result<u64, AuditError> {
        self.push(None, kind, step, payload, durability, false)
            .await
    }

    /// [`RunRecorder::record`] for an event that happened earlier, at `time` (from
    /// [`clock::now`]): events kept in memory while the store was being opened.
    pub(crate) async fn record_at(
        &self,
        time: String,
        kind: &str,
        step: Option<&str>,
        payload: Value,
    ) -> Result<u64, AuditError> {
        self.push(Some(time), kind, step, payload, Durability::Buffered, false)
            .await
    }

    async fn push(
        &self,
        time: Option<String>,
        kind: &str,
        step: Option<&str>,
        mut payload: Value,
        durability: Durability,
        last: bool,
    ) -> Result<u64, AuditError> {
        self.redactor.redact_json(&mut payload);
        let payload: Arc<str> = serde_json::to_string(&payload)
            .expect("JSON values serialize")
            .into();
        let step = step.map(|s| self.redactor.redact_str(s));

        let mut st = self.state.lock().await;
        if st.finished {
            return Err(AuditError::Finished(self.id.to_string()));
        }
        let kind = st.intern(kind);
        let step = step.map(|s| st.intern(&s));
        let seq = st.next_seq;
        st.next_seq += 1;
        st.buffer.push(Pending {
            run: self.id.clone(),
            seq,
            time: time.unwrap_or_else(clock::now).into(),
            kind,
            step,
            payload,
        });
        // Durable events, and the end of a run that did nothing durable, are written now (the
        // latter without an fsync); other read-only events wait for a flush.
        let now = match durability {
            Durability::Durable => Some(true),
            Durability::Buffered if last => Some(false),
            Durability::Buffered => None,
        };
        match now {
            Some(fsync) => {
                if let Err(e) = self.write_buffer(&mut st, Write::Now { fsync }).await {
                    // The event was not written: take it back so that no gap in seq and no
                    // record of an action that never happened remains.
                    st.buffer.pop();
                    st.next_seq -= 1;
                    return Err(e);
                }
            }
            None if st.buffer.len() >= AUTO_FLUSH => {
                self.write_buffer(&mut st, Write::Background).await?;
            }
            None => {}
        }
        st.finished = last;
        Ok(seq as u64)
    }

    /// Hand all buffered events to a background write: one transaction, committed without an
    /// fsync of its own (see [`AuditStore::append`]); the next durable event syncs them too.
    /// Returns once the previous background write has finished (so at most one batch is in
    /// flight while the next one fills), with that write's error if it failed.
    pub async fn flush(&self) -> Result<(), AuditError> {
        let mut st = self.state.lock().await;
        self.write_buffer(&mut st, Write::Background).await
    }

    /// Wait until everything flushed so far is written (committed, not necessarily synced).
    pub async fn wait_written(&self) -> Result<(), AuditError> {
        Self::written(&mut *self.state.lock().await).await
    }

    /// Wait for the background write, if any.
    async fn written(st: &mut State) -> Result<(), AuditError> {
        let Some(task) = st.writing.take() else {
            return Ok(());
        };
        let written = task.await.unwrap_or_else(|e| {
            Err(AuditError::Inconsistent(format!(
                "a background audit write did not complete: {e}"
            )))
        });
        let Written { mut batch, tail } = written.inspect_err(|_| st.tail = None)?;
        st.tail = tail;
        batch.clear();
        st.spare = batch;
        Ok(())
    }

    /// Write the buffer after the background write (if any) is done: now, or in the
    /// background.
    async fn write_buffer(&self, st: &mut State, how: Write) -> Result<(), AuditError> {
        let Write::Now { fsync } = how else {
            return self.write_background(st).await;
        };
        Self::written(st).await?;
        if st.buffer.is_empty() {
            return Ok(());
        }
        let hashes = self
            .store
            .append(&st.buffer, fsync, None)
            .await
            .inspect_err(|_| st.tail = None)?;
        self.store.mirror(&st.buffer, &hashes);
        st.tail = hashes.last().cloned();
        st.buffer.clear();
        st.any_durable |= fsync;
        Ok(())
    }

    /// Hand the buffer to a background write once the previous one is done.
    ///
    /// The batch is hashed here, on the caller's side, so that the writer does not have to:
    /// first against the head the batch in flight is expected to leave, while the writer may
    /// still be inserting it (the two overlap); if that write left another head (another run
    /// wrote in between), hashed again against the real one. Should the head have moved again
    /// by the time the writer inserts, the writer hashes the batch once more itself.
    async fn write_background(&self, st: &mut State) -> Result<(), AuditError> {
        if st.buffer.is_empty() {
            return Self::written(st).await;
        }
        let batch = std::mem::take(&mut st.buffer);
        let early = st.tail.clone().map(|prev| Sealed {
            hashes: seal(&prev, &batch),
            prev,
        });
        if let Err(e) = Self::written(st).await {
            // Nothing of this batch was handed over: keep it buffered.
            st.buffer = batch;
            return Err(e);
        }
        let sealed = match (early, &st.tail) {
            (Some(early), Some(head)) if early.prev == *head => Some(early),
            (_, Some(head)) => Some(Sealed {
                hashes: seal(head, &batch),
                prev: head.clone(),
            }),
            (_, None) => None,
        };
        // The head this batch will leave, as far as this run knows: what the next one is
        // hashed against before this one is written.
        st.tail = sealed.as_ref().and_then(|s| s.hashes.last().cloned());
        st.buffer = std::mem::take(&mut st.spare);
        let store = self.store.clone();
        st.writing = Some(tokio::spawn(async move {
            let hashes = store.append(&batch, false, sealed).await?;
            store.mirror(&batch, &hashes);
            let tail = hashes.last().cloned();
            Ok(Written { batch, tail })
        }));
        Ok(())
    }

    /// Record the `run-end` event: `{"status", "exit_code", ...detail}`. `detail`'s fields (an
    /// object, e.g. `{"error": "..."}`) are merged in; any other non-null value is stored as
    /// `"detail"`. After this, `record` fails with [`AuditError::Finished`].
    ///
    /// Every event of the run is written when this returns. It is fsync'd, with everything
    /// before it, if the run recorded any durable event; the end of a run that only read (no
    /// intent, gate or refusal) is committed like a step's reads, without an fsync: a power
    /// cut in the next seconds can lose the record of a read-only run, never of an action.
    pub async fn finish(&self, status: RunStatus, detail: Value) -> Result<(), AuditError> {
        let mut payload = Map::new();
        payload.insert("status".into(), status.as_str().into());
        payload.insert("exit_code".into(), status.exit_code().into());
        match detail {
            Value::Object(fields) => {
                for (k, v) in fields {
                    if k != "status" && k != "exit_code" {
                        payload.insert(k, v);
                    }
                }
            }
            Value::Null => {}
            other => {
                payload.insert("detail".into(), other);
            }
        }
        let durability = if self.state.lock().await.any_durable {
            Durability::Durable
        } else {
            Durability::Buffered
        };
        self.push(
            None,
            "run-end",
            None,
            Value::Object(payload),
            durability,
            true,
        )
        .await?;
        Ok(())
    }
}
