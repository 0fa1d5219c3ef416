//! Audit store performance: `cargo bench --bench audit`.
//!
//! Measures, on the disk that holds the database (a temporary directory; set `BENCH_DIR` to
//! choose another one):
//!
//! 1. the raw fsync rate (write 100 bytes + fdatasync, and + fsync) against durable
//!    single-event appends per second, measured in alternating slices (target: at least 80% of
//!    the better raw rate);
//! 2. buffered appends through `RunRecorder::record` + `flush` every 10,000 events, timed
//!    until `finish` has written them all (target: 300,000 events/s), with the bytes the
//!    database takes per event;
//! 3. `audit verify` over a 1,000,000-event database (target: 1,000,000 events/s);
//! 4. `replay` of a 100,000-event run, rendered as text and as JSON (target: under 1 s).
//!
//! The CPU time per buffered event and the load average are printed as well: on a shared
//! machine they tell how much of the hardware the run actually had.
//!
//! Environment: `BENCH_EVENTS` (default 1000000), `BENCH_SECONDS` (default 2), `BENCH_ONLY`
//! (comma-separated subset of `durable,buffered,verify,replay`).

use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::json;

use runbook::audit::event::RunEnd;
use runbook::audit::{AuditStore, Durability, NewRun, RunStatus, VerifyOptions};

// The replay renderer lives in the CLI layer; compile it here the way the binary does.
mod audit {
    pub use runbook::audit::*;
}
mod error {
    pub use runbook::error::*;
}
mod time {
    pub use runbook::time::*;
}
mod identity {
    pub use runbook::identity::*;
}
#[allow(dead_code)]
#[path = "../src/cli/log.rs"]
mod log;
#[allow(dead_code)]
#[path = "../src/cli/replay.rs"]
mod replay;
use self::replay as replay_cli;
#[allow(dead_code)]
#[path = "../src/cli/audit.rs"]
mod audit_cli;

struct Row {
    name: &'static str,
    measured: String,
    target: String,
    pass: bool,
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// CPU time (user + system, all threads) used by this process so far, in seconds.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage fills the struct we pass.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(u.ru_utime) + tv(u.ru_stime)
}

/// The load average over the last minute, to judge how much of the machine the bench had.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn new_run(name: &str) -> NewRun {
    NewRun {
        runbook: name.into(),
        source: format!("//! name: {name}\nstep \"one\" {{ }}\n"),
        params: json!({"unit": "nginx.service"}),
        operator: serde_json::to_value(runbook::identity::Operator::detect()).unwrap(),
        host: "bench".into(),
        dry_run: false,
        dry_run_reason: None,
    }
}

fn payload(i: u64) -> serde_json::Value {
    json!({
        "fn": "files.stat",
        "args": {"path": format!("/etc/runbook/{i}.conf")},
        "result": {"size": i * 7 % 4096, "mode": "0644", "owner": "root"},
        "duration_ms": 1,
    })
}

struct Bench {
    rt: tokio::runtime::Runtime,
    dir: tempfile::TempDir,
    seconds: Duration,
    total: u64,
    replay_events: u64,
    rows: Vec<Row>,
}

impl Bench {
    /// Benchmark 1: durable single-event appends against the raw fsync rate of the same
    /// directory. The three are measured in alternating slices of 1/10 of the time each, so that changes
    /// in the machine's load during the run affect them alike.
    fn durable(&mut self) {
        let db = self.dir.path().join("durable.db");
        let probe = self.dir.path().join("fsync-probe");
        let slice = self.seconds / 10;
        let (datasync, fsync, durable) = self.rt.block_on(async {
            let store = AuditStore::open(&db).await.unwrap();
            let run = store.start_run(new_run("durable")).await.unwrap();
            // Warm up the statement cache and the WAL.
            for i in 0..50 {
                run.record("intent", Some("s"), payload(i), Durability::Durable)
                    .await
                    .unwrap();
            }
            let mut file = std::fs::File::create(&probe).unwrap();
            let (mut datasync, mut fsync, mut durable) = ((0u64, 0f64), (0u64, 0f64), (0u64, 0f64));
            let mut n = 0u64;
            for _ in 0..10 {
                for (data_only, acc) in [(true, &mut datasync), (false, &mut fsync)] {
                    let start = Instant::now();
                    while start.elapsed() < slice {
                        file.write_all(&[b'x'; 100]).unwrap();
                        if data_only {
                            file.sync_data().unwrap();
                        } else {
                            file.sync_all().unwrap();
                        }
                        acc.0 += 1;
                    }
                    acc.1 += start.elapsed().as_secs_f64();
                }
                let start = Instant::now();
                while start.elapsed() < slice {
                    run.record("intent", Some("s"), payload(n), Durability::Durable)
                        .await
                        .unwrap();
                    n += 1;
                    durable.0 += 1;
                }
                durable.1 += start.elapsed().as_secs_f64();
            }
            let rate = |(n, s): (u64, f64)| n as f64 / s;
            (rate(datasync), rate(fsync), rate(durable))
        });
        let _ = std::fs::remove_file(&probe);
        let raw = datasync.max(fsync);
        self.rows.push(Row {
            name: "raw fsync (100 B + fdatasync | fsync)",
            measured: format!("{datasync:.0} | {fsync:.0} /s"),
            target: "reference".into(),
            pass: true,
        });
        self.rows.push(Row {
            name: "durable single-event appends",
            measured: format!("{durable:.0} /s ({:.0}% of raw)", 100.0 * durable / raw),
            target: format!(">= {:.0} /s (80%)", 0.8 * raw),
            pass: durable >= 0.8 * raw,
        });
    }

    fn big_db(&self) -> std::path::PathBuf {
        self.dir.path().join("big.db")
    }

