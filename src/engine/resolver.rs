//! `import "name" as x;` reaches stdlib modules and nothing else.
//!
//! Rhai's file resolver would happily load `../x` or `/etc/passwd`; this one accepts only a
//! bare module name, looked up in the catalog's stdlib (embedded, or a site stdlib directory).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use rhai::{
    ASTNode, Engine, EvalAltResult, Expr, Module, ModuleResolver, Position, Scope, Shared, Stmt,
    AST,
};

use super::catalog::Entry;

/// Module ASTs compiled on another thread while the run is being prepared, with the literal
/// imports of each: the run's cycle check reads those instead of compiling every module a
/// second time on the run's own thread. Clones share the one compilation.
#[derive(Clone)]
pub struct Precompiled(Arc<Mutex<Ahead>>);

enum Ahead {
    Compiling(JoinHandle<Compiled>),
    Done(Compiled),
}

#[derive(Default)]
struct Compiled {
    asts: BTreeMap<String, AST>,
    imports: BTreeMap<String, Vec<String>>,
}

impl Precompiled {
    /// The finished compilation (waiting for the thread that compiles it).
    fn compiled(&self) -> MutexGuard<'_, Ahead> {
        let mut ahead = self.0.lock().expect("resolver precompiled");
        let taken = std::mem::replace(&mut *ahead, Ahead::Done(Compiled::default()));
        *ahead = match taken {
            Ahead::Compiling(thread) => Ahead::Done(thread.join().unwrap_or_default()),
            done => done,
        };
        ahead
    }

    /// The AST compiled ahead for `name`, once: the resolver caches the module it evaluates.
    fn take_ast(&self, name: &str) -> Option<AST> {
        match &mut *self.compiled() {
            Ahead::Done(c) => c.asts.remove(name),
            Ahead::Compiling(_) => None,
        }
    }

    /// The literal imports of module `name`, if it compiled ahead.
    fn imports_of(&self, name: &str) -> Option<Vec<String>> {
        match &*self.compiled() {
            Ahead::Done(c) => c.imports.get(name).cloned(),
            Ahead::Compiling(_) => None,
        }
    }

    /// [`import_cycle`] from the imports found while compiling ahead; a module that did not
    /// compile ahead is compiled here with the run's `engine`, as [`import_cycle`] would.
    pub fn import_cycle<'a>(
        &self,
        engine: &Engine,
        root: &AST,
        modules: impl Fn(&str) -> Option<&'a Entry>,
    ) -> Option<Vec<String>> {
        cycle_from(&literal_imports(root), &|name| {
            self.imports_of(name).or_else(|| {
                Some(literal_imports(
                    &engine.compile(&modules(name)?.source).ok()?,
                ))
            })
        })
    }
}

/// Called with each module when it is first loaded, before it runs: the run records it. An
/// error stops the import (a run that cannot record what it loads does not load it).
pub type OnLoad = Box<dyn Fn(&Entry) -> Result<(), String> + Send + Sync>;

pub struct StdlibResolver {
    modules: BTreeMap<String, Entry>,
    cache: Mutex<BTreeMap<String, Shared<Module>>>,
    ahead: Option<Precompiled>,
    /// Modules being evaluated now, outermost first: an import of one of them is a cycle
    /// (which would otherwise recurse until the stack overflows).
    loading: Mutex<Vec<String>>,
    on_load: Option<OnLoad>,
}

impl StdlibResolver {
    pub fn new<'a>(modules: impl Iterator<Item = &'a Entry>) -> Self {
        StdlibResolver {
            modules: modules.map(|e| (e.name.clone(), e.clone())).collect(),
            cache: Mutex::new(BTreeMap::new()),
            ahead: None,
            loading: Mutex::new(Vec::new()),
            on_load: None,
        }
    }

    /// Tell `on_load` about each module as it is first loaded.
    pub fn with_on_load(mut self, on_load: OnLoad) -> Self {
        self.on_load = Some(on_load);
        self
    }

    /// Use the ASTs `precompile` is compiling, when a module is first imported.
    pub fn with_precompiled(mut self, precompiled: Precompiled) -> Self {
        self.ahead = Some(precompiled);
        self
    }

    /// The AST compiled ahead for `name`, if any (waiting for the thread that compiles them).
    fn take_ast(&self, name: &str) -> Option<AST> {
        self.ahead.as_ref()?.take_ast(name)
    }
}

/// Compile `modules` on a thread of their own, with an engine that parses as the run engine
/// does (same limits; stdlib modules use no custom syntax). A module that fails here is
/// compiled again at its import, which reports the error.
pub fn precompile(modules: Vec<Entry>) -> Precompiled {
    let thread = std::thread::spawn(move || {
        let mut engine = Engine::new_raw();
        super::harden::harden(&mut engine);
        let mut compiled = Compiled::default();
        for m in modules {
            let Ok(mut ast) = engine.compile(&m.source) else {
                continue;
            };
            ast.set_source(m.file.as_str());
            compiled
                .imports
                .insert(m.name.clone(), literal_imports(&ast));
            compiled.asts.insert(m.name, ast);
        }
        compiled
    });
    Precompiled(Arc::new(Mutex::new(Ahead::Compiling(thread))))
}

