//! Database dumps of the site's backup sets (Rhai module `backup`): list them, and verify one
//! by its sidecar and by reading every block.
//!
//! Only files of a set's directory whose names carry the set's time (`aurora_20261201.dump`)
//! are dumps; a call naming anything else is refused, so these functions read nothing outside
//! the backup directories. Times come from the names, never from mtimes.
//!
//! Verification is two independent checks, because each misses what the other sees:
//! - the sidecar (`NAME.sha256`, `sha256sum` format) against the sha256 of the file's bytes:
//!   proves the bytes are the ones written, not that they restore;
//! - a full read, `pg_restore -f /dev/null` fed the file on stdin, which decodes every block
//!   (`--list` reads only the table of contents and passes a dump truncated by 60%). The file
//!   is read once: each block is hashed and fed to pg_restore. Its result is classified from
//!   stderr and the exit code together: an `error:` line fails it even when the exit code is 0
//!   (restores with errors ignored exit 0 in some setups), and a non-zero exit fails it even
//!   without a message.

use std::io::Read;
use std::path::{Path, PathBuf};

use chrono::Utc;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::args;
use super::backup_read::FullReader;
use super::{Args, Effect, HostCtx, HostError, HostFn, HostResult, Param, ParamType};
use crate::site::backups::BackupSet;

pub(crate) fn set<'a>(ctx: &'a HostCtx, a: &Args) -> Result<(&'a str, &'a BackupSet), HostError> {
    let name = args::string(a, "set")?;
    ctx.site
        .backups
        .sets
        .get_key_value(name)
        .map(|(k, v)| (k.as_str(), v))
        .ok_or_else(|| {
            let known: Vec<&str> = ctx.site.backups.sets.keys().map(String::as_str).collect();
            HostError::InvalidArgument(format!(
                "no backup set `{name}` (site file {}: backups.sets has {})",
                ctx.site.origin,
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ))
        })
}

/// The path of dump `name` of `set`: a plain name the set's pattern gives a time, and a
/// regular file (not a link) in its directory.
pub(crate) fn dump_path(set: &BackupSet, name: &str) -> Result<PathBuf, HostError> {
    if name.contains('/') || set.time_of(name).is_none() {
        return Err(HostError::InvalidArgument(format!(
            "`{name}` is not a dump of this set (expected {}YYYYMMDD[THHMMSSZ]{} in {})",
            set.prefix, set.suffix, set.dir
        )));
    }
    let path = Path::new(&set.dir).join(name);
    let meta = std::fs::symlink_metadata(&path)
        .map_err(|e| HostError::Failed(format!("{}: {e}", path.display())))?;
    if !meta.file_type().is_file() {
        return Err(HostError::Refused(format!(
            "{} is not a regular file (a link or a directory is never read as a dump)",
            path.display()
        )));
    }
    Ok(path)
}

fn list(ctx: &HostCtx, a: &Args) -> HostResult {
    let (_, set) = set(ctx, a)?;
    list_set(set)
}

/// The dumps of `set`, newest first (see `backup::list`).
pub(crate) fn list_set(set: &BackupSet) -> HostResult {
    let entries = std::fs::read_dir(&set.dir)
        .map_err(|e| HostError::Failed(format!("cannot list {}: {e}", set.dir)))?;
    let now = Utc::now();
    let mut dumps = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(time) = set.time_of(&name) else {
            continue;
        };
        let Ok(meta) = entry.path().symlink_metadata() else {
            continue;
        };
        if !meta.file_type().is_file() {
            continue;
        }
        let dir = Path::new(&set.dir);
        let exists = |suffix: &str| dir.join(format!("{name}{suffix}")).is_file();
        dumps.push(json!({
            "name": name,
            "path": entry.path(),
            "time": time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "epoch": time.timestamp(),
            "age_secs": (now - time).num_seconds(),
            "size": meta.len(),
            "sidecar": if exists(".sha256") { "present" } else { "missing" },
            "manifest": exists(".manifest.json"),
        }));
    }
    dumps.sort_by_key(|d| std::cmp::Reverse(d["epoch"].as_i64()));
    Ok(Value::Array(dumps))
}

