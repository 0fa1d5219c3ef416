//! Host metrics (Rhai module `host`): disk, memory, load, CPU, uptime, hostname, top processes.
//!
//! Everything comes from statvfs(3) and /proc, the sources `df`, `free`, `uptime` and `top` read.
//! Parsing is split from reading so each parser is tested on recorded text.

use std::collections::HashMap;
use std::ffi::CString;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::args;
use super::users;
use super::{Args, Effect, HostCtx, HostError, HostFn, HostResult, Param, ParamType};

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        round1(part as f64 * 100.0 / whole as f64)
    }
}

fn read_proc(path: &str) -> Result<String, HostError> {
    std::fs::read_to_string(path).map_err(|e| HostError::Failed(format!("cannot read {path}: {e}")))
}

/// The statvfs fields `df` uses.
#[derive(Debug, Clone, Copy)]
pub struct Statvfs {
    pub frsize: u64,
    pub blocks: u64,
    pub bfree: u64,
    pub bavail: u64,
    pub files: u64,
    pub ffree: u64,
}

/// Disk usage as `df` computes it: used = blocks - bfree, and the percentage is
/// used / (used + avail), so blocks reserved for root count as neither.
pub fn disk_usage(path: &str, s: Statvfs) -> Value {
    let used = s.blocks.saturating_sub(s.bfree);
    let inodes_used = s.files.saturating_sub(s.ffree);
    json!({
        "path": path,
        "total": s.blocks * s.frsize,
        "used": used * s.frsize,
        "available": s.bavail * s.frsize,
        "used_percent": percent(used, used + s.bavail),
        "inodes_total": s.files,
        "inodes_used": inodes_used,
        "inodes_used_percent": percent(inodes_used, s.files),
    })
}

pub(crate) fn statvfs(path: &str) -> Result<Statvfs, HostError> {
    let c = CString::new(path)
        .map_err(|_| HostError::InvalidArgument(format!("path {path:?} contains a NUL byte")))?;
    // SAFETY: `c` is a valid NUL-terminated string and `buf` a properly sized out-parameter.
    let mut buf: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut buf) } != 0 {
        let e = std::io::Error::last_os_error();
        return Err(HostError::Failed(format!("statvfs {path}: {e}")));
    }
    #[allow(clippy::unnecessary_cast)] // the field types differ between libc targets
    Ok(Statvfs {
        frsize: buf.f_frsize as u64,
        blocks: buf.f_blocks as u64,
        bfree: buf.f_bfree as u64,
        bavail: buf.f_bavail as u64,
        files: buf.f_files as u64,
        ffree: buf.f_ffree as u64,
    })
}

fn disk(_ctx: &HostCtx, a: &Args) -> HostResult {
    let path = args::string(a, "path")?;
    if !path.starts_with('/') {
        return Err(HostError::InvalidArgument(format!(
            "disk path `{path}` must be absolute"
        )));
    }
    Ok(disk_usage(path, statvfs(path)?))
}

/// /proc/meminfo as `free` reads it: used = total - available. Values are bytes.
pub fn parse_meminfo(text: &str) -> Result<Value, HostError> {
    let kb: HashMap<&str, u64> = text
        .lines()
        .filter_map(|l| {
            let (k, rest) = l.split_once(':')?;
            let n = rest.split_whitespace().next()?.parse().ok()?;
            Some((k.trim(), n))
        })
        .collect();
    let get = |k: &str| {
        kb.get(k)
            .copied()
            .ok_or_else(|| HostError::Failed(format!("/proc/meminfo has no {k}")))
    };
    let total = get("MemTotal")?;
    // Kernels before 3.14 lack MemAvailable; free + buffers + cache is the classic estimate.
    let available = match get("MemAvailable") {
        Ok(a) => a,
        Err(_) => get("MemFree")? + get("Buffers").unwrap_or(0) + get("Cached").unwrap_or(0),
    };
    let used = total.saturating_sub(available);
    let swap_total = get("SwapTotal").unwrap_or(0);
    let swap_used = swap_total.saturating_sub(get("SwapFree").unwrap_or(0));
    Ok(json!({
        "total": total * 1024,
        "available": available * 1024,
        "used": used * 1024,
        "used_percent": percent(used, total),
        "swap_total": swap_total * 1024,
        "swap_used": swap_used * 1024,
        "swap_percent": percent(swap_used, swap_total),
    }))
}

