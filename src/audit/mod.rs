//! The audit store: the product's memory of every run.

pub mod chain;
pub mod clock;
mod path;
pub mod process;
pub mod redact;

pub use path::default_path;
pub use process::{hostname, operator_identity};
pub use redact::Redactor;
