//! Matching one call against the site's allowlist rules (`commands.allow` for `cmd::run`,
//! `containers.NAME.exec` for `docker::exec`).
//!
//! A rule pins the whole call, not only its start: the leading arguments (`args_prefix`), then
//! one shape per remaining argument (`args`: a literal, a pattern, a list of words, or a path
//! confined to directories), and nothing after them. The environment is pinned too: only the
//! variables a rule lists pass (each value matching its pattern), `require_env` must be present
//! with its exact value, and variables that make a program load code (BASH_ENV, LD_*,
//! PYTHON*, ...) never pass. The first rule that fits decides; its `effect` classifies the call.

use std::path::{Component, Path};

use crate::site::{anchored, env_loads_code, AllowedCommand, ArgRule, ArgShape, CommandEffect};

/// Why `rest` (the arguments after the program, or after the script) does not fit `rule`.
pub fn args_fit(rule: &AllowedCommand, rest: &[String]) -> Result<(), String> {
    let Some(after) = rest.strip_prefix(rule.args_prefix.as_slice()) else {
        return Err(format!(
            "the arguments must begin with `{}`",
            rule.args_prefix.join(" ")
        ));
    };
    let mut i = 0;
    for spec in &rule.args {
        match spec {
            ArgRule::Exact(word) => {
                match after.get(i) {
                    Some(a) if a == word => {}
                    Some(a) => return Err(format!("expected `{word}`, got `{a}`")),
                    None => return Err(format!("`{word}` is missing")),
                }
                i += 1;
            }
            ArgRule::Shape(shape) if shape.repeat => {
                if i == after.len() && !shape.optional {
                    return Err(format!("{} is missing", shape_name(shape)));
                }
                for a in &after[i..] {
                    shape_fits(shape, a)?;
                }
                i = after.len();
            }
            ArgRule::Shape(shape) => match after.get(i) {
                None if shape.optional => {}
                None => return Err(format!("{} is missing", shape_name(shape))),
                Some(a) => {
                    shape_fits(shape, a)?;
                    i += 1;
                }
            },
        }
    }
    match after.get(i) {
        None => Ok(()),
        Some(extra) => Err(format!(
            "unexpected argument `{extra}` (the rule allows nothing more)"
        )),
    }
}

fn shape_fits(shape: &ArgShape, arg: &str) -> Result<(), String> {
    if arg.starts_with('-') && !shape.dash && !shape.one_of.iter().any(|w| w == arg) {
        return Err(format!(
            "`{arg}` looks like an option where the rule expects {}",
            shape_name(shape)
        ));
    }
    if !shape.one_of.is_empty() && !shape.one_of.iter().any(|w| w == arg) {
        return Err(format!("`{arg}` is not one of {}", shape.one_of.join(", ")));
    }
    if let Some(p) = &shape.pattern {
        // Patterns were compiled when the site loaded.
        let ok = anchored(p).is_ok_and(|re| re.is_match(arg));
        if !ok {
            return Err(format!("`{arg}` does not match the pattern {p}"));
        }
    }
    if !shape.path.is_empty() {
        path_fits(&shape.path, arg)?;
    }
    Ok(())
}

/// An absolute path without `..` whose real location lies under one of `dirs`.
fn path_fits(dirs: &[String], arg: &str) -> Result<(), String> {
    let p = Path::new(arg);
    if !p.is_absolute() || p.components().any(|c| c == Component::ParentDir) {
        return Err(format!(
            "`{arg}` must be an absolute path without `..` under {}",
            dirs.join(", ")
        ));
    }
    let real = super::files::resolve(p).map_err(|e| format!("cannot resolve {arg}: {e}"))?;
    let inside = dirs
        .iter()
        .filter_map(|d| super::files::resolve(Path::new(d)).ok())
        .any(|d| real.starts_with(d));
    if inside {
        Ok(())
    } else {
        Err(format!(
            "`{arg}` (real location {}) is not under {}",
            real.display(),
            dirs.join(", ")
        ))
    }
}

fn shape_name(shape: &ArgShape) -> String {
    if !shape.one_of.is_empty() {
        format!("one of {}", shape.one_of.join("|"))
    } else if let Some(p) = &shape.pattern {
        format!("an argument matching {p}")
    } else {
        format!("a path under {}", shape.path.join(", "))
    }
}

