//! The step walker on a terminal: before each step what it is for, what it reads and would
//! change, the site policy that applies and the shell behind its calls; Enter runs it, `s`
//! skips it, `q` stops the lesson, `?` shows its source. After it, what happened, explained.
//!
//! ASCII only, colors through `console` (off with NO_COLOR): it has to work over SSH on any
//! terminal. Everything shown is redacted (the door hands over redacted arguments and
//! results; findings are redacted where they are reported).

use std::io::Write;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use console::style;
use serde_json::Value;

use super::lesson::StepInfo;
use super::quiz::Question;
use crate::audit::event::Answer;
use crate::engine::gates::read_line;
use crate::engine::walker::{StepChoice, StepDone, Walker};
use crate::host::{Effect, HostFn};
use crate::output::{compact_value, escape_controls};
use crate::site::{RestartPolicy, Site};

pub struct TerminalWalker {
    steps: Vec<StepInfo>,
    site: Arc<Site>,
    /// The unit the lesson is about (`-p unit=`), for the policy shown before its steps.
    unit: Option<String>,
    /// A live session of a mutating runbook: gated steps cannot be skipped.
    live: bool,
    dry_run: bool,
    cancel: Arc<AtomicBool>,
    /// How many steps have started (the next one's index, for "step 2 of 8").
    started: Mutex<usize>,
}

impl TerminalWalker {
    pub fn new(
        steps: Vec<StepInfo>,
        site: Arc<Site>,
        unit: Option<String>,
        live: bool,
        dry_run: bool,
        cancel: Arc<AtomicBool>,
    ) -> Self {
        TerminalWalker {
            steps,
            site,
            unit,
            live,
            dry_run,
            cancel,
            started: Mutex::new(0),
        }
    }

    fn say(&self, text: impl std::fmt::Display) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }

    fn prompt(&self, text: &str) -> Option<String> {
        {
            let mut out = std::io::stdout().lock();
            let _ = write!(out, "{text}");
            let _ = out.flush();
        }
        // End of input or Ctrl-C: the lesson stops (recorded as canceled).
        read_line(&self.cancel).flatten()
    }

    /// The step of this name, the first not yet shown (a step may run twice in a loop).
    fn info(&self, name: &str, index: usize) -> Option<&StepInfo> {
        self.steps
            .get(index)
            .filter(|s| s.name == name)
            .or_else(|| self.steps.iter().find(|s| s.name == name))
    }

    fn introduce(&self, name: &str, index: usize) {
        let total = self.steps.len();
        self.say("");
        self.say(
            style(format!(
                "== Step {} of {total}: {} ==",
                index + 1,
                clean(name)
            ))
            .bold(),
        );
        let Some(info) = self.info(name, index) else {
            return;
        };
        for line in &info.doc {
            self.say(format!("   {}", clean(line)));
        }
        let (reads, changes): (Vec<&HostFn>, Vec<&HostFn>) = info
            .host_fns
            .iter()
            .partition(|f| matches!(f.effect, Effect::Read));
        let list = |fns: &[&HostFn]| {
            fns.iter()
                .map(|f| f.qualified_name())
                .collect::<Vec<_>>()
                .join(", ")
        };
        self.say(format!(
            "   reads:        {}",
            if reads.is_empty() {
                "nothing from the host".into()
            } else {
                list(&reads)
            }
        ));
        let change = if changes.is_empty() {
            "nothing".to_string()
        } else if self.dry_run {
            format!("{} (dry run: shown, not done)", list(&changes))
        } else {
            format!("{} (LIVE: the host changes)", list(&changes))
        };
        self.say(format!("   would change: {change}"));
        if info.gated {
            self.say("   asks:         a confirmation gate (it defaults to No)");
        }
        let touches_unit = info
            .host_fns
            .iter()
            .any(|f| f.module == "systemd" || f.qualified_name() == "site::unit");
        if let (true, Some(unit)) = (touches_unit, &self.unit) {
            self.say(format!(
                "   policy:       {}",
                policy_line(&self.site, unit)
            ));
        }
        let patterns: Vec<String> = info
            .host_fns
            .iter()
            .flat_map(|f| (f.shell)(&self.site, &Default::default()))
            .collect();
        if !patterns.is_empty() {
            self.say("   shell:        what you would type (each call is shown as it runs):");
            for p in patterns {
                self.say(format!("                 $ {p}"));
            }
        }
    }

    fn ask_questions(&self, questions: &[Question]) -> Vec<Answer> {
        let site = serde_json::to_value(&*self.site).unwrap_or(Value::Null);
        let mut answers = Vec::new();
        for q in questions {
            self.say(format!(
                "   {} {}",
                style("Check:").cyan().bold(),
                clean(&q.text)
            ));
            for attempt in 1.. {
                let Some(typed) = self.prompt("   your answer (Enter alone goes on): ") else {
                    return answers;
                };
                let typed = typed.trim().to_string();
                if typed.is_empty() {
                    self.say("   (going on)");
                    break;
                }
                let (correct, problem) = match q.check(&typed, &site) {
                    Ok(ok) => (ok, None),
                    Err(e) => (false, Some(e)),
                };
                answers.push(Answer {
                    question: q.text.clone(),
                    answer: typed,
                    correct,
                    attempt,
                });
                if correct {
                    self.say(format!("   {}", style("right.").green().bold()));
                    break;
                }
                if let Some(p) = problem {
                    self.say(format!("   {}", clean(&p)));
                }
                self.say(format!(
                    "   {} hint: {}",
                    style("not quite.").yellow().bold(),
                    clean(&q.hint)
                ));
                self.say("   try again, or press Enter alone to go on");
            }
        }
        answers
    }
}

