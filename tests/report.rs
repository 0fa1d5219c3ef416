//! `runbook report`: the incident report of real runs made through the real binary, checked
//! in a real browser (headless Chromium) with every page request caught.

mod common;

use std::path::{Path, PathBuf};

use common::{browser, Sandbox};

/// Three real runs: a gate approved with --yes, a write (a diff) and a typed gate refused;
/// a failing step; a crit finding.
fn record_runs(sb: &Sandbox) {
    let site = sb.site(&[]);
    let path = sb.path().join("files").join("motd.txt");
    sb.with_site(&site)
        .args(["run", "gated-write", "--yes", "-p"])
        .arg_path("path=", &path)
        .run()
        .code(3);
    sb.cmd()
        .fixtures()
        .args(["run", "failing-step"])
        .run()
        .code(1);
    sb.cmd()
        .fixtures()
        .args(["run", "crit-finding"])
        .run()
        .code(5);
}

fn report(sb: &Sandbox, args: &[&str], file: &str) -> PathBuf {
    let out = sb.path().join(file);
    let mut full = vec!["report"];
    full.extend_from_slice(args);
    sb.cmd()
        .args(&full)
        .args(["-o".as_ref(), out.as_os_str()])
        .run()
        .code(0);
    out
}

fn badge_of(dom: &str) -> &str {
    let at = dom.find("id=\"badge\"").expect("a badge");
    let start = dom[..at].rfind('<').unwrap();
    &dom[start..start + dom[start..].find("</div>").unwrap()]
}

fn screenshots_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/report-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_report_of_real_runs_opens_offline_shows_everything_and_verifies() {
    if !browser::available() {
        return;
    }
    let sb = Sandbox::new();
    record_runs(&sb);
    let html = report(&sb, &["--since", "1 hour ago"], "window.html");
    let text = std::fs::read_to_string(&html).unwrap();
    assert!(text.contains("Content-Security-Policy"), "no CSP");
    for forbidden in ["http://", "https://", "src=\"//", "<link", "@import"] {
        assert!(!text.contains(forbidden), "the file refers to {forbidden}");
    }
    // The kind filters: each kind once, sorted (the store no longer sorts them).
    let kinds: Vec<&str> = text
        .split("data-kind-filter=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .collect();
    let mut sorted = kinds.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert!(kinds.len() > 3, "too few kind filters: {kinds:?}");
    assert_eq!(kinds, sorted, "kind filters not sorted and distinct");

    let page = browser::load(&html, sb.path());
    assert!(
        page.requests.is_empty(),
        "the page fetched: {:?}",
        page.requests
    );
    let badge = badge_of(&page.dom);
    assert!(
        badge.contains("badge good") && badge.contains("data-verified=\"true\""),
        "{badge}"
    );
    let dom = &page.dom;
    // The steps, the gate and who answered, the diff, the failure, the findings.
    for shown in [
        "gated-write",
        "failing-step",
        "crit-finding",
        "Write",
        "Typed gate",
        "via --yes",
        "no terminal",
        "+first",
        "disk check failed",
        "97% used",
        "inactive (dead), expected active",
        "exit 5",
    ] {
        assert!(dom.contains(shown), "the page does not show {shown:?}");
    }
    let png = screenshots_dir().join("report-window.png");
    browser::screenshot(&html, &png, sb.path());
    eprintln!("screenshot: {}", png.display());
}

#[test]
fn the_request_detector_sees_a_page_that_fetches() {
    // The check above means something only if a fetching page is caught.
    if !browser::available() {
        return;
    }
    let sb = Sandbox::new();
    let leak = sb.path().join("leak.html");
    std::fs::write(
        &leak,
        "<html><body><img src=\"http://127.0.0.1:9/x.png\"><script>fetch('http://127.0.0.1:9/y')</script></body></html>",
    )
    .unwrap();
    let page = browser::load(&leak, sb.path());
    assert_eq!(page.requests.len(), 2, "{:?}", page.requests);
}

/// A harness page that loads each variant of a report in an iframe and writes down the
/// verdict of its badge: one browser start for all of them.
fn verdicts(sb: &Sandbox, variants: &[String]) -> Vec<String> {
    let docs: Vec<String> = variants.to_vec();
    let json = serde_json::to_string(&docs)
        .unwrap()
        .replace('<', "\\u003c");
    let harness = format!(
        "<!doctype html><html><body><pre id=\"out\"></pre><script>\
         var docs = {json}; var out = []; var left = docs.length;\
         docs.forEach(function (d, i) {{\
           var f = document.createElement('iframe'); f.srcdoc = d;\
           f.onload = function () {{\
             var b = f.contentDocument.getElementById('badge');\
             out[i] = b ? b.className + ' | ' + b.querySelector('.verdict').textContent : 'no badge';\
             if (--left === 0) document.getElementById('out').textContent = out.join('\\n');\
           }};\
           document.body.appendChild(f);\
         }});</script></body></html>"
    );
    let path = sb.path().join("harness.html");
    std::fs::write(&path, harness).unwrap();
    let page = browser::load(&path, sb.path());
    let start = page.dom.find("<pre id=\"out\">").expect("results") + "<pre id=\"out\">".len();
    let end = start + page.dom[start..].find("</pre>").unwrap();
    let results: Vec<String> = page.dom[start..end]
        .lines()
        .map(|l| {
            l.replace("&amp;", "&")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
        })
        .collect();
    assert_eq!(results.len(), variants.len(), "{}", &page.dom[start..end]);
    results
}

/// A small deterministic generator: the same edits on every run, so a failure reproduces.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n
    }
}

