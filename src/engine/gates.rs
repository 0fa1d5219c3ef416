//! Human confirmation gates: `confirm(question)` and `confirm_typed(question, expected)`.
//!
//! A gate asks on a terminal and defaults to No. Without a terminal it refuses (exit 3)
//! unless `--yes` was given; `--yes` never satisfies a typed gate, because typed gates guard
//! actions where a human must read the name of the thing about to change.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use crate::audit::event::{Gate, GateType};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GateKind {
    Confirm,
    Typed { expected: String },
}

/// How a gate ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Approved {
        via: &'static str,
        answer: String,
    },
    Declined {
        answer: String,
    },
    /// No terminal to ask on (and `--yes` did not apply).
    NoTerminal,
    Canceled,
    /// Not asked: a dry run would have asked here.
    DryRun,
}

impl Decision {
    pub fn approved(&self) -> bool {
        matches!(self, Decision::Approved { .. })
    }

    /// The audit event of this decision.
    pub fn to_event(&self, question: &str, kind: &GateKind, operator: &str) -> Gate {
        let (gate, expected) = match kind {
            GateKind::Confirm => (GateType::Confirm, None),
            GateKind::Typed { expected } => (GateType::Typed, Some(expected.clone())),
        };
        let (answer, via) = match self {
            Decision::Approved { via, answer } => (answer.as_str(), *via),
            Decision::Declined { answer } => (answer.as_str(), "terminal"),
            Decision::NoTerminal => ("", "no terminal"),
            Decision::DryRun => ("", "dry run: not asked"),
            Decision::Canceled => ("", "canceled"),
        };
        Gate {
            question: question.to_string(),
            gate,
            expected,
            answer: answer.to_string(),
            approved: Some(self.approved()),
            via: via.to_string(),
            answered_by: operator.to_string(),
        }
    }

    /// The refusal message shown to the operator, saying how to proceed.
    pub fn refusal(&self, question: &str, kind: &GateKind) -> String {
        match (self, kind) {
            (Decision::NoTerminal, GateKind::Confirm) => format!(
                "gate \"{question}\" needs a yes, and there is no terminal to ask on: run again on a terminal, or pass --yes to approve ordinary gates"
            ),
            (Decision::NoTerminal, GateKind::Typed { expected }) => format!(
                "gate \"{question}\" needs `{expected}` typed by a human on a terminal; --yes does not satisfy typed gates"
            ),
            (Decision::Declined { answer }, GateKind::Typed { expected }) => format!(
                "gate \"{question}\" refused: typed `{answer}`, expected `{expected}`"
            ),
            _ => format!("gate \"{question}\" refused by the operator"),
        }
    }
}

pub struct Gates {
    pub yes: bool,
    pub interactive: bool,
    pub cancel: Arc<AtomicBool>,
}

impl Gates {
    pub fn new(yes: bool, cancel: Arc<AtomicBool>) -> Self {
        let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
        Gates {
            yes,
            interactive,
            cancel,
        }
    }

    pub fn ask(&self, question: &str, kind: &GateKind) -> Decision {
        match kind {
            GateKind::Confirm if self.yes => {
                return Decision::Approved {
                    via: "--yes",
                    answer: "yes".into(),
                }
            }
            _ if !self.interactive => return Decision::NoTerminal,
            _ => {}
        }
        let prompt = match kind {
            GateKind::Confirm => {
                format!("{} {question} [y/N] ", console::style("?").yellow().bold())
            }
            GateKind::Typed { expected } => format!(
                "{} {question}\n  Type `{}` to go on (anything else refuses): ",
                console::style("!").red().bold(),
                console::style(expected).bold()
            ),
        };
        eprint!("{prompt}");
        let _ = std::io::stderr().flush();
        let Some(answer) = self.read_line() else {
            return Decision::Canceled;
        };
        let answer = answer.trim().to_string();
        let ok = match kind {
            GateKind::Confirm => matches!(answer.to_ascii_lowercase().as_str(), "y" | "yes"),
            GateKind::Typed { expected } => &answer == expected,
        };
        if ok {
            Decision::Approved {
                via: "terminal",
                answer,
            }
        } else {
            Decision::Declined { answer }
        }
    }

    /// A line, "" at the end of input (a refusal); None on Ctrl-C.
    fn read_line(&self) -> Option<String> {
        read_line(&self.cancel).map(Option::unwrap_or_default)
    }
}

/// Read one line from stdin while watching for Ctrl-C, which the runtime turns into the
/// cancel flag rather than killing the process. None on Ctrl-C; Some(None) at the end of
/// input.
pub fn read_line(cancel: &AtomicBool) -> Option<Option<String>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let n = std::io::stdin().lock().read_line(&mut line).unwrap_or(0);
        let _ = tx.send(if n == 0 { None } else { Some(line) });
    });
    loop {
        if cancel.load(Ordering::SeqCst) {
            return None;
        }
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(line) => return Some(line),
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gates(yes: bool) -> Gates {
        Gates {
            yes,
            interactive: false,
            cancel: Arc::new(AtomicBool::new(false)),
        }
    }

    #[test]
    fn yes_approves_ordinary_gates_only() {
        assert!(gates(true).ask("Restart?", &GateKind::Confirm).approved());
        let typed = GateKind::Typed {
            expected: "caddy.service".into(),
        };
        assert_eq!(gates(true).ask("Restart?", &typed), Decision::NoTerminal);
    }

    #[test]
    fn no_terminal_refuses_and_says_how_to_proceed() {
        let d = gates(false).ask("Restart?", &GateKind::Confirm);
        assert_eq!(d, Decision::NoTerminal);
        assert!(d.refusal("Restart?", &GateKind::Confirm).contains("--yes"));
        let g = d.to_event("Restart?", &GateKind::Confirm, "miguel");
        assert_eq!(g.approved, Some(false));
        assert_eq!(
            (g.answered_by.as_str(), g.via.as_str()),
            ("miguel", "no terminal")
        );
    }
}
