//! Retention of a backup set applied to its directory: `backup::retention` (read) says what
//! `backups-prune` would delete and why, `backup::prune` (mutate) moves exactly that to the
//! set's trash.
//!
//! Every dump is verified first (sidecar and a full read, as `backup::verify`), because only
//! verified dumps count toward the window and the minimum; the decision itself is the pure
//! function of [`super::retention`]. `prune` is given the names the operator was shown and
//! works the table out again: if it differs (a dump appeared, one stopped verifying), nothing
//! is moved and the call is refused, so what is deleted is exactly what was shown.
//!
//! Deleting is a rename into the trash (`backups.sets.NAME.trash`, on the same file system),
//! dump first, then its sidecars; beside them `NAME.trashed.json` records when, from where,
//! under which rule and the dump's sha256. A later prune purges trash entries older than
//! `trash_keep` (7 days), by the time in that record, never by mtime.

use std::path::{Path, PathBuf};

use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::backup::{list_set, verify_one};
use super::retention::{self, Rule};
use super::{HostCtx, HostError, HostResult};
use crate::site::backups::BackupSet;

/// What the trash keeps of one deleted dump, in `NAME.trashed.json`.
#[derive(Debug, Serialize, Deserialize)]
struct Trashed {
    name: String,
    from: String,
    trashed_at: String,
    trashed_epoch: i64,
    sha256: String,
    size: u64,
    rule: String,
    /// The files moved, the dump first (plain names in the trash directory).
    files: Vec<String>,
}

/// Sidecars that go with a dump.
const SIDECARS: [&str; 2] = [".sha256", ".manifest.json"];

fn rule_name(r: Rule) -> &'static str {
    match r {
        Rule::Window => "window",
        Rule::Newest => "newest",
        Rule::Unverified => "unverified",
        Rule::Future => "future",
        Rule::Stopped => "stopped",
        Rule::Expired => "expired",
    }
}

fn rule_reason(r: Rule, set: &BackupSet) -> String {
    let days = |s: i64| format!("{}d", s / 86_400);
    match r {
        Rule::Window => format!(
            "within {} of the newest verified dump",
            days(set.keep_within.0)
        ),
        Rule::Newest => format!("among the newest {} verified dumps", set.keep_min),
        Rule::Unverified => "not verified: reported, never deleted automatically".into(),
        Rule::Future => "named in the future (clock skew?): never deleted automatically".into(),
        Rule::Stopped => format!(
            "backups have stopped (no verified dump within {}): nothing is deleted",
            days(2 * set.every.0)
        ),
        Rule::Expired => format!(
            "older than {} before the newest verified dump and not among the newest {}",
            days(set.keep_within.0),
            set.keep_min
        ),
    }
}

/// The retention table of `set` now: every dump verified and given its rule.
pub(crate) fn table(ctx: &HostCtx, set_name: &str, set: &BackupSet) -> HostResult {
    let now = Utc::now().timestamp();
    let listed = list_set(set)?;
    let mut rows = Vec::new();
    let mut dumps = Vec::new();
    for d in listed.as_array().into_iter().flatten() {
        let name = d["name"].as_str().unwrap_or_default();
        let v = verify_one(ctx, set, name)?;
        let verified = v["verified"] == json!(true);
        dumps.push(retention::Dump {
            time: d["epoch"].as_i64().unwrap_or_default(),
            verified,
        });
        let problem = if verified {
            Value::Null
        } else if v["read"] != "ok" {
            json!(format!(
                "read {}: {}",
                v["read"].as_str().unwrap_or("?"),
                v["read_errors"][0].as_str().unwrap_or("")
            ))
        } else {
            json!(format!(
                "sidecar {}{}",
                v["sidecar"].as_str().unwrap_or("?"),
                v["sidecar_problem"]
                    .as_str()
                    .map(|p| format!(": {p}"))
                    .unwrap_or_default()
            ))
        };
        rows.push(json!({
            "name": name,
            "time": d["time"],
            "size": d["size"],
            "verified": verified,
            "problem": problem,
            "sha256": v["sha256"],
        }));
    }
    let rules = retention::plan(
        &dumps,
        set.keep_within.0,
        set.keep_min as usize,
        set.every.0,
        now,
    );
    let mut delete = Vec::new();
    for (row, rule) in rows.iter_mut().zip(&rules) {
        row["action"] = json!(if rule.keeps() { "keep" } else { "delete" });
        row["rule"] = json!(rule_name(*rule));
        row["reason"] = json!(rule_reason(*rule, set));
        if !rule.keeps() {
            delete.push(row["name"].clone());
        }
    }
    let trash = set.trash_dir();
    Ok(json!({
        "set": set_name,
        "dir": set.dir,
        "stopped": rules.contains(&Rule::Stopped),
        "rows": rows,
        "delete": delete,
        "trash": trash,
        "purge": due_for_purge(set, now)?.iter().map(|(_, t)| json!(t.name)).collect::<Vec<_>>(),
    }))
}

