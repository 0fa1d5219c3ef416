//! Allowlisted programs (Rhai module `cmd`). Anything the typed backends do not cover, such as
//! `sshd -T`, `caddy validate` or `fail2ban-client status sshd`.
//!
//! A program runs only if a rule of the site's `commands.allow` fits the whole call (see
//! `allow.rs`): the program by real path (so a symlink cannot stand in for it), every argument
//! (`args_prefix`, then `args`, then nothing), and every environment variable passed. An
//! interpreter rule (`script_dir`) takes a script file inside one directory as its first
//! argument, found from the directory the child runs in (`cwd`), and the child gets the
//! resolved path, so `bash -c` and a script swapped in elsewhere are impossible. The rule's
//! `effect` says whether the call reads or mutates; the runbook cannot say.
//!
//! It runs from an argv, never through a shell, with the environment cleared to PATH, LANG and
//! the variables the rule passes, in its own process group so a timeout kills everything it
//! started. stdout and stderr are captured up to 64 KiB each.
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

use super::allow;
use super::args;
use super::users;
use super::withheld;
use super::{Args, Effect, HostCtx, HostError, HostFn, HostResult, Param, ParamType, SiteRule};
use crate::site::{valid_env_name, AllowedCommand, CommandEffect, WithheldEnv};

/// The PATH children get, and where bare program names are looked up.
pub const SECURE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const CAP: usize = 64 * 1024;
const DEFAULT_TIMEOUT_SECS: i64 = 60;
/// After the program exits, how long to keep reading output that its leftover children hold.
const DRAIN_GRACE: Duration = Duration::from_millis(500);
const OPTS: &[&str] = &["user", "env", "withheld_env", "cwd", "timeout_secs"];

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

/// Does the rule accept this call? For an interpreter rule, the script it names (resolved
/// against the directory the child will run in) is returned: that is the path the child gets,
/// so the file checked is the file run.
fn rule_fits(
    rule: &AllowedCommand,
    rest: &[String],
    env: &[(String, String)],
    withheld: &[String],
    cwd: &Path,
) -> Result<Option<PathBuf>, String> {
    allow::env_fits(rule, env)?;
    allow::withheld_fits(rule, withheld)?;
    let Some(dir) = &rule.script_dir else {
        allow::args_fit(rule, rest)?;
        return Ok(None);
    };
    // The script must be the first argument (no interpreter options before it) and really
    // live in the directory.
    let Some(script) = rest.first() else {
        return Err(format!("a script from {dir} must come first"));
    };
    if script.starts_with('-') {
        return Err(format!(
            "`{script}`: no interpreter option may precede the script"
        ));
    }
    let real = cwd
        .join(script)
        .canonicalize()
        .map_err(|e| format!("script {script} (from {}): {e}", cwd.display()))?;
    let dir_real = Path::new(dir)
        .canonicalize()
        .map_err(|e| format!("script_dir {dir}: {e}"))?;
    if !(real.starts_with(&dir_real) && real.is_file()) {
        return Err(format!(
            "script {script} is {} (run from {}), not a file in {dir}",
            real.display(),
            cwd.display()
        ));
    }
    allow::args_fit(rule, &rest[1..])?;
    Ok(Some(real))
}

/// The allowlist decision for one call.
pub struct Authorized<'s> {
    /// The program to exec.
    pub program: PathBuf,
    /// The argv to pass (an interpreter's script replaced by its resolved path).
    pub argv: Vec<String>,
    pub index: usize,
    pub rule: &'s AllowedCommand,
}

