//! Docker Engine API through bollard (the `docker` CLI's own API, over the unix socket).
//!
//! The client honours `DOCKER_HOST` (default `unix:///var/run/docker.sock`) and negotiates the API
//! version once (from `/_ping`), so engines as old as API 1.41 work. An engine that cannot be reached is
//! `Unreachable { backend: "docker", address }`, a finding for triage rather than a crash.
//!
//! Mutations (start, stop, restart, exec) only touch containers the site lists; reads work on
//! any container.

use std::time::Duration;

use bollard::models::{ContainerStatsResponse, ExecConfig};
use bollard::query_parameters::{
    InspectContainerOptions, ListContainersOptions, LogsOptions, RestartContainerOptions,
    StartContainerOptions, StatsOptions, StopContainerOptions,
};
use bollard::{ClientVersion, Docker};
use futures_util::StreamExt;
use serde_json::{json, Value};

use super::allow;
use super::args;
use super::withheld;
use super::{Args, Effect, HostCtx, HostError, HostFn, HostResult, Param, ParamType, SiteRule};
use crate::site::CommandEffect;

pub const DEFAULT_ADDRESS: &str = "unix:///var/run/docker.sock";
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Output kept from exec and logs, per stream.
const CAP: usize = 64 * 1024;
const EXEC_TIMEOUT: Duration = Duration::from_secs(300);

/// The engine address in effect, for error messages.
pub fn address() -> String {
    std::env::var("DOCKER_HOST").unwrap_or_else(|_| DEFAULT_ADDRESS.to_string())
}

fn unreachable(reason: impl Into<String>) -> HostError {
    HostError::Unreachable {
        backend: "docker",
        address: address(),
        reason: reason.into(),
    }
}

impl HostCtx {
    /// The cached Engine client, created and version-negotiated on first use.
    pub(crate) async fn docker(&self) -> Result<Docker, HostError> {
        let mut slot = self.docker.lock().await;
        if let Some(d) = slot.as_ref() {
            return Ok(d.clone());
        }
        let d = tokio::time::timeout(CONNECT_TIMEOUT, connect())
            .await
            .map_err(|_| unreachable(format!("no answer within {CONNECT_TIMEOUT:?}")))??;
        *slot = Some(d.clone());
        Ok(d)
    }
}

/// A client speaking the engine's API version (or bollard's, if that is older).
///
/// On a unix socket the version comes from the `Api-Version` header of `GET /_ping`, which
/// the engine answers in about half a millisecond; bollard's `negotiate_version` asks
/// `/version`, for which the engine queries containerd first (about 8 ms, the slowest part of
/// a triage's Docker check). Other transports use `negotiate_version`.
async fn connect() -> Result<Docker, HostError> {
    let host = address();
    let Some(socket) = host.strip_prefix("unix://") else {
        let d = Docker::connect_with_host(&host).map_err(|e| unreachable(e.to_string()))?;
        return d
            .negotiate_version()
            .await
            .map_err(|e| unreachable(e.to_string()));
    };
    let engine = ping_api_version(socket)
        .await
        .map_err(|e| unreachable(format!("{socket}: {e}")))?;
    let ours = *bollard::API_DEFAULT_VERSION;
    let version = if engine < ours { engine } else { ours };
    Docker::connect_with_unix(&host, REQUEST_TIMEOUT_SECS, &version)
        .map_err(|e| unreachable(e.to_string()))
}

/// Request timeout of the client, in seconds (bollard's default).
const REQUEST_TIMEOUT_SECS: u64 = 120;

/// `GET /_ping` on the engine's unix socket; the API version from its `Api-Version` header.
async fn ping_api_version(socket: &str) -> std::io::Result<ClientVersion> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::UnixStream::connect(socket).await?;
    stream
        .write_all(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
        .await?;
    let mut response = Vec::new();
    // HTTP/1.0: the engine closes the connection after the (two-byte) body.
    stream.take(16 * 1024).read_to_end(&mut response).await?;
    parse_ping(&String::from_utf8_lossy(&response)).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "the engine's /_ping answer has no Api-Version header: is this a Docker engine?",
        )
    })
}

/// The `Api-Version: MAJOR.MINOR` header of an HTTP response head, if present.
fn parse_ping(response: &str) -> Option<ClientVersion> {
    let head = response.split("\r\n\r\n").next()?;
    let value = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("api-version")
            .then(|| value.trim())
    })?;
    let (major, minor) = value.split_once('.')?;
    Some(ClientVersion {
        major_version: major.parse().ok()?,
        minor_version: minor.parse().ok()?,
    })
}

