//! The restore drill's scratch Postgres (Rhai module `drill`), through the Docker Engine API.
//!
//! A scratch is a container made from the exact image id of the set's production container,
//! with no network (`network_mode: none`), no published port, no mount, the site's memory
//! limit and trust authentication on its own socket (a random throwaway password for images
//! that insist on one; nothing can connect over a network anyway). Every function here takes
//! the scratch's name as `target` and refuses (exit 3) any target that is a container of the
//! site, the set's production container, or any existing container not made as a scratch
//! (label `runbook.drill`), or one that shares a mount with production, so no drill can
//! restore into, or remove, what it protects.
//!
//! Scratches made in a run are remembered in the host context; the engine removes, through
//! the door, any the runbook did not remove itself (a failed step, Ctrl-C).
//!
//! Each function times itself on the monotonic clock (`ms`), so the runbook can add up the
//! drill's phases without a clock of its own.

use std::path::Path;
use std::time::{Duration, Instant};

use bollard::models::{ContainerCreateBody, HealthConfig, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptions, InspectContainerOptions, RemoveContainerOptions, StartContainerOptions,
};
use futures_util::StreamExt;
use serde_json::{json, Value};

use super::args;
use super::backup::{classify_read, dump_path, set};
use super::backup_dump::manifest_of;
use super::{Args, Effect, HostCtx, HostError, HostFn, HostResult, Param, ParamType};

/// The restore command run in the scratch, before the database name; the shell equivalent
/// (`host::shell`) shows the same words, so what a learner is told is what runs.
pub(crate) const RESTORE_ARGV: [&str; 6] = [
    "pg_restore",
    "--exit-on-error",
    "--no-owner",
    "-U",
    "postgres",
    "-d",
];
use crate::site::backups::BackupSet;

/// The label every scratch carries; only labelled containers may be removed.
pub const LABEL: &str = "runbook.drill";
const HEALTH_TIMEOUT: Duration = Duration::from_secs(180);

fn docker_err(e: bollard::errors::Error, what: &str) -> HostError {
    HostError::Failed(format!("{what}: {e}"))
}

/// The scratch name of the call, refused if it could be production (see the module comment).
/// `must_exist`: the call works on a scratch made before (restore, compare, remove).
pub(crate) fn target<'a>(
    ctx: &HostCtx,
    a: &'a Args,
    set: &BackupSet,
    must_exist: bool,
) -> Result<&'a str, HostError> {
    let name = args::string(a, "target")?;
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if !valid {
        return Err(HostError::InvalidArgument(format!(
            "`{name}` is not a container name ([A-Za-z0-9][A-Za-z0-9_.-]*)"
        )));
    }
    let production = &set.postgres.container;
    if name == production || ctx.site.containers.contains_key(name) {
        return Err(HostError::Refused(format!(
            "the drill's target {name} is {} (site file {}); a drill restores only into a scratch container it makes itself",
            if name == production { "the production database container".to_string() } else { "a container of the site".to_string() },
            ctx.site.origin
        )));
    }
    ctx.block_on(async {
        let d = ctx.docker().await?;
        let prod = d
            .inspect_container(production, None::<InspectContainerOptions>)
            .await
            .map_err(|e| docker_err(e, &format!("inspecting {production}")))?;
        let prod_mounts: Vec<String> = prod
            .mounts
            .iter()
            .flatten()
            .filter_map(|m| m.name.clone().or(m.source.clone()))
            .collect();
        let prod_id = prod.id.unwrap_or_default();
        match d.inspect_container(name, None::<InspectContainerOptions>).await {
            Ok(c) => {
                if c.id.as_deref() == Some(prod_id.as_str()) {
                    return Err(HostError::Refused(format!(
                        "{name} is {production} itself: a drill never touches production"
                    )));
                }
                let labelled = c
                    .config
                    .as_ref()
                    .and_then(|c| c.labels.as_ref())
                    .is_some_and(|l| l.contains_key(LABEL));
                if !labelled {
                    return Err(HostError::Refused(format!(
                        "{name} exists and is not a drill scratch (no label {LABEL}); choose another target"
                    )));
                }
                let shared = c
                    .mounts
                    .iter()
                    .flatten()
                    .filter_map(|m| m.name.clone().or(m.source.clone()))
                    .find(|m| prod_mounts.contains(m));
                if let Some(m) = shared {
                    return Err(HostError::Refused(format!(
                        "{name} mounts {m}, a volume of {production}: a drill never restores into production's data"
                    )));
                }
                Ok(())
            }
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) if !must_exist => Ok(()),
            Err(e) => Err(docker_err(e, &format!("inspecting {name}"))),
        }
    })?;
    Ok(name)
}

