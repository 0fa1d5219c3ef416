//! The `backups` section of a site: where each set of dumps lives, how its file names carry
//! the time, how often it is made, how long it is kept, what the restore drill may use.
//!
//! Durations are written as text (`30d`, `24h`) and held as whole seconds; the time of a dump
//! comes from its file name, never from its mtime (a copy, a restore from offsite or `touch`
//! changes the mtime, not the name).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A span of time from the site file (`30d`, `2h 30min`), in whole seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span(pub i64);

/// Text with a unit (`30d`) or whole seconds (`2592000`).
#[derive(Deserialize)]
#[serde(untagged)]
enum SpanText {
    Secs(i64),
    Text(String),
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match SpanText::deserialize(d)? {
            SpanText::Secs(n) => Ok(Span(n)),
            SpanText::Text(text) => crate::time::parse_duration(&text)
                .map(|s| Span(s.num_seconds()))
                .map_err(serde::de::Error::custom),
        }
    }
}

/// Whole seconds, so a runbook reading the site gets a number.
impl Serialize for Span {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(self.0)
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Backups {
    /// The pg_restore that verifies dumps on the host (`pg_restore -f /dev/null` reads every
    /// block).
    #[serde(default = "default_pg_restore")]
    pub pg_restore: String,
    /// Sets of dumps by name (`aurora`).
    #[serde(default)]
    pub sets: BTreeMap<String, BackupSet>,
    #[serde(default)]
    pub drill: Option<Drill>,
}

fn default_pg_restore() -> String {
    "/usr/bin/pg_restore".into()
}

impl Default for Backups {
    fn default() -> Self {
        Backups {
            pg_restore: default_pg_restore(),
            sets: BTreeMap::new(),
            drill: None,
        }
    }
}

/// One set of dumps: a directory, the names of its dumps, their schedule and retention.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BackupSet {
    /// Absolute directory the dumps are in.
    pub dir: String,
    /// File name prefix and suffix around the time: `aurora_` + `20261201` or
    /// `20261201T031800Z` + `.dump`. New dumps get the second (UTC) form.
    pub prefix: String,
    pub suffix: String,
    /// How often a dump is made; backups have stopped when the newest verified dump is older
    /// than twice this.
    pub every: Span,
    /// The time of day (UTC, `HH:MM`) the dump runs, for people; not used in any decision.
    #[serde(default)]
    pub at: Option<String>,
    /// Keep every verified dump this close to the newest verified one ...
    pub keep_within: Span,
    /// ... and at least this many of the newest verified dumps.
    pub keep_min: u32,
    /// The database the dumps are of.
    pub postgres: PgSource,
    /// Where `backups-prune` moves the dumps it deletes (with their sidecars), on the same
    /// file system as `dir` so the move is a rename; default `DIR/.trash`.
    #[serde(default)]
    pub trash: Option<String>,
    /// How long a dump stays in the trash before a later prune purges it.
    #[serde(default = "default_trash_keep")]
    pub trash_keep: Span,
}

fn default_trash_keep() -> Span {
    Span(7 * 86_400)
}

/// A database in a container, and where its credentials are.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PgSource {
    /// A container of the site (`containers`).
    pub container: String,
    pub database: String,
    pub user: String,
}

/// The restore drill: where it logs, how old its last success may be, what the scratch
/// container may use.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Drill {
    /// Absolute path of the drill log (one row appended per drill).
    pub log: String,
    /// A finding when the last successful drill is older than this.
    pub max_age: Span,
    /// Memory limit of the scratch container, MiB.
    pub scratch_memory_mib: u32,
    /// Free disk the drill needs in the scratch's data directory, MiB.
    pub scratch_disk_mib: u32,
    /// Name of the scratch container (default `runbook-drill`); the drill refuses a name that
    /// is production's or any site container's.
    #[serde(default)]
    pub scratch_name: Option<String>,
}

impl BackupSet {
    /// The time a dump's file name carries, if `name` is a dump of this set:
    /// `PREFIX` + `YYYYMMDD` (midnight UTC) or `YYYYMMDDTHHMMSSZ` + `SUFFIX`.
    pub fn time_of(&self, name: &str) -> Option<DateTime<Utc>> {
        let stamp = name
            .strip_prefix(self.prefix.as_str())?
            .strip_suffix(self.suffix.as_str())?;
        parse_stamp(stamp)
    }

    /// The trash directory of the set.
    pub fn trash_dir(&self) -> String {
        self.trash
            .clone()
            .unwrap_or_else(|| format!("{}/.trash", self.dir.trim_end_matches('/')))
    }

    /// The file name of a dump made at `t`.
    pub fn name_at(&self, t: DateTime<Utc>) -> String {
        format!(
            "{}{}{}",
            self.prefix,
            t.format("%Y%m%dT%H%M%SZ"),
            self.suffix
        )
    }
}

