//! systemd over D-Bus (the system bus), the way `systemctl` talks to it.
//!
//! Reads use `ListUnitsByPatterns` and concurrent `org.freedesktop.DBus.Properties.Get` calls
//! for the properties a status needs. A job (restart, reload, ...) is submitted with mode
//! "replace" and followed to its end through the Manager's `JobRemoved` signal. We subscribe
//! and open the signal stream *before* submitting, because a fast job can finish before the
//! reply to the submission reaches us.
//!
//! The bus address honours `DBUS_SYSTEM_BUS_ADDRESS` (zbus reads it); errors name the address, so
//! triage can report "systemd not reachable at unix:path=..." as a finding.
//!
//! zbus is built without its `proxy` feature, so calls are made with `Connection::call_method`
//! and signals read with a `MessageStream` on a match rule; the interfaces are small.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{json, Value};
use zbus::message::Type as MsgType;
use zbus::{Connection, MatchRule, MessageStream, OwnedObjectPath, OwnedVariant, Variant};

use super::args;
use super::{Args, Effect, HostCtx, HostError, HostFn, HostResult, Param, ParamType};

const DEST: &str = "org.freedesktop.systemd1";
const MANAGER_PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";
const UNIT_IFACE: &str = "org.freedesktop.systemd1.Unit";
const SERVICE_IFACE: &str = "org.freedesktop.systemd1.Service";
const PROPERTIES: &str = "org.freedesktop.DBus.Properties";

/// Used when `DBUS_SYSTEM_BUS_ADDRESS` is unset (the same default zbus and libdbus use).
pub const DEFAULT_BUS_ADDRESS: &str = "unix:path=/var/run/dbus/system_bus_socket";
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Per-call timeout for plain method calls (jobs have their own, longer wait).
const CALL_TIMEOUT: Duration = Duration::from_secs(25);
const DEFAULT_JOB_TIMEOUT_SECS: i64 = 90;

/// The system bus address in effect, for error messages.
pub fn bus_address() -> String {
    std::env::var("DBUS_SYSTEM_BUS_ADDRESS").unwrap_or_else(|_| DEFAULT_BUS_ADDRESS.to_string())
}

fn unreachable(reason: impl Into<String>) -> HostError {
    HostError::Unreachable {
        backend: "systemd",
        address: bus_address(),
        reason: reason.into(),
    }
}

impl HostCtx {
    /// The cached system bus connection, opened (again, if the bus closed it) on demand.
    pub(crate) async fn system_bus(&self) -> Result<Connection, HostError> {
        let mut slot = self.bus.lock().await;
        if let Some(conn) = slot.as_ref().filter(|c| !c.is_closed()) {
            return Ok(conn.clone());
        }
        let build = zbus::connection::Builder::system()
            .method_timeout(CALL_TIMEOUT)
            .build();
        let conn = tokio::time::timeout(CONNECT_TIMEOUT, build)
            .await
            .map_err(|_| unreachable(format!("no answer within {CONNECT_TIMEOUT:?}")))?
            .map_err(|e| unreachable(e.to_string()))?;
        *slot = Some(conn.clone());
        Ok(conn)
    }
}

/// The D-Bus error name of a method error reply, if `e` is one.
fn error_name(e: &zbus::Error) -> Option<String> {
    match e {
        zbus::Error::MethodError(name, _, _) => Some(name.to_string()),
        zbus::Error::FDO(f) => Some(zbus::DBusError::name(f.as_ref()).to_string()),
        _ => None,
    }
}

