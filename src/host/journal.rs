//! The systemd journal, read by running `journalctl -o json` as an argv (never a shell).
//!
//! journalctl is the stable interface to the journal files (the sd-journal C API would need
//! libsystemd bindings). Every option is passed in `--name=value` form, so a value starting with
//! `-` cannot be taken for an option. Output is parsed line by line as it streams, so counting
//! errors over a large window does not hold the whole output in memory.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Map, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

use super::args;
use super::journal_files;
use super::systemd::normalize_unit;
use super::{Args, Effect, HostCtx, HostError, HostFn, HostResult, Param, ParamType};

const RUN_TIMEOUT: Duration = Duration::from_secs(60);
const DEFAULT_LIMIT: i64 = 200;
const MAX_LIMIT: i64 = 10_000;
/// Messages longer than this are cut (a runbook shows them in a terminal table).
const MAX_MESSAGE: usize = 8 * 1024;
/// Upper bound of entries `error_counts` reads, so a log storm cannot stall triage.
const MAX_COUNTED: u64 = 200_000;

/// journalctl priority names, in numeric order.
const PRIORITIES: [&str; 8] = [
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
];

/// A priority given as 0-7 or a name ("err", also "error"/"warn").
pub fn parse_priority(v: &Value) -> Result<u8, HostError> {
    let bad = || {
        HostError::InvalidArgument(format!(
            "priority {v} is not 0-7 or one of {}",
            PRIORITIES.join(", ")
        ))
    };
    match v {
        Value::Number(n) => n
            .as_u64()
            .filter(|p| *p <= 7)
            .map(|p| p as u8)
            .ok_or_else(bad),
        Value::String(s) => {
            let s = match s.to_ascii_lowercase().as_str() {
                "error" => "err".to_string(),
                "warn" => "warning".to_string(),
                other => other.to_string(),
            };
            if let Ok(n) = s.parse::<u8>() {
                return if n <= 7 { Ok(n) } else { Err(bad()) };
            }
            PRIORITIES
                .iter()
                .position(|p| *p == s)
                .map(|p| p as u8)
                .ok_or_else(bad)
        }
        _ => Err(bad()),
    }
}

/// `since` as journalctl takes it: any form of the one time grammar ([`crate::time`]),
/// turned into `@SECONDS`, so journalctl and the in-process reader see the same instant and
/// a form journalctl would misread (`2h`) or reject never reaches it.
pub fn since_arg(since: &str) -> Result<String, HostError> {
    crate::time::parse_time(since, chrono::Utc::now())
        .map(crate::time::journal_arg)
        .map_err(|e| HostError::InvalidArgument(format!("since: {e}")))
}

/// The argv after the program name.
pub fn journalctl_argv(
    units: &[String],
    since: &str,
    priority: Option<u8>,
    limit: Option<&str>,
    fields: &str,
    dir: Option<&str>,
) -> Vec<String> {
    let mut argv = vec![
        "--output=json".to_string(),
        "--no-pager".to_string(),
        "--quiet".to_string(),
        // Without --all, fields over 4 KiB come out as null; we cut long messages ourselves.
        "--all".to_string(),
        format!("--output-fields={fields}"),
        format!("--since={since}"),
    ];
    argv.extend(units.iter().map(|u| format!("--unit={u}")));
    if let Some(d) = dir {
        argv.push(format!("--directory={d}"));
    }
    if let Some(p) = priority {
        argv.push(format!("--priority={p}"));
    }
    if let Some(n) = limit {
        argv.push(format!("--lines={n}"));
    }
    argv
}

/// A journal field as text. journalctl prints a field as a string, as `null` when it was too
/// large, as an array of byte values when it is not valid UTF-8, and as an array of those when
/// the entry has the field more than once.
pub fn field_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Array(items) if items.iter().all(Value::is_number) => {
            let bytes: Vec<u8> = items
                .iter()
                .filter_map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
                .collect();
            Some(String::from_utf8_lossy(&bytes).into_owned())
        }
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().filter_map(field_text).collect();
            (!parts.is_empty()).then(|| parts.join("\n"))
        }
        _ => None,
    }
}