/// The hash a `sha256sum` sidecar gives for `name`: one line `HEX  NAME` (or `HEX *NAME`),
/// where NAME is the dump's name or a path ending in it.
pub(crate) fn sidecar_hash(text: &str, name: &str) -> Result<String, String> {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let [line] = lines[..] else {
        return Err(format!("expected one line, found {}", lines.len()));
    };
    let (hex, file) = line
        .split_once("  ")
        .or_else(|| line.split_once(" *"))
        .ok_or("not in sha256sum format (HASH  NAME)")?;
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("the hash is not 64 hexadecimal digits".into());
    }
    let base = file.trim().rsplit('/').next().unwrap_or_default();
    if base != name {
        return Err(format!("it names {file}, not {name}"));
    }
    Ok(hex.to_ascii_lowercase())
}

/// sha256 of a file, read once in 1 MiB blocks.
pub(crate) fn sha256_file(path: &Path) -> Result<(String, u64), HostError> {
    sha256_file_each(path, |_| {})
}

/// sha256 of a file, read once in 1 MiB blocks, each block also handed to `each`.
pub(crate) fn sha256_file_each(
    path: &Path,
    mut each: impl FnMut(&[u8]),
) -> Result<(String, u64), HostError> {
    let mut f = std::fs::File::open(path)
        .map_err(|e| HostError::Failed(format!("cannot read {}: {e}", path.display())))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| HostError::Failed(format!("reading {}: {e}", path.display())))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        each(&buf[..n]);
        total += n as u64;
    }
    Ok((format!("{:x}", h.finalize()), total))
}

/// The outcome of a full read, from pg_restore's exit code and stderr together.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct FullRead {
    pub ok: bool,
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
}

pub(crate) fn classify_read(exit_code: Option<i32>, stderr: &str) -> FullRead {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    for line in stderr.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let lower = line.to_ascii_lowercase();
        if lower.contains("error:")
            || lower.contains("errors ignored")
            || lower.contains("fatal:")
            || lower.starts_with("pg_restore: [")
        {
            errors.push(line.to_string());
        } else if lower.contains("warning:") {
            warnings.push(line.to_string());
        } else if !lower.starts_with("pg_restore: ") && !errors.is_empty() {
            // Continuation of the previous message (DETAIL, HINT, context).
            errors.push(line.to_string());
        }
    }
    if exit_code != Some(0) && errors.is_empty() {
        errors.push(match exit_code {
            Some(c) => format!("pg_restore exited {c} without an error message"),
            None => "pg_restore was killed by a signal".to_string(),
        });
    }
    FullRead {
        ok: errors.is_empty(),
        errors,
        warnings,
    }
}

fn verify(ctx: &HostCtx, a: &Args) -> HostResult {
    let (_, set) = set(ctx, a)?;
    verify_one(ctx, set, args::string(a, "name")?)
}

/// Sidecar and full read of dump `name` of `set` (see the module comment), in one pass over
/// the file: each block is hashed and fed to pg_restore as it is read.
pub(crate) fn verify_one(ctx: &HostCtx, set: &BackupSet, name: &str) -> HostResult {
    let started = std::time::Instant::now();
    let path = dump_path(set, name)?;
    let total = std::fs::metadata(&path).map(|m| m.len()).ok();
    let bar = ctx.progress_bytes(&format!("verify {name}"), total, false);
    let mut reader = FullReader::start(ctx)?;
    let (sha256, size) = sha256_file_each(&path, |b| {
        reader.feed(b);
        bar.inc(b.len() as u64);
    })?;
    let read = reader.finish()?;
    drop(bar);
    Ok(verdict(
        name,
        &path,
        size,
        &sha256,
        &read,
        started.elapsed().as_millis() as u64,
    ))
}