/// Translate a zbus error into a HostError that says what was being done and what to try.
fn map_err(e: zbus::Error, what: &str) -> HostError {
    use zbus::fdo::Error as Fdo;
    // The bus tried to start systemd1 on demand and could not (a bus without systemd as PID 1).
    if let Some(name) = error_name(&e).filter(|n| n.starts_with("org.freedesktop.DBus.Error.Spawn"))
    {
        return unreachable(format!("no systemd on this bus ({name}: {e})"));
    }
    match e {
        zbus::Error::FDO(f) => match *f {
            Fdo::ServiceUnknown(m) | Fdo::NameHasNoOwner(m) => {
                unreachable(format!("no systemd on this bus ({m})"))
            }
            Fdo::AccessDenied(m) | Fdo::InteractiveAuthorizationRequired(m) => HostError::Failed(
                format!("{what}: permission denied by systemd ({m}); run runbook as root"),
            ),
            Fdo::NoReply(m) | Fdo::Timeout(m) => HostError::Timeout {
                what: format!("{what} ({m})"),
                seconds: CALL_TIMEOUT.as_secs(),
            },
            Fdo::Disconnected(m) | Fdo::NoServer(m) | Fdo::IOError(m) => unreachable(m),
            other => HostError::Failed(format!("{what}: {other}")),
        },
        zbus::Error::MethodError(name, msg, _) => match name.as_str() {
            "org.freedesktop.systemd1.NoSuchUnit" => HostError::Failed(format!(
                "{what}: no such unit ({}); check the name with systemd::list_units",
                msg.unwrap_or_default()
            )),
            _ => HostError::Failed(format!("{what}: {name}: {}", msg.unwrap_or_default())),
        },
        zbus::Error::InputOutput(io) => unreachable(io.to_string()),
        zbus::Error::Connection(io, _) => unreachable(io.to_string()),
        other => HostError::Failed(format!("{what}: {other}")),
    }
}

/// Unit names as `systemctl` takes them: a bare name means `NAME.service`.
pub fn normalize_unit(name: &str) -> Result<String, HostError> {
    if !crate::site::valid_unit_name(name) {
        return Err(HostError::InvalidArgument(format!(
            "`{name}` is not a valid unit name (allowed: letters, digits, @ . _ : -)"
        )));
    }
    const TYPES: &[&str] = &[
        "service",
        "socket",
        "target",
        "timer",
        "mount",
        "automount",
        "swap",
        "path",
        "slice",
        "scope",
        "device",
    ];
    let has_type = name
        .rsplit_once('.')
        .is_some_and(|(_, suffix)| TYPES.contains(&suffix));
    Ok(if has_type {
        name.to_string()
    } else {
        format!("{name}.service")
    })
}

/// Glob patterns as systemctl accepts them (fnmatch on unit names).
fn valid_pattern(p: &str) -> bool {
    !p.is_empty()
        && p.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"@._:-*?[]!\\".contains(&b))
}

async fn call(
    conn: &Connection,
    path: &str,
    iface: &str,
    method: &str,
    body: &(impl serde::Serialize + zbus::DynamicType),
    what: &str,
) -> Result<zbus::Message, HostError> {
    conn.call_method(Some(DEST), path, Some(iface), method, body)
        .await
        .map_err(|e| map_err(e, what))
}

type UnitRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    OwnedObjectPath,
    u32,
    String,
    OwnedObjectPath,
);

fn row_json(r: &UnitRow) -> Value {
    json!({
        "name": r.0,
        "description": r.1,
        "load_state": r.2,
        "active_state": r.3,
        "sub_state": r.4,
    })
}

async fn list_by_patterns(ctx: &HostCtx, states: Vec<String>, patterns: Vec<String>) -> HostResult {
    let conn = ctx.system_bus().await?;
    let what = "listing units";
    let reply = call(
        &conn,
        MANAGER_PATH,
        MANAGER,
        "ListUnitsByPatterns",
        &(states, patterns),
        what,
    )
    .await?;
    let mut rows: Vec<UnitRow> = reply.body().deserialize().map_err(|e| map_err(e, what))?;
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Value::Array(rows.iter().map(row_json).collect()))
}

