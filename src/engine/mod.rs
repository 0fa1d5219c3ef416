//! The Rhai engine: loading runbooks, the sandbox, the syntax and functions runbooks see, and
//! the executor that runs one runbook end to end.

pub mod builtins;
pub mod callbacks;
pub mod catalog;
pub mod gates;
pub mod harden;
pub mod header;
pub mod host_fns;
pub mod outcome;
pub mod params;
pub mod resolver;
pub mod run;
pub mod state;
pub mod walker;

use std::sync::{Arc, OnceLock};

use rhai::packages::{Package, StandardPackage};
use rhai::{Engine, Scope, Shared, AST};

use catalog::{Catalog, Entry};
use state::RunState;

/// A compile error located in a file, shown as `FILE:LINE:COL: message`, the source line and
/// a caret under the column.
#[derive(Debug, Clone)]
pub struct CompileError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub source_line: String,
}

impl std::fmt::Display for CompileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )?;
        writeln!(f, "    {}", self.source_line)?;
        write!(f, "    {}^", " ".repeat(self.column.saturating_sub(1)))
    }
}

/// Rhai's standard library as one module. Building it is most of the cost of an engine
/// (about 1 ms), so it is built once per process, and [`warm_up`] builds it on a spare thread
/// while the command loads its files.
fn standard_library() -> Shared<rhai::Module> {
    static STD: OnceLock<Shared<rhai::Module>> = OnceLock::new();
    STD.get_or_init(|| StandardPackage::new().as_shared_module())
        .clone()
}

/// Start building what every engine needs, on a thread of its own.
pub fn warm_up() {
    std::thread::spawn(standard_library);
}

/// What `Engine::new` makes, from the shared standard library: its default module resolver
/// and print/debug callbacks are left out because `build_engine` sets its own (or, for
/// `check` and `show`, runs nothing that prints).
fn new_engine() -> Engine {
    let mut engine = Engine::new_raw();
    engine.set_max_strings_interned(256);
    engine.register_global_module(standard_library());
    engine
}

/// Build an engine. With a run state it is the real thing: host modules, gates, findings.
/// Without one (for `check` and `show`) it knows the same syntax but cannot touch anything.
pub fn build_engine(catalog: &Catalog, state: Option<&Arc<RunState>>) -> Engine {
    build_engine_with(catalog, state, None)
}

/// [`build_engine`] whose imports use module ASTs compiled ahead ([`resolver::precompile`]).
pub fn build_engine_with(
    catalog: &Catalog,
    state: Option<&Arc<RunState>>,
    precompiled: Option<resolver::Precompiled>,
) -> Engine {
    let mut engine = new_engine();
    harden::harden(&mut engine);
    let mut modules = resolver::StdlibResolver::new(catalog.modules());
    if let Some(p) = precompiled {
        modules = modules.with_precompiled(p);
    }
    if let Some(state) = state {
        let st = state.clone();
        modules = modules.with_on_load(Box::new(move |m: &catalog::Entry| {
            let origin = match &m.origin {
                catalog::Origin::Embedded => "built-in".to_string(),
                catalog::Origin::Dir(_) => m.file.clone(),
            };
            st.door
                .record_module(&m.name, &origin, &m.source)
                .map_err(|e| format!("could not record the module: {e}"))
        }));
    }
    engine.set_module_resolver(modules);
    callbacks::register(&mut engine);
    host_fns::register(&mut engine, state);
    match state {
        Some(state) => {
            builtins::register(&mut engine, state);
            host_fns::register_prefetch(&mut engine, state);
            // The run's one budget (see `RunState::tick`) replaces Rhai's, which starts
            // afresh in every callback and module; the callback also makes stops sticky.
            engine.set_max_operations(0);
            let st = state.clone();
            engine.on_progress(move |_| st.tick());
        }
        None => {
            engine
                .register_custom_syntax(["step", "$string$", "$block$"], false, |ctx, inputs| {
                    ctx.eval_expression_tree(&inputs[1])
                })
                .expect("step syntax registers");
        }
    }
    engine
}

