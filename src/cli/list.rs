//! `runbook list`

use clap::Args;
use serde_json::json;

use super::{print_json, Globals};
use crate::engine::catalog::Origin;
use crate::engine::header;
use crate::error::{exit, Result};

pub const LIST_EXAMPLES: &str = "\
Examples:
  runbook list                                  name, read-only or mutates, summary
  runbook list --json | jq -r '.[] | select(.mutates) | .name'
  runbook --runbooks ./runbooks list            with a directory's runbooks over the built-in ones";

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print a JSON array instead of a table
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &ListArgs, globals: &Globals) -> Result<i32> {
    let catalog = globals.catalog()?;
    let mut rows = Vec::new();
    for entry in catalog.runbooks() {
        let (summary, mutates, problem) = match header::parse(&entry.source) {
            Ok(h) => (h.summary, Some(h.mutates), None),
            Err(e) => (String::new(), None, Some(format!("invalid header: {e}"))),
        };
        let origin = match &entry.origin {
            Origin::Embedded => "built-in".to_string(),
            Origin::Dir(d) => d.display().to_string(),
        };
        // Stdlib modules it imports that a site directory overrides: they run instead of the
        // built-in ones, so the list says so.
        let overridden: Vec<String> = catalog
            .imported_modules(entry)
            .iter()
            .filter(|m| m.origin != Origin::Embedded)
            .map(|m| m.file.clone())
            .collect();
        rows.push(json!({
            "name": entry.name, "summary": summary, "mutates": mutates,
            "origin": origin, "file": entry.file, "error": problem,
            "overridden_modules": overridden,
        }));
    }
    if args.json {
        print_json(&rows);
        return Ok(exit::OK);
    }
    let width = rows
        .iter()
        .map(|r| r["name"].as_str().unwrap_or("").len())
        .max()
        .unwrap_or(4);
    for r in &rows {
        let kind = match r["mutates"].as_bool() {
            Some(true) => console::style("mutates  ").yellow().to_string(),
            Some(false) => console::style("read-only").green().to_string(),
            None => console::style("invalid  ").red().to_string(),
        };
        let text = r["error"].as_str().or(r["summary"].as_str()).unwrap_or("");
        let mut origin = match r["origin"].as_str() {
            Some("built-in") | None => String::new(),
            Some(o) => format!("  ({o})"),
        };
        let overridden: Vec<&str> = r["overridden_modules"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m.as_str())
            .collect();
        if !overridden.is_empty() {
            origin.push_str(&format!(
                "  {}",
                console::style(format!("(overridden modules: {})", overridden.join(", "))).yellow()
            ));
        }
        println!(
            "{:<width$}  {kind}  {text}{origin}",
            r["name"].as_str().unwrap_or("")
        );
    }
    Ok(exit::OK)
}
