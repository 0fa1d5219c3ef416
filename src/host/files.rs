//! Files under the site's allowed roots (`files.roots`), and nothing else.
//!
//! Every path is confined before use: it must be absolute, may not contain `..`, and its real
//! location (symlinks resolved; for a path that does not exist yet, its deepest existing
//! ancestor resolved) must lie under the real location of one of the roots. So neither `..` nor
//! a symlink can lead out of the roots. Operations then act on the resolved path.
//!
//! Secret files (`paths.secret_files`) are never shown: `read` returns only their key names,
//! and diffs and appended lines for them are withheld. Writes are atomic (temp file in the same
//! directory, fsync, rename) and keep the previous version as `PATH.bak-<UTC timestamp>` next to
//! it (sudo ignores such names in sudoers.d, sshd's `*.conf` include ignores them too).

use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use serde_json::{json, Value};

use super::args;
use super::users;
use super::{Args, Effect, HostCtx, HostError, HostFn, HostResult, Param, ParamType};

/// Largest file `read` returns and largest content `replace` writes.
const MAX_TEXT: u64 = 1024 * 1024;
/// Diffs longer than this are cut (the full change is still in the backup).
const MAX_DIFF: usize = 64 * 1024;
const MAX_LIST: usize = 1000;

/// `*` and `?` match within one path component, as in shell globs.
pub fn glob_match(pat: &[u8], s: &[u8]) -> bool {
    match (pat.first(), s.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            glob_match(&pat[1..], s) || (!s.is_empty() && s[0] != b'/' && glob_match(pat, &s[1..]))
        }
        (Some(b'?'), Some(c)) if *c != b'/' => glob_match(&pat[1..], &s[1..]),
        (Some(p), Some(c)) if p == c => glob_match(&pat[1..], &s[1..]),
        _ => false,
    }
}

/// The real location of `p`: canonical if it exists, else its deepest existing ancestor made
/// canonical with the remaining components appended. `p` must be absolute and free of `..`.
pub(crate) fn resolve(p: &Path) -> std::io::Result<PathBuf> {
    let mut existing = p.to_path_buf();
    let mut rest = Vec::new();
    loop {
        match fs::canonicalize(&existing) {
            Ok(real) => {
                let mut real = real;
                for c in rest.iter().rev() {
                    real.push(c);
                }
                return Ok(real);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let name = existing.file_name().map(|n| n.to_os_string());
                match (name, existing.parent()) {
                    (Some(n), Some(parent)) => {
                        rest.push(n);
                        existing = parent.to_path_buf();
                    }
                    _ => return Err(e),
                }
            }
            Err(e) => return Err(e),
        }
    }
}

/// A path that passed confinement.
#[derive(Debug)]
pub struct Confined {
    /// As the runbook wrote it (used in results and messages).
    pub path: String,
    /// Where it really is; all operations use this.
    pub real: PathBuf,
    pub secret: bool,
}

/// Check `path` against the site's roots. Refusals name the path and the allowed roots.
pub fn confine(ctx: &HostCtx, path: &str) -> Result<Confined, HostError> {
    let site = &ctx.site;
    let p = Path::new(path);
    if !p.is_absolute() || path.contains('\0') {
        return Err(HostError::InvalidArgument(format!(
            "{path:?} must be an absolute path"
        )));
    }
    let roots = site.files.roots.join(", ");
    let where_ = format!("site file {}: files.roots", site.origin);
    if p.components().any(|c| c == Component::ParentDir) {
        return Err(HostError::Refused(format!(
            "{path}: `..` is not allowed in paths; allowed roots: {roots} ({where_})"
        )));
    }
    let real = resolve(p).map_err(|e| HostError::Failed(format!("cannot resolve {path}: {e}")))?;
    let inside = site.files.roots.iter().any(|r| root_holds(r, &real));
    if !inside {
        let via = if real != p {
            format!(" (it resolves to {})", real.display())
        } else {
            String::new()
        };
        return Err(HostError::Refused(format!(
            "{path}{via} is outside the allowed roots: {} ({where_})",
            if roots.is_empty() { "none" } else { &roots }
        )));
    }
    let secret = is_secret(&site.paths.secret_files, path, &real);
    Ok(Confined {
        path: path.to_string(),
        real,
        secret,
    })
}

/// Is `real` (a resolved path) under `root`? A root may hold `*` and `?` within components
/// (`/home/*/.ssh`): it then matches the real path's leading components as written, so a
/// symlink that leads elsewhere is outside.
fn root_holds(root: &str, real: &Path) -> bool {
    if !root.contains(['*', '?']) {
        return resolve(Path::new(root)).is_ok_and(|r| real.starts_with(r));
    }
    let want = root.split('/').filter(|c| !c.is_empty()).count();
    let got: Vec<String> = real
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    got.len() >= want
        && glob_match(
            root.as_bytes(),
            format!("/{}", got[..want].join("/")).as_bytes(),
        )
}

