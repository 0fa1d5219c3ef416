//! Where a streamed document goes: a temporary file beside the target, checked against the
//! redaction rules as it is written, renamed into place only when the whole document passed.
//!
//! Text is collected in chunks of about [`CHUNK`] bytes; each chunk is checked together with
//! the end of the one before ([`CARRY`] bytes, from a tag), so a secret split across two
//! chunks is still seen. Text between [`Sink::begin_exempt`] and [`Sink::end_exempt`] (the
//! runbook source listing, recorded verbatim by design) is written unchecked. On a match the
//! temporary file is deleted: nothing is written.

use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::audit::AuditError;

/// Bytes collected before a check and a write.
const CHUNK: usize = 256 * 1024;
/// Bytes of the previous chunk checked again with the next one.
const CARRY: usize = 4096;

/// Why a streamed document was not written.
#[derive(Debug)]
pub enum RenderError {
    Audit(AuditError),
    /// The file could not be written (the message names it).
    Io(String),
    /// A redaction rule matched: the refusal to show.
    Secret(String),
}

impl From<AuditError> for RenderError {
    fn from(e: AuditError) -> Self {
        RenderError::Audit(e)
    }
}

enum Target {
    /// A temporary file, renamed to `path` at the end.
    File {
        out: BufWriter<File>,
        tmp: PathBuf,
        path: PathBuf,
    },
    /// Standard output: an anonymous temporary file, copied out at the end, so a refusal
    /// still leaves nothing written.
    Stdout(BufWriter<File>),
}

pub struct Sink {
    target: Option<Target>,
    pending: String,
    carry: String,
    /// Lines written before `pending`, for naming where a secret is.
    lines: usize,
    exempt: bool,
}

/// The temporary name `path` is written under before it is renamed into place: in the same
/// directory (so the rename is atomic), hidden, and per process.
pub fn temp_beside(path: &Path) -> PathBuf {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    dir.join(format!(
        ".{}.tmp-{}",
        path.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ))
}

impl Sink {
    /// A sink that becomes `path` when finished.
    pub fn file(path: &Path) -> Result<Sink, RenderError> {
        let tmp = temp_beside(path);
        let file = File::create(&tmp).map_err(|e| cannot_write(path, e))?;
        Ok(Sink::new(Target::File {
            out: BufWriter::with_capacity(CHUNK, file),
            tmp,
            path: path.to_path_buf(),
        }))
    }

    /// A sink that goes to standard output when finished.
    pub fn stdout() -> Result<Sink, RenderError> {
        let fail = |e| RenderError::Io(format!("cannot make a temporary file for the report: {e}"));
        let tmp = std::env::temp_dir().join(format!(".runbook-report-{}", std::process::id()));
        use std::os::unix::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(fail)?;
        // Unlinked at once: the open handle is the only way to it, and nothing stays behind.
        std::fs::remove_file(&tmp).map_err(fail)?;
        Ok(Sink::new(Target::Stdout(BufWriter::with_capacity(
            CHUNK, file,
        ))))
    }

    fn new(target: Target) -> Sink {
        Sink {
            target: Some(target),
            pending: String::with_capacity(CHUNK + CHUNK / 4),
            carry: String::new(),
            lines: 0,
            exempt: false,
        }
    }

    pub fn push_str(&mut self, s: &str) {
        self.pending.push_str(s);
    }

    pub fn push(&mut self, c: char) {
        self.pending.push(c);
    }

    /// Check and write what was collected once it is a chunk: call between pieces.
    pub fn tick(&mut self) -> Result<(), RenderError> {
        if self.pending.len() >= CHUNK {
            self.flush()?;
        }
        Ok(())
    }

    /// What follows until [`Sink::end_exempt`] is written without the redaction check.
    pub fn begin_exempt(&mut self) -> Result<(), RenderError> {
        self.flush()?;
        self.exempt = true;
        Ok(())
    }

    pub fn end_exempt(&mut self) -> Result<(), RenderError> {
        self.flush()?;
        self.exempt = false;
        self.carry.clear();
        Ok(())
    }

