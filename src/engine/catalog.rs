//! Where runbooks and stdlib modules come from.
//!
//! `runbooks/` and `stdlib/` are embedded at build time, so an installed binary is
//! self-contained. Site directories (`--runbooks DIR`, or `RUNBOOK_PATH` with `:` between
//! directories) are read after the embedded set; a runbook there overrides an embedded one of
//! the same name. A site directory's sibling `stdlib/` (that is, `DIR/../stdlib`) can likewise
//! override stdlib modules, so a checkout's `runbooks/` and `stdlib/` travel together.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use include_dir::{include_dir, Dir};

use crate::error::{Error, Result};

static EMBEDDED_RUNBOOKS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/runbooks");
static EMBEDDED_STDLIB: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/stdlib");

/// Where one runbook or module was found: shown in `list`, in errors, and in the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Embedded,
    Dir(PathBuf),
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub origin: Origin,
    /// A file name for messages: the name of a built-in runbook or module (`triage`), else
    /// the real path.
    pub file: String,
    pub source: String,
}

#[derive(Debug, Default)]
pub struct Catalog {
    runbooks: BTreeMap<String, Entry>,
    stdlib: BTreeMap<String, Entry>,
}

impl Catalog {
    /// The embedded set, overridden by each directory in order.
    pub fn load(dirs: &[PathBuf]) -> Result<Catalog> {
        let mut cat = Catalog::default();
        add_embedded(&mut cat.runbooks, &EMBEDDED_RUNBOOKS);
        add_embedded(&mut cat.stdlib, &EMBEDDED_STDLIB);
        for dir in dirs {
            if !dir.is_dir() {
                return Err(Error::Usage(format!(
                    "runbook directory {} does not exist (from --runbooks or RUNBOOK_PATH)",
                    dir.display()
                )));
            }
            add_dir(&mut cat.runbooks, dir)?;
            if let Some(stdlib) = dir.parent().map(|p| p.join("stdlib")) {
                if stdlib.is_dir() {
                    add_dir(&mut cat.stdlib, &stdlib)?;
                }
            }
        }
        Ok(cat)
    }

    pub fn runbooks(&self) -> impl Iterator<Item = &Entry> {
        self.runbooks.values()
    }

    pub fn runbook(&self, name: &str) -> Result<&Entry> {
        self.runbooks.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.runbooks.keys().map(String::as_str).collect();
            // The nearest name, or the only one it is a prefix of; the whole list otherwise.
            let prefixed: Vec<&str> = known
                .iter()
                .copied()
                .filter(|k| !name.is_empty() && k.starts_with(name))
                .collect();
            let guess = super::params::nearest(name, &known).or(match prefixed.as_slice() {
                [one] => Some(*one),
                _ => None,
            });
            Error::Usage(match guess {
                Some(g) => format!(
                    "no runbook named `{name}`; did you mean `{g}`? (`runbook list` shows them all)"
                ),
                None => format!(
                    "no runbook named `{name}` (known: {}; `runbook list` shows them)",
                    known.join(", ")
                ),
            })
        })
    }

    pub fn module(&self, name: &str) -> Option<&Entry> {
        self.stdlib.get(name)
    }

    pub fn modules(&self) -> impl Iterator<Item = &Entry> {
        self.stdlib.values()
    }

    /// The stdlib modules `entry` imports, directly or through another module, each once.
    /// Names that are no module are left out (the import fails when it runs).
    pub fn imported_modules(&self, entry: &Entry) -> Vec<&Entry> {
        let mut found: Vec<&Entry> = Vec::new();
        let mut sources = vec![entry.source.as_str()];
        while let Some(source) = sources.pop() {
            for name in imports(source) {
                if let Some(module) = self.module(name) {
                    if !found.iter().any(|m| m.name == module.name) {
                        found.push(module);
                        sources.push(&module.source);
                    }
                }
            }
        }
        found
    }
}

