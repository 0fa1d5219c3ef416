//! Host backends: the only code that touches the machine.
//!
//! Every backend function is plain Rust (async where the backend is async) and knows nothing
//! about Rhai, dry-run or the audit trail. Those concerns live in one place, the effect door
//! (`crate::effect`), which reaches backends only through the table in [`registry`]. Each entry
//! of that table declares its parameters, whether it mutates the host, and its documentation;
//! `runbook api` prints the same table, so the docs cannot drift from the code.
//!
//! One file per domain: `systemd` (D-Bus), `journal` (journalctl JSON), `docker` (Engine API),
//! `metrics` (module `host`: /proc and statvfs), `net`, `files` (confined to the site's roots),
//! `users`, `commands` (module `cmd`: allowlisted programs), `site_fns` (module `site`). Each
//! exposes `pub static FNS: &[HostFn]`; [`registry::all`] concatenates them.
//!
//! Backends are synchronous functions called on the engine thread, which is outside the tokio
//! runtime; async backends (zbus, bollard, sockets, child processes) go through
//! [`HostCtx::block_on`]. Connections are opened on first use and cached in the `HostCtx`.

pub mod allow;
mod args;
pub mod backup;
mod backup_dump;
mod backup_prune;
mod backup_read;
mod backup_snapshot;
pub mod commands;
pub mod docker;
pub mod drill;
mod drill_space;
mod drill_toc;
pub mod fail2ban;
#[cfg(test)]
mod fake_systemd;
pub mod files;
pub mod journal;
pub mod journal_files;
pub mod journal_native;
pub mod metrics;
pub mod net;
mod progress;
pub mod registry;
pub mod retention;
pub mod shell;
pub mod site_fns;
pub mod systemd;
#[cfg(test)]
pub(crate) mod testutil;
pub mod users;
pub mod withheld;

use std::sync::Arc;

use serde_json::{Map, Value};

/// Named arguments of one host call, in the order the function declares them.
pub type Args = Map<String, Value>;

/// What a host call returns to the runbook: any JSON-shaped value.
pub type HostResult = Result<Value, HostError>;

/// Why a host call failed. Every variant names the thing and, where there is one, the fix.
/// Runbooks can catch these (`try { ... } catch (e) { ... }`); `e` is the message.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The backend (D-Bus, Docker engine, journal) could not be reached at all.
    #[error("{backend} not reachable at {address}: {reason}")]
    Unreachable {
        backend: &'static str,
        address: String,
        reason: String,
    },
    /// The site policy or an allowlist refused the call. Maps to exit code 3.
    #[error("refused: {0}")]
    Refused(String),
    /// The runbook passed an argument the function cannot accept.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The call was made but did not finish in time.
    #[error("timed out after {seconds}s: {what}")]
    Timeout { what: String, seconds: u64 },
    /// The backend answered with an error.
    #[error("{0}")]
    Failed(String),
}

impl HostError {
    /// A short machine-readable kind, used in the audit trail and `--json` output.
    pub fn kind(&self) -> &'static str {
        match self {
            HostError::Unreachable { .. } => "unreachable",
            HostError::Refused(_) => "refused",
            HostError::InvalidArgument(_) => "invalid-argument",
            HostError::Timeout { .. } => "timeout",
            HostError::Failed(_) => "failed",
        }
    }
}

/// The type a parameter of a host function accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    String,
    Int,
    Bool,
    Array,
    Map,
    Any,
}

impl ParamType {
    pub fn name(self) -> &'static str {
        match self {
            ParamType::String => "string",
            ParamType::Int => "int",
            ParamType::Bool => "bool",
            ParamType::Array => "array",
            ParamType::Map => "map",
            ParamType::Any => "any",
        }
    }
}

/// One declared parameter of a host function.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    pub ty: ParamType,
    /// Optional parameters come last; Rhai sees one overload per accepted arity.
    pub optional: bool,
    pub doc: &'static str,
}

/// Whether a host function changes the machine. Declared once per function; the door
/// (`crate::effect::classify`) turns it into the effect of one concrete call.
#[derive(Debug, Clone, Copy)]
pub enum Effect {
    /// Never changes the host; runs in dry-run too.
    Read,
    /// Changes the host; skipped (planned) in dry-run, intent recorded durably before it runs.
    Mutate,
    /// Reads or mutates as the site's allowlist rule for the concrete call says (`cmd::run`,
    /// `docker::exec`): the function finds the rule that fits the call, or refuses it. The
    /// calling runbook has no say.
    BySite(fn(&HostCtx, &Args) -> Result<SiteRule, HostError>),
}

/// The site rule that fits one call, and what it says the call does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteRule {
    pub mutates: bool,
    /// Where the rule is and what it allows, e.g.
    /// `commands.allow[9] (read): /usr/sbin/sysctl -n <[a-z0-9_.-]+> -- read one kernel setting`.
    pub label: String,
    /// Units or containers the rule says the call acts on (their policy applies).
    pub affects: Vec<String>,
}

impl Effect {
    pub fn describe(self) -> String {
        match self {
            Effect::Read => "read".into(),
            Effect::Mutate => "mutate".into(),
            Effect::BySite(_) => "classified by the site's command rules".into(),
        }
    }
}