/// What a call would write into a secret file (`replace`'s content, `append_line`'s line),
/// line by line and each `KEY=VALUE`'s value: the engine marks these secret before the call
/// is recorded or shown, so writing a secret file does not put its new values in the record.
/// Empty for anything else.
pub fn secret_writes(ctx: &HostCtx, function: &str, args: &Args) -> Vec<String> {
    let text_arg = match function {
        "replace" => "content",
        "append_line" => "line",
        _ => return Vec::new(),
    };
    let (Some(path), Some(text)) = (
        args.get("path").and_then(Value::as_str),
        args.get(text_arg).and_then(Value::as_str),
    ) else {
        return Vec::new();
    };
    // A path outside the roots is refused and writes nothing.
    if !confine(ctx, path).is_ok_and(|c| c.secret) {
        return Vec::new();
    }
    let mut values = vec![text.trim().to_string()];
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        values.push(line.to_string());
        if let Some((_, value)) = line.split_once('=') {
            values.push(value.trim().trim_matches(['"', '\'']).to_string());
        }
    }
    values
}

/// A file is secret if it, or the file it is a backup of (`PATH.bak-<UTC>`, which `replace`
/// and `remove` keep), matches a secret pattern: a backup holds the same values.
fn is_secret(patterns: &[String], path: &str, real: &Path) -> bool {
    let (mut path, mut real) = (path.to_string(), real.to_path_buf());
    loop {
        if matches_secret(patterns, &path, &real) {
            return true;
        }
        let original_path = backup_of(&path);
        let original_real = backup_of(&real.to_string_lossy());
        if original_path.is_none() && original_real.is_none() {
            return false;
        }
        if let Some(p) = original_path {
            path = p;
        }
        if let Some(r) = original_real {
            real = PathBuf::from(r);
        }
    }
}

/// The file `path` is a backup of, when its name ends the way [`backup_path`] names them:
/// `.bak-YYYYMMDDTHHMMSSZ`, optionally followed by `-N`.
fn backup_of(path: &str) -> Option<String> {
    static BACKUP: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"^(.+)\.bak-[0-9]{8}T[0-9]{6}Z(?:-[0-9]+)?$").expect("pattern compiles")
    });
    BACKUP.captures(path).map(|c| c[1].to_string())
}

/// A pattern matches the path as written, its real path, or its real path against the
/// pattern's own directory resolved (so a symlinked directory does not hide it).
fn matches_secret(patterns: &[String], path: &str, real: &Path) -> bool {
    let real_s = real.to_string_lossy();
    patterns.iter().any(|pat| {
        if glob_match(pat.as_bytes(), path.as_bytes())
            || glob_match(pat.as_bytes(), real_s.as_bytes())
        {
            return true;
        }
        let (dir, name) = pat.rsplit_once('/').unwrap_or(("", pat));
        match fs::canonicalize(if dir.is_empty() { "/" } else { dir }) {
            Ok(d) => {
                let pat = format!("{}/{name}", d.display());
                glob_match(pat.as_bytes(), real_s.as_bytes())
            }
            Err(_) => false,
        }
    })
}

/// Key names of a secret file: `KEY=VALUE` lines (with optional `export`), or the top-level
/// keys of a JSON object. Values never leave this function.
pub fn secret_keys(text: &str) -> Vec<String> {
    let keys: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let l = l.strip_prefix("export ").unwrap_or(l);
            let (k, _) = l.split_once('=')?;
            let k = k.trim();
            let ok = !k.is_empty()
                && !k.starts_with(|c: char| c.is_ascii_digit())
                && k.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
            ok.then(|| k.to_string())
        })
        .collect();
    if keys.is_empty() {
        if let Ok(Value::Object(m)) = serde_json::from_str::<Value>(text) {
            return m.keys().cloned().collect();
        }
    }
    keys
}

fn io_err(what: &str, path: &str, e: std::io::Error) -> HostError {
    HostError::Failed(format!("cannot {what} {path}: {e}"))
}

fn rfc3339(secs: i64) -> Option<String> {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

fn kind(ft: fs::FileType) -> &'static str {
    if ft.is_file() {
        "file"
    } else if ft.is_dir() {
        "dir"
    } else if ft.is_symlink() {
        "symlink"
    } else {
        "other"
    }
}

pub fn mode_string(mode: u32) -> String {
    format!("{:04o}", mode & 0o7777)
}

fn meta_json(md: &fs::Metadata, passwd: &[users::Passwd], groups: &[users::Group]) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "kind": kind(md.file_type()),
        "mode": mode_string(md.mode()),
        "uid": md.uid(),
        "gid": md.gid(),
        "owner": users::user_name(passwd, md.uid()),
        "group": users::group_name(groups, md.gid()),
        "size": md.size(),
        "mtime": rfc3339(md.mtime()),
        "age_secs": (now - md.mtime()).max(0),
    })
}

