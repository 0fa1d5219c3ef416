//! runbook: executable, audited operations runbooks for one server.
//!
//! The binary (`src/main.rs`) is a thin shell around [`cli::main`]; everything else is a
//! library so integration tests and benchmarks can reach the same code.
//!
//! Map of the crate: `cli` parses and dispatches; `engine` loads, checks and runs Rhai
//! runbooks; `effect` is the one door every host call passes; `host` holds the backends;
//! `audit` is the hash-chained store; `site` describes the machine.

pub mod approval;
pub mod audit;
pub mod cli;
pub mod effect;
pub mod engine;
pub mod error;
pub mod host;
pub mod identity;
pub mod learn;
pub mod output;
pub mod report;
pub mod site;
pub mod time;
