//! `runbook check [NAME]`: compile runbooks (and every stdlib module) without running them.

use clap::Args;
use serde_json::json;

use super::{print_json, Globals};
use crate::engine::{build_engine, check_entry, compile, initial_scope, CompileError};
use crate::error::{exit, Error, Result};

pub const CHECK_EXAMPLES: &str = "\
Examples:
  runbook check                                 every runbook and stdlib module
  runbook check restart-unit                    one runbook (and the modules it imports)
  runbook --runbooks ./runbooks check --json    a directory under review, for CI

Exit codes: 0 everything compiles; 2 a compile error, printed as FILE:LINE:COL with the
source line and a caret.";

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Check only this runbook (default: every runbook and stdlib module)
    #[arg(add = super::complete::runbook_names())]
    pub name: Option<String>,
    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &CheckArgs, globals: &Globals) -> Result<i32> {
    let catalog = globals.catalog()?;
    let engine = build_engine(&catalog, None);
    let entries: Vec<_> = match &args.name {
        Some(name) => vec![catalog.runbook(name)?],
        None => catalog.runbooks().collect(),
    };
    let mut checked = Vec::new();
    let mut errors: Vec<CompileError> = Vec::new();
    for entry in entries {
        checked.push(entry.file.clone());
        errors.extend(check_entry(&engine, &catalog, entry));
    }
    if args.name.is_none() {
        for module in catalog.modules() {
            checked.push(module.file.clone());
            if let Err(e) = compile(&engine, module, &initial_scope(rhai::Map::new())) {
                errors.push(e);
            }
        }
    }
    if args.json {
        print_json(&json!({
            "checked": checked,
            "errors": errors.iter().map(|e| json!({
                "file": e.file, "line": e.line, "column": e.column, "message": e.message,
            })).collect::<Vec<_>>(),
        }));
    } else {
        for e in &errors {
            eprintln!("{e}");
        }
        if errors.is_empty() {
            println!("{} files compiled, no errors", checked.len());
        }
    }
    if errors.is_empty() {
        Ok(exit::OK)
    } else {
        Err(Error::Usage(format!(
            "{} error(s) in {} file(s) checked",
            errors.len(),
            checked.len()
        )))
    }
}
