//! Helpers shared by the backends' unit tests.

use std::sync::Arc;

use serde_json::Value;

use super::{Args, HostCtx};
use crate::site::Site;

/// A context over `site` with its own multi-thread runtime. The test thread is outside the
/// runtime, as the engine thread is, so backends may `block_on`.
pub fn ctx(site: Site) -> (tokio::runtime::Runtime, HostCtx) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let ctx = HostCtx::new(rt.handle().clone(), Arc::new(site));
    (rt, ctx)
}

/// A site parsed from YAML (panics on error: tests write valid sites).
pub fn site(yaml: &str) -> Site {
    Site::from_str(yaml, "test-site.yaml").unwrap()
}

/// `json!({...})` as call arguments.
pub fn args(v: Value) -> Args {
    v.as_object().expect("arguments are a JSON object").clone()
}

/// A context whose site has one backup set `db` in `dir` (dumps `db_TIME.dump`, daily, kept
/// `keep_within` and at least `keep_min`), with `/usr/bin/true` as its pg_restore.
pub fn backup_ctx(
    dir: &std::path::Path,
    keep_within: &str,
    keep_min: u32,
) -> (tokio::runtime::Runtime, HostCtx) {
    let d = dir.display();
    ctx(site(&format!(
        "containers: {{pg: {{purpose: db}}}}\n\
         backups:\n  pg_restore: /usr/bin/true\n  sets:\n    db:\n      dir: {d}\n      prefix: db_\n      suffix: .dump\n      \
         every: 1d\n      keep_within: {keep_within}\n      keep_min: {keep_min}\n      postgres: {{container: pg, database: db, user: postgres}}\n"
    )))
}