fn memory(_ctx: &HostCtx, _a: &Args) -> HostResult {
    parse_meminfo(&read_proc("/proc/meminfo")?)
}

fn cpus() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    u64::try_from(n).unwrap_or(1).max(1)
}

/// /proc/loadavg: "0.52 0.58 0.59 2/611 12345".
pub fn parse_loadavg(text: &str, cpus: u64) -> Result<Value, HostError> {
    let bad = || HostError::Failed(format!("unexpected /proc/loadavg: {text:?}"));
    let f: Vec<&str> = text.split_whitespace().collect();
    if f.len() < 4 {
        return Err(bad());
    }
    let load = |i: usize| f[i].parse::<f64>().map_err(|_| bad());
    let (running, total) = f[3].split_once('/').ok_or_else(bad)?;
    let (l1, l5, l15) = (load(0)?, load(1)?, load(2)?);
    Ok(json!({
        "load1": l1,
        "load5": l5,
        "load15": l15,
        "running": running.parse::<u64>().map_err(|_| bad())?,
        "processes": total.parse::<u64>().map_err(|_| bad())?,
        "cpus": cpus,
        // Load per CPU as a percentage, comparable with the cpu thresholds.
        "load1_percent": round1(l1 * 100.0 / cpus as f64),
    }))
}

fn load(_ctx: &HostCtx, _a: &Args) -> HostResult {
    parse_loadavg(&read_proc("/proc/loadavg")?, cpus())
}

/// Aggregate CPU jiffies from /proc/stat: (busy, total, iowait).
pub fn parse_cpu_line(text: &str) -> Option<(u64, u64, u64)> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is already in user/nice)
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3)? + v.get(4).unwrap_or(&0);
    Some((total - idle, total, *v.get(4).unwrap_or(&0)))
}

/// CPU use between two /proc/stat samples, in percent of all CPUs.
pub fn cpu_between(a: (u64, u64, u64), b: (u64, u64, u64)) -> (f64, f64) {
    let total = b.1.saturating_sub(a.1);
    (
        percent(b.0.saturating_sub(a.0), total),
        percent(b.2.saturating_sub(a.2), total),
    )
}

fn cpu(_ctx: &HostCtx, a: &Args) -> HostResult {
    let ms = args::int_in(a, "sample_ms", 1000, 100, 10_000)?;
    let sample = || {
        parse_cpu_line(&read_proc("/proc/stat")?)
            .ok_or_else(|| HostError::Failed("/proc/stat has no cpu line".into()))
    };
    let first = sample()?;
    std::thread::sleep(Duration::from_millis(ms.unsigned_abs()));
    let (used, iowait) = cpu_between(first, sample()?);
    Ok(json!({"used_percent": used, "iowait_percent": iowait, "cpus": cpus(), "sample_ms": ms}))
}

fn uptime(_ctx: &HostCtx, _a: &Args) -> HostResult {
    let text = read_proc("/proc/uptime")?;
    let secs: f64 = text
        .split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| HostError::Failed(format!("unexpected /proc/uptime: {text:?}")))?;
    let boot = chrono::Utc::now() - chrono::Duration::milliseconds((secs * 1000.0) as i64);
    Ok(json!({
        "uptime_secs": secs as u64,
        "boot_time": boot.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    }))
}

/// `some avg10` and `some avg60` of /proc/pressure/cpu: the share of time at least one
/// runnable task waited for a CPU. `None` when the text has no `some` line.
pub fn parse_cpu_pressure(text: &str) -> Option<(f64, f64)> {
    let line = text.lines().find(|l| l.starts_with("some "))?;
    let field = |key: &str| {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(key)?.parse::<f64>().ok())
    };
    Some((field("avg10=")?, field("avg60=")?))
}

