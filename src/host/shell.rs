//! What an operator would type for the same effect as one host call: the shell equivalent
//! each registration in [`super::registry`] carries (`HostFn::shell`). `runbook api` prints
//! the pattern of each, `runbook learn` the concrete command of every call a step makes.
//!
//! Equivalents are built from the call's arguments after redaction (a secret shows as
//! `[REDACTED]`, never as its value) and quoted for a POSIX shell with `shlex`, so a
//! learner can paste them. They say what to type, not how runbook does it: runbook reads
//! systemd over D-Bus and Docker over its API, the operator types `systemctl` and `docker`.

use serde_json::Value;

use super::Args;
use crate::site::Site;

/// The signature of a shell equivalent: the commands, one per line, for one call.
pub type ShellFn = fn(&Site, &Args) -> Vec<String>;

/// One word quoted for a POSIX shell: `caddy.service` stays as it is, `10 minutes ago`
/// becomes `'10 minutes ago'`. A NUL byte cannot be passed to a program at all; it is
/// shown escaped so the line still says what was asked.
pub fn quote(word: &str) -> String {
    // shlex quotes `=`, `:` and `,` too, which a shell never needs in an argument: options
    // like `--state=running` read better as typed.
    let plain = |b: u8| b.is_ascii_alphanumeric() || b"_@%+=:,./-".contains(&b);
    if !word.is_empty() && word.bytes().all(plain) {
        return word.to_string();
    }
    match shlex::try_quote(word) {
        Ok(q) => q.into_owned(),
        Err(_) => format!("$'{}'", word.escape_default()),
    }
}

