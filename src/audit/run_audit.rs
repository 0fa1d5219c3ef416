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

use std::sync::Arc;

use serde_json::Value;
use tokio::task::JoinHandle;

use super::event::{Event, RunEnd};
use super::{clock, AuditError, Durability, Redactor, RunRecorder};

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
}

/// The audit record of one run: a [`RunRecorder`] once the store is open.
pub struct RunAudit {
    requested_id: String,
    redactor: Redactor,
    slot: tokio::sync::Mutex<Slot>,
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
        if let (Slot::Opening { early, .. }, Durability::Buffered) = (&mut *slot, durability) {
            early.push(Early {
                time: clock::now(),
                kind,
                step: step.map(str::to_string),
                payload,
            });
            return Ok(());
        }
        let recorder = open(&mut slot).await?;
        drop(slot);
        recorder.record(kind, step, payload, durability).await?;
        Ok(())
    }

    /// The recorder, waiting for the store to open if it has not yet.
    pub async fn recorder(&self) -> Result<Arc<RunRecorder>, AuditError> {
        open(&mut *self.slot.lock().await).await
    }

    /// Write buffered events (see [`RunRecorder::flush`]), waiting for the store to open.
    pub async fn flush(&self) -> Result<(), AuditError> {
        self.recorder().await?.flush().await
    }

    /// Record the run's end (see [`RunRecorder::finish`]), waiting for the store to open.
    pub async fn finish(&self, end: RunEnd) -> Result<(), AuditError> {
        self.recorder().await?.finish(end).await
    }
}

/// Wait for the store, then write the events kept meanwhile, in order.
async fn open(slot: &mut Slot) -> Result<Arc<RunRecorder>, AuditError> {
    match slot {
        Slot::Ready(recorder) => return Ok(recorder.clone()),
        Slot::Failed(message) => return Err(AuditError::Unavailable(message.clone())),
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