fn check(ctx: &HostCtx, a: &Args) -> HostResult {
    let (_, set) = set(ctx, a)?;
    let name = target(ctx, a, set, false)?;
    let drill = drill_config(ctx)?;
    Ok(
        json!({"target": name, "production": set.postgres.container, "memory_mib": drill.scratch_memory_mib}),
    )
}

pub(crate) fn drill_config(ctx: &HostCtx) -> Result<&crate::site::backups::Drill, HostError> {
    ctx.site.backups.drill.as_ref().ok_or_else(|| {
        HostError::InvalidArgument(format!(
            "the site has no backups.drill (site file {}): add log, max_age, scratch_memory_mib, scratch_disk_mib",
            ctx.site.origin
        ))
    })
}

fn start(ctx: &HostCtx, a: &Args) -> HostResult {
    let (set_name, set) = set(ctx, a)?;
    let name = target(ctx, a, set, false)?.to_string();
    let memory = i64::from(drill_config(ctx)?.scratch_memory_mib) * 1024 * 1024;
    let started = Instant::now();
    let production = set.postgres.container.clone();
    let image = ctx.block_on(async {
        let d = ctx.docker().await?;
        let prod = d
            .inspect_container(&production, None::<InspectContainerOptions>)
            .await
            .map_err(|e| docker_err(e, &format!("inspecting {production}")))?;
        let image = prod.image.ok_or_else(|| {
            HostError::Failed(format!("{production} has no image id"))
        })?;
        let password = format!("{:x}", rand_u128());
        let body = ContainerCreateBody {
            image: Some(image.clone()),
            env: Some(vec![
                "POSTGRES_HOST_AUTH_METHOD=trust".into(),
                format!("POSTGRES_PASSWORD={password}"),
                "POSTGRES_USER=postgres".into(),
                "POSTGRES_DB=postgres".into(),
            ]),
            labels: Some([(LABEL.to_string(), production.clone())].into()),
            healthcheck: Some(HealthConfig {
                // PID 1 is the final postgres (not an init-time server) and it answers.
                test: Some(vec![
                    "CMD-SHELL".into(),
                    "test \"$(cat /proc/1/comm)\" = postgres && pg_isready -q -U postgres -d postgres".into(),
                ]),
                // Docker runs the first check one interval after the start and reports health
                // only then: at 1 s the drill's wait was rounded up to whole seconds (about
                // 0.8 s more than polling by hand). The engines this runs on predate
                // `start_interval`, so the interval itself is short; retries keep 3 minutes.
                interval: Some(200_000_000),
                timeout: Some(3_000_000_000),
                retries: Some(900),
                ..Default::default()
            }),
            host_config: Some(HostConfig {
                network_mode: Some("none".into()),
                memory: Some(memory),
                memory_swap: Some(memory),
                publish_all_ports: Some(false),
                ..Default::default()
            }),
            ..Default::default()
        };
        let opts = CreateContainerOptions {
            name: Some(name.clone()),
            ..Default::default()
        };
        d.create_container(Some(opts), body)
            .await
            .map_err(|e| docker_err(e, &format!("creating {name}")))?;
        ctx.remember_scratch(set_name, &name);
        d.start_container(&name, None::<StartContainerOptions>)
            .await
            .map_err(|e| docker_err(e, &format!("starting {name}")))?;
        let deadline = Instant::now() + HEALTH_TIMEOUT;
        loop {
            let c = d
                .inspect_container(&name, None::<InspectContainerOptions>)
                .await
                .map_err(|e| docker_err(e, &format!("inspecting {name}")))?;
            let st = c.state.unwrap_or_default();
            let health = st
                .health
                .and_then(|h| h.status)
                .map(|s| s.to_string())
                .unwrap_or_default();
            if health == "healthy" {
                break;
            }
            if st.running != Some(true) {
                return Err(HostError::Failed(format!(
                    "{name} stopped while starting (exit {:?}); see docker logs {name}",
                    st.exit_code
                )));
            }
            if Instant::now() > deadline {
                return Err(HostError::Timeout {
                    what: format!("{name} becoming healthy"),
                    seconds: HEALTH_TIMEOUT.as_secs(),
                });
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        Ok::<_, HostError>(image)
    })?;
    Ok(json!({
        "target": name,
        "image": image,
        "network_mode": "none",
        "memory_mib": memory / 1024 / 1024,
        "ms": started.elapsed().as_millis() as u64,
    }))
}

fn rand_u128() -> u128 {
    let mut b = [0u8; 16];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        use std::io::Read;
        let _ = f.read_exact(&mut b);
    }
    u128::from_le_bytes(b)
}

/// Run `argv` in the scratch, stdin from `input` (a file) if given; exit code and stderr.
async fn run_in(
    ctx: &HostCtx,
    name: &str,
    argv: &[&str],
    input: Option<&Path>,
) -> Result<(Option<i64>, String, String), HostError> {
    use bollard::container::LogOutput as L;
    use bollard::exec::{StartExecOptions, StartExecResults};
    use bollard::models::ExecConfig;
    use tokio::io::AsyncWriteExt;
    let d = ctx.docker().await?;
    let what = format!("exec {} in {name}", argv[0]);
    let config = ExecConfig {
        attach_stdin: Some(input.is_some()),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        cmd: Some(argv.iter().map(|s| s.to_string()).collect()),
        ..Default::default()
    };
    let id = d
        .create_exec(name, config)
        .await
        .map_err(|e| docker_err(e, &what))?
        .id;
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    let started = d
        .start_exec(&id, None::<StartExecOptions>)
        .await
        .map_err(|e| docker_err(e, &what))?;
    if let StartExecResults::Attached {
        mut output,
        input: mut stdin,
    } = started
    {
        // Shown until the command ends: after the last byte is fed, the restore still builds
        // its indexes.
        let bar = input.map(|path| {
            let total = std::fs::metadata(path).map(|m| m.len()).ok();
            let file = path.file_name().unwrap_or_default().to_string_lossy();
            ctx.progress_bytes(&format!("{} {file}", argv[0]), total, false)
        });
        let feeder = async {
            if let Some(path) = input {
                use tokio::io::AsyncReadExt;
                let mut f = tokio::fs::File::open(path).await.map_err(|e| {
                    HostError::Failed(format!("cannot read {}: {e}", path.display()))
                })?;
                let mut buf = vec![0u8; 256 * 1024];
                loop {
                    let n = f.read(&mut buf).await.map_err(|e| {
                        HostError::Failed(format!("reading {}: {e}", path.display()))
                    })?;
                    if n == 0 {
                        break;
                    }
                    stdin
                        .write_all(&buf[..n])
                        .await
                        .map_err(|e| HostError::Failed(format!("{what}: feeding stdin: {e}")))?;
                    if let Some(b) = &bar {
                        b.inc(n as u64);
                    }
                }
            }
            let _ = stdin.shutdown().await;
            Ok::<_, HostError>(())
        };
        let reader = async {
            while let Some(chunk) = output.next().await {
                match chunk.map_err(|e| docker_err(e, &what))? {
                    L::StdOut { message } | L::Console { message } => {
                        stdout.extend_from_slice(&message)
                    }
                    L::StdErr { message } => {
                        if stderr.len() < 64 * 1024 {
                            stderr.extend_from_slice(&message)
                        }
                    }
                    L::StdIn { .. } => {}
                }
            }
            Ok::<_, HostError>(())
        };
        let (fed, read) = tokio::join!(feeder, reader);
        drop(bar);
        fed?;
        read?;
    }
    let info = d
        .inspect_exec(&id)
        .await
        .map_err(|e| docker_err(e, &what))?;
    Ok((
        info.exit_code,
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    ))
}

fn restore(ctx: &HostCtx, a: &Args) -> HostResult {
    let (_, set) = set(ctx, a)?;
    let name = target(ctx, a, set, true)?;
    let dump = dump_path(set, args::string(a, "dump")?)?;
    let db = &set.postgres.database;
    let started = Instant::now();
    let (code, _, err) =
        ctx.block_on(run_in(ctx, name, &["createdb", "-U", "postgres", db], None))?;
    if code != Some(0) {
        return Err(HostError::Failed(format!(
            "createdb {db} in {name} exited {code:?}: {}",
            err.trim()
        )));
    }
    let mut argv = RESTORE_ARGV.to_vec();
    argv.push(db);
    let (code, _, stderr) = ctx.block_on(run_in(ctx, name, &argv, Some(&dump)))?;
    let read = classify_read(code.map(|c| c as i32), &stderr);
    Ok(json!({
        "target": name,
        "dump": dump,
        "ok": read.ok,
        "errors": read.errors,
        "warnings": read.warnings,
        "ms": started.elapsed().as_millis() as u64,
    }))
}

/// Differences between the manifest written at dump time and what the scratch holds.
pub(crate) fn mismatches(expected: &Value, got: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let empty = serde_json::Map::new();
    let want = expected["tables"].as_object().unwrap_or(&empty);
    let have = got["tables"].as_object().unwrap_or(&empty);
    for (t, n) in want {
        match have.get(t) {
            None => out.push(format!("table {t} is missing (manifest: {n} rows)")),
            Some(m) if m != n => out.push(format!("table {t} has {m} rows, the manifest says {n}")),
            _ => {}
        }
    }
    for t in have.keys().filter(|t| !want.contains_key(*t)) {
        out.push(format!("table {t} is not in the manifest"));
    }
    let list = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect()
    };
    let (wm, hm) = (
        list(&expected["prisma_migrations"]),
        list(&got["prisma_migrations"]),
    );
    for m in wm.iter().filter(|m| !hm.contains(m)) {
        out.push(format!("migration {m} is missing"));
    }
    for m in hm.iter().filter(|m| !wm.contains(m)) {
        out.push(format!("migration {m} is not in the manifest"));
    }
    if expected["schema_sha256"] != got["schema_sha256"] {
        out.push(format!(
            "schema differs: manifest {}, restored {}",
            expected["schema_sha256"].as_str().unwrap_or("?"),
            got["schema_sha256"].as_str().unwrap_or("?")
        ));
    }
    out
}

