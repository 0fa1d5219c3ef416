//! Site config: the facts of one machine (units and their restart policy, containers, health
//! endpoints, paths, thresholds, allowlisted programs, operators). Runbooks never hard-code them.
//!
//! The file is YAML. Every struct denies unknown fields, so a typo in a field name is an error
//! that names the file, line and field instead of a silently ignored setting. Sections a site does
//! not need may be left out (they default to empty), which keeps test sites small.
//!
//! `Site::openclaw()` is the built-in default (`site/openclaw.yaml`, embedded at compile time), so
//! `runbook run triage` works on a fresh machine that has no `/etc/runbook/site.yaml` yet.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

pub mod backups;

/// Where the CLI looks for the site file when neither `--site` nor `RUNBOOK_SITE` is given.
pub const DEFAULT_PATH: &str = "/etc/runbook/site.yaml";

/// The built-in site file for the OpenClaw server.
const OPENCLAW_YAML: &str = include_str!("../site/openclaw.yaml");

/// Why a site file could not be used. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    #[error("cannot read site file {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The YAML is malformed or does not match the schema (unknown field, wrong type).
    #[error("{origin}:{line}:{column}: {message}")]
    Parse {
        origin: String,
        line: usize,
        column: usize,
        message: String,
    },
    /// The YAML parsed but says something impossible (relative path, warn above crit, ...).
    #[error("{origin}: {message}")]
    Invalid { origin: String, message: String },
}

/// One machine's facts. See `site/openclaw.yaml` for a commented example of every section.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    /// Where this config was loaded from (a path, or "built-in openclaw"); not part of the YAML.
    #[serde(skip_deserializing)]
    pub origin: String,
    #[serde(default)]
    pub host: HostInfo,
    /// systemd units by name (with or without the `.service` suffix).
    #[serde(default)]
    pub units: BTreeMap<String, UnitPolicy>,
    #[serde(default)]
    pub containers: BTreeMap<String, ContainerInfo>,
    #[serde(default)]
    pub health: Health,
    #[serde(default)]
    pub thresholds: Thresholds,
    #[serde(default)]
    pub paths: Paths,
    #[serde(default)]
    pub files: Files,
    #[serde(default)]
    pub commands: Commands,
    #[serde(default)]
    pub operators: BTreeMap<String, Operator>,
    #[serde(default)]
    pub symptoms: Vec<Symptom>,
    #[serde(default)]
    pub hardening: Vec<Control>,
    /// Backup sets, their retention and the restore drill (`backups.rs`).
    #[serde(default)]
    pub backups: backups::Backups,
    /// Which runbooks need approvals, by whom and how many (`crate::approval`).
    #[serde(default)]
    pub approvals: Approvals,
    /// The runbooks a new operator learns, in order (`runbook learn`).
    #[serde(default)]
    pub curriculum: Vec<Lesson>,
}

/// Approval rules beyond the units' own (`units.NAME.approvers` for signal-required units).
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Approvals {
    /// Runbooks that run for real only with a plan approved by `count` of `by`.
    #[serde(default)]
    pub runbooks: BTreeMap<String, ApprovalRule>,
}

/// `count` distinct approvers among `by` (operators with can_approve); the requester's own
/// signature never counts. The index's categories are written as numbers: with three
/// approvers, a supermajority is `count: 2` or `count: 3`, said explicitly.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalRule {
    pub by: Vec<String>,
    pub count: u32,
    /// Whether one of `by` may, in an emergency, run a plan with their own word instead of
    /// the signatures (`run --plan PLAN --break-glass REASON`): recorded as `break-glass`
    /// and shown red until a second operator co-signs. Off unless said.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub break_glass: bool,
}

/// One lesson of the curriculum: a runbook, the parameters it is learned with, and why.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Lesson {
    pub runbook: String,
    /// `-p KEY=VALUE` for the lesson, as text.
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// What the lesson teaches, shown with it.
    #[serde(default)]
    pub about: String,
}

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HostInfo {
    /// The hostname the machine is expected to report (informational: triage notes a mismatch).
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

/// Whether a unit may be restarted without asking, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    /// Restart freely.
    Safe,
    /// Prefer `reload` (graceful); restart only if reload is not possible.
    ReloadPreferred,
    /// Ask an operator before restarting.
    AskFirst,
    /// Only with an explicit signal from the named approver (recorded with the run).
    SignalRequired,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UnitPolicy {
    pub policy: RestartPolicy,
    pub description: String,
    /// The account or team that owns the service.
    #[serde(default)]
    pub owner: Option<String>,
    /// How to tell the unit is healthy beyond "active": a `health.endpoints` name or `heartbeat`.
    #[serde(default)]
    pub health: Option<String>,
    /// Who may give the signal for a `signal-required` unit (operator names).
    #[serde(default)]
    pub approvers: Vec<String>,
    /// For a `signal-required` unit: whether one of `approvers` may run a plan on their own
    /// word in an emergency (`--break-glass REASON`), as for `approvals.runbooks`. Off unless
    /// said.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub break_glass: bool,
    /// The state triage expects the unit in (default: active).
    #[serde(default)]
    pub expect: ExpectedState,
}

/// The state a site unit should be in. Anything else (failed, masked, not found, stuck in a
/// transition) is a finding.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExpectedState {
    /// Running: `active` (a timer: active, waiting for its next elapse).
    #[default]
    Active,
    /// Active or cleanly inactive: a oneshot, or a service a timer or a socket starts on demand.
    /// Failed, masked and not-found are still findings.
    InactiveOk,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerInfo {
    pub purpose: String,
    /// `ip:port` the container publishes on the host, if any.
    #[serde(default)]
    pub port: Option<String>,
    /// Service name in the compose file.
    #[serde(default)]
    pub compose_service: Option<String>,
    /// How the door treats starting, stopping, restarting the container and mutating execs
    /// in it (the same words as for units). Unset means ask-first: a container is production
    /// state until the site says otherwise.
    #[serde(default = "default_container_policy")]
    pub policy: RestartPolicy,
    /// What `docker::exec` may run inside the container, each rule saying whether that
    /// command reads or mutates. Anything else is refused.
    #[serde(default)]
    pub exec: Vec<AllowedCommand>,
}

fn default_container_policy() -> RestartPolicy {
    RestartPolicy::AskFirst
}

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Health {
    #[serde(default)]
    pub endpoints: Vec<Endpoint>,
    #[serde(default)]
    pub heartbeat: Option<Heartbeat>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    pub name: String,
    /// `http://` URL on loopback or a container address.
    pub url: String,
    /// Host header to send (the public hostname the tunnel would send).
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default = "default_expect_status")]
    pub expect_status: u16,
    /// The unit that serves the endpoint.
    #[serde(default)]
    pub unit: Option<String>,
}

