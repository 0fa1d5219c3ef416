//! Dynamic shell completion: the shell asks the binary itself, so candidates come from the
//! runbooks, the site and the audit store in force (clap_complete's environment-driven engine,
//! the one clap maintains for this).
//!
//! A shell registers with `COMPLETE=bash runbook` (or zsh, fish) and then, at every TAB,
//! runs `COMPLETE=bash runbook -- runbook run tri`; [`complete_if_asked`] answers that before
//! any argument parsing. Candidates: runbook names for `run`, `show`, `check` and
//! `log -u`; for `-p`, the chosen runbook's parameter keys (`KEY=`), then a key's values
//! (choices from the site such as symptoms, `true`/`false` for a bool); run ids (and `last`)
//! for `replay` and `report`, newest first, read from the audit store without writing to it.
//!
//! Bash splits words at `=` (COMP_WORDBREAKS), so `-p symptom=aur` reaches a completer as
//! three words; [`BashWords`] joins them back and hands bash only the part after the `=`.

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::sync::OnceLock;

use clap::CommandFactory;
use clap_complete::engine::{ArgValueCompleter, CompletionCandidate};
use clap_complete::env::{Bash, EnvCompleter, Fish, Shells, Zsh};
use clap_complete::CompleteEnv;

use super::Cli;
use crate::engine::catalog::Catalog;
use crate::engine::header::{self, ParamKind};

/// The command line being completed (the words after `--`), for completers that depend on
/// other arguments (`-p` needs the runbook's name).
static WORDS: OnceLock<Vec<String>> = OnceLock::new();

const SHELLS: Shells<'static> = Shells(&[&BashWords, &Zsh, &Fish]);

/// Answer a completion request and exit, or return when this is an ordinary run.
pub fn complete_if_asked() {
    if std::env::var_os("COMPLETE").is_none_or(|v| v.is_empty() || v == "0") {
        return;
    }
    let args: Vec<OsString> = std::env::args_os().collect();
    if let Some(i) = args.iter().position(|a| a == "--") {
        let words = args[i + 1..]
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let _ = WORDS.set(words);
    }
    CompleteEnv::with_factory(Cli::command)
        .shells(SHELLS)
        .complete();
}

/// The registration script for `shell` (what `COMPLETE=SHELL runbook` prints), calling back
/// `runbook` on the PATH: the package installs these in the shells' completion directories.
pub fn registration(shell: &str, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let completer = SHELLS.completer(shell).ok_or_else(|| {
        std::io::Error::other(format!("no completion for shell {shell} (bash, zsh, fish)"))
    })?;
    completer.write_registration("COMPLETE", "runbook", "runbook", "runbook", out)
}

/// Bash, with words split at `=` joined again (see the module comment).
struct BashWords;

impl EnvCompleter for BashWords {
    fn name(&self) -> &'static str {
        "bash"
    }
    fn is(&self, name: &str) -> bool {
        name == "bash"
    }
    fn write_registration(
        &self,
        var: &str,
        name: &str,
        bin: &str,
        completer: &str,
        buf: &mut dyn std::io::Write,
    ) -> std::io::Result<()> {
        let mut script = Vec::new();
        Bash.write_registration(var, name, bin, completer, &mut script)?;
        let script = String::from_utf8_lossy(&script);
        // Right after `KEY=`, bash's current word (`$2`) is empty while COMP_WORDS ends in
        // `=`: keep the `=` so that the key is still known.
        let keep_equals = r#"[[ "${words[COMP_CWORD]}" == "=" ]] || words[COMP_CWORD]="$2""#;
        let patched = script.replace(r#"words[COMP_CWORD]="$2""#, keep_equals);
        if patched == script {
            return Err(std::io::Error::other(
                "clap_complete's bash script changed: update BashWords in src/cli/complete.rs",
            ));
        }
        buf.write_all(patched.as_bytes())
    }
    fn write_complete(
        &self,
        cmd: &mut clap::Command,
        args: Vec<OsString>,
        current_dir: Option<&std::path::Path>,
        buf: &mut dyn std::io::Write,
    ) -> std::io::Result<()> {
        let index: usize = std::env::var("_CLAP_COMPLETE_INDEX")
            .ok()
            .and_then(|i| i.parse().ok())
            .unwrap_or_default();
        let words: Vec<String> = args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let (words, index, cut) = join_equals(&words, index);
        let _ = WORDS.set(words.clone());
        let args: Vec<OsString> = words.into_iter().map(OsString::from).collect();
        let found = clap_complete::engine::complete(cmd, args, index, current_dir)?;
        let ifs = std::env::var("_CLAP_IFS").unwrap_or_else(|_| "\n".into());
        let values: Vec<String> = found
            .iter()
            .map(|c| {
                let v = c.get_value().to_string_lossy();
                v.get(cut..).unwrap_or(&v).to_string()
            })
            .collect();
        write!(buf, "{}", values.join(&ifs))
    }
}