fn compare(ctx: &HostCtx, a: &Args) -> HostResult {
    let (_, set) = set(ctx, a)?;
    let name = target(ctx, a, set, true)?;
    let dump_name = args::string(a, "dump")?;
    let dump = dump_path(set, dump_name)?;
    let started = Instant::now();
    let manifest_path = format!("{}.manifest.json", dump.display());
    let expected: Option<Value> =
        match std::fs::read_to_string(&manifest_path) {
            Ok(text) => Some(serde_json::from_str(&text).map_err(|e| {
                HostError::Failed(format!("{manifest_path} is not a manifest: {e}"))
            })?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                return Err(HostError::Failed(format!(
                    "cannot read {manifest_path}: {e}"
                )))
            }
        };
    let mut scratch = set.clone();
    scratch.postgres.container = name.to_string();
    scratch.postgres.user = "postgres".into();
    let got = manifest_of(ctx, &scratch, dump_name, "")?;
    // Without a manifest, the dump's own table of contents is what it claims to hold.
    let (found, toc) = match &expected {
        Some(m) => (mismatches(m, &got), Value::Null),
        None => {
            let toc = super::drill_toc::read(ctx, &dump)?;
            (
                super::drill_toc::mismatches(&toc, &got),
                json!({"tables": toc.tables.len(), "data_entries": toc.data.len()}),
            )
        }
    };
    Ok(json!({
        "target": name,
        "manifest": expected.is_some(),
        "toc": toc,
        "tables": got["tables"].as_object().map_or(0, |t| t.len()),
        "rows": got["tables"].as_object().map_or(0, |t| t.values().filter_map(Value::as_i64).sum::<i64>()),
        "restored": got,
        "mismatches": found,
        "ms": started.elapsed().as_millis() as u64,
    }))
}

