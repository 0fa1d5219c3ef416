//! Stops no runbook can swallow, and one operation budget for the whole run: refusals,
//! budget exhaustion and import cycles wherever a runbook could hide them (modules under
//! `try`, comparators, closures, function pointers, callbacks), through the real binary.

mod common;

use std::time::Duration;

use common::Sandbox;

/// Long enough for any of these runs to end on its own; a run still going then is a failure.
const LIMIT: Duration = Duration::from_secs(120);

/// A small budget, so that runaway runbooks end quickly in a debug build. Each runaway below
/// stays under it in any single callback or module and goes far over it in total.
const BUDGET: &str = "2000000";

/// Places a refusal could be swallowed (each refuses through a gate, which has no terminal
/// here, or `refuse()`), then writes a file: the write must never happen.
const SWALLOWERS: &[(&str, &str)] = &[
    (
        "module-under-try",
        r#"try { import "gate" as g; print("imported"); } catch (e) { print(`caught ${e}`); }"#,
    ),
    (
        "sort-comparator",
        r#"let a = [3, 1, 2]; a.sort(|x, y| { confirm("ok?"); x - y });"#,
    ),
    (
        "sort-by-comparator-under-try",
        r#"let a = [3, 1, 2]; try { a.sort_by(|x, y| { confirm("ok?"); x - y }); } catch (e) {}"#,
    ),
    (
        "dedup-comparator",
        r#"let a = [1, 1, 2]; a.dedup(|x, y| { confirm("ok?"); true });"#,
    ),
    (
        "closure-under-try",
        r#"let f = |x| { confirm("ok?"); x }; try { f.call(1); } catch (e) {}"#,
    ),
    (
        "fn-pointer-under-try",
        r#"fn ask() { confirm("ok?") } try { call(Fn("ask")); } catch (e) {}"#,
    ),
    (
        "map-callback-under-try",
        r#"try { [1, 2].map(|x| { confirm("ok?"); x }); } catch (e) {}"#,
    ),
    (
        "reduce-callback-under-try",
        r#"try { [1, 2].reduce(|s, x| { refuse("no"); x }); } catch (e) {}"#,
    ),
    (
        "module-function-under-try",
        r#"import "refuser" as r; try { r::no(); } catch (e) {}"#,
    ),
    (
        "comparator-in-module",
        r#"import "refuser" as r; r::sorted([2, 1]);"#,
    ),
];

const MODULES: &[(&str, &str)] = &[
    ("gate", "confirm(\"really?\");\n"),
    (
        "refuser",
        "fn no() { refuse(\"policy says no\") }\nfn sorted(a) { a.sort(|x, y| { no(); x - y }); a }\n",
    ),
];