fn field_int(e: &Map<String, Value>, k: &str) -> Option<i64> {
    e.get(k)
        .and_then(field_text)
        .and_then(|s| s.trim().parse().ok())
}

fn cut(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

/// The unit an entry is about: systemd's own messages about a unit ("Failed with result ...")
/// carry `UNIT`; a service's output carries `_SYSTEMD_UNIT`.
fn entry_unit(e: &Map<String, Value>) -> Option<String> {
    ["UNIT", "_SYSTEMD_UNIT"]
        .iter()
        .find_map(|k| e.get(*k).and_then(field_text))
}

/// One journalctl JSON line as a record: {time, unit, priority, identifier, pid, message}.
pub fn parse_entry(line: &str) -> Option<Value> {
    let Value::Object(e) = serde_json::from_str::<Value>(line).ok()? else {
        return None;
    };
    let time = field_int(&e, "__REALTIME_TIMESTAMP")
        .and_then(chrono::DateTime::from_timestamp_micros)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true));
    Some(json!({
        "time": time,
        "unit": entry_unit(&e),
        "priority": field_int(&e, "PRIORITY"),
        "identifier": e.get("SYSLOG_IDENTIFIER").and_then(field_text),
        "pid": field_int(&e, "_PID"),
        "message": e.get("MESSAGE").and_then(field_text).map(|m| cut(m, MAX_MESSAGE)),
    }))
}

/// Key for error counts: the unit, else the syslog identifier.
pub fn count_key(e: &Value) -> String {
    e["unit"]
        .as_str()
        .or(e["identifier"].as_str())
        .unwrap_or("unknown")
        .to_string()
}

/// Run journalctl and hand each parsed entry to `each`.
async fn stream(
    ctx: &HostCtx,
    argv: Vec<String>,
    mut each: impl FnMut(Value),
) -> Result<(), HostError> {
    let program = &ctx.site.paths.journalctl;
    let mut child = tokio::process::Command::new(program)
        .args(&argv)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("LANG", "C.UTF-8")
        .env("SYSTEMD_PAGER", "")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| HostError::Unreachable {
            backend: "journal",
            address: program.clone(),
            reason: format!("cannot run journalctl: {e} (site file: paths.journalctl)"),
        })?;
    let stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let work = async {
        let mut lines = BufReader::new(stdout).lines();
        let mut err = Vec::new();
        let read_err = async {
            // Keep only the start of stderr; it is for the error message.
            let _ = (&mut stderr).take(4096).read_to_end(&mut err).await;
            err
        };
        let read_out = async {
            while let Some(line) = lines.next_line().await? {
                if let Some(e) = parse_entry(&line) {
                    each(e);
                }
            }
            Ok::<(), std::io::Error>(())
        };
        let (out, err) = tokio::join!(read_out, read_err);
        let status = child.wait().await?;
        out?;
        Ok::<_, std::io::Error>((status, err))
    };
    let (status, err) = tokio::time::timeout(RUN_TIMEOUT, work)
        .await
        .map_err(|_| HostError::Timeout {
            what: "journalctl".into(),
            seconds: RUN_TIMEOUT.as_secs(),
        })?
        .map_err(|e| HostError::Failed(format!("reading journalctl output: {e}")))?;
    if !status.success() {
        return Err(HostError::Failed(format!(
            "journalctl exited with {status}: {}",
            String::from_utf8_lossy(&err).trim()
        )));
    }
    Ok(())
}

fn units_arg(a: &Args) -> Result<Vec<String>, HostError> {
    args::strings(a, "units")?
        .iter()
        .map(|u| normalize_unit(u))
        .collect()
}

