//! The audit store: the product's memory of every run.
//!
//! Every step of every run is an *event* in one SQLite database. Events are only ever
//! appended, and each carries the hash of the one before it, so any later change, deletion or
//! reordering shows up in `runbook audit verify`.
//!
//! # Architecture
//!
//! ```text
//!  executor ──► RunRecorder::record(kind, step, payload, Durable | Buffered)
//!                 │  redact payload (redact.rs) → JSON text, seq, time
//!                 │  Buffered: keep in memory until flush() (group commit in the
//!                 │            background, end of each step)
//!                 │  Durable:  buffered events + this one, committed before returning
//!                 ▼
//!               AuditStore (store.rs): one write connection per process
//!                 │  chain.rs: hash = SHA-256(canonical(prev_hash, run, seq, time, kind,
//!                 │            step, payload)); the head is re-checked inside the write
//!                 │            transaction, so several processes can append safely
//!                 ├──► SQLite (WAL, synchronous=FULL, busy_timeout 30 s), migrations/
//!                 └──► journald mirror (journal.rs), best effort
//!
//!  runbook log / replay / audit verify / audit export  ──► query.rs, scan.rs, verify.rs,
//!                                                         export.rs
//! ```
//!
//! Module dependencies run one way: `recorder` (a run's handle; it also starts runs) →
//! `background` (its writer task) → `store` (the write connection) → `insert` (appends) →
//! `batch` (events on their way: its types are shared by all four) and `ffi` (every
//! raw SQLite call, behind one statement type, used by `insert`, `scan` and `verify`).
//!
//! - **Schema** (`migrations/`): `sources` (runbook text, once per SHA-256), `runs` (one row per
//!   run, an index for `log`), `events` (the chain). Triggers abort every UPDATE and DELETE on
//!   the three tables; no code path issues one. A run's end is an event, never an update: its
//!   status is derived from its events ([`RunState`]).
//! - **Chain** ([`chain`]): one global chain ordered by `events.id`; the canonical encoding is
//!   documented there precisely enough to re-verify an export in a few lines of Python
//!   (`tests/verify_export.py`).
//! - **Durability** ([`Durability`]): the executor makes the intent of every mutating host call,
//!   refusals and gates `Durable` (fsync'd before the call returns), and so is the run's end
//!   when any of those happened ([`RunRecorder::finish`]); read-only calls
//!   are `Buffered` and group-committed by [`RunRecorder::flush`] at the end of each step, in
//!   the background (the next step runs meanwhile; up to two batches of a run are in flight,
//!   written in order). A durable append waits for those writes and writes the run's buffered
//!   events first, so order is preserved. The
//!   `run-start` commit is not fsync'd by itself: the run's first durable commit syncs the log
//!   and so makes it durable too. A crash can leave an intent without an outcome, never an
//!   outcome without an intent.
//! - **Opening in the background** ([`RunAudit`]): the executor opens the store and records
//!   `run-start` while the runbook starts; read-only events that happen meanwhile are kept in
//!   memory and written first, and anything durable, and every step's end, waits for the store.
//! - **Crash recovery**: [`AuditStore::open`] (every invocation) appends an `interrupted` event
//!   to each run that has no end event and whose process is gone (pid, process start time, boot
//!   id and pid namespace are in the `run-start` payload; see [`process`]). Runs of live
//!   processes are left alone.
//! - **Redaction** ([`redact`]): every payload is redacted before it is hashed and written; the
//!   same [`Redactor`] (including secrets the runbook registers at run time) is available to the
//!   CLI for terminal output.
//! - **Location** ([`default_path`]): `/var/lib/runbook/audit.db` for root, else
//!   `$XDG_STATE_HOME/runbook/audit.db`; the directory is created 0700, the file 0600.
//!
//! # API for the executor
//!
//! ```no_run
//! # async fn demo() -> Result<(), runbook::audit::AuditError> {
//! use runbook::audit::event::{Event, Intent, Outcome, RunEnd, StepEnd, StepStart, StepStatus};
//! use runbook::audit::{AuditStore, Durability, NewRun, RunStatus};
//! use serde_json::json;
//!
//! let store = AuditStore::open(&runbook::audit::default_path()).await?;
//! let run = store
//!     .start_run(NewRun {
//!         runbook: "restart-unit".into(),
//!         source: "//! name: restart-unit\n...".into(),
//!         params: json!({"unit": "nginx.service"}),
//!         operator: serde_json::to_value(runbook::identity::Operator::detect()).unwrap(),
//!         host: runbook::audit::hostname(),
//!         dry_run: false,
//!         dry_run_reason: None,
//!         kind: None,
//!     })
//!     .await?;
//! let step = Some("Restart");
//! let start = Event::from(StepStart { name: "Restart".into() });
//! run.record_event(step, &start, Durability::Buffered).await?;
//! let intent = Event::from(Intent {
//!     function: "systemd.restart".into(),
//!     args: json!({"unit": "nginx.service"}),
//!     plan: json!(null),
//! });
//! run.record_event(step, &intent, Durability::Durable).await?;
//! // ... perform the call ...
//! let outcome = Event::from(Outcome {
//!     function: "systemd.restart".into(),
//!     result: Some(json!({"job": "/org/freedesktop/systemd1/job/42"})),
//!     duration_ms: Some(800),
//!     ..Outcome::default()
//! });
//! run.record_event(step, &outcome, Durability::Durable).await?;
//! let end = Event::from(StepEnd {
//!     name: "Restart".into(),
//!     status: StepStatus::Ok,
//!     duration_ms: Some(801),
//!     error: None,
//! });
//! run.record_event(step, &end, Durability::Buffered).await?;
//! run.flush().await?;
//! run.finish(RunEnd::new(RunStatus::Ok, 0)).await?;
//! # Ok(()) }
//! ```
//!
//! Notes for callers:
//!
//! - `RunRecorder` is `Send + Sync` and its futures are `Send`: host functions on the engine
//!   thread call it through `Handle::block_on`, and it can be used from spawned tasks.
//! - Call [`RunRecorder::flush`] at the end of every step and [`RunRecorder::finish`] at the end
//!   of the run; buffered events still in memory when the recorder is dropped are lost (and the
//!   run is marked `interrupted` by the next invocation once this process has exited).
//! - If a `Durable` record fails, do not perform the action: nothing of it was written.
//! - [`AuditStore::close`] checkpoints the WAL into the database file; call it last (after the
//!   recorders are dropped) for a tidy exit. Dropping the store also closes it.
//!
//! # Reading
//!
//! [`list_runs`], [`resolve_run`] (`last` or a unique id prefix), [`run_detail`],
//! [`source_text`], [`for_each_event`] (a run's events, or a tail of the chain), [`export`]
//! and [`verify`] take a connection from [`AuditStore::reader`]. `for_each_event`, `export` and
//! `verify` read with SQLite's C API on that connection for speed ([`scan`]) and block the
//! calling thread while they run, which is what the CLI wants.
//!
//! # Event kinds
//!
//! The store accepts any kind and payload ([`RunRecorder::record`]); what the product records
//! is the typed events of [`event`] ([`RunRecorder::record_event`]), which `replay` and `log`
//! parse back with [`Event::parse`]. README's event table lists their fields (and a test checks
//! it against the types).