fn default_expect_status() -> u16 {
    200
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Heartbeat {
    /// A file the worker rewrites periodically; its age is the heartbeat age.
    pub path: String,
    pub unit: String,
}

/// A warn / crit pair. Values at or above `warn` are warnings, at or above `crit` critical.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Level {
    pub warn: f64,
    pub crit: f64,
}

impl Level {
    const fn new(warn: f64, crit: f64) -> Self {
        Level { warn, crit }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    pub cpu_percent: Level,
    pub memory_percent: Level,
    pub disk_percent: Level,
    pub response_ms: Level,
    pub heartbeat_age_secs: Level,
    pub journal_errors: JournalErrors,
    /// CPU pressure (the share of the last 10 s in which runnable tasks waited for a CPU, from
    /// /proc/pressure/cpu): a different measure from utilisation, so it has its own levels.
    #[serde(default = "default_cpu_pressure")]
    pub cpu_pressure_percent: Level,
    /// Seconds a unit may stay activating, deactivating or reloading before it counts as stuck.
    #[serde(default = "default_unit_transition")]
    pub unit_transition_secs: Level,
}

fn default_cpu_pressure() -> Level {
    Level::new(40.0, 80.0)
}

fn default_unit_transition() -> Level {
    Level::new(30.0, 120.0)
}

/// Defaults follow the operations index (monitoring-config.json), so a site file may omit them.
impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            cpu_percent: Level::new(70.0, 90.0),
            memory_percent: Level::new(75.0, 90.0),
            disk_percent: Level::new(80.0, 95.0),
            response_ms: Level::new(5000.0, 15000.0),
            heartbeat_age_secs: Level::new(60.0, 120.0),
            journal_errors: JournalErrors::default(),
            cpu_pressure_percent: default_cpu_pressure(),
            unit_transition_secs: default_unit_transition(),
        }
    }
}

/// Error-priority journal entries per unit within `since` (a journalctl time expression).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JournalErrors {
    pub since: String,
    pub warn: u64,
    pub crit: u64,
}

impl Default for JournalErrors {
    fn default() -> Self {
        JournalErrors {
            since: "10 minutes ago".into(),
            warn: 5,
            crit: 50,
        }
    }
}

/// Well-known paths on the machine. Optional ones are `null` when the site has no such thing.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Paths {
    #[serde(default)]
    pub backups_dir: Option<String>,
    #[serde(default)]
    pub scripts_dir: Option<String>,
    #[serde(default)]
    pub bgctl: Option<String>,
    #[serde(default)]
    pub bg_sudo_allowlist: Option<String>,
    #[serde(default)]
    pub sessions_dir: Option<String>,
    #[serde(default)]
    pub tunnel_config: Option<String>,
    #[serde(default)]
    pub caddyfile: Option<String>,
    #[serde(default)]
    pub compose_file: Option<String>,
    #[serde(default)]
    pub env_file: Option<String>,
    #[serde(default)]
    pub docker_daemon_json: Option<String>,
    #[serde(default)]
    pub sshd_hardening: Option<String>,
    #[serde(default)]
    pub sudoers_dir: Option<String>,
    /// The journalctl binary the journal backend runs.
    #[serde(default = "default_journalctl")]
    pub journalctl: String,
    /// Read the journal from this directory instead of the system's (journalctl --directory):
    /// a journal copied off a machine, or a test's empty directory.
    #[serde(default)]
    pub journal_dir: Option<String>,
    /// fail2ban's state database, read (never written) for jail status.
    #[serde(default = "default_fail2ban_db")]
    pub fail2ban_db: String,
    /// Files whose contents must never be shown: `files::read` returns only their key names.
    /// Entries may use `*` and `?` within one path component.
    #[serde(default)]
    pub secret_files: Vec<String>,
}

fn default_journalctl() -> String {
    "/usr/bin/journalctl".into()
}

fn default_fail2ban_db() -> String {
    "/var/lib/fail2ban/fail2ban.sqlite3".into()
}

