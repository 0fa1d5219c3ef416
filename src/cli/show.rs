//! `runbook show NAME`: header, parameters and steps, read from the source without running it.

use clap::Args;
use serde_json::json;

use super::{print_json, Globals};
use crate::engine::catalog::Origin;
use crate::engine::header;
use crate::error::{exit, Error, Result};

pub const SHOW_EXAMPLES: &str = "\
Examples:
  runbook show restart-unit                     parameters, steps, the change table, locks
  runbook show diagnose                         also lists the symptoms -p symptom= takes
  runbook show triage --json";

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The runbook to show
    #[arg(add = super::complete::runbook_names())]
    pub name: String,
    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &ShowArgs, globals: &Globals) -> Result<i32> {
    let catalog = globals.catalog()?;
    let entry = catalog.runbook(&args.name)?;
    let h = header::parse(&entry.source).map_err(|e| {
        Error::Usage(format!(
            "{}:{}: invalid header: {}",
            entry.file, e.line, e.message
        ))
    })?;
    let steps = header::steps(&entry.source);
    // `one of site.X` parameters list their values from the site config in force.
    let site = super::run::load_site(globals.cli_site.as_deref())?;
    let site_json = serde_json::to_value(&site).unwrap_or_default();
    let params: Vec<_> = h
        .params
        .iter()
        .map(|p| {
            json!({
                "name": p.name, "type": p.kind.name(), "required": p.required,
                "default": p.default, "secret": p.secret, "min": p.min, "max": p.max,
                "pattern": p.pattern.as_ref().map(|r| r.as_str().trim_start_matches("^(?:").trim_end_matches(")$").to_string()),
                "help": p.help,
                "choices": header::choices(p, &site_json).map(|c| c.into_iter().map(|(id, label)| json!({"value": id, "label": label})).collect::<Vec<_>>()),
            })
        })
        .collect();
    let modules: Vec<_> = catalog
        .imported_modules(entry)
        .iter()
        .map(|m| {
            let overridden = m.origin != Origin::Embedded;
            json!({"name": m.name, "file": m.file, "overridden": overridden})
        })
        .collect();
    if args.json {
        print_json(&json!({
            "name": h.name, "summary": h.summary, "description": h.description,
            "mutates": h.mutates, "file": entry.file, "params": params, "modules": modules,
            "locks": h.locks, "change": h.change,
            "steps": steps.iter().map(|s| json!({"name": s.name, "doc": s.doc, "line": s.line})).collect::<Vec<_>>(),
        }));
        return Ok(exit::OK);
    }
    println!("{}  {}", console::style(&h.name).bold().cyan(), h.summary);
    println!("file: {}", entry.file);
    println!(
        "mutates: {}",
        if h.mutates {
            "yes: it can change the host (try --dry-run first)"
        } else {
            "no: read-only"
        }
    );
    if !modules.is_empty() {
        let shown: Vec<String> = modules
            .iter()
            .map(|m| {
                let name = m["name"].as_str().unwrap_or_default();
                if m["overridden"] == true {
                    console::style(format!(
                        "{name} (OVERRIDDEN by {})",
                        m["file"].as_str().unwrap_or_default()
                    ))
                    .yellow()
                    .to_string()
                } else {
                    name.to_string()
                }
            })
            .collect();
        println!("modules: {}", shown.join(", "));
    }
    if !h.locks.is_empty() {
        println!("locks: {}", h.locks.join(", "));
    }
    if !h.description.is_empty() {
        println!("\n{}", h.description);
    }
    if h.mutates {
        println!("\n{}", console::style("Change").bold());
        print!("{}", change_table(&h.change));
    }
    println!("\n{}", console::style("Parameters").bold());
    if h.params.is_empty() {
        println!("  (none)");
    }
    for (p, j) in h.params.iter().zip(&params) {
        let mut attrs = vec![p.kind.name().to_string()];
        if p.required {
            attrs.push("required".into());
        }
        if let Some(d) = &p.default {
            attrs.push(match p.kind {
                crate::engine::header::ParamKind::String => format!("default {d:?}"),
                _ => format!("default {d}"),
            });
        }
        if let Some(min) = p.min {
            attrs.push(format!("min {min}"));
        }
        if let Some(max) = p.max {
            attrs.push(format!("max {max}"));
        }
        if let Some(pat) = j["pattern"].as_str() {
            attrs.push(format!("pattern {pat}"));
        }
        if p.secret {
            attrs.push("secret".into());
        }
        println!("  -p {}=…  ({})  {}", p.name, attrs.join(", "), p.help);
        if let Some(choices) = j["choices"].as_array() {
            let width = choices
                .iter()
                .map(|c| c["value"].as_str().unwrap_or("").len())
                .max()
                .unwrap_or(0);
            for c in choices {
                println!(
                    "       {:<width$}  {}",
                    c["value"].as_str().unwrap_or(""),
                    console::style(c["label"].as_str().unwrap_or("")).dim()
                );
            }
        }
    }
    println!("\n{}", console::style("Steps").bold());
    for (i, s) in steps.iter().enumerate() {
        println!("  {}. {}", i + 1, s.name);
        if !s.doc.is_empty() {
            println!("     {}", console::style(&s.doc).dim());
        }
    }
    Ok(exit::OK)
}

/// The change table (time to apply, downtime, rollback), one row a line; `show` and `plan`
/// print it the same way.
pub fn change_table(change: &header::ChangeTable) -> String {
    let mut text = String::new();
    for (label, value) in change.rows() {
        text.push_str(&format!("  {label:<14} {value}\n"));
    }
    text
}
