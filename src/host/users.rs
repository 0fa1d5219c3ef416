//! Accounts, groups, SSH keys and sudo grants, read from the files themselves.
//!
//! /etc/passwd and /etc/group are parsed directly (not through NSS): the server has local
//! accounts only, and parsing is pure and testable. Other backends use the lookups here to show
//! owner names (files::stat, host::top_processes) and to run commands as a user (cmd::run).

use std::path::Path;

use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::args;
use super::{Args, Effect, HostCtx, HostError, HostFn, HostResult, Param, ParamType};

#[derive(Debug, Clone, PartialEq)]
pub struct Passwd {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub gecos: String,
    pub home: String,
    pub shell: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub name: String,
    pub gid: u32,
    pub members: Vec<String>,
}

/// Parse /etc/passwd text; malformed lines are skipped.
pub fn parse_passwd(text: &str) -> Vec<Passwd> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() != 7 {
                return None;
            }
            Some(Passwd {
                name: f[0].to_string(),
                uid: f[2].parse().ok()?,
                gid: f[3].parse().ok()?,
                gecos: f[4].to_string(),
                home: f[5].to_string(),
                shell: f[6].to_string(),
            })
        })
        .collect()
}

/// Parse /etc/group text; malformed lines are skipped.
pub fn parse_group(text: &str) -> Vec<Group> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() != 4 {
                return None;
            }
            Some(Group {
                name: f[0].to_string(),
                gid: f[2].parse().ok()?,
                members: f[3]
                    .split(',')
                    .filter(|m| !m.is_empty())
                    .map(str::to_string)
                    .collect(),
            })
        })
        .collect()
}

fn read_etc(path: &str) -> Result<String, HostError> {
    std::fs::read_to_string(path).map_err(|e| HostError::Failed(format!("cannot read {path}: {e}")))
}

pub fn passwd() -> Result<Vec<Passwd>, HostError> {
    Ok(parse_passwd(&read_etc("/etc/passwd")?))
}

pub fn groups() -> Result<Vec<Group>, HostError> {
    Ok(parse_group(&read_etc("/etc/group")?))
}

/// uid → name, falling back to the number (as `ls -n` would show it).
pub fn user_name(users: &[Passwd], uid: u32) -> String {
    users
        .iter()
        .find(|u| u.uid == uid)
        .map_or_else(|| uid.to_string(), |u| u.name.clone())
}

pub fn group_name(groups: &[Group], gid: u32) -> String {
    groups
        .iter()
        .find(|g| g.gid == gid)
        .map_or_else(|| gid.to_string(), |g| g.name.clone())
}

/// The groups a user is in: the primary group first, then the groups listing it as a member.
pub fn groups_of<'a>(user: &Passwd, groups: &'a [Group]) -> Vec<&'a Group> {
    let mut out: Vec<&Group> = groups
        .iter()
        .filter(|g| g.gid == user.gid)
        .take(1)
        .collect();
    for g in groups {
        if g.members.iter().any(|m| m == &user.name) && !out.iter().any(|o| o.gid == g.gid) {
            out.push(g);
        }
    }
    out
}

/// Shells that let an account log in interactively.
pub fn is_login_shell(shell: &str) -> bool {
    let base = shell.rsplit('/').next().unwrap_or("");
    !shell.is_empty() && !matches!(base, "nologin" | "false" | "sync" | "halt" | "shutdown")
}

/// One key of an authorized_keys file.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthorizedKey {
    pub key_type: String,
    pub comment: String,
    /// `SHA256:<base64 without padding>`, as `ssh-keygen -l` prints it.
    pub fingerprint: String,
    /// Options before the key (`from="..."`, `command="..."`), if any.
    pub options: Option<String>,
}

/// The fingerprint of a decoded key blob.
pub fn fingerprint(blob: &[u8]) -> String {
    let digest = Sha256::digest(blob);
    format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest)
    )
}

/// Split at whitespace outside double quotes (option values may contain spaces).
fn tokens(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted) = (None, false);
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if let Some(s) = start.take() {
                    out.push(&line[s..i]);
                }
                continue;
            }
            _ => {}
        }
        start.get_or_insert(i);
    }
    if let Some(s) = start {
        out.push(&line[s..]);
    }
    out
}