impl Default for Paths {
    fn default() -> Self {
        Paths {
            backups_dir: None,
            scripts_dir: None,
            bgctl: None,
            bg_sudo_allowlist: None,
            sessions_dir: None,
            tunnel_config: None,
            caddyfile: None,
            compose_file: None,
            env_file: None,
            docker_daemon_json: None,
            sshd_hardening: None,
            sudoers_dir: None,
            journalctl: default_journalctl(),
            journal_dir: None,
            fail2ban_db: default_fail2ban_db(),
            secret_files: Vec::new(),
        }
    }
}

/// The `files` module may only touch paths under these roots (files or directories).
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Files {
    #[serde(default)]
    pub roots: Vec<String>,
}

/// Programs `cmd::run` may start. Anything else is refused.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Commands {
    #[serde(default)]
    pub allow: Vec<AllowedCommand>,
}

/// One allowlist rule: a program and the full shape of its arguments and environment, and
/// whether a call matching it reads or changes the host. The first rule that matches a call
/// decides; a call no rule matches is refused.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AllowedCommand {
    /// Absolute path of the program (for `containers.*.exec`: the program as the container
    /// resolves it, e.g. `psql`).
    pub program: String,
    /// The arguments must begin with exactly these (e.g. `["-T"]` for `sshd -T`).
    #[serde(default)]
    pub args_prefix: Vec<String>,
    /// What may follow the prefix (or the script), one entry per argument. Nothing else may
    /// follow: with no `args`, the prefix is the whole command line.
    #[serde(default)]
    pub args: Vec<ArgRule>,
    /// If set, the first argument must be a script file inside this directory and nothing may
    /// precede it (so `bash -c ...` is impossible). Used for interpreters.
    #[serde(default)]
    pub script_dir: Option<String>,
    /// `read` if a matching call never changes the host (it then runs in dry runs and in
    /// `mutates: false` runbooks), `mutate` otherwise (the default).
    #[serde(default)]
    pub effect: CommandEffect,
    /// Variables the caller may pass, each with the (anchored) pattern its value must match.
    /// Any other variable is refused; variables that load code into the child (BASH_ENV,
    /// LD_*, PYTHON*, ...) cannot be listed at all.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Variables the call must pass with exactly this value for the rule to match (so
    /// `OPENCLAW_DRY_RUN: "true"` makes a rule for a script's own dry-run mode).
    #[serde(default)]
    pub require_env: BTreeMap<String, String>,
    /// Units or containers of this site that a matching mutating call acts on (`docker
    /// compose up -d` on the Aurora containers): the door applies their policy to the call as
    /// it does to systemd and Docker calls, so a command cannot route around it.
    #[serde(default)]
    pub affects: Vec<String>,
    /// Values the child gets from a secret file and the caller never sees: the call names
    /// keys of the file (`withheld_env: [POSTGRES_PASSWORD]`), the backend reads them when the
    /// program starts and puts each into the child variable this rule maps it to.
    #[serde(default)]
    pub withheld_env: Option<WithheldEnv>,
    /// Why the program is allowed (shown by `runbook api` and in refusals).
    #[serde(default)]
    pub why: Option<String>,
}

/// Keys of one secret file (one of `paths.secret_files`) a rule passes into the child's
/// environment: `keys: {POSTGRES_PASSWORD: PGPASSWORD}` maps the key in the file to the
/// variable the child gets.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WithheldEnv {
    pub file: String,
    pub keys: BTreeMap<String, String>,
}

/// What a command rule says a matching call does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CommandEffect {
    Read,
    #[default]
    Mutate,
}

/// One argument after the pinned prefix: a literal, or a shape.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(untagged)]
pub enum ArgRule {
    Exact(String),
    Shape(ArgShape),
}

/// The shape of one argument. At least one of `pattern`, `one_of`, `path` is set; all the
/// ones set must hold. A value matched by a shape never starts with `-` (so a pattern cannot
/// let an option in) unless `dash: true`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ArgShape {
    /// Anchored regular expression the whole argument must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// The argument must be one of these words.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub one_of: Vec<String>,
    /// The argument is an absolute path (no `..`) whose real location, symlinks resolved, lies
    /// under one of these directories.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub path: Vec<String>,
    /// The argument may be left out (only trailing arguments).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub optional: bool,
    /// The last shape may repeat: one or more such arguments (zero or more if optional).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub repeat: bool,
    /// Allow a value that starts with `-`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dash: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Operator,
    Service,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Operator {
    pub role: Role,
    #[serde(default)]
    pub full_name: Option<String>,
    #[serde(default)]
    pub uid: Option<u32>,
    /// May approve `ask-first` / `signal-required` actions.
    #[serde(default)]
    pub can_approve: bool,
    /// The sudoers.d file that grants this account sudo, if any.
    #[serde(default)]
    pub sudoers_file: Option<String>,
    /// Keys expected in `~/.ssh/authorized_keys` (type and comment, for the key audit).
    #[serde(default)]
    pub keys: Vec<ExpectedKey>,
    /// Where this operator's authorized_keys is, when not `~/.ssh/authorized_keys` of the
    /// account: the keys whose signatures approve in their name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorized_keys: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedKey {
    #[serde(rename = "type")]
    pub key_type: String,
    pub comment: String,
}

/// One row of the guide's "Symptom → first check" table.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Symptom {
    pub id: String,
    pub symptom: String,
    pub checks: Vec<Check>,
    pub likely_cause: String,
    pub next_step: String,
}

/// A check a runbook knows how to perform. `kind` picks the check; the other fields are its
/// arguments (only the ones that kind uses are set).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub argv: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lines: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// An account name (sudo_denials).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

