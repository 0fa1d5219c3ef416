//! Headless Chromium (Debian's `chromium` package) for tests of what a person sees: load a
//! file, let its script run, read the resulting DOM, the page's own network requests and a
//! screenshot. Every request of the browser goes to a dead proxy on loopback, so nothing
//! leaves the machine whatever a page tries.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn chromium() -> Option<PathBuf> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// Whether the browser tests can run; on CI they must.
pub fn available() -> bool {
    if chromium().is_some() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "chromium is required on CI (scripts/test installs it)"
    );
    eprintln!("skipped: no chromium here (apt-get install chromium)");
    false
}

pub struct Loaded {
    /// The DOM after the page's scripts ran.
    pub dom: String,
    /// URLs the page itself asked for (not the browser's own background requests), other
    /// than file: and data: URLs.
    pub requests: Vec<String>,
}

fn base_args(profile: &Path) -> Vec<String> {
    [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--proxy-server=http://127.0.0.1:9",
        "--proxy-bypass-list=<-loopback>",
        "--virtual-time-budget=10000",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([format!("--user-data-dir={}", profile.display())])
    .collect()
}

/// Load `file` and return its DOM and the requests it made.
pub fn load(file: &Path, scratch: &Path) -> Loaded {
    load_url(&format!("file://{}", file.display()), scratch)
}

/// Load `url` (a file: URL, perhaps with a fragment) and return its DOM and requests.
pub fn load_url(url: &str, scratch: &Path) -> Loaded {
    let profile = scratch.join(format!("profile-{}", std::process::id()));
    let netlog = scratch.join("netlog.json");
    let out = Command::new(chromium().expect("chromium"))
        .args(base_args(&profile))
        .arg(format!("--log-net-log={}", netlog.display()))
        .arg("--dump-dom")
        .arg(url)
        .output()
        .expect("chromium runs");
    let _ = std::fs::remove_dir_all(&profile);
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        dom.contains("<html"),
        "chromium printed no DOM: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Loaded {
        dom,
        requests: page_requests(&netlog),
    }
}

/// How a page opened: time from asking for it to its load event (its inline scripts done),
/// as the page's parent measured it, and the badge's verdict and own check time then.
pub struct Opened {
    pub ms: f64,
    pub verified: Option<String>,
    pub verify_ms: Option<String>,
}

/// Open `file` in a frame of a harness page and time it until its load event: what a reader
/// waits for, without the browser's start and without printing the page's DOM back out
/// (`--dump-dom` of a 50 MB page takes far longer than opening it). The harness reads the
/// frame's badge, which needs file pages to reach each other.
pub fn open_timed(file: &Path, scratch: &Path) -> Opened {
    let url = serde_json::to_string(&format!("file://{}", file.display())).unwrap();
    let harness = scratch.join("open-timed.html");
    std::fs::write(
        &harness,
        format!(
            "<!doctype html><html><body><pre id=\"out\"></pre><script>\
             var f = document.createElement('iframe'); var t0 = performance.now();\
             f.onload = function () {{\
               var ms = performance.now() - t0; var b = f.contentDocument.getElementById('badge');\
               document.getElementById('out').textContent = JSON.stringify({{ms: ms,\
                 verified: b && b.getAttribute('data-verified'),\
                 verify_ms: b && b.getAttribute('data-verify-ms')}});\
             }};\
             f.src = {url}; document.body.appendChild(f);</script></body></html>"
        ),
    )
    .unwrap();
    let profile = scratch.join(format!("timed-{}", std::process::id()));
    let out = Command::new(chromium().expect("chromium"))
        .args(
            base_args(&profile)
                .into_iter()
                .filter(|a| !a.starts_with("--virtual-time-budget")),
        )
        .arg("--allow-file-access-from-files")
        .arg("--dump-dom")
        .arg(format!("file://{}", harness.display()))
        .output()
        .expect("chromium runs");
    let _ = std::fs::remove_dir_all(&profile);
    let dom = String::from_utf8_lossy(&out.stdout);
    let json = dom
        .split("<pre id=\"out\">")
        .nth(1)
        .and_then(|s| s.split("</pre>").next())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| panic!("the harness did not finish: {dom}"));
    let v: serde_json::Value = serde_json::from_str(json).expect("the harness wrote JSON");
    Opened {
        ms: v["ms"].as_f64().expect("a time"),
        verified: v["verified"].as_str().map(str::to_string),
        verify_ms: v["verify_ms"].as_str().map(str::to_string),
    }
}

/// Save a screenshot of `file`.
pub fn screenshot(file: &Path, png: &Path, scratch: &Path) {
    let profile = scratch.join(format!("shot-{}", std::process::id()));
    let status = Command::new(chromium().expect("chromium"))
        .args(base_args(&profile))
        .arg("--window-size=1280,1800")
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", file.display()))
        .output()
        .expect("chromium runs");
    let _ = std::fs::remove_dir_all(&profile);
    assert!(
        png.exists(),
        "no screenshot: {}",
        String::from_utf8_lossy(&status.stderr)
    );
}

/// The network log's requests started on behalf of a page: the browser's own (updates,
/// sign-in) carry the initiator "not an origin"; a page's carry its origin ("null" for files).
fn page_requests(netlog: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(netlog).unwrap_or_default();
    // Chromium may leave the log's last line open when it exits.
    let log: serde_json::Value = serde_json::from_str(&text)
        .or_else(|_| serde_json::from_str(&format!("{}]}}", text.trim_end().trim_end_matches(','))))
        .expect("the net log is JSON");
    let start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"].clone();
    log["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["type"] == start_job)
        .filter(|e| e["params"]["initiator"] != "not an origin")
        .filter_map(|e| e["params"]["url"].as_str().map(str::to_string))
        .filter(|u| !u.starts_with("file:") && !u.starts_with("data:"))
        .collect()
}
