//! `runbook api`: the host API table, generated from the registrations themselves.

use clap::Args;
use serde_json::json;

use super::{print_json, Globals};
use crate::error::{exit, Result};
use crate::host::{allow, registry, Effect};

pub const API_EXAMPLES: &str = "\
Examples:
  runbook api                                   every host function: arguments, read or mutate
  runbook api --json | jq -r '.[] | select(.effect == \"mutate\") | .function'
  runbook --site /etc/runbook/site.yaml api     with the command rules of that site";

#[derive(Debug, Args)]
pub struct ApiArgs {
    /// Print JSON instead of a table
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &ApiArgs, globals: &Globals) -> Result<i32> {
    let fns = registry::all();
    // Functions the site classifies list the rules of the site in force, in matching order.
    let site = super::run::load_site(globals.cli_site.as_deref())?;
    let rules = |f: &crate::host::HostFn| match f.effect {
        Effect::BySite(_) => allow::rules_for(f.module, &site),
        _ => Vec::new(),
    };
    if args.json {
        let rows: Vec<_> = fns
            .iter()
            .map(|f| {
                json!({
                    "function": f.qualified_name(),
                    "params": f.params.iter().map(|p| json!({
                        "name": p.name, "type": p.ty.name(), "optional": p.optional, "doc": p.doc,
                    })).collect::<Vec<_>>(),
                    "effect": f.effect.describe(),
                    "rules": rules(f),
                    "doc": f.doc,
                    "shell": (f.shell)(&site, &Default::default()),
                })
            })
            .collect();
        print_json(&rows);
        return Ok(exit::OK);
    }
    for f in fns {
        let params: Vec<String> = f
            .params
            .iter()
            .map(|p| {
                if p.optional {
                    format!("[{}: {}]", p.name, p.ty.name())
                } else {
                    format!("{}: {}", p.name, p.ty.name())
                }
            })
            .collect();
        let effect = match f.effect {
            Effect::Read => console::style(f.effect.describe()).green(),
            _ => console::style(f.effect.describe()).yellow(),
        };
        println!(
            "{}({})  {}",
            console::style(f.qualified_name()).bold(),
            params.join(", "),
            effect
        );
        println!("    {}", f.doc);
        for command in (f.shell)(&site, &Default::default()) {
            println!("    $ {command}");
        }
        for rule in rules(f) {
            println!("      {}", console::style(rule).dim());
        }
    }
    Ok(exit::OK)
}