mod background;
mod batch;
pub mod chain;
pub mod clock;
pub mod event;
mod export;
mod ffi;
mod insert;
mod journal;
mod path;
pub mod process;
mod query;
mod recorder;
pub mod redact;
pub mod reserve;
mod run_audit;
pub mod scan;
mod store;
mod verify;

use std::path::PathBuf;

pub use event::{Event, Parsed};
pub use export::{export, ExportLine};
pub use journal::{is_mirrored, JOURNAL_SOCKET};
pub use path::default_path;
pub use process::hostname;
pub use query::{
    break_glass_run, change_control, list_runs, open_read_only, resolve_run, run_detail,
    source_text, BreakGlassState, ChangeControl, RunDetail, RunFilter, RunSummary,
};
pub use recorder::RunRecorder;
pub use redact::Redactor;
pub use run_audit::RunAudit;
pub use scan::{
    for_each_event, for_each_event_where, for_first_events, EventFilter, EventRef, ScanOrder,
};
pub use store::{AuditStore, NewRun, RunStart};
pub use verify::{verify, ChainBreak, VerifyOptions, VerifyReport};

/// How soon an event must be on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Committed and fsync'd before `record` returns, after any buffered events of the run.
    /// For run start and end, gates, and the intent of every mutating host call.
    Durable,
    /// Kept in memory by the [`RunRecorder`] until [`RunRecorder::flush`] (or the next durable
    /// event) writes all buffered events in one transaction. For read-only calls; flush at the
    /// end of each step. Lost if the process dies before the flush.
    Buffered,
}