/// CPU saturation without waiting: the kernel's pressure stall information (PSI) when the
/// kernel has it, else the 1-minute load per CPU. Triage uses this instead of a timed sample.
fn cpu_pressure(_ctx: &HostCtx, _a: &Args) -> HostResult {
    let cpus = cpus();
    let psi = std::fs::read_to_string("/proc/pressure/cpu").ok();
    match psi.as_deref().and_then(parse_cpu_pressure) {
        Some((avg10, avg60)) => Ok(json!({
            "source": "psi", "percent": avg10, "avg10": avg10, "avg60": avg60, "cpus": cpus,
        })),
        None => {
            let text = read_proc("/proc/loadavg")?;
            let l1: f64 = text
                .split_whitespace()
                .next()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| HostError::Failed("unreadable /proc/loadavg".into()))?;
            Ok(
                json!({"source": "loadavg", "percent": round1(l1 * 100.0 / cpus as f64), "load1": l1, "cpus": cpus}),
            )
        }
    }
}

/// The container runtime this process runs in, if any: systemd records it in
/// /run/systemd/container; Docker leaves /.dockerenv. Runbooks use it to say which checks a
/// container cannot make (kernel settings belong to the host).
pub fn container_kind(run_systemd_container: Option<&str>, dockerenv: bool) -> String {
    match run_systemd_container.map(str::trim) {
        Some(kind) if !kind.is_empty() => kind.to_string(),
        _ if dockerenv => "docker".to_string(),
        _ => String::new(),
    }
}

fn virtualization(_ctx: &HostCtx, _a: &Args) -> HostResult {
    let recorded = std::fs::read_to_string("/run/systemd/container").ok();
    let kind = container_kind(
        recorded.as_deref(),
        std::path::Path::new("/.dockerenv").exists(),
    );
    Ok(json!({"container": kind, "in_container": !kind.is_empty()}))
}

fn hostname(ctx: &HostCtx, _a: &Args) -> HostResult {
    let name = read_proc("/proc/sys/kernel/hostname")?.trim().to_string();
    let expected = ctx.site.host.hostname.clone();
    let matches = expected.as_ref().map(|e| e == &name);
    Ok(json!({"hostname": name, "expected": expected, "matches": matches}))
}

/// The fields of /proc/PID/stat we use. `comm` may contain spaces and parentheses, so the
/// fields are counted from the last `)`.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcStat {
    pub pid: u32,
    pub comm: String,
    pub state: char,
    /// utime + stime, in clock ticks.
    pub cpu_ticks: u64,
    pub rss_pages: u64,
}

pub fn parse_proc_stat(text: &str) -> Option<ProcStat> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let pid = text[..open].trim().parse().ok()?;
    let comm = text[open + 1..close].to_string();
    let rest: Vec<&str> = text[close + 1..].split_whitespace().collect();
    // rest[0] is field 3 (state); utime/stime are fields 14/15, rss field 24.
    let num = |i: usize| rest.get(i).and_then(|x| x.parse::<u64>().ok());
    Some(ProcStat {
        pid,
        comm,
        state: rest.first()?.chars().next()?,
        cpu_ticks: num(11)? + num(12)?,
        rss_pages: num(21)?,
    })
}

/// The real uid from /proc/PID/status.
pub fn parse_status_uid(text: &str) -> Option<u32> {
    text.lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|u| u.parse().ok())
}

fn snapshot() -> HashMap<u32, ProcStat> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return HashMap::new();
    };
    dir.filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter_map(|e| {
            // Processes exit between listing and reading; skip them.
            let text = std::fs::read_to_string(e.path().join("stat")).ok()?;
            parse_proc_stat(&text).map(|s| (s.pid, s))
        })
        .collect()
}

fn command_line(pid: u32, comm: &str) -> String {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let mut cmd: String = String::from_utf8_lossy(&raw)
        .split('\0')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if cmd.is_empty() {
        // Kernel threads have no command line; ps shows them bracketed.
        return format!("[{comm}]");
    }
    if cmd.len() > 512 {
        let mut end = 512;
        while !cmd.is_char_boundary(end) {
            end -= 1;
        }
        cmd.truncate(end);
        cmd.push('…');
    }
    cmd
}