#[test]
fn any_single_byte_edit_of_the_embedded_events_turns_the_badge_red() {
    if !browser::available() {
        return;
    }
    let sb = Sandbox::new();
    record_runs(&sb);
    let html = report(&sb, &["--since", "1 hour ago"], "r.html");
    let text = std::fs::read_to_string(&html).unwrap();
    let open = "<script type=\"application/json\" id=\"events\">";
    let start = text.find(open).unwrap() + open.len();
    let end = start + text[start..].find("</script>").unwrap();
    let mut rng = Lcg(0x5eed);
    let printable: Vec<u8> = (b' '..=b'~').collect();
    let mut variants = vec![text.clone()];
    let mut edits = Vec::new();
    for _ in 0..100 {
        let mut bytes = text.clone().into_bytes();
        let at = start + rng.next(end - start);
        let mut b = printable[rng.next(printable.len())];
        if b == bytes[at] || b == b'<' {
            b = if bytes[at] == b'x' { b'y' } else { b'x' };
        }
        edits.push((at - start, bytes[at] as char, b as char));
        bytes[at] = b;
        variants.push(String::from_utf8_lossy(&bytes).into_owned());
    }
    // In batches: a hundred reports in one page at once, on a loaded machine, sometimes did
    // not all finish loading before the browser printed the page.
    let results: Vec<String> = variants
        .chunks(20)
        .flat_map(|batch| verdicts(&sb, batch))
        .collect();
    assert!(
        results[0].starts_with("badge good"),
        "the unedited copy: {}",
        results[0]
    );
    for (i, r) in results.iter().enumerate().skip(1) {
        assert!(
            r.starts_with("badge bad"),
            "edit {:?} at byte {} of the events left the badge: {r}",
            edits[i - 1],
            edits[i - 1].0
        );
    }
}

#[test]
fn an_edit_of_the_rendered_text_turns_the_badge_red_and_names_the_event() {
    if !browser::available() {
        return;
    }
    let sb = Sandbox::new();
    record_runs(&sb);
    let html = report(&sb, &["last"], "r.html");
    let text = std::fs::read_to_string(&html).unwrap();
    // The crit finding's row in the timeline: change what it says.
    let edited = text.replacen(
        "crit caddy.service — inactive",
        "ok caddy.service — inactive",
        1,
    );
    assert_ne!(edited, text, "the finding's row was not found");
    let results = verdicts(&sb, &[text, edited]);
    assert!(results[0].starts_with("badge good"), "{}", results[0]);
    assert!(
        results[1].starts_with("badge bad") && results[1].contains("rendered text of event"),
        "{}",
        results[1]
    );
}