/// The first allowlist rule that fits the program, its arguments, its environment and the
/// secret-file keys it names (`withheld`) when run from `cwd`; a refusal that says what each
/// rule for the program allows otherwise.
pub fn authorize<'s>(
    allow: &'s [AllowedCommand],
    origin: &str,
    argv: &[String],
    env: &[(String, String)],
    withheld: &[String],
    cwd: &Path,
) -> Result<Authorized<'s>, HostError> {
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
    let entries: Vec<(usize, &AllowedCommand)> = allow
        .iter()
        .enumerate()
        .filter(|(_, e)| same_file(&path, Path::new(&e.program)))
        .collect();
    if entries.is_empty() {
        return Err(refused(format!(
            "program {} is not on the command allowlist",
            path.display()
        )));
    }
    let mut misses = Vec::new();
    for (index, rule) in entries {
        match rule_fits(rule, &argv[1..], env, withheld, cwd) {
            Ok(script) => {
                let mut argv = argv.to_vec();
                if let Some(s) = script {
                    argv[1] = s.display().to_string();
                }
                return Ok(Authorized {
                    program: path,
                    argv,
                    index,
                    rule,
                });
            }
            Err(why) => misses.push(format!("{} (here: {why})", allow::describe(rule))),
        }
    }
    Err(refused(format!(
        "{} is allowlisted only as: {}",
        path.display(),
        misses.join("; ")
    )))
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
    rule: SiteRule,
    user: Option<RunAs>,
    env: Vec<(String, String)>,
    /// Keys of the rule's secret file the child gets (read only when it starts).
    withheld_keys: Vec<String>,
    withheld: Option<WithheldEnv>,
    cwd: String,
    timeout: Duration,
}