/// The check kinds runbooks implement; anything else in a site file is a typo.
pub const CHECK_KINDS: &[&str] = &[
    "tcp",             // host, port
    "unit_status",     // unit
    "unit_journal",    // unit, lines
    "journal_errors",  // since
    "http",            // endpoint
    "containers",      // -
    "container_logs",  // container, lines
    "container_stats", // -
    "disk_usage",      // paths
    "top_processes",   // -
    "command",         // argv
    "file",            // path
    "heartbeat",       // -
    "external",        // note (nothing on the box to check)
    "fail2ban_jail",   // - (the sshd jail; a banned address is evidence)
    "memory",          // - (memory and CPU against the site thresholds)
    "sudo_denials",    // user (sudo's denials in the journal)
];

/// One hardening control of the guide's §9 table, with how to verify it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Control {
    pub id: String,
    pub layer: String,
    pub control: String,
    pub verify: Verify,
    /// The setting belongs to the host kernel (sysctls, the firewall, the audit subsystem):
    /// inside a container it cannot be verified, and is reported so rather than passed.
    #[serde(default)]
    pub kernel: bool,
    /// The command that checks the control by hand, or re-applies it, shown when it fails.
    pub next_step: String,
}

/// How a control is verified. `kind` says which source; `key`/`value`/`options` what to expect.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Verify {
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

/// The verification kinds runbooks implement.
pub const VERIFY_KINDS: &[&str] = &[
    "sshd_t",           // key/value in `sshd -T` output
    "sysctl",           // key/value of `sysctl -n key`
    "findmnt",          // path is mounted with all `options`
    "fstab",            // path has an /etc/fstab entry with all `options`
    "daemon_json",      // key/value in /etc/docker/daemon.json (value compared as JSON text)
    "unit_active",      // key = unit name
    "ufw_default",      // key = incoming/outgoing, value = deny/allow
    "ufw_allow",        // value = "22022/tcp"
    "fail2ban",         // key = "jail.setting" (e.g. sshd.maxretry), value
    "file_mode",        // path has mode value (octal) or stricter
    "file_contains",    // path contains the text value
    "path_exists",      // path exists
    "sudoers_nopasswd", // key = user has `NOPASSWD: ALL` in path (mode 0440)
    "sudoers_none",     // key = user has no general (ALL) sudo grant anywhere
];

/// Unit names systemd accepts, as the host API enforces them.
pub fn valid_unit_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 256
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"@._:-".contains(&b))
}

