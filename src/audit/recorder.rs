//! One run's handle on the audit store.

use std::sync::Arc;

use serde_json::Value;

use super::background::{Background, MAX_IN_FLIGHT};
use super::batch::{seal, Pending, Sealed};
use super::chain::Hash;
use super::event::{Event, RunEnd};
use super::store::{AuditStore, NewRun, RunStart};
use super::{clock, AuditError, Durability, Redactor};

/// Buffered events kept in memory before a flush is forced, to bound memory use in runs that
/// make many read-only calls within one step.
const AUTO_FLUSH: usize = 4096;

struct State {
    next_seq: i64,
    buffer: Vec<Pending>,
    /// The writer of flushed batches, started by the first flush. Written batches come back
    /// to be dropped here and their allocation kept in `spare`: freeing ten thousand events
    /// took a tenth of the writer's time.
    background: Option<Background>,
    /// An empty buffer with the capacity of the last written batch: the next flush's buffer.
    spare: Vec<Pending>,
    /// The chain head this run's writes so far are expected to leave: the hash its next write
    /// should follow, so that a flush can hash its batch here while the writer still inserts
    /// earlier ones. Set to the real head when the last write in flight completes; None when
    /// unknown (after a failed write, or when another run wrote in between and batches hashed
    /// against the old head are still in flight).
    tail: Option<Hash>,
    /// Whether any event of this run was durable (an intent, a gate, a refusal): then its end
    /// is fsync'd too.
    any_durable: bool,
    finished: bool,
    /// Kind and step names seen so far, shared between events instead of copied.
    names: Vec<Arc<str>>,
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

/// `payload` as JSON text, shared: serialized into a buffer kept per thread, so that the only
/// allocation is the shared copy (a `String` of its own grew and was copied again).
fn serialize(payload: &Value) -> Arc<str> {
    use std::cell::RefCell;
    thread_local! {
        static BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    }
    BUFFER.with(|buffer| {
        let mut buffer = buffer.borrow_mut();
        buffer.clear();
        serde_json::to_writer(&mut *buffer, payload).expect("JSON values serialize");
        Arc::from(std::str::from_utf8(&buffer).expect("serde_json writes UTF-8"))
    })
}

impl AuditStore {
    /// Record the start of a run: store the source once, insert the `runs` row and append the
    /// `run-start` event, all in one transaction. The commit is not fsync'd by itself: the
    /// run's first durable event (an intent, a gate, at the latest its end) syncs it.
    pub async fn start_run(&self, run: NewRun) -> Result<RunRecorder, AuditError> {
        self.start_run_with(run, RunStart::now(), Redactor::new())
            .await
    }