fn list_units(ctx: &HostCtx, a: &Args) -> HostResult {
    let pattern = args::string(a, "pattern")?;
    if !valid_pattern(pattern) {
        return Err(HostError::InvalidArgument(format!(
            "`{pattern}` is not a unit glob pattern (e.g. \"openclaw-*\")"
        )));
    }
    let states = match args::opt_string(a, "state")? {
        Some(s) if !s.bytes().all(|b| b.is_ascii_lowercase() || b == b'-') => {
            return Err(HostError::InvalidArgument(format!(
                "`{s}` is not a unit state (e.g. running, failed, active, inactive)"
            )))
        }
        Some(s) => vec![s.to_string()],
        None => vec![],
    };
    ctx.block_on(list_by_patterns(ctx, states, vec![pattern.to_string()]))
}

/// The state of many units at once: one `ListUnitsByNames` call, then each loaded service's
/// `NRestarts` and `MainPID` with concurrent `Get`s. Triage asks this for every unit of the
/// site, where a full `status` per unit costs a dozen round trips each.
async fn statuses_of(ctx: &HostCtx, units: Vec<String>) -> HostResult {
    let conn = ctx.system_bus().await?;
    let what = "listing units by name";
    let reply = call(
        &conn,
        MANAGER_PATH,
        MANAGER,
        "ListUnitsByNames",
        &(units,),
        what,
    )
    .await?;
    let rows: Vec<UnitRow> = reply.body().deserialize().map_err(|e| map_err(e, what))?;
    let conn = &conn;
    let each = rows.iter().map(|r| async move {
        let mut v = row_json(r);
        v["unit"] = v["name"].clone();
        if r.0.ends_with(".service") && r.2 == "loaded" {
            let what = format!("reading the state of {}", r.0);
            let s = get_some(
                conn,
                r.6.as_str(),
                SERVICE_IFACE,
                &["NRestarts", "MainPID"],
                &what,
            )
            .await?;
            v["n_restarts"] = json!(p_u64(&s, "NRestarts"));
            v["main_pid"] = json!(p_u64(&s, "MainPID").filter(|p| *p != 0));
        }
        // A unit between states: how long it has been so, to tell a start from a hang. Only
        // these units pay for the extra round trip.
        if matches!(r.3.as_str(), "activating" | "deactivating" | "reloading") {
            let what = format!("reading when {} changed state", r.0);
            let u = get_some(
                conn,
                r.6.as_str(),
                UNIT_IFACE,
                &["StateChangeTimestamp"],
                &what,
            )
            .await?;
            let since = p_u64(&u, "StateChangeTimestamp").filter(|t| *t != 0);
            v["state_since"] = json!(since.and_then(usec_to_rfc3339));
            v["state_secs"] = json!(since.map(|t| {
                let now = chrono::Utc::now().timestamp_micros().max(0) as u64;
                now.saturating_sub(t) / 1_000_000
            }));
        }
        Ok::<_, HostError>(v)
    });
    Ok(Value::Array(
        futures_util::future::try_join_all(each).await?,
    ))
}

fn statuses(ctx: &HostCtx, a: &Args) -> HostResult {
    let units = args::strings(a, "units")?
        .iter()
        .map(|u| normalize_unit(u))
        .collect::<Result<Vec<_>, _>>()?;
    ctx.block_on(statuses_of(ctx, units))
}

fn failed(ctx: &HostCtx, _a: &Args) -> HostResult {
    ctx.block_on(list_by_patterns(ctx, vec!["failed".into()], vec![]))
}

type Props = HashMap<String, OwnedVariant>;

fn p_str(p: &Props, k: &str) -> Option<String> {
    match p.get(k).map(|v| &**v) {
        Some(Variant::Str(s)) => Some(s.as_str().to_string()),
        _ => None,
    }
}

fn p_u64(p: &Props, k: &str) -> Option<u64> {
    match p.get(k).map(|v| &**v) {
        Some(Variant::U64(n)) => Some(*n),
        Some(Variant::U32(n)) => Some(u64::from(*n)),
        _ => None,
    }
}