/// The trash records older than the set's `trash_keep`, with their paths.
fn due_for_purge(set: &BackupSet, now: i64) -> Result<Vec<(PathBuf, Trashed)>, HostError> {
    let dir = PathBuf::from(set.trash_dir());
    let entries = match std::fs::read_dir(&dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(HostError::Failed(format!(
                "cannot list {}: {e}",
                dir.display()
            )))
        }
        Ok(entries) => entries,
    };
    let mut due = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.to_string_lossy().ends_with(".trashed.json") {
            continue;
        }
        let text = std::fs::read_to_string(&path)
            .map_err(|e| HostError::Failed(format!("cannot read {}: {e}", path.display())))?;
        let record: Trashed = serde_json::from_str(&text).map_err(|e| {
            HostError::Failed(format!(
                "{} is not a trash record ({e}); move it out of {} by hand",
                path.display(),
                dir.display()
            ))
        })?;
        if now - record.trashed_epoch > set.trash_keep.0 {
            due.push((path, record));
        }
    }
    due.sort_by(|a, b| a.1.name.cmp(&b.1.name));
    Ok(due)
}

fn plain(name: &str) -> bool {
    !name.is_empty() && !name.contains('/') && name != "." && name != ".."
}

/// Move `name` and its sidecars from the set's directory into the trash, recording it there.
fn trash_one(set: &BackupSet, row: &Value, now: i64) -> HostResult {
    let name = row["name"].as_str().unwrap_or_default();
    let dir = Path::new(&set.dir);
    let trash = PathBuf::from(set.trash_dir());
    std::fs::create_dir_all(&trash)
        .map_err(|e| HostError::Failed(format!("cannot create {}: {e}", trash.display())))?;
    let mut files = vec![name.to_string()];
    files.extend(
        SIDECARS
            .iter()
            .map(|s| format!("{name}{s}"))
            .filter(|f| dir.join(f).is_file()),
    );
    if let Some(taken) = files.iter().find(|f| trash.join(f).exists()) {
        return Err(HostError::Failed(format!(
            "{} is already in the trash; nothing of {name} was moved",
            trash.join(taken).display()
        )));
    }
    let record = Trashed {
        name: name.to_string(),
        from: dir.join(name).display().to_string(),
        trashed_at: Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        trashed_epoch: now,
        sha256: row["sha256"].as_str().unwrap_or_default().to_string(),
        size: row["size"].as_u64().unwrap_or_default(),
        rule: row["rule"].as_str().unwrap_or_default().to_string(),
        files: files.clone(),
    };
    // The record first: a crash after it leaves a record and the dump still in place, never a
    // dump in the trash without its hash.
    let record_path = trash.join(format!("{name}.trashed.json"));
    let text = serde_json::to_string_pretty(&record).expect("JSON") + "\n";
    std::fs::write(&record_path, text)
        .map_err(|e| HostError::Failed(format!("cannot write {}: {e}", record_path.display())))?;
    for f in &files {
        std::fs::rename(dir.join(f), trash.join(f)).map_err(|e| {
            HostError::Failed(format!(
                "cannot move {} to {}: {e} (the trash must be on the same file system)",
                dir.join(f).display(),
                trash.display()
            ))
        })?;
    }
    for d in [dir, trash.as_path()] {
        let _ = std::fs::File::open(d).and_then(|d| d.sync_all());
    }
    Ok(serde_json::to_value(&record).expect("JSON"))
}

/// Remove a trash entry that is due: its files, then its record.
fn purge_one(set: &BackupSet, path: &Path, record: &Trashed) -> HostResult {
    let trash = PathBuf::from(set.trash_dir());
    for f in record.files.iter().filter(|f| plain(f)) {
        match std::fs::remove_file(trash.join(f)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(HostError::Failed(format!(
                    "cannot remove {}: {e}",
                    trash.join(f).display()
                )))
            }
            _ => {}
        }
    }
    std::fs::remove_file(path)
        .map_err(|e| HostError::Failed(format!("cannot remove {}: {e}", path.display())))?;
    Ok(json!({"name": record.name, "sha256": record.sha256, "trashed_at": record.trashed_at}))
}

