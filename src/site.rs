//! Site config: the facts of one machine (units and their restart policy, containers, health
//! endpoints, paths, thresholds, allowlisted programs, operators). Runbooks never hard-code them.

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
pub struct Site {}
