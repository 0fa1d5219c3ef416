//! What a lesson says about each step before it runs, read from the runbook's text: the
//! comment above the step (its doc), the step's source (`?`), the host functions it can
//! reach (directly, or through the stdlib functions it calls) and whether it asks a gate,
//! and its checks of understanding (`//?` lines, see [`super::quiz`]).
//!
//! A textual scan, not an evaluation: it says which functions a step *can* call, so the
//! learner knows what it reads and what it would change before pressing Enter. The calls it
//! really makes, with their arguments, are shown as they happen (the walker sees each one).

use std::collections::BTreeSet;
use std::sync::LazyLock;

use regex::Regex;

use super::quiz::Question;
use crate::engine::catalog::Catalog;
use crate::host::{registry, HostFn};

/// One `step "NAME" { ... }` of a runbook.
#[derive(Clone)]
pub struct StepInfo {
    pub name: String,
    /// The comment lines right above the step, without their `//`.
    pub doc: Vec<String>,
    /// The step's text, from `step` to its closing brace.
    pub source: String,
    /// Host functions the step can reach, in the order first seen.
    pub host_fns: Vec<&'static HostFn>,
    /// Whether it can ask a gate (`confirm`, `confirm_typed`) or refuse.
    pub gated: bool,
    pub questions: Vec<Question>,
}

static STEP: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"^\s*step\s+"([^"]*)"\s*\{"#).expect("step regex"));
static IMPORT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"import\s+"([A-Za-z0-9_-]+)"\s+as\s+([A-Za-z_][A-Za-z0-9_]*)"#)
        .expect("import regex")
});
static CALL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:([A-Za-z_][A-Za-z0-9_]*)::)?([A-Za-z_][A-Za-z0-9_]*)\s*\(")
        .expect("call regex")
});
static FN_DEF: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?m)^\s*(?:private\s+)?fn\s+([A-Za-z_][A-Za-z0-9_]*)\s*\(").expect("fn regex")
});

/// The steps of a runbook, in the order they appear.
pub fn steps(source: &str, catalog: &Catalog) -> Vec<StepInfo> {
    let lines: Vec<&str> = source.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(m) = STEP.captures(line) else {
            continue;
        };
        let mut doc = Vec::new();
        let mut questions = Vec::new();
        for above in lines[..i].iter().rev() {
            let t = above.trim_start();
            if t.starts_with("//!") || !t.starts_with("//") {
                break;
            }
            if let Some(q) = t.strip_prefix("//?") {
                if let Some(q) = Question::parse(q) {
                    questions.insert(0, q);
                }
            } else {
                doc.insert(0, t.trim_start_matches('/').trim().to_string());
            }
        }
        let offset: usize = lines[..i].iter().map(|l| l.len() + 1).sum();
        let text = block(&source[offset..]);
        let mut reach = Reach::new(catalog);
        reach.scan(text, &aliases(source), None);
        out.push(StepInfo {
            name: m[1].to_string(),
            doc,
            source: text.to_string(),
            host_fns: reach.host_fns,
            gated: reach.gated,
            questions,
        });
    }
    out
}

/// From the start of `text` to the brace that closes its first `{`, skipping braces in
/// strings and comments.
fn block(text: &str) -> &str {
    let bytes = text.as_bytes();
    let (mut depth, mut i) = (0usize, 0usize);
    let mut quote: Option<u8> = None;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) => {
                if b == b'\\' {
                    i += 1;
                } else if b == q {
                    quote = None;
                }
            }
            None => match b {
                b'"' => quote = Some(b'"'),
                b'/' if bytes.get(i + 1) == Some(&b'/') => {
                    while i < bytes.len() && bytes[i] != b'\n' {
                        i += 1;
                    }
                }
                b'{' => depth += 1,
                b'}' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return &text[..=i];
                    }
                }
                _ => {}
            },
        }
        i += 1;
    }
    text
}

/// `import "checks" as checks;` → (alias, module name) pairs.
fn aliases(source: &str) -> Vec<(String, String)> {
    IMPORT
        .captures_iter(source)
        .map(|c| (c[2].to_string(), c[1].to_string()))
        .collect()
}

/// The body of `fn NAME(...)` in a module's source.
fn function_body<'a>(source: &'a str, name: &str) -> Option<&'a str> {
    let m = FN_DEF.captures_iter(source).find(|c| &c[1] == name)?;
    Some(block(&source[m.get(0)?.start()..]))
}

