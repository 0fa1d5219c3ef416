//! The restore drill's disk preflight (`drill::space`): refuse, before anything starts, a
//! drill whose scratch would not fit on the disk it would be written to.
//!
//! The scratch is made from production's image on the same engine, so its data directory
//! lands where Docker keeps production's own container file system: the file system that
//! `df -Pk /` reports inside the production container (a read; the runbook host itself may
//! not see Docker's storage at all, as in a container). The drill needs the larger of the
//! site's `backups.drill.scratch_disk_mib` and the database's size at dump time (the
//! manifest's `database_bytes`; for a dump without one, production's size now, an estimate).

use serde_json::{json, Value};

use super::args;
use super::backup::{dump_path, set};
use super::backup_dump::{psql, query};
use super::{Args, HostCtx, HostError, HostResult};

const MIB: u64 = 1024 * 1024;

/// Free bytes of the file system under `container`'s root, from `df -Pk /` run in it.
fn free_bytes(ctx: &HostCtx, container: &str) -> Result<u64, HostError> {
    let argv: Vec<String> = ["df", "-Pk", "/"].map(String::from).to_vec();
    let out = query(ctx, container, &argv)?;
    parse_df_available(&out).ok_or_else(|| {
        HostError::Failed(format!(
            "df -Pk / in {container} printed no available size: {}",
            out.trim()
        ))
    })
}

/// The Available column (KiB) of `df -P`'s one data line, in bytes.
fn parse_df_available(out: &str) -> Option<u64> {
    let line = out.lines().nth(1)?;
    let kib: u64 = line.split_whitespace().nth(3)?.parse().ok()?;
    Some(kib * 1024)
}

/// Why the drill cannot start, if `free` bytes are fewer than the site's `limit_mib` or the
/// database's size; both numbers are named, with where the size came from.
fn shortfall(free: u64, limit_mib: u64, database: u64, source: &str) -> Option<String> {
    let need = (limit_mib * MIB).max(database);
    (free < need).then(|| {
        format!(
            "not enough free disk for the scratch: {} MiB free on the engine's storage, the drill needs {} MiB \
             (backups.drill.scratch_disk_mib is {limit_mib} MiB; the database is {} MiB, {source})",
            free / MIB,
            need.div_ceil(MIB),
            database.div_ceil(MIB)
        )
    })
}

pub(crate) fn space(ctx: &HostCtx, a: &Args) -> HostResult {
    let (_, set) = set(ctx, a)?;
    let drill = super::drill::drill_config(ctx)?;
    let dump = dump_path(set, args::string(a, "dump")?)?;
    let container = &set.postgres.container;
    let manifest: Option<Value> =
        std::fs::read_to_string(format!("{}.manifest.json", dump.display()))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok());
    let (database, source) = match manifest.as_ref().and_then(|m| m["database_bytes"].as_u64()) {
        Some(n) => (n, "at dump time, from its manifest"),
        None => {
            let sql = "SELECT pg_database_size(current_database())";
            let n = query(ctx, container, &psql(set, sql))?
                .trim()
                .parse::<u64>()
                .map_err(|e| HostError::Failed(format!("pg_database_size in {container}: {e}")))?;
            (
                n,
                "production's size now: the dump's manifest does not record it",
            )
        }
    };
    let free = free_bytes(ctx, container)?;
    let limit_mib = u64::from(drill.scratch_disk_mib);
    if let Some(why) = shortfall(free, limit_mib, database, source) {
        return Err(HostError::Refused(format!(
            "{why}; free disk on the Docker host first, or lower backups.drill.scratch_disk_mib in {}",
            ctx.site.origin
        )));
    }
    Ok(json!({
        "free_mib": free / MIB,
        "limit_mib": limit_mib,
        "database_mib": database.div_ceil(MIB),
        "database_size_from": source,
        "need_mib": (limit_mib * MIB).max(database).div_ceil(MIB),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn df_output_gives_available_bytes() {
        let out = "Filesystem     1024-blocks     Used Available Capacity Mounted on\n\
                   overlay          264212084 21832196  73453692      23% /\n";
        assert_eq!(parse_df_available(out), Some(73_453_692 * 1024));
        assert_eq!(parse_df_available("Filesystem\n"), None);
    }

    #[test]
    fn the_larger_need_decides_and_both_numbers_are_named() {
        assert_eq!(shortfall(3 * 1024 * MIB, 2048, 100 * MIB, "x"), None);
        let why = shortfall(1024 * MIB, 2048, 100 * MIB, "at dump time").unwrap();
        assert!(why.contains("1024 MiB free"), "{why}");
        assert!(why.contains("needs 2048 MiB"), "{why}");
        let why = shortfall(3 * 1024 * MIB, 2048, 5000 * MIB, "at dump time").unwrap();
        assert!(why.contains("needs 5000 MiB"), "{why}");
        assert!(
            why.contains("the database is 5000 MiB, at dump time"),
            "{why}"
        );
    }
}
