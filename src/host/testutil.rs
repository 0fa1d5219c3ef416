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
