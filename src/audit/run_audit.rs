//! A run's audit record while the store may still be opening.
//!
//! Opening the database (connect, migrations check, recovery of interrupted runs) and writing
//! the `run-start` event take a few milliseconds. The executor does that in the background
//! while the runbook starts, so its first reads are under way sooner. What may happen before
//! the store is open is limited to what needs no durability: read-only events are kept in
//! memory, with the time they happened, and written first, right after `run-start`. Anything
//! that must be on disk before it takes effect (an intent, a gate, a refusal), and every step's
//! end, waits until the store is open, so a runbook cannot change the machine, or finish even
//! one step, without its record. If the store cannot be opened, those callers get the error
//! and the run ends with it (exit 4).
//!
//! Except for a read-only runbook ([`RunAudit::unrecorded_allowed`]): a full disk, a read-only
//! file system or a permission problem is exactly when triage must still work. Such a run
//! goes on *unrecorded*: its start, findings and end go to the journal mirror (marked
//! `RUNBOOK_RECORDED=no`), everything else is dropped, and the executor tells the operator
//! plainly what was not recorded and why. A mutating runbook never runs unrecorded.

use std::sync::Arc;

use serde_json::Value;
use tokio::task::JoinHandle;

use super::event::{Event, RunEnd};
use super::journal::{is_mirrored, Mirror, MirrorEntry};
use super::{clock, AuditError, Durability, Redactor, RunRecorder};

/// Read-only events kept in memory before the store is open, at most; past this, recording
/// waits for the store.
const MAX_EARLY: usize = 4096;

/// A read-only event recorded before the store was open.
struct Early {
    time: Arc<str>,
    kind: &'static str,
    step: Option<String>,
    payload: Value,
}

enum Slot {
    /// `opened` is None until [`RunAudit::begin`].
    Opening {
        opened: Option<JoinHandle<Result<RunRecorder, AuditError>>>,
        early: Vec<Early>,
    },
    Ready(Arc<RunRecorder>),
    /// Opening failed with this message (the first caller got the error itself).
    Failed(String),
    /// Opening failed and the run goes on without a database (read-only runbooks only).
    Unrecorded(Unrecorded),
}

/// A run the database cannot record: what reaches the journal instead.
struct Unrecorded {
    reason: String,
    mirror: Mirror,
    next_seq: i64,
}

impl Unrecorded {
    fn send(&mut self, run: &str, kind: &str, step: Option<&str>, payload: &Value) {
        if !(is_mirrored(kind) || kind == "finding") {
            return;
        }
        let text = serde_json::to_string(payload).unwrap_or_default();
        self.mirror.send(&MirrorEntry {
            run,
            seq: self.next_seq,
            kind,
            step,
            payload: &text,
            hash: None,
        });
        self.next_seq += 1;
    }
}

/// The audit record of one run: a [`RunRecorder`] once the store is open.
pub struct RunAudit {
    requested_id: String,
    redactor: Redactor,
    slot: tokio::sync::Mutex<Slot>,
    /// What a run that cannot be recorded sends to the journal as its start: set for
    /// read-only runbooks, which may run unrecorded ([`RunAudit::unrecorded_allowed`]).
    unrecorded_start: Option<Value>,
}

impl RunAudit {
    /// A run whose store is not open yet: see [`RunAudit::begin`].
    pub fn new(requested_id: String, redactor: Redactor) -> RunAudit {
        RunAudit {
            requested_id,
            redactor,
            slot: tokio::sync::Mutex::new(Slot::Opening {
                opened: None,
                early: Vec::new(),
            }),
            unrecorded_start: None,
        }
    }

    /// Let the run go on if the store cannot be opened, sending `start` (the run's summary:
    /// runbook, operator, params) and later its findings and end to the journal. Only for
    /// runbooks that cannot change the machine.
    pub fn unrecorded_allowed(mut self, start: Value) -> RunAudit {
        self.unrecorded_start = Some(start);
        self
    }