pub(crate) fn map_err(e: bollard::errors::Error, what: &str) -> HostError {
    use bollard::errors::Error as E;
    match e {
        E::DockerResponseServerError {
            status_code: 404,
            message,
        } => HostError::Failed(format!(
            "{what}: not found ({message}); see docker::containers(true)"
        )),
        E::DockerResponseServerError {
            status_code,
            message,
        } => HostError::Failed(format!(
            "{what}: the engine answered {status_code}: {message}"
        )),
        E::RequestTimeoutError => HostError::Timeout {
            what: what.to_string(),
            seconds: 120,
        },
        E::SocketNotFoundError(_)
        | E::IOError { .. }
        | E::HyperLegacyError { .. }
        | E::HyperResponseError { .. } => unreachable(format!("{what}: {e}")),
        other => HostError::Failed(format!("{what}: {other}")),
    }
}

/// Container names as docker accepts them (or an id).
fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 128
        && n.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

fn name_arg(a: &Args) -> Result<&str, HostError> {
    let n = args::string(a, "name")?;
    if !valid_name(n) {
        return Err(HostError::InvalidArgument(format!(
            "`{n}` is not a container name or id"
        )));
    }
    Ok(n)
}

/// Mutations only touch containers the site lists.
fn site_container<'a>(ctx: &HostCtx, a: &'a Args) -> Result<&'a str, HostError> {
    let n = name_arg(a)?;
    if !ctx.site.containers.contains_key(n) {
        return Err(HostError::Refused(format!(
            "container {n} is not in the site config (site file {}: containers)",
            ctx.site.origin
        )));
    }
    Ok(n)
}

/// Health from a `docker ps` status: "Up 3 hours (healthy)", "(health: starting)".
pub fn health_from_status(status: &str) -> Option<&'static str> {
    if status.contains("(unhealthy)") {
        Some("unhealthy")
    } else if status.contains("(healthy)") {
        Some("healthy")
    } else if status.contains("(health: starting)") {
        Some("starting")
    } else {
        None
    }
}

fn short_id(id: &str) -> String {
    id.chars().take(12).collect()
}

fn summary_json(c: &bollard::models::ContainerSummary) -> Value {
    let name = c
        .names
        .as_ref()
        .and_then(|n| n.first())
        .map(|n| n.trim_start_matches('/').to_string());
    let status = c.status.clone().unwrap_or_default();
    let health = c
        .health
        .as_ref()
        .and_then(|h| h.status.as_ref())
        .map(|s| s.to_string())
        .filter(|s| !s.is_empty() && s != "none")
        .or_else(|| health_from_status(&status).map(str::to_string));
    let mut ports: Vec<Value> = c
        .ports
        .iter()
        .flatten()
        .map(|p| {
            json!({
                "private": p.private_port,
                "public": p.public_port,
                "ip": p.ip,
                "proto": p.typ.as_ref().map(|t| t.to_string()),
            })
        })
        .collect();
    ports.dedup();
    json!({
        "name": name,
        "id": c.id.as_deref().map(short_id),
        "image": c.image,
        "state": c.state.as_ref().map(|s| s.to_string()),
        "status": status,
        "health": health,
        "ports": ports,
    })
}

fn containers(ctx: &HostCtx, a: &Args) -> HostResult {
    let all = args::opt_bool(a, "all")?.unwrap_or(false);
    ctx.block_on(async {
        let d = ctx.docker().await?;
        let opts = ListContainersOptions {
            all,
            ..Default::default()
        };
        let list = d
            .list_containers(Some(opts))
            .await
            .map_err(|e| map_err(e, "listing containers"))?;
        let mut out: Vec<Value> = list.iter().map(summary_json).collect();
        out.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
        Ok(Value::Array(out))
    })
}

async fn inspect(ctx: &HostCtx, name: &str) -> HostResult {
    let d = ctx.docker().await?;
    let i = d
        .inspect_container(name, None::<InspectContainerOptions>)
        .await
        .map_err(|e| map_err(e, &format!("inspecting container {name}")))?;
    let st = i.state.unwrap_or_default();
    let health = st
        .health
        .as_ref()
        .and_then(|h| h.status.as_ref())
        .map(|s| s.to_string())
        .filter(|s| !s.is_empty() && s != "none");
    // Docker reports "0001-01-01T00:00:00Z" for never.
    let time = |t: Option<String>| t.filter(|t| !t.starts_with("0001-"));
    Ok(json!({
        "name": i.name.as_deref().map(|n| n.trim_start_matches('/')),
        "id": i.id.as_deref().map(short_id),
        "image": i.config.as_ref().and_then(|c| c.image.clone()),
        "state": st.status.as_ref().map(|s| s.to_string()),
        "running": st.running,
        "restarting": st.restarting,
        "restart_count": i.restart_count,
        "started_at": time(st.started_at),
        "finished_at": time(st.finished_at),
        "health": health,
        "exit_code": st.exit_code,
        "oom_killed": st.oom_killed,
        "error": st.error.filter(|e| !e.is_empty()),
    }))
}

