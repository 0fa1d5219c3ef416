//! Reachability checks: a TCP connect and a minimal HTTP/1.1 GET.
//!
//! The health endpoints are plain HTTP on loopback (Cloudflare terminates TLS at the edge), so a
//! small client over a tokio `TcpStream` is all triage needs; https is refused with a clear
//! error. A refused connection or a timeout is a *result* (`open: false`, `status: ()` with
//! `error`), not a HostError: triage reports it as a finding rather than failing the step.

use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::args;
use super::{Args, Effect, HostCtx, HostError, HostFn, HostResult, Param, ParamType};

const DEFAULT_TIMEOUT_MS: i64 = 5000;
/// Bytes of body returned to the runbook.
const EXCERPT: usize = 512;
/// Largest response head we read.
const MAX_HEAD: usize = 64 * 1024;

fn valid_host(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 253
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-_:".contains(&b))
}

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

/// Connect to the first address that answers; the error of the last attempt otherwise.
async fn connect(host: &str, port: u16) -> Result<TcpStream, String> {
    let addrs = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| format!("cannot resolve {host}: {e}"))?;
    let mut last = format!("{host} resolved to no address");
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(s) => return Ok(s),
            Err(e) => last = format!("{addr}: {e}"),
        }
    }
    Err(last)
}

fn tcp_check(ctx: &HostCtx, a: &Args) -> HostResult {
    let host = args::string(a, "host")?;
    if !valid_host(host) {
        return Err(HostError::InvalidArgument(format!(
            "`{host}` is not a host name or address"
        )));
    }
    let port = args::int_in(a, "port", 0, 1, 65535)? as u16;
    let timeout =
        Duration::from_millis(args::int_in(a, "timeout_ms", DEFAULT_TIMEOUT_MS, 1, 60_000)? as u64);
    let start = Instant::now();
    // The timer must be created inside the runtime, hence the async block.
    let outcome = ctx.block_on(async { tokio::time::timeout(timeout, connect(host, port)).await });
    let latency = ms(start.elapsed());
    let (open, error) = match outcome {
        Ok(Ok(_stream)) => (true, None),
        Ok(Err(e)) => (false, Some(e)),
        Err(_) => (false, Some(format!("timed out after {} ms", ms(timeout)))),
    };
    Ok(json!({
        "host": host,
        "port": port,
        "open": open,
        "latency_ms": open.then_some(latency),
        "error": error,
    }))
}

/// An http:// URL split into host, port and path (with query).
#[derive(Debug, PartialEq)]
pub struct Url {
    pub host: String,
    pub port: u16,
    pub path: String,
}

pub fn parse_url(url: &str) -> Result<Url, HostError> {
    if url.starts_with("https://") {
        return Err(HostError::InvalidArgument(format!(
            "{url}: https is not supported; health endpoints are plain http on loopback \
             (the tunnel terminates TLS)"
        )));
    }
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        HostError::InvalidArgument(format!("{url}: only http:// URLs are supported"))
    })?;
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) if rest.as_bytes()[i] == b'?' => (&rest[..i], format!("/{}", &rest[i..])),
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, "/".to_string()),
    };
    let bad = || HostError::InvalidArgument(format!("{url}: cannot parse the host and port"));
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or_else(bad)?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| bad())?,
            None if after.is_empty() => 80,
            None => return Err(bad()),
        };
        (h.to_string(), port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p.parse().map_err(|_| bad())?),
            None => (authority.to_string(), 80),
        }
    };
    if !valid_host(&host) || path.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(bad());
    }
    Ok(Url { host, port, path })
}

/// Status code and headers (lower-cased names) of a response head.
pub fn parse_head(head: &str) -> Option<(u16, Map<String, Value>)> {
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let mut parts = status_line.splitn(3, ' ');
    if !parts.next()?.starts_with("HTTP/") {
        return None;
    }
    let status = parts.next()?.parse().ok()?;
    let mut headers = Map::new();
    for l in lines.filter(|l| !l.is_empty()) {
        if let Some((k, v)) = l.split_once(':') {
            headers.insert(
                k.trim().to_ascii_lowercase(),
                Value::String(v.trim().to_string()),
            );
        }
    }
    Some((status, headers))
}

