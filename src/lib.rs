//! runbook: executable, audited operations runbooks for one server.
//!
//! The binary (`src/main.rs`) is a thin shell around [`cli::main`]; everything else is a
//! library so integration tests and benchmarks can reach the same code.

pub mod audit;
pub mod error;
pub mod host;
pub mod site;
