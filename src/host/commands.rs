//! Allowlisted programs (Rhai module `cmd`). Anything the typed backends do not cover, such as
//! `sshd -T`, `caddy validate` or `fail2ban-client status sshd`.
//!
//! A program runs only if the site's `commands.allow` lists it (by real path, so a symlink cannot
//! stand in for it) and its arguments satisfy the entry: `args_prefix` pins the leading
//! arguments, `script_dir` pins an interpreter to scripts in one directory (so `bash -c` is
//! impossible). It runs from an argv, never through a shell, with the environment cleared to
//! PATH, LANG and the caller's variables, in its own process group so a timeout kills everything
//! it started. stdout and stderr are captured up to 64 KiB each.
//!
//! Running as another user uses setgroups/setgid/setuid in the child before exec, with the
//! group list computed beforehand from /etc/group (no NSS lookups after fork, where they are not
//! safe). This needs no extra program (runuser/sudo) and gives the user's full group set, as
//! `sudo -iu USER` does; HOME, USER and LOGNAME are set, and the default directory is the home.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::AsyncReadExt;

use super::args;
use super::users;
use super::{Args, Effect, HostCtx, HostError, HostFn, HostResult, Param, ParamType};
use crate::site::AllowedCommand;

/// The PATH children get, and where bare program names are looked up.
pub const SECURE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const CAP: usize = 64 * 1024;
const DEFAULT_TIMEOUT_SECS: i64 = 60;
/// After the program exits, how long to keep reading output that its leftover children hold.
const DRAIN_GRACE: Duration = Duration::from_millis(500);
const OPTS: &[&str] = &["user", "env", "cwd", "timeout_secs", "readonly"];

/// Where a program name leads: as given if it has a slash, else the first executable on
/// SECURE_PATH (the caller's PATH is not trusted).
fn locate(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        return Some(PathBuf::from(program));
    }
    SECURE_PATH
        .split(':')
        .map(|d| Path::new(d).join(program))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// Does the entry accept these arguments?
fn args_fit(entry: &AllowedCommand, rest: &[String]) -> bool {
    if !rest.starts_with(&entry.args_prefix) {
        return false;
    }
    match &entry.script_dir {
        None => true,
        Some(dir) => {
            // The script must be the first argument (no interpreter options before it) and
            // really live in the directory.
            let Some(script) = rest.first() else {
                return false;
            };
            match (
                Path::new(script).canonicalize(),
                Path::new(dir).canonicalize(),
            ) {
                (Ok(s), Ok(d)) => s.starts_with(&d) && s.is_file() && !script.starts_with('-'),
                _ => false,
            }
        }
    }
}

fn describe(entry: &AllowedCommand) -> String {
    let mut s = entry.program.clone();
    for a in &entry.args_prefix {
        s.push(' ');
        s.push_str(a);
    }
    if let Some(d) = &entry.script_dir {
        s.push_str(&format!(" {d}/SCRIPT"));
    }
    s + " ..."
}

/// The allowlist decision: the program to exec and the entry that allows it.
pub fn authorize<'s>(
    allow: &'s [AllowedCommand],
    origin: &str,
    argv: &[String],
) -> Result<(PathBuf, &'s AllowedCommand), HostError> {
    let first = argv
        .first()
        .filter(|p| !p.is_empty())
        .ok_or_else(|| HostError::InvalidArgument("argv must name a program".into()))?;
    if argv.iter().any(|a| a.contains('\0')) {
        return Err(HostError::InvalidArgument(
            "argv must not contain NUL bytes".into(),
        ));
    }
    let refused = |detail: String| {
        HostError::Refused(format!("{detail} (site file {origin}: commands.allow)"))
    };
    let Some(path) = locate(first).filter(|p| p.is_absolute()) else {
        return Err(refused(format!(
            "program {first} is not an absolute path and is not on {SECURE_PATH}, so it cannot be on the command allowlist"
        )));
    };
    let entries: Vec<&AllowedCommand> = allow
        .iter()
        .filter(|e| same_file(&path, Path::new(&e.program)))
        .collect();
    if entries.is_empty() {
        return Err(refused(format!(
            "program {} is not on the command allowlist",
            path.display()
        )));
    }
    match entries.iter().find(|e| args_fit(e, &argv[1..])) {
        Some(e) => Ok((path, e)),
        None => Err(refused(format!(
            "{} is allowlisted only as: {}",
            path.display(),
            entries
                .iter()
                .map(|e| describe(e))
                .collect::<Vec<_>>()
                .join("; ")
        ))),
    }
}