fn stat_json(c: &Confined) -> HostResult {
    let md = match fs::metadata(&c.real) {
        Ok(md) => md,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(json!({"path": c.path, "exists": false}));
        }
        Err(e) => return Err(io_err("stat", &c.path, e)),
    };
    let mut v = meta_json(
        &md,
        &users::passwd().unwrap_or_default(),
        &users::groups().unwrap_or_default(),
    );
    let link = fs::symlink_metadata(&c.path).is_ok_and(|m| m.file_type().is_symlink());
    v["path"] = json!(c.path);
    v["real_path"] = json!(c.real);
    v["exists"] = json!(true);
    v["symlink"] = json!(link);
    v["secret"] = json!(c.secret);
    Ok(v)
}

fn path_arg(ctx: &HostCtx, a: &Args) -> Result<Confined, HostError> {
    confine(ctx, args::string(a, "path")?)
}

fn exists(ctx: &HostCtx, a: &Args) -> HostResult {
    let c = path_arg(ctx, a)?;
    Ok(Value::Bool(c.real.exists()))
}

fn stat(ctx: &HostCtx, a: &Args) -> HostResult {
    stat_json(&path_arg(ctx, a)?)
}

fn list(ctx: &HostCtx, a: &Args) -> HostResult {
    let c = path_arg(ctx, a)?;
    let entries = fs::read_dir(&c.real).map_err(|e| io_err("list", &c.path, e))?;
    let passwd = users::passwd().unwrap_or_default();
    let groups = users::groups().unwrap_or_default();
    let mut out: Vec<Value> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let md = e.path().symlink_metadata().ok()?;
            let mut v = meta_json(&md, &passwd, &groups);
            v["name"] = json!(e.file_name().to_string_lossy());
            Some(v)
        })
        .collect();
    out.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    let truncated = out.len() > MAX_LIST;
    out.truncate(MAX_LIST);
    Ok(json!({"path": c.path, "entries": out, "truncated": truncated}))
}

/// Read a regular file, at most MAX_TEXT bytes.
fn read_bytes(c: &Confined) -> Result<(Vec<u8>, bool), HostError> {
    let md = fs::metadata(&c.real).map_err(|e| io_err("read", &c.path, e))?;
    if !md.is_file() {
        return Err(HostError::InvalidArgument(format!(
            "{} is a {}, not a file{}",
            c.path,
            kind(md.file_type()),
            if md.is_dir() { "; use files::list" } else { "" }
        )));
    }
    let f = fs::File::open(&c.real).map_err(|e| io_err("read", &c.path, e))?;
    let mut buf = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(f, MAX_TEXT), &mut buf)
        .map_err(|e| io_err("read", &c.path, e))?;
    Ok((buf, md.len() > MAX_TEXT))
}

fn read(ctx: &HostCtx, a: &Args) -> HostResult {
    let c = path_arg(ctx, a)?;
    let (bytes, truncated) = read_bytes(&c)?;
    let text = String::from_utf8_lossy(&bytes);
    if c.secret {
        return Ok(json!({"path": c.path, "secret": true, "keys": secret_keys(&text)}));
    }
    Ok(
        json!({"path": c.path, "secret": false, "content": text, "size": bytes.len(), "truncated": truncated}),
    )
}

fn read_json(ctx: &HostCtx, a: &Args) -> HostResult {
    let c = path_arg(ctx, a)?;
    if c.secret {
        return Err(HostError::Refused(format!(
            "{} is a secret file (site file {}: paths.secret_files); files::read returns its key names",
            c.path, ctx.site.origin
        )));
    }
    let (bytes, truncated) = read_bytes(&c)?;
    if truncated {
        return Err(HostError::Failed(format!(
            "{} is larger than {MAX_TEXT} bytes",
            c.path
        )));
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| HostError::Failed(format!("{} is not valid JSON: {e}", c.path)))
}

/// Unified diff of two texts, headed with the path.
pub fn unified_diff(path: &str, old: &str, new: &str) -> String {
    let mut d = similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a{path}"), &format!("b{path}"))
        .to_string();
    if d.len() > MAX_DIFF {
        let mut end = MAX_DIFF;
        while !d.is_char_boundary(end) {
            end -= 1;
        }
        d.truncate(end);
        d.push_str("\n... diff truncated ...\n");
    }
    d
}

fn parse_mode(m: &str) -> Result<u32, HostError> {
    let digits = m.strip_prefix("0o").unwrap_or(m);
    u32::from_str_radix(digits, 8)
        .ok()
        .filter(|v| *v <= 0o7777 && !digits.is_empty())
        .ok_or_else(|| {
            HostError::InvalidArgument(format!("mode {m:?} is not an octal mode like \"0640\""))
        })
}

/// The existing file's bytes and metadata, or None if it does not exist.
fn current(c: &Confined) -> Result<Option<(Vec<u8>, fs::Metadata)>, HostError> {
    match fs::symlink_metadata(&c.real) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err("stat", &c.path, e)),
        Ok(md) if !md.is_file() => Err(HostError::InvalidArgument(format!(
            "{} is a {}, not a regular file",
            c.path,
            kind(md.file_type())
        ))),
        Ok(md) => {
            let (bytes, truncated) = read_bytes(c)?;
            if truncated {
                return Err(HostError::Failed(format!(
                    "{} is larger than {MAX_TEXT} bytes",
                    c.path
                )));
            }
            Ok(Some((bytes, md)))
        }
    }
}