/// Remove a scratch (force, with its anonymous volumes) and check it is gone.
pub(crate) fn remove_scratch(ctx: &HostCtx, name: &str) -> HostResult {
    let started = Instant::now();
    ctx.block_on(async {
        let d = ctx.docker().await?;
        let opts = RemoveContainerOptions {
            v: true,
            force: true,
            link: false,
        };
        match d.remove_container(name, Some(opts)).await {
            Ok(()) => {}
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => {}
            Err(e) => return Err(docker_err(e, &format!("removing {name}"))),
        }
        match d
            .inspect_container(name, None::<InspectContainerOptions>)
            .await
        {
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(()),
            Ok(_) => Err(HostError::Failed(format!(
                "{name} is still there after removal; docker rm -fv {name}"
            ))),
            Err(e) => Err(docker_err(e, &format!("checking {name} is gone"))),
        }
    })?;
    ctx.forget_scratch(name);
    Ok(json!({"target": name, "gone": true, "ms": started.elapsed().as_millis() as u64}))
}

fn remove(ctx: &HostCtx, a: &Args) -> HostResult {
    let (_, set) = set(ctx, a)?;
    let name = target(ctx, a, set, false)?;
    remove_scratch(ctx, name)
}

/// Append one row to the site's drill log (JSON lines), fsynced.
fn log(ctx: &HostCtx, a: &Args) -> HostResult {
    use std::io::Write;
    let drill = drill_config(ctx)?;
    let row = args::opt_map(a, "row")?.cloned().unwrap_or_default();
    let line = serde_json::to_string(&Value::Object(row)).expect("JSON") + "\n";
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&drill.log)
        .map_err(|e| HostError::Failed(format!("cannot open {}: {e}", drill.log)))?;
    f.write_all(line.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| HostError::Failed(format!("cannot append to {}: {e}", drill.log)))?;
    Ok(json!({"log": drill.log, "bytes": line.len()}))
}