/// How the sidecar of the dump at `path` compares with the dump's sha256: ok, missing,
/// mismatch or bad, with the problem.
fn sidecar_check(path: &Path, name: &str, sha256: &str) -> (&'static str, Option<String>) {
    let sidecar_path = PathBuf::from(format!("{}.sha256", path.display()));
    match std::fs::read_to_string(&sidecar_path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => ("missing", None),
        Err(e) => (
            "bad",
            Some(format!("cannot read {}: {e}", sidecar_path.display())),
        ),
        Ok(text) => match sidecar_hash(&text, name) {
            Ok(h) if h == sha256 => ("ok", None),
            Ok(h) => (
                "mismatch",
                Some(format!("the sidecar says {h}, the file hashes to {sha256}")),
            ),
            Err(why) => ("bad", Some(format!("{}: {why}", sidecar_path.display()))),
        },
    }
}

/// The result of a verification (`backup::verify`'s value; `backup::dump` returns the same
/// for the dump it made): the sidecar against `sha256`, the file's hash, and the full read.
pub(crate) fn verdict(
    name: &str,
    path: &Path,
    size: u64,
    sha256: &str,
    read: &FullRead,
    ms: u64,
) -> Value {
    let (sidecar, sidecar_problem) = sidecar_check(path, name, sha256);
    json!({
        "name": name,
        "path": path,
        "size": size,
        "sha256": sha256,
        "sidecar": sidecar,
        "sidecar_problem": sidecar_problem,
        "read": if read.ok { "ok" } else { "corrupt" },
        "read_errors": read.errors,
        "read_warnings": read.warnings,
        "verified": sidecar == "ok" && read.ok,
        "ms": ms,
    })
}

fn dump(ctx: &HostCtx, a: &Args) -> HostResult {
    let (name, set) = set(ctx, a)?;
    super::backup_dump::dump(ctx, name, set)
}

/// What `dump` would do: the file it would write and the space check.
fn plan_dump(ctx: &HostCtx, a: &Args) -> HostResult {
    let (name, set) = set(ctx, a)?;
    Ok(json!({
        "set": name,
        "container": set.postgres.container,
        "database": set.postgres.database,
        "would_write": Path::new(&set.dir).join(set.name_at(Utc::now())),
        "with": ["NAME.sha256", "NAME.manifest.json"],
    }))
}

fn retention(ctx: &HostCtx, a: &Args) -> HostResult {
    let (name, set) = set(ctx, a)?;
    super::backup_prune::table(ctx, name, set)
}

fn prune(ctx: &HostCtx, a: &Args) -> HostResult {
    let (name, set) = set(ctx, a)?;
    super::backup_prune::prune(ctx, name, set, &args::strings(a, "names")?)
}

/// What `prune` would do: the table as it stands, and what it would move and purge.
fn plan_prune(ctx: &HostCtx, a: &Args) -> HostResult {
    let (name, set) = set(ctx, a)?;
    let t = super::backup_prune::table(ctx, name, set)?;
    Ok(
        json!({"set": name, "would_trash": t["delete"], "into": t["trash"], "would_purge": t["purge"]}),
    )
}

const SET: Param = Param {
    name: "set",
    ty: ParamType::String,
    optional: false,
    doc: "a backup set of the site (backups.sets)",
};

