//! Benchmark: `runbook report` of a 100,000-event run, made by the real binary, and the page
//! opened in headless Chromium.
//!
//! 1. The release binary renders the report to a file, `BENCH_REPEAT` times (default 5): wall
//!    time, peak resident memory of the process (`getrusage` of the children) and the file's
//!    size. Target:
//!    under 1 s and under 20 MB of memory.
//! 2. Chromium opens the file and its script verifies every event (the badge turns green):
//!    the time from asking for the page to its load event (the check runs before it), timed
//!    by a harness page around it (`browser::open_timed`), so neither the browser's start nor
//!    printing the page's DOM back out counts. Target: under 3 s. Skipped without chromium.
//!
//! Reproduce with `cargo bench --bench report`. Environment: `BENCH_EVENTS` (default 100000),
//! `BENCH_REPEAT`, `BENCH_BROWSER_REPEAT` (default 3), `BENCH_BROWSER=0` to leave the browser out, `BENCH_BASELINE=PATH` to measure
//! another build's binary (e.g. main's) in the same run, alternating with this one, on the
//! same database (the machine drifts; two runs apart do not compare). `BENCH_DB=FILE` keeps the
//! database (its run id in FILE with the extension `.run`), built only when missing, for
//! profiling a render by hand.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;

use runbook::audit::event::{Call, Event, Finding, RunEnd, StepEnd, StepStart, StepStatus};
use runbook::audit::{AuditStore, Durability, NewRun, RunStatus};

#[path = "../tests/common/browser.rs"]
mod browser;

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One run of `events` events in the shape the door writes: a step every 100 events, host
/// calls with arguments, results and durations, a finding per step.
fn build(db: &Path, events: u64) -> String {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = AuditStore::open(db).await.unwrap();
        let run = store
            .start_run(NewRun {
                runbook: "big".into(),
                source: "//! name: big\nstep \"one\" { }\n".into(),
                params: json!({"unit": "openclaw-bg-worker"}),
                operator: serde_json::to_value(runbook::identity::Operator::detect()).unwrap(),
                host: "bench".into(),
                dry_run: false,
                dry_run_reason: None,
                kind: None,
            })
            .await
            .unwrap();
        let id = run.id().to_string();
        for i in 0..events.saturating_sub(2) {
            let step = format!("step {}", i / 100);
            let event = match i % 100 {
                0 => Event::StepStart(StepStart { name: step.clone() }),
                1 => Event::Finding(Finding {
                    subject: format!("disk /srv/{i}"),
                    severity: "ok".into(),
                    summary: "41% used".into(),
                    evidence: json!({"used_percent": 41}),
                    next_step: String::new(),
                }),
                99 => Event::StepEnd(StepEnd {
                    name: step.clone(),
                    status: StepStatus::Ok,
                    duration_ms: Some(3),
                    error: None,
                }),
                _ => Event::Call(Call {
                    function: "files::stat".into(),
                    args: json!({"path": format!("/etc/runbook/{i}.conf")}),
                    result: Some(json!({"size": i * 7 % 4096, "mode": "0644", "owner": "root"})),
                    duration_ms: Some(1),
                    ..Call::default()
                }),
            };
            run.record_event(Some(&step), &event, Durability::Buffered)
                .await
                .unwrap();
        }
        run.finish(RunEnd::new(RunStatus::Ok, 0)).await.unwrap();
        id
    })
}