/// A key blob starts with its own type as an SSH string; check it matches the declared type.
fn decode_blob(key_type: &str, b64: &str) -> Option<Vec<u8>> {
    let blob = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    let len = u32::from_be_bytes(blob.get(..4)?.try_into().ok()?) as usize;
    (blob.get(4..4 + len)? == key_type.as_bytes()).then_some(blob)
}

/// Parse an authorized_keys file. Returns the keys and the number of lines that are neither keys
/// nor comments (an audit finding in itself).
pub fn parse_authorized_keys(text: &str) -> (Vec<AuthorizedKey>, usize) {
    let mut keys = Vec::new();
    let mut invalid = 0;
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let t = tokens(line);
        // The key type is the first token whose successor decodes to a blob of that type; any
        // tokens before it are options.
        let found = (0..t.len().saturating_sub(1))
            .find_map(|i| decode_blob(t[i], t[i + 1]).map(|blob| (i, blob)));
        match found {
            Some((i, blob)) => keys.push(AuthorizedKey {
                key_type: t[i].to_string(),
                comment: t[i + 2..].join(" "),
                fingerprint: fingerprint(&blob),
                options: (i > 0).then(|| t[..i].join(" ")),
            }),
            None => invalid += 1,
        }
    }
    (keys, invalid)
}

fn keys_json(home: &str) -> Value {
    let path = Path::new(home).join(".ssh/authorized_keys");
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let (keys, invalid) = parse_authorized_keys(&text);
            let keys: Vec<Value> = keys
                .iter()
                .map(|k| {
                    json!({"type": k.key_type, "comment": k.comment, "fingerprint": k.fingerprint,
                           "options": k.options})
                })
                .collect();
            json!({"path": path, "exists": true, "keys": keys, "invalid_lines": invalid, "error": null})
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            json!({"path": path, "exists": false, "keys": [], "invalid_lines": 0, "error": null})
        }
        Err(e) => {
            json!({"path": path, "exists": null, "keys": [], "invalid_lines": 0, "error": e.to_string()})
        }
    }
}

fn user_json(u: &Passwd, groups: &[Group]) -> Value {
    let names: Vec<&str> = groups_of(u, groups)
        .iter()
        .map(|g| g.name.as_str())
        .collect();
    json!({
        "name": u.name,
        "uid": u.uid,
        "gid": u.gid,
        "gecos": u.gecos,
        "home": u.home,
        "shell": u.shell,
        "login_shell": is_login_shell(&u.shell),
        "groups": names,
    })
}

fn user(_ctx: &HostCtx, a: &Args) -> HostResult {
    let name = args::string(a, "name")?;
    let groups = groups()?;
    Ok(passwd()?
        .iter()
        .find(|u| u.name == name)
        .map_or(Value::Null, |u| user_json(u, &groups)))
}

fn group(_ctx: &HostCtx, a: &Args) -> HostResult {
    let name = args::string(a, "name")?;
    let users = passwd()?;
    Ok(groups()?
        .iter()
        .find(|g| g.name == name)
        .map_or(Value::Null, |g| {
            // Members by membership list and by primary group, as `getent group` + passwd would.
            let mut members = g.members.clone();
            for u in users.iter().filter(|u| u.gid == g.gid) {
                if !members.contains(&u.name) {
                    members.push(u.name.clone());
                }
            }
            json!({"name": g.name, "gid": g.gid, "members": members})
        }))
}

/// Accounts a person could log in as: a login shell and uid >= 1000 (or root).
pub fn is_login_account(u: &Passwd) -> bool {
    is_login_shell(&u.shell) && (u.uid == 0 || (u.uid >= 1000 && u.uid != 65534))
}

fn login_accounts(ctx: &HostCtx, _a: &Args) -> HostResult {
    let groups = groups()?;
    let sudo = read_sudoers(&sudoers_dir(ctx));
    let out: Vec<Value> = passwd()?
        .iter()
        .filter(|u| is_login_account(u))
        .map(|u| {
            let mut v = user_json(u, &groups);
            let grants = sudo_grants(&sudo, u, &groups);
            v["sudo"] = json!(grants.iter().map(|g| g["file"].clone()).collect::<Vec<_>>());
            v["authorized_keys"] = keys_json(&u.home);
            v
        })
        .collect();
    Ok(Value::Array(out))
}