    /// Benchmark 2: buffered appends. Also builds the database for verify and replay: one run
    /// of `replay_events` events and one with the rest. Returns the replay run's id.
    fn buffered(&mut self) -> String {
        let db = self.big_db();
        let (total, replay_events) = (self.total, self.replay_events);
        let (rate, replay_id, cpu_us) = self.rt.block_on(async {
            let store = AuditStore::open(&db).await.unwrap();
            let run = store.start_run(new_run("replay")).await.unwrap();
            let replay_id = run.id().to_string();
            let mut i = 0;
            while i + 2 < replay_events {
                if i % 100 == 0 {
                    run.record("step-start", Some("step"), json!({}), Durability::Buffered)
                        .await
                        .unwrap();
                } else {
                    run.record("call", Some("step"), payload(i), Durability::Buffered)
                        .await
                        .unwrap();
                }
                i += 1;
            }
            run.finish(RunEnd::new(RunStatus::Ok, 0)).await.unwrap();

            let run = store.start_run(new_run("bulk")).await.unwrap();
            let rest = total.saturating_sub(replay_events);
            let cpu = cpu_seconds();
            let start = Instant::now();
            for i in 0..rest {
                run.record("call", Some("step"), payload(i), Durability::Buffered)
                    .await
                    .unwrap();
                if i % 10_000 == 9_999 {
                    run.flush().await.unwrap();
                }
            }
            // Flushes write in the background; finishing the run waits for the last of them.
            run.finish(RunEnd::new(RunStatus::Ok, 0)).await.unwrap();
            let rate = rest as f64 / start.elapsed().as_secs_f64();
            let cpu_us = (cpu_seconds() - cpu) * 1e6 / rest as f64;
            (rate, replay_id, cpu_us)
        });
        if total <= replay_events {
            return replay_id;
        }
        // The database and its write-ahead log, per event: appends are bound by the bytes they
        // write as much as by CPU.
        let bytes: u64 = ["", "-wal"]
            .iter()
            .filter_map(|suffix| std::fs::metadata(format!("{}{suffix}", db.display())).ok())
            .map(|m| m.len())
            .sum();
        let per_event = bytes as f64 / total as f64;
        self.rows.push(Row {
            name: "buffered appends (record + flush/10k)",
            measured: format!("{rate:.0} /s ({cpu_us:.2} cpu-us, {per_event:.0} B/event)"),
            target: ">= 300000 /s".into(),
            pass: rate >= 300_000.0,
        });
        replay_id
    }

    /// Benchmark 3: `audit verify` over the big database.
    fn verify(&mut self) {
        let db = self.big_db();
        let events = self.rt.block_on(async {
            let store = AuditStore::open(&db).await.unwrap();
            let report = runbook::audit::verify(&store, &VerifyOptions::default())
                .await
                .unwrap();
            store.close().await.unwrap();
            report.events
        });
        // End to end, as `runbook audit verify` runs it: open, recover, verify, print.
        let args = audit_cli::VerifyArgs {
            json: false,
            expect_head: None,
        };
        let start = Instant::now();
        let mut out = Vec::new();
        audit_cli::render_verify(&args, &db, &self.rt, &mut out).unwrap();
        let rate = events as f64 / start.elapsed().as_secs_f64();
        self.rows.push(Row {
            name: "audit verify (end to end)",
            measured: format!("{rate:.0} events/s ({events} events)"),
            target: ">= 1000000 events/s".into(),
            pass: rate >= 1_000_000.0,
        });
    }

    /// Benchmark 4: `replay` of the 100,000-event run, text and JSON, into a buffered sink.
    fn replay(&mut self, run: &str) {
        for json in [false, true] {
            let start = Instant::now();
            let args = replay_cli::ReplayArgs {
                run: run.to_string(),
                json,
                source: false,
                full: false,
            };
            let mut sink = std::io::BufWriter::new(std::io::sink());
            replay_cli::render(&args, &self.big_db(), &self.rt, &mut sink).unwrap();
            let secs = start.elapsed().as_secs_f64();
            self.rows.push(Row {
                name: if json {
                    "replay --json"
                } else {
                    "replay (text)"
                },
                measured: format!("{secs:.3} s ({} events)", self.replay_events),
                target: "< 1 s".into(),
                pass: secs < 1.0,
            });
        }
    }
}

fn main() {
    // `cargo bench` passes --bench; there are no options.
    let total = env_num("BENCH_EVENTS", 1_000_000);
    let dir = match std::env::var_os("BENCH_DIR") {
        Some(b) => tempfile::tempdir_in(b).unwrap(),
        None => tempfile::tempdir().unwrap(),
    };
    println!("database directory: {}", dir.path().display());
    let mut bench = Bench {
        rt: tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap(),
        dir,
        seconds: Duration::from_secs(env_num("BENCH_SECONDS", 2)),
        total,
        replay_events: 100_000u64.min(total),
        rows: Vec::new(),
    };
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let want = |name: &str| only.is_empty() || only.split(',').any(|o| o == name);

    if want("durable") {
        bench.durable();
    }
    if want("buffered") || want("verify") || want("replay") {
        let replay_run = bench.buffered();
        if want("verify") {
            bench.verify();
        }
        if want("replay") {
            bench.replay(&replay_run);
        }
    }

    println!();
    println!("load average (1 min) at the end: {}", load_average());
    println!(
        "{:<40} {:<36} {:<22} result",
        "benchmark", "measured", "target"
    );
    for r in &bench.rows {
        println!(
            "{:<40} {:<36} {:<22} {}",
            r.name,
            r.measured,
            r.target,
            if r.pass { "PASS" } else { "MISS" }
        );
    }
}