/// Which of `backends` (host module names such as `systemd`, `docker`) `entry` or one of the
/// stdlib modules it imports (`imports`, from [`Catalog::imported_modules`]) calls into: the
/// executor opens their connections while the audit record is being opened, instead of on the
/// first call. A textual scan: a name in a comment counts too, which costs at most an idle
/// connection.
pub fn backends_named<'b>(entry: &Entry, imports: &[&Entry], backends: &[&'b str]) -> Vec<&'b str> {
    let mut sources = vec![entry.source.as_str()];
    sources.extend(imports.iter().map(|m| m.source.as_str()));
    backends
        .iter()
        .copied()
        .filter(|b| {
            let call = format!("{b}::");
            sources.iter().any(|s| s.contains(&call))
        })
        .collect()
}

/// The module names of `import "NAME"` statements in a source text.
fn imports(source: &str) -> impl Iterator<Item = &str> {
    source.lines().filter_map(|line| {
        let rest = line.trim_start().strip_prefix("import")?;
        let rest = rest.trim_start().strip_prefix('"')?;
        rest.split_once('"').map(|(name, _)| name)
    })
}

fn add_embedded(into: &mut BTreeMap<String, Entry>, dir: &Dir<'static>) {
    for file in dir.files() {
        let path = file.path();
        if path.extension().and_then(|e| e.to_str()) != Some("rhai") {
            continue;
        }
        let (Some(stem), Some(text)) = (
            path.file_stem().and_then(|s| s.to_str()),
            file.contents_utf8(),
        ) else {
            continue;
        };
        into.insert(
            stem.to_string(),
            Entry {
                name: stem.to_string(),
                origin: Origin::Embedded,
                // Built into the binary: no file on this machine has that path, so messages
                // name the runbook or module (`restart-unit:31`).
                file: stem.to_string(),
                source: text.to_string(),
            },
        );
    }
}

fn add_dir(into: &mut BTreeMap<String, Entry>, dir: &Path) -> Result<()> {
    let read = std::fs::read_dir(dir).map_err(|e| {
        Error::Usage(format!(
            "cannot read runbook directory {}: {e}",
            dir.display()
        ))
    })?;
    let mut paths: Vec<PathBuf> = read.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if path.extension().and_then(|e| e.to_str()) != Some("rhai") || !path.is_file() {
            continue;
        }
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        let source = std::fs::read_to_string(&path)
            .map_err(|e| Error::Usage(format!("cannot read {}: {e}", path.display())))?;
        into.insert(
            stem.to_string(),
            Entry {
                name: stem.to_string(),
                origin: Origin::Dir(dir.to_path_buf()),
                file: path.display().to_string(),
                source,
            },
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BACKENDS: [&str; 2] = ["systemd", "docker"];

    #[test]
    fn backends_named_follow_imports() {
        let cat = Catalog::load(&[]).unwrap();
        // triage names neither itself; stdlib `checks` calls both.
        let triage = cat.runbook("triage").unwrap();
        assert_eq!(
            backends_named(triage, &cat.imported_modules(triage), &BACKENDS),
            BACKENDS
        );
        let add_operator = cat.runbook("add-operator").unwrap();
        assert!(
            backends_named(add_operator, &cat.imported_modules(add_operator), &BACKENDS).is_empty()
        );
    }

    #[test]
    fn imported_modules_are_transitive_and_listed_once() {
        let cat = Catalog::load(&[]).unwrap();
        // triage imports checks and findings; checks imports findings again.
        let names: Vec<&str> = cat
            .imported_modules(cat.runbook("triage").unwrap())
            .iter()
            .map(|m| m.name.as_str())
            .collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(sorted, ["checks", "findings"], "{names:?}");
    }

    #[test]
    fn backends_named_without_imports_and_with_unknown_modules() {
        let cat = Catalog::load(&[]).unwrap();
        let entry = |source: &str| Entry {
            name: "t".into(),
            origin: Origin::Embedded,
            file: "t.rhai".into(),
            source: source.into(),
        };
        let own = entry("import \"nosuch\" as n;\nlet u = docker::containers(true);");
        assert_eq!(
            backends_named(&own, &cat.imported_modules(&own), &BACKENDS),
            ["docker"]
        );
        assert!(backends_named(&entry("let x = 1;"), &[], &BACKENDS).is_empty());
        assert_eq!(
            imports("  import \"checks\" as c;\nimport x;").collect::<Vec<_>>(),
            ["checks"]
        );
    }
}