#[test]
fn a_long_timeline_shows_its_first_page_as_html_and_pages_the_rest_from_checked_data() {
    if !browser::available() {
        return;
    }
    let sb = Sandbox::new();
    sb.cmd()
        .fixtures()
        .args(["run", "many-events", "-p", "n=700"])
        .run()
        .code(0);
    let html = report(&sb, &["last"], "long.html");
    let text = std::fs::read_to_string(&html).unwrap();
    // The first page is plain HTML, for a viewer without script; the rest is data.
    assert_eq!(text.matches("<tr class=\"kind-").count(), 200);
    // run-start and step-start, then the prints of events 0-197.
    assert!(text.contains("<code>event 197</code>"));
    assert!(!text.contains("<code>event 198</code>"));
    let run = text
        .split("<table class=\"timeline\" data-run=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_string();

    // Page 3 of 4 (rows 401-600: the prints of events 398-597), asked for in the address.
    let url = format!("file://{}#run-{run}-page-3", html.display());
    let page = browser::load_url(&url, sb.path());
    assert!(page.requests.is_empty(), "{:?}", page.requests);
    let badge = badge_of(&page.dom);
    assert!(badge.contains("badge good"), "{badge}");
    assert!(page.dom.contains("data-page=\"3\""), "not on page 3");
    assert!(page.dom.contains("page 3 of 4 (events 401–600)"));
    for shown in ["<code>event 398</code>", "<code>event 597</code>"] {
        assert!(page.dom.contains(shown), "page 3 does not show {shown}");
    }
    // Built rows read like the plain HTML ones: the step links to its line of the source.
    assert!(
        page.dom.contains(&format!("<td class=\"step\"><a href=\"#src-{run}-5\">Print</a></td><td class=\"kind\">print</td><td class=\"what\"><code>event 398</code>")),
        "page 3's row of event 398 is not built like the first page's rows"
    );
    assert!(!page.dom.contains("<code>event 598</code>"));

    // The rows past the first page are not in the file: the page builds them from the
    // embedded events, the only place their text is. An edit of that text (the print of
    // event 450, seq 453) is an edit of the event: red, naming it.
    assert!(!text.contains("<code>event 398</code>"));
    let edited = text.replacen("event 450\\\"", "event 451\\\"", 1);
    assert_ne!(edited, text, "the event's text was not found");
    let results = verdicts(&sb, &[text, edited]);
    assert!(results[0].starts_with("badge good"), "{}", results[0]);
    assert!(
        results[1].starts_with("badge bad") && results[1].contains("seq 453) does not hash"),
        "{}",
        results[1]
    );
}

#[test]
fn a_planted_secret_appears_nowhere_in_the_report() {
    let sb = Sandbox::new();
    let secret = "s3cr3t-planted-value";
    sb.cmd()
        .fixtures()
        .args(["run", "secret-param", "-p", &format!("token={secret}")])
        .run()
        .code(0);
    let html = report(&sb, &["last"], "r.html");
    let md = sb.cmd().args(["report", "last"]).run().code(0).stdout;
    let json = sb
        .cmd()
        .args(["report", "last", "--format", "json"])
        .run()
        .code(0)
        .stdout;
    let html = std::fs::read_to_string(html).unwrap();
    for (what, doc) in [("html", &html), ("markdown", &md), ("json", &json)] {
        assert!(!doc.contains(secret), "the secret is in the {what} report");
        assert!(
            !doc.contains("s3cr3t"),
            "part of the secret is in the {what} report"
        );
    }
    assert!(md.contains("[REDACTED]"), "{md}");
}

#[test]
fn a_window_report_shows_every_operator_in_time_order() {
    let sb = Sandbox::new();
    // The database must be writable by the unprivileged operator too.
    let shared = sb.path().join("shared");
    std::fs::create_dir_all(&shared).unwrap();
    let db = shared.join("audit.db");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(sb.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
    let as_root = |name: &str| {
        sb.cmd()
            .fixtures()
            .env("RUNBOOK_AUDIT_DB", &db)
            .args(["run", name])
            .run();
    };
    as_root("findings-demo");
    // The store is created 0600 for its owner: hand it to the second operator (root writes
    // to it either way).
    for entry in std::fs::read_dir(&shared).unwrap() {
        let path = entry.unwrap().path();
        std::os::unix::fs::chown(&path, Some(65534), Some(65534)).unwrap();
    }
    std::thread::sleep(std::time::Duration::from_millis(1100));
    // A second operator: nobody, through setpriv (real uid and gid changes).
    let nobody = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_runbook"))
        .args(["--runbooks", common::FIXTURES, "run", "crit-finding"])
        .env("RUNBOOK_AUDIT_DB", &db)
        .env("NO_COLOR", "1")
        .env("HOME", "/nonexistent")
        .output();
    match nobody {
        Ok(out) if out.status.code() == Some(5) => {}
        Ok(out) => panic!(
            "nobody's run: {:?} {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => {
            eprintln!("skipped: setpriv not available ({e})");
            return;
        }
    }
    std::thread::sleep(std::time::Duration::from_millis(1100));
    as_root("failing-step");
    let md = sb
        .cmd()
        .env("RUNBOOK_AUDIT_DB", &db)
        .args(["report", "--since", "1h"])
        .run()
        .code(0)
        .stdout;
    let rows: Vec<&str> = md.lines().filter(|l| l.starts_with("| 20")).collect();
    assert_eq!(rows.len(), 3, "{md}");
    assert!(
        rows[0].contains("root") && rows[0].contains("findings-demo"),
        "{}",
        rows[0]
    );
    assert!(
        rows[1].contains("nobody") && rows[1].contains("crit-finding"),
        "{}",
        rows[1]
    );
    assert!(
        rows[2].contains("root") && rows[2].contains("failing-step"),
        "{}",
        rows[2]
    );
}

#[test]
fn bad_input_writes_nothing() {
    let sb = Sandbox::new();
    record_runs(&sb);
    let out = sb.path().join("x.html");
    sb.cmd()
        .args(["report", "--since", "garbage", "-o"])
        .arg_path("", &out)
        .run()
        .code(2);
    sb.cmd()
        .args(["report", "nosuchrun", "-o"])
        .arg_path("", &out)
        .run()
        .code(2);
    sb.cmd()
        .args(["report", "--since", "+1h", "-o"])
        .arg_path("", &out)
        .run()
        .code(2);
    assert!(!out.exists());
}