/// Move what the table deletes to the trash, if it is still exactly `names`; purge the trash
/// entries that are due.
pub(crate) fn prune(
    ctx: &HostCtx,
    set_name: &str,
    set: &BackupSet,
    names: &[String],
) -> HostResult {
    let plan = table(ctx, set_name, set)?;
    let mut want: Vec<&str> = names.iter().map(String::as_str).collect();
    want.sort_unstable();
    let mut now_deletes: Vec<&str> = plan["delete"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    now_deletes.sort_unstable();
    if want != now_deletes {
        return Err(HostError::Refused(format!(
            "the retention table changed since it was shown (shown: [{}], now: [{}]); nothing was moved: run backups-prune again and read the new table",
            want.join(", "),
            now_deletes.join(", ")
        )));
    }
    let now = Utc::now().timestamp();
    let mut purged = Vec::new();
    for (path, record) in due_for_purge(set, now)? {
        purged.push(purge_one(set, &path, &record)?);
    }
    let mut trashed = Vec::new();
    for row in plan["rows"].as_array().into_iter().flatten() {
        if row["action"] == "delete" {
            trashed.push(trash_one(set, row, now)?);
        }
    }
    Ok(json!({
        "set": set_name,
        "trash": set.trash_dir(),
        "trashed": trashed,
        "purged": purged,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::testutil;

    fn ctx_in(dir: &Path) -> (tokio::runtime::Runtime, HostCtx) {
        testutil::backup_ctx(dir, "3d", 2)
    }

    fn dump(dir: &Path, t: chrono::DateTime<Utc>, sidecar_ok: bool) -> String {
        let name = format!("db_{}.dump", t.format("%Y%m%dT%H%M%SZ"));
        let body = format!("dump {name}");
        std::fs::write(dir.join(&name), &body).unwrap();
        let hash = if sidecar_ok {
            use sha2::Digest;
            format!("{:x}", sha2::Sha256::digest(body.as_bytes()))
        } else {
            "0".repeat(64)
        };
        std::fs::write(
            dir.join(format!("{name}.sha256")),
            format!("{hash}  {name}\n"),
        )
        .unwrap();
        name
    }

    #[test]
    fn prune_moves_exactly_the_expired_verified_dumps_with_their_hashes() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let (_rt, ctx) = ctx_in(dir);
        let set = &ctx.site.backups.sets["db"];
        let now = Utc::now();
        let day = chrono::Duration::days(1);
        let names: Vec<String> = (0..8).map(|i| dump(dir, now - day * i, true)).collect();
        let bad = dump(dir, now - day * 20, false);
        let t = table(&ctx, "db", set).unwrap();
        let delete: Vec<String> = serde_json::from_value(t["delete"].clone()).unwrap();
        // Days 0..=3 are within 3 days of the newest; days 4..7 go; the bad sidecar stays.
        assert_eq!(delete, names[4..].to_vec());
        let row = |n: &str| {
            t["rows"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["name"] == n)
                .unwrap()
                .clone()
        };
        assert_eq!(row(&bad)["rule"], "unverified");
        assert!(row(&bad)["problem"]
            .as_str()
            .unwrap()
            .starts_with("sidecar mismatch"));

        let err = prune(&ctx, "db", set, &delete[1..]).unwrap_err();
        assert!(matches!(err, HostError::Refused(_)), "{err}");
        assert!(
            dir.join(&delete[0]).exists(),
            "a refused prune moves nothing"
        );

        let out = prune(&ctx, "db", set, &delete).unwrap();
        let trash = dir.join(".trash");
        for (n, rec) in delete.iter().zip(out["trashed"].as_array().unwrap()) {
            assert!(!dir.join(n).exists() && !dir.join(format!("{n}.sha256")).exists());
            assert!(trash.join(n).is_file() && trash.join(format!("{n}.sha256")).is_file());
            let (sha, _) = crate::host::backup::sha256_file(&trash.join(n)).unwrap();
            assert_eq!(rec["sha256"], sha);
            let on_disk: Value = serde_json::from_str(
                &std::fs::read_to_string(trash.join(format!("{n}.trashed.json"))).unwrap(),
            )
            .unwrap();
            assert_eq!(on_disk["sha256"], sha);
        }
        assert!(dir.join(&bad).exists());

        // Not yet due; then a record a week and a day old is purged with its files.
        assert!(due_for_purge(set, now.timestamp()).unwrap().is_empty());
        let later = now.timestamp() + 8 * 86_400;
        let due = due_for_purge(set, later).unwrap();
        assert_eq!(due.len(), 4);
        for (p, r) in &due {
            purge_one(set, p, r).unwrap();
        }
        assert_eq!(std::fs::read_dir(&trash).unwrap().count(), 0);
    }

    #[test]
    fn nothing_is_deleted_when_backups_have_stopped() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let (_rt, ctx) = ctx_in(dir);
        let set = &ctx.site.backups.sets["db"];
        let now = Utc::now();
        for i in 10..20 {
            dump(dir, now - chrono::Duration::days(i), true);
        }
        let t = table(&ctx, "db", set).unwrap();
        assert_eq!(t["stopped"], true);
        assert_eq!(t["delete"], json!([]));
        assert!(t["rows"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["rule"] == "stopped"));
    }
}