fn prepare(ctx: &HostCtx, a: &Args) -> Result<Plan, HostError> {
    let argv = args::strings(a, "argv")?;
    let empty = serde_json::Map::new();
    let opts = args::opt_map(a, "opts")?.unwrap_or(&empty);
    if opts.contains_key("readonly") {
        return Err(HostError::InvalidArgument(
            "option `readonly` is no longer accepted: whether a command reads or changes the host is \
             decided by the site, by the `effect: read` or `effect: mutate` of the commands.allow \
             rule it matches; remove `readonly` from the call (and, if the command only reads, \
             give its rule `effect: read` in the site file)"
                .into(),
        ));
    }
    if let Some(k) = opts.keys().find(|k| !OPTS.contains(&k.as_str())) {
        return Err(HostError::InvalidArgument(format!(
            "unknown option `{k}` (known: {})",
            OPTS.join(", ")
        )));
    }
    let user = args::opt_string(opts, "user")?.map(run_as).transpose()?;
    let env = args::string_map(opts, "env")?;
    if let Some((k, _)) = env.iter().find(|(k, _)| !valid_env_name(k)) {
        return Err(HostError::InvalidArgument(format!(
            "`{k}` is not an environment variable name"
        )));
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
    let withheld_keys = args::strings(opts, "withheld_env")?;
    let site = &ctx.site;
    let ok = authorize(
        &site.commands.allow,
        &site.origin,
        &argv,
        &env,
        &withheld_keys,
        Path::new(&cwd),
    )?;
    let rule = SiteRule {
        mutates: ok.rule.effect == CommandEffect::Mutate,
        label: allow::label(&format!("commands.allow[{}]", ok.index), ok.rule),
        affects: ok.rule.affects.clone(),
    };
    let secs = args::int_in(opts, "timeout_secs", DEFAULT_TIMEOUT_SECS, 1, 6 * 3600)?;
    Ok(Plan {
        program: ok.program,
        argv: ok.argv,
        why: ok.rule.why.clone(),
        rule,
        user,
        env,
        withheld_keys,
        withheld: ok.rule.withheld_env.clone(),
        cwd,
        timeout: Duration::from_secs(secs as u64),
    })
}

/// The site rule a call fits, and so whether it reads or mutates (see [`Effect::BySite`]).
fn classify(ctx: &HostCtx, a: &Args) -> Result<SiteRule, HostError> {
    prepare(ctx, a).map(|p| p.rule)
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
    let secrets = withheld::load(p.withheld.as_ref(), &p.withheld_keys)?;
    for (k, v) in secrets.vars() {
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
    let (stdout, stderr) = (secrets.scrub(stdout), secrets.scrub(stderr));
    use std::os::unix::process::ExitStatusExt;
    Ok(json!({
        "program": shown,
        "exit_code": status.code(),
        "signal": status.signal(),
        "stdout": stdout,
        "stderr": stderr,
        "duration_ms": start.elapsed().as_millis() as u64,
        "truncated": t1 || t2,
        "withheld_env": withheld::notes(p.withheld.as_ref(), &p.withheld_keys),
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
        "rule": p.rule.label,
        "user": p.user.as_ref().map(|u| u.name.clone()),
        "cwd": p.cwd,
        "env_names": p.env.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(),
        "withheld_env": withheld::notes(p.withheld.as_ref(), &p.withheld_keys),
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
            doc: "#{user, env: #{NAME: value} (only the variables the rule lists), withheld_env: [KEY] (keys of the rule's secret file the child gets; never the runbook), cwd (a relative script is found from here), timeout_secs (default 60)}",
        },
    ],
    effect: Effect::BySite(classify),
    doc: "Run an allowlisted program (no shell): {program, exit_code, signal, stdout, stderr, duration_ms, truncated, withheld_env}; \
          output capped at 64 KiB per stream",
    run,
    plan: Some(plan_run),
    shell: super::shell::cmd_run,
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

    /// Rules that take any arguments, for tests about running rather than matching.
    const ANY: &str = "args: [{pattern: '.*', repeat: true, optional: true, dash: true}]";

    fn basic() -> String {
        ["echo", "head", "id"]
            .iter()
            .map(|p| format!("    - {{program: /usr/bin/{p}, {ANY}}}\n"))
            .collect::<String>()
            + "    - {program: /usr/bin/env, env: {FOO: 'b.*', TOKEN: '.*'}}\n"
    }

    #[test]
    fn refuses_programs_off_the_allowlist() {
        let (_rt, ctx) = ctx_with(&basic());
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
    fn runs_by_bare_name_with_only_the_variables_the_rule_passes() {
        let (_rt, ctx) = ctx_with(&basic());
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
        for (name, value) in [
            ("LD_PRELOAD", "/x.so"),
            ("BASH_ENV", "/tmp/evil.sh"),
            ("ENV", "/tmp/evil.sh"),
            ("PYTHONSTARTUP", "/tmp/evil.py"),
            ("PERL5OPT", "-Mevil"),
            ("NODE_OPTIONS", "--require /tmp/evil.js"),
            ("OTHER", "x"),
            ("FOO", "not-b"),
        ] {
            let err = call(
                &ctx,
                json!({"argv": ["/usr/bin/env"], "opts": {"env": {name: value}}}),
            )
            .unwrap_err();
            assert!(matches!(err, HostError::Refused(_)), "{name}: {err:?}");
            assert!(err.to_string().contains(name), "{err}");
        }
        let err = call(
            &ctx,
            json!({"argv": ["/usr/bin/env"], "opts": {"shell": true}}),
        )
        .unwrap_err();
        assert!(err.to_string().contains("unknown option `shell`"), "{err}");
        let err = call(
            &ctx,
            json!({"argv": ["/usr/bin/echo"], "opts": {"readonly": true}}),
        )
        .unwrap_err();
        assert!(matches!(err, HostError::InvalidArgument(_)), "{err:?}");
        assert!(err.to_string().contains("effect: read"), "{err}");
    }

    /// A key of a secret file reaches the child's environment, not its argv, the runbook or
    /// the output; a call or a rule that does not name it passes nothing.
    #[test]
    fn withheld_values_reach_only_the_child() {
        let dir = tempfile::tempdir().unwrap();
        let env = dir.path().join("app.env");
        std::fs::write(&env, "POSTGRES_PASSWORD=Very-Secret-42\n").unwrap();
        let script = dir.path().join("show.sh");
        std::fs::write(
            &script,
            "printf '%s' \"$PGPASSWORD\" | sha256sum\necho \"echo: $PGPASSWORD\" >&2\necho \"$0 $*\"\n",
        )
        .unwrap();
        let d = dir.path().display();
        let yaml = format!(
            "paths: {{secret_files: [{d}/*.env]}}\ncommands:\n  allow:\n    \
             - {{program: /usr/bin/bash, script_dir: {d}, withheld_env: {{file: {d}/app.env, keys: {{POSTGRES_PASSWORD: PGPASSWORD}}}}}}\n    \
             - {{program: /usr/bin/echo, args: [{{pattern: '.*', repeat: true, optional: true}}]}}\n"
        );
        let (_rt, ctx) = testutil::ctx(testutil::site(&yaml));
        let argv = json!(["/usr/bin/bash", script]);
        let r = call(
            &ctx,
            json!({"argv": argv, "opts": {"withheld_env": ["POSTGRES_PASSWORD"]}}),
        )
        .unwrap();
        use sha2::Digest;
        let want = format!("{:x}", sha2::Sha256::digest(b"Very-Secret-42"));
        let text = r.to_string();
        assert!(text.contains(&want), "the child did not get the value: {r}");
        assert!(!text.contains("Very-Secret-42"), "the value came back: {r}");
        assert_eq!(r["stderr"], "echo: [REDACTED]\n");
        assert_eq!(
            r["withheld_env"],
            json!([format!("POSTGRES_PASSWORD from {d}/app.env (withheld)")])
        );
        // Without naming the key the child gets nothing.
        let r = call(&ctx, json!({"argv": argv})).unwrap();
        assert_eq!(r["stderr"], "echo: \n");
        // A key the rule does not map, or a rule with no withheld values: refused.
        for (argv, key) in [
            (argv.clone(), "POSTGRES_USER"),
            (json!(["/usr/bin/echo", "x"]), "POSTGRES_PASSWORD"),
        ] {
            let err =
                call(&ctx, json!({"argv": argv, "opts": {"withheld_env": [key]}})).unwrap_err();
            assert!(matches!(err, HostError::Refused(_)), "{err:?}");
        }
        // The plan names the key and never reads the file.
        std::fs::remove_file(&env).unwrap();
        let p = plan_run(
            &ctx,
            &testutil::args(json!({"argv": argv, "opts": {"withheld_env": ["POSTGRES_PASSWORD"]}})),
        )
        .unwrap();
        assert_eq!(
            p["withheld_env"],
            json!([format!("POSTGRES_PASSWORD from {d}/app.env (withheld)")])
        );
        let err = call(
            &ctx,
            json!({"argv": argv, "opts": {"withheld_env": ["POSTGRES_PASSWORD"]}}),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("cannot read the secret file"),
            "{err}"
        );
    }

    #[test]
    fn the_whole_argument_shape_is_pinned() {
        let (_rt, ctx) = ctx_with("    - {program: /usr/bin/echo, args_prefix: [\"-n\", safe]}\n");
        assert!(call(&ctx, json!({"argv": ["/usr/bin/echo", "-n", "safe"]})).is_ok());
        for bad in [
            json!(["/usr/bin/echo", "unsafe"]),
            json!(["/usr/bin/echo", "-n", "safe", "x"]),
            json!(["/usr/bin/echo", "-n", "safe", "-e"]),
        ] {
            let err = call(&ctx, json!({"argv": bad})).unwrap_err();
            assert!(matches!(err, HostError::Refused(_)), "{bad}: {err:?}");
            assert!(
                err.to_string()
                    .contains("allowlisted only as: /usr/bin/echo -n safe (here:"),
                "{err}"
            );
        }
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
            "    - {{program: /usr/bin/bash, script_dir: {}, args: [{{pattern: '[a-z]+', optional: true}}]}}\n",
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
            json!(["/usr/bin/bash", ok, "arg", "more"]),
            json!(["/usr/bin/bash"]),
        ] {
            let err = call(&ctx, json!({"argv": bad})).unwrap_err();
            assert!(matches!(err, HostError::Refused(_)), "{bad}: {err:?}");
        }
    }

    /// A relative script is found from the directory the child runs in, and the child is
    /// handed the path that was checked.
    #[test]
    fn a_relative_script_is_resolved_against_the_childs_directory() {
        let allowed = tempfile::tempdir().unwrap();
        let other = tempfile::tempdir().unwrap();
        for (root, text) in [(&allowed, "echo allowed"), (&other, "echo other")] {
            std::fs::create_dir(root.path().join("scripts")).unwrap();
            std::fs::write(root.path().join("scripts/job.sh"), format!("{text}\n")).unwrap();
        }
        let (_rt, ctx) = ctx_with(&format!(
            "    - {{program: /usr/bin/bash, script_dir: {}/scripts}}\n",
            allowed.path().display()
        ));
        let at =
            |cwd: &Path| json!({"argv": ["/usr/bin/bash", "scripts/job.sh"], "opts": {"cwd": cwd}});
        let r = call(&ctx, at(allowed.path())).unwrap();
        assert_eq!(r["stdout"], "allowed\n");
        let err = call(&ctx, at(other.path())).unwrap_err();
        assert!(matches!(err, HostError::Refused(_)), "{err:?}");
        assert!(err.to_string().contains("run from"), "{err}");
        let p = plan_run(&ctx, &testutil::args(at(allowed.path()))).unwrap();
        let real = allowed
            .path()
            .join("scripts/job.sh")
            .canonicalize()
            .unwrap();
        assert_eq!(p["argv"][1], real.display().to_string());
    }

    #[test]
    fn output_is_capped() {
        let (_rt, ctx) = ctx_with(&basic());
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
        let (_rt, ctx) = ctx_with(&basic());
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
    fn plan_shows_env_names_and_the_rule() {
        let (_rt, ctx) = ctx_with(&basic());
        let p = plan_run(
            &ctx,
            &testutil::args(json!({"argv": ["env"], "opts": {"env": {"TOKEN": "s3cr3t"}}})),
        )
        .unwrap();
        assert_eq!(p["program"], "/usr/bin/env");
        assert_eq!(p["env_names"], json!(["TOKEN"]));
        assert!(p["rule"]
            .as_str()
            .unwrap()
            .starts_with("commands.allow[3] (mutate): /usr/bin/env"));
        assert!(!p.to_string().contains("s3cr3t"));
    }

    /// The shipped site, rule by rule: the calls the shipped runbooks make fit, and the
    /// escapes found in review do not.
    #[test]
    fn shipped_rules_fit_the_runbooks_and_nothing_more() {
        let site = crate::site::Site::openclaw();
        let fit = |argv: &[&str], env: &[(&str, &str)]| {
            let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
            let env: Vec<(String, String)> = env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            authorize(&site.commands.allow, "s", &argv, &env, &[], Path::new("/"))
                .map(|a| a.rule.effect)
        };
        use CommandEffect::{Mutate, Read};
        for (argv, effect) in [
            (&["/usr/sbin/sshd", "-T"][..], Read),
            (&["/usr/sbin/sysctl", "-n", "kernel.dmesg_restrict"], Read),
            (&["/usr/bin/findmnt", "-no", "OPTIONS", "/dev/shm"], Read),
            (
                &["/usr/bin/fail2ban-client", "get", "sshd", "maxretry"],
                Read,
            ),
            (&["/usr/bin/fail2ban-client", "status", "sshd"], Read),
            (
                &[
                    "/usr/bin/fail2ban-client",
                    "set",
                    "sshd",
                    "unbanip",
                    "10.0.0.1",
                ],
                Mutate,
            ),
            (&["/usr/sbin/ufw", "status", "verbose"], Read),
            (
                &[
                    "/usr/bin/du",
                    "-xs",
                    "--block-size=1M",
                    "/var/log",
                    "/opt/aurora-infra/backups",
                ],
                Read,
            ),
            (
                &["/usr/sbin/useradd", "-m", "-s", "/bin/bash", "newop"],
                Mutate,
            ),
            (
                &[
                    "/usr/bin/install",
                    "-d",
                    "-m",
                    "700",
                    "-o",
                    "newop",
                    "-g",
                    "newop",
                    "/home/newop/.ssh",
                ],
                Mutate,
            ),
            (
                &[
                    "/usr/bin/install",
                    "-m",
                    "600",
                    "-o",
                    "newop",
                    "-g",
                    "newop",
                    "/dev/null",
                    "/home/newop/.ssh/authorized_keys",
                ],
                Mutate,
            ),
            (&["/usr/bin/dmesg", "-T"], Read),
        ] {
            assert_eq!(
                fit(argv, &[]).map_err(|e| e.to_string()),
                Ok(effect),
                "{argv:?}"
            );
        }
        for argv in [
            &["/usr/sbin/sysctl", "-n", "-w", "kernel.hostname=x"][..],
            &["/usr/sbin/sysctl", "-n", "kernel.hostname=x"],
            &["/usr/sbin/sysctl", "-w", "kernel.hostname=x"],
            &["/usr/bin/dmesg", "-T", "-F", "/opt/aurora-infra/.env"],
            &[
                "/usr/bin/du",
                "-xs",
                "--block-size=1M",
                "--files0-from=/opt/aurora-infra/.env",
            ],
            &["/usr/bin/du", "--files0-from=/opt/aurora-infra/.env"],
            &[
                "/usr/bin/findmnt",
                "-no",
                "OPTIONS",
                "-F",
                "/opt/aurora-infra/.env",
            ],
            &[
                "/usr/sbin/useradd",
                "-m",
                "-s",
                "/bin/bash",
                "-o",
                "-u",
                "0",
                "evil",
            ],
            &[
                "/usr/sbin/useradd",
                "-m",
                "-s",
                "/bin/bash",
                "-G",
                "sudo",
                "evil",
            ],
            &[
                "/usr/bin/install",
                "-m",
                "600",
                "-o",
                "root",
                "-g",
                "root",
                "/tmp/evil",
                "/etc/sudoers.d/evil",
            ],
            &[
                "/usr/bin/install",
                "-d",
                "-m",
                "700",
                "-o",
                "x",
                "-g",
                "x",
                "/etc/cron.d",
            ],
            &[
                "/usr/bin/install",
                "-m",
                "600",
                "-o",
                "x",
                "-g",
                "x",
                "/dev/null",
                "/home/x/../../etc/shadow",
            ],
            &["/usr/sbin/visudo", "-cf", "/opt/aurora-infra/.env"],
            &[
                "/usr/bin/caddy",
                "validate",
                "--config",
                "/opt/aurora-infra/.env",
                "--adapter",
                "caddyfile",
            ],
            &[
                "/usr/bin/psql",
                "-h",
                "aurora-postgres",
                "-U",
                "postgres",
                "-d",
                "aurora",
                "-tAc",
                "SELECT count(*) FROM \"User\"; DROP TABLE \"User\"",
            ],
            &[
                "/usr/bin/psql",
                "-h",
                "aurora-postgres",
                "-U",
                "postgres",
                "-d",
                "aurora",
                "-tAc",
                "\\! id",
            ],
            &["/usr/bin/sha256sum", "/opt/aurora-infra/.env"],
            &[
                "/usr/bin/fail2ban-client",
                "set",
                "sshd",
                "unbanip",
                "1.2.3.4",
                "--",
                "x",
            ],
        ] {
            assert!(fit(argv, &[]).is_err(), "{argv:?} fits a shipped rule");
        }
    }
}
