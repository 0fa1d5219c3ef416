//! A dump's table of contents (`pg_restore --list`), for the restore drill's comparison of a
//! dump that has no manifest: every table the dump lists must be in the restored scratch, each
//! with its data entry (`TABLE DATA`: a table whose rows were left out of the dump, say by
//! `--exclude-table-data`, restores empty and would pass a comparison of names alone), and
//! every table restored must be listed. Row counts cannot be checked without a manifest.
//!
//! The list is read by the site's `pg_restore` (`backups.pg_restore`) on the dump file, the
//! same program the full read runs; the dump was fully read in the drill's preflight.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

use super::{HostCtx, HostError};

/// Tables of a table of contents: those it defines and those it has data for
/// (`schema.table`).
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Toc {
    pub tables: BTreeSet<String>,
    pub data: BTreeSet<String>,
}

/// Parse `pg_restore --list` output. Entry lines are `ID; OID OID TYPE SCHEMA NAME OWNER`,
/// where TYPE may be two words (`TABLE DATA`); lines starting with `;` are comments.
pub(crate) fn parse(list: &str) -> Toc {
    let mut toc = Toc::default();
    for line in list.lines() {
        let line = line.trim();
        if line.starts_with(';') {
            continue;
        }
        let Some((_, rest)) = line.split_once("; ") else {
            continue;
        };
        let words: Vec<&str> = rest.split_whitespace().skip(2).collect();
        let (into, object) = match words.as_slice() {
            ["TABLE", "DATA", object @ ..] => (&mut toc.data, object),
            ["TABLE", object @ ..] => (&mut toc.tables, object),
            _ => continue,
        };
        // SCHEMA NAME OWNER; a name with spaces spans the words between.
        if let [schema, name @ .., _owner] = object {
            if !name.is_empty() {
                into.insert(format!("{schema}.{}", name.join(" ")));
            }
        }
    }
    toc
}

/// The dump's table of contents, read by the site's pg_restore.
pub(crate) fn read(ctx: &HostCtx, dump: &Path) -> Result<Toc, HostError> {
    let program = &ctx.site.backups.pg_restore;
    let out = Command::new(program)
        .arg("--list")
        .arg(dump)
        .env_clear()
        .env("PATH", super::commands::SECURE_PATH)
        .env("LANG", "C.UTF-8")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| HostError::Failed(format!("cannot start {program}: {e}")))?;
    if !out.status.success() {
        return Err(HostError::Failed(format!(
            "{program} --list {} exited {:?}: {}",
            dump.display(),
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(parse(&String::from_utf8_lossy(&out.stdout)))
}

/// Differences between the table of contents and the restored database's tables (the
/// `tables` map of what the scratch holds).
pub(crate) fn mismatches(toc: &Toc, restored: &Value) -> Vec<String> {
    let empty = serde_json::Map::new();
    let have = restored["tables"].as_object().unwrap_or(&empty);
    let mut out = Vec::new();
    for t in &toc.tables {
        if !have.contains_key(t) {
            out.push(format!(
                "table {t} is in the dump's table of contents but was not restored"
            ));
        } else if !toc.data.contains(t) {
            out.push(format!(
                "table {t} has no data entry in the dump's table of contents: its rows were not dumped"
            ));
        }
    }
    for t in have.keys().filter(|t| !toc.tables.contains(*t)) {
        out.push(format!(
            "table {t} was restored but is not in the dump's table of contents"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const LIST: &str = ";
; Archive created at 2026-12-02 12:42:01 UTC
;     dbname: aurora
;
; Selected TOC Entries:
;
215; 1259 16390 TABLE public Message postgres
214; 1259 16389 SEQUENCE public Message_id_seq postgres
216; 1259 16400 TABLE public _prisma_migrations postgres
217; 1259 16401 TABLE public my table postgres
3350; 0 16390 TABLE DATA public Message postgres
3351; 0 16400 TABLE DATA public _prisma_migrations postgres
3352; 0 16401 TABLE DATA public my table postgres
3353; 0 0 SEQUENCE SET public Message_id_seq postgres
";

    #[test]
    fn a_list_gives_tables_and_data_entries() {
        let toc = parse(LIST);
        let want: BTreeSet<String> = [
            "public.Message",
            "public._prisma_migrations",
            "public.my table",
        ]
        .map(String::from)
        .into();
        assert_eq!(toc.tables, want);
        assert_eq!(toc.data, want);
    }

    #[test]
    fn each_difference_is_named() {
        let toc = parse(LIST);
        let all = json!({"tables": {"public.Message": 5, "public._prisma_migrations": 1, "public.my table": 0}});
        assert!(mismatches(&toc, &all).is_empty());
        let without_data =
            parse(&LIST.replace("3350; 0 16390 TABLE DATA public Message postgres\n", ""));
        assert_eq!(
            mismatches(&without_data, &all),
            ["table public.Message has no data entry in the dump's table of contents: its rows were not dumped"]
        );
        let other = json!({"tables": {"public._prisma_migrations": 1, "public.my table": 0, "public.Extra": 2}});
        assert_eq!(
            mismatches(&toc, &other),
            [
                "table public.Message is in the dump's table of contents but was not restored",
                "table public.Extra was restored but is not in the dump's table of contents",
            ]
        );
    }
}
