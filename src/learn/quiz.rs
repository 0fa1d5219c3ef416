//! Checks of understanding: a `//?` line above a step asks the learner a question after the
//! step ran. Either with its answer, or with a verify expression that decides:
//!
//! ```text
//! //? question: Which unit may not be restarted without a signal? | answer: openclaw-gateway, openclaw-gateway.service | hint: its policy is signal-required
//! //? question: Name a unit the site lets you restart freely | verify: site.units.contains(answer) && site.units[answer].policy == "safe" | hint: runbook show restart-unit; the policy is "safe"
//! ```
//!
//! Answers compare without case and surrounding spaces; any of the comma-separated answers
//! counts. A verify expression is Rhai (statements allowed, the last one's value counts) with `answer` (the typed text, trimmed) and `site`
//! (the site config) in scope, and must give `true`; it runs in an engine of its own with no
//! host functions and a small operation budget, so it can only compute.

use rhai::{Dynamic, Engine, Scope};

#[derive(Debug, Clone, PartialEq)]
pub struct Question {
    pub text: String,
    pub answers: Vec<String>,
    pub verify: Option<String>,
    pub hint: String,
}

impl Question {
    /// A `//?` line's text after the `//?`; None when it has no question, or neither an
    /// answer nor a verify expression.
    pub fn parse(line: &str) -> Option<Question> {
        let mut q = Question {
            text: String::new(),
            answers: Vec::new(),
            verify: None,
            hint: String::new(),
        };
        for part in line.split(" | ") {
            let (key, value) = part.split_once(':')?;
            let value = value.trim().to_string();
            match key.trim() {
                "question" => q.text = value,
                "answer" => {
                    q.answers = value
                        .split(',')
                        .map(|a| a.trim().to_string())
                        .filter(|a| !a.is_empty())
                        .collect()
                }
                "verify" => q.verify = Some(value),
                "hint" => q.hint = value,
                _ => return None,
            }
        }
        let decidable = !q.answers.is_empty() || q.verify.is_some();
        (!q.text.is_empty() && decidable).then_some(q)
    }

    /// Whether `answer` is right. A verify expression that fails to evaluate counts as wrong,
    /// with the reason for the learner.
    pub fn check(&self, answer: &str, site: &serde_json::Value) -> Result<bool, String> {
        let answer = answer.trim();
        if self.answers.iter().any(|a| a.eq_ignore_ascii_case(answer)) {
            return Ok(true);
        }
        let Some(expr) = &self.verify else {
            return Ok(false);
        };
        let mut engine = Engine::new();
        engine.set_max_operations(100_000);
        let mut scope = Scope::new();
        scope.push_constant("answer", answer.to_string());
        let site = rhai::serde::to_dynamic(site).map_err(|e| e.to_string())?;
        scope.push_constant("site", site);
        engine
            .eval_with_scope::<Dynamic>(&mut scope, expr)
            .map_err(|e| format!("the check `{expr}` could not be evaluated: {e}"))?
            .as_bool()
            .map_err(|t| format!("the check `{expr}` gave a {t}, not true or false"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::Site;

    fn site() -> serde_json::Value {
        serde_json::to_value(Site::openclaw()).unwrap()
    }

    #[test]
    fn answers_compare_without_case_or_spaces() {
        let q = Question::parse(
            " question: Which unit needs a signal? | answer: openclaw-gateway, openclaw-gateway.service | hint: signal-required",
        )
        .unwrap();
        assert_eq!(q.hint, "signal-required");
        assert_eq!(q.check("  OpenClaw-Gateway ", &site()), Ok(true));
        assert_eq!(q.check("openclaw-gateway.service", &site()), Ok(true));
        assert_eq!(q.check("caddy", &site()), Ok(false));
    }

    #[test]
    fn a_verify_expression_decides_with_the_site() {
        let q = Question::parse(
            "question: A safe unit? | verify: site.units.contains(answer) && site.units[answer].policy == \"safe\" | hint: look at the policy",
        )
        .unwrap();
        assert_eq!(q.check("openclaw-bg-worker", &site()), Ok(true));
        assert_eq!(q.check("openclaw-gateway", &site()), Ok(false));
        assert_eq!(q.check("no-such-unit", &site()), Ok(false));
        let bad = Question::parse("question: x | verify: 1 + | hint: h").unwrap();
        assert!(bad.check("a", &site()).is_err());
    }

    #[test]
    fn lines_without_a_question_or_a_way_to_decide_are_not_questions() {
        assert_eq!(Question::parse("just a comment"), None);
        assert_eq!(Question::parse("question: no answer | hint: h"), None);
        assert_eq!(Question::parse("answer: x"), None);
    }
}