/// Who to run as: uid, gid, supplementary groups, home and name.
struct RunAs {
    name: String,
    uid: u32,
    gid: u32,
    groups: Vec<libc::gid_t>,
    home: String,
}

fn run_as(name: &str) -> Result<RunAs, HostError> {
    let passwd = users::passwd()?;
    let groups = users::groups()?;
    let u = passwd.iter().find(|u| u.name == name).ok_or_else(|| {
        HostError::InvalidArgument(format!("no account named {name} in /etc/passwd"))
    })?;
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 && unsafe { libc::geteuid() } != u.uid {
        return Err(HostError::Failed(format!(
            "running a command as {name} needs root; run runbook with sudo"
        )));
    }
    Ok(RunAs {
        name: u.name.clone(),
        uid: u.uid,
        gid: u.gid,
        groups: users::groups_of(u, &groups).iter().map(|g| g.gid).collect(),
        home: u.home.clone(),
    })
}

struct Plan {
    program: PathBuf,
    argv: Vec<String>,
    why: Option<String>,
    user: Option<RunAs>,
    env: Vec<(String, String)>,
    cwd: String,
    timeout: Duration,
}

fn prepare(ctx: &HostCtx, a: &Args) -> Result<Plan, HostError> {
    let argv = args::strings(a, "argv")?;
    let (program, entry) = authorize(&ctx.site.commands.allow, &ctx.site.origin, &argv)?;
    let why = entry.why.clone();
    let empty = serde_json::Map::new();
    let opts = args::opt_map(a, "opts")?.unwrap_or(&empty);
    if let Some(k) = opts.keys().find(|k| !OPTS.contains(&k.as_str())) {
        return Err(HostError::InvalidArgument(format!(
            "unknown option `{k}` (known: {})",
            OPTS.join(", ")
        )));
    }
    let user = args::opt_string(opts, "user")?.map(run_as).transpose()?;
    let env = args::string_map(opts, "env")?;
    for (k, _) in &env {
        let name_ok = !k.is_empty()
            && !k.starts_with(|c: char| c.is_ascii_digit())
            && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !name_ok || k == "PATH" || k.starts_with("LD_") {
            return Err(HostError::InvalidArgument(format!(
                "environment variable `{k}` cannot be set (PATH and LD_* are fixed)"
            )));
        }
    }
    let cwd = match args::opt_string(opts, "cwd")? {
        Some(d) if !Path::new(d).is_absolute() => {
            return Err(HostError::InvalidArgument(format!(
                "cwd `{d}` must be absolute"
            )))
        }
        Some(d) => d.to_string(),
        None => user.as_ref().map_or("/".into(), |u| u.home.clone()),
    };
    let secs = args::int_in(opts, "timeout_secs", DEFAULT_TIMEOUT_SECS, 1, 6 * 3600)?;
    Ok(Plan {
        program,
        argv,
        why,
        user,
        env,
        cwd,
        timeout: Duration::from_secs(secs as u64),
    })
}

/// Output captured up to CAP bytes; the rest is read and dropped so the child never blocks.
#[derive(Default)]
struct Capture {
    bytes: Vec<u8>,
    truncated: bool,
}

async fn capture(mut r: impl AsyncReadExt + Unpin, into: Arc<Mutex<Capture>>) {
    let mut buf = [0u8; 8192];
    while let Ok(n) = r.read(&mut buf).await {
        if n == 0 {
            break;
        }
        let mut c = into.lock().expect("capture lock");
        let room = CAP.saturating_sub(c.bytes.len());
        c.bytes.extend_from_slice(&buf[..n.min(room)]);
        c.truncated |= n > room;
    }
}