impl Walker for TerminalWalker {
    fn before_step(&self, name: &str) -> StepChoice {
        let index = {
            let mut n = self.started.lock().expect("walker lock");
            *n += 1;
            *n - 1
        };
        self.introduce(name, index);
        let gated = self.info(name, index).is_some_and(|s| s.gated);
        loop {
            let Some(key) = self.prompt("   [Enter] run   s skip   q stop   ? source  > ") else {
                return StepChoice::Stop;
            };
            match key.trim() {
                "" => return StepChoice::Run,
                "s" | "S" if gated && self.live => self.say(
                    "   this step asks a gate, and a live lesson keeps every gate: Enter runs it, q stops",
                ),
                "s" | "S" => {
                    self.say("   skipped");
                    return StepChoice::Skip;
                }
                "q" | "Q" => {
                    self.say("   stopping the lesson here (recorded as canceled)");
                    return StepChoice::Stop;
                }
                "?" => match self.info(name, index) {
                    Some(info) => {
                        for l in info.source.lines() {
                            self.say(format!("   | {}", clean(l)));
                        }
                    }
                    None => self.say("   (no source found for this step)"),
                },
                other => self.say(format!(
                    "   `{}`: press Enter to run the step, s to skip it, q to stop, ? for its source",
                    clean(other)
                )),
            }
        }
    }

    fn after_step(&self, done: &StepDone) -> Vec<Answer> {
        match done.error {
            Some(why) => self.say(format!(
                "   {} this step failed: {}",
                style("x").red().bold(),
                clean(why)
            )),
            None => self.say(format!("   step done in {} ms", done.duration_ms)),
        }
        for f in done.findings {
            let sev = f["severity"].as_str().unwrap_or("info");
            self.say(format!(
                "   [{sev}] {}: {}",
                clean(f["subject"].as_str().unwrap_or("")),
                clean(f["summary"].as_str().unwrap_or(""))
            ));
            self.say(format!("         means: {}", meaning(sev)));
            if let Some(next) = f["next_step"].as_str().filter(|s| !s.trim().is_empty()) {
                self.say(format!("         next:  {}", clean(next)));
            }
        }
        let index = *self.started.lock().expect("walker lock");
        let questions = self
            .info(done.name, index.saturating_sub(1))
            .map(|s| s.questions.clone())
            .unwrap_or_default();
        self.ask_questions(&questions)
    }