fn entries(ctx: &HostCtx, a: &Args) -> HostResult {
    let units = units_arg(a)?;
    let dir = ctx.site.paths.journal_dir.as_deref();
    journal_files::require(dir)?;
    let since = since_arg(args::string(a, "since")?)?;
    let priority = a
        .get("priority")
        .filter(|v| !v.is_null())
        .map(parse_priority)
        .transpose()?;
    let limit = args::int_in(a, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)?.to_string();
    let argv = journalctl_argv(
        &units,
        &since,
        priority,
        Some(&limit),
        "MESSAGE,PRIORITY,SYSLOG_IDENTIFIER,_PID,_SYSTEMD_UNIT,UNIT",
        dir,
    );
    let mut out = Vec::new();
    ctx.block_on(stream(ctx, argv, |e| out.push(e)))?;
    Ok(Value::Array(out))
}

fn error_counts(ctx: &HostCtx, a: &Args) -> HostResult {
    let units = units_arg(a)?;
    let since = since_arg(args::string(a, "since")?)?;
    // No journal files (or none this user may read) read as an empty journal: say so instead.
    let dir = ctx.site.paths.journal_dir.as_deref();
    let files = journal_files::require(dir)?;
    // The whole journal, from a time given relative to now: counted in this process when
    // libsystemd is there (journalctl's start-up was most of this call's time).
    if units.is_empty() {
        let from = super::journal_native::since_usec(&since, chrono::Utc::now());
        if let Some((total, by_unit)) =
            from.and_then(|t| super::journal_native::error_counts(t, MAX_COUNTED, dir))
        {
            return Ok(json!({"since": since, "total": total, "by_unit": by_unit,
                "reader": "sd-journal", "unreadable_files": files.unreadable}));
        }
    }
    let argv = journalctl_argv(
        &units,
        &since,
        Some(3),
        Some(&MAX_COUNTED.to_string()),
        "PRIORITY,SYSLOG_IDENTIFIER,_SYSTEMD_UNIT,UNIT",
        dir,
    );
    // Requested units appear even with no errors, so a runbook can index them directly.
    let mut by_unit: BTreeMap<String, u64> = units.iter().map(|u| (u.clone(), 0)).collect();
    let mut total = 0u64;
    ctx.block_on(stream(ctx, argv, |e| {
        total += 1;
        *by_unit.entry(count_key(&e)).or_default() += 1;
    }))?;
    Ok(json!({"since": since, "total": total, "by_unit": by_unit,
        "reader": "journalctl", "unreadable_files": files.unreadable}))
}

const UNITS: Param = Param {
    name: "units",
    ty: ParamType::Array,
    optional: false,
    doc: "unit names (bare names mean NAME.service); empty = the whole journal",
};
const SINCE: Param = Param {
    name: "since",
    ty: ParamType::String,
    optional: false,
    doc: "\"10 minutes ago\", \"-10m\", \"today\" or RFC3339",
};