impl Site {
    /// Load and validate a site file.
    pub fn load(path: impl AsRef<Path>) -> Result<Site, SiteError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| SiteError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Site::from_str(&text, &path.display().to_string())
    }

    /// Parse and validate site YAML; `origin` names the source in errors.
    pub fn from_str(text: &str, origin: &str) -> Result<Site, SiteError> {
        let mut site: Site = serde_yaml::from_str(text).map_err(|e| {
            let (line, column) = e
                .location()
                .map(|l| (l.line(), l.column()))
                .unwrap_or((0, 0));
            SiteError::Parse {
                origin: origin.to_string(),
                line,
                column,
                message: e.to_string(),
            }
        })?;
        site.origin = origin.to_string();
        site.validate().map_err(|message| SiteError::Invalid {
            origin: origin.to_string(),
            message,
        })?;
        Ok(site)
    }

    /// The built-in OpenClaw site (`site/openclaw.yaml`).
    pub fn openclaw() -> Site {
        // The embedded file is checked by a unit test, so this cannot fail in a release.
        Site::from_str(OPENCLAW_YAML, "built-in site/openclaw.yaml")
            .expect("the embedded site/openclaw.yaml is valid")
    }

    /// The policy entry for a unit, accepting `name` with or without `.service`.
    /// Returns the key used in the site file together with the entry.
    pub fn unit(&self, name: &str) -> Option<(&str, &UnitPolicy)> {
        let short = name.strip_suffix(".service").unwrap_or(name);
        let long = format!("{short}.service");
        let found = [name, short, long.as_str()]
            .into_iter()
            .find_map(|n| self.units.get_key_value(n));
        found.map(|(k, v)| (k.as_str(), v))
    }

    /// Semantic checks serde cannot express. Returns the first problem found.
    fn validate(&self) -> Result<(), String> {
        for (name, unit) in &self.units {
            if !valid_unit_name(name) {
                return Err(format!("units: `{name}` is not a valid systemd unit name"));
            }
            if let Some(h) = &unit.health {
                let known = h == "heartbeat" || self.health.endpoints.iter().any(|e| &e.name == h);
                if !known {
                    return Err(format!(
                        "units.{name}.health: `{h}` is neither `heartbeat` nor a health.endpoints name"
                    ));
                }
            }
            for a in &unit.approvers {
                if !self.operators.contains_key(a) {
                    return Err(format!("units.{name}.approvers: `{a}` is not in operators"));
                }
            }
            if unit.break_glass && unit.policy != RestartPolicy::SignalRequired {
                return Err(format!(
                    "units.{name}.break_glass: only a signal-required unit needs approvals to go around; remove it or make the unit's policy signal-required"
                ));
            }
        }
        for (runbook, rule) in &self.approvals.runbooks {
            for who in &rule.by {
                match self.operators.get(who) {
                    Some(op) if op.can_approve => {}
                    _ => {
                        return Err(format!(
                            "approvals.runbooks.{runbook}.by: `{who}` is not an operator who can_approve"
                        ))
                    }
                }
            }
            if rule.count == 0 || rule.count as usize > rule.by.len() {
                return Err(format!(
                    "approvals.runbooks.{runbook}.count: {} must be from 1 to the {} approvers listed",
                    rule.count,
                    rule.by.len()
                ));
            }
        }
        for e in &self.health.endpoints {
            if !e.url.starts_with("http://") {
                return Err(format!(
                    "health.endpoints.{}: url `{}` must start with http://",
                    e.name, e.url
                ));
            }
            if let Some(u) = &e.unit {
                if self.unit(u).is_none() {
                    return Err(format!(
                        "health.endpoints.{}: unit `{u}` is not in units",
                        e.name
                    ));
                }
            }
        }
        let t = &self.thresholds;
        for (name, l) in [
            ("cpu_percent", t.cpu_percent),
            ("memory_percent", t.memory_percent),
            ("disk_percent", t.disk_percent),
            ("response_ms", t.response_ms),
            ("heartbeat_age_secs", t.heartbeat_age_secs),
            ("cpu_pressure_percent", t.cpu_pressure_percent),
            ("unit_transition_secs", t.unit_transition_secs),
        ] {
            if !(l.warn >= 0.0 && l.warn <= l.crit) {
                return Err(format!(
                    "thresholds.{name}: warn ({}) must be between 0 and crit ({})",
                    l.warn, l.crit
                ));
            }
        }
        if t.journal_errors.warn > t.journal_errors.crit {
            return Err("thresholds.journal_errors: warn must not exceed crit".into());
        }
        let absolute = |what: &str, p: &str| {
            if p.starts_with('/') {
                Ok(())
            } else {
                Err(format!("{what}: `{p}` must be an absolute path"))
            }
        };
        for r in &self.files.roots {
            absolute("files.roots", r)?;
        }
        for s in &self.paths.secret_files {
            absolute("paths.secret_files", s)?;
        }
        absolute("paths.journalctl", &self.paths.journalctl)?;
        if let Some(d) = &self.paths.journal_dir {
            absolute("paths.journal_dir", d)?;
        }
        for (i, c) in self.commands.allow.iter().enumerate() {
            let at = format!("commands.allow[{i}] ({})", c.program);
            absolute(&format!("{at}: program"), &c.program)?;
            if let Some(d) = &c.script_dir {
                absolute(&format!("{at}: script_dir"), d)?;
            }
            validate_rule(&at, c)?;
            self.validate_affects(&at, c)?;
            self.validate_withheld(&at, c)?;
        }
        for (name, info) in &self.containers {
            for (i, c) in info.exec.iter().enumerate() {
                let at = format!("containers.{name}.exec[{i}] ({})", c.program);
                if c.program.is_empty() {
                    return Err(format!("{at}: program must not be empty"));
                }
                if c.script_dir.is_some() {
                    return Err(format!(
                        "{at}: script_dir is not supported inside containers"
                    ));
                }
                validate_rule(&at, c)?;
                self.validate_affects(&at, c)?;
                self.validate_withheld(&at, c)?;
            }
        }
        self.check_roots_against_commands()?;
        let containers: Vec<&str> = self.containers.keys().map(String::as_str).collect();
        backups::validate(&self.backups, &containers)?;
        for s in &self.symptoms {
            for c in &s.checks {
                if !CHECK_KINDS.contains(&c.kind.as_str()) {
                    return Err(format!(
                        "symptoms.{}: unknown check kind `{}` (known: {})",
                        s.id,
                        c.kind,
                        CHECK_KINDS.join(", ")
                    ));
                }
            }
        }
        for c in &self.hardening {
            if !VERIFY_KINDS.contains(&c.verify.kind.as_str()) {
                return Err(format!(
                    "hardening.{}: unknown verify kind `{}` (known: {})",
                    c.id,
                    c.verify.kind,
                    VERIFY_KINDS.join(", ")
                ));
            }
        }
        Ok(())
    }
}

/// Variables that make a program load code or configuration the caller chose (shell start-up
/// files, interpreter options and library paths, the loader): no allowlist rule may let a
/// runbook set them, whatever the program.
pub fn env_loads_code(name: &str) -> bool {
    const EXACT: &[&str] = &[
        "PATH",
        "BASH_ENV",
        "ENV",
        "SHELLOPTS",
        "BASHOPTS",
        "IFS",
        "PS4",
        "PROMPT_COMMAND",
        "CDPATH",
        "GLOBIGNORE",
        "NODE_OPTIONS",
        "NODE_PATH",
        "RUBYOPT",
        "RUBYLIB",
        "JAVA_TOOL_OPTIONS",
        "_JAVA_OPTIONS",
        "JDK_JAVA_OPTIONS",
        "GCONV_PATH",
        "GLIBC_TUNABLES",
        "HOSTALIASES",
        "LOCALDOMAIN",
        "RES_OPTIONS",
        "NLSPATH",
        "TMPDIR",
        "HOME",
        "USER",
        "LOGNAME",
        "SHELL",
        "LESSOPEN",
        "LESSCLOSE",
        "PAGER",
        "EDITOR",
        "VISUAL",
        "SUDO_ASKPASS",
        "SSH_ASKPASS",
        "PERLLIB",
        "TCLLIBPATH",
        "LUA_PATH",
        "LUA_CPATH",
        "PGPASSFILE",
        "PGSERVICEFILE",
        "PSQLRC",
        "INPUTRC",
    ];
    const PREFIXES: &[&str] = &[
        "LD_",
        "PYTHON",
        "PERL5",
        "PERL_",
        "BASH_FUNC_",
        "MALLOC_",
        "GIT_",
        "DYLD_",
        "NODE_",
        "RUBY",
        "GEM_",
        "LUA_",
        "PHP",
        "OPENSSL_",
        "SSL_",
    ];
    EXACT.contains(&name) || PREFIXES.iter().any(|p| name.starts_with(p))
}