fn take(c: &Arc<Mutex<Capture>>) -> (String, bool) {
    let c = c.lock().expect("capture lock");
    (String::from_utf8_lossy(&c.bytes).into_owned(), c.truncated)
}

async fn execute(p: &Plan) -> HostResult {
    let mut cmd = tokio::process::Command::new(&p.program);
    cmd.arg0(&p.argv[0])
        .args(&p.argv[1..])
        .env_clear()
        .env("PATH", SECURE_PATH)
        .env(
            "LANG",
            std::env::var("LANG").unwrap_or_else(|_| "C.UTF-8".into()),
        )
        .current_dir(&p.cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(u) = &p.user {
        cmd.env("HOME", &u.home)
            .env("USER", &u.name)
            .env("LOGNAME", &u.name);
        let (uid, gid, groups) = (u.uid, u.gid, u.groups.clone());
        // SAFETY: the closure only makes async-signal-safe system calls on data prepared
        // before fork; it allocates nothing.
        unsafe {
            cmd.pre_exec(move || {
                if libc::setgroups(groups.len() as _, groups.as_ptr()) != 0
                    || libc::setgid(gid) != 0
                    || libc::setuid(uid) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    for (k, v) in &p.env {
        cmd.env(k, v);
    }
    let shown = p.program.display().to_string();
    let start = Instant::now();
    let mut child = cmd.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => HostError::Failed(format!(
            "{shown} is allowlisted but not installed on this machine"
        )),
        _ => HostError::Failed(format!("cannot start {shown}: {e}")),
    })?;
    let pgid = child.id().map(|id| id as libc::pid_t);
    let (out, err) = (
        Arc::<Mutex<Capture>>::default(),
        Arc::<Mutex<Capture>>::default(),
    );
    let readers = tokio::spawn({
        let (o, e) = (out.clone(), err.clone());
        let (so, se) = (
            child.stdout.take().expect("piped"),
            child.stderr.take().expect("piped"),
        );
        async move {
            tokio::join!(capture(so, o), capture(se, e));
        }
    });
    let status = match tokio::time::timeout(p.timeout, child.wait()).await {
        Ok(s) => s.map_err(|e| HostError::Failed(format!("waiting for {shown}: {e}")))?,
        Err(_) => {
            if let Some(g) = pgid {
                // SAFETY: kill has no memory preconditions; a negative pid names the group.
                unsafe { libc::kill(-g, libc::SIGKILL) };
            }
            let _ = child.wait().await;
            readers.abort();
            return Err(HostError::Timeout {
                what: format!("{shown} (its process group was killed)"),
                seconds: p.timeout.as_secs(),
            });
        }
    };
    // Children it left behind may hold the pipes open; take what arrives within the grace.
    let _ = tokio::time::timeout(DRAIN_GRACE, readers).await;
    let (stdout, t1) = take(&out);
    let (stderr, t2) = take(&err);
    use std::os::unix::process::ExitStatusExt;
    Ok(json!({
        "program": shown,
        "exit_code": status.code(),
        "signal": status.signal(),
        "stdout": stdout,
        "stderr": stderr,
        "duration_ms": start.elapsed().as_millis() as u64,
        "truncated": t1 || t2,
    }))
}

fn run(ctx: &HostCtx, a: &Args) -> HostResult {
    let p = prepare(ctx, a)?;
    ctx.block_on(execute(&p))
}

/// What would run; environment values are left out (only names).
fn plan_run(ctx: &HostCtx, a: &Args) -> HostResult {
    let p = prepare(ctx, a)?;
    Ok(json!({
        "program": p.program,
        "argv": p.argv,
        "allowed_because": p.why,
        "user": p.user.as_ref().map(|u| u.name.clone()),
        "cwd": p.cwd,
        "env_names": p.env.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(),
        "timeout_secs": p.timeout.as_secs(),
    }))
}

pub static FNS: &[HostFn] = &[HostFn {
    module: "cmd",
    name: "run",
    params: &[
        Param {
            name: "argv",
            ty: ParamType::Array,
            optional: false,
            doc: "program and arguments; the program must be on the site's commands.allow",
        },
        Param {
            name: "opts",
            ty: ParamType::Map,
            optional: true,
            doc: "#{user, env: #{NAME: value}, cwd, timeout_secs (default 60), readonly: true for a read-only call}",
        },
    ],
    effect: Effect::MutateUnless("readonly"),
    doc: "Run an allowlisted program (no shell): {program, exit_code, signal, stdout, stderr, duration_ms, truncated}; \
          output capped at 64 KiB per stream",
    run,
    plan: Some(plan_run),
}];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::testutil;
    use serde_json::Value;

    fn ctx_with(allow: &str) -> (tokio::runtime::Runtime, HostCtx) {
        testutil::ctx(testutil::site(&format!("commands:\n  allow:\n{allow}")))
    }

    fn call(ctx: &HostCtx, v: Value) -> HostResult {
        run(ctx, &testutil::args(v))
    }

    const BASIC: &str = "    - {program: /usr/bin/echo}\n    - {program: /usr/bin/env}\n    - {program: /usr/bin/head}\n    - {program: /usr/bin/id}\n";

    #[test]
    fn refuses_programs_off_the_allowlist() {
        let (_rt, ctx) = ctx_with(BASIC);
        let err = call(&ctx, json!({"argv": ["/usr/bin/rm", "-rf", "/tmp/x"]})).unwrap_err();
        assert!(matches!(err, HostError::Refused(_)), "{err:?}");
        let msg = err.to_string();
        assert!(
            msg.contains("program /usr/bin/rm is not on the command allowlist"),
            "{msg}"
        );
        assert!(msg.contains("test-site.yaml: commands.allow"), "{msg}");
        let err = call(&ctx, json!({"argv": ["./echo"]})).unwrap_err();
        assert!(matches!(err, HostError::Refused(_)), "{err:?}");
        assert!(matches!(
            call(&ctx, json!({"argv": []})),
            Err(HostError::InvalidArgument(_))
        ));
    }

    #[test]
    fn runs_by_bare_name_with_a_clean_environment() {
        let (_rt, ctx) = ctx_with(BASIC);
        let r = call(&ctx, json!({"argv": ["echo", "hello", "$HOME;", "`id`"]})).unwrap();
        assert_eq!(r["exit_code"], 0);
        // No shell: the metacharacters arrive verbatim.
        assert_eq!(r["stdout"], "hello $HOME; `id`\n");
        let r = call(
            &ctx,
            json!({"argv": ["/usr/bin/env"], "opts": {"env": {"FOO": "bar"}}}),
        )
        .unwrap();
        let mut vars: Vec<&str> = r["stdout"]
            .as_str()
            .unwrap()
            .lines()
            .map(|l| l.split('=').next().unwrap())
            .collect();
        vars.sort();
        assert_eq!(vars, vec!["FOO", "LANG", "PATH"]);
        let err = call(
            &ctx,
            json!({"argv": ["/usr/bin/env"], "opts": {"env": {"LD_PRELOAD": "/x.so"}}}),
        )
        .unwrap_err();
        assert!(matches!(err, HostError::InvalidArgument(_)));
        let err = call(
            &ctx,
            json!({"argv": ["/usr/bin/env"], "opts": {"shell": true}}),
        )
        .unwrap_err();
        assert!(err.to_string().contains("unknown option `shell`"), "{err}");
    }

    #[test]
    fn args_prefix_pins_the_arguments() {
        let (_rt, ctx) = ctx_with("    - {program: /usr/bin/echo, args_prefix: [\"-n\", safe]}\n");
        assert!(call(&ctx, json!({"argv": ["/usr/bin/echo", "-n", "safe", "x"]})).is_ok());
        let err = call(&ctx, json!({"argv": ["/usr/bin/echo", "unsafe"]})).unwrap_err();
        assert!(matches!(err, HostError::Refused(_)));
        assert!(
            err.to_string()
                .contains("allowlisted only as: /usr/bin/echo -n safe ..."),
            "{err}"
        );
    }

    #[test]
    fn script_dir_pins_an_interpreter() {
        let dir = tempfile::tempdir().unwrap();
        let scripts = dir.path().join("scripts");
        std::fs::create_dir(&scripts).unwrap();
        std::fs::write(scripts.join("ok.sh"), "echo from-script \"$1\"\n").unwrap();
        std::fs::write(dir.path().join("evil.sh"), "echo evil\n").unwrap();
        std::os::unix::fs::symlink(dir.path().join("evil.sh"), scripts.join("link.sh")).unwrap();
        let (_rt, ctx) = ctx_with(&format!(
            "    - {{program: /usr/bin/bash, script_dir: {}}}\n",
            scripts.display()
        ));
        let ok = scripts.join("ok.sh").display().to_string();
        let r = call(&ctx, json!({"argv": ["/usr/bin/bash", ok, "arg"]})).unwrap();
        assert_eq!(r["stdout"], "from-script arg\n");
        for bad in [
            json!(["/usr/bin/bash", "-c", "echo pwned"]),
            json!(["/usr/bin/bash", dir.path().join("evil.sh")]),
            json!(["/usr/bin/bash", scripts.join("link.sh")]),
            json!(["/usr/bin/bash", format!("{}/../evil.sh", scripts.display())]),
            json!(["/usr/bin/bash"]),
        ] {
            let err = call(&ctx, json!({"argv": bad})).unwrap_err();
            assert!(matches!(err, HostError::Refused(_)), "{bad}: {err:?}");
        }
    }

    #[test]
    fn output_is_capped() {
        let (_rt, ctx) = ctx_with(BASIC);
        let r = call(
            &ctx,
            json!({"argv": ["/usr/bin/head", "-c", "200000", "/dev/zero"]}),
        )
        .unwrap();
        assert_eq!(r["exit_code"], 0);
        assert_eq!(r["truncated"], true);
        assert_eq!(r["stdout"].as_str().unwrap().len(), CAP);
    }

    #[test]
    fn timeout_kills_the_process_group() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("survived");
        let script = dir.path().join("slow.sh");
        // A background grandchild that would leave a marker if it outlived the timeout.
        std::fs::write(
            &script,
            format!("(sleep 2; touch {}) &\nsleep 30\n", marker.display()),
        )
        .unwrap();
        let (_rt, ctx) = ctx_with(&format!(
            "    - {{program: /usr/bin/bash, script_dir: {}}}\n",
            dir.path().display()
        ));
        let start = Instant::now();
        let err = call(
            &ctx,
            json!({"argv": ["/usr/bin/bash", script], "opts": {"timeout_secs": 1}}),
        )
        .unwrap_err();
        assert!(
            matches!(err, HostError::Timeout { seconds: 1, .. }),
            "{err:?}"
        );
        assert!(start.elapsed() < Duration::from_secs(5));
        std::thread::sleep(Duration::from_millis(2500));
        assert!(
            !marker.exists(),
            "a process of the group survived the timeout"
        );
    }

    #[test]
    fn runs_as_another_user() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return; // needs root, as on the server
        }
        let (_rt, ctx) = ctx_with(BASIC);
        let r = call(
            &ctx,
            json!({"argv": ["/usr/bin/id", "-u"], "opts": {"user": "nobody", "cwd": "/"}}),
        )
        .unwrap();
        assert_eq!(r["stdout"], "65534\n");
        let err = call(
            &ctx,
            json!({"argv": ["/usr/bin/id"], "opts": {"user": "no-such-user"}}),
        )
        .unwrap_err();
        assert!(matches!(err, HostError::InvalidArgument(_)));
    }

    #[test]
    fn plan_shows_env_names_only() {
        let (_rt, ctx) = ctx_with(BASIC);
        let p = plan_run(&ctx, &testutil::args(json!({"argv": ["echo", "x"], "opts": {"env": {"TOKEN": "s3cr3t"}, "readonly": true}}))).unwrap();
        assert_eq!(p["program"], "/usr/bin/echo");
        assert_eq!(p["env_names"], json!(["TOKEN"]));
        assert!(!p.to_string().contains("s3cr3t"));
    }
}