/// The drill log's rows, oldest first; rows that do not parse are skipped and counted.
fn history(ctx: &HostCtx, _a: &Args) -> HostResult {
    let drill = drill_config(ctx)?;
    let text = match std::fs::read_to_string(&drill.log) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(HostError::Failed(format!("cannot read {}: {e}", drill.log))),
    };
    let rows: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let unreadable = text.lines().filter(|l| !l.trim().is_empty()).count() - rows.len();
    let last_pass = rows.iter().rev().find(|r| r["result"] == "pass").cloned();
    let age = last_pass
        .as_ref()
        .and_then(|r| r["epoch"].as_i64())
        .map(|t| chrono::Utc::now().timestamp() - t);
    Ok(json!({
        "log": drill.log,
        "rows": rows.len(),
        "unreadable": unreadable,
        "last_pass": last_pass,
        "last_pass_age_secs": age,
        "max_age_secs": drill.max_age.0,
    }))
}

/// What a mutating drill call would do: its target (checked as the real call checks it) and
/// arguments.
fn plan(ctx: &HostCtx, a: &Args) -> HostResult {
    let (_, set) = set(ctx, a)?;
    let name = match a.get("target") {
        Some(_) => Some(target(ctx, a, set, false)?),
        None => None,
    };
    Ok(json!({"target": name, "production": set.postgres.container, "args": a}))
}

const SET: Param = Param {
    name: "set",
    ty: ParamType::String,
    optional: false,
    doc: "a backup set of the site (backups.sets)",
};
const TARGET: Param = Param {
    name: "target",
    ty: ParamType::String,
    optional: false,
    doc: "the scratch container's name; refused if it is production or not a scratch",
};
const DUMP: Param = Param {
    name: "dump",
    ty: ParamType::String,
    optional: false,
    doc: "the dump's file name in the set's directory",
};

