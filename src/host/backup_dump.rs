//! `backup::dump`: a new dump of a backup set, complete under its final name or not there at
//! all, and verified as it was written.
//!
//! `pg_dump --format=custom --snapshot=ID` runs inside the set's Postgres container (its own
//! socket, so no password is involved) and its output is streamed into a temporary file in the
//! backups directory (`.NAME.partial`: a leading dot, so it is never taken for a dump), hashed
//! with sha256 and fed to `pg_restore -f /dev/null` (the full read) as it arrives. Meanwhile,
//! in the same snapshot (see `backup_snapshot`), the manifest's facts are read: time,
//! database, server version, exact `count(*)` of every table, the `_prisma_migrations` rows,
//! the sha256 of the normalized schema-only dump. The manifest (`NAME.manifest.json`) and the
//! sidecar (`NAME.sha256`, `sha256sum` format) are written the same way; each file is fsynced
//! and renamed into place, the dump last, and the directory fsynced. Then the dump is read
//! back and hashed against its sidecar. A process killed at any point leaves at most
//! `.partial` files, never a half dump under a dump's name. A dump refused for lack of space
//! (less than twice the previous dump free) or failed by pg_dump (an `error:` on stderr, or a
//! non-zero exit) leaves nothing. A dump whose full read fails is kept under its name for
//! inspection and reported unverified (retention never counts it).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use chrono::Utc;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::backup::{classify_read, sha256_file, verdict};
use super::backup_read::FullReader;
use super::{backup_snapshot, docker, metrics, HostCtx, HostError, HostResult};
use crate::site::backups::BackupSet;

/// A file written under a temporary name, renamed into place only when complete; removed if
/// dropped before.
struct Pending {
    tmp: PathBuf,
    dest: PathBuf,
    file: Option<File>,
}

impl Pending {
    fn create(dir: &Path, name: &str) -> Result<Pending, HostError> {
        let tmp = dir.join(format!(".{name}.partial"));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| HostError::Failed(format!("cannot create {}: {e}", tmp.display())))?;
        Ok(Pending {
            tmp,
            dest: dir.join(name),
            file: Some(file),
        })
    }

    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.file
            .as_mut()
            .expect("open until finished")
            .write_all(bytes)
    }

    /// fsync, then rename into place.
    fn finish(mut self) -> Result<(), HostError> {
        let file = self.file.take().expect("finished once");
        let fail = |what: &str, e: std::io::Error| {
            HostError::Failed(format!("{what} {}: {e}", self.tmp.display()))
        };
        file.sync_all().map_err(|e| fail("cannot fsync", e))?;
        drop(file);
        std::fs::rename(&self.tmp, &self.dest).map_err(|e| fail("cannot rename", e))?;
        Ok(())
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if self.file.is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

fn fsync_dir(dir: &Path) -> Result<(), HostError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| HostError::Failed(format!("cannot fsync {}: {e}", dir.display())))
}

/// Output of a short command in the container (a query), as text; a failure says what failed.
pub(crate) fn query(ctx: &HostCtx, container: &str, argv: &[String]) -> Result<String, HostError> {
    ctx.block_on(query_async(ctx, container, argv))
}