/// `[.., "-p", "symptom", "=", "aur"]` → `[.., "-p", "symptom=aur"]`: the words joined
/// again, the index of the word being completed in the joined list, and where bash's own
/// current word starts inside it (what to cut from each candidate).
fn join_equals(words: &[String], index: usize) -> (Vec<String>, usize, usize) {
    let mut out: Vec<String> = Vec::new();
    // For each original word: (index in `out`, byte offset in that joined word).
    let mut at: Vec<(usize, usize)> = Vec::new();
    for (i, word) in words.iter().enumerate() {
        let glue_to_previous = i > 1 && (word == "=" || words[i - 1] == "=");
        let joined = out.len().checked_sub(1);
        match (joined, out.last_mut()) {
            (Some(j), Some(last)) if glue_to_previous => {
                at.push((j, last.len()));
                last.push_str(word);
            }
            _ => {
                at.push((out.len(), 0));
                out.push(word.clone());
            }
        }
    }
    let (new_index, mut cut) = at.get(index).copied().unwrap_or((out.len(), 0));
    if words.get(index).is_some_and(|w| w == "=") {
        // Bash's own word starts after the `=`.
        cut += 1;
    }
    (out, new_index, cut)
}

/// The value of a global option in the words being completed (`--site X`, `--site=X`).
fn option_values(words: &[String], long: &str) -> Vec<String> {
    let mut found = Vec::new();
    let flag = format!("--{long}");
    let with_eq = format!("--{long}=");
    let mut it = words.iter();
    while let Some(w) = it.next() {
        if *w == flag {
            if let Some(v) = it.next() {
                found.push(v.clone());
            }
        } else if let Some(v) = w.strip_prefix(&with_eq) {
            found.push(v.to_string());
        }
    }
    found
}

fn words() -> &'static [String] {
    WORDS.get().map(Vec::as_slice).unwrap_or(&[])
}

fn catalog() -> Option<Catalog> {
    let mut dirs: Vec<PathBuf> = option_values(words(), "runbooks")
        .into_iter()
        .map(PathBuf::from)
        .collect();
    if dirs.is_empty() {
        dirs = std::env::var("RUNBOOK_PATH")
            .unwrap_or_default()
            .split(':')
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
            .collect();
    }
    Catalog::load(&dirs).ok()
}

/// The runbook named on the command line being completed: the first word after `run` or
/// `show` that is neither an option nor an option's value.
fn chosen_runbook() -> Option<String> {
    let w = words();
    let start = w.iter().position(|x| x == "run" || x == "show")? + 1;
    let mut i = start;
    while i < w.len() {
        let x = &w[i];
        if matches!(
            x.as_str(),
            "-p" | "--param" | "--fail-on" | "--site" | "--audit-db" | "--runbooks"
        ) {
            i += 2;
            continue;
        }
        if x.starts_with('-') {
            i += 1;
            continue;
        }
        return Some(x.clone());
    }
    None
}

/// Completer for an argument that names a runbook.
pub fn runbook_names() -> ArgValueCompleter {
    ArgValueCompleter::new(|current: &OsStr| {
        let current = current.to_string_lossy();
        let Some(catalog) = catalog() else {
            return Vec::new();
        };
        catalog
            .runbooks()
            .filter(|e| e.name.starts_with(current.as_ref()))
            .map(|e| {
                let summary = header::parse(&e.source)
                    .map(|h| h.summary)
                    .unwrap_or_default();
                CompletionCandidate::new(&e.name).help(Some(summary.into()))
            })
            .collect()
    })
}