fn without_comments(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            Some(at) => &l[..at],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Follows a step's calls into the stdlib modules it imports, collecting host functions.
struct Reach<'c> {
    catalog: &'c Catalog,
    seen: BTreeSet<(String, String)>,
    host_fns: Vec<&'static HostFn>,
    gated: bool,
}

impl<'c> Reach<'c> {
    fn new(catalog: &'c Catalog) -> Self {
        Reach {
            catalog,
            seen: BTreeSet::new(),
            host_fns: Vec::new(),
            gated: false,
        }
    }

    /// Scan `text`, whose imports are `aliases`; `module` is the stdlib module it is part of
    /// (its own functions may be called without a prefix).
    fn scan(&mut self, text: &str, aliases: &[(String, String)], module: Option<&str>) {
        let text = without_comments(text);
        for c in CALL.captures_iter(&text) {
            let name = &c[2];
            match c.get(1).map(|m| m.as_str()) {
                Some(prefix) => {
                    if let Some(f) = registry::find(prefix, name) {
                        if !self.host_fns.iter().any(|g| std::ptr::eq(*g, f)) {
                            self.host_fns.push(f);
                        }
                    } else if let Some((_, m)) = aliases.iter().find(|(a, _)| a == prefix) {
                        self.follow(m, name);
                    }
                }
                None if matches!(name, "confirm" | "confirm_typed" | "refuse") => {
                    self.gated = true;
                }
                None => {
                    if let Some(m) = module {
                        self.follow(m, name);
                    }
                }
            }
        }
    }

    fn follow(&mut self, module: &str, function: &str) {
        if !self.seen.insert((module.to_string(), function.to_string())) {
            return;
        }
        let Some(entry) = self.catalog.module(module) else {
            return;
        };
        if let Some(body) = function_body(&entry.source, function) {
            let body = body.to_string();
            let aliases = aliases(&entry.source);
            self.scan(&body, &aliases, Some(module));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        Catalog::load(&[]).expect("the built-in catalog loads")
    }

    fn names(step: &StepInfo) -> Vec<String> {
        step.host_fns.iter().map(|f| f.qualified_name()).collect()
    }

    #[test]
    fn triage_steps_reach_their_reads_through_the_checks_module() {
        let c = catalog();
        let entry = c.runbook("triage").unwrap();
        let steps = steps(&entry.source, &c);
        let by = |n: &str| steps.iter().find(|s| s.name == n).unwrap();
        let declared = entry
            .source
            .lines()
            .filter(|l| l.starts_with("step \""))
            .count();
        assert_eq!(
            steps.len(),
            declared,
            "{:?}",
            steps.iter().map(|s| &s.name).collect::<Vec<_>>()
        );
        let units = names(by("Units"));
        assert!(
            units.contains(&"systemd::statuses".to_string()),
            "{units:?}"
        );
        assert!(units.contains(&"systemd::failed".to_string()), "{units:?}");
        assert_eq!(names(by("Root disk")), ["host::disk"]);
        let journal = names(by("Journal errors"));
        assert!(
            journal.contains(&"journal::error_counts".to_string()),
            "{journal:?}"
        );
        assert!(
            journal.contains(&"journal::entries".to_string()),
            "{journal:?}"
        );
        assert_eq!(by("Root disk").doc, ["df -h /"]);
        assert!(by("Root disk").source.starts_with("step \"Root disk\" {"));
        assert!(by("Root disk").source.ends_with('}'));
        assert!(steps.iter().all(|s| !s.gated));
    }

    #[test]
    fn restart_unit_gates_and_mutations_are_seen() {
        let c = catalog();
        let entry = c.runbook("restart-unit").unwrap();
        let steps = steps(&entry.source, &c);
        let by = |n: &str| steps.iter().find(|s| s.name == n).unwrap();
        assert!(by("Approval").gated);
        assert!(!by("Current state").gated);
        let restart = names(by("Restart"));
        assert!(
            restart.contains(&"systemd::restart".to_string()),
            "{restart:?}"
        );
        assert!(
            restart.contains(&"systemd::reload".to_string()),
            "{restart:?}"
        );
        assert_eq!(names(by("Current state")), ["systemd::status"]);
    }

    #[test]
    fn braces_in_strings_and_comments_do_not_end_a_block() {
        let text = "step \"x\" {\n  let a = \"}\"; // }\n  if true { print(`${a}`); }\n}\nafter";
        assert_eq!(block(text), &text[..text.len() - "\nafter".len()]);
    }
}