/// The scope every runbook starts with: its validated parameters as the constant `params`.
pub fn initial_scope(params: rhai::Map) -> Scope<'static> {
    let mut scope = Scope::new();
    scope.push_constant("params", params);
    scope
}

/// Compile one runbook or module, locating errors in its file.
pub fn compile(engine: &Engine, entry: &Entry, scope: &Scope) -> Result<AST, CompileError> {
    let mut ast = engine
        .compile_with_scope(scope, &entry.source)
        .map_err(|e| locate(entry, e.1, e.err_type().to_string()))?;
    ast.set_source(entry.file.as_str());
    Ok(ast)
}

fn locate(entry: &Entry, pos: rhai::Position, message: String) -> CompileError {
    let line = pos.line().unwrap_or(1);
    let column = pos.position().unwrap_or(1);
    CompileError {
        file: entry.file.clone(),
        line,
        column,
        message,
        source_line: entry.source.lines().nth(line - 1).unwrap_or("").to_string(),
    }
}

/// Compile a runbook and check the stdlib modules it imports: `runbook check`.
/// A mutating runbook must state its change table (the guide, §11: time to apply, downtime,
/// rollback) so that `show` and a plan can present it before anything changes.
fn missing_change_table(entry: &Entry) -> Option<CompileError> {
    let h = header::parse(&entry.source).ok()?;
    let missing = h.change.missing();
    if !h.mutates || missing.is_empty() {
        return None;
    }
    let (idx, line) = entry
        .source
        .lines()
        .enumerate()
        .find(|(_, l)| l.trim_start().starts_with("//! mutates:"))
        .unwrap_or((0, ""));
    let keys: Vec<String> = missing.iter().map(|k| format!("`//! {k}: ...`")).collect();
    Some(CompileError {
        file: entry.file.clone(),
        line: idx + 1,
        column: 1,
        message: format!(
            "a mutating runbook needs a change table: add {} to its header",
            keys.join(", ")
        ),
        source_line: line.to_string(),
    })
}

pub fn check_entry(engine: &Engine, catalog: &Catalog, entry: &Entry) -> Vec<CompileError> {
    let mut errors = Vec::new();
    if let Some(e) = missing_change_table(entry) {
        errors.push(e);
    }
    if let Err(e) = header::parse(&entry.source) {
        errors.push(CompileError {
            file: entry.file.clone(),
            line: e.line,
            column: 1,
            message: format!("header: {}", e.message),
            source_line: entry
                .source
                .lines()
                .nth(e.line - 1)
                .unwrap_or("")
                .to_string(),
        });
    }
    let scope = initial_scope(rhai::Map::new());
    match compile(engine, entry, &scope) {
        Ok(ast) => {
            if let Some(e) = check_imports(engine, catalog, entry, &ast) {
                errors.push(e);
            }
        }
        Err(e) => errors.push(e),
    }
    errors
}

/// An import cycle reachable from `entry`'s compiled `ast`, as a compile error naming it.
pub fn check_imports(
    engine: &Engine,
    catalog: &Catalog,
    entry: &Entry,
    ast: &AST,
) -> Option<CompileError> {
    let cycle = resolver::import_cycle(engine, ast, |name| catalog.module(name))?;
    Some(import_cycle_error(entry, &cycle))
}

/// The compile error of an import `cycle` reachable from `entry`.
pub fn import_cycle_error(entry: &Entry, cycle: &[String]) -> CompileError {
    CompileError {
        file: entry.file.clone(),
        line: 1,
        column: 1,
        message: format!(
            "import cycle: {} (a module may not import itself, directly or through others)",
            cycle.join(" -> ")
        ),
        source_line: entry.source.lines().next().unwrap_or("").to_string(),
    }
}
