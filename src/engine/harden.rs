//! The sandbox every runbook runs in. All limits are set here, in one place, and each has a
//! test (`tests/sandbox.rs` and the unit tests below).

use rhai::{Engine, OptimizationLevel};

/// Limits chosen for operations procedures: generous for real runbooks (triage runs a few
/// hundred thousand operations at most), tight enough that a runaway loop ends in seconds.
pub const MAX_OPERATIONS: u64 = 50_000_000;
/// What one host call (or built-in that records an event) costs against the budget: about
/// what it takes in time compared with a script operation, so `loop { files::exists(p) }`
/// ends as soon as a plain `loop {}` does instead of running for minutes.
pub const HOST_CALL_COST: u64 = 1_000;
pub const MAX_CALL_LEVELS: usize = 64;
pub const MAX_EXPR_DEPTH: usize = 64;
pub const MAX_FN_EXPR_DEPTH: usize = 32;
pub const MAX_STRING_SIZE: usize = 4 * 1024 * 1024;
pub const MAX_ARRAY_SIZE: usize = 100_000;
pub const MAX_MAP_SIZE: usize = 100_000;
pub const MAX_MODULES: usize = 32;
pub const MAX_VARIABLES: usize = 2_000;

/// The run's operation budget: [`MAX_OPERATIONS`], or less when `RUNBOOK_OPERATION_BUDGET`
/// (`value`) asks for less (to stop runaway runbooks sooner on a slow machine, and in
/// tests). It can only lower the budget.
pub fn operation_budget(value: Option<&std::ffi::OsStr>) -> Result<u64, String> {
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return Ok(MAX_OPERATIONS);
    };
    match value.to_str().and_then(|v| v.trim().parse::<u64>().ok()) {
        Some(n) if (1..=MAX_OPERATIONS).contains(&n) => Ok(n),
        _ => Err(format!(
            "RUNBOOK_OPERATION_BUDGET={} is not a number of operations from 1 to {MAX_OPERATIONS}: unset it for the default",
            value.to_string_lossy()
        )),
    }
}

/// Apply every limit. `eval` is disabled (it would run code the header never declared), and
/// variables must be declared before use so a typo is a compile error, not a silent `()`.
pub fn harden(engine: &mut Engine) {
    engine
        .set_max_operations(MAX_OPERATIONS)
        .set_max_call_levels(MAX_CALL_LEVELS)
        .set_max_expr_depths(MAX_EXPR_DEPTH, MAX_FN_EXPR_DEPTH)
        .set_max_string_size(MAX_STRING_SIZE)
        .set_max_array_size(MAX_ARRAY_SIZE)
        .set_max_map_size(MAX_MAP_SIZE)
        .set_max_modules(MAX_MODULES)
        .set_max_variables(MAX_VARIABLES)
        .set_strict_variables(true)
        .set_fail_on_invalid_map_property(false)
        // Host calls must never be folded away at compile time.
        .set_optimization_level(OptimizationLevel::Simple)
        .disable_symbol("eval");
}

#[cfg(test)]
mod tests {
    use super::*;
    use rhai::EvalAltResult;

    fn engine() -> Engine {
        let mut e = Engine::new();
        harden(&mut e);
        e
    }

    #[test]
    fn operation_budget_stops_endless_loops() {
        let err = engine().run("loop {}").unwrap_err();
        assert!(
            matches!(*err, EvalAltResult::ErrorTooManyOperations(_)),
            "{err}"
        );
    }

    #[test]
    fn call_depth_is_limited() {
        let err = engine().run("fn f(x) { f(x + 1) } f(0)").unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("Stack overflow") || text.contains("too deep"),
            "{text}"
        );
    }

    #[test]
    fn expression_depth_is_limited() {
        let deep = format!("{}1{}", "(".repeat(200), ")".repeat(200));
        assert!(engine().compile(&deep).is_err());
    }

    /// An engine whose operation budget is off, so the size limits are what stops a loop.
    fn unbudgeted() -> Engine {
        let mut e = engine();
        e.set_max_operations(0);
        e
    }

    #[test]
    fn string_size_is_limited() {
        let err = unbudgeted()
            .run(r#"let s = "x"; loop { s += s; }"#)
            .unwrap_err();
        assert!(err.to_string().contains("Length of string"), "{err}");
    }

    #[test]
    fn array_size_is_limited() {
        let err = unbudgeted()
            .run("let a = []; loop { a.push(1); }")
            .unwrap_err();
        assert!(err.to_string().contains("Size of array"), "{err}");
    }

    #[test]
    fn map_size_is_limited() {
        // Merging maps (a function returning a map) is checked against the limit, here made
        // small so the test is quick.
        let mut e = unbudgeted();
        e.set_max_map_size(1_000);
        let err = e
            .run(
                "let m = #{}; let i = 0; loop { let x = #{}; x[`k${i}`] = i; m.mixin(x); i += 1; }",
            )
            .unwrap_err();
        assert!(err.to_string().contains("Size of object map"), "{err}");
        // Growing a map by indexing (`m[k] = v`) is not checked by Rhai; the operation budget
        // bounds it (next test).
    }

    #[test]
    fn the_budget_bounds_maps_grown_by_indexing() {
        let mut e = engine();
        e.set_max_operations(100_000);
        let err = e
            .run("let m = #{}; let i = 0; loop { m[`k${i}`] = i; i += 1; }")
            .unwrap_err();
        assert!(
            matches!(*err, EvalAltResult::ErrorTooManyOperations(_)),
            "{err}"
        );
    }

    #[test]
    fn the_budget_can_be_lowered_only() {
        use std::ffi::OsStr;
        assert_eq!(operation_budget(None), Ok(MAX_OPERATIONS));
        assert_eq!(operation_budget(Some(OsStr::new(""))), Ok(MAX_OPERATIONS));
        assert_eq!(operation_budget(Some(OsStr::new("1000"))), Ok(1000));
        for bad in ["0", "-1", "x", "50000001", "1e6"] {
            let err = operation_budget(Some(OsStr::new(bad))).unwrap_err();
            assert!(err.contains("RUNBOOK_OPERATION_BUDGET"), "{bad}: {err}");
        }
    }

    #[test]
    fn eval_is_disabled() {
        assert!(engine().compile(r#"eval("1 + 1")"#).is_err());
    }

    #[test]
    fn undeclared_variables_do_not_compile() {
        assert!(engine().compile("let a = 1; a + b").is_err());
    }
}