    /// [`AuditStore::start_run`] with a start chosen beforehand and the redactor the run's
    /// output already uses (so secrets registered early apply to its events too).
    pub async fn start_run_with(
        &self,
        run: NewRun,
        start: RunStart,
        redactor: Redactor,
    ) -> Result<RunRecorder, AuditError> {
        let (id, head) = self.begin_run(run, start, &redactor).await?;
        Ok(RunRecorder::new(self.clone(), id, redactor, 2, head))
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
    /// See [`AuditStore::space_warning`].
    pub fn space_warning(&self) -> Option<&super::reserve::SpaceWarning> {
        self.store.space_warning()
    }

    pub(crate) fn new(
        store: AuditStore,
        id: Arc<str>,
        redactor: Redactor,
        next_seq: i64,
        tail: Option<Hash>,
    ) -> RunRecorder {
        RunRecorder {
            store,
            id,
            redactor,
            state: tokio::sync::Mutex::new(State {
                next_seq,
                buffer: Vec::new(),
                background: None,
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

    /// [`RunRecorder::record`] for one of the typed events of [`super::event`], which is what
    /// the product records; `record` itself takes any kind and payload.
    pub async fn record_event(
        &self,
        step: Option<&str>,
        event: &Event,
        durability: Durability,
    ) -> Result<u64, AuditError> {
        self.record(event.kind(), step, event.payload(), durability)
            .await
    }

    /// [`RunRecorder::record`] for an event that happened earlier, at `time` (from
    /// [`clock::now`]): events kept in memory while the store was being opened.
    pub(crate) async fn record_at(
        &self,
        time: Arc<str>,
        kind: &str,
        step: Option<&str>,
        payload: Value,
    ) -> Result<u64, AuditError> {
        self.push(Some(time), kind, step, payload, Durability::Buffered, false)
            .await
    }

    async fn push(
        &self,
        time: Option<Arc<str>>,
        kind: &str,
        step: Option<&str>,
        mut payload: Value,
        durability: Durability,
        last: bool,
    ) -> Result<u64, AuditError> {
        self.redactor.redact_json(&mut payload);
        let payload = serialize(&payload);
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
            time: time.unwrap_or_else(clock::now),
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
                if let Err(e) = self.write_now(&mut st, fsync).await {
                    // The event was not written: take it back so that no gap in seq and no
                    // record of an action that never happened remains.
                    st.buffer.pop();
                    st.next_seq -= 1;
                    return Err(e);
                }
            }
            None if st.buffer.len() >= AUTO_FLUSH => {
                self.write_background(&mut st).await?;
            }
            None => {}
        }
        st.finished = last;
        Ok(seq as u64)
    }

    /// Hand all buffered events to a background write: one transaction, committed without an
    /// fsync of its own (see [`AuditStore::append`]); the next durable event syncs them too.
    /// Returns once fewer than two earlier batches are still being written (so at most two are
    /// in flight while the next one fills), with the error of a write that failed.
    pub async fn flush(&self) -> Result<(), AuditError> {
        self.write_background(&mut *self.state.lock().await).await
    }

    /// Wait until everything flushed so far is written (committed, not necessarily synced).
    pub async fn wait_written(&self) -> Result<(), AuditError> {
        Self::written(&mut *self.state.lock().await).await
    }

    /// Wait until every background write is done. Returns the first error.
    async fn written(st: &mut State) -> Result<(), AuditError> {
        let mut result = Ok(());
        while let Some(outcome) = Self::next_written(st).await {
            if result.is_ok() {
                result = outcome;
            }
        }
        result
    }

    /// Wait for the oldest background write and take in its outcome. None when no write is in
    /// flight.
    async fn next_written(st: &mut State) -> Option<Result<(), AuditError>> {
        let background = st.background.as_mut()?;
        let written = match background.next().await? {
            Ok(written) => written,
            Err(e) => {
                // The batches behind it are not written either; a new writer starts with the
                // next flush, against the head as it will be read then.
                st.background = None;
                st.tail = None;
                return Some(Err(e));
            }
        };
        if background.in_flight() == 0 {
            st.tail = Some(written.tail);
        } else if written.expected != Some(written.tail) {
            // Another run wrote in between: the batches still in flight were hashed against a
            // head that is gone (the writer hashes them again); the next one waits for them.
            st.tail = None;
        }
        let mut batch = written.batch;
        batch.clear();
        st.spare = batch;
        Some(Ok(()))
    }

    /// Write the buffer now, after the background writes (if any) are done; `fsync`: and sync
    /// the log (a durable event).
    async fn write_now(&self, st: &mut State, fsync: bool) -> Result<(), AuditError> {
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
        st.tail = hashes.last().copied();
        st.buffer.clear();
        st.any_durable |= fsync;
        Ok(())
    }

    /// Hand the buffer to the background writer, once fewer than [`MAX_IN_FLIGHT`] batches
    /// are in flight. On error, the buffer stays as it was.
    ///
    /// The batch is hashed here, on the caller's side, so that the writer does not have to:
    /// against the head the batches in flight are expected to leave, while the writer may
    /// still be inserting them. If a write left another head (another run wrote in between),
    /// it waits for every write in flight and hashes again against the real head. Should the
    /// head move again before the writer inserts, the writer hashes the batch once more.
    async fn write_background(&self, st: &mut State) -> Result<(), AuditError> {
        if st.buffer.is_empty() {
            return Self::written(st).await;
        }
        let batch = std::mem::take(&mut st.buffer);
        let early = st.tail.map(|prev| Sealed {
            hashes: seal(prev, &batch),
            prev,
        });
        let in_flight = |st: &State| st.background.as_ref().map_or(0, Background::in_flight);
        while in_flight(st) >= MAX_IN_FLIGHT {
            if let Some(Err(e)) = Self::next_written(st).await {
                // Nothing of this batch was handed over: keep it buffered.
                st.buffer = batch;
                return Err(e);
            }
        }
        let sealed = match (early, st.tail) {
            (Some(early), Some(head)) if early.prev == head => Some(early),
            _ => {
                if let Err(e) = Self::written(st).await {
                    st.buffer = batch;
                    return Err(e);
                }
                st.tail.map(|head| Sealed {
                    hashes: seal(head, &batch),
                    prev: head,
                })
            }
        };
        // The head this batch will leave, as far as this run knows: what the next one is
        // hashed against before this one is written.
        let tail = sealed.as_ref().and_then(|s| s.hashes.last().copied());
        let background = st
            .background
            .get_or_insert_with(|| Background::spawn(self.store.clone()));
        if let Err(batch) = background.send(batch, sealed) {
            st.background = None;
            st.buffer = batch;
            return Err(AuditError::Inconsistent(
                "the background audit writer is gone".into(),
            ));
        }
        st.tail = tail;
        st.buffer = std::mem::take(&mut st.spare);
        Ok(())
    }

    /// Record the `run-end` event. After this, `record` fails with [`AuditError::Finished`].
    ///
    /// Every event of the run is written when this returns. It is fsync'd, with everything
    /// before it, if the run recorded any durable event; the end of a run that only read (no
    /// intent, gate or refusal) is committed like a step's reads, without an fsync: a power
    /// cut in the next seconds can lose the record of a read-only run, never of an action.
    pub async fn finish(&self, end: RunEnd) -> Result<(), AuditError> {
        let end = Event::from(end);
        let durability = if self.state.lock().await.any_durable {
            Durability::Durable
        } else {
            Durability::Buffered
        };
        self.push(None, end.kind(), None, end.payload(), durability, true)
            .await?;
        Ok(())
    }
}
