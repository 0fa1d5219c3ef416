//! `import "name" as x;` reaches stdlib modules and nothing else.
//!
//! Rhai's file resolver would happily load `../x` or `/etc/passwd`; this one accepts only a
//! bare module name, looked up in the catalog's stdlib (embedded, or a site stdlib directory).

use std::collections::BTreeMap;
use std::sync::Mutex;

use rhai::{Engine, EvalAltResult, Module, ModuleResolver, Position, Scope, Shared};

use super::catalog::Entry;

pub struct StdlibResolver {
    modules: BTreeMap<String, Entry>,
    cache: Mutex<BTreeMap<String, Shared<Module>>>,
}

impl StdlibResolver {
    pub fn new<'a>(modules: impl Iterator<Item = &'a Entry>) -> Self {
        StdlibResolver {
            modules: modules.map(|e| (e.name.clone(), e.clone())).collect(),
            cache: Mutex::new(BTreeMap::new()),
        }
    }
}

/// A stdlib module name: lower-case letters, digits, `_` and `-`. Nothing that looks like a path.
pub fn is_module_name(path: &str) -> bool {
    let mut chars = path.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

impl ModuleResolver for StdlibResolver {
    fn resolve(
        &self,
        engine: &Engine,
        _source: Option<&str>,
        path: &str,
        pos: Position,
    ) -> Result<Shared<Module>, Box<EvalAltResult>> {
        if !is_module_name(path) {
            return Err(EvalAltResult::ErrorRuntime(
                format!(
                    "import \"{path}\" refused: runbooks may import stdlib modules only, by bare name (known: {})",
                    self.modules.keys().cloned().collect::<Vec<_>>().join(", ")
                )
                .into(),
                pos,
            )
            .into());
        }
        if let Some(m) = self.cache.lock().expect("resolver cache").get(path) {
            return Ok(m.clone());
        }
        let entry = self
            .modules
            .get(path)
            .ok_or_else(|| Box::new(EvalAltResult::ErrorModuleNotFound(path.to_string(), pos)))?;
        let mut ast = engine
            .compile(&entry.source)
            .map_err(|e| EvalAltResult::ErrorInModule(path.to_string(), e.into(), pos))?;
        ast.set_source(entry.file.as_str());
        let module: Shared<Module> = Module::eval_ast_as_new(Scope::new(), &ast, engine)
            .map_err(|e| EvalAltResult::ErrorInModule(path.to_string(), e, pos))?
            .into();
        self.cache
            .lock()
            .expect("resolver cache")
            .insert(path.to_string(), module.clone());
        Ok(module)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bare_names_are_module_names() {
        assert!(is_module_name("findings"));
        assert!(is_module_name("policy_2"));
        for bad in [
            "../x",
            "/etc/passwd",
            "a/b",
            "",
            "X",
            "./findings",
            "findings.rhai",
        ] {
            assert!(!is_module_name(bad), "{bad}");
        }
    }
}