fn container(ctx: &HostCtx, a: &Args) -> HostResult {
    let n = name_arg(a)?;
    ctx.block_on(inspect(ctx, n))
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// CPU and memory the way `docker stats` computes them: CPU from the delta between the two
/// samples the engine returns; memory minus the page cache (inactive_file on cgroup v2,
/// total_inactive_file on v1).
pub fn stats_summary(s: &ContainerStatsResponse) -> Value {
    let cpu = s.cpu_stats.clone().unwrap_or_default();
    let pre = s.precpu_stats.clone().unwrap_or_default();
    let total = |c: &bollard::models::ContainerCpuStats| {
        c.cpu_usage
            .as_ref()
            .and_then(|u| u.total_usage)
            .unwrap_or(0)
    };
    let cpu_delta = total(&cpu).saturating_sub(total(&pre)) as f64;
    let sys_delta = cpu
        .system_cpu_usage
        .unwrap_or(0)
        .saturating_sub(pre.system_cpu_usage.unwrap_or(0)) as f64;
    let cpus = cpu.online_cpus.map(u64::from).unwrap_or_else(|| {
        cpu.cpu_usage
            .as_ref()
            .and_then(|u| u.percpu_usage.as_ref())
            .map_or(1, |p| p.len() as u64)
    });
    let cpu_percent = if sys_delta > 0.0 && cpu_delta > 0.0 {
        round1(cpu_delta / sys_delta * cpus as f64 * 100.0)
    } else {
        0.0
    };
    let mem = s.memory_stats.clone().unwrap_or_default();
    let usage = mem.usage.unwrap_or(0);
    let cache = mem.stats.as_ref().and_then(|st| {
        st.get("inactive_file")
            .or_else(|| st.get("total_inactive_file"))
            .copied()
    });
    let used = usage.saturating_sub(cache.unwrap_or(0));
    let limit = mem.limit.unwrap_or(0);
    json!({
        "cpu_percent": cpu_percent,
        "mem_usage": used,
        "mem_limit": limit,
        "mem_percent": if limit > 0 { round1(used as f64 * 100.0 / limit as f64) } else { 0.0 },
    })
}

fn stats(ctx: &HostCtx, a: &Args) -> HostResult {
    let n = name_arg(a)?;
    ctx.block_on(async {
        let d = ctx.docker().await?;
        // stream=false without one-shot: the engine takes two samples, so CPU has a delta.
        let opts = StatsOptions {
            stream: false,
            one_shot: false,
        };
        let what = format!("reading stats of {n}");
        let s = d
            .stats(n, Some(opts))
            .next()
            .await
            .ok_or_else(|| HostError::Failed(format!("{what}: the engine sent nothing")))?
            .map_err(|e| map_err(e, &what))?;
        let mut v = stats_summary(&s);
        v["name"] = json!(n);
        Ok(v)
    })
}

/// Collected output of exec and logs, capped per stream.
#[derive(Default)]
struct Output {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    truncated: bool,
}

impl Output {
    fn push(&mut self, chunk: bollard::container::LogOutput) {
        use bollard::container::LogOutput as L;
        let (buf, msg) = match chunk {
            L::StdErr { message } => (&mut self.stderr, message),
            L::StdOut { message } | L::Console { message } => (&mut self.stdout, message),
            L::StdIn { .. } => return,
        };
        let room = CAP.saturating_sub(buf.len());
        buf.extend_from_slice(&msg[..msg.len().min(room)]);
        self.truncated |= msg.len() > room;
    }
}

struct ExecArgs {
    name: String,
    argv: Vec<String>,
    user: Option<String>,
    env: Vec<String>,
    withheld_keys: Vec<String>,
    withheld: Option<crate::site::WithheldEnv>,
    rule: SiteRule,
}

const EXEC_OPTS: &[&str] = &["user", "env", "withheld_env"];

fn exec_args(ctx: &HostCtx, a: &Args) -> Result<ExecArgs, HostError> {
    let name = site_container(ctx, a)?.to_string();
    let argv = args::strings(a, "argv")?;
    if argv.is_empty() {
        return Err(HostError::InvalidArgument(
            "argv must name a program".into(),
        ));
    }
    let empty = serde_json::Map::new();
    let opts = args::opt_map(a, "opts")?.unwrap_or(&empty);
    if let Some(k) = opts.keys().find(|k| !EXEC_OPTS.contains(&k.as_str())) {
        return Err(HostError::InvalidArgument(format!(
            "unknown option `{k}` (known: {}){}",
            EXEC_OPTS.join(", "),
            if k == "readonly" {
                "; whether an exec reads or changes the container is decided by the site's \
                 containers.NAME.exec rule it matches (`effect: read` or `effect: mutate`), \
                 never by the caller: remove it"
            } else {
                ""
            }
        )));
    }
    let pairs = args::string_map(opts, "env")?;
    let withheld_keys = args::strings(opts, "withheld_env")?;
    let (rule, withheld) = exec_rule(ctx, &name, &argv, &pairs, &withheld_keys)?;
    Ok(ExecArgs {
        name,
        argv,
        user: args::opt_string(opts, "user")?.map(str::to_string),
        env: pairs.into_iter().map(|(k, v)| format!("{k}={v}")).collect(),
        withheld_keys,
        withheld,
        rule,
    })
}

/// The first `containers.NAME.exec` rule that fits the command, its environment and the
/// secret-file keys it names; with the rule's withheld values.
fn exec_rule(
    ctx: &HostCtx,
    name: &str,
    argv: &[String],
    env: &[(String, String)],
    withheld: &[String],
) -> Result<(SiteRule, Option<crate::site::WithheldEnv>), HostError> {
    let rules = ctx
        .site
        .containers
        .get(name)
        .map(|c| c.exec.as_slice())
        .unwrap_or_default();
    let mut misses = Vec::new();
    for (i, rule) in rules
        .iter()
        .enumerate()
        .filter(|(_, r)| r.program == argv[0])
    {
        let fits = allow::env_fits(rule, env)
            .and_then(|_| allow::withheld_fits(rule, withheld))
            .and_then(|_| allow::args_fit(rule, &argv[1..]));
        match fits {
            Ok(()) => {
                let site_rule = SiteRule {
                    mutates: rule.effect == CommandEffect::Mutate,
                    label: allow::label(&format!("containers.{name}.exec[{i}]"), rule),
                    affects: rule.affects.clone(),
                };
                return Ok((site_rule, rule.withheld_env.clone()));
            }
            Err(why) => misses.push(format!("{} (here: {why})", allow::describe(rule))),
        }
    }
    let detail = if misses.is_empty() {
        format!("`{}` has no exec rule for container {name}", argv[0])
    } else {
        format!(
            "in container {name}, {} is allowed only as: {}",
            argv[0],
            misses.join("; ")
        )
    };
    Err(HostError::Refused(format!(
        "{detail} (site file {}: containers.{name}.exec)",
        ctx.site.origin
    )))
}

/// The site rule an exec fits, and so whether it reads or mutates (see [`Effect::BySite`]).
fn classify_exec(ctx: &HostCtx, a: &Args) -> Result<SiteRule, HostError> {
    exec_args(ctx, a).map(|e| e.rule)
}

/// The exec's environment: the caller's variables and the withheld values, read now.
fn exec_env(e: &ExecArgs) -> Result<(Vec<String>, withheld::Withheld), HostError> {
    let secrets = withheld::load(e.withheld.as_ref(), &e.withheld_keys)?;
    let mut env = e.env.clone();
    env.extend(secrets.vars().iter().map(|(k, v)| format!("{k}={v}")));
    Ok((env, secrets))
}

async fn exec_in(ctx: &HostCtx, e: &ExecArgs) -> HostResult {
    use bollard::exec::{StartExecOptions, StartExecResults};
    let d = ctx.docker().await?;
    let what = format!("exec in {}", e.name);
    let (env, secrets) = exec_env(e)?;
    let config = ExecConfig {
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        cmd: Some(e.argv.clone()),
        user: e.user.clone(),
        env: (!env.is_empty()).then_some(env),
        ..Default::default()
    };
    let id = d
        .create_exec(&e.name, config)
        .await
        .map_err(|err| map_err(err, &what))?
        .id;
    let start = StartExecOptions {
        detach: false,
        tty: false,
        output_capacity: None,
    };
    let mut out = Output::default();
    match d
        .start_exec(&id, Some(start))
        .await
        .map_err(|err| map_err(err, &what))?
    {
        StartExecResults::Attached { mut output, .. } => {
            while let Some(chunk) = output.next().await {
                out.push(chunk.map_err(|err| map_err(err, &what))?);
            }
        }
        StartExecResults::Detached => {}
    }
    let info = d
        .inspect_exec(&id)
        .await
        .map_err(|err| map_err(err, &what))?;
    Ok(json!({
        "exit_code": info.exit_code,
        "stdout": secrets.scrub(String::from_utf8_lossy(&out.stdout).into_owned()),
        "stderr": secrets.scrub(String::from_utf8_lossy(&out.stderr).into_owned()),
        "truncated": out.truncated,
        "withheld_env": withheld::notes(e.withheld.as_ref(), &e.withheld_keys),
    }))
}

/// Run `argv` in `container` for another backend (the dump of a backup set), handing each
/// stdout chunk to `out` as it arrives; stderr is kept up to 64 KiB. Returns the exit code and
/// stderr. The caller is a host function the door has classified.
pub(crate) async fn exec_stream(
    ctx: &HostCtx,
    container: &str,
    argv: &[String],
    mut out: impl FnMut(&[u8]) -> std::io::Result<()>,
) -> Result<(Option<i64>, String), HostError> {
    use bollard::container::LogOutput as L;
    use bollard::exec::{StartExecOptions, StartExecResults};
    let d = ctx.docker().await?;
    let what = format!("exec in {container}");
    let config = ExecConfig {
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        cmd: Some(argv.to_vec()),
        ..Default::default()
    };
    let id = d
        .create_exec(container, config)
        .await
        .map_err(|err| map_err(err, &what))?
        .id;
    let start = StartExecOptions {
        detach: false,
        tty: false,
        output_capacity: None,
    };
    let mut stderr = Vec::new();
    if let StartExecResults::Attached { mut output, .. } = d
        .start_exec(&id, Some(start))
        .await
        .map_err(|err| map_err(err, &what))?
    {
        while let Some(chunk) = output.next().await {
            match chunk.map_err(|err| map_err(err, &what))? {
                L::StdOut { message } | L::Console { message } => out(&message)
                    .map_err(|e| HostError::Failed(format!("{what}: writing its output: {e}")))?,
                L::StdErr { message } => {
                    let room = CAP.saturating_sub(stderr.len());
                    stderr.extend_from_slice(&message[..message.len().min(room)]);
                }
                L::StdIn { .. } => {}
            }
        }
    }
    let info = d
        .inspect_exec(&id)
        .await
        .map_err(|err| map_err(err, &what))?;
    Ok((
        info.exit_code,
        String::from_utf8_lossy(&stderr).into_owned(),
    ))
}

fn exec(ctx: &HostCtx, a: &Args) -> HostResult {
    let e = exec_args(ctx, a)?;
    ctx.block_on(async {
        tokio::time::timeout(EXEC_TIMEOUT, exec_in(ctx, &e))
            .await
            .map_err(|_| HostError::Timeout {
                what: format!(
                    "exec in {} (the process may still run inside the container)",
                    e.name
                ),
                seconds: EXEC_TIMEOUT.as_secs(),
            })?
    })
}

fn plan_exec(ctx: &HostCtx, a: &Args) -> HostResult {
    let e = exec_args(ctx, a)?;
    let env_names: Vec<&str> = e.env.iter().filter_map(|kv| kv.split('=').next()).collect();
    Ok(
        json!({"container": e.name, "argv": e.argv, "user": e.user, "env_names": env_names,
               "withheld_env": withheld::notes(e.withheld.as_ref(), &e.withheld_keys), "rule": e.rule.label}),
    )
}

fn logs(ctx: &HostCtx, a: &Args) -> HostResult {
    let n = name_arg(a)?;
    let tail = args::int_in(a, "tail", 100, 1, 10_000)?;
    ctx.block_on(async {
        let d = ctx.docker().await?;
        let opts = LogsOptions {
            stdout: true,
            stderr: true,
            tail: tail.to_string(),
            ..Default::default()
        };
        let what = format!("reading logs of {n}");
        let mut out = Output::default();
        let mut stream = d.logs(n, Some(opts));
        while let Some(chunk) = stream.next().await {
            out.push(chunk.map_err(|e| map_err(e, &what))?);
        }
        Ok(json!({
            "name": n,
            "stdout": String::from_utf8_lossy(&out.stdout),
            "stderr": String::from_utf8_lossy(&out.stderr),
            "truncated": out.truncated,
        }))
    })
}

#[derive(Clone, Copy)]
enum Action {
    Start,
    Stop,
    Restart,
}

fn lifecycle(ctx: &HostCtx, a: &Args, action: Action) -> HostResult {
    let n = site_container(ctx, a)?;
    let t =
        args::opt_int(a, "timeout_secs")?.map(|t| i32::try_from(t.clamp(0, 600)).unwrap_or(600));
    ctx.block_on(async {
        let d = ctx.docker().await?;
        let was_running = inspect(ctx, n).await?["running"] == json!(true);
        let (word, r) = match action {
            Action::Start => ("start", d.start_container(n, None::<StartContainerOptions>).await),
            Action::Stop => (
                "stop",
                d.stop_container(n, Some(StopContainerOptions { t, signal: None })).await,
            ),
            Action::Restart => (
                "restart",
                d.restart_container(n, Some(RestartContainerOptions { t, signal: None }))
                    .await,
            ),
        };
        // bollard treats the engine's 304 ("already started/stopped") as success, so whether
        // anything changed is read from the state before the call.
        let changed = match action {
            Action::Start => !was_running,
            Action::Stop => was_running,
            Action::Restart => true,
        };
        r.map_err(|e| map_err(e, &format!("{word} container {n}")))?;
        let after = inspect(ctx, n).await?;
        Ok(json!({"name": n, "action": word, "changed": changed, "state": after["state"], "health": after["health"]}))
    })
}

fn start(ctx: &HostCtx, a: &Args) -> HostResult {
    lifecycle(ctx, a, Action::Start)
}
fn stop(ctx: &HostCtx, a: &Args) -> HostResult {
    lifecycle(ctx, a, Action::Stop)
}
fn restart(ctx: &HostCtx, a: &Args) -> HostResult {
    lifecycle(ctx, a, Action::Restart)
}

fn plan_lifecycle(ctx: &HostCtx, a: &Args) -> HostResult {
    let n = site_container(ctx, a)?;
    let current = ctx.block_on(inspect(ctx, n))?;
    Ok(json!({"name": n, "current": current}))
}

const NAME: Param = Param {
    name: "name",
    ty: ParamType::String,
    optional: false,
    doc: "container name (or id)",
};
const STOP_TIMEOUT: Param = Param {
    name: "timeout_secs",
    ty: ParamType::Int,
    optional: true,
    doc: "seconds to wait for a graceful stop before SIGKILL (engine default 10)",
};

pub static FNS: &[HostFn] = &[
    HostFn {
        module: "docker",
        name: "containers",
        params: &[Param {
            name: "all",
            ty: ParamType::Bool,
            optional: true,
            doc: "include stopped containers (default false)",
        }],
        effect: Effect::Read,
        doc: "Containers like docker ps: [{name, id, image, state, status, health, ports: [{private, public, ip, proto}]}]",
        run: containers,
        plan: None,
        shell: super::shell::docker_containers,
    },
    HostFn {
        module: "docker",
        name: "container",
        params: &[NAME],
        effect: Effect::Read,
        doc: "One container inspected: {name, id, image, state, running, restarting, restart_count, started_at, \
              finished_at, health, exit_code, oom_killed, error}",
        run: container,
        plan: None,
        shell: super::shell::docker_container,
    },
    HostFn {
        module: "docker",
        name: "stats",
        params: &[NAME],
        effect: Effect::Read,
        doc: "One stats sample like docker stats --no-stream: {name, cpu_percent, mem_usage, mem_limit (bytes), mem_percent}",
        run: stats,
        plan: None,
        shell: super::shell::docker_stats,
    },
    HostFn {
        module: "docker",
        name: "logs",
        params: &[
            NAME,
            Param {
                name: "tail",
                ty: ParamType::Int,
                optional: true,
                doc: "last N lines (default 100)",
            },
        ],
        effect: Effect::Read,
        doc: "Recent container output like docker logs --tail N: {name, stdout, stderr, truncated}",
        run: logs,
        plan: None,
        shell: super::shell::docker_logs,
    },
    HostFn {
        module: "docker",
        name: "exec",
        params: &[
            NAME,
            Param {
                name: "argv",
                ty: ParamType::Array,
                optional: false,
                doc: "program and arguments inside the container (no shell unless you name one)",
            },
            Param {
                name: "opts",
                ty: ParamType::Map,
                optional: true,
                doc: "#{user: user inside the container, env: #{NAME: value} (only the variables the rule lists), \
                      withheld_env: [KEY] (keys of the rule's secret file the process gets; never the runbook)}",
            },
        ],
        effect: Effect::BySite(classify_exec),
        doc: "Run a command in a site-listed container, as its containers.NAME.exec rule allows: \
              {exit_code, stdout, stderr, truncated, withheld_env}; output capped at 64 KiB",
        run: exec,
        plan: Some(plan_exec),
        shell: super::shell::docker_exec,
    },
    HostFn {
        module: "docker",
        name: "restart",
        params: &[NAME, STOP_TIMEOUT],
        effect: Effect::Mutate,
        doc: "Restart a site-listed container: {name, action, changed, state, health}",
        run: restart,
        plan: Some(plan_lifecycle),
        shell: super::shell::docker_restart,
    },
    HostFn {
        module: "docker",
        name: "start",
        params: &[NAME],
        effect: Effect::Mutate,
        doc: "Start a site-listed container (changed: false if it was running)",
        run: start,
        plan: Some(plan_lifecycle),
        shell: super::shell::docker_start,
    },
    HostFn {
        module: "docker",
        name: "stop",
        params: &[NAME, STOP_TIMEOUT],
        effect: Effect::Mutate,
        doc: "Stop a site-listed container (changed: false if it was stopped)",
        run: stop,
        plan: Some(plan_lifecycle),
        shell: super::shell::docker_stop,
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::testutil;
    use crate::site::Site;

    #[test]
    fn api_version_from_ping_headers() {
        let answer = "HTTP/1.0 200 OK\r\nApi-Version: 1.41\r\nDocker-Experimental: false\r\n\
                      Content-Length: 2\r\n\r\nOK";
        let v = parse_ping(answer).expect("a version");
        assert_eq!((v.major_version, v.minor_version), (1, 41));
        let lower = "HTTP/1.1 200 OK\r\napi-version:1.53\r\n\r\nOK";
        let v = parse_ping(lower).expect("header names are case-insensitive");
        assert_eq!((v.major_version, v.minor_version), (1, 53));
        // Only the head counts, and a malformed value is no version.
        assert!(parse_ping("HTTP/1.0 200 OK\r\n\r\nApi-Version: 1.41").is_none());
        assert!(parse_ping("HTTP/1.0 200 OK\r\nApi-Version: latest\r\n\r\n").is_none());
    }

    #[test]
    fn health_from_ps_status() {
        assert_eq!(health_from_status("Up 3 hours (healthy)"), Some("healthy"));
        assert_eq!(
            health_from_status("Up 5 seconds (health: starting)"),
            Some("starting")
        );
        assert_eq!(
            health_from_status("Up 2 minutes (unhealthy)"),
            Some("unhealthy")
        );
        assert_eq!(health_from_status("Up 2 minutes"), None);
        assert_eq!(health_from_status("Exited (1) 3 minutes ago"), None);
    }

    /// A recorded /containers/json entry (API 1.41 shape: no Health field).
    #[test]
    fn summary_from_recorded_json() {
        let c: bollard::models::ContainerSummary = serde_json::from_value(json!({
            "Id": "8dfafdbc3a40e8f1d2c3b4a5968778695a4b3c2d1e0f",
            "Names": ["/aurora-postgres"],
            "Image": "postgres:16",
            "State": "running",
            "Status": "Up 3 days (healthy)",
            "Ports": [
                {"IP": "127.0.0.1", "PrivatePort": 5432, "PublicPort": 5432, "Type": "tcp"},
                {"IP": "127.0.0.1", "PrivatePort": 5432, "PublicPort": 5432, "Type": "tcp"}
            ]
        }))
        .unwrap();
        assert_eq!(
            summary_json(&c),
            json!({
                "name": "aurora-postgres",
                "id": "8dfafdbc3a40",
                "image": "postgres:16",
                "state": "running",
                "status": "Up 3 days (healthy)",
                "health": "healthy",
                "ports": [{"private": 5432, "public": 5432, "ip": "127.0.0.1", "proto": "tcp"}],
            })
        );
    }

    /// A recorded /containers/{id}/stats?stream=false body (cgroup v2).
    #[test]
    fn stats_like_docker_cli() {
        let s: ContainerStatsResponse = serde_json::from_value(json!({
            "cpu_stats": {"cpu_usage": {"total_usage": 2_500_000_000u64}, "system_cpu_usage": 20_000_000_000u64, "online_cpus": 2},
            "precpu_stats": {"cpu_usage": {"total_usage": 2_400_000_000u64}, "system_cpu_usage": 18_000_000_000u64, "online_cpus": 2},
            "memory_stats": {"usage": 120_000_000u64, "limit": 2_000_000_000u64, "stats": {"inactive_file": 20_000_000u64}}
        }))
        .unwrap();
        let v = stats_summary(&s);
        // 0.1e9 / 2e9 * 2 CPUs = 10%.
        assert_eq!(v["cpu_percent"], 10.0);
        assert_eq!(v["mem_usage"], 100_000_000u64);
        assert_eq!(v["mem_percent"], 5.0);
        // One-shot samples have no precpu: no CPU figure rather than nonsense.
        let empty: ContainerStatsResponse = serde_json::from_value(json!({})).unwrap();
        assert_eq!(stats_summary(&empty)["cpu_percent"], 0.0);
    }

    #[test]
    fn mutations_limited_to_site_containers() {
        let (_rt, ctx) = testutil::ctx(Site::openclaw());
        let err = restart(&ctx, &testutil::args(json!({"name": "random-box"}))).unwrap_err();
        assert!(matches!(err, HostError::Refused(_)), "{err:?}");
        assert!(
            err.to_string()
                .contains("(site file built-in site/openclaw.yaml: containers)"),
            "{err}"
        );
        let err = exec(
            &ctx,
            &testutil::args(json!({"name": "x;y", "argv": ["id"]})),
        )
        .unwrap_err();
        assert!(matches!(err, HostError::InvalidArgument(_)));
    }

    fn expect_unreachable(r: HostResult, address: &str) {
        match r {
            Err(HostError::Unreachable {
                backend,
                address: a,
                ..
            }) => {
                assert_eq!(backend, "docker");
                assert_eq!(a, address);
            }
            other => panic!("expected Unreachable, got {other:?}"),
        }
    }

    /// No socket, then a socket file nobody listens on. (One test: both set DOCKER_HOST.)
    #[test]
    fn unreachable_engine_names_the_address() {
        let addr = "unix:///nonexistent/docker.sock";
        std::env::set_var("DOCKER_HOST", addr);
        let (_rt, ctx) = testutil::ctx(Site::openclaw());
        expect_unreachable(containers(&ctx, &Args::new()), addr);
        expect_unreachable(
            restart(&ctx, &testutil::args(json!({"name": "aurora-postgres"}))),
            addr,
        );
        let msg = container(&ctx, &testutil::args(json!({"name": "aurora-postgres"})))
            .unwrap_err()
            .to_string();
        assert!(
            msg.starts_with("docker not reachable at unix:///nonexistent/docker.sock"),
            "{msg}"
        );

        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("docker.sock");
        drop(std::os::unix::net::UnixListener::bind(&sock).unwrap());
        let addr = format!("unix://{}", sock.display());
        std::env::set_var("DOCKER_HOST", &addr);
        let (_rt, ctx) = testutil::ctx(Site::openclaw());
        expect_unreachable(containers(&ctx, &Args::new()), &addr);
        std::env::remove_var("DOCKER_HOST");
    }

    /// Against a real engine: `RUNBOOK_TEST_DOCKER_HOST=unix:///path cargo test -- --ignored live_engine`
    /// with a running container named aurora-postgres that has a healthcheck and /bin/sh.
    #[test]
    #[ignore = "needs a Docker engine (RUNBOOK_TEST_DOCKER_HOST)"]
    fn live_engine() {
        let Ok(host) = std::env::var("RUNBOOK_TEST_DOCKER_HOST") else {
            return;
        };
        std::env::set_var("DOCKER_HOST", host);
        let (_rt, ctx) = testutil::ctx(Site::openclaw());
        let name = || testutil::args(json!({"name": "aurora-postgres"}));
        let list = containers(&ctx, &Args::new()).unwrap();
        let pg = list
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "aurora-postgres")
            .unwrap();
        assert_eq!(pg["state"], "running");
        assert_eq!(pg["health"], "healthy");
        let c = container(&ctx, &name()).unwrap();
        assert_eq!(c["running"], true);
        assert_eq!(c["health"], "healthy");
        assert!(c["started_at"].is_string());
        let s = stats(&ctx, &name()).unwrap();
        // Sandboxed engines may report no cgroup figures (docker stats shows 0B / 0B there).
        assert!(s["mem_usage"].is_u64() && s["cpu_percent"].is_f64(), "{s}");

        let mut a = name();
        a.insert(
            "argv".into(),
            json!(["/bin/sh", "-c", "echo out; echo err >&2; exit 3"]),
        );
        let r = exec(&ctx, &a).unwrap();
        assert_eq!(r["exit_code"], 3);
        assert_eq!(r["stdout"], "out\n");
        assert_eq!(r["stderr"], "err\n");
        let l = logs(&ctx, &name()).unwrap();
        assert_eq!(l["truncated"], false);

        let r = stop(&ctx, &name()).unwrap();
        assert_eq!(
            (r["changed"].clone(), r["state"].clone()),
            (json!(true), json!("exited"))
        );
        assert_eq!(stop(&ctx, &name()).unwrap()["changed"], false);
        assert_eq!(start(&ctx, &name()).unwrap()["state"], "running");
        let r = restart(
            &ctx,
            &testutil::args(json!({"name": "aurora-postgres", "timeout_secs": 1})),
        )
        .unwrap();
        assert_eq!(r["state"], "running");
        let err =
            container(&ctx, &testutil::args(json!({"name": "no-such-container"}))).unwrap_err();
        assert!(err.to_string().contains("not found"), "{err}");
    }
}