pub static FNS: &[HostFn] = &[
    HostFn {
        module: "journal",
        name: "entries",
        params: &[
            UNITS,
            SINCE,
            Param {
                name: "priority",
                ty: ParamType::Any,
                optional: true,
                doc: "0-7 or emerg/alert/crit/err/warning/notice/info/debug; this and more severe",
            },
            Param {
                name: "limit",
                ty: ParamType::Int,
                optional: true,
                doc: "newest N entries (default 200, at most 10000)",
            },
        ],
        effect: Effect::Read,
        doc: "Journal entries, oldest first: [{time, unit, priority, identifier, pid, message}]",
        run: entries,
        plan: None,
        shell: super::shell::journal_entries,
    },
    HostFn {
        module: "journal",
        name: "error_counts",
        params: &[UNITS, SINCE],
        effect: Effect::Read,
        doc: "Entries of priority err or worse per unit (or syslog identifier): {since, total, by_unit, reader, unreadable_files} (reader: sd-journal when counted in process, else journalctl); fails as unreachable when there are no journal files or none may be read",
        run: error_counts,
        plan: None,
        shell: super::shell::journal_error_counts,
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::testutil;

    // Recorded `journalctl -o json` lines (trimmed to the fields we read).
    const SAMPLE: &str = r#"{"__REALTIME_TIMESTAMP":"1716800000123456","PRIORITY":"6","SYSLOG_IDENTIFIER":"caddy","_PID":"812","_SYSTEMD_UNIT":"caddy.service","MESSAGE":"{\"level\":\"info\",\"msg\":\"serving initial configuration\"}"}
{"__REALTIME_TIMESTAMP":"1716800001000000","PRIORITY":"3","SYSLOG_IDENTIFIER":"node","_PID":"1201","_SYSTEMD_UNIT":"openclaw-gateway.service","MESSAGE":[69,114,114,58,32,255,254,32,98,97,100]}
{"__REALTIME_TIMESTAMP":"1716800002000000","PRIORITY":"3","SYSLOG_IDENTIFIER":"systemd","_PID":"1","_SYSTEMD_UNIT":"init.scope","UNIT":"openclaw-gateway.service","MESSAGE":"openclaw-gateway.service: Failed with result 'exit-code'."}
{"__REALTIME_TIMESTAMP":"1716800003000000","PRIORITY":"2","SYSLOG_IDENTIFIER":"kernel","MESSAGE":null}
{"__REALTIME_TIMESTAMP":"1716800004000000","PRIORITY":"4","SYSLOG_IDENTIFIER":"sshd","_PID":"99","_SYSTEMD_UNIT":"ssh.service","MESSAGE":["first","second"]}
not json at all"#;

    #[test]
    fn parses_recorded_lines() {
        let recs: Vec<Value> = SAMPLE.lines().filter_map(parse_entry).collect();
        assert_eq!(recs.len(), 5);
        assert_eq!(
            recs[0],
            json!({
                "time": "2024-05-27T08:53:20.123456Z",
                "unit": "caddy.service",
                "priority": 6,
                "identifier": "caddy",
                "pid": 812,
                "message": "{\"level\":\"info\",\"msg\":\"serving initial configuration\"}",
            })
        );
        // Non-UTF-8 message arrives as an array of bytes.
        assert_eq!(recs[1]["message"], "Err: \u{fffd}\u{fffd} bad");
        // systemd's message about a unit counts for that unit.
        assert_eq!(recs[2]["unit"], "openclaw-gateway.service");
        assert_eq!(recs[2]["identifier"], "systemd");
        assert_eq!(recs[3]["message"], Value::Null);
        assert_eq!(recs[3]["unit"], Value::Null);
        assert_eq!(count_key(&recs[3]), "kernel");
        assert_eq!(recs[4]["message"], "first\nsecond");
    }

    #[test]
    fn long_messages_are_cut_on_a_char_boundary() {
        let s = cut("é".repeat(10), 5);
        assert_eq!(s, "éé…");
    }

    #[test]
    fn since_forms() {
        // Every form of the one grammar becomes @SECONDS, relative ones counted from now.
        let now = chrono::Utc::now().timestamp();
        for (form, back) in [("10 minutes ago", 600), ("-10m", 600), ("2h", 7200)] {
            let arg = since_arg(form).unwrap();
            let secs: i64 = arg.strip_prefix('@').unwrap().parse().unwrap();
            assert!((now - back - secs).abs() <= 2, "{form} -> {arg}");
        }
        assert_eq!(since_arg("2024-05-27T08:53:20Z").unwrap(), "@1716800000");
        assert_eq!(
            since_arg("2024-05-27T10:53:20+02:00").unwrap(),
            "@1716800000"
        );
        assert!(since_arg("$(reboot)").is_err());
        assert!(since_arg("").is_err());
        assert!(since_arg("garbage").is_err());
    }

    #[test]
    fn priorities() {
        assert_eq!(parse_priority(&json!("err")).unwrap(), 3);
        assert_eq!(parse_priority(&json!("ERROR")).unwrap(), 3);
        assert_eq!(parse_priority(&json!("warning")).unwrap(), 4);
        assert_eq!(parse_priority(&json!(0)).unwrap(), 0);
        assert_eq!(parse_priority(&json!("7")).unwrap(), 7);
        assert!(parse_priority(&json!(8)).is_err());
        assert!(parse_priority(&json!("loud")).is_err());
    }

    #[test]
    fn argv_uses_equals_forms() {
        let argv = journalctl_argv(
            &["caddy.service".into()],
            "-10m",
            Some(3),
            Some("200"),
            "MESSAGE",
            Some("/srv/copied-journal"),
        );
        assert!(argv.contains(&"--directory=/srv/copied-journal".to_string()));
        assert!(argv.contains(&"--since=-10m".to_string()));
        assert!(argv.contains(&"--unit=caddy.service".to_string()));
        assert!(argv.contains(&"--priority=3".to_string()));
        assert!(argv.contains(&"--lines=200".to_string()));
        assert!(argv.contains(&"--output=json".to_string()));
    }

    /// A directory holding one (empty) journal file: enough for the "are there journal files"
    /// check, so the tests reach the reader.
    fn journal_dir_with_a_file() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("system.journal"), b"").unwrap();
        dir
    }

    /// No journal files: both calls say so instead of reading an empty journal as "no errors".
    #[test]
    fn no_journal_files_is_unreachable_not_empty() {
        let empty = tempfile::tempdir().unwrap();
        let (_rt, ctx) = testutil::ctx(testutil::site(&format!(
            "paths: {{journal_dir: {}}}\n",
            empty.path().display()
        )));
        let a = testutil::args(json!({"units": [], "since": "-10m"}));
        for err in [
            error_counts(&ctx, &a).unwrap_err(),
            entries(&ctx, &a).unwrap_err(),
        ] {
            assert_eq!(err.kind(), "unreachable", "{err}");
            assert!(err.to_string().contains("no journal files"), "{err}");
        }
    }

    #[test]
    fn missing_journalctl_is_unreachable() {
        let files = journal_dir_with_a_file();
        let (_rt, ctx) = testutil::ctx(testutil::site(&format!(
            "paths: {{journalctl: /nonexistent/journalctl, journal_dir: {}}}\n",
            files.path().display()
        )));
        let err =
            entries(&ctx, &testutil::args(json!({"units": [], "since": "-10m"}))).unwrap_err();
        match &err {
            HostError::Unreachable {
                backend, address, ..
            } => {
                assert_eq!(*backend, "journal");
                assert_eq!(address, "/nonexistent/journalctl");
            }
            other => panic!("expected Unreachable, got {other:?}"),
        }
    }

    /// A stand-in journalctl (a script printing recorded lines) exercises the whole path:
    /// spawn, stream, parse, count.
    #[test]
    fn counts_errors_through_a_fake_journalctl() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("journal.json");
        std::fs::write(&data, SAMPLE).unwrap();
        let fake = dir.path().join("journalctl");
        std::fs::write(&fake, format!("#!/bin/sh\nexec cat {}\n", data.display())).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(dir.path().join("system.journal"), b"").unwrap();
        let site = format!(
            "paths: {{journalctl: {}, journal_dir: {}}}\n",
            fake.display(),
            dir.path().display()
        );
        let (_rt, ctx) = testutil::ctx(testutil::site(&site));
        let counts = error_counts(
            &ctx,
            &testutil::args(json!({"units": ["openclaw-gateway", "aurora"], "since": "-1h"})),
        )
        .unwrap();
        // The fake ignores --priority, so every parsed line counts; keys follow count_key.
        assert_eq!(counts["total"], 5);
        assert_eq!(counts["by_unit"]["openclaw-gateway.service"], 2);
        assert_eq!(counts["by_unit"]["aurora.service"], 0);
        assert_eq!(counts["by_unit"]["kernel"], 1);
        let recs = entries(
            &ctx,
            &testutil::args(json!({"units": [], "since": "-1h", "priority": "err"})),
        )
        .unwrap();
        assert_eq!(recs.as_array().unwrap().len(), 5);
    }
}