/// A command line from words, each quoted.
pub fn line<S: AsRef<str>>(words: impl IntoIterator<Item = S>) -> String {
    words
        .into_iter()
        .map(|w| quote(w.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

fn text(args: &Args, name: &str) -> Option<String> {
    match args.get(name)? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// A required argument, or its name in capitals (the pattern `runbook api` shows).
fn arg(args: &Args, name: &str) -> String {
    text(args, name).unwrap_or_else(|| name.to_ascii_uppercase())
}

fn int(args: &Args, name: &str) -> Option<i64> {
    args.get(name).and_then(Value::as_i64)
}

fn list(args: &Args, name: &str) -> Vec<String> {
    match args.get(name) {
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// A unit as systemctl and journalctl take it: the name as given.
fn units_flags(units: &[String]) -> Vec<String> {
    units
        .iter()
        .flat_map(|u| ["-u".to_string(), u.clone()])
        .collect()
}

/// No command does what this function does: it reads runbook's own site config.
pub fn none(_: &Site, _: &Args) -> Vec<String> {
    Vec::new()
}

pub fn systemd_list_units(_: &Site, a: &Args) -> Vec<String> {
    let mut w = vec![
        "systemctl".into(),
        "list-units".into(),
        "--no-pager".into(),
        "--all".into(),
        arg(a, "pattern"),
    ];
    if let Some(state) = text(a, "state") {
        w.push(format!("--state={state}"));
    }
    vec![line(w)]
}

pub fn systemd_failed(_: &Site, _: &Args) -> Vec<String> {
    vec![line(["systemctl", "--no-pager", "--failed"])]
}

pub fn systemd_status(_: &Site, a: &Args) -> Vec<String> {
    vec![line(["systemctl", "status", &arg(a, "unit"), "--no-pager"])]
}

/// Many units at once: the guide's quick snapshot (which of them run), then each one's status.
pub fn systemd_statuses(_: &Site, a: &Args) -> Vec<String> {
    let units = list(a, "units");
    if units.is_empty() {
        return vec![line(["systemctl", "status", "UNITS...", "--no-pager"])];
    }
    let short: Vec<&str> = units
        .iter()
        .map(|u| u.strip_suffix(".service").unwrap_or(u))
        .collect();
    let mut out = vec![format!(
        "{} | grep -E {}",
        line([
            "systemctl",
            "--no-pager",
            "--type=service",
            "--state=running"
        ]),
        quote(&short.join("|"))
    )];
    out.extend(
        units
            .iter()
            .map(|u| line(["systemctl", "status", u, "--no-pager"])),
    );
    out
}

fn systemctl(verb: &str, a: &Args) -> Vec<String> {
    vec![line(["sudo", "systemctl", verb, &arg(a, "unit")])]
}

pub fn systemd_restart(_: &Site, a: &Args) -> Vec<String> {
    systemctl("restart", a)
}

pub fn systemd_reload(_: &Site, a: &Args) -> Vec<String> {
    systemctl("reload", a)
}

pub fn systemd_reload_or_restart(_: &Site, a: &Args) -> Vec<String> {
    systemctl("reload-or-restart", a)
}

pub fn systemd_start(_: &Site, a: &Args) -> Vec<String> {
    systemctl("start", a)
}

pub fn systemd_stop(_: &Site, a: &Args) -> Vec<String> {
    systemctl("stop", a)
}

/// `journalctl`: priority `debug` is every entry, which is journalctl's default.
pub fn journal_entries(_: &Site, a: &Args) -> Vec<String> {
    let mut w = vec!["sudo".to_string(), "journalctl".into()];
    w.extend(units_flags(&list(a, "units")));
    w.extend(["--since".into(), arg(a, "since")]);
    match text(a, "priority") {
        Some(p) if p != "debug" && p != "7" => w.extend(["-p".into(), p]),
        _ => {}
    }
    if let Some(n) = int(a, "limit") {
        w.extend(["-n".into(), n.to_string()]);
    }
    w.push("--no-pager".into());
    vec![line(w)]
}

pub fn journal_error_counts(_: &Site, a: &Args) -> Vec<String> {
    let mut w = vec!["sudo".to_string(), "journalctl".into()];
    w.extend(units_flags(&list(a, "units")));
    w.extend([
        "--since".into(),
        arg(a, "since"),
        "-p".into(),
        "err".into(),
        "--no-pager".into(),
    ]);
    vec![line(w)]
}

pub fn docker_containers(_: &Site, a: &Args) -> Vec<String> {
    match a.get("all").and_then(Value::as_bool) {
        Some(true) => vec![line(["sudo", "docker", "ps", "-a"])],
        _ => vec![line(["sudo", "docker", "ps"])],
    }
}

pub fn docker_container(_: &Site, a: &Args) -> Vec<String> {
    vec![line(["sudo", "docker", "inspect", &arg(a, "name")])]
}

pub fn docker_stats(_: &Site, a: &Args) -> Vec<String> {
    vec![line([
        "sudo",
        "docker",
        "stats",
        "--no-stream",
        &arg(a, "name"),
    ])]
}

pub fn docker_logs(_: &Site, a: &Args) -> Vec<String> {
    let mut w = vec!["sudo".to_string(), "docker".into(), "logs".into()];
    w.push(arg(a, "name"));
    if let Some(n) = int(a, "tail") {
        w.extend(["--tail".into(), n.to_string()]);
    }
    vec![line(w)]
}

/// Withheld variables (secrets the child gets in its environment) are named, never valued.
fn withheld_env(a: &Args) -> Vec<String> {
    let Some(Value::Object(env)) = a.get("opts").and_then(|o| o.get("env")) else {
        return Vec::new();
    };
    env.keys()
        .flat_map(|k| ["-e".to_string(), k.clone()])
        .collect()
}

pub fn docker_exec(_: &Site, a: &Args) -> Vec<String> {
    let mut w = vec!["sudo".to_string(), "docker".into(), "exec".into()];
    w.extend(withheld_env(a));
    w.push(arg(a, "name"));
    w.extend(list(a, "argv"));
    vec![line(w)]
}

fn docker_verb(verb: &str, a: &Args) -> Vec<String> {
    let mut w = vec!["sudo".to_string(), "docker".into(), verb.into()];
    if let Some(t) = int(a, "timeout_secs") {
        w.extend(["-t".into(), t.to_string()]);
    }
    w.push(arg(a, "name"));
    vec![line(w)]
}

pub fn docker_restart(_: &Site, a: &Args) -> Vec<String> {
    docker_verb("restart", a)
}

pub fn docker_start(_: &Site, a: &Args) -> Vec<String> {
    docker_verb("start", a)
}

pub fn docker_stop(_: &Site, a: &Args) -> Vec<String> {
    docker_verb("stop", a)
}

pub fn host_disk(_: &Site, a: &Args) -> Vec<String> {
    vec![line(["df", "-h", &arg(a, "path")])]
}

pub fn host_memory(_: &Site, _: &Args) -> Vec<String> {
    vec![line(["free", "-h"])]
}

pub fn host_load(_: &Site, _: &Args) -> Vec<String> {
    vec![line(["cat", "/proc/loadavg"])]
}

pub fn host_cpu(_: &Site, _: &Args) -> Vec<String> {
    vec![line(["vmstat", "1", "2"])]
}

pub fn host_uptime(_: &Site, _: &Args) -> Vec<String> {
    vec![line(["uptime"])]
}

pub fn host_hostname(_: &Site, _: &Args) -> Vec<String> {
    vec![line(["hostname"])]
}

pub fn host_cpu_pressure(_: &Site, _: &Args) -> Vec<String> {
    vec![line(["cat", "/proc/pressure/cpu"])]
}

pub fn host_virtualization(_: &Site, _: &Args) -> Vec<String> {
    vec![line(["systemd-detect-virt", "--container"])]
}

/// `ps` with the user column widened: the guide warns that it truncates names otherwise.
pub fn host_top_processes(_: &Site, a: &Args) -> Vec<String> {
    let sort = match text(a, "by").as_deref() {
        Some("mem" | "memory" | "rss") => "--sort=-rss",
        _ => "--sort=-pcpu",
    };
    let n = int(a, "limit").unwrap_or(10) + 1;
    vec![format!(
        "{} | head -n {n}",
        line(["ps", "-eo", "pid,user:32,pcpu,rss,comm", sort])
    )]
}

/// Milliseconds as the whole seconds `nc -w` and `curl --max-time` take, at least one.
fn secs(ms: i64) -> i64 {
    ((ms + 999) / 1000).max(1)
}

pub fn net_tcp_check(_: &Site, a: &Args) -> Vec<String> {
    let mut w = vec!["nc".to_string(), "-zv".into()];
    if let Some(ms) = int(a, "timeout_ms") {
        w.extend(["-w".into(), secs(ms).to_string()]);
    }
    w.extend([arg(a, "host"), arg(a, "port")]);
    vec![line(w)]
}

pub fn net_http_get(_: &Site, a: &Args) -> Vec<String> {
    let mut w = vec!["curl".to_string(), "-sS".into(), "-i".into()];
    if let Some(ms) = int(a, "timeout_ms") {
        w.extend(["--max-time".into(), secs(ms).to_string()]);
    }
    if let Some(h) = text(a, "host_header").filter(|h| !h.is_empty()) {
        w.extend(["-H".into(), format!("Host: {h}")]);
    }
    w.push(arg(a, "url"));
    vec![line(w)]
}

pub fn files_exists(_: &Site, a: &Args) -> Vec<String> {
    vec![line(["sudo", "test", "-e", &arg(a, "path")])]
}

pub fn files_stat(_: &Site, a: &Args) -> Vec<String> {
    vec![line(["sudo", "stat", &arg(a, "path")])]
}

pub fn files_list(_: &Site, a: &Args) -> Vec<String> {
    vec![line(["sudo", "ls", "-la", &arg(a, "path")])]
}

pub fn files_read(_: &Site, a: &Args) -> Vec<String> {
    vec![line(["sudo", "cat", &arg(a, "path")])]
}

/// A JSON file is read as text; the learner can pipe it through `jq`.
pub fn files_read_json(site: &Site, a: &Args) -> Vec<String> {
    files_read(site, a)
}

/// The backup copy runbook keeps, named the way it names it.
fn backup_copy(path: &str) -> String {
    format!(
        "{} {}.bak-$(date -u +%Y%m%dT%H%M%SZ)",
        line(["sudo", "cp", "-a", path]),
        quote(path)
    )
}

/// The new content is never on the line (it may be a secret): the plan shows the diff.
pub fn files_replace(_: &Site, a: &Args) -> Vec<String> {
    let path = arg(a, "path");
    let mut out = vec![
        backup_copy(&path),
        format!("sudo tee {} < NEW_CONTENT > /dev/null", quote(&path)),
    ];
    if let Some(mode) = text(a, "mode") {
        out.push(line(["sudo", "chmod", &mode, &path]));
    }
    out
}

pub fn files_append_line(_: &Site, a: &Args) -> Vec<String> {
    let (path, l) = (arg(a, "path"), arg(a, "line"));
    vec![format!(
        "{} || {} | {} > /dev/null",
        line(["sudo", "grep", "-qxF", &l, &path]),
        line(["echo", &l]),
        line(["sudo", "tee", "-a", &path])
    )]
}

pub fn files_remove(_: &Site, a: &Args) -> Vec<String> {
    let path = arg(a, "path");
    vec![format!(
        "{} {}.bak-$(date -u +%Y%m%dT%H%M%SZ)",
        line(["sudo", "mv", &path]),
        quote(&path)
    )]
}

pub fn users_user(_: &Site, a: &Args) -> Vec<String> {
    let name = arg(a, "name");
    vec![line(["getent", "passwd", &name]), line(["id", &name])]
}

pub fn users_group(_: &Site, a: &Args) -> Vec<String> {
    vec![line(["getent", "group", &arg(a, "name")])]
}

pub fn users_login_accounts(_: &Site, _: &Args) -> Vec<String> {
    vec![
        "getent passwd | awk -F: '$3 == 0 || $3 >= 1000'".into(),
        "sudo cat /home/*/.ssh/authorized_keys".into(),
    ]
}

pub fn users_sudoers(_: &Site, a: &Args) -> Vec<String> {
    vec![line(["sudo", "-l", "-U", &arg(a, "name")])]
}

/// An allowlisted program, as the site rule runs it (no shell); withheld variables by name.
pub fn cmd_run(_: &Site, a: &Args) -> Vec<String> {
    let argv = list(a, "argv");
    if argv.is_empty() {
        return vec!["sudo ARGV...".into()];
    }
    let env: Vec<String> = withheld_env(a)
        .chunks(2)
        .filter_map(|kv| kv.get(1).map(|k| format!("{k}=...")))
        .collect();
    let mut w = vec!["sudo".to_string()];
    w.extend(env);
    w.extend(argv);
    vec![line(w)]
}

pub fn fail2ban_jail(_: &Site, a: &Args) -> Vec<String> {
    vec![line(["sudo", "fail2ban-client", "status", &arg(a, "name")])]
}

fn set_dir(site: &Site, a: &Args) -> String {
    let set = arg(a, "set");
    site.backups
        .sets
        .get(&set)
        .map_or_else(|| format!("{set}_DIR"), |s| s.dir.clone())
}

pub fn backup_list(site: &Site, a: &Args) -> Vec<String> {
    vec![line(["sudo", "ls", "-lt", &set_dir(site, a)])]
}

pub fn backup_verify(site: &Site, a: &Args) -> Vec<String> {
    let dir = set_dir(site, a);
    let name = arg(a, "name");
    vec![
        format!(
            "cd {} && {}",
            quote(&dir),
            line(["sudo", "sha256sum", "-c", &format!("{name}.sha256")])
        ),
        line([
            "sudo",
            "pg_restore",
            "-f",
            "/dev/null",
            &format!("{dir}/{name}"),
        ]),
    ]
}

/// Retention is decided from the verified dumps by name and time: the listing, and each
/// dump's sidecar checked.
pub fn backup_retention(site: &Site, a: &Args) -> Vec<String> {
    let dir = set_dir(site, a);
    vec![
        line(["sudo", "ls", "-lt", &dir]),
        format!("cd {} && {}", quote(&dir), "sudo sha256sum -c -- *.sha256"),
    ]
}

/// Each dump (and its sidecars) moved to the set's trash.
pub fn backup_prune(site: &Site, a: &Args) -> Vec<String> {
    let dir = set_dir(site, a);
    let trash = site
        .backups
        .sets
        .get(&arg(a, "set"))
        .and_then(|s| s.trash.clone())
        .unwrap_or_else(|| format!("{dir}/.trash"));
    let names = list(a, "names");
    let names = if names.is_empty() {
        vec!["NAMES...".to_string()]
    } else {
        names
    };
    names
        .iter()
        .map(|n| {
            format!(
                "cd {} && {}",
                quote(&dir),
                line([
                    "sudo",
                    "mv",
                    n,
                    &format!("{n}.sha256"),
                    &format!("{n}.manifest.json"),
                    &format!("{trash}/")
                ])
            )
        })
        .collect()
}

pub fn backup_dump(site: &Site, a: &Args) -> Vec<String> {
    let set = arg(a, "set");
    let Some(s) = site.backups.sets.get(&set) else {
        return vec![format!(
            "sudo docker exec CONTAINER pg_dump --format=custom -U USER DATABASE > {set}_DIR/NAME"
        )];
    };
    let pg = &s.postgres;
    vec![format!(
        "{} > {}/{}",
        line([
            "sudo",
            "docker",
            "exec",
            &pg.container,
            "pg_dump",
            "--format=custom",
            "-U",
            &pg.user,
            &pg.database
        ]),
        quote(&s.dir),
        quote(&s.name_at(chrono::Utc::now()))
    )]
}

/// The restore drill's scratch container (`backups.drill.scratch_name`, default runbook-drill).
fn scratch(a: &Args) -> String {
    arg(a, "target")
}

fn drill_log_path(site: &Site) -> String {
    site.backups
        .drill
        .as_ref()
        .map_or_else(|| "DRILL_LOG".to_string(), |d| d.log.clone())
}

pub fn drill_check(_: &Site, a: &Args) -> Vec<String> {
    vec![line(["sudo", "docker", "inspect", &scratch(a)])]
}

pub fn drill_space(site: &Site, a: &Args) -> Vec<String> {
    let set = arg(a, "set");
    let container = site.backups.sets.get(&set).map_or_else(
        || "PRODUCTION".to_string(),
        |s| s.postgres.container.clone(),
    );
    vec![line([
        "sudo", "docker", "exec", &container, "df", "-Pk", "/",
    ])]
}

pub fn drill_start(site: &Site, a: &Args) -> Vec<String> {
    let set = arg(a, "set");
    let image = site.backups.sets.get(&set).map_or_else(
        || "PRODUCTION_IMAGE".to_string(),
        |s| {
            format!(
                "$(sudo docker inspect -f '{{{{.Image}}}}' {})",
                s.postgres.container
            )
        },
    );
    vec![format!(
        "{} {image}",
        line([
            "sudo",
            "docker",
            "run",
            "-d",
            "--name",
            &scratch(a),
            "--network",
            "none",
            "-e",
            "POSTGRES_HOST_AUTH_METHOD=trust",
        ])
    )]
}

pub fn drill_restore(site: &Site, a: &Args) -> Vec<String> {
    let dir = set_dir(site, a);
    let dump = arg(a, "dump");
    vec![format!(
        "{} < {}",
        line(
            ["sudo", "docker", "exec", "-i", &scratch(a)]
                .into_iter()
                .chain(super::drill::RESTORE_ARGV)
                .chain(["DATABASE"])
        ),
        quote(&format!("{dir}/{dump}"))
    )]
}

pub fn drill_compare(_: &Site, a: &Args) -> Vec<String> {
    vec![line([
        "sudo",
        "docker",
        "exec",
        &scratch(a),
        "psql",
        "-U",
        "postgres",
        "-c",
        "\\dt+",
    ])]
}

pub fn drill_remove(_: &Site, a: &Args) -> Vec<String> {
    vec![line(["sudo", "docker", "rm", "-f", "-v", &scratch(a)])]
}

pub fn drill_log(site: &Site, _: &Args) -> Vec<String> {
    vec![format!(
        "echo ROW | {} > /dev/null",
        line(["sudo", "tee", "-a", &drill_log_path(site)])
    )]
}

pub fn drill_history(site: &Site, _: &Args) -> Vec<String> {
    vec![line(["sudo", "cat", &drill_log_path(site)])]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::registry;
    use serde_json::json;

    fn args(v: Value) -> Args {
        v.as_object().cloned().expect("an object")
    }

    fn shell(name: &str, a: Value) -> Vec<String> {
        let (module, fname) = name.split_once("::").unwrap();
        let f = registry::find(module, fname).unwrap_or_else(|| panic!("{name}"));
        (f.shell)(&Site::openclaw(), &args(a))
    }

    #[test]
    fn the_issue_examples() {
        assert_eq!(
            shell("systemd::restart", json!({"unit": "caddy.service"})),
            ["sudo systemctl restart caddy.service"]
        );
        assert_eq!(
            shell(
                "journal::entries",
                json!({"units": ["openclaw-gateway.service"], "since": "10 minutes ago", "priority": "debug", "limit": 200})
            ),
            ["sudo journalctl -u openclaw-gateway.service --since '10 minutes ago' -n 200 --no-pager"]
        );
        assert_eq!(
            shell(
                "journal::entries",
                json!({"units": ["openclaw-gateway.service"], "since": "10 minutes ago"})
            ),
            ["sudo journalctl -u openclaw-gateway.service --since '10 minutes ago' --no-pager"]
        );
        assert_eq!(
            shell("docker::containers", json!({"all": true})),
            ["sudo docker ps -a"]
        );
        assert_eq!(shell("docker::containers", json!({})), ["sudo docker ps"]);
        assert_eq!(
            shell(
                "files::read",
                json!({"path": "/home/agent/.openclaw/workspace/runtime/worker-heartbeat.json"})
            ),
            ["sudo cat /home/agent/.openclaw/workspace/runtime/worker-heartbeat.json"]
        );
    }

    #[test]
    fn the_guides_triage_commands() {
        assert_eq!(
            shell("systemd::failed", json!({})),
            ["systemctl --no-pager --failed"]
        );
        assert_eq!(shell("host::disk", json!({"path": "/"})), ["df -h /"]);
        assert_eq!(shell("host::memory", json!({})), ["free -h"]);
        assert_eq!(
            shell(
                "journal::error_counts",
                json!({"units": [], "since": "10 minutes ago"})
            ),
            ["sudo journalctl --since '10 minutes ago' -p err --no-pager"]
        );
        let st = shell(
            "systemd::statuses",
            json!({"units": ["caddy.service", "cloudflared.service"]}),
        );
        assert_eq!(
            st,
            [
                "systemctl --no-pager --type=service --state=running | grep -E 'caddy|cloudflared'",
                "systemctl status caddy.service --no-pager",
                "systemctl status cloudflared.service --no-pager",
            ]
        );
        assert_eq!(
            shell("fail2ban::jail", json!({"name": "sshd"})),
            ["sudo fail2ban-client status sshd"]
        );
    }

    /// Whatever the arguments hold, each word comes back as one word: a shell splitting the
    /// line gets exactly the arguments that were given.
    #[test]
    fn arguments_are_quoted_so_a_shell_splits_them_back() {
        for nasty in [
            "it's here",
            "a b",
            "$(rm -rf /)",
            "`id`",
            "semi;colon",
            "glob*",
            "\"dq\"",
            "new\nline",
            "",
        ] {
            let out = shell("files::read", json!({ "path": nasty }));
            let words = shlex::split(&out[0]).expect("the line splits");
            assert_eq!(words, ["sudo", "cat", nasty], "{out:?}");
        }
        let out = shell(
            "cmd::run",
            json!({"argv": ["/usr/bin/printf", "%s\n", "a b"]}),
        );
        assert_eq!(
            shlex::split(&out[0]).unwrap(),
            ["sudo", "/usr/bin/printf", "%s\n", "a b"]
        );
    }

    /// A file's new content may be a secret: it is never on the line.
    #[test]
    fn replaced_content_is_never_shown() {
        let out = shell(
            "files::replace",
            json!({"path": "/etc/x.env", "content": "TOKEN=hunter2", "mode": "0600"}),
        );
        assert!(out.iter().all(|l| !l.contains("hunter2")), "{out:?}");
        assert!(out
            .iter()
            .any(|l| l.starts_with("sudo cp -a /etc/x.env /etc/x.env.bak-")));
    }

    /// Every host function outside `site` has an equivalent, even with no arguments (the
    /// pattern `runbook api` shows, with `<name>` for each argument).
    #[test]
    fn every_function_has_an_equivalent() {
        for f in registry::all() {
            let pattern = (f.shell)(&Site::openclaw(), &Args::new());
            if f.module == "site" {
                assert!(pattern.is_empty(), "{}", f.qualified_name());
            } else {
                assert!(
                    !pattern.is_empty(),
                    "{} has no shell equivalent",
                    f.qualified_name()
                );
                assert!(pattern.iter().all(|l| !l.is_empty()));
            }
        }
    }
}