/// `PATH.bak-<UTC>` that does not exist yet.
fn backup_path(real: &Path) -> PathBuf {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let base = format!("{}.bak-{stamp}", real.display());
    let mut p = PathBuf::from(&base);
    let mut n = 1;
    while p.symlink_metadata().is_ok() {
        p = PathBuf::from(format!("{base}-{n}"));
        n += 1;
    }
    p
}

fn fsync_dir(dir: &Path) -> std::io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

/// The diff a runbook may see: withheld for secret files.
fn shown_diff(c: &Confined, old: &str, new: &str) -> Value {
    if c.secret {
        Value::Null
    } else {
        json!(unified_diff(&c.path, old, new))
    }
}

struct ReplaceArgs {
    c: Confined,
    content: String,
    mode: Option<u32>,
}

fn replace_args(ctx: &HostCtx, a: &Args) -> Result<ReplaceArgs, HostError> {
    let c = path_arg(ctx, a)?;
    let content = args::string(a, "content")?.to_string();
    if content.len() as u64 > MAX_TEXT {
        return Err(HostError::InvalidArgument(format!(
            "content is larger than {MAX_TEXT} bytes"
        )));
    }
    let mode = args::opt_string(a, "mode")?.map(parse_mode).transpose()?;
    Ok(ReplaceArgs { c, content, mode })
}

