//! Walking a `runbook learn` session on a pseudo-terminal, the way a learner answers it.
#![allow(dead_code)]

use super::pty::Session;

pub const PROMPT: &str = "[Enter] run   s skip   q stop   ? source  > ";
pub const ASK: &str = "your answer (Enter alone goes on): ";
pub const END: &str = "`runbook learn --status` shows what you have learned.";
const CHECK: &str = "Check: ";
const GATE: &str = "[y/N] ";

/// The checks of understanding a replay (`replay --json`) recorded, in order: (correct,
/// attempt) of each `answer` event.
pub fn answer_tries(replay: &serde_json::Value) -> Vec<(bool, u64)> {
    super::events_of(replay, "answer")
        .iter()
        .map(|a| {
            (
                a["payload"]["correct"].as_bool().unwrap(),
                a["payload"]["attempt"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// Enter at every step; at each check of understanding, what `answer` gives for its
/// question (empty: Enter alone, going on); `gate` typed at each y/N gate. Returns the exit
/// code and the whole screen.
pub fn walk(mut s: Session, answer: impl Fn(&str) -> String, gate: &str) -> (i32, String) {
    let mut question = String::new();
    loop {
        let next = [PROMPT, CHECK, ASK, GATE, END]
            .into_iter()
            .filter_map(|n| s.unread().find(n).map(|at| (at, n)))
            .min();
        match next {
            Some((_, PROMPT)) => {
                s.expect(PROMPT);
                s.line("");
            }
            Some((_, CHECK)) => {
                s.expect(CHECK);
                question = s.expect("\n").trim().to_string();
            }
            Some((_, ASK)) => {
                s.expect(ASK);
                s.line(&answer(&question));
            }
            Some((_, GATE)) => {
                s.expect(GATE);
                s.line(gate);
            }
            Some(_) => {
                s.expect(END);
                return s.finish();
            }
            None => s.wait_for_more(),
        }
    }
}