fn p_bool(p: &Props, k: &str) -> Option<bool> {
    match p.get(k).map(|v| &**v) {
        Some(Variant::Bool(b)) => Some(*b),
        _ => None,
    }
}

/// systemd timestamps are µs since the epoch; 0 means "never".
pub fn usec_to_rfc3339(usec: u64) -> Option<String> {
    if usec == 0 {
        return None;
    }
    chrono::DateTime::from_timestamp_micros(i64::try_from(usec).ok()?)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// Only the named properties, fetched with concurrent `Get` calls: a service has a few hundred
/// properties, and decoding them all (`GetAll`) for every unit of triage costs more than these
/// small round trips, which overlap on the one connection.
async fn get_some(
    conn: &Connection,
    path: &str,
    iface: &str,
    names: &[&'static str],
    what: &str,
) -> Result<Props, HostError> {
    let gets = names.iter().map(|name| async move {
        let reply = call(conn, path, PROPERTIES, "Get", &(iface, *name), what).await?;
        let value: OwnedVariant = reply.body().deserialize().map_err(|e| map_err(e, what))?;
        Ok::<_, HostError>((name.to_string(), value))
    });
    futures_util::future::try_join_all(gets)
        .await
        .map(|pairs| pairs.into_iter().collect())
}

const UNIT_PROPS: &[&str] = &[
    "Description",
    "LoadState",
    "ActiveState",
    "SubState",
    "UnitFileState",
    "CanReload",
    "ActiveEnterTimestamp",
    "FragmentPath",
];
const SERVICE_PROPS: &[&str] = &["MainPID", "NRestarts", "Result"];

async fn unit_path(conn: &Connection, unit: &str) -> Result<OwnedObjectPath, HostError> {
    // LoadUnit (not GetUnit) so that an unknown unit reports load_state "not-found".
    let what = format!("loading unit {unit}");
    let reply = call(conn, MANAGER_PATH, MANAGER, "LoadUnit", &(unit,), &what).await?;
    reply.body().deserialize().map_err(|e| map_err(e, &what))
}

async fn status_of(ctx: &HostCtx, unit: &str) -> HostResult {
    let conn = ctx.system_bus().await?;
    let path = unit_path(&conn, unit).await?;
    let what = format!("reading the state of {unit}");
    let u = get_some(&conn, path.as_str(), UNIT_IFACE, UNIT_PROPS, &what).await?;
    let s = if unit.ends_with(".service") && p_str(&u, "LoadState").as_deref() == Some("loaded") {
        get_some(&conn, path.as_str(), SERVICE_IFACE, SERVICE_PROPS, &what).await?
    } else {
        Props::new()
    };
    Ok(json!({
        "unit": unit,
        "description": p_str(&u, "Description"),
        "load_state": p_str(&u, "LoadState"),
        "active_state": p_str(&u, "ActiveState"),
        "sub_state": p_str(&u, "SubState"),
        "unit_file_state": p_str(&u, "UnitFileState"),
        "can_reload": p_bool(&u, "CanReload"),
        "active_since": p_u64(&u, "ActiveEnterTimestamp").and_then(usec_to_rfc3339),
        "main_pid": p_u64(&s, "MainPID").filter(|p| *p != 0),
        "n_restarts": p_u64(&s, "NRestarts"),
        "result": p_str(&s, "Result"),
        "fragment_path": p_str(&u, "FragmentPath").filter(|p| !p.is_empty()),
    }))
}

fn status(ctx: &HostCtx, a: &Args) -> HostResult {
    let unit = normalize_unit(args::string(a, "unit")?)?;
    ctx.block_on(status_of(ctx, &unit))
}

/// Mutating calls only touch units the site lists: the policy lookup runbooks do first is
/// repeated here so a runbook that forgets it cannot restart an arbitrary unit.
fn site_unit(ctx: &HostCtx, unit: &str) -> Result<Value, HostError> {
    match ctx.site.unit(unit) {
        Some((key, p)) => Ok(json!({"name": key, "policy": p.policy})),
        None => Err(HostError::Refused(format!(
            "unit {unit} is not in the site policy (site file {}: units)",
            ctx.site.origin
        ))),
    }
}

/// The systemd verbs we submit as jobs, by Manager method name.
#[derive(Clone, Copy)]
enum Verb {
    Start,
    Stop,
    Restart,
    Reload,
    ReloadOrRestart,
}

impl Verb {
    fn method(self) -> &'static str {
        match self {
            Verb::Start => "StartUnit",
            Verb::Stop => "StopUnit",
            Verb::Restart => "RestartUnit",
            Verb::Reload => "ReloadUnit",
            Verb::ReloadOrRestart => "ReloadOrRestartUnit",
        }
    }
    fn word(self) -> &'static str {
        match self {
            Verb::Start => "start",
            Verb::Stop => "stop",
            Verb::Restart => "restart",
            Verb::Reload => "reload",
            Verb::ReloadOrRestart => "reload-or-restart",
        }
    }
}