    fn flush(&mut self) -> Result<(), RenderError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        if !self.exempt {
            self.check()?;
        }
        self.lines += newlines(self.pending.as_bytes());
        let out = match self.target.as_mut().expect("an open sink") {
            Target::File { out, .. } | Target::Stdout(out) => out,
        };
        if let Err(e) = out.write_all(self.pending.as_bytes()) {
            return Err(self.io_error(e));
        }
        if !self.exempt {
            self.carry = tail(&self.pending).to_string();
        }
        self.pending.clear();
        Ok(())
    }

    fn check(&mut self) -> Result<(), RenderError> {
        let joined;
        let text = if self.carry.is_empty() {
            self.pending.as_str()
        } else {
            joined = format!("{}{}", self.carry, self.pending);
            joined.as_str()
        };
        let Some(at) = super::first_secret(text) else {
            return Ok(());
        };
        let before =
            newlines(&text.as_bytes()[..at]).saturating_sub(newlines(self.carry.as_bytes()));
        let line = self.lines + before + 1;
        self.discard();
        Err(RenderError::Secret(super::refusal(line)))
    }

    fn io_error(&mut self, e: io::Error) -> RenderError {
        let what = match &self.target {
            Some(Target::File { path, .. }) => path.display().to_string(),
            _ => "the report".to_string(),
        };
        self.discard();
        RenderError::Io(format!("cannot write {what}: {e}"))
    }

    /// Drop what was written.
    fn discard(&mut self) {
        if let Some(Target::File { tmp, .. }) = self.target.take() {
            let _ = std::fs::remove_file(tmp);
        }
    }

    /// Check and write the rest, then put the document in place.
    pub fn finish(mut self) -> Result<(), RenderError> {
        self.flush()?;
        match self.target.take().expect("an open sink") {
            Target::File { out, tmp, path } => {
                let done = out
                    .into_inner()
                    .map_err(|e| e.into_error())
                    .and_then(|f| f.sync_all())
                    .and_then(|()| std::fs::rename(&tmp, &path));
                done.map_err(|e| {
                    let _ = std::fs::remove_file(&tmp);
                    cannot_write(&path, e)
                })
            }
            Target::Stdout(out) => {
                let mut file = out
                    .into_inner()
                    .map_err(|e| RenderError::Io(format!("cannot write the report: {e}")))?;
                use std::io::Seek;
                let copied = file
                    .rewind()
                    .and_then(|()| io::copy(&mut file, &mut io::stdout().lock()));
                // A closed pipe is the reader's choice, not a failure of the report.
                match copied {
                    Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
                        Err(RenderError::Io(format!("cannot write the report: {e}")))
                    }
                    _ => Ok(()),
                }
            }
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        // Not finished (an error on the way): leave nothing behind.
        self.discard();
    }
}

impl fmt::Write for Sink {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.pending.push_str(s);
        Ok(())
    }
}

fn cannot_write(path: &Path, e: io::Error) -> RenderError {
    RenderError::Io(format!("cannot write {}: {e}", path.display()))
}

fn newlines(b: &[u8]) -> usize {
    b.iter().filter(|&&c| c == b'\n').count()
}

/// The end of a checked chunk that is checked again with the next, starting at a tag so the
/// cut makes no word boundary a rule could see.
fn tail(s: &str) -> &str {
    if s.len() <= CARRY {
        return s;
    }
    let mut from = s.len() - CARRY;
    while !s.is_char_boundary(from) {
        from += 1;
    }
    match s[from..].find('<') {
        Some(i) => &s[from + i..],
        None => &s[from..],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, pieces: &[&str]) -> Result<(), RenderError> {
        let mut sink = Sink::file(path)?;
        for p in pieces {
            sink.push_str(p);
            sink.tick()?;
        }
        sink.finish()
    }

    #[test]
    fn a_secret_split_across_two_chunks_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.html");
        let filler = format!("<p>{}", "x".repeat(CHUNK - 11));
        // The first chunk ends with " DB_PASS" (exactly CHUNK bytes): the assignment is split.
        let err = write(&path, &[&filler, " DB_PASS", "WORD=hunter22 </p>"]).unwrap_err();
        assert!(matches!(err, RenderError::Secret(_)), "{err:?}");
        assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
    }

    #[test]
    fn the_exempt_part_is_not_checked_and_the_rest_is() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.html");
        let mut sink = Sink::file(&path).unwrap();
        sink.push_str("<p>ok</p>");
        sink.begin_exempt().unwrap();
        sink.push_str("<ol class=\"source\"><li>//! param token: string, secret</li></ol>");
        sink.end_exempt().unwrap();
        sink.push_str("<p>fine</p>\n");
        sink.finish().unwrap();
        assert!(std::fs::read_to_string(&path)
            .unwrap()
            .ends_with("<p>fine</p>\n"));

        let mut sink = Sink::file(&path).unwrap();
        sink.begin_exempt().unwrap();
        sink.push_str("<ol class=\"source\"></ol>");
        sink.end_exempt().unwrap();
        sink.push_str("\n\n<p>PASSWORD=hunter2</p>");
        match sink.finish() {
            Err(RenderError::Secret(why)) => assert!(why.contains("line 3"), "{why}"),
            other => panic!("{other:?}"),
        }
        // The earlier document stays as it was.
        assert!(std::fs::read_to_string(&path)
            .unwrap()
            .ends_with("<p>fine</p>\n"));
    }
}
