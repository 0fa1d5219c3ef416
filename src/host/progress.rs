//! Progress of the long host calls (a dump, a full read, a restore) on the operator's
//! terminal, drawn with indicatif (the progress crate built on `console`, which the run's own
//! output already uses).
//!
//! A bar is drawn only when the run allows it (not `--json`, `-q` or a lesson), stderr is a
//! terminal and `CI` is not set; otherwise every call here is a no-op and nothing extra is
//! written, so a piped run's output is what it always was. The bar lives on stderr below the
//! run's last stdout line (the call's `→` line) and is erased when the call ends, before the
//! engine prints its next line, so the two never share a line. Nothing of it is recorded: the
//! audit store sees only the call's result.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Whether a run may draw progress: `allowed` by its output mode, stderr a terminal, not CI.
pub fn wanted(allowed: bool) -> bool {
    allowed
        && std::io::stderr().is_terminal()
        && std::env::var_os("CI").is_none_or(|v| v.is_empty())
}

/// One bar of bytes, erased when dropped (the call ended, however it ended).
pub(crate) struct Progress(Option<ProgressBar>);

impl Progress {
    /// A bar for `what` (e.g. "pg_dump aurora"); `total` is the expected number of bytes when
    /// known, or an estimate (`estimated`, shown with a `~`), or unknown (bytes and rate only).
    pub(crate) fn bytes(on: bool, what: &str, total: Option<u64>, estimated: bool) -> Progress {
        if !on {
            return Progress(None);
        }
        let template = match (total, estimated) {
            (None, _) | (Some(0), _) => {
                "{spinner} {prefix} {bytes} {binary_bytes_per_sec} {elapsed}".to_string()
            }
            (Some(_), est) => format!(
                "{{spinner}} {{prefix}} [{{bar:30}}] {{bytes}}/{}{{total_bytes}} {{binary_bytes_per_sec}} {{elapsed}}",
                if est { "~" } else { "" }
            ),
        };
        let style = ProgressStyle::with_template(&template)
            .expect("the template is valid")
            .progress_chars("=> ");
        let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr())
            .with_style(style)
            .with_prefix(crate::output::escape_controls(what, false));
        // Redrawn while no bytes arrive too, so a stalled read shows its time going by.
        bar.enable_steady_tick(Duration::from_millis(200));
        Progress(Some(bar))
    }

    /// `n` more bytes done; an estimate that turns out short grows with them.
    pub(crate) fn inc(&self, n: u64) {
        if let Some(b) = &self.0 {
            b.inc(n);
            if b.length().is_some_and(|l| l > 0 && b.position() > l) {
                b.set_length(b.position());
            }
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(b) = self.0.take() {
            b.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_draws_nothing_and_counts_nothing() {
        let p = Progress::bytes(false, "x", Some(10), false);
        p.inc(5);
        assert!(p.0.is_none());
        assert!(!wanted(false));
    }

    #[test]
    fn an_estimate_grows_with_the_bytes() {
        // Drawn to a hidden target, so the test prints nothing.
        let p = Progress::bytes(true, "x", Some(10), true);
        p.0.as_ref()
            .unwrap()
            .set_draw_target(ProgressDrawTarget::hidden());
        p.inc(4);
        p.inc(8);
        let b = p.0.as_ref().unwrap();
        assert_eq!((b.position(), b.length()), (12, Some(12)));
    }
}