/// Undo chunked transfer encoding for as much of the body as we have.
pub fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = body.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&body[..eol]);
        let size_hex = size_text.split(';').next().unwrap_or("").trim();
        let Ok(size) = usize::from_str_radix(size_hex, 16) else {
            break;
        };
        if size == 0 {
            break;
        }
        let data = &body[eol + 2..];
        let take = size.min(data.len());
        out.extend_from_slice(&data[..take]);
        if take < size || data.len() < size + 2 {
            break;
        }
        body = &data[size + 2..];
    }
    out
}

struct Response {
    status: u16,
    headers: Map<String, Value>,
    excerpt: String,
}

async fn get(url: &Url, host_header: &str) -> Result<(Response, Duration), String> {
    let start = Instant::now();
    let mut stream = connect(&url.host, url.port).await?;
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: runbook\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        url.path
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("sending the request: {e}"))?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let (head_end, latency) = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break (i, start.elapsed());
        }
        if buf.len() > MAX_HEAD {
            return Err(format!("response head larger than {MAX_HEAD} bytes"));
        }
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| format!("reading the response: {e}"))?;
        if n == 0 {
            return Err("connection closed before a complete response head".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let (status, headers) = parse_head(&String::from_utf8_lossy(&buf[..head_end]))
        .ok_or_else(|| "not an HTTP response".to_string())?;
    let chunked = headers
        .get("transfer-encoding")
        .and_then(Value::as_str)
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let mut body = buf.split_off(head_end + 4);
    // Read a little beyond the excerpt (chunk framing takes room); stop at EOF or enough.
    while body.len() < EXCERPT * 2 {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    let mut body = if chunked { dechunk(&body) } else { body };
    body.truncate(EXCERPT);
    let excerpt = String::from_utf8_lossy(&body).into_owned();
    Ok((
        Response {
            status,
            headers,
            excerpt,
        },
        latency,
    ))
}

fn http_get(ctx: &HostCtx, a: &Args) -> HostResult {
    let raw = args::string(a, "url")?;
    let url = parse_url(raw)?;
    let default_host = if url.port == 80 {
        url.host.clone()
    } else {
        format!("{}:{}", url.host, url.port)
    };
    let host_header = args::opt_string(a, "host_header")?
        .map(str::to_string)
        .unwrap_or(default_host);
    if !valid_host(&host_header) {
        return Err(HostError::InvalidArgument(format!(
            "`{host_header}` is not a valid Host header"
        )));
    }
    let timeout =
        Duration::from_millis(
            args::int_in(a, "timeout_ms", DEFAULT_TIMEOUT_MS, 1, 120_000)? as u64,
        );
    let outcome =
        ctx.block_on(async { tokio::time::timeout(timeout, get(&url, &host_header)).await });
    Ok(match outcome {
        Ok(Ok((r, latency))) => json!({
            "url": raw,
            "status": r.status,
            "latency_ms": ms(latency),
            "headers": r.headers,
            "body_excerpt": r.excerpt,
            "error": null,
        }),
        Ok(Err(e)) => {
            json!({"url": raw, "status": null, "latency_ms": null, "headers": {}, "body_excerpt": null, "error": e})
        }
        Err(_) => json!({
            "url": raw, "status": null, "latency_ms": null, "headers": {}, "body_excerpt": null,
            "error": format!("timed out after {} ms", ms(timeout)),
        }),
    })
}

const TIMEOUT_MS: Param = Param {
    name: "timeout_ms",
    ty: ParamType::Int,
    optional: true,
    doc: "give up after this long (default 5000)",
};

pub static FNS: &[HostFn] = &[
    HostFn {
        module: "net",
        name: "tcp_check",
        params: &[
            Param { name: "host", ty: ParamType::String, optional: false, doc: "name or address" },
            Param { name: "port", ty: ParamType::Int, optional: false, doc: "TCP port" },
            TIMEOUT_MS,
        ],
        effect: Effect::Read,
        doc: "Can a TCP connection be opened? {host, port, open, latency_ms, error}",
        run: tcp_check,
        plan: None,
        shell: super::shell::net_tcp_check,
    },
    HostFn {
        module: "net",
        name: "http_get",
        params: &[
            Param { name: "url", ty: ParamType::String, optional: false, doc: "http:// URL (https is refused)" },
            Param {
                name: "host_header",
                ty: ParamType::String,
                optional: true,
                doc: "Host header to send, e.g. \"agent.nheo.ai\" (default: the URL's host)",
            },
            TIMEOUT_MS,
        ],
        effect: Effect::Read,
        doc: "HTTP GET: {url, status, latency_ms (to the response head), headers, body_excerpt (512 bytes), error}; \
              a refused connection or timeout gives status () and error",
        run: http_get,
        plan: None,
        shell: super::shell::net_http_get,
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::testutil;
    use crate::site::Site;

    #[test]
    fn urls() {
        assert_eq!(
            parse_url("http://127.0.0.1:18789/healthz").unwrap(),
            Url {
                host: "127.0.0.1".into(),
                port: 18789,
                path: "/healthz".into()
            }
        );
        assert_eq!(parse_url("http://localhost").unwrap().path, "/");
        assert_eq!(parse_url("http://localhost?x=1").unwrap().path, "/?x=1");
        assert_eq!(parse_url("http://[::1]:3000/a").unwrap().host, "::1");
        let e = parse_url("https://aurora.nheo.ai/")
            .unwrap_err()
            .to_string();
        assert!(e.contains("https is not supported"), "{e}");
        assert!(parse_url("ftp://x/").is_err());
        assert!(parse_url("http://a b/").is_err());
        assert!(parse_url("http://h/x y").is_err());
    }

    #[test]
    fn heads_and_chunks() {
        let (s, h) =
            parse_head("HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nX-A: b").unwrap();
        assert_eq!(s, 502);
        assert_eq!(h["content-type"], "text/plain");
        assert!(parse_head("SSH-2.0-OpenSSH_9.6").is_none());
        assert_eq!(
            dechunk(b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n"),
            b"hello world"
        );
        assert_eq!(dechunk(b"a\r\nhel"), b"hel");
    }

    /// A one-shot HTTP server on loopback; returns its port and the request it received.
    fn serve_once(
        rt: &tokio::runtime::Runtime,
        response: &'static str,
    ) -> (u16, tokio::task::JoinHandle<String>) {
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = rt.spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            let n = s.read(&mut buf).await.unwrap();
            s.write_all(response.as_bytes()).await.unwrap();
            String::from_utf8_lossy(&buf[..n]).into_owned()
        });
        (port, task)
    }

    #[test]
    fn http_get_against_a_local_server() {
        let (rt, ctx) = testutil::ctx(Site::default());
        let (port, task) = serve_once(
            &rt,
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
        );
        let url = format!("http://127.0.0.1:{port}/healthz");
        let r = http_get(
            &ctx,
            &testutil::args(json!({"url": url, "host_header": "agent.nheo.ai"})),
        )
        .unwrap();
        assert_eq!(r["status"], 200, "{r}");
        assert_eq!(r["body_excerpt"], "ok");
        assert_eq!(r["error"], Value::Null);
        let request = rt.block_on(task).unwrap();
        assert!(
            request.starts_with("GET /healthz HTTP/1.1\r\n"),
            "{request}"
        );
        assert!(request.contains("\r\nHost: agent.nheo.ai\r\n"), "{request}");

        let (port, _task) = serve_once(
            &rt,
            "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 3\r\n\r\nbad",
        );
        let r = http_get(
            &ctx,
            &testutil::args(json!({"url": format!("http://127.0.0.1:{port}/")})),
        )
        .unwrap();
        assert_eq!(r["status"], 502);
        assert_eq!(r["body_excerpt"], "bad");
    }

    #[test]
    fn refused_and_silent_ports_are_results_not_errors() {
        let (rt, ctx) = testutil::ctx(Site::default());
        // A port nobody listens on: bind, note the port, close.
        let port = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let r = tcp_check(
            &ctx,
            &testutil::args(json!({"host": "127.0.0.1", "port": port})),
        )
        .unwrap();
        assert_eq!(r["open"], false);
        assert!(r["error"].as_str().unwrap().contains("refused"), "{r}");
        let r = http_get(
            &ctx,
            &testutil::args(json!({"url": format!("http://127.0.0.1:{port}/")})),
        )
        .unwrap();
        assert_eq!(r["status"], Value::Null);
        assert!(r["error"].as_str().unwrap().contains("refused"), "{r}");

        // A server that accepts but never answers: the GET times out.
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let r = tcp_check(
            &ctx,
            &testutil::args(json!({"host": "127.0.0.1", "port": port})),
        )
        .unwrap();
        assert_eq!(r["open"], true);
        assert!(r["latency_ms"].is_u64());
        let r = http_get(
            &ctx,
            &testutil::args(json!({"url": format!("http://127.0.0.1:{port}/"), "timeout_ms": 300})),
        )
        .unwrap();
        assert_eq!(r["error"], "timed out after 300 ms");
        drop(listener);
    }
}