/// Why the variables a call passes do not fit `rule`.
pub fn env_fits(rule: &AllowedCommand, env: &[(String, String)]) -> Result<(), String> {
    for (k, v) in env {
        if env_loads_code(k) {
            return Err(format!(
                "`{k}` can make the program load code or settings the caller chose, so it is never passed"
            ));
        }
        let pattern = match (rule.require_env.get(k), rule.env.get(k)) {
            (Some(want), _) if v == want => continue,
            (Some(want), _) => return Err(format!("`{k}` must be `{want}` for this rule")),
            (None, Some(p)) => p,
            (None, None) => {
                return Err(format!(
                    "`{k}` is not among the variables this rule passes{}",
                    listed(rule)
                ))
            }
        };
        if !anchored(pattern).is_ok_and(|re| re.is_match(v)) {
            return Err(format!("`{k}` must match {pattern}"));
        }
    }
    for (k, want) in &rule.require_env {
        if !env.iter().any(|(name, _)| name == k) {
            return Err(format!("this rule needs `{k}={want}`"));
        }
    }
    Ok(())
}

/// Why the secret-file keys a call names (`withheld_env`) do not fit `rule`.
pub fn withheld_fits(rule: &AllowedCommand, keys: &[String]) -> Result<(), String> {
    if keys.is_empty() {
        return Ok(());
    }
    let Some(w) = &rule.withheld_env else {
        return Err("this rule passes no withheld values (withheld_env)".into());
    };
    for (i, k) in keys.iter().enumerate() {
        if !w.keys.contains_key(k) {
            let known: Vec<&str> = w.keys.keys().map(String::as_str).collect();
            return Err(format!(
                "`{k}` is not among the keys of {} this rule passes ({})",
                w.file,
                known.join(", ")
            ));
        }
        if keys[..i].contains(k) {
            return Err(format!("`{k}` is named twice"));
        }
    }
    Ok(())
}

fn listed(rule: &AllowedCommand) -> String {
    let names: Vec<&str> = rule
        .env
        .keys()
        .chain(rule.require_env.keys())
        .map(String::as_str)
        .collect();
    if names.is_empty() {
        " (it passes none)".into()
    } else {
        format!(" ({})", names.join(", "))
    }
}

/// The rule as one line: `/usr/sbin/sysctl -n <[a-z0-9_.]+>`, with its required environment.
pub fn describe(rule: &AllowedCommand) -> String {
    let mut s = String::new();
    for (k, v) in &rule.require_env {
        s.push_str(&format!("{k}={v} "));
    }
    s.push_str(&rule.program);
    for a in &rule.args_prefix {
        s.push(' ');
        s.push_str(a);
    }
    if let Some(d) = &rule.script_dir {
        s.push_str(&format!(" {d}/SCRIPT"));
    }
    for a in &rule.args {
        s.push(' ');
        match a {
            ArgRule::Exact(w) => s.push_str(w),
            ArgRule::Shape(shape) => {
                let inner = if !shape.one_of.is_empty() {
                    shape.one_of.join("|")
                } else if !shape.path.is_empty() {
                    format!("PATH under {}", shape.path.join(","))
                } else {
                    shape.pattern.clone().unwrap_or_default()
                };
                let (open, close) = if shape.optional {
                    ("[", "]")
                } else {
                    ("<", ">")
                };
                s.push_str(&format!(
                    "{open}{inner}{close}{}",
                    if shape.repeat { "..." } else { "" }
                ));
            }
        }
    }
    if let Some(w) = &rule.withheld_env {
        let keys: Vec<String> = w
            .keys
            .iter()
            .map(|(k, var)| format!("{var} from {k}"))
            .collect();
        s.push_str(&format!(" [withheld: {} of {}]", keys.join(", "), w.file));
    }
    s
}

/// How a call was classified, for the audit trail and `runbook api`: where the rule is in the
/// site file, its effect, its shape and why it is there.
pub fn label(at: &str, rule: &AllowedCommand) -> String {
    let effect = match rule.effect {
        CommandEffect::Read => "read",
        CommandEffect::Mutate => "mutate",
    };
    match &rule.why {
        Some(why) => format!("{at} ({effect}): {} -- {why}", describe(rule)),
        None => format!("{at} ({effect}): {}", describe(rule)),
    }
}