    fn before_call(&self, f: &'static HostFn, args: &Value, mutates: bool, dry_run: bool) {
        let Value::Object(args) = args else { return };
        let lines = (f.shell)(&self.site, args);
        let note = match (mutates, dry_run) {
            (true, true) => "   # dry run: not done",
            _ => "",
        };
        for l in lines {
            self.say(format!("   {} {}{note}", style("$").dim(), clean(&l)));
        }
    }

    fn after_call(&self, f: &'static HostFn, result: Result<&Value, &str>) {
        // runbook's own site config: nothing an operator would type, nothing to explain.
        if (f.shell)(&self.site, &Default::default()).is_empty() {
            return;
        }
        match result {
            Ok(v) => {
                for l in readable(v) {
                    self.say(format!("     {l}"));
                }
            }
            Err(e) => self.say(format!("     {} {}", style("error:").red(), clean(e))),
        }
    }
}

/// The guide's "Safe to restart?" for a unit, from the site policy.
pub fn policy_line(site: &Site, unit: &str) -> String {
    let short = unit.strip_suffix(".service").unwrap_or(unit);
    let Some(p) = site.units.get(unit).or_else(|| site.units.get(short)) else {
        return format!("{unit} is not in the site policy: runbook refuses to touch it");
    };
    let safe = match p.policy {
        RestartPolicy::Safe => "safe to restart: yes (confirm with y)".to_string(),
        RestartPolicy::ReloadPreferred => {
            "safe to restart: yes, and a reload is graceful, so runbook reloads it".to_string()
        }
        RestartPolicy::AskFirst => {
            "safe to restart: ask first (you type the unit name to go on)".to_string()
        }
        RestartPolicy::SignalRequired => format!(
            "safe to restart: no, an explicit signal from {} is required (-p signal=...)",
            if p.approvers.is_empty() {
                "an approver".to_string()
            } else {
                p.approvers.join(" or ")
            }
        ),
    };
    format!("{short}: {safe}; {}", p.description)
}

/// What a severity asks of the operator.
fn meaning(sev: &str) -> &'static str {
    match sev {
        "ok" => "as the site expects; nothing to do",
        "info" => "evidence to read, not a problem by itself",
        "warn" => "not broken yet, but look at it soon",
        "crit" => "broken or about to be: act now, starting with the next step below",
        _ => "unknown severity",
    }
}

/// A call's result in a few lines: a list by its length and first items, a map by its fields.
fn readable(v: &Value) -> Vec<String> {
    const MAX: usize = 6;
    match v {
        Value::Array(items) => {
            let mut out = vec![format!("= {} item(s)", items.len())];
            out.extend(
                items
                    .iter()
                    .take(MAX)
                    .map(|i| format!("  - {}", clean(&compact_value(i, 100)))),
            );
            if items.len() > MAX {
                out.push(format!("  ... {} more", items.len() - MAX));
            }
            out
        }
        Value::Object(map) => {
            let mut out: Vec<String> = map
                .iter()
                .take(MAX)
                .map(|(k, v)| format!("{}: {}", clean(k), clean(&compact_value(v, 80))))
                .collect();
            if map.len() > MAX {
                out.push(format!("... {} more field(s)", map.len() - MAX));
            }
            if let Some(first) = out.first_mut() {
                *first = format!("= {first}");
            }
            out
        }
        other => vec![format!("= {}", clean(&compact_value(other, 100)))],
    }
}

/// Text for the terminal: control characters escaped, and ASCII stand-ins for the marks
/// `compact_value` uses and the guide's section sign.
pub fn clean(text: &str) -> String {
    escape_controls(text, false)
        .replace('\u{23ce}', "\\n")
        .replace('\u{2026}', "...")
        .replace('\u{a7}', "section ")
}
