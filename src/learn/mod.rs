//! `runbook learn`: a new operator walked through a runbook on the real server, step by step,
//! with the shell behind every call, and a record of who has learned what.
//!
//! A lesson is a run: the engine executes the runbook exactly as `runbook run` does, through
//! the same door and gates, with a [`terminal::TerminalWalker`] hooked between its steps
//! (`engine::walker`). It is recorded in the audit trail as a run of kind `learn`; a lesson of
//! a mutating runbook is a dry run unless `--live` is given.

pub mod lesson;
pub mod quiz;
pub mod status;
pub mod terminal;

use std::collections::BTreeSet;

use crate::engine::catalog::Catalog;
use crate::site::{Lesson, Site};

/// The curriculum's runbooks, in order, each once; without a curriculum in the site, every
/// runbook of the catalog by name.
pub fn curriculum_runbooks(site: &Site, catalog: &Catalog) -> Vec<String> {
    if site.curriculum.is_empty() {
        let mut names: Vec<String> = catalog.runbooks().map(|e| e.name.clone()).collect();
        names.sort();
        return names;
    }
    let mut seen = BTreeSet::new();
    site.curriculum
        .iter()
        .filter(|l| seen.insert(l.runbook.clone()))
        .map(|l| l.runbook.clone())
        .collect()
}

/// The lesson of the curriculum that teaches `runbook` (its parameters), if any.
pub fn lesson_for<'s>(site: &'s Site, runbook: &str) -> Option<&'s Lesson> {
    site.curriculum.iter().find(|l| l.runbook == runbook)
}

/// The `-p` arguments of a lesson, as a shell would take them.
pub fn lesson_command(lesson: &Lesson) -> String {
    let mut words = vec![
        "runbook".to_string(),
        "learn".into(),
        lesson.runbook.clone(),
    ];
    for (k, v) in &lesson.params {
        words.push("-p".into());
        words.push(format!("{k}={v}"));
    }
    crate::host::shell::line(words)
}