/// How a run ended, as passed to [`RunRecorder::finish`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    Ok,
    /// Completed, with a finding at or above `--fail-on` (see `engine::outcome`).
    Findings,
    Failed,
    Refused,
    Canceled,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Ok => "ok",
            RunStatus::Findings => "findings",
            RunStatus::Failed => "failed",
            RunStatus::Refused => "refused",
            RunStatus::Canceled => "canceled",
        }
    }
}

/// A run's state as derived from its events: the `run-end` status if there is one, else
/// `interrupted` if recovery marked it, else `running`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    Ok,
    Findings,
    Failed,
    Refused,
    Canceled,
    Interrupted,
    Running,
}

impl RunState {
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Ok => "ok",
            RunState::Findings => "findings",
            RunState::Failed => "failed",
            RunState::Refused => "refused",
            RunState::Canceled => "canceled",
            RunState::Interrupted => "interrupted",
            RunState::Running => "running",
        }
    }

    /// From the `status` field of a `run-end` payload. Unknown values count as failed.
    pub fn from_end_status(s: &str) -> RunState {
        match s {
            "ok" => RunState::Ok,
            "findings" => RunState::Findings,
            "refused" => RunState::Refused,
            "canceled" => RunState::Canceled,
            _ => RunState::Failed,
        }
    }
}

/// Everything that can go wrong in the audit store.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit database {path}: {what}: {source}")]
    Io {
        path: PathBuf,
        what: &'static str,
        source: std::io::Error,
    },
    #[error("audit database {path}: {source}")]
    Open { path: PathBuf, source: sqlx::Error },
    #[error("audit database {path}: migration failed: {source}")]
    Migrate {
        path: PathBuf,
        source: sqlx::migrate::MigrateError,
    },
    #[error("audit database: {0}")]
    Db(#[from] sqlx::Error),
    /// The chain does not verify. Names the first bad event.
    #[error("audit chain broken at event {} (run {}, seq {}): {}", .0.id, .0.run, .0.seq, .0.problem)]
    ChainBroken(ChainBreak),
    /// Something other than the chain is inconsistent (runs, sources, sequence).
    #[error("audit database inconsistent: {0}")]
    Inconsistent(String),
    #[error(
        "expected head {0} is not in the chain: the newest events were removed or the database \
         was replaced"
    )]
    HeadMissing(String),
    #[error("no run matches {0:?}")]
    NoSuchRun(String),
    #[error("{0:?} matches several runs ({1}); give more of the id")]
    AmbiguousRun(String, String),
    #[error("run {0} has already finished; nothing more can be recorded")]
    Finished(String),
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The run's audit store could not be opened: the first caller got the cause itself,
    /// later ones get its message.
    #[error("{0}")]
    Unavailable(String),
}

impl From<AuditError> for crate::error::Error {
    /// Lookup mistakes (no such run, ambiguous prefix, bad argument) are usage errors (exit 2);
    /// everything else is an audit error (exit 4).
    fn from(e: AuditError) -> Self {
        match e {
            AuditError::NoSuchRun(_)
            | AuditError::AmbiguousRun(..)
            | AuditError::InvalidArgument(_) => crate::error::Error::Usage(e.to_string()),
            _ => crate::error::Error::Audit(e.to_string()),
        }
    }
}