/// One logical line of a sudoers file (continuations joined).
#[derive(Debug, Clone)]
pub struct SudoersLine {
    pub file: String,
    /// sudo skips files in an includedir whose name contains `.` or ends in `~`.
    pub active: bool,
    pub line: String,
}

fn sudoers_dir(ctx: &HostCtx) -> String {
    ctx.site
        .paths
        .sudoers_dir
        .clone()
        .unwrap_or_else(|| "/etc/sudoers.d".into())
}

/// Logical, non-comment lines of one sudoers file.
pub fn sudoers_lines(file: &str, active: bool, text: &str) -> Vec<SudoersLine> {
    let mut out = Vec::new();
    let mut acc = String::new();
    for raw in text.lines() {
        let l = raw.trim();
        if let Some(body) = l.strip_suffix('\\') {
            acc.push_str(body);
            acc.push(' ');
            continue;
        }
        acc.push_str(l);
        let line = std::mem::take(&mut acc);
        let directive = line.starts_with("#include") || line.starts_with("@include");
        if line.is_empty() || (line.starts_with('#') && !directive) {
            continue;
        }
        out.push(SudoersLine {
            file: file.to_string(),
            active,
            line,
        });
    }
    out
}

/// /etc/sudoers plus every file in the drop-in directory. Unreadable files are reported as a
/// line starting with `!unreadable` so the caller sees them instead of a silent gap.
pub fn read_sudoers(dir: &str) -> Vec<SudoersLine> {
    let mut files = vec![("/etc/sudoers".to_string(), true)];
    if let Ok(entries) = std::fs::read_dir(dir) {
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for n in names {
            let active = !n.contains('.') && !n.ends_with('~');
            files.push((format!("{dir}/{n}"), active));
        }
    }
    let mut out = Vec::new();
    for (path, active) in files {
        match std::fs::read_to_string(&path) {
            Ok(text) => out.extend(sudoers_lines(&path, active, &text)),
            // No sudo installed: nothing grants anything.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => out.push(SudoersLine {
                file: path,
                active,
                line: format!("!unreadable: {e}"),
            }),
        }
    }
    out
}

/// Does `line` name `word` as a whole sudoers token?
fn mentions(line: &str, word: &str) -> bool {
    let sep = |c: char| c.is_whitespace() || ",:=!()".contains(c);
    line.split(sep).any(|t| t == word)
}

/// Lines granting or mentioning the user, directly or through a `%group` they belong to.
pub fn sudo_grants(lines: &[SudoersLine], user: &Passwd, groups: &[Group]) -> Vec<Value> {
    let group_names: Vec<String> = groups_of(user, groups)
        .iter()
        .map(|g| format!("%{}", g.name))
        .collect();
    lines
        .iter()
        .filter_map(|l| {
            let via = if mentions(&l.line, &user.name) {
                None
            } else {
                Some(group_names.iter().find(|g| mentions(&l.line, g))?.clone())
            };
            Some(json!({"file": l.file, "active": l.active, "line": l.line, "via_group": via}))
        })
        .collect()
}

fn sudoers(ctx: &HostCtx, a: &Args) -> HostResult {
    let name = args::string(a, "name")?;
    let users = passwd()?;
    let groups = groups()?;
    let Some(u) = users.iter().find(|u| u.name == name) else {
        return Err(HostError::InvalidArgument(format!(
            "no account named {name} in /etc/passwd"
        )));
    };
    let lines = read_sudoers(&sudoers_dir(ctx));
    let unreadable: Vec<&str> = lines
        .iter()
        .filter(|l| l.line.starts_with("!unreadable"))
        .map(|l| l.file.as_str())
        .collect();
    Ok(json!({
        "user": name,
        "grants": sudo_grants(&lines, u, &groups),
        "unreadable": unreadable,
    }))
}

const NAME: Param = Param {
    name: "name",
    ty: ParamType::String,
    optional: false,
    doc: "account or group name",
};