/// Environment variable names as a shell accepts them.
pub fn valid_env_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// An anchored regular expression for a rule's pattern.
pub fn anchored(pattern: &str) -> Result<regex::Regex, regex::Error> {
    regex::Regex::new(&format!("^(?:{pattern})$"))
}

/// Whether a rule's pattern is a valid regular expression, as [`anchored`] will read it, by
/// parsing it only: the site loads on every run, and building each rule's automaton there
/// (to throw it away) was a quarter of the load. Parsing is what rejects a malformed pattern;
/// a valid one that is too big to build fails closed where it is used (nothing matches it).
pub fn check_pattern(pattern: &str) -> Result<(), String> {
    regex_syntax::Parser::new()
        .parse(&format!("^(?:{pattern})$"))
        .map(drop)
        .map_err(|e| e.to_string())
}

fn validate_rule(at: &str, c: &AllowedCommand) -> Result<(), String> {
    for (i, a) in c.args.iter().enumerate() {
        let ArgRule::Shape(shape) = a else { continue };
        let last = i + 1 == c.args.len();
        if shape.pattern.is_none() && shape.one_of.is_empty() && shape.path.is_empty() {
            return Err(format!(
                "{at}: args[{i}] needs a pattern, one_of or path (write a literal as a plain string)"
            ));
        }
        if let Some(p) = &shape.pattern {
            check_pattern(p).map_err(|e| format!("{at}: args[{i}].pattern: {e}"))?;
        }
        for d in &shape.path {
            if !d.starts_with('/') {
                return Err(format!(
                    "{at}: args[{i}].path: `{d}` must be an absolute path"
                ));
            }
        }
        if shape.repeat && !last {
            return Err(format!(
                "{at}: args[{i}]: only the last argument may repeat"
            ));
        }
        let rest_optional = c.args[i + 1..]
            .iter()
            .all(|a| matches!(a, ArgRule::Shape(s) if s.optional));
        if shape.optional && !rest_optional {
            return Err(format!(
                "{at}: args[{i}]: an optional argument may only be followed by optional ones"
            ));
        }
    }
    for (name, pattern) in c.env.iter().chain(&c.require_env) {
        if !valid_env_name(name) {
            return Err(format!("{at}: env: `{name}` is not a variable name"));
        }
        if env_loads_code(name) {
            return Err(format!(
                "{at}: env: `{name}` can make the program load code or settings the caller chose, so no rule may allow it"
            ));
        }
        check_pattern(pattern).map_err(|e| format!("{at}: env.{name}: {e}"))?;
    }
    if let Some(w) = &c.withheld_env {
        if w.keys.is_empty() {
            return Err(format!("{at}: withheld_env.keys is empty"));
        }
        for (key, var) in &w.keys {
            if !valid_env_name(key) {
                return Err(format!(
                    "{at}: withheld_env.keys: `{key}` is not a key name"
                ));
            }
            if !valid_env_name(var) || env_loads_code(var) {
                return Err(format!(
                    "{at}: withheld_env.keys.{key}: `{var}` is not a variable a child may get"
                ));
            }
            if c.env.contains_key(var) || c.require_env.contains_key(var) {
                return Err(format!(
                    "{at}: withheld_env.keys.{key}: `{var}` is also in env; a withheld value must come only from the file"
                ));
            }
        }
    }
    Ok(())
}

/// Does `root` (which may hold `*` and `?` within components) overlap `path`: `path` lies
/// under it, or (for a directory `path`) some instance of the root lies inside `path`?
fn overlaps(root: &str, path: &str, path_is_dir: bool) -> bool {
    let parts = |p: &str| -> Vec<String> {
        p.split('/')
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .collect()
    };
    let (r, p) = (parts(root), parts(path));
    let n = r.len().min(p.len());
    let prefix = (0..n).all(|i| crate::host::files::glob_match(r[i].as_bytes(), p[i].as_bytes()));
    prefix && (r.len() <= p.len() || path_is_dir)
}

/// The path as written and, if it exists, its real location.
fn spellings(p: &str) -> Vec<String> {
    let mut v = vec![p.to_string()];
    if let Ok(real) = std::fs::canonicalize(p) {
        v.push(real.display().to_string());
    }
    v
}

impl Site {
    /// A withheld value comes only from a file the site marks secret (so `files::read` shows
    /// the runbook its key names, never its values).
    fn validate_withheld(&self, at: &str, c: &AllowedCommand) -> Result<(), String> {
        let Some(w) = &c.withheld_env else {
            return Ok(());
        };
        let secret = self
            .paths
            .secret_files
            .iter()
            .any(|p| crate::host::files::glob_match(p.as_bytes(), w.file.as_bytes()));
        if secret {
            Ok(())
        } else {
            Err(format!(
                "{at}: withheld_env.file `{}` is not one of paths.secret_files",
                w.file
            ))
        }
    }

    fn validate_affects(&self, at: &str, c: &AllowedCommand) -> Result<(), String> {
        match c
            .affects
            .iter()
            .find(|n| self.unit(n).is_none() && !self.containers.contains_key(*n))
        {
            Some(n) => Err(format!(
                "{at}: affects: `{n}` is neither in units nor in containers"
            )),
            None => Ok(()),
        }
    }