pub static FNS: &[HostFn] = &[
    HostFn {
        module: "drill",
        name: "check",
        params: &[SET, TARGET],
        effect: Effect::Read,
        doc: "Refuse (exit 3) a drill target that is production, a site container, not a scratch, or shares \
              production's volume: {target, production, memory_mib}",
        run: check,
        plan: None,
        shell: super::shell::drill_check,
    },
    HostFn {
        module: "drill",
        name: "space",
        params: &[SET, DUMP],
        effect: Effect::Read,
        doc: "Refuse (exit 3) a drill whose scratch would not fit: free disk on the engine's storage (df / in the \
              production container) below backups.drill.scratch_disk_mib or the database's size at dump time: \
              {free_mib, limit_mib, database_mib, database_size_from, need_mib}",
        run: super::drill_space::space,
        plan: None,
        shell: super::shell::drill_space,
    },
    HostFn {
        module: "drill",
        name: "start",
        params: &[SET, TARGET],
        effect: Effect::Mutate,
        doc: "Create and start the scratch from production's exact image id: no network, no port, no mount, \
              the site's memory limit, trust auth; wait until healthy: {target, image, network_mode, memory_mib, ms}",
        run: start,
        plan: Some(plan),
        shell: super::shell::drill_start,
    },
    HostFn {
        module: "drill",
        name: "restore",
        params: &[SET, TARGET, DUMP],
        effect: Effect::Mutate,
        doc: "createdb, then pg_restore --exit-on-error --no-owner in the scratch with the dump on stdin; \
              classified from stderr and the exit code: {target, dump, ok, errors, warnings, ms}",
        run: restore,
        plan: Some(plan),
        shell: super::shell::drill_restore,
    },
    HostFn {
        module: "drill",
        name: "compare",
        params: &[SET, TARGET, DUMP],
        effect: Effect::Read,
        doc: "Read the restored database (tables, exact counts, migrations, schema hash) and compare it with the \
              dump's manifest, or for a dump without one with its table of contents (pg_restore --list: each table \
              and its data entry): {target, manifest, toc, tables, rows, restored, mismatches, ms}",
        run: compare,
        plan: None,
        shell: super::shell::drill_compare,
    },
    HostFn {
        module: "drill",
        name: "remove",
        params: &[SET, TARGET],
        effect: Effect::Mutate,
        doc: "Remove the scratch (forced, with its anonymous volumes) and check it is gone: {target, gone, ms}",
        run: remove,
        plan: Some(plan),
        shell: super::shell::drill_remove,
    },
    HostFn {
        module: "drill",
        name: "log",
        params: &[
            SET,
            Param {
                name: "row",
                ty: ParamType::Map,
                optional: false,
                doc: "the drill's row (date, operator, dump, sha256, rpo, phases, result, mismatches, run)",
            },
        ],
        effect: Effect::Mutate,
        doc: "Append one row to the site's drill log (backups.drill.log, JSON lines), fsynced: {log, bytes}",
        run: log,
        plan: Some(plan),
        shell: super::shell::drill_log,
    },
    HostFn {
        module: "drill",
        name: "history",
        params: &[],
        effect: Effect::Read,
        doc: "The drill log: {log, rows, unreadable, last_pass, last_pass_age_secs, max_age_secs}",
        run: history,
        plan: None,
        shell: super::shell::drill_history,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mismatches_name_each_difference() {
        let m = json!({"tables": {"public.a": 3, "public.b": 2}, "prisma_migrations": ["1", "2"], "schema_sha256": "x"});
        assert!(mismatches(&m, &m).is_empty());
        let got = json!({"tables": {"public.a": 2, "public.c": 1}, "prisma_migrations": ["1"], "schema_sha256": "y"});
        assert_eq!(
            mismatches(&m, &got),
            [
                "table public.a has 2 rows, the manifest says 3",
                "table public.b is missing (manifest: 2 rows)",
                "table public.c is not in the manifest",
                "migration 2 is missing",
                "schema differs: manifest x, restored y",
            ]
        );
    }
}