const TOP_SAMPLE: Duration = Duration::from_millis(500);

fn top_processes(_ctx: &HostCtx, a: &Args) -> HostResult {
    let by = args::opt_string(a, "by")?.unwrap_or("cpu");
    if by != "cpu" && by != "mem" {
        return Err(HostError::InvalidArgument(format!(
            "by must be \"cpu\" or \"mem\", got {by:?}"
        )));
    }
    let limit = args::int_in(a, "limit", 10, 1, 200)? as usize;
    // SAFETY: sysconf has no preconditions.
    let (tck, page) = unsafe {
        (
            libc::sysconf(libc::_SC_CLK_TCK),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    let (tck, page) = (tck.max(1) as f64, page.max(1) as u64);
    let mem_total = parse_meminfo(&read_proc("/proc/meminfo")?)?["total"]
        .as_u64()
        .unwrap_or(0);

    // CPU over a short sample, as top shows it (100% = one CPU busy).
    let before = snapshot();
    let t0 = Instant::now();
    std::thread::sleep(TOP_SAMPLE);
    let after = snapshot();
    let elapsed = t0.elapsed().as_secs_f64();

    let passwd = users::passwd().unwrap_or_default();
    let mut rows: Vec<(f64, u64, &ProcStat)> = after
        .values()
        .map(|s| {
            let prev = before.get(&s.pid).map_or(s.cpu_ticks, |p| p.cpu_ticks);
            let cpu = s.cpu_ticks.saturating_sub(prev) as f64 / tck / elapsed * 100.0;
            (round1(cpu), s.rss_pages * page, s)
        })
        .collect();
    if by == "cpu" {
        rows.sort_by(|a, b| b.0.total_cmp(&a.0).then(b.1.cmp(&a.1)));
    } else {
        rows.sort_by(|a, b| b.1.cmp(&a.1).then(b.0.total_cmp(&a.0)));
    }
    let out: Vec<Value> = rows
        .into_iter()
        .take(limit)
        .map(|(cpu, rss, s)| {
            let uid = std::fs::read_to_string(format!("/proc/{}/status", s.pid))
                .ok()
                .and_then(|t| parse_status_uid(&t));
            json!({
                "pid": s.pid,
                // Full names: ps truncates to 8 characters ("cloudfl+").
                "user": uid.map(|u| users::user_name(&passwd, u)),
                "uid": uid,
                "name": s.comm,
                "command": command_line(s.pid, &s.comm),
                "state": s.state.to_string(),
                "cpu_percent": cpu,
                "rss_bytes": rss,
                "mem_percent": percent(rss, mem_total),
            })
        })
        .collect();
    Ok(Value::Array(out))
}

pub static FNS: &[HostFn] = &[
    HostFn {
        module: "host",
        name: "disk",
        params: &[Param {
            name: "path",
            ty: ParamType::String,
            optional: false,
            doc: "any path on the filesystem to measure, e.g. \"/\"",
        }],
        effect: Effect::Read,
        doc: "Filesystem usage as df computes it: {path, total, used, available (bytes), \
              used_percent, inodes_total, inodes_used, inodes_used_percent}",
        run: disk,
        plan: None,
        shell: super::shell::host_disk,
    },
    HostFn {
        module: "host",
        name: "memory",
        params: &[],
        effect: Effect::Read,
        doc: "Memory as free reports it: {total, available, used (bytes), used_percent, \
              swap_total, swap_used, swap_percent}",
        run: memory,
        plan: None,
        shell: super::shell::host_memory,
    },
    HostFn {
        module: "host",
        name: "load",
        params: &[],
        effect: Effect::Read,
        doc: "Load averages: {load1, load5, load15, running, processes, cpus, load1_percent}",
        run: load,
        plan: None,
        shell: super::shell::host_load,
    },
    HostFn {
        module: "host",
        name: "cpu",
        params: &[Param {
            name: "sample_ms",
            ty: ParamType::Int,
            optional: true,
            doc: "sampling window (default 1000)",
        }],
        effect: Effect::Read,
        doc:
            "CPU use over a short sample, all CPUs: {used_percent, iowait_percent, cpus, sample_ms}",
        run: cpu,
        plan: None,
        shell: super::shell::host_cpu,
    },
    HostFn {
        module: "host",
        name: "uptime",
        params: &[],
        effect: Effect::Read,
        doc: "{uptime_secs, boot_time}",
        run: uptime,
        plan: None,
        shell: super::shell::host_uptime,
    },
    HostFn {
        module: "host",
        name: "hostname",
        params: &[],
        effect: Effect::Read,
        doc: "{hostname, expected (site host.hostname), matches}",
        run: hostname,
        plan: None,
        shell: super::shell::host_hostname,
    },
    HostFn {
        module: "host",
        name: "cpu_pressure",
        params: &[],
        effect: Effect::Read,
        doc: "{source (psi or loadavg), percent, ...}: share of the last 10 s tasks waited for a CPU (PSI), else load per CPU; no waiting",
        run: cpu_pressure,
        plan: None,
        shell: super::shell::host_cpu_pressure,
    },
    HostFn {
        module: "host",
        name: "virtualization",
        params: &[],
        effect: Effect::Read,
        doc: "{container (\"docker\", \"lxc\", ... or \"\" on bare metal or a VM), in_container}",
        run: virtualization,
        plan: None,
        shell: super::shell::host_virtualization,
    },
    HostFn {
        module: "host",
        name: "top_processes",
        params: &[
            Param {
                name: "by",
                ty: ParamType::String,
                optional: true,
                doc: "\"cpu\" (default, over a 0.5 s sample) or \"mem\" (resident memory)",
            },
            Param {
                name: "limit",
                ty: ParamType::Int,
                optional: true,
                doc: "how many (default 10)",
            },
        ],
        effect: Effect::Read,
        doc: "Busiest processes: [{pid, user (full name), uid, name, command, state, cpu_percent, \
              rss_bytes, mem_percent}]",
        run: top_processes,
        plan: None,
        shell: super::shell::host_top_processes,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    const MEMINFO: &str = "MemTotal:        2014328 kB
MemFree:          112540 kB
MemAvailable:     503580 kB
Buffers:           40212 kB
Cached:           455876 kB
SwapCached:        10240 kB
SwapTotal:       2097148 kB
SwapFree:        1572860 kB
";

    #[test]
    fn meminfo_like_free() {
        let m = parse_meminfo(MEMINFO).unwrap();
        assert_eq!(m["total"], 2014328u64 * 1024);
        assert_eq!(m["available"], 503580u64 * 1024);
        assert_eq!(m["used"], (2014328u64 - 503580) * 1024);
        assert_eq!(m["used_percent"], 75.0);
        assert_eq!(m["swap_used"], (2097148u64 - 1572860) * 1024);
        assert_eq!(m["swap_percent"], 25.0);
    }

    #[test]
    fn meminfo_without_memavailable_or_swap() {
        let m =
            parse_meminfo("MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 50 kB\nCached: 350 kB\n")
                .unwrap();
        assert_eq!(m["available"], 500u64 * 1024);
        assert_eq!(m["used_percent"], 50.0);
        assert_eq!(m["swap_percent"], 0.0);
        assert!(parse_meminfo("nonsense").is_err());
    }

    #[test]
    fn loadavg() {
        let l = parse_loadavg("1.52 0.98 0.61 3/611 12345\n", 2).unwrap();
        assert_eq!(l["load1"], 1.52);
        assert_eq!(l["load15"], 0.61);
        assert_eq!(l["running"], 3);
        assert_eq!(l["processes"], 611);
        assert_eq!(l["load1_percent"], 76.0);
        assert!(parse_loadavg("", 2).is_err());
    }

    /// Numbers from statvfs("/") on an 87 GiB root; `df` printed 74% for them.
    #[test]
    fn statvfs_to_df_percent() {
        let s = Statvfs {
            frsize: 4096,
            blocks: 22_798_390,
            bfree: 6_925_460,
            bavail: 5_753_000,
            files: 11_599_872,
            ffree: 11_000_000,
        };
        let d = disk_usage("/", s);
        assert_eq!(d["total"], 22_798_390u64 * 4096);
        assert_eq!(d["used"], (22_798_390u64 - 6_925_460) * 4096);
        assert_eq!(d["available"], 5_753_000u64 * 4096);
        // 15872930 / (15872930 + 5753000) = 73.4%; df rounds up to 74%.
        assert_eq!(d["used_percent"], 73.4);
        assert_eq!(d["inodes_used"], 599_872);
        assert_eq!(d["inodes_used_percent"], 5.2);
        let empty = disk_usage(
            "/x",
            Statvfs {
                frsize: 4096,
                blocks: 0,
                bfree: 0,
                bavail: 0,
                files: 0,
                ffree: 0,
            },
        );
        assert_eq!(empty["used_percent"], 0.0);
    }

    #[test]
    fn real_statvfs_and_proc_read() {
        let ctx_free = |f: fn(&HostCtx, &Args) -> HostResult, a: Args| {
            let (_rt, ctx) = crate::host::testutil::ctx(crate::site::Site::default());
            f(&ctx, &a)
        };
        let d = ctx_free(disk, crate::host::testutil::args(json!({"path": "/"}))).unwrap();
        assert!(d["total"].as_u64().unwrap() > 0);
        assert!(ctx_free(
            disk,
            crate::host::testutil::args(json!({"path": "/nonexistent"}))
        )
        .is_err());
        assert!(
            ctx_free(memory, Args::new()).unwrap()["total"]
                .as_u64()
                .unwrap()
                > 0
        );
        assert!(ctx_free(uptime, Args::new()).unwrap()["uptime_secs"].is_u64());
        let top = ctx_free(
            top_processes,
            crate::host::testutil::args(json!({"by": "mem", "limit": 3})),
        )
        .unwrap();
        let top = top.as_array().unwrap();
        assert!(!top.is_empty() && top.len() <= 3);
        assert!(
            top[0]["rss_bytes"].as_u64().unwrap()
                >= top.last().unwrap()["rss_bytes"].as_u64().unwrap()
        );
    }

    #[test]
    fn cpu_from_proc_stat() {
        let a = parse_cpu_line("cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3\n").unwrap();
        let b = parse_cpu_line("cpu  160 0 90 880 70 0 0 0 0 0\n").unwrap();
        assert_eq!(a, (150, 1000, 50));
        // 200 jiffies passed: 100 busy, 80 idle, 20 iowait.
        assert_eq!(cpu_between(a, b), (50.0, 10.0));
    }

    #[test]
    fn proc_stat_with_awkward_comm() {
        let line = "4242 (cloudflared (x) 1) S 1 4242 4242 0 -1 4194560 2398 0 0 0 310 95 0 0 20 0 12 0 1234 758525952 6021 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
        let s = parse_proc_stat(line).unwrap();
        assert_eq!(s.pid, 4242);
        assert_eq!(s.comm, "cloudflared (x) 1");
        assert_eq!(s.state, 'S');
        assert_eq!(s.cpu_ticks, 405);
        assert_eq!(s.rss_pages, 6021);
        assert_eq!(
            parse_status_uid("Name:\tcloudflared\nUid:\t998\t998\t998\t998\nGid:\t998\n"),
            Some(998)
        );
    }

    #[test]
    fn container_kind_prefers_what_systemd_recorded() {
        assert_eq!(container_kind(Some("docker\n"), false), "docker");
        assert_eq!(container_kind(Some("lxc"), true), "lxc");
        assert_eq!(container_kind(None, true), "docker");
        assert_eq!(container_kind(Some(""), false), "");
        assert_eq!(container_kind(None, false), "");
    }

    #[test]
    fn cpu_pressure_reads_the_some_line() {
        let text = "some avg10=35.67 avg60=61.55 avg300=54.89 total=1069583526\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n";
        assert_eq!(parse_cpu_pressure(text), Some((35.67, 61.55)));
        assert_eq!(parse_cpu_pressure("full avg10=1.00 avg60=2.00\n"), None);
    }
}