pub static FNS: &[HostFn] = &[
    HostFn {
        module: "users",
        name: "user",
        params: &[NAME],
        effect: Effect::Read,
        doc: "An account: {name, uid, gid, gecos, home, shell, login_shell, groups}, or () if none",
        run: user,
        plan: None,
        shell: super::shell::users_user,
    },
    HostFn {
        module: "users",
        name: "group",
        params: &[NAME],
        effect: Effect::Read,
        doc: "A group: {name, gid, members}, or () if none",
        run: group,
        plan: None,
        shell: super::shell::users_group,
    },
    HostFn {
        module: "users",
        name: "login_accounts",
        params: &[],
        effect: Effect::Read,
        doc: "Accounts with a login shell (uid >= 1000 or root), each with its sudo files and \
              authorized_keys {path, exists, keys: [{type, comment, fingerprint, options}], invalid_lines, error}",
        run: login_accounts,
        plan: None,
        shell: super::shell::users_login_accounts,
    },
    HostFn {
        module: "users",
        name: "sudoers",
        params: &[NAME],
        effect: Effect::Read,
        doc: "sudoers lines naming the account or one of its %groups: {user, grants: [{file, active, line, via_group}], unreadable}",
        run: sudoers,
        plan: None,
        shell: super::shell::users_sudoers,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
do-agent:x:999:988::/home/do-agent:/bin/false
agent:x:1000:1000:OpenClaw agent,,,:/home/agent:/bin/bash
juanesteban:x:1001:1001::/home/juanesteban:/bin/bash
miguel:x:1002:1002:Miguel Legarda:/home/miguel:/bin/bash
nat:x:1003:1003::/home/nat:/bin/bash
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
broken line
";
    const GROUP: &str = "root:x:0:
sudo:x:27:miguel,juanesteban
docker:x:988:agent
agent:x:1000:
miguel:x:1002:
";

    #[test]
    fn parses_passwd_and_group() {
        let users = parse_passwd(PASSWD);
        assert_eq!(users.len(), 8);
        let miguel = users.iter().find(|u| u.name == "miguel").unwrap();
        assert_eq!(
            miguel,
            &Passwd {
                name: "miguel".into(),
                uid: 1002,
                gid: 1002,
                gecos: "Miguel Legarda".into(),
                home: "/home/miguel".into(),
                shell: "/bin/bash".into(),
            }
        );
        let groups = parse_group(GROUP);
        assert_eq!(groups[1].members, vec!["miguel", "juanesteban"]);
        assert!(groups[0].members.is_empty());
        let names: Vec<&str> = groups_of(miguel, &groups)
            .iter()
            .map(|g| g.name.as_str())
            .collect();
        assert_eq!(names, vec!["miguel", "sudo"]);
        assert_eq!(user_name(&users, 1003), "nat");
        assert_eq!(user_name(&users, 4242), "4242");
        assert_eq!(group_name(&groups, 988), "docker");
    }

    #[test]
    fn login_accounts_filter() {
        let users = parse_passwd(PASSWD);
        let names: Vec<&str> = users
            .iter()
            .filter(|u| is_login_account(u))
            .map(|u| u.name.as_str())
            .collect();
        assert_eq!(names, vec!["root", "agent", "juanesteban", "miguel", "nat"]);
    }

    /// Fingerprints as `ssh-keygen -lf` printed them for these keys.
    #[test]
    fn authorized_keys_fingerprints_match_ssh_keygen() {
        let text = "# operators\n\
ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEVWsIv3tvck5wp3VW7ARAWShQWJ9UJH3Nshje9SbzmO jane@laptop\n\
from=\"10.0.0.1,10.0.0.2\",no-pty ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCjRDm/B61TWQl3Mp8ec+dqJYJeBs8nH16Sp3UWh1VnjXHdI1vmSKgqxCJep4J/XYA0ZNqa6+Ipr85coLYgwOrXjLFQtCOVz/yuVJXhRxF1cOgaJ4b3bKKYezicB537vViYHlCYQ3LjOBAXkbdneaAxxTIlwSM9K/aYcvZ8k4fIsL8283QQqgNXO3szh0gSLzBqEtbR9Y3+vhZs1SoDi3ezL0Ekfe7N4uVe9sze2E2YK8Vu5q67ABLNxxgmnhT+7Gj0IvOpyHVcgb/ZHE7W4Q8PWjmX2VoxV0dnr8jX4JUOmjoDARtJERl0uQA2VWjQEDFesyqFku4X3F4mNIRXGYAT miguel@arpagrowth laptop\n\
\n\
ssh-ed25519 not-base64 broken\n";
        let (keys, invalid) = parse_authorized_keys(text);
        assert_eq!(invalid, 1);
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0].key_type, "ssh-ed25519");
        assert_eq!(keys[0].comment, "jane@laptop");
        assert_eq!(
            keys[0].fingerprint,
            "SHA256:CbM99qgfZdNxn/u+XWtK8oCmIiLb1r38aFDOCzWLoFg"
        );
        assert_eq!(keys[0].options, None);
        assert_eq!(keys[1].key_type, "ssh-rsa");
        assert_eq!(keys[1].comment, "miguel@arpagrowth laptop");
        assert_eq!(
            keys[1].fingerprint,
            "SHA256:h9ZOxolq6fK1lNU6dosIiKojgYGzXcOSQFh5o/xnB4E"
        );
        assert_eq!(
            keys[1].options.as_deref(),
            Some("from=\"10.0.0.1,10.0.0.2\",no-pty")
        );
    }

    #[test]
    fn key_type_must_match_blob() {
        // An ed25519 blob declared as ssh-rsa is not a valid key line.
        let (keys, invalid) = parse_authorized_keys(
            "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIEVWsIv3tvck5wp3VW7ARAWShQWJ9UJH3Nshje9SbzmO x",
        );
        assert!(keys.is_empty());
        assert_eq!(invalid, 1);
    }

    #[test]
    fn sudoers_grants_direct_and_by_group() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("90-miguel"),
            "# Miguel\nmiguel ALL=(ALL) NOPASSWD: ALL\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("90-miguel.bak-20240101T000000Z"),
            "miguel ALL=(ALL) ALL\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("openclaw-bg-allowlist"),
            "agent ALL=(root) NOPASSWD: /usr/bin/systemctl restart openclaw-bg-worker, \\\n  /usr/bin/systemctl status openclaw-bg-worker\nmiguelito ALL=(ALL) ALL\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("admins"), "%sudo ALL=(ALL:ALL) ALL\n").unwrap();
        let lines = read_sudoers(dir.path().to_str().unwrap());
        let users = parse_passwd(PASSWD);
        let groups = parse_group(GROUP);
        let miguel = users.iter().find(|u| u.name == "miguel").unwrap();
        let grants = sudo_grants(&lines, miguel, &groups);
        let grants: Vec<_> = grants
            .iter()
            .filter(|g| !g["file"].as_str().unwrap().starts_with("/etc/sudoers"))
            .collect();
        assert_eq!(grants.len(), 3, "{grants:?}");
        let by_file = |suffix: &str| {
            grants
                .iter()
                .find(|g| g["file"].as_str().unwrap().ends_with(suffix))
                .unwrap()
        };
        assert_eq!(by_file("/90-miguel")["active"], true);
        assert_eq!(by_file(".bak-20240101T000000Z")["active"], false);
        assert_eq!(by_file("/admins")["via_group"], "%sudo");
        // The continuation is one logical line, and "miguelito" is not "miguel".
        let agent = users.iter().find(|u| u.name == "agent").unwrap();
        let g = sudo_grants(&lines, agent, &groups);
        let g: Vec<_> = g
            .iter()
            .filter(|g| g["file"].as_str().unwrap().ends_with("allowlist"))
            .collect();
        assert_eq!(g.len(), 1);
        assert!(g[0]["line"]
            .as_str()
            .unwrap()
            .contains("status openclaw-bg-worker"));
    }

    #[test]
    fn shells() {
        assert!(is_login_shell("/bin/bash"));
        assert!(!is_login_shell("/usr/sbin/nologin"));
        assert!(!is_login_shell("/bin/false"));
        assert!(!is_login_shell(""));
    }
}