/// Run `cmd`, returning its wall time and the peak resident memory of that process, in
/// bytes (`wait4`'s own usage of the child).
fn measure(cmd: &mut Command) -> (Duration, u64) {
    let started = Instant::now();
    // Reaped by wait4 below, which also reports the child's own peak memory.
    #[allow(clippy::zombie_processes)]
    let child = cmd.spawn().expect("the binary starts");
    let mut status = 0;
    // SAFETY: wait4 fills the status and the struct we pass, for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    let wall = started.elapsed();
    assert_eq!(pid, child.id() as i32, "wait4");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{cmd:?}: {status}"
    );
    (wall, usage.ru_maxrss as u64 * 1024)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let events = env_num("BENCH_EVENTS", 100_000);
    let repeat = env_num("BENCH_REPEAT", 5).max(1);
    let dir = tempfile::tempdir().unwrap();
    // BENCH_DB keeps the database (built when missing) for profiling one render by hand.
    let (db, run) = match std::env::var_os("BENCH_DB").map(std::path::PathBuf::from) {
        Some(db) if db.exists() => {
            let run = std::fs::read_to_string(db.with_extension("run")).expect("BENCH_DB's run id");
            (db, run)
        }
        Some(db) => {
            let run = build(&db, events);
            std::fs::write(db.with_extension("run"), &run).unwrap();
            (db, run)
        }
        None => {
            let db = dir.path().join("audit.db");
            let run = build(&db, events);
            (db, run)
        }
    };
    let mut builds = vec![("this build", env!("CARGO_BIN_EXE_runbook").to_string())];
    if let Ok(other) = std::env::var("BENCH_BASELINE") {
        builds.push(("baseline", other));
    }
    println!("load average (1 min): {}", load_average());
    let mut files = Vec::new();
    let mut samples: Vec<(Vec<f64>, Vec<f64>)> = vec![(Vec::new(), Vec::new()); builds.len()];
    for _ in 0..repeat {
        for (i, (_, bin)) in builds.iter().enumerate() {
            let html = dir.path().join(format!("report-{i}.html"));
            let (wall, rss) = measure(
                Command::new(bin)
                    .arg("--audit-db")
                    .arg(&db)
                    .args(["report", &run, "-o"])
                    .arg(&html),
            );
            samples[i].0.push(wall.as_secs_f64());
            samples[i].1.push(rss as f64);
            if files.len() <= i {
                files.push(html);
            }
        }
    }
    for (i, (name, _)) in builds.iter().enumerate() {
        let (walls, peaks) = &samples[i];
        let size = std::fs::metadata(&files[i]).unwrap().len();
        let wall = median(walls.clone());
        let peak = peaks.iter().cloned().fold(0.0, f64::max) / 1e6;
        println!(
            "{name}: render, {events} events: median {wall:.3} s (of {repeat}: {}), peak memory {peak:.1} MB (largest run), file {:.1} MB  [target < 1 s, < 20 MB]: {}",
            walls
                .iter()
                .map(|w| format!("{w:.3}"))
                .collect::<Vec<_>>()
                .join(" "),
            size as f64 / 1e6,
            if wall < 1.0 && peak < 20.0 { "PASS" } else { "MISS" }
        );
    }

    if std::env::var("BENCH_BROWSER").as_deref() == Ok("0") {
        return;
    }
    if browser::chromium().is_none() {
        println!("browser: skipped (no chromium; apt-get install chromium)");
        return;
    }
    let mut opened: Vec<Vec<f64>> = vec![Vec::new(); builds.len()];
    let mut verify_ms: Vec<Vec<String>> = vec![Vec::new(); builds.len()];
    let loads = env_num("BENCH_BROWSER_REPEAT", 3).max(1);
    for _ in 0..loads {
        for (i, html) in files.iter().enumerate() {
            let page = browser::open_timed(html, dir.path());
            assert_eq!(
                page.verified.as_deref(),
                Some("true"),
                "the report of {} did not verify in the browser",
                builds[i].0
            );
            opened[i].push(page.ms / 1000.0);
            verify_ms[i].push(page.verify_ms.unwrap_or_else(|| "?".into()));
        }
    }
    for (i, (name, _)) in builds.iter().enumerate() {
        let open = median(opened[i].clone());
        println!(
            "{name}: browser opens and verifies {events} events in {open:.2} s (median of {loads}: {}; the script's own check took {} ms)  [target < 3 s]: {}",
            opened[i]
                .iter()
                .map(|s| format!("{s:.2}"))
                .collect::<Vec<_>>()
                .join(" "),
            verify_ms[i].join(", "),
            if open < 3.0 { "PASS" } else { "MISS" }
        );
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}