/// One host function as registered in [`registry::all`].
pub struct HostFn {
    /// Rhai module the function lives in (`systemd`, `docker`, ...).
    pub module: &'static str,
    pub name: &'static str,
    pub params: &'static [Param],
    pub effect: Effect,
    pub doc: &'static str,
    /// Performs the call. Only the effect door calls this.
    pub run: fn(&HostCtx, &Args) -> HostResult,
    /// For mutating functions: a read-only description of what `run` would do (a diff, the
    /// unit's current state). The door calls it in dry-run and records it with the intent.
    pub plan: Option<fn(&HostCtx, &Args) -> HostResult>,
    /// What an operator would type for the same effect ([`shell`]): from the call's
    /// (redacted) arguments to command lines. `runbook api` shows the pattern, `runbook
    /// learn` the command of each call.
    pub shell: shell::ShellFn,
}

impl HostFn {
    pub fn qualified_name(&self) -> String {
        format!("{}::{}", self.module, self.name)
    }
}

/// What backends may use: the async runtime, the site config, lazily opened connections.
///
/// The runtime must be a multi-thread runtime (or a current-thread one being driven elsewhere):
/// zbus and bollard spawn background tasks that [`tokio::runtime::Handle::block_on`] alone does
/// not drive on a current-thread runtime.
pub struct HostCtx {
    runtime: tokio::runtime::Handle,
    pub site: Arc<crate::site::Site>,
    /// System bus connection, opened on the first systemd call. Reopened if the bus closed it.
    bus: tokio::sync::Mutex<Option<zbus::Connection>>,
    /// Docker Engine client (version negotiated), created on the first docker call.
    docker: tokio::sync::Mutex<Option<bollard::Docker>>,
    /// Drill scratch containers made in this run and not yet removed (see `drill`).
    scratch: std::sync::Mutex<Vec<(String, String)>>,
    /// Long calls may draw progress on the terminal (see `progress`).
    progress: bool,
}

impl HostCtx {
    pub fn new(runtime: tokio::runtime::Handle, site: Arc<crate::site::Site>) -> Self {
        HostCtx {
            runtime,
            site,
            bus: tokio::sync::Mutex::new(None),
            docker: tokio::sync::Mutex::new(None),
            scratch: std::sync::Mutex::new(Vec::new()),
            progress: false,
        }
    }

    /// Let long calls draw progress on stderr when it is a terminal and `CI` is not set;
    /// `allowed` is false for output that must stay as it is (`--json`, `-q`, a lesson).
    pub fn with_progress(mut self, allowed: bool) -> Self {
        self.progress = progress::wanted(allowed);
        self
    }

    /// A progress bar of bytes for a long call; a no-op unless [`HostCtx::with_progress`]
    /// allowed one.
    pub(crate) fn progress_bytes(
        &self,
        what: &str,
        total: Option<u64>,
        estimated: bool,
    ) -> progress::Progress {
        progress::Progress::bytes(self.progress, what, total, estimated)
    }

    /// A drill scratch was created: it must be removed before the run ends.
    pub(crate) fn remember_scratch(&self, set: &str, name: &str) {
        let mut list = self.scratch.lock().expect("scratch lock");
        list.push((set.to_string(), name.to_string()));
    }

    pub(crate) fn forget_scratch(&self, name: &str) {
        self.scratch
            .lock()
            .expect("scratch lock")
            .retain(|(_, n)| n != name);
    }

    /// Scratches still there, as (set, name): the runbook failed or was canceled before it
    /// removed them.
    pub fn leftover_scratch(&self) -> Vec<(String, String)> {
        self.scratch.lock().expect("scratch lock").clone()
    }

    /// Backends whose connection [`HostCtx::warm_up`] can open ahead of the first call.
    pub const WARMABLE: [&'static str; 2] = ["systemd", "docker"];

    /// Open the connections of `backends` (see [`HostCtx::WARMABLE`]) in the background, so
    /// that a runbook's first call does not pay for the handshake (D-Bus authentication and
    /// `Hello`, Docker's version check: several milliseconds each). This reads nothing from
    /// the host beyond what the connection itself needs; a backend that cannot be reached is
    /// reported by the first real call, as before.
    pub fn warm_up(self: &Arc<Self>, backends: &[&str]) {
        for backend in backends {
            let host = self.clone();
            match *backend {
                "systemd" => drop(self.runtime.spawn(async move {
                    let _ = host.system_bus().await;
                })),
                "docker" => drop(self.runtime.spawn(async move {
                    let _ = host.docker().await;
                })),
                _ => {}
            }
        }
    }

    /// Run an async backend call to completion. Host functions run on the engine thread,
    /// which is outside the runtime, so blocking here is allowed (never call this from
    /// async code: tokio panics). Build timers inside the future (`async { timeout(..).await }`):
    /// `tokio::time::timeout` called on the engine thread has no runtime to register with.
    pub fn block_on<F: std::future::Future>(&self, fut: F) -> F::Output {
        self.runtime.block_on(fut)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The engine thread owns the context; the door may share it behind an Arc.
    #[test]
    fn context_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<HostCtx>();
    }
}