    /// Why the run is not being recorded, once that is known (the store failed to open).
    pub async fn unrecorded(&self) -> Option<String> {
        let mut slot = self.slot.lock().await;
        let _ = self.open(&mut slot).await;
        match &*slot {
            Slot::Unrecorded(u) => Some(u.reason.clone()),
            _ => None,
        }
    }

    /// Why this run must not change the machine although its store is open: the store's
    /// file system is full (see `reserve`).
    pub async fn refuses_changes(&self) -> Option<String> {
        match self.recorder().await {
            Ok(recorder) => recorder.space_warning().map(|w| w.message.clone()),
            Err(_) => None,
        }
    }

    /// Hand over the task that opens the store and calls
    /// [`super::AuditStore::start_run_with`] with `requested_id` and the same redactor.
    pub fn begin(&self, opened: JoinHandle<Result<RunRecorder, AuditError>>) {
        if let Ok(mut slot) = self.slot.try_lock() {
            if let Slot::Opening {
                opened: o @ None, ..
            } = &mut *slot
            {
                *o = Some(opened);
                return;
            }
        }
        opened.abort();
        panic!("RunAudit::begin called twice or while in use");
    }

    /// The id the run asked for; [`RunAudit::recorder`]'s `id()` is the one recorded.
    pub fn requested_id(&self) -> &str {
        &self.requested_id
    }

    /// The run's redactor: for its events and its terminal output alike.
    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// Record one event. Read-only (`Buffered`) events before the store is open are kept in
    /// memory; a `Durable` one waits for the store.
    pub async fn record(
        &self,
        step: Option<&str>,
        event: &Event,
        durability: Durability,
    ) -> Result<(), AuditError> {
        let (kind, payload) = (event.kind(), event.payload());
        let mut slot = self.slot.lock().await;
        if let (Slot::Opening { early, opened }, Durability::Buffered) = (&mut *slot, durability) {
            // Keep events in memory only while the store is really still opening: once it
            // is open (or too many are waiting) they go to the recorder, which bounds what
            // it buffers. Otherwise a read-only loop outside any step piles them up here.
            let open_now = opened.as_ref().is_some_and(|o| o.is_finished());
            if !open_now && early.len() < MAX_EARLY {
                early.push(Early {
                    time: clock::now(),
                    kind,
                    step: step.map(str::to_string),
                    payload,
                });
                return Ok(());
            }
        }
        let opened = self.open(&mut slot).await;
        if let Slot::Unrecorded(u) = &mut *slot {
            u.send(&self.requested_id, kind, step, &payload);
            return Ok(());
        }
        let recorder = opened?;
        drop(slot);
        recorder.record(kind, step, payload, durability).await?;
        Ok(())
    }

    /// The recorder, waiting for the store to open if it has not yet.
    pub async fn recorder(&self) -> Result<Arc<RunRecorder>, AuditError> {
        self.open(&mut *self.slot.lock().await).await
    }

    /// Write buffered events (see [`RunRecorder::flush`]), waiting for the store to open.
    /// Nothing to write for an unrecorded run.
    pub async fn flush(&self) -> Result<(), AuditError> {
        let mut slot = self.slot.lock().await;
        let opened = self.open(&mut slot).await;
        if let Slot::Unrecorded(_) = &*slot {
            return Ok(());
        }
        drop(slot);
        opened?.flush().await
    }

    /// The chain head once every event recorded so far is written: the hash (hex) of the
    /// newest event in the store, the value `audit verify` reports as its head if nothing is
    /// appended after. None for an unrecorded run. A record that cites the trail (the drill
    /// log's row) carries it, so the row can be checked against the audit database later.
    pub async fn chain_head(&self) -> Result<Option<String>, AuditError> {
        let mut slot = self.slot.lock().await;
        let opened = self.open(&mut slot).await;
        if let Slot::Unrecorded(_) = &*slot {
            return Ok(None);
        }
        drop(slot);
        let recorder = opened?;
        recorder.flush().await?;
        recorder.wait_written().await?;
        let mut conn = recorder.store().reader().await?;
        let newest: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT hash FROM events ORDER BY id DESC LIMIT 1")
                .fetch_optional(&mut conn)
                .await?;
        let head = match newest {
            None => super::chain::Hash::GENESIS,
            Some(bytes) => super::chain::Hash::from_bytes(&bytes).ok_or_else(|| {
                AuditError::Inconsistent(format!(
                    "the newest event's hash column holds {} bytes, not a 32-byte hash",
                    bytes.len()
                ))
            })?,
        };
        Ok(Some(head.to_string()))
    }