pub(crate) async fn query_async(
    ctx: &HostCtx,
    container: &str,
    argv: &[String],
) -> Result<String, HostError> {
    let mut out = Vec::new();
    let (code, stderr) = docker::exec_stream(ctx, container, argv, |b| {
        out.extend_from_slice(b);
        Ok(())
    })
    .await?;
    if code != Some(0) {
        return Err(HostError::Failed(format!(
            "{} in {container} exited {code:?}: {}",
            argv[0],
            stderr.trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

pub(crate) fn psql(set: &BackupSet, sql: &str) -> Vec<String> {
    let pg = &set.postgres;
    [
        "psql",
        "-X",
        "-U",
        &pg.user,
        "-d",
        &pg.database,
        "-v",
        "ON_ERROR_STOP=1",
        "-tAc",
        sql,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// `"schema"."table"` with the quotes doubled inside, as Postgres quotes identifiers.
fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// The schema-only dump without what differs between two dumps of the same schema: comments,
/// blank lines and the `\restrict` keys recent pg_dump versions add.
pub(crate) fn normalize_schema(text: &str) -> String {
    text.lines()
        .filter(|l| {
            let t = l.trim();
            !(t.is_empty()
                || t.starts_with("--")
                || t.starts_with("\\restrict")
                || t.starts_with("\\unrestrict"))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// What a manifest holds about the database, from queries that `ask` answers (one psql
/// command each, `-tA` output): separate execs, or one session in a snapshot.
pub(crate) struct Facts {
    time: String,
    version: String,
    size: Option<u64>,
    tables: serde_json::Map<String, Value>,
    migrations: Value,
    schema_sha256: String,
    /// The exported snapshot the dump and these facts were read in, when they were.
    pub snapshot: Option<Value>,
}

impl Facts {
    /// The schema-only dump's text, hashed normalized.
    pub(crate) fn schema(&mut self, text: &str) {
        self.schema_sha256 = format!("{:x}", Sha256::digest(normalize_schema(text).as_bytes()));
    }

    fn manifest(self, set: &BackupSet, name: &str, sha256: &str) -> Value {
        let pg = &set.postgres;
        json!({
            "dump": name,
            "sha256": sha256,
            "time": self.time,
            "database": pg.database,
            "container": pg.container,
            "server_version": self.version,
            // What a restore needs on disk, roughly: the drill's disk preflight reads it.
            "database_bytes": self.size,
            "tables": self.tables,
            "prisma_migrations": self.migrations,
            "schema_sha256": self.schema_sha256,
            "snapshot": self.snapshot,
        })
    }
}

/// The server version, size, tables with their exact row counts, and migrations; the schema
/// hash is left to [`Facts::schema`].
pub(crate) async fn facts(
    mut ask: impl AsyncFnMut(String) -> Result<String, HostError>,
) -> Result<Facts, HostError> {
    let time = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let head = ask(
        "SELECT current_setting('server_version') || '|' || pg_database_size(current_database())"
            .into(),
    )
    .await?;
    let (version, size) = head.trim().rsplit_once('|').unwrap_or((head.trim(), ""));
    let tables = ask("SELECT schemaname || '.' || tablename FROM pg_tables \
         WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1"
        .into())
    .await?;
    let tables: Vec<(String, String)> = tables
        .lines()
        .filter_map(|l| l.split_once('.'))
        .map(|(s, t)| (s.to_string(), t.to_string()))
        .collect();
    let mut counts = serde_json::Map::new();
    if !tables.is_empty() {
        let sql = tables
            .iter()
            .map(|(s, t)| {
                format!(
                    "SELECT {}, count(*) FROM {}.{}",
                    quote_literal(&format!("{s}.{t}")),
                    quote_ident(s),
                    quote_ident(t)
                )
            })
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        for line in ask(sql).await?.lines() {
            if let Some((t, n)) = line.rsplit_once('|') {
                counts.insert(t.to_string(), json!(n.trim().parse::<i64>().unwrap_or(-1)));
            }
        }
    }
    let migrations = if counts.contains_key("public._prisma_migrations") {
        let rows =
            ask("SELECT migration_name FROM public._prisma_migrations ORDER BY 1".into()).await?;
        json!(rows.lines().collect::<Vec<_>>())
    } else {
        Value::Null
    };
    Ok(Facts {
        time,
        version: version.to_string(),
        size: size.parse().ok(),
        tables: counts,
        migrations,
        schema_sha256: String::new(),
        snapshot: None,
    })
}

/// The schema-only dump, without what a restore made with --no-owner (the drill's) changes.
pub(crate) fn schema_argv(set: &BackupSet) -> Vec<String> {
    let pg = &set.postgres;
    [
        "pg_dump",
        "-U",
        &pg.user,
        "-d",
        &pg.database,
        "--schema-only",
        // Owners and grants differ in a restore made with --no-owner (the drill's): the
        // schema compared is the objects themselves.
        "--no-owner",
        "--no-privileges",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// What the drill compares a restore against, read from a quiet database (the scratch): one
/// exec per query, the schema-only dump beside them.
pub(crate) fn manifest_of(ctx: &HostCtx, set: &BackupSet, name: &str, sha256: &str) -> HostResult {
    let c = &set.postgres.container;
    let schema_argv = schema_argv(set);
    let (schema, facts) = ctx.block_on(async {
        tokio::join!(
            query_async(ctx, c, &schema_argv),
            facts(async |sql: String| query_async(ctx, c, &psql(set, &sql)).await)
        )
    });
    let mut facts = facts?;
    facts.schema(&schema?);
    Ok(facts.manifest(set, name, sha256))
}

fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The newest existing dump's size: the space check wants twice it free.
fn previous_size(set: &BackupSet) -> u64 {
    std::fs::read_dir(&set.dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let t = set.time_of(&name)?;
            Some((t, e.metadata().ok()?.len()))
        })
        .max_by_key(|(t, _)| *t)
        .map_or(0, |(_, n)| n)
}

pub(crate) fn dump(ctx: &HostCtx, set_name: &str, set: &BackupSet) -> HostResult {
    let dir = Path::new(&set.dir);
    let previous = previous_size(set);
    let fs = metrics::statvfs(&set.dir)?;
    let free = fs.bavail * fs.frsize;
    if free < 2 * previous {
        return Err(HostError::Refused(format!(
            "{} has {free} bytes free, less than twice the previous dump ({previous} bytes); free space first",
            set.dir
        )));
    }
    let now = Utc::now();
    let name = set.name_at(now);
    if dir.join(&name).exists() {
        return Err(HostError::Failed(format!("{name} exists already")));
    }
    let mut file = Pending::create(dir, &name)?;
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    // The full read runs while the dump streams: pg_restore decodes each block as it is
    // written, on the other core.
    let mut reader = FullReader::start(ctx)?;
    let pg = &set.postgres;
    let bar = ctx.progress_bytes(
        &format!("pg_dump {}", pg.database),
        (previous > 0).then_some(previous),
        true,
    );
    let started = std::time::Instant::now();
    let ((code, stderr), facts) =
        ctx.block_on(backup_snapshot::dump_with_facts(ctx, set, |b| {
            hasher.update(b);
            size += b.len() as u64;
            bar.inc(b.len() as u64);
            reader.feed(b);
            file.write(b)
        }))?;
    drop(bar);
    let dump_ms = started.elapsed().as_millis() as u64;
    let read = classify_read(
        code.map(|c| c as i32),
        &stderr.replace("pg_dump:", "pg_restore:"),
    );
    if !read.ok {
        return Err(HostError::Failed(format!(
            "pg_dump in {} failed: {}",
            pg.container,
            read.errors.join("; ")
        )));
    }
    let full_read = reader.finish()?;
    let sha256 = format!("{:x}", hasher.finalize());
    let manifest = facts.manifest(set, &name, &sha256);
    let mut m = Pending::create(dir, &format!("{name}.manifest.json"))?;
    let text = serde_json::to_string_pretty(&manifest).expect("JSON") + "\n";
    m.write(text.as_bytes())
        .map_err(|e| HostError::Failed(format!("writing the manifest: {e}")))?;
    let mut s = Pending::create(dir, &format!("{name}.sha256"))?;
    s.write(format!("{sha256}  {name}\n").as_bytes())
        .map_err(|e| HostError::Failed(format!("writing the sidecar: {e}")))?;
    m.finish()?;
    s.finish()?;
    file.finish()?;
    fsync_dir(dir)?;
    // The file as the file system gives it back after fsync (from the page cache: this proves
    // the bytes written are the bytes hashed and decoded, not what the disk's platter holds),
    // against the sidecar, as `backup::verify` checks it.
    let path = dir.join(&name);
    let (on_disk, on_disk_size) = sha256_file(&path)?;
    let verify = verdict(
        &name,
        &path,
        on_disk_size,
        &on_disk,
        &full_read,
        started.elapsed().as_millis() as u64 - dump_ms,
    );
    Ok(json!({
        "set": set_name,
        "name": name,
        "path": path,
        "size": size,
        "sha256": sha256,
        "dump_ms": dump_ms,
        "bytes_per_sec": (size * 1000).checked_div(dump_ms).unwrap_or(size),
        "manifest": manifest,
        "warnings": read.warnings,
        "verify": verify,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pending_file_appears_only_when_finished() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = Pending::create(dir.path(), "db_1.dump").unwrap();
        p.write(b"half").unwrap();
        assert!(!dir.path().join("db_1.dump").exists());
        drop(p);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "dropped: nothing left"
        );
        let mut p = Pending::create(dir.path(), "db_1.dump").unwrap();
        p.write(b"whole").unwrap();
        p.finish().unwrap();
        assert_eq!(
            std::fs::read(dir.path().join("db_1.dump")).unwrap(),
            b"whole"
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn schema_text_is_normalized() {
        let a = "--\n-- PostgreSQL database dump\n--\n\\restrict abc\nCREATE TABLE t (id int);\n\n\\unrestrict abc\n";
        let b = "-- other comment\n\\restrict xyz\nCREATE TABLE t (id int);\n";
        assert_eq!(normalize_schema(a), normalize_schema(b));
        assert_ne!(
            normalize_schema(a),
            normalize_schema("CREATE TABLE t (id bigint);")
        );
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }
}
