//! The change table (guide §11: time to apply, downtime, rollback) in runbook headers:
//! `show` prints it, `check` reports a mutating runbook without one.

mod common;

use common::{Runbook, Sandbox};

#[test]
fn show_prints_the_change_table_of_restart_unit() {
    let out = Runbook::new().args(["show", "restart-unit"]).run().code(0);
    let start = out.stdout.find("\nChange\n").expect("a Change section");
    let table: Vec<&str> = out.stdout[start..].lines().skip(2).take(3).collect();
    assert!(
        table[0].starts_with("  time to apply  under a minute"),
        "{table:?}"
    );
    assert!(
        table[1].starts_with("  downtime       the unit is down while it restarts"),
        "{table:?}"
    );
    assert!(
        table[2].starts_with("  rollback       nothing to undo"),
        "{table:?}"
    );
    assert!(out.stdout.contains("locks: unit:{unit}"), "{}", out.stdout);
    let json = Runbook::new()
        .args(["show", "restart-unit", "--json"])
        .run()
        .code(0)
        .json();
    assert_eq!(json["locks"], serde_json::json!(["unit:{unit}"]));
    assert!(json["change"]["rollback"]
        .as_str()
        .unwrap()
        .starts_with("nothing to undo"));
}

#[test]
fn check_reports_a_mutating_runbook_without_a_change_table() {
    let sb = Sandbox::new();
    let site = sb.site(&[]);
    let half = "//! name: half\n//! summary: says only its downtime\n//! mutates: true\n//! downtime: none\nlet x = 1;\n";
    let reader = "//! name: reader\n//! summary: read-only, no table needed\n//! mutates: false\nlet x = 1;\n";
    let dir = sb.tree(&[("half", half), ("reader", reader)], &[]);
    let out = sb
        .in_tree(&dir, &site)
        .args(["check", "half"])
        .run()
        .code(2);
    assert!(
        out.stderr.contains("half.rhai:3:1: a mutating runbook needs a change table: add `//! time to apply: ...`, `//! rollback: ...`"),
        "{}",
        out.stderr
    );
    sb.in_tree(&dir, &site)
        .args(["check", "reader"])
        .run()
        .code(0);
}

#[test]
fn every_shipped_runbook_passes_check() {
    Runbook::new().args(["check"]).run().code(0);
}