    /// Record the run's end (see [`RunRecorder::finish`]), waiting for the store to open.
    /// An unrecorded run's end goes to the journal, with the reason.
    pub async fn finish(&self, end: RunEnd) -> Result<(), AuditError> {
        let mut slot = self.slot.lock().await;
        let opened = self.open(&mut slot).await;
        if let Slot::Unrecorded(u) = &mut *slot {
            let mut payload = Event::from(end).payload();
            if let Value::Object(m) = &mut payload {
                m.insert("not_recorded".into(), u.reason.clone().into());
            }
            u.send(&self.requested_id, "run-end", None, &payload);
            return Ok(());
        }
        drop(slot);
        opened?.finish(end).await
    }

    /// Wait for the store; if it cannot open and this run may go on unrecorded, switch to
    /// that (sending the start and the events kept so far to the journal).
    async fn open(&self, slot: &mut Slot) -> Result<Arc<RunRecorder>, AuditError> {
        let early_kept = match slot {
            Slot::Opening { early, .. } if self.unrecorded_start.is_some() => {
                Some(std::mem::take(early))
            }
            _ => None,
        };
        let result = open(slot).await;
        match (&result, &self.unrecorded_start, early_kept) {
            (Err(e), Some(start), Some(early)) if matches!(slot, Slot::Failed(_)) => {
                let mut u = Unrecorded {
                    reason: e.to_string(),
                    mirror: Mirror::system(),
                    next_seq: 0,
                };
                let mut start = start.clone();
                if let Value::Object(m) = &mut start {
                    m.insert("not_recorded".into(), u.reason.clone().into());
                }
                u.send(&self.requested_id, "run-start", None, &start);
                for e in early {
                    u.send(&self.requested_id, e.kind, e.step.as_deref(), &e.payload);
                }
                *slot = Slot::Unrecorded(u);
            }
            (Ok(recorder), _, Some(early)) => {
                // Opened: the events kept meanwhile were taken out above; write them first.
                for e in early {
                    recorder
                        .record_at(e.time, e.kind, e.step.as_deref(), e.payload)
                        .await?;
                }
            }
            _ => {}
        }
        result
    }
}

/// Wait for the store, then write the events kept meanwhile, in order.
async fn open(slot: &mut Slot) -> Result<Arc<RunRecorder>, AuditError> {
    match slot {
        Slot::Ready(recorder) => return Ok(recorder.clone()),
        Slot::Failed(message) => return Err(AuditError::Unavailable(message.clone())),
        Slot::Unrecorded(u) => return Err(AuditError::Unavailable(u.reason.clone())),
        Slot::Opening { .. } => {}
    }
    let Slot::Opening { opened, early } = std::mem::replace(
        slot,
        Slot::Failed("the audit store is still opening".into()),
    ) else {
        unreachable!("checked above");
    };
    let Some(opened) = opened else {
        let message = "the run's audit store was never opened (RunAudit::begin)";
        *slot = Slot::Failed(message.into());
        return Err(AuditError::Unavailable(message.into()));
    };
    let result = match opened.await {
        Ok(result) => result,
        Err(e) => Err(AuditError::Unavailable(format!(
            "opening the audit store did not complete: {e}"
        ))),
    };
    let recorder = match result {
        Ok(recorder) => Arc::new(recorder),
        Err(e) => {
            *slot = Slot::Failed(e.to_string());
            return Err(e);
        }
    };
    for e in early {
        if let Err(err) = recorder
            .record_at(e.time, e.kind, e.step.as_deref(), e.payload)
            .await
        {
            *slot = Slot::Failed(err.to_string());
            return Err(err);
        }
    }
    *slot = Slot::Ready(recorder.clone());
    Ok(recorder)
}
