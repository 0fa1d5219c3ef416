//! The table of every host function. `runbook api` and the Rhai registration both read it.

use super::HostFn;

/// Every host function, grouped by module. Backends add their entries here.
pub static ALL: &[HostFn] = &[];