/// Completer for `-p KEY=VALUE`: keys of the chosen runbook, then the values of one key.
pub fn params() -> ArgValueCompleter {
    ArgValueCompleter::new(|current: &OsStr| {
        let current = current.to_string_lossy();
        let Some(catalog) = catalog() else {
            return Vec::new();
        };
        let Some(name) = chosen_runbook() else {
            return Vec::new();
        };
        let Some(h) = catalog
            .runbook(&name)
            .ok()
            .and_then(|e| header::parse(&e.source).ok())
        else {
            return Vec::new();
        };
        let Some((key, partial)) = current.split_once('=') else {
            return h
                .params
                .iter()
                .filter(|p| p.name.starts_with(current.as_ref()))
                .map(|p| {
                    CompletionCandidate::new(format!("{}=", p.name))
                        .help(Some(p.help.clone().into()))
                })
                .collect();
        };
        let Some(spec) = h.param(key) else {
            return Vec::new();
        };
        let site = || {
            let file = option_values(words(), "site").pop().map(PathBuf::from);
            let file = file.or_else(|| std::env::var_os("RUNBOOK_SITE").map(PathBuf::from));
            super::run::load_site(file.as_deref())
                .ok()
                .and_then(|s| serde_json::to_value(&s).ok())
                .unwrap_or_default()
        };
        let values: Vec<(String, String)> = if spec.choices_from.is_some() {
            header::choices(spec, &site()).unwrap_or_default()
        } else if spec.name == "unit" {
            // The door refuses a unit the site does not list, whichever runbook asks.
            site()["units"]
                .as_object()
                .map(|units| {
                    units
                        .iter()
                        .map(|(name, u)| {
                            let label = u["description"].as_str().unwrap_or("");
                            (name.clone(), label.to_string())
                        })
                        .collect()
                })
                .unwrap_or_default()
        } else if let Some(words) = spec.pattern.as_ref().and_then(|p| alternatives(p.as_str())) {
            words.into_iter().map(|w| (w, String::new())).collect()
        } else if matches!(spec.kind, ParamKind::Bool) {
            vec![
                ("true".into(), String::new()),
                ("false".into(), String::new()),
            ]
        } else {
            Vec::new()
        };
        values
            .into_iter()
            .filter(|(v, _)| v.starts_with(partial))
            .map(|(v, label)| {
                CompletionCandidate::new(format!("{key}={v}")).help(Some(label.into()))
            })
            .collect()
    })
}

/// The words of a pattern that is only a list of literal words (`tunnel|caddy`), as the
/// header stores it (`^(?:tunnel|caddy)$`); None for any other pattern.
fn alternatives(pattern: &str) -> Option<Vec<String>> {
    let inner = pattern.strip_prefix("^(?:")?.strip_suffix(")$")?;
    let words: Vec<String> = inner.split('|').map(str::to_string).collect();
    let literal = |w: &String| {
        !w.is_empty()
            && w.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    words.iter().all(literal).then_some(words)
}

/// Completer for a run: `last` and the ids in the audit store, newest first.
pub fn run_ids() -> ArgValueCompleter {
    ArgValueCompleter::new(|current: &OsStr| {
        let current = current.to_string_lossy().into_owned();
        let db = option_values(words(), "audit-db")
            .pop()
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("RUNBOOK_AUDIT_DB").map(PathBuf::from))
            .unwrap_or_else(crate::audit::default_path);
        let mut found = Vec::new();
        if "last".starts_with(&current) {
            found.push(CompletionCandidate::new("last").help(Some("the newest run".into())));
        }
        let Ok(rt) = tokio::runtime::Builder::new_current_thread().build() else {
            return found;
        };
        let runs = rt.block_on(async {
            let mut conn = crate::audit::open_read_only(&db).await?;
            let filter = crate::audit::RunFilter {
                limit: Some(500),
                ..Default::default()
            };
            crate::audit::list_runs(&mut conn, &filter).await.ok()
        });
        for r in runs.unwrap_or_default() {
            if r.id.starts_with(&current) {
                let help = format!("{} {}", r.runbook, r.status.as_str());
                found.push(CompletionCandidate::new(r.id).help(Some(help.into())));
            }
        }
        found
    })
}

#[cfg(test)]
mod tests {
    use super::join_equals;

    fn w(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn only_a_list_of_words_is_a_list_of_choices() {
        use super::alternatives;
        assert_eq!(
            alternatives("^(?:tunnel|caddy)$"),
            Some(vec!["tunnel".to_string(), "caddy".to_string()])
        );
        assert_eq!(alternatives("^(?:[a-z_]+\\.sh)$"), None);
        assert_eq!(alternatives("^(?:a|b.*)$"), None);
    }

    #[test]
    fn bash_words_split_at_equals_are_joined() {
        let words = w(&["runbook", "run", "diagnose", "-p", "symptom", "=", "aur"]);
        assert_eq!(
            join_equals(&words, 6),
            (
                w(&["runbook", "run", "diagnose", "-p", "symptom=aur"]),
                4,
                8
            )
        );
        let words = w(&["runbook", "run", "diagnose", "-p", "symptom", "="]);
        assert_eq!(
            join_equals(&words, 5),
            (w(&["runbook", "run", "diagnose", "-p", "symptom="]), 4, 8)
        );
        let words = w(&["runbook", "run", "tri"]);
        assert_eq!(join_equals(&words, 2), (words.clone(), 2, 0));
        let words = w(&["runbook", "run", "diagnose", "-p", "sym"]);
        assert_eq!(join_equals(&words, 4), (words.clone(), 4, 0));
    }
}
