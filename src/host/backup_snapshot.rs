//! A dump and its manifest read from one snapshot of the database, at the same time.
//!
//! A psql session in the set's container opens a `REPEATABLE READ` transaction and exports
//! its snapshot (`pg_export_snapshot()`); `pg_dump --snapshot=ID` dumps exactly what that
//! snapshot sees, and so does the schema-only dump and the session's own queries (server
//! version, tables, exact `count(*)` of each, migrations, size). The manifest's counts are
//! then the counts of the rows the dump holds, even while the database takes writes, and they
//! are taken while the dump streams, on the other core, rather than after it. The session
//! holds the transaction open until both dumps have ended (an exported snapshot can be
//! imported only while its transaction lasts) and then ends it.
//!
//! The session speaks psql on stdin and reads its stdout up to a marker line that `\echo`
//! writes after each request; psql flushes its output after each command, so each answer
//! arrives whole before the next request is written. Everything runs in the container over
//! its own socket: no password is involved.

use std::pin::Pin;

use bollard::container::LogOutput;
use bollard::exec::{StartExecOptions, StartExecResults};
use bollard::models::ExecConfig;
use futures_util::{Stream, StreamExt};
use serde_json::Value;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::backup_dump::{facts, query_async, schema_argv, Facts};
use super::docker::{self, map_err};
use super::{HostCtx, HostError};
use crate::site::backups::BackupSet;

type Output = Pin<Box<dyn Stream<Item = Result<LogOutput, bollard::errors::Error>> + Send>>;

/// stderr kept from the session.
const CAP: usize = 64 * 1024;

struct Session {
    what: String,
    input: Pin<Box<dyn AsyncWrite + Send>>,
    output: Output,
    /// stdout read past the last complete line.
    pending: Vec<u8>,
    stderr: Vec<u8>,
    asked: u64,
}

impl Session {
    async fn open(ctx: &HostCtx, set: &BackupSet) -> Result<Session, HostError> {
        let pg = &set.postgres;
        let what = format!("psql session in {}", pg.container);
        let d = ctx.docker().await?;
        let argv = [
            "psql",
            "-X",
            "-q",
            "-tA",
            "-v",
            "ON_ERROR_STOP=1",
            "-U",
            &pg.user,
            "-d",
            &pg.database,
        ];
        let config = ExecConfig {
            attach_stdin: Some(true),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            cmd: Some(argv.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        };
        let id = d
            .create_exec(&pg.container, config)
            .await
            .map_err(|e| map_err(e, &what))?
            .id;
        match d
            .start_exec(&id, None::<StartExecOptions>)
            .await
            .map_err(|e| map_err(e, &what))?
        {
            StartExecResults::Attached { output, input } => Ok(Session {
                what,
                input,
                output,
                pending: Vec::new(),
                stderr: Vec::new(),
                asked: 0,
            }),
            StartExecResults::Detached => Err(HostError::Failed(format!("{what}: not attached"))),
        }
    }

    /// Run `sql` (one or more statements) and return what it printed, up to the marker.
    async fn ask(&mut self, sql: &str) -> Result<String, HostError> {
        self.asked += 1;
        let marker = format!("--runbook-answer-{}--", self.asked);
        let request = format!(
            "{};\n\\echo {marker}\n",
            sql.trim_end().trim_end_matches(';')
        );
        self.input
            .write_all(request.as_bytes())
            .await
            .map_err(|e| HostError::Failed(format!("{}: writing to psql: {e}", self.what)))?;
        self.input
            .flush()
            .await
            .map_err(|e| HostError::Failed(format!("{}: writing to psql: {e}", self.what)))?;
        let mut answer = String::new();
        loop {
            while let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=end).collect();
                let line = String::from_utf8_lossy(&line[..end]).into_owned();
                if line == marker {
                    return Ok(answer);
                }
                answer.push_str(&line);
                answer.push('\n');
            }
            match self.output.next().await {
                Some(chunk) => match chunk.map_err(|e| map_err(e, &self.what))? {
                    LogOutput::StdOut { message } | LogOutput::Console { message } => {
                        self.pending.extend_from_slice(&message)
                    }
                    LogOutput::StdErr { message } => {
                        let room = CAP.saturating_sub(self.stderr.len());
                        self.stderr
                            .extend_from_slice(&message[..message.len().min(room)]);
                    }
                    LogOutput::StdIn { .. } => {}
                },
                None => {
                    return Err(HostError::Failed(format!(
                        "{} ended before answering: {}",
                        self.what,
                        String::from_utf8_lossy(&self.stderr).trim()
                    )))
                }
            }
        }
    }

    /// End the transaction (nothing was written in it) and psql.
    async fn close(mut self) -> Result<(), HostError> {
        self.ask("COMMIT").await?;
        let _ = self.input.write_all(b"\\q\n").await;
        let _ = self.input.shutdown().await;
        while self.output.next().await.is_some() {}
        Ok(())
    }
}

/// What the dump of a set streamed (exit code and stderr of pg_dump) and the manifest's facts,
/// all from one snapshot; `chunk` gets the dump's bytes as they arrive.
pub(crate) async fn dump_with_facts(
    ctx: &HostCtx,
    set: &BackupSet,
    chunk: impl FnMut(&[u8]) -> std::io::Result<()>,
) -> Result<((Option<i64>, String), Facts), HostError> {
    let pg = &set.postgres;
    let mut session = Session::open(ctx, set).await?;
    let snapshot = session
        .ask("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT pg_export_snapshot()")
        .await?;
    let snapshot = snapshot.trim().to_string();
    if snapshot.is_empty() || !snapshot.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
        return Err(HostError::Failed(format!(
            "{}: pg_export_snapshot() gave {snapshot:?}",
            session.what
        )));
    }
    let at_snapshot = format!("--snapshot={snapshot}");
    let argv: Vec<String> = [
        "pg_dump",
        "-U",
        &pg.user,
        "-d",
        &pg.database,
        "--format=custom",
        &at_snapshot,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut schema = schema_argv(set);
    schema.push(at_snapshot.clone());
    let dump = docker::exec_stream(ctx, &pg.container, &argv, chunk);
    let schema = query_async(ctx, &pg.container, &schema);
    let counted = facts(async |sql: String| session.ask(&sql).await);
    let (dump, schema, counted) = tokio::join!(dump, schema, counted);
    let (dump, schema, mut counted) = (dump?, schema?, counted?);
    session.close().await?;
    counted.schema(&schema);
    counted.snapshot = Some(Value::String(snapshot));
    Ok((dump, counted))
}