fn plan_replace(ctx: &HostCtx, a: &Args) -> HostResult {
    let r = replace_args(ctx, a)?;
    let cur = current(&r.c)?;
    let old = cur
        .as_ref()
        .map(|(b, _)| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default();
    let old_mode = cur.as_ref().map(|(_, md)| md.mode() & 0o7777);
    let changed = cur.is_none() || old != r.content || r.mode.is_some_and(|m| Some(m) != old_mode);
    Ok(json!({
        "path": r.c.path,
        "exists": cur.is_some(),
        "changed": changed,
        "mode": r.mode.or(old_mode).map(mode_string),
        "diff": shown_diff(&r.c, &old, &r.content),
        "secret": r.c.secret,
    }))
}

fn replace(ctx: &HostCtx, a: &Args) -> HostResult {
    let r = replace_args(ctx, a)?;
    let c = &r.c;
    let cur = current(c)?;
    let old = cur
        .as_ref()
        .map(|(b, _)| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default();
    let old_mode = cur.as_ref().map(|(_, md)| md.mode() & 0o7777);
    let mode = r.mode.or(old_mode).unwrap_or(0o644);
    if cur.is_some() && old == r.content && Some(mode) == old_mode {
        return Ok(
            json!({"path": c.path, "changed": false, "backup": null, "diff": "", "secret": c.secret}),
        );
    }
    let dir = c
        .real
        .parent()
        .ok_or_else(|| HostError::InvalidArgument(format!("{} has no directory", c.path)))?;
    if !dir.is_dir() {
        return Err(HostError::Failed(format!(
            "directory {} does not exist",
            dir.display()
        )));
    }
    let name = c.real.file_name().unwrap_or_default().to_string_lossy();
    // Unique per attempt, so a temp file left by a crash cannot block the next replace.
    let nanos = chrono::Utc::now().timestamp_subsec_nanos();
    let tmp = dir.join(format!(
        ".{name}.runbook-{}-{nanos}.tmp",
        std::process::id()
    ));
    let write = || -> std::io::Result<()> {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)?;
        f.write_all(r.content.as_bytes())?;
        f.set_permissions(fs::Permissions::from_mode(mode))?;
        if let Some((_, md)) = &cur {
            // Keep the owner: a root-run replace must not hand a user's file to root.
            std::os::unix::fs::fchown(&f, Some(md.uid()), Some(md.gid()))?;
        }
        f.sync_all()
    };
    if let Err(e) = write() {
        let _ = fs::remove_file(&tmp);
        return Err(io_err("write a temporary file for", &c.path, e));
    }
    let backup = match &cur {
        Some(_) => {
            let b = backup_path(&c.real);
            // A hard link keeps the old inode (content, mode, owner) at no cost.
            if fs::hard_link(&c.real, &b).is_err() {
                fs::copy(&c.real, &b).map_err(|e| io_err("back up", &c.path, e))?;
            }
            Some(b)
        }
        None => None,
    };
    if let Err(e) = fs::rename(&tmp, &c.real) {
        let _ = fs::remove_file(&tmp);
        return Err(io_err("rename into place", &c.path, e));
    }
    fsync_dir(dir).map_err(|e| io_err("sync the directory of", &c.path, e))?;
    Ok(json!({
        "path": c.path,
        "changed": true,
        "backup": backup,
        "diff": shown_diff(c, &old, &r.content),
        "secret": c.secret,
    }))
}

fn line_arg(a: &Args) -> Result<&str, HostError> {
    let line = args::string(a, "line")?;
    if line.contains(['\n', '\r']) {
        return Err(HostError::InvalidArgument(
            "line must not contain a newline".into(),
        ));
    }
    Ok(line)
}

fn has_line(bytes: &[u8], line: &str) -> bool {
    String::from_utf8_lossy(bytes).lines().any(|l| l == line)
}

fn plan_append_line(ctx: &HostCtx, a: &Args) -> HostResult {
    let c = path_arg(ctx, a)?;
    let line = line_arg(a)?;
    let present = match current(&c)? {
        Some((bytes, _)) => has_line(&bytes, line),
        None => {
            return Err(HostError::Failed(format!(
                "{} does not exist; create it with files::replace",
                c.path
            )))
        }
    };
    Ok(
        json!({"path": c.path, "line": if c.secret { Value::Null } else { json!(line) }, "already_present": present}),
    )
}

fn append_line(ctx: &HostCtx, a: &Args) -> HostResult {
    let c = path_arg(ctx, a)?;
    let line = line_arg(a)?;
    let Some((bytes, _)) = current(&c)? else {
        return Err(HostError::Failed(format!(
            "{} does not exist; create it with files::replace",
            c.path
        )));
    };
    if has_line(&bytes, line) {
        return Ok(json!({"path": c.path, "changed": false}));
    }
    let mut text = String::new();
    if !bytes.is_empty() && !bytes.ends_with(b"\n") {
        text.push('\n');
    }
    text.push_str(line);
    text.push('\n');
    let append = || -> std::io::Result<()> {
        let mut f = fs::OpenOptions::new()
            .append(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&c.real)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()
    };
    append().map_err(|e| io_err("append to", &c.path, e))?;
    Ok(json!({"path": c.path, "changed": true}))
}

fn remove_target(ctx: &HostCtx, a: &Args) -> Result<Confined, HostError> {
    let c = path_arg(ctx, a)?;
    let link = fs::symlink_metadata(&c.path).is_ok_and(|m| m.file_type().is_symlink());
    if link {
        return Err(HostError::InvalidArgument(format!(
            "{} is a symlink; remove refuses to act through links",
            c.path
        )));
    }
    Ok(c)
}

fn plan_remove(ctx: &HostCtx, a: &Args) -> HostResult {
    stat_json(&remove_target(ctx, a)?)
}

fn remove(ctx: &HostCtx, a: &Args) -> HostResult {
    let c = remove_target(ctx, a)?;
    if current(&c)?.is_none() {
        return Ok(json!({"path": c.path, "removed": false, "backup": null}));
    }
    // Removing is a rename to the backup name: the old file stays recoverable.
    let b = backup_path(&c.real);
    fs::rename(&c.real, &b).map_err(|e| io_err("remove", &c.path, e))?;
    if let Some(dir) = c.real.parent() {
        fsync_dir(dir).map_err(|e| io_err("sync the directory of", &c.path, e))?;
    }
    Ok(json!({"path": c.path, "removed": true, "backup": b}))
}

const PATH: Param = Param {
    name: "path",
    ty: ParamType::String,
    optional: false,
    doc: "absolute path under one of the site's files.roots",
};

pub static FNS: &[HostFn] = &[
    HostFn {
        module: "files",
        name: "exists",
        params: &[PATH],
        effect: Effect::Read,
        doc: "Whether the path exists (true/false)",
        run: exists,
        plan: None,
        shell: super::shell::files_exists,
    },
    HostFn {
        module: "files",
        name: "stat",
        params: &[PATH],
        effect: Effect::Read,
        doc: "{path, real_path, exists, kind, mode (\"0600\"), uid, gid, owner, group, size, mtime, age_secs, \
              symlink, secret}; only {path, exists: false} if missing",
        run: stat,
        plan: None,
        shell: super::shell::files_stat,
    },
    HostFn {
        module: "files",
        name: "list",
        params: &[PATH],
        effect: Effect::Read,
        doc: "Directory entries: {path, entries: [{name, kind, mode, owner, group, size, mtime, age_secs}], truncated}",
        run: list,
        plan: None,
        shell: super::shell::files_list,
    },
    HostFn {
        module: "files",
        name: "read",
        params: &[PATH],
        effect: Effect::Read,
        doc: "Text of a file: {path, secret: false, content, size, truncated}; for secret files only \
              {path, secret: true, keys: [KEY names]}",
        run: read,
        plan: None,
        shell: super::shell::files_read,
    },
    HostFn {
        module: "files",
        name: "read_json",
        params: &[PATH],
        effect: Effect::Read,
        doc: "A JSON file parsed into a value (refused for secret files)",
        run: read_json,
        plan: None,
        shell: super::shell::files_read_json,
    },
    HostFn {
        module: "files",
        name: "replace",
        params: &[
            PATH,
            Param { name: "content", ty: ParamType::String, optional: false, doc: "the new content, whole" },
            Param {
                name: "mode",
                ty: ParamType::String,
                optional: true,
                doc: "octal mode, e.g. \"0440\" (default: keep, or 0644 for a new file)",
            },
        ],
        effect: Effect::Mutate,
        doc: "Atomically replace a file, keeping PATH.bak-<UTC>: {path, changed, backup, diff, secret}; \
              plan gives the diff",
        run: replace,
        plan: Some(plan_replace),
        shell: super::shell::files_replace,
    },
    HostFn {
        module: "files",
        name: "append_line",
        params: &[PATH, Param { name: "line", ty: ParamType::String, optional: false, doc: "one line, no newline" }],
        effect: Effect::Mutate,
        doc: "Append a line unless an identical line is present: {path, changed}; the file must exist",
        run: append_line,
        plan: Some(plan_append_line),
        shell: super::shell::files_append_line,
    },
    HostFn {
        module: "files",
        name: "remove",
        params: &[PATH],
        effect: Effect::Mutate,
        doc: "Remove a file by renaming it to PATH.bak-<UTC>: {path, removed, backup}; plan gives its stat",
        run: remove,
        plan: Some(plan_remove),
        shell: super::shell::files_remove,
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::testutil;
    use std::os::unix::fs::symlink;

    /// A temp root with a site allowing only it, marking `secret.env` and `*.json` in it secret.
    fn setup() -> (tempfile::TempDir, tokio::runtime::Runtime, HostCtx, String) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        fs::create_dir(&root).unwrap();
        let root = root.to_str().unwrap().to_string();
        let site = testutil::site(&format!(
            "files: {{roots: [{root}]}}\npaths: {{secret_files: [{root}/secret.env, {root}/creds/*.json]}}\n"
        ));
        let (rt, ctx) = testutil::ctx(site);
        (dir, rt, ctx, root)
    }

    fn call(f: fn(&HostCtx, &Args) -> HostResult, ctx: &HostCtx, v: Value) -> HostResult {
        f(ctx, &testutil::args(v))
    }

    #[test]
    fn globs() {
        assert!(glob_match(
            b"/etc/cloudflared/*.json",
            b"/etc/cloudflared/44d9.json"
        ));
        assert!(!glob_match(
            b"/etc/cloudflared/*.json",
            b"/etc/cloudflared/sub/x.json"
        ));
        assert!(glob_match(b"/a/?.env", b"/a/x.env"));
        assert!(!glob_match(b"/a/?.env", b"/a/xy.env"));
        assert!(glob_match(
            b"/opt/aurora-infra/.env",
            b"/opt/aurora-infra/.env"
        ));
    }

    #[test]
    fn dotdot_escape_refused() {
        let (_d, _rt, ctx, root) = setup();
        let err = call(read, &ctx, json!({"path": format!("{root}/../outside")})).unwrap_err();
        assert!(matches!(err, HostError::Refused(_)), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains("`..` is not allowed"), "{msg}");
        assert!(msg.contains(&root), "names the allowed roots: {msg}");
        assert!(msg.contains("files.roots"), "names the site key: {msg}");
    }

    #[test]
    fn symlink_escape_refused_and_inner_links_allowed() {
        let (dir, _rt, ctx, root) = setup();
        let outside = dir.path().join("outside.txt");
        fs::write(&outside, "not yours").unwrap();
        symlink(&outside, format!("{root}/link")).unwrap();
        let err = call(read, &ctx, json!({"path": format!("{root}/link")})).unwrap_err();
        assert!(matches!(err, HostError::Refused(_)), "{err:?}");
        assert!(err.to_string().contains("resolves to"), "{err}");
        assert!(!err.to_string().contains("not yours"));
        // A symlinked directory out of the root, and writing through it.
        symlink(dir.path(), format!("{root}/up")).unwrap();
        let err = call(
            replace,
            &ctx,
            json!({"path": format!("{root}/up/new.txt"), "content": "x"}),
        )
        .unwrap_err();
        assert!(matches!(err, HostError::Refused(_)), "{err:?}");
        assert!(!dir.path().join("new.txt").exists());
        // Links that stay inside are fine.
        fs::write(format!("{root}/real.txt"), "inside").unwrap();
        symlink(format!("{root}/real.txt"), format!("{root}/alias")).unwrap();
        let r = call(read, &ctx, json!({"path": format!("{root}/alias")})).unwrap();
        assert_eq!(r["content"], "inside");
        let s = call(stat, &ctx, json!({"path": format!("{root}/alias")})).unwrap();
        assert_eq!(s["symlink"], true);
    }

    #[test]
    fn outside_roots_and_relative_paths() {
        let (_d, _rt, ctx, _root) = setup();
        let err = call(stat, &ctx, json!({"path": "/etc/shadow"})).unwrap_err();
        assert!(matches!(err, HostError::Refused(_)), "{err:?}");
        assert!(
            err.to_string()
                .starts_with("refused: /etc/shadow is outside the allowed roots"),
            "{err}"
        );
        let err = call(stat, &ctx, json!({"path": "etc/x"})).unwrap_err();
        assert!(matches!(err, HostError::InvalidArgument(_)));
        // A sibling whose name starts like the root is not inside it.
        let err = call(
            exists,
            &ctx,
            json!({"path": format!("{}2/x", ctx.site.files.roots[0])}),
        )
        .unwrap_err();
        assert!(matches!(err, HostError::Refused(_)));
    }

    #[test]
    fn secrets_show_keys_never_values() {
        let (_d, _rt, ctx, root) = setup();
        fs::write(
            format!("{root}/secret.env"),
            "# db\nPOSTGRES_USER=aurora\nexport POSTGRES_PASSWORD='hunter2'\nnot a pair\n",
        )
        .unwrap();
        let r = call(read, &ctx, json!({"path": format!("{root}/secret.env")})).unwrap();
        assert_eq!(
            r,
            json!({"path": format!("{root}/secret.env"), "secret": true, "keys": ["POSTGRES_USER", "POSTGRES_PASSWORD"]})
        );
        fs::create_dir(format!("{root}/creds")).unwrap();
        fs::write(
            format!("{root}/creds/tunnel.json"),
            r#"{"AccountTag":"a","TunnelSecret":"s3cr3t"}"#,
        )
        .unwrap();
        let r = call(
            read,
            &ctx,
            json!({"path": format!("{root}/creds/tunnel.json")}),
        )
        .unwrap();
        assert_eq!(r["keys"], json!(["AccountTag", "TunnelSecret"]));
        assert!(!r.to_string().contains("s3cr3t"));
        assert!(call(
            read_json,
            &ctx,
            json!({"path": format!("{root}/creds/tunnel.json")})
        )
        .is_err());
        // A link to a secret is still secret.
        symlink(format!("{root}/secret.env"), format!("{root}/innocent")).unwrap();
        let r = call(read, &ctx, json!({"path": format!("{root}/innocent")})).unwrap();
        assert_eq!(r["secret"], true);
        // Writing a secret file withholds the diff.
        let w = call(
            replace,
            &ctx,
            json!({"path": format!("{root}/secret.env"), "content": "POSTGRES_PASSWORD=rotated-value\n"}),
        )
        .unwrap();
        assert_eq!(w["diff"], Value::Null);
        assert!(!w.to_string().contains("hunter2") && !w.to_string().contains("rotated-value"));
        let p = call(
            plan_append_line,
            &ctx,
            json!({"path": format!("{root}/secret.env"), "line": "X=y"}),
        )
        .unwrap();
        assert_eq!(p["line"], Value::Null);
    }

    #[test]
    fn replace_is_atomic_with_backup_and_diff() {
        let (_d, _rt, ctx, root) = setup();
        let path = format!("{root}/Caddyfile");
        fs::write(
            &path,
            "aurora.nheo.ai {\n    reverse_proxy 127.0.0.1:3000\n}\n",
        )
        .unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        let new = "aurora.nheo.ai {\n    encode gzip zstd\n    reverse_proxy 127.0.0.1:3000\n}\n";
        let args = json!({"path": path, "content": new});

        let plan = call(plan_replace, &ctx, args.clone()).unwrap();
        assert_eq!(plan["changed"], true);
        assert!(
            fs::read_to_string(&path).unwrap().contains("reverse_proxy")
                && !fs::read_to_string(&path).unwrap().contains("encode")
        );
        let expected_diff = format!(
            "--- a{path}\n+++ b{path}\n@@ -1,3 +1,4 @@\n aurora.nheo.ai {{\n+    encode gzip zstd\n     reverse_proxy 127.0.0.1:3000\n }}\n"
        );
        assert_eq!(plan["diff"], expected_diff);

        let r = call(replace, &ctx, args.clone()).unwrap();
        assert_eq!(r["changed"], true);
        assert_eq!(r["diff"], expected_diff);
        assert_eq!(fs::read_to_string(&path).unwrap(), new);
        assert_eq!(
            fs::metadata(&path).unwrap().mode() & 0o7777,
            0o640,
            "mode kept"
        );
        let backup = r["backup"].as_str().unwrap();
        assert!(backup.starts_with(&format!("{path}.bak-")), "{backup}");
        assert!(fs::read_to_string(backup)
            .unwrap()
            .contains("reverse_proxy"));
        // No temp files left behind.
        let names: Vec<String> = fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");

        let again = call(replace, &ctx, args).unwrap();
        assert_eq!(again["changed"], false);
        assert_eq!(again["backup"], Value::Null);

        // New file with an explicit mode; a second backup in the same second gets a suffix.
        let sudo = format!("{root}/90-jane");
        let r = call(
            replace,
            &ctx,
            json!({"path": sudo, "content": "jane ALL=(ALL) NOPASSWD: ALL\n", "mode": "0440"}),
        )
        .unwrap();
        assert_eq!(r["backup"], Value::Null);
        assert_eq!(fs::metadata(&sudo).unwrap().mode() & 0o7777, 0o440);
        call(replace, &ctx, json!({"path": sudo, "content": "a\n"})).unwrap();
        let r = call(replace, &ctx, json!({"path": sudo, "content": "b\n"})).unwrap();
        assert!(r["backup"].as_str().unwrap().contains(".bak-"));
        assert!(call(
            replace,
            &ctx,
            json!({"path": sudo, "content": "c", "mode": "999"})
        )
        .is_err());
        assert!(call(
            replace,
            &ctx,
            json!({"path": format!("{root}/nodir/x"), "content": "c"})
        )
        .is_err());
    }

    #[test]
    fn append_line_and_remove() {
        let (_d, _rt, ctx, root) = setup();
        let keys = format!("{root}/authorized_keys");
        fs::write(&keys, "ssh-ed25519 AAAA one").unwrap();
        let line = "ssh-ed25519 BBBB jane@laptop";
        let plan = call(plan_append_line, &ctx, json!({"path": keys, "line": line})).unwrap();
        assert_eq!(plan["already_present"], false);
        assert_eq!(
            call(append_line, &ctx, json!({"path": keys, "line": line})).unwrap()["changed"],
            true
        );
        assert_eq!(
            fs::read_to_string(&keys).unwrap(),
            format!("ssh-ed25519 AAAA one\n{line}\n")
        );
        assert_eq!(
            call(append_line, &ctx, json!({"path": keys, "line": line})).unwrap()["changed"],
            false
        );
        assert!(call(append_line, &ctx, json!({"path": keys, "line": "a\nb"})).is_err());
        assert!(call(
            append_line,
            &ctx,
            json!({"path": format!("{root}/missing"), "line": "x"})
        )
        .is_err());

        let s = call(plan_remove, &ctx, json!({"path": keys})).unwrap();
        assert_eq!(s["kind"], "file");
        let r = call(remove, &ctx, json!({"path": keys})).unwrap();
        assert_eq!(r["removed"], true);
        assert!(!Path::new(&keys).exists());
        assert!(Path::new(r["backup"].as_str().unwrap()).exists());
        assert_eq!(
            call(remove, &ctx, json!({"path": keys})).unwrap()["removed"],
            false
        );
    }

    #[test]
    fn stat_and_list() {
        let (_d, _rt, ctx, root) = setup();
        let p = format!("{root}/heartbeat.json");
        fs::write(&p, r#"{"ts": 1}"#).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
        let s = call(stat, &ctx, json!({"path": p})).unwrap();
        assert_eq!(s["mode"], "0600");
        assert_eq!(s["kind"], "file");
        assert_eq!(s["size"], 9);
        assert!(s["age_secs"].as_i64().unwrap() < 60);
        let me = unsafe { libc::getuid() };
        assert_eq!(s["owner"], users::user_name(&users::passwd().unwrap(), me));
        assert_eq!(
            call(stat, &ctx, json!({"path": format!("{root}/nope")})).unwrap(),
            json!({"path": format!("{root}/nope"), "exists": false})
        );
        assert_eq!(call(exists, &ctx, json!({"path": p})).unwrap(), true);
        assert_eq!(
            call(read_json, &ctx, json!({"path": p})).unwrap(),
            json!({"ts": 1})
        );
        let l = call(list, &ctx, json!({"path": root})).unwrap();
        assert_eq!(l["entries"][0]["name"], "heartbeat.json");
        let err = call(read, &ctx, json!({"path": root})).unwrap_err();
        assert!(err.to_string().contains("use files::list"), "{err}");
    }

    #[test]
    fn backups_of_secret_files_are_secret() {
        let (_d, _rt, ctx, root) = setup();
        let secret = format!("{root}/secret.env");
        fs::write(&secret, "POSTGRES_PASSWORD=first-value\n").unwrap();
        let r = call(
            replace,
            &ctx,
            json!({"path": secret, "content": "POSTGRES_PASSWORD=second-value\n"}),
        )
        .unwrap();
        let backup = r["backup"].as_str().unwrap().to_string();
        let r = call(remove, &ctx, json!({"path": secret})).unwrap();
        let removed = r["backup"].as_str().unwrap().to_string();
        for path in [&backup, &removed] {
            let r = call(read, &ctx, json!({"path": path})).unwrap();
            assert_eq!(r["secret"], true, "{path}: {r}");
            assert!(!r.to_string().contains("-value"), "{path}: {r}");
        }
        assert_eq!(
            backup_of("/a/b.env.bak-20261201T101010Z-2").as_deref(),
            Some("/a/b.env")
        );
        assert_eq!(backup_of("/a/b.env.bak-yesterday"), None);
    }

    #[test]
    fn secret_key_extraction() {
        assert_eq!(
            secret_keys("A=1\n# B=2\n  export C = x\n9X=1\nAGE-SECRET-KEY-1QQQ\n"),
            vec!["A", "C"]
        );
        assert!(secret_keys("AGE-SECRET-KEY-1QQQ\n").is_empty());
    }
}