async fn run_job(ctx: &HostCtx, verb: Verb, unit: &str, timeout: Duration) -> HostResult {
    let conn = ctx.system_bus().await?;
    let what = format!("{} {unit}", verb.word());

    // Subscribe so systemd emits job signals to us; a second Subscribe on the same connection
    // answers AlreadySubscribed, which is fine.
    if let Err(e) = conn
        .call_method(Some(DEST), MANAGER_PATH, Some(MANAGER), "Subscribe", &())
        .await
    {
        if error_name(&e).as_deref() != Some("org.freedesktop.systemd1.AlreadySubscribed") {
            return Err(map_err(e, &what));
        }
    }
    let rule = MatchRule::builder()
        .msg_type(MsgType::Signal)
        .sender(DEST)
        .interface(MANAGER)
        .member("JobRemoved")
        .path(MANAGER_PATH)
        .build()
        .map_err(|e| map_err(e, &what))?;
    let mut removed = MessageStream::for_match_rule(rule, &conn, None)
        .await
        .map_err(|e| map_err(e, &what))?;

    let reply = conn
        .call_method(
            Some(DEST),
            MANAGER_PATH,
            Some(MANAGER),
            verb.method(),
            &(unit, "replace"),
        )
        .await;
    let reply = match reply {
        Ok(r) => r,
        Err(e)
            if error_name(&e).as_deref()
                == Some("org.freedesktop.systemd1.JobTypeNotApplicable") =>
        {
            return Err(HostError::Failed(format!(
                "unit {unit} cannot {} (it has no ExecReload); use systemd::restart if the site \
                 policy allows it, or systemd::reload_or_restart",
                verb.word()
            )));
        }
        Err(e) => return Err(map_err(e, &what)),
    };
    let job: OwnedObjectPath = reply.body().deserialize().map_err(|e| map_err(e, &what))?;

    let wait = async {
        while let Some(msg) = removed.next().await {
            let msg = msg.map_err(|e| map_err(e, &what))?;
            // JobRemoved(u id, o job, s unit, s result)
            let Ok((_id, path, _unit, result)) = msg
                .body()
                .deserialize::<(u32, OwnedObjectPath, String, String)>()
            else {
                continue;
            };
            if path == job {
                return Ok(result);
            }
        }
        Err(unreachable(
            "the bus connection closed while waiting for the job",
        ))
    };
    let result = tokio::time::timeout(timeout, wait)
        .await
        .map_err(|_| HostError::Timeout {
            what: format!(
                "waiting for job {} ({what}); it may still be running, see systemd::status",
                job.as_str()
            ),
            seconds: timeout.as_secs(),
        })??;

    // The state right after the job, so runbooks can verify without another call.
    let active_state = match status_of(ctx, unit).await {
        Ok(s) => s["active_state"].clone(),
        Err(_) => Value::Null,
    };
    Ok(json!({
        "unit": unit,
        "job": job.as_str(),
        "result": result,
        "active_state": active_state,
    }))
}