/// Every site rule that can classify calls of a `BySite` function of `module` (`runbook api`).
pub fn rules_for(module: &str, site: &crate::site::Site) -> Vec<String> {
    match module {
        "cmd" => site
            .commands
            .allow
            .iter()
            .enumerate()
            .map(|(i, r)| label(&format!("commands.allow[{i}]"), r))
            .collect(),
        "docker" => site
            .containers
            .iter()
            .flat_map(|(name, c)| {
                c.exec
                    .iter()
                    .enumerate()
                    .map(move |(i, r)| label(&format!("containers.{name}.exec[{i}]"), r))
            })
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::Site;

    fn rules(yaml: &str) -> Vec<AllowedCommand> {
        Site::from_str(&format!("commands:\n  allow:\n{yaml}"), "t.yaml")
            .unwrap()
            .commands
            .allow
    }

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn nothing_may_follow_the_pinned_shape() {
        let r = &rules("    - {program: /usr/sbin/sysctl, args_prefix: [\"-n\"], args: [{pattern: \"[a-z0-9_.]+\"}]}\n")[0];
        assert!(args_fit(r, &argv(&["-n", "kernel.hostname"])).is_ok());
        for bad in [
            &["-n", "-w", "kernel.hostname=x"][..],
            &["-n", "kernel.hostname", "-w"],
            &["-n", "kernel.hostname=x"],
            &["-n"],
            &["-w", "-n", "kernel.hostname"],
        ] {
            assert!(args_fit(r, &argv(bad)).is_err(), "{bad:?} fits");
        }
    }

    #[test]
    fn shapes_optional_repeat_one_of_and_dashes() {
        let r = &rules("    - {program: /usr/bin/du, args_prefix: [\"-xs\"], args: [{pattern: \"/.*\", repeat: true}]}\n    - {program: /usr/sbin/ufw, args_prefix: [status], args: [{one_of: [verbose, numbered], optional: true}]}\n")[..];
        assert!(args_fit(&r[0], &argv(&["-xs", "/var/log", "/home"])).is_ok());
        assert!(
            args_fit(&r[0], &argv(&["-xs"])).is_err(),
            "repeat needs one"
        );
        assert!(args_fit(&r[0], &argv(&["-xs", "--files0-from=/etc/shadow"])).is_err());
        assert!(args_fit(&r[1], &argv(&["status"])).is_ok());
        assert!(args_fit(&r[1], &argv(&["status", "verbose"])).is_ok());
        assert!(args_fit(&r[1], &argv(&["status", "loud"])).is_err());
    }

    #[test]
    fn paths_are_confined_after_resolving_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let inside = dir.path().join("in");
        std::fs::create_dir(&inside).unwrap();
        std::os::unix::fs::symlink("/etc", inside.join("link")).unwrap();
        let yaml = format!(
            "    - {{program: /usr/bin/cat, args: [{{path: [{}]}}]}}\n",
            inside.display()
        );
        let r = &rules(&yaml)[0];
        let ok = inside.join("new-file").display().to_string();
        assert!(args_fit(r, &[ok]).is_ok());
        for bad in [
            inside.join("link/passwd").display().to_string(),
            format!("{}/../x", inside.display()),
            "/etc/passwd".to_string(),
            "relative".to_string(),
        ] {
            assert!(
                args_fit(r, std::slice::from_ref(&bad)).is_err(),
                "{bad} fits"
            );
        }
    }

    #[test]
    fn environment_is_an_allowlist() {
        let r = &rules("    - {program: /usr/bin/bash, script_dir: /x, env: {LEVEL: \"info|debug\"}, require_env: {DRY: \"true\"}}\n")[0];
        let env = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert!(env_fits(r, &env(&[("DRY", "true"), ("LEVEL", "info")])).is_ok());
        assert!(env_fits(r, &env(&[("DRY", "true")])).is_ok());
        assert!(env_fits(r, &env(&[])).unwrap_err().contains("DRY=true"));
        assert!(env_fits(r, &env(&[("DRY", "false")])).is_err());
        assert!(env_fits(r, &env(&[("DRY", "true"), ("LEVEL", "trace")])).is_err());
        for sneaky in [
            "BASH_ENV",
            "ENV",
            "PYTHONSTARTUP",
            "PERL5OPT",
            "NODE_OPTIONS",
            "LD_PRELOAD",
            "OTHER",
        ] {
            let e = env_fits(r, &env(&[("DRY", "true"), (sneaky, "/tmp/x")]));
            assert!(e.is_err(), "{sneaky} passes");
        }
    }

    #[test]
    fn a_site_cannot_allow_code_loading_variables() {
        for name in [
            "BASH_ENV",
            "LD_PRELOAD",
            "PYTHONPATH",
            "PERL5LIB",
            "NODE_OPTIONS",
            "ENV",
        ] {
            let yaml = format!(
                "commands:\n  allow:\n    - {{program: /usr/bin/env, env: {{{name}: \".*\"}}}}\n"
            );
            let err = Site::from_str(&yaml, "t.yaml").unwrap_err().to_string();
            assert!(
                err.contains(name) && err.contains("no rule may allow it"),
                "{err}"
            );
        }
    }
}
