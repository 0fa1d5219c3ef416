//! Audit store performance: `cargo bench --bench audit`.
//!
//! Absolute rates on a shared machine move by 2x from one day to the next, so every target is
//! a ratio to a reference measured in the same run, on the same disk (a temporary directory;
//! set `BENCH_DIR` to choose another one):
//!
//! 1. durable single-event appends against the raw fsync rate (write 100 bytes + fdatasync,
//!    and + fsync), measured in alternating slices (target: at least 80% of the better raw
//!    rate);
//! 2. buffered appends through `RunRecorder::record` + `flush` every 10,000 events, timed
//!    until `finish` has written them all, against a plain SQLite batch insert of the same
//!    rows (same schema, same payload JSON built and serialized, 32-row INSERTs, one
//!    transaction per 10,000, no fsync) without hashing, redaction or the chain check; the two
//!    alternate in slices (target in [`BUFFERED_TARGET`]);
//! 3. `audit verify` end to end (open, read, hash, check) against raw SHA-256 over the same
//!    bytes (each event's canonical encoding, same lengths and count, on as many threads as
//!    verify uses) (target in [`VERIFY_TARGET`]);
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

use libsqlite3_sys as ffi;
use runbook::audit::event::RunEnd;
use runbook::audit::{clock, AuditStore, Durability, NewRun, RunStatus, VerifyOptions};

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
mod complete {
    pub use runbook::cli::complete::*;
}
mod pager {
    pub use runbook::cli::pager::*;
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

/// Buffered appends at least this fraction of the plain batch insert's rate.
const BUFFERED_TARGET: f64 = 0.75;
/// `audit verify` at least this fraction of raw SHA-256's rate over the same bytes.
const VERIFY_TARGET: f64 = 0.35;

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
        kind: None,
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

/// The reference for buffered appends: the same rows inserted into the same schema with
/// SQLite's C API and nothing else (no hashing, redaction, chain check or background writer):
/// the payload JSON built and serialized per row, a time per row, 32-row INSERT statements,
/// one transaction per 10,000 rows, committed without an fsync (`synchronous=NORMAL`, as the
/// store's buffered commits).
struct Plain {
    db: *mut ffi::sqlite3,
    insert: *mut ffi::sqlite3_stmt,
    run: String,
    next_seq: i64,
}

const PLAIN_ROWS: usize = 32;

impl Plain {
    /// A new database with the store's schema and one run to append to.
    fn open(rt: &tokio::runtime::Runtime, path: &std::path::Path) -> Plain {
        let run = rt.block_on(async {
            let store = AuditStore::open(path).await.unwrap();
            let run = store.start_run(new_run("plain")).await.unwrap();
            let id = run.id().to_string();
            drop(run);
            store.close().await.unwrap();
            id
        });
        let c_path = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
        let mut db = std::ptr::null_mut();
        // SAFETY: plain SQLite C API use on a connection this struct owns.
        unsafe {
            let rc = ffi::sqlite3_open_v2(
                c_path.as_ptr(),
                &mut db,
                ffi::SQLITE_OPEN_READWRITE,
                std::ptr::null(),
            );
            assert_eq!(rc, ffi::SQLITE_OK);
            Plain::exec(
                db,
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                 PRAGMA foreign_keys = ON; PRAGMA cache_size = -32768; \
                 PRAGMA temp_store = memory",
            );
            let row = format!("({})", ["?"; 8].join(", "));
            let sql = format!(
                "INSERT INTO events (run, seq, time, kind, step, payload, prev_hash, hash) \
                 VALUES {}",
                vec![row; PLAIN_ROWS].join(", ")
            );
            let sql = std::ffi::CString::new(sql).unwrap();
            let mut insert = std::ptr::null_mut();
            let rc =
                ffi::sqlite3_prepare_v2(db, sql.as_ptr(), -1, &mut insert, std::ptr::null_mut());
            assert_eq!(rc, ffi::SQLITE_OK);
            Plain {
                db,
                insert,
                run,
                next_seq: 2,
            }
        }
    }