fn job_fn(ctx: &HostCtx, a: &Args, verb: Verb) -> HostResult {
    let unit = normalize_unit(args::string(a, "unit")?)?;
    site_unit(ctx, &unit)?;
    let secs = args::int_in(a, "timeout_secs", DEFAULT_JOB_TIMEOUT_SECS, 1, 3600)?;
    ctx.block_on(run_job(
        ctx,
        verb,
        &unit,
        Duration::from_secs(secs.unsigned_abs()),
    ))
}

/// Plan for every job: the unit's policy entry and current state.
fn plan_job(ctx: &HostCtx, a: &Args) -> HostResult {
    let unit = normalize_unit(args::string(a, "unit")?)?;
    let policy = site_unit(ctx, &unit)?;
    let current = ctx.block_on(status_of(ctx, &unit))?;
    Ok(json!({"unit": unit, "policy": policy, "current": current}))
}

fn restart(ctx: &HostCtx, a: &Args) -> HostResult {
    job_fn(ctx, a, Verb::Restart)
}
fn reload(ctx: &HostCtx, a: &Args) -> HostResult {
    job_fn(ctx, a, Verb::Reload)
}
fn reload_or_restart(ctx: &HostCtx, a: &Args) -> HostResult {
    job_fn(ctx, a, Verb::ReloadOrRestart)
}
fn start(ctx: &HostCtx, a: &Args) -> HostResult {
    job_fn(ctx, a, Verb::Start)
}
fn stop(ctx: &HostCtx, a: &Args) -> HostResult {
    job_fn(ctx, a, Verb::Stop)
}

const UNIT: Param = Param {
    name: "unit",
    ty: ParamType::String,
    optional: false,
    doc: "unit name; a bare name means NAME.service",
};
const TIMEOUT: Param = Param {
    name: "timeout_secs",
    ty: ParamType::Int,
    optional: true,
    doc: "how long to wait for the job to finish (default 90)",
};
const JOB_PARAMS: &[Param] = &[UNIT, TIMEOUT];

macro_rules! job {
    ($name:literal, $f:ident, $shell:ident, $doc:literal) => {
        HostFn {
            module: "systemd",
            name: $name,
            params: JOB_PARAMS,
            effect: Effect::Mutate,
            doc: $doc,
            run: $f,
            plan: Some(plan_job),
            shell: super::shell::$shell,
        }
    };
}