/// The module names `ast` imports by a literal name, anywhere (function bodies included).
pub fn literal_imports(ast: &AST) -> Vec<String> {
    let mut names = Vec::new();
    ast.walk(&mut |path: &[ASTNode]| {
        if let Some(ASTNode::Stmt(Stmt::Import(x, _))) = path.last() {
            if let Expr::StringConstant(name, _) = &x.0 {
                names.push(name.to_string());
            }
        }
        true
    });
    names
}

/// The first import cycle reachable from `root` (`[a, b, a]` for a module `a` that imports
/// `b`, which imports `a`), following literal imports through the stdlib `modules`. Modules
/// that do not compile are left out: their import reports the error.
pub fn import_cycle<'a>(
    engine: &Engine,
    root: &AST,
    modules: impl Fn(&str) -> Option<&'a Entry>,
) -> Option<Vec<String>> {
    cycle_from(&literal_imports(root), &|name| {
        Some(literal_imports(
            &engine.compile(&modules(name)?.source).ok()?,
        ))
    })
}

/// The first cycle reachable from the modules `roots` imports, where `imports_of` gives the
/// literal imports of a module (None for one that is unknown or does not compile).
fn cycle_from(
    roots: &[String],
    imports_of: &dyn Fn(&str) -> Option<Vec<String>>,
) -> Option<Vec<String>> {
    fn visit(
        name: &str,
        imports_of: &dyn Fn(&str) -> Option<Vec<String>>,
        path: &mut Vec<String>,
        done: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|m| m == name) {
            let mut cycle = path[at..].to_vec();
            cycle.push(name.to_string());
            return Some(cycle);
        }
        if done.iter().any(|m| m == name) {
            return None;
        }
        let imports = imports_of(name)?;
        path.push(name.to_string());
        for next in imports {
            if let Some(cycle) = visit(&next, imports_of, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.push(name.to_string());
        None
    }
    let (mut path, mut done) = (Vec::new(), Vec::new());
    roots
        .iter()
        .find_map(|m| visit(m, imports_of, &mut path, &mut done))
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
        let ast = match self.take_ast(path) {
            Some(ast) => ast,
            None => {
                let mut ast = engine
                    .compile(&entry.source)
                    .map_err(|e| EvalAltResult::ErrorInModule(path.to_string(), e.into(), pos))?;
                ast.set_source(entry.file.as_str());
                ast
            }
        };
        // Imports whose name is not a literal escape `import_cycle`; this catches them.
        {
            let mut loading = self.loading.lock().expect("resolver loading");
            if loading.iter().any(|m| m == path) {
                let mut cycle = loading.clone();
                cycle.push(path.to_string());
                return Err(EvalAltResult::ErrorRuntime(
                    format!("import cycle: {}", cycle.join(" -> ")).into(),
                    pos,
                )
                .into());
            }
            loading.push(path.to_string());
        }
        if let Some(on_load) = &self.on_load {
            if let Err(why) = on_load(entry) {
                self.loading.lock().expect("resolver loading").pop();
                return Err(EvalAltResult::ErrorRuntime(
                    format!("import \"{path}\": {why}").into(),
                    pos,
                )
                .into());
            }
        }
        let evaluated = Module::eval_ast_as_new(Scope::new(), &ast, engine);
        self.loading.lock().expect("resolver loading").pop();
        let module: Shared<Module> = evaluated
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

    fn module(name: &str, source: &str) -> Entry {
        Entry {
            name: name.into(),
            origin: super::super::catalog::Origin::Embedded,
            file: format!("stdlib/{name}.rhai"),
            source: source.into(),
        }
    }

    #[test]
    fn precompile_skips_modules_that_do_not_compile() {
        let ahead = precompile(vec![module("good", "fn f() { 1 }"), module("bad", "fn (")]);
        assert!(ahead.take_ast("good").is_some());
        assert!(ahead.take_ast("bad").is_none());
    }

    #[test]
    fn imports_use_the_precompiled_ast_once_then_the_cache() {
        // The catalog's text says 0; the AST compiled ahead says 42: the import must use it.
        let catalog_entry = module("m", "fn f() { 0 }");
        let ahead = precompile(vec![module("m", "fn f() { 41 + 1 }")]);
        let mut engine = Engine::new();
        engine.set_module_resolver(
            StdlibResolver::new(std::iter::once(&catalog_entry)).with_precompiled(ahead),
        );
        let script = r#"import "m" as m; m::f()"#;
        assert_eq!(engine.eval::<i64>(script).unwrap(), 42);
        assert_eq!(engine.eval::<i64>(script).unwrap(), 42, "cached module");
        // A module not compiled ahead is compiled from the catalog.
        let other = module("n", "fn g() { 7 }");
        let mut engine = Engine::new();
        engine.set_module_resolver(
            StdlibResolver::new(std::iter::once(&other)).with_precompiled(precompile(vec![])),
        );
        assert_eq!(engine.eval::<i64>(r#"import "n" as n; n::g()"#).unwrap(), 7);
    }
}
