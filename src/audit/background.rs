//! A run's background writes: its flushed batches, appended in order by one task.
//!
//! Up to [`MAX_IN_FLIGHT`] batches may be handed over before the oldest is written, so that the
//! caller can go on filling the next one through an uneven stretch: a short batch after a long
//! one, or a commit that also checkpoints the log. With one batch in flight, each such stretch
//! left one side idle while the other finished.

use tokio::sync::mpsc;

use super::batch::{Pending, Sealed};
use super::chain::Hash;
use super::store::AuditStore;
use super::AuditError;

/// Batches handed to the writer and not yet reported back, at most.
pub(super) const MAX_IN_FLIGHT: usize = 2;

struct Job {
    batch: Vec<Pending>,
    sealed: Option<Sealed>,
}

/// A batch written in the background, handed back so that the caller frees it and reuses its
/// allocation.
pub(super) struct Written {
    pub batch: Vec<Pending>,
    /// The hash of its last event: the chain head it left.
    pub tail: Hash,
    /// The hash its last event was given ahead of the write, if it was hashed ahead. Differs
    /// from `tail` when another run wrote in between and the writer hashed it again.
    pub expected: Option<Hash>,
}

/// The caller's end of a run's writer task.
pub(super) struct Background {
    jobs: mpsc::UnboundedSender<Job>,
    done: mpsc::UnboundedReceiver<Result<Written, AuditError>>,
    in_flight: usize,
}

impl Background {
    /// Start the writer task. It ends when this handle is dropped and the batches already
    /// handed over are written.
    pub fn spawn(store: AuditStore) -> Background {
        let (jobs, mut queue) = mpsc::unbounded_channel::<Job>();
        let (report, done) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut failed = false;
            while let Some(Job { batch, sealed }) = queue.recv().await {
                // After a failed write, later batches are not written either: the run's
                // events would have a gap in their sequence.
                let result = if failed {
                    Err(AuditError::Inconsistent(
                        "a batch of audit events was not written because the one before it \
                         failed"
                            .into(),
                    ))
                } else {
                    write(&store, batch, sealed).await
                };
                failed |= result.is_err();
                if report.send(result).is_err() {
                    break;
                }
            }
        });
        Background {
            jobs,
            done,
            in_flight: 0,
        }
    }

    /// Batches handed over and not yet reported back by [`Background::next`].
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Hand a batch (not empty) to the writer, with its hashes if computed ahead. Gives the
    /// batch back if the writer task is gone (it panicked, or the runtime is shutting down).
    pub fn send(
        &mut self,
        batch: Vec<Pending>,
        sealed: Option<Sealed>,
    ) -> Result<(), Vec<Pending>> {
        debug_assert!(!batch.is_empty());
        self.jobs
            .send(Job { batch, sealed })
            .map_err(|refused| refused.0.batch)?;
        self.in_flight += 1;
        Ok(())
    }

    /// Wait for the oldest batch in flight to be written. None when none is in flight.
    pub async fn next(&mut self) -> Option<Result<Written, AuditError>> {
        if self.in_flight == 0 {
            return None;
        }
        self.in_flight -= 1;
        Some(self.done.recv().await.unwrap_or_else(|| {
            Err(AuditError::Inconsistent(
                "a background audit write did not complete".into(),
            ))
        }))
    }
}

async fn write(
    store: &AuditStore,
    batch: Vec<Pending>,
    sealed: Option<Sealed>,
) -> Result<Written, AuditError> {
    let expected = sealed.as_ref().and_then(|s| s.hashes.last().copied());
    let mut hashes = store.append(&batch, false, sealed).await?;
    store.mirror(&batch, &hashes);
    let tail = hashes.pop().expect("a batch is not empty");
    Ok(Written {
        batch,
        tail,
        expected,
    })
}