    /// # Safety
    /// `db` must be a valid connection.
    unsafe fn exec(db: *mut ffi::sqlite3, sql: &str) {
        let sql = std::ffi::CString::new(sql).unwrap();
        // SAFETY: per the function's contract.
        let rc = unsafe {
            ffi::sqlite3_exec(
                db,
                sql.as_ptr(),
                None,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        assert_eq!(rc, ffi::SQLITE_OK);
    }

    /// Insert `n` rows (a multiple of 32) with payloads `payload(from..)`; returns the seconds.
    fn insert(&mut self, from: u64, n: u64) -> f64 {
        let zero = [0u8; 32];
        let start = Instant::now();
        let mut rows: Vec<(String, std::sync::Arc<str>)> = Vec::with_capacity(PLAIN_ROWS);
        // SAFETY: the statement and connection are this struct's; every bound value lives
        // until after the step that uses it (SQLITE_STATIC).
        unsafe {
            Plain::exec(self.db, "BEGIN IMMEDIATE");
            for i in (from..from + n).step_by(PLAIN_ROWS) {
                rows.clear();
                for j in 0..PLAIN_ROWS as u64 {
                    rows.push((payload(i + j).to_string(), clock::now()));
                }
                for (r, (payload, time)) in rows.iter().enumerate() {
                    let at = (r * 8) as i32;
                    let text = |index: i32, t: &str| {
                        ffi::sqlite3_bind_text64(
                            self.insert,
                            index,
                            t.as_ptr().cast(),
                            t.len() as u64,
                            ffi::SQLITE_STATIC(),
                            ffi::SQLITE_UTF8 as u8,
                        )
                    };
                    text(at + 1, &self.run);
                    ffi::sqlite3_bind_int64(self.insert, at + 2, self.next_seq);
                    self.next_seq += 1;
                    text(at + 3, time);
                    text(at + 4, "call");
                    text(at + 5, "step");
                    text(at + 6, payload);
                    for index in [at + 7, at + 8] {
                        ffi::sqlite3_bind_blob64(
                            self.insert,
                            index,
                            zero.as_ptr().cast(),
                            32,
                            ffi::SQLITE_STATIC(),
                        );
                    }
                }
                assert_eq!(ffi::sqlite3_step(self.insert), ffi::SQLITE_DONE);
                ffi::sqlite3_reset(self.insert);
                if (i - from + PLAIN_ROWS as u64) % 10_000 < PLAIN_ROWS as u64 {
                    Plain::exec(self.db, "COMMIT; BEGIN IMMEDIATE");
                }
            }
            Plain::exec(self.db, "COMMIT");
        }
        start.elapsed().as_secs_f64()
    }
}

impl Drop for Plain {
    fn drop(&mut self) {
        // SAFETY: finalized and closed once, here.
        unsafe {
            ffi::sqlite3_finalize(self.insert);
            ffi::sqlite3_close(self.db);
        }
    }
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
        let mut plain = Plain::open(&self.rt, &self.dir.path().join("plain.db"));
        let (rate, replay_id, cpu_us, plain_rate) = self.rt.block_on(async {
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
            // The plain insert's first half, before the measured appends (its second half
            // follows them), so that a change in the machine's load affects both alike.
            let half = (rest / 2).div_ceil(PLAIN_ROWS as u64) * PLAIN_ROWS as u64;
            let plain_first = plain.insert(0, half);
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
            let plain_rate = (2 * half) as f64 / (plain_first + plain.insert(half, half));
            (rate, replay_id, cpu_us, plain_rate)
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
            name: "plain SQLite batch insert, no hashing",
            measured: format!("{plain_rate:.0} /s"),
            target: "reference".into(),
            pass: true,
        });
        let ratio = rate / plain_rate;
        self.rows.push(Row {
            name: "buffered appends (record + flush/10k)",
            measured: format!(
                "{rate:.0} /s ({:.0}% of plain; {cpu_us:.2} cpu-us, {per_event:.0} B/event)",
                100.0 * ratio
            ),
            target: format!(">= {:.0}% of plain", 100.0 * BUFFERED_TARGET),
            pass: ratio >= BUFFERED_TARGET,
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
        let sha = self.raw_sha256_rate(&db);
        self.rows.push(Row {
            name: "raw SHA-256 over the same bytes",
            measured: format!("{sha:.0} events/s"),
            target: "reference".into(),
            pass: true,
        });
        let ratio = rate / sha;
        self.rows.push(Row {
            name: "audit verify (end to end)",
            measured: format!(
                "{rate:.0} events/s ({:.0}% of raw; {events} events)",
                100.0 * ratio
            ),
            target: format!(">= {:.0}% of raw", 100.0 * VERIFY_TARGET),
            pass: ratio >= VERIFY_TARGET,
        });
    }

    /// Events per second that SHA-256 alone hashes: each event's canonical encoding (its
    /// length taken from the database, see `audit::chain`), on as many threads as verify uses.
    fn raw_sha256_rate(&self, db: &std::path::Path) -> f64 {
        use sha2::{Digest, Sha256};
        let field = |n: usize| itoa::Buffer::new().format(n).len() + n + 2;
        let lengths: Vec<usize> = self.rt.block_on(async {
            let store = AuditStore::open(db).await.unwrap();
            let mut conn = store.reader().await.unwrap();
            let mut lengths = Vec::new();
            runbook::audit::for_each_event(&mut conn, &Default::default(), |e| {
                lengths.push(
                    runbook::audit::chain::DOMAIN.len()
                        + field(64)
                        + field(e.run.len())
                        + field(itoa::Buffer::new().format(e.seq).len())
                        + field(e.time.len())
                        + field(e.kind.len())
                        + e.step.map_or(2, |s| field(s.len()))
                        + field(e.payload.len()),
                );
                Ok::<_, runbook::audit::AuditError>(())
            })
            .await
            .unwrap();
            lengths
        });
        let longest = lengths.iter().copied().max().unwrap_or(0);
        let message = vec![b'x'; longest];
        let workers = std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .clamp(1, 4);
        let start = Instant::now();
        std::thread::scope(|s| {
            for part in lengths.chunks(lengths.len().div_ceil(workers).max(1)) {
                let message = &message;
                s.spawn(move || {
                    for &n in part {
                        std::hint::black_box(Sha256::digest(&message[..n]));
                    }
                });
            }
        });
        lengths.len() as f64 / start.elapsed().as_secs_f64()
    }

    /// Benchmark 4: `replay` of the 100,000-event run, text and JSON, into a buffered sink.
    fn replay(&mut self, run: &str) {
        for json in [false, true] {
            let start = Instant::now();
            let args = replay_cli::ReplayArgs {
                run: run.to_string(),
                json,
                source: false,
                module: None,
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
