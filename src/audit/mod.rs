//! The audit store: the product's memory of every run.

pub mod chain;
pub mod redact;

pub use redact::Redactor;