pub static FNS: &[HostFn] = &[
    HostFn {
        module: "backup",
        name: "list",
        params: &[SET],
        effect: Effect::Read,
        doc: "The set's dumps, newest first: [{name, path, time (from the name), epoch, age_secs, size, \
              sidecar: present|missing, manifest: bool}]",
        run: list,
        plan: None,
        shell: super::shell::backup_list,
    },
    HostFn {
        module: "backup",
        name: "verify",
        params: &[
            SET,
            Param {
                name: "name",
                ty: ParamType::String,
                optional: false,
                doc: "the dump's file name (from backup::list)",
            },
        ],
        effect: Effect::Read,
        doc: "Check a dump's sidecar against its sha256 and read every block (pg_restore -f /dev/null): \
              {name, size, sha256, sidecar: ok|missing|mismatch|bad, sidecar_problem, read: ok|corrupt, \
              read_errors, read_warnings, verified, ms}",
        run: verify,
        plan: None,
        shell: super::shell::backup_verify,
    },
    HostFn {
        module: "backup",
        name: "dump",
        params: &[SET],
        effect: Effect::Mutate,
        doc: "Dump the set's database now (pg_dump --format=custom in its container), streamed to a temporary \
              file, hashed and read in full by pg_restore as it arrives; the manifest read in the dump's own \
              snapshot meanwhile; sidecar and manifest beside it; each renamed into place when complete, the \
              dump last; then read back against its sidecar: {set, name, path, size, sha256, dump_ms, \
              bytes_per_sec, manifest, warnings, verify (as backup::verify returns; ms: the time after the dump)}",
        run: dump,
        plan: Some(plan_dump),
        shell: super::shell::backup_dump,
    },
    HostFn {
        module: "backup",
        name: "retention",
        params: &[SET],
        effect: Effect::Read,
        doc: "Verify every dump of the set and apply its retention (keep_within of the newest verified, \
              the newest keep_min verified; unverified and future-named dumps kept; nothing deleted when \
              backups have stopped): {set, dir, stopped, rows: [{name, time, size, verified, problem, sha256, \
              action: keep|delete, rule, reason}], delete: [name], trash, purge: [name]}",
        run: retention,
        plan: None,
        shell: super::shell::backup_retention,
    },
    HostFn {
        module: "backup",
        name: "prune",
        params: &[
            SET,
            Param {
                name: "names",
                ty: ParamType::Array,
                optional: false,
                doc: "the dumps backup::retention said to delete; refused unless it still says exactly these",
            },
        ],
        effect: Effect::Mutate,
        doc: "Move the dumps retention deletes (exactly `names`) with their sidecars to the set's trash, each \
              with a NAME.trashed.json record (sha256, rule, time); purge trash entries older than trash_keep: \
              {set, trash, trashed: [{name, from, trashed_at, sha256, size, rule, files}], purged: [{name, sha256, trashed_at}]}",
        run: prune,
        plan: Some(plan_prune),
        shell: super::shell::backup_prune,
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::testutil;

    const HEX: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[test]
    fn sidecars_in_sha256sum_format() {
        let n = "aurora_20261201.dump";
        assert_eq!(sidecar_hash(&format!("{HEX}  {n}\n"), n).unwrap(), HEX);
        assert_eq!(
            sidecar_hash(&format!("{HEX} */opt/b/{n}\n"), n).unwrap(),
            HEX
        );
        for (text, why) in [
            (format!("{HEX}  other.dump\n"), "names other.dump"),
            (format!("{HEX} {n}\n"), "sha256sum format"),
            (format!("{}  {n}\n", &HEX[1..]), "64 hexadecimal"),
            (format!("{HEX}  {n}\n{HEX}  {n}\n"), "one line"),
            (String::new(), "one line"),
        ] {
            let err = sidecar_hash(&text, n).unwrap_err();
            assert!(err.contains(why), "{text:?}: {err}");
        }
    }

    /// Recorded pg_restore 15 stderr: a dump truncated to 40%, a flipped byte, a clean read, and
    /// a restore that reports ignored errors but exits 0.
    #[test]
    fn full_reads_are_classified_from_stderr_and_the_exit_code() {
        let truncated = "pg_restore: error: could not read from input file: end of file\n";
        let r = classify_read(Some(1), truncated);
        assert!(!r.ok);
        assert_eq!(r.errors, vec![truncated.trim()]);
        let flipped =
            "pg_restore: error: could not uncompress data: invalid distance too far back\n";
        assert!(!classify_read(Some(1), flipped).ok);
        assert_eq!(
            classify_read(Some(0), ""),
            FullRead {
                ok: true,
                errors: vec![],
                warnings: vec![]
            }
        );
        let ignored = "pg_restore: error: could not execute query: ERROR:  relation exists\n\
                       Command was: CREATE TABLE x ();\n\
                       pg_restore: warning: errors ignored on restore: 1\n";
        let r = classify_read(Some(0), ignored);
        assert!(!r.ok, "exit 0 with errors is a failure");
        assert_eq!(r.errors.len(), 3, "{r:?}");
        let r = classify_read(Some(1), "");
        assert!(!r.ok);
        assert!(r.errors[0].contains("exited 1 without an error message"));
        assert!(!classify_read(None, "").ok);
        let warned = classify_read(Some(0), "pg_restore: warning: archive is compressed\n");
        assert!(warned.ok && warned.warnings.len() == 1);
    }

    fn ctx_in(dir: &Path) -> (tokio::runtime::Runtime, HostCtx) {
        testutil::backup_ctx(dir, "30d", 7)
    }

    #[test]
    fn lists_only_the_sets_dumps_by_the_time_in_their_names() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        for f in [
            "db_20261101.dump",
            "db_20261130T031800Z.dump",
            "db_20261130T031800Z.dump.sha256",
            "db_x.dump",
            "other.txt",
        ] {
            std::fs::write(p.join(f), "x").unwrap();
        }
        std::os::unix::fs::symlink("/etc/passwd", p.join("db_20261201.dump")).unwrap();
        // An old mtime on the newest name changes nothing.
        let old = std::fs::File::options()
            .write(true)
            .open(p.join("db_20261130T031800Z.dump"))
            .unwrap();
        old.set_modified(std::time::SystemTime::UNIX_EPOCH).unwrap();
        let (_rt, ctx) = ctx_in(p);
        let l = list(&ctx, &testutil::args(json!({"set": "db"}))).unwrap();
        let names: Vec<&str> = l
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["db_20261130T031800Z.dump", "db_20261101.dump"]);
        assert_eq!(l[0]["time"], "2026-11-30T03:18:00Z");
        assert_eq!(l[0]["sidecar"], "present");
        assert_eq!(l[1]["sidecar"], "missing");
        let err = list(&ctx, &testutil::args(json!({"set": "nope"}))).unwrap_err();
        assert!(err.to_string().contains("backups.sets has db"), "{err}");
        for (name, refused) in [
            ("../db_20261101.dump", false),
            ("other.txt", false),
            ("db_20261201.dump", true),
        ] {
            let err =
                verify(&ctx, &testutil::args(json!({"set": "db", "name": name}))).unwrap_err();
            assert_eq!(
                matches!(err, HostError::Refused(_)),
                refused,
                "{name}: {err:?}"
            );
        }
    }

    #[test]
    fn verify_checks_the_sidecar_and_reads() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        let name = "db_20261101.dump";
        std::fs::write(p.join(name), "test").unwrap();
        let (_rt, ctx) = ctx_in(p);
        let v = || verify(&ctx, &testutil::args(json!({"set": "db", "name": name}))).unwrap();
        assert_eq!(v()["sidecar"], "missing");
        assert_eq!(v()["verified"], false);
        std::fs::write(p.join(format!("{name}.sha256")), format!("{HEX}  {name}\n")).unwrap();
        let r = v();
        assert_eq!(
            (
                r["sidecar"].as_str(),
                r["read"].as_str(),
                r["verified"].as_bool()
            ),
            (Some("ok"), Some("ok"), Some(true)),
            "{r}"
        );
        std::fs::write(p.join(name), "tesT").unwrap();
        let r = v();
        assert_eq!(r["sidecar"], "mismatch");
        assert_eq!(r["verified"], false);
    }
}