fn parse_stamp(stamp: &str) -> Option<DateTime<Utc>> {
    if !stamp
        .bytes()
        .all(|b| b.is_ascii_digit() || b == b'T' || b == b'Z')
    {
        return None;
    }
    match stamp.len() {
        8 => NaiveDate::parse_from_str(stamp, "%Y%m%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc()),
        16 => NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%SZ")
            .ok()
            .map(|t| t.and_utc()),
        _ => None,
    }
}

/// Checks serde cannot express; `containers` are the site's container names.
pub(super) fn validate(b: &Backups, containers: &[&str]) -> Result<(), String> {
    if !b.pg_restore.starts_with('/') {
        return Err(format!(
            "backups.pg_restore: `{}` must be an absolute path",
            b.pg_restore
        ));
    }
    for (name, set) in &b.sets {
        let at = format!("backups.sets.{name}");
        if !set.dir.starts_with('/') {
            return Err(format!("{at}.dir: `{}` must be an absolute path", set.dir));
        }
        let plain = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        };
        if !plain(&set.prefix) || !plain(&set.suffix) {
            return Err(format!(
                "{at}: prefix and suffix must be non-empty file-name words ([A-Za-z0-9._-])"
            ));
        }
        if let Some(t) = &set.trash {
            if !t.starts_with('/') {
                return Err(format!("{at}.trash: `{t}` must be an absolute path"));
            }
        }
        if set.trash_keep.0 < 0 {
            return Err(format!("{at}.trash_keep: must not be negative"));
        }
        if set.every.0 <= 0 || set.keep_within.0 <= 0 {
            return Err(format!("{at}: every and keep_within must be positive"));
        }
        if set.keep_min == 0 {
            return Err(format!(
                "{at}.keep_min: must be at least 1, or a prune could delete every dump"
            ));
        }
        if !containers.contains(&set.postgres.container.as_str()) {
            return Err(format!(
                "{at}.postgres.container: `{}` is not in containers",
                set.postgres.container
            ));
        }
    }
    if let Some(d) = &b.drill {
        if !d.log.starts_with('/') {
            return Err(format!(
                "backups.drill.log: `{}` must be an absolute path",
                d.log
            ));
        }
        if d.scratch_memory_mib < 64 {
            return Err("backups.drill.scratch_memory_mib: Postgres needs at least 64".into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::Site;

    #[test]
    fn the_shipped_site_follows_the_guide_and_the_index() {
        let site = Site::openclaw();
        let set = &site.backups.sets["aurora"];
        assert_eq!(set.dir, "/opt/aurora-infra/backups");
        assert_eq!(set.keep_within, Span(30 * 86_400));
        assert_eq!(set.keep_min, 7);
        assert_eq!(set.every, Span(86_400));
        assert_eq!(set.postgres.container, "aurora-postgres");
        let drill = site.backups.drill.as_ref().unwrap();
        assert_eq!(drill.max_age, Span(92 * 86_400));
    }

    #[test]
    fn times_come_from_names() {
        let site = Site::openclaw();
        let set = &site.backups.sets["aurora"];
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        assert_eq!(
            set.time_of("aurora_20261201.dump"),
            Some(t("2026-12-01T00:00:00Z"))
        );
        assert_eq!(
            set.time_of("aurora_20261201T031800Z.dump"),
            Some(t("2026-12-01T03:18:00Z"))
        );
        let name = set.name_at(t("2026-12-02T00:15:09Z"));
        assert_eq!(name, "aurora_20261202T001509Z.dump");
        assert_eq!(set.time_of(&name), Some(t("2026-12-02T00:15:09Z")));
        for not_ours in [
            "aurora_20261201.dump.sha256",
            "aurora_20261301.dump",
            "aurora_2026120.dump",
            "aurora_20261201T031800.dump",
            "other_20261201.dump",
            "aurora_20261201.dump.tmp",
            "aurora_+0261201.dump",
        ] {
            assert_eq!(set.time_of(not_ours), None, "{not_ours}");
        }
    }

    #[test]
    fn bad_sets_are_refused_with_the_field() {
        let yaml = include_str!("../../site/openclaw.yaml");
        for (from, to, want) in [
            ("keep_min: 7", "keep_min: 0", "keep_min: must be at least 1"),
            ("keep_within: 30d", "keep_within: soon", "invalid duration"),
            (
                "\n      dir: /opt/aurora-infra/backups",
                "\n      dir: backups",
                "must be an absolute path",
            ),
            (
                "{container: aurora-postgres,",
                "{container: nope,",
                "is not in containers",
            ),
        ] {
            assert!(yaml.contains(from), "{from} not in the site file");
            let text = yaml.replacen(from, to, 1);
            let err = Site::from_str(&text, "s.yaml")
                .err()
                .unwrap_or_else(|| panic!("{from} -> {to} was accepted"))
                .to_string();
            assert!(err.contains(want), "{from} -> {to}: {err}");
        }
    }
}
