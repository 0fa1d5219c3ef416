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

/// Out-of-range durations are errors, never a clock overflow: a parameter out of its
/// declared range exits 2 before anything runs, `sleep` beyond a day fails the runbook.
#[test]
fn huge_durations_are_errors_not_panics() {
    let sb = Sandbox::new();
    let site = sb.site(&[]);
    let out = sb
        .with_site(&site)
        .args(["run", "health", "-p", "watch=9223372036854775807"])
        .run_at_most(LIMIT);
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(
        out.stderr.contains("`watch` must be from 0 to 86400"),
        "{}",
        out.stderr
    );
    let log = sb.cmd().args(["log", "--json"]).run().code(0).json();
    assert_eq!(log, serde_json::json!([]), "nothing ran: {log}");

    let dir = sb.tree(&[("long-nap", "sleep(9223372036854775807);")], &[]);
    let out = sb
        .in_tree(&dir, &site)
        .args(["run", "long-nap"])
        .run_at_most(LIMIT);
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(
        out.stderr.contains("seconds must be from 0 to 86400"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
}

/// `OPENCLAW_DRY_RUN` that is not UTF-8 was read as unset, that is, a live run.
#[test]
fn a_dry_run_switch_that_is_not_utf8_is_refused() {
    use std::os::unix::ffi::OsStrExt;
    let sb = Sandbox::new();
    let site = sb.site(&[]);
    let target = sb.path().join("files").join("target");
    let out = sb
        .with_site(&site)
        .env("OPENCLAW_DRY_RUN", std::ffi::OsStr::from_bytes(b"tru\xff"))
        .args(["run", "write-file"])
        .arg_path("-ppath=", &target)
        .run_at_most(LIMIT);
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains("not UTF-8"), "{}", out.stderr);
    assert!(!target.exists(), "the run went ahead live");
}

/// Backups that `files::replace` and `files::remove` keep of a secret file are as secret as
/// the file: `files::read` of one returns key names, and no value reaches the record.
#[test]
fn backups_of_secret_files_stay_secret() {
    let sb = Sandbox::new();
    let site = sb.site(&[]);
    let files = sb.path().join("files");
    let secret = files.join("keys.env");
    let text = std::fs::read_to_string(&site).unwrap().replace(
        "  secret_files:\n",
        &format!("  secret_files:\n    - {}\n", secret.display()),
    );
    std::fs::write(&site, text).unwrap();
    std::fs::write(&secret, "# the age key\nAGE-SECRET-KEY-1FIRSTVALUE\n").unwrap();
    let body = r#"
// The new value is built here so that the runbook's source (which the record keeps) does
// not contain it.
let r = files::replace(params.path, "AGE-SECRET-KEY-1" + "SECOND" + "VALUE\n");
let first = files::read(r.backup);
print(`backup: ${first}`);
let gone = files::remove(params.path);
let second = files::read(gone.backup);
print(`removed: ${second}`);
if first.secret != true || second.secret != true { throw "a backup is not secret"; }
"#;
    let dir = sb.tree(&[("rotate", body)], &[]);
    let out = sb
        .in_tree(&dir, &site)
        .args(["run", "rotate", "--yes"])
        .arg_path("-ppath=", &secret)
        .run_at_most(LIMIT);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(!out.all().contains("VALUE"), "{}", out.all());
    let db = std::fs::read(sb.db()).unwrap();
    let wal = std::fs::read(sb.db().with_extension("db-wal")).unwrap_or_default();
    for bytes in [&db, &wal] {
        assert!(
            !String::from_utf8_lossy(bytes).contains("SECONDVALUE")
                && !String::from_utf8_lossy(bytes).contains("FIRSTVALUE"),
            "a secret value is in the database"
        );
    }
}

/// A secret parameter with a quote and a backslash, shown escaped (Rhai's display of a map,
/// JSON inside text) and used as a map key, never reaches the terminal, `run --json`, the
/// replay, the export or the database bytes.
#[test]
fn secrets_are_redacted_in_every_encoding_and_as_keys() {
    let sb = Sandbox::new();
    let site = sb.site(&[]);
    let body = r#"//! name: leaky
//! summary: shows a secret every way it can
//! mutates: false
//! param token: string, secret, default "none"
print(`params: ${params}`);
let m = #{};
m[params.token] = 1;
print(`map: ${m}`);
print(`json: ${m.to_json()}`);
report(#{subject: "keys", severity: "info", summary: `${m}`, evidence: m});
"#;
    let dir = sb.tree(&[("leaky", body)], &[]);
    let secret = r#"pa"ss\word-4242"#;
    let out = sb
        .in_tree(&dir, &site)
        .args(["run", "leaky", "--json", "-p"])
        .args([format!("token={secret}")])
        .run_at_most(LIMIT);
    assert_eq!(out.code, 0, "{}", out.all());
    let terminal = sb
        .in_tree(&dir, &site)
        .args(["run", "leaky", "-p"])
        .args([format!("token={secret}")])
        .run_at_most(LIMIT);
    assert_eq!(terminal.code, 0, "{}", terminal.all());
    let run_id = out.json()["run_id"].as_str().unwrap().to_string();
    let replay = sb.cmd().args(["replay", &run_id, "--json"]).run().code(0);
    let export = sb.cmd().args(["audit", "export"]).run();
    let db = std::fs::read(sb.db()).unwrap();
    let wal = std::fs::read(sb.db().with_extension("db-wal")).unwrap_or_default();
    let sinks = [
        ("run --json", out.all()),
        ("terminal", terminal.all()),
        ("replay", replay.all()),
        ("export", export.all()),
        ("database", String::from_utf8_lossy(&db).into_owned()),
        ("wal", String::from_utf8_lossy(&wal).into_owned()),
    ];
    for (sink, text) in sinks {
        assert!(!text.contains("word-4242"), "{sink}: {text}");
    }
    assert!(
        terminal.stdout.contains("[REDACTED]"),
        "{}",
        terminal.stdout
    );
}

/// `print` and host results cannot drive the terminal: control characters are escaped.
#[test]
fn terminal_output_escapes_control_characters() {
    let sb = Sandbox::new();
    let site = sb.site(&[]);
    let dir = sb.tree(
        &[(
            "escapes",
            r#"print("title \x1b]0;owned\x07 clear \x1b[2J bell \x07 back \r done");
step "name \x1b[31m red" { }"#,
        )],
        &[],
    );
    let out = sb
        .in_tree(&dir, &site)
        .args(["run", "escapes"])
        .run_at_most(LIMIT);
    assert_eq!(out.code, 0, "{}", out.all());
    for c in ['\x1b', '\x07', '\r'] {
        assert!(!out.stdout.contains(c), "{c:?} in {:?}", out.stdout);
    }
    assert!(out.stdout.contains(r"\u{1b}]0;owned"), "{}", out.stdout);
}

#[test]
fn a_prefetched_call_the_runbook_never_used_is_still_recorded() {
    let sb = Sandbox::new();
    sb.cmd()
        .fixtures()
        .args(["run", "prefetch-unused"])
        .run()
        .code(0);
    let replay = sb
        .cmd()
        .args(["replay", "last", "--json"])
        .run()
        .code(0)
        .json();
    let calls: Vec<&serde_json::Value> = replay["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "call")
        .collect();
    let of = |function: &str| {
        calls
            .iter()
            .find(|e| e["payload"]["function"] == function)
            .unwrap_or_else(|| panic!("no call of {function} recorded: {calls:?}"))
    };
    let used = of("host::disk");
    assert_eq!(used["payload"]["prefetched"], true, "{used}");
    assert!(used["payload"].get("unused").is_none(), "{used}");
    let unused = of("site::unit");
    assert_eq!(unused["payload"]["unused"], true, "{unused}");
    assert_eq!(unused["payload"]["result"]["policy"], "safe", "{unused}");
    assert!(unused["payload"]["duration_ms"].is_u64(), "{unused}");
}

#[test]
fn an_overridden_stdlib_module_runs_with_a_trace() {
    use sha2::{Digest, Sha256};
    let sb = Sandbox::new();
    let site = sb.site(&[]);
    let override_text = format!(
        "{}\n// the site's own copy\n",
        include_str!("../stdlib/findings.rhai")
    );
    let runbook = "//! name: uses-findings\n//! summary: one finding\n//! mutates: false\n\
                   import \"findings\" as f;\nstep \"Check\" { f::ok(\"disk /\", \"fine\"); }\n";
    let dir = sb.tree(
        &[("uses-findings", runbook)],
        &[("findings", &override_text)],
    );
    sb.in_tree(&dir, &site)
        .args(["run", "uses-findings"])
        .run()
        .code(0);

    let replay = sb
        .cmd()
        .args(["replay", "last", "--json"])
        .run()
        .code(0)
        .json();
    let modules = common::events_of(&replay, "module");
    assert_eq!(modules.len(), 1, "{modules:?}");
    let m = &modules[0]["payload"];
    assert_eq!(m["name"], "findings");
    let origin = m["origin"].as_str().unwrap();
    assert!(origin.ends_with("rb/stdlib/findings.rhai"), "{origin}");
    assert_eq!(
        m["source_sha256"],
        hex::encode(Sha256::digest(override_text.as_bytes()))
    );
    // The text that ran is in the record.
    let text = sb
        .cmd()
        .args(["replay", "last", "--source", "--module", "findings"])
        .run()
        .code(0)
        .stdout;
    assert_eq!(text, override_text);
    let missing = sb
        .cmd()
        .args(["replay", "last", "--source", "--module", "checks"])
        .run()
        .code(2);
    assert!(
        missing.stderr.contains("it loaded: findings"),
        "{}",
        missing.stderr
    );

    // `list` and `show` say the module is overridden.
    let list = sb.in_tree(&dir, &site).args(["list"]).run().code(0).stdout;
    let line = list
        .lines()
        .find(|l| l.starts_with("triage "))
        .expect("triage listed");
    assert!(line.contains("overridden modules:"), "{line}");
    let show = sb
        .in_tree(&dir, &site)
        .args(["show", "triage", "--json"])
        .run()
        .code(0)
        .json();
    let findings = show["modules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "findings")
        .expect("triage imports findings");
    assert_eq!(findings["overridden"], true, "{show}");

    // Without the override, the record says built-in.
    sb.cmd()
        .fixtures()
        .args(["run", "crit-finding"])
        .run()
        .code(5);
    let replay = sb
        .cmd()
        .args(["replay", "last", "--json"])
        .run()
        .code(0)
        .json();
    let modules = common::events_of(&replay, "module");
    assert!(
        modules
            .iter()
            .any(|e| e["payload"]["name"] == "findings" && e["payload"]["origin"] == "built-in"),
        "{modules:?}"
    );
}