pub static FNS: &[HostFn] = &[
    HostFn {
        module: "systemd",
        name: "list_units",
        params: &[
            Param {
                name: "pattern",
                ty: ParamType::String,
                optional: false,
                doc: "glob on unit names, e.g. \"openclaw-*\" or \"*\"",
            },
            Param {
                name: "state",
                ty: ParamType::String,
                optional: true,
                doc: "only units in this load/active/sub state, e.g. running, failed",
            },
        ],
        effect: Effect::Read,
        doc: "Loaded units matching a pattern: [{name, description, load_state, active_state, sub_state}]",
        run: list_units,
        plan: None,
        shell: super::shell::systemd_list_units,
    },
    HostFn {
        module: "systemd",
        name: "failed",
        params: &[],
        effect: Effect::Read,
        doc: "Units in the failed state (systemctl --failed), same fields as list_units",
        run: failed,
        plan: None,
        shell: super::shell::systemd_failed,
    },
    HostFn {
        module: "systemd",
        name: "status",
        params: &[UNIT],
        effect: Effect::Read,
        doc: "One unit's state: {unit, description, load_state, active_state, sub_state, unit_file_state, \
              can_reload, active_since, main_pid, n_restarts, result, fragment_path}",
        run: status,
        plan: None,
        shell: super::shell::systemd_status,
    },
    HostFn {
        module: "systemd",
        name: "statuses",
        params: &[Param {
            name: "units",
            ty: ParamType::Array,
            optional: false,
            doc: "unit names (with or without .service)",
        }],
        effect: Effect::Read,
        doc: "Many units at once, in one call: [{unit, name, description, load_state, active_state, \
              sub_state, n_restarts, main_pid, state_since, state_secs}] (n_restarts and main_pid for \
              loaded services; state_since/state_secs for units activating, deactivating or reloading)",
        run: statuses,
        plan: None,
        shell: super::shell::systemd_statuses,
    },
    job!("restart", restart, systemd_restart,
        "Restart a unit listed in the site policy and wait for the job: {unit, job, result, active_state}; \
         result is systemd's done/failed/timeout/canceled/dependency/skipped"
    ),
    job!("reload", reload, systemd_reload,
        "Reload a unit (graceful); fails clearly if the unit has no ExecReload. Returns {unit, job, result, active_state}"
    ),
    job!("reload_or_restart", reload_or_restart, systemd_reload_or_restart,
        "Reload if the unit supports it, else restart. Returns {unit, job, result, active_state}"
    ),
    job!("start", start, systemd_start,
        "Start a unit and wait for the job: {unit, job, result, active_state}"
    ),
    job!("stop", stop, systemd_stop,
        "Stop a unit and wait for the job: {unit, job, result, active_state}"
    ),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::{fake_systemd, testutil};
    use crate::site::Site;

    fn expect_unreachable(r: HostResult, address: &str) -> String {
        match r {
            Err(HostError::Unreachable {
                backend,
                address: a,
                reason,
            }) => {
                assert_eq!(backend, "systemd");
                assert_eq!(a, address);
                reason
            }
            other => panic!("expected Unreachable, got {other:?}"),
        }
    }

    /// Every bus scenario in one test, because each sets DBUS_SYSTEM_BUS_ADDRESS:
    /// no bus, a bus without systemd, and a bus with the stand-in systemd.
    #[test]
    fn over_dbus() {
        use serde_json::json;
        let addr = "unix:path=/nonexistent/system_bus_socket";
        std::env::set_var("DBUS_SYSTEM_BUS_ADDRESS", addr);
        let (_rt, ctx) = testutil::ctx(Site::openclaw());
        let caddy = testutil::args(json!({"unit": "caddy"}));
        expect_unreachable(status(&ctx, &caddy), addr);
        expect_unreachable(failed(&ctx, &Args::new()), addr);
        expect_unreachable(restart(&ctx, &caddy), addr);
        let msg = status(&ctx, &caddy).unwrap_err().to_string();
        assert!(
            msg.starts_with("systemd not reachable at unix:path=/nonexistent/system_bus_socket"),
            "{msg}"
        );

        let Some(bus) = fake_systemd::start_bus() else {
            std::env::remove_var("DBUS_SYSTEM_BUS_ADDRESS");
            return; // no dbus-daemon here
        };
        std::env::set_var("DBUS_SYSTEM_BUS_ADDRESS", &bus.address);
        let (_rt, ctx) = testutil::ctx(Site::openclaw());
        let reason = expect_unreachable(status(&ctx, &caddy), &bus.address);
        assert!(reason.contains("no systemd on this bus"), "{reason}");

        let (rt, ctx) = testutil::ctx(Site::openclaw());
        let address = bus.address.clone();
        rt.spawn(async move { fake_systemd::serve(&address).await });
        let mut ready = false;
        for _ in 0..100 {
            if status(&ctx, &caddy).is_ok() {
                ready = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(ready, "the stand-in systemd did not come up");

        assert_eq!(
            status(&ctx, &caddy).unwrap(),
            json!({
                "unit": "caddy.service",
                "description": "Caddy",
                "load_state": "loaded",
                "active_state": "active",
                "sub_state": "running",
                "unit_file_state": "enabled",
                "can_reload": true,
                "active_since": "2023-11-14T22:13:20Z",
                "main_pid": 812,
                "n_restarts": 2,
                "result": "success",
                "fragment_path": "/usr/lib/systemd/system/caddy.service",
            })
        );
        let units = list_units(&ctx, &testutil::args(json!({"pattern": "openclaw-*"}))).unwrap();
        let names: Vec<&str> = units
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            vec!["openclaw-bg-worker.service", "openclaw-gateway.service"]
        );
        let f = failed(&ctx, &Args::new()).unwrap();
        assert_eq!(f[0]["name"], "openclaw-bg-worker.service");
        assert_eq!(f[0]["active_state"], "failed");

        // JobRemoved arrives before the reply: the wait still sees it, and ignores job 41.
        let r = restart(&ctx, &caddy).unwrap();
        assert_eq!(r["job"], "/org/freedesktop/systemd1/job/42");
        assert_eq!(r["result"], "done");
        assert_eq!(r["unit"], "caddy.service");
        assert_eq!(r["active_state"], "active");
        // A second job on the same connection (Subscribe again is fine).
        assert_eq!(start(&ctx, &caddy).unwrap()["result"], "done");

        let err = reload(&ctx, &testutil::args(json!({"unit": "aurora"}))).unwrap_err();
        assert!(matches!(err, HostError::Failed(_)), "{err:?}");
        let msg = err.to_string();
        assert!(
            msg.starts_with("unit aurora.service cannot reload"),
            "{msg}"
        );
        assert!(msg.contains("systemd::restart"), "{msg}");

        let err = stop(
            &ctx,
            &testutil::args(json!({"unit": "cloudflared", "timeout_secs": 1})),
        )
        .unwrap_err();
        assert!(
            matches!(err, HostError::Timeout { seconds: 1, .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("job/43"), "{err}");

        let plan = plan_job(&ctx, &caddy).unwrap();
        assert_eq!(plan["policy"]["policy"], "reload-preferred");
        assert_eq!(plan["current"]["active_state"], "active");

        std::env::remove_var("DBUS_SYSTEM_BUS_ADDRESS");
        drop(bus);
    }

    #[test]
    fn mutations_refuse_units_outside_the_site() {
        let (_rt, ctx) = testutil::ctx(Site::openclaw());
        let a = testutil::args(serde_json::json!({"unit": "postgresql"}));
        let err = restart(&ctx, &a).unwrap_err();
        assert!(matches!(err, HostError::Refused(_)), "{err:?}");
        assert!(
            err.to_string()
                .contains("unit postgresql.service is not in the site policy"),
            "{err}"
        );
        let bad = testutil::args(serde_json::json!({"unit": "x y"}));
        assert!(matches!(
            stop(&ctx, &bad),
            Err(HostError::InvalidArgument(_))
        ));
    }

    #[test]
    fn unit_names_normalized_and_checked() {
        assert_eq!(normalize_unit("caddy").unwrap(), "caddy.service");
        assert_eq!(normalize_unit("caddy.service").unwrap(), "caddy.service");
        assert_eq!(normalize_unit("ssh.socket").unwrap(), "ssh.socket");
        assert_eq!(normalize_unit("getty@tty1").unwrap(), "getty@tty1.service");
        assert_eq!(
            normalize_unit("openclaw-bg-worker").unwrap(),
            "openclaw-bg-worker.service"
        );
        assert!(matches!(
            normalize_unit("caddy; reboot"),
            Err(HostError::InvalidArgument(_))
        ));
        assert!(normalize_unit("../x").is_err());
        assert!(valid_pattern("openclaw-*"));
        assert!(!valid_pattern("a b"));
    }

    #[test]
    fn timestamps() {
        assert_eq!(usec_to_rfc3339(0), None);
        assert_eq!(
            usec_to_rfc3339(1_700_000_000_123_456).as_deref(),
            Some("2023-11-14T22:13:20Z")
        );
    }
}