#[test]
fn refusals_cannot_be_swallowed_anywhere() {
    let mut failures = Vec::new();
    for (name, body) in SWALLOWERS {
        let sb = Sandbox::new();
        let site = sb.site(&[]);
        let target = sb.path().join("files").join("target");
        let body = format!("{body}\nfiles::replace(params.path, \"written\\n\");");
        let dir = sb.tree(&[(name, &body)], MODULES);
        let out = sb
            .in_tree(&dir, &site)
            .args(["run", name])
            .arg_path("-ppath=", &target)
            .run_at_most(LIMIT);
        if out.code != 3 || target.exists() || out.stdout.contains("caught") {
            failures.push(format!(
                "{name}: exit {}, written: {}\n{}",
                out.code,
                target.exists(),
                out.all()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Runaways that stay under the budget in each piece and go over it in total (or, for the
/// module, that each import would have a fresh budget for).
const RUNAWAYS: &[(&str, &str)] = &[
    ("host-call-loop", "loop { files::exists(params.path); }"),
    (
        "sort-comparator-loops",
        "let a = []; for i in 0..40 { a.push(40 - i); }\na.sort(|x, y| { let n = 0; while n < 20000 { n += 1; } x - y });",
    ),
    (
        "map-callbacks",
        "let a = []; for i in 0..400 { a.push(i); }\nlet b = a.map(|x| { let n = 0; while n < 20000 { n += 1; } x });",
    ),
    (
        "import-loop",
        r#"loop { try { import "spin" as s; print(s::n); } catch (e) {} }"#,
    ),
    (
        "print-loop",
        r#"loop { print("x"); }"#,
    ),
];

#[test]
fn one_budget_covers_callbacks_modules_and_host_calls() {
    let mut failures = Vec::new();
    for (name, body) in RUNAWAYS {
        let sb = Sandbox::new();
        let site = sb.site(&[]);
        let dir = sb.tree(
            &[(name, body)],
            // A module that never finishes: every import of it runs until a budget ends it.
            &[("spin", "export let n = 0; loop { n += 1; }\n")],
        );
        let out = sb
            .in_tree(&dir, &site)
            .env("RUNBOOK_OPERATION_BUDGET", BUDGET)
            .args(["run", name])
            .arg_path("-ppath=", &sb.path().join("files"))
            .run_at_most(LIMIT);
        let log = sb.cmd().args(["log", "--json"]).run().code(0).json();
        if out.code != 1
            || !out.stderr.contains("runbook exceeded its operation budget")
            || log[0]["status"] != "failed"
        {
            failures.push(format!(
                "{name}: exit {}, log {log}\n{}",
                out.code,
                out.all()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn import_cycles_are_compile_errors_naming_the_cycle() {
    let sb = Sandbox::new();
    let site = sb.site(&[]);
    let dir = sb.tree(
        &[
            ("self-import", r#"import "me" as m;"#),
            ("pair-import", r#"import "ping" as p;"#),
        ],
        &[
            ("me", "import \"me\" as again;\n"),
            ("ping", "fn f() { 1 }\nimport \"pong\" as q;\n"),
            ("pong", "fn g() { import \"ping\" as p; p::f() }\n"),
        ],
    );
    for (name, cycle) in [
        ("self-import", "import cycle: me -> me"),
        ("pair-import", "import cycle: ping -> pong -> ping"),
    ] {
        let out = sb
            .in_tree(&dir, &site)
            .args(["run", name])
            .run_at_most(LIMIT);
        assert_eq!(out.code, 2, "{name}: exit code\n{}", out.all());
        assert!(out.stderr.contains(cycle), "{name}: {}", out.stderr);
        let check = sb.in_tree(&dir, &site).args(["check", name]).run().code(2);
        assert!(check.stderr.contains(cycle), "{name}: {}", check.stderr);
    }
    // Nothing ran, so nothing was recorded.
    let log = sb.cmd().args(["log", "--json"]).run().code(0).json();
    assert_eq!(log, serde_json::json!([]), "{log}");
}

/// Recursion through every kind of call ends with an error at the call-depth limit, never
/// with the process overflowing its stack (a signal, no exit code).
#[test]
fn recursion_is_bounded_through_every_kind_of_call() {
    let shapes: &[(&str, &str)] = &[
        ("plain", "fn f(n) { f(n + 1) } f(0);"),
        (
            "comparator",
            "fn f(n) { let a = [2, 1]; a.sort(|x, y| { f(n + 1); 0 }); } f(0);",
        ),
        ("fn-pointer", r#"fn f(n) { call(Fn("f"), n + 1) } f(0);"#),
        ("callback", "fn f(n) { [1].map(|x| f(n + 1)) } f(0);"),
        (
            "closure",
            "fn f(n) { let c = |x| f(x + 1); c.call(n) } f(0);",
        ),
        ("step", r#"fn f(n) { step "s" { f(n + 1) } } f(0);"#),
        ("module", r#"import "deep" as d; d::f(0);"#),
    ];
    let mut failures = Vec::new();
    for (name, body) in shapes {
        let sb = Sandbox::new();
        let site = sb.site(&[]);
        let dir = sb.tree(
            &[(name, body)],
            &[("deep", "fn f(n) { [n].filter(|x| f(x + 1)) }\n")],
        );
        let out = sb
            .in_tree(&dir, &site)
            .args(["run", name])
            .run_at_most(LIMIT);
        if out.code != 1 || !out.stderr.contains("Stack overflow") {
            failures.push(format!("{name}: exit {}\n{}", out.code, out.all()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