    /// No files root may hold (or lie inside) a place commands are run from: otherwise a
    /// runbook could write a program or script with `files::replace` and run it through the
    /// allowlist.
    fn check_roots_against_commands(&self) -> Result<(), String> {
        let mut run_from: Vec<(String, &str, bool)> = Vec::new();
        if let Some(d) = &self.paths.scripts_dir {
            run_from.push(("paths.scripts_dir".into(), d, true));
        }
        // The site file says what the allowlist runs: rewriting it is the same door.
        let site_file = if self.origin.starts_with('/') {
            self.origin.as_str()
        } else {
            DEFAULT_PATH
        };
        run_from.push(("the site file".into(), site_file, false));
        for (i, c) in self.commands.allow.iter().enumerate() {
            run_from.push((format!("commands.allow[{i}].program"), &c.program, false));
            if let Some(d) = &c.script_dir {
                run_from.push((format!("commands.allow[{i}].script_dir"), d, true));
            }
        }
        // Each path is resolved once: resolving is a realpath (a readlink per component), and
        // doing it per pair cost a few milliseconds of every run's start.
        let run_from: Vec<_> = run_from
            .into_iter()
            .map(|(what, path, is_dir)| (what, path, is_dir, spellings(path)))
            .collect();
        for root in &self.files.roots {
            let root_spellings = spellings(root);
            for (what, path, is_dir, path_spellings) in &run_from {
                let hit = root_spellings
                    .iter()
                    .any(|r| path_spellings.iter().any(|p| overlaps(r, p, *is_dir)));
                if hit {
                    return Err(format!(
                        "files.roots: `{root}` overlaps {what} `{path}`, from which commands are run: a runbook could write a program there and run it; narrow the root (or move the commands)"
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_openclaw_site_is_valid_and_complete() {
        let site = Site::openclaw();
        assert_eq!(site.host.hostname.as_deref(), Some("OpenClow"));
        let policy = |u: &str| site.unit(u).unwrap().1.policy;
        assert_eq!(policy("openclaw-gateway"), RestartPolicy::SignalRequired);
        assert_eq!(
            policy("openclaw-gateway.service"),
            RestartPolicy::SignalRequired
        );
        assert_eq!(policy("openclaw-bg-worker"), RestartPolicy::Safe);
        assert_eq!(policy("openclaw-owner-policy"), RestartPolicy::AskFirst);
        assert_eq!(policy("aurora"), RestartPolicy::AskFirst);
        assert_eq!(policy("caddy"), RestartPolicy::ReloadPreferred);
        assert_eq!(policy("ssh"), RestartPolicy::ReloadPreferred);
        assert_eq!(site.units.len(), 12);
        assert_eq!(site.containers.len(), 2);
        // Every row of the guide's symptom table (12 rows) and the §9 controls.
        assert_eq!(site.symptoms.len(), 12);
        assert!(site.hardening.len() >= 25);
        assert_eq!(site.thresholds.disk_percent, Level::new(80.0, 95.0));
        assert!(site.operators["nat"].can_approve);
        assert!(!site.operators["agent"].can_approve);
    }

    #[test]
    fn minimal_site_uses_defaults() {
        let site = Site::from_str("host: {hostname: box}\n", "t.yaml").unwrap();
        assert_eq!(site.thresholds.cpu_percent.crit, 90.0);
        assert_eq!(site.paths.journalctl, "/usr/bin/journalctl");
        assert!(site.units.is_empty());
        assert_eq!(site.origin, "t.yaml");
    }

    #[test]
    fn malformed_file_names_file_line_and_field() {
        let text = "units:\n  caddy:\n    policy: safe\n    description: proxy\n    polcy: x\n";
        let err = Site::from_str(text, "/etc/runbook/site.yaml").unwrap_err();
        let msg = err.to_string();
        match &err {
            SiteError::Parse { line, .. } => assert_eq!(*line, 5, "{msg}"),
            other => panic!("expected a parse error, got {other:?}"),
        }
        assert!(msg.starts_with("/etc/runbook/site.yaml:5:"), "{msg}");
        assert!(msg.contains("polcy"), "{msg}");
        assert!(msg.contains("units.caddy"), "{msg}");
    }

    #[test]
    fn unknown_top_level_field_rejected() {
        let err = Site::from_str("unitz: {}\n", "s.yaml").unwrap_err();
        assert!(err.to_string().contains("unknown field `unitz`"), "{err}");
    }

    /// A withheld value comes from a secret file, into a variable that loads no code and that
    /// the caller cannot also set.
    #[test]
    fn withheld_env_comes_only_from_secret_files() {
        let rule = |file: &str, var: &str, extra: &str| {
            format!(
                "paths: {{secret_files: [/opt/aurora-infra/.env]}}\ncommands:\n  allow:\n    \
                 - {{program: /usr/bin/psql, withheld_env: {{file: {file}, keys: {{POSTGRES_PASSWORD: {var}}}}}{extra}}}\n"
            )
        };
        assert!(
            Site::from_str(&rule("/opt/aurora-infra/.env", "PGPASSWORD", ""), "s.yaml").is_ok()
        );
        for (text, want) in [
            (
                rule("/etc/passwd", "PGPASSWORD", ""),
                "is not one of paths.secret_files",
            ),
            (
                rule("/opt/aurora-infra/.env", "LD_PRELOAD", ""),
                "is not a variable a child may get",
            ),
            (
                rule("/opt/aurora-infra/.env", "PGPASSFILE", ""),
                "is not a variable a child may get",
            ),
            (
                rule(
                    "/opt/aurora-infra/.env",
                    "PGPASSWORD",
                    ", env: {PGPASSWORD: '.*'}",
                ),
                "is also in env",
            ),
        ] {
            let err = Site::from_str(&text, "s.yaml").unwrap_err().to_string();
            assert!(err.contains(want), "{err}");
        }
    }

    #[test]
    fn bad_policy_value_rejected() {
        let text = "units:\n  caddy:\n    policy: sometimes\n    description: proxy\n";
        let err = Site::from_str(text, "s.yaml").unwrap_err().to_string();
        assert!(err.contains("s.yaml:3:"), "{err}");
        assert!(err.contains("sometimes"), "{err}");
    }

    #[test]
    fn yaml_syntax_error_has_location() {
        let err = Site::from_str("units: [\n", "s.yaml").unwrap_err();
        assert!(
            matches!(err, SiteError::Parse { line, .. } if line >= 1),
            "{err}"
        );
    }

    #[test]
    fn semantic_errors_name_the_field() {
        let err = Site::from_str("files: {roots: [etc]}\n", "s.yaml").unwrap_err();
        assert_eq!(
            err.to_string(),
            "s.yaml: files.roots: `etc` must be an absolute path"
        );
        let err = Site::from_str(
            "thresholds:\n  cpu_percent: {warn: 95, crit: 90}\n  memory_percent: {warn: 1, crit: 2}\n  disk_percent: {warn: 1, crit: 2}\n  response_ms: {warn: 1, crit: 2}\n  heartbeat_age_secs: {warn: 1, crit: 2}\n  journal_errors: {since: -10m, warn: 1, crit: 2}\n",
            "s.yaml",
        )
        .unwrap_err();
        assert!(err.to_string().contains("thresholds.cpu_percent"), "{err}");
        let err = Site::from_str(
            "symptoms:\n- id: x\n  symptom: y\n  checks: [{kind: telepathy}]\n  likely_cause: z\n  next_step: w\n",
            "s.yaml",
        )
        .unwrap_err();
        assert!(err.to_string().contains("telepathy"), "{err}");
    }

    #[test]
    fn no_files_root_may_hold_a_place_commands_run_from() {
        let base = "paths: {scripts_dir: /srv/scripts}\ncommands:\n  allow:\n    - {program: /opt/tools/bin/tool}\n    - {program: /usr/bin/bash, script_dir: /srv/jobs}\n";
        for (root, names) in [
            ("/srv", "paths.scripts_dir `/srv/scripts`"),
            ("/srv/scripts/sub", "paths.scripts_dir"),
            (
                "/opt/tools",
                "commands.allow[0].program `/opt/tools/bin/tool`",
            ),
            ("/srv/jobs", "commands.allow[1].script_dir `/srv/jobs`"),
            ("/s*", "paths.scripts_dir"),
            ("/etc/runbook", "the site file"),
        ] {
            let text = format!("{base}files: {{roots: [/var/log, {root}]}}\n");
            let err = Site::from_str(&text, "s.yaml").unwrap_err().to_string();
            assert!(
                err.contains(&format!("files.roots: `{root}` overlaps {names}")),
                "{root}: {err}"
            );
        }
        let ok = format!(
            "{base}files: {{roots: [/var/log, /srv/data, /opt/tools/etc, /home/*/.ssh]}}\n"
        );
        Site::from_str(&ok, "s.yaml").unwrap();
    }

    #[test]
    fn rules_are_checked_when_the_site_loads() {
        for (rule, says) in [
            (
                "{program: /bin/x, args: [{optional: true}]}",
                "needs a pattern, one_of or path",
            ),
            (
                "{program: /bin/x, args: [{pattern: '('}]}",
                "args[0].pattern",
            ),
            (
                "{program: /bin/x, args: [{pattern: a, repeat: true}, b]}",
                "only the last argument may repeat",
            ),
            (
                "{program: /bin/x, args: [{pattern: a, optional: true}, b]}",
                "optional",
            ),
            ("{program: /bin/x, env: {MODE: '[a-'}}", "env.MODE"),
            (
                "{program: /bin/x, args: [{pattern: 'a{2,1}'}]}",
                "args[0].pattern",
            ),
            (
                "{program: /bin/x, env: {BASH_ENV: '.*'}}",
                "no rule may allow it",
            ),
            (
                "{program: /bin/x, require_env: {'A B': x}}",
                "not a variable name",
            ),
            ("{program: /bin/x, effect: sometimes}", "sometimes"),
        ] {
            let err = Site::from_str(&format!("commands:\n  allow:\n    - {rule}\n"), "s.yaml")
                .unwrap_err()
                .to_string();
            assert!(err.contains(says), "{rule}: {err}");
        }
    }

    #[test]
    fn missing_file_names_path() {
        let err = Site::load("/nonexistent/site.yaml").unwrap_err();
        assert!(err
            .to_string()
            .starts_with("cannot read site file /nonexistent/site.yaml"));
    }

    #[test]
    fn unit_names() {
        assert!(valid_unit_name("openclaw-bg-worker.service"));
        assert!(valid_unit_name("getty@tty1.service"));
        assert!(!valid_unit_name("a b"));
        assert!(!valid_unit_name("x;rm"));
        assert!(!valid_unit_name(""));
    }
}
