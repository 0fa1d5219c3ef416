//! The site's policy for units and containers, applied by the door to every mutating systemd
//! and Docker call of every runbook (a shipped one, a new one, one from `--runbooks`), in a
//! dry run as in a real one.
//!
//! | policy | the door |
//! | --- | --- |
//! | not listed in the site | refuses |
//! | `safe` | lets the call through (the runbook may still confirm) |
//! | `reload-preferred` | lets `reload` and `start` through; `restart`, `stop`, `reload_or_restart` and mutating execs need a yes (`confirm`) |
//! | `ask-first` | every mutating call needs the unit (or container) name typed |
//! | `signal-required` | every mutating call needs an approval signed by one of the unit's `approvers` (`run --plan`, see `crate::approval`); a dry run shows it as a gate and goes on, so a plan can be made |
//!
//! The signal is no longer a claim typed by the operator: it is an SSH signature of the plan by
//! the approver's own key, verified against their authorized_keys before the run starts, and
//! recorded as an `approval` event. Gates raised here go through the same machinery as a
//! runbook's own (recorded, refused without a terminal, `--yes` never types a name).

use crate::host::{systemd, Args, HostError, HostFn};
use crate::site::{RestartPolicy, Site};

/// What a call does to its unit or container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Start,
    Stop,
    Restart,
    Reload,
    ReloadOrRestart,
    Exec,
    /// An allowlisted command whose site rule says it acts on the unit or container.
    Command,
}

impl Action {
    fn verb(self) -> &'static str {
        match self {
            Action::Start => "start",
            Action::Stop => "stop",
            Action::Restart => "restart",
            Action::Reload => "reload",
            Action::ReloadOrRestart => "reload or restart",
            Action::Exec => "run a mutating command in",
            Action::Command => "run a command that acts on",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Unit,
    Container,
}

/// Every host function the policy governs. A test checks that each mutating systemd or
/// Docker function is here, so a new one cannot slip past the policy.
const GOVERNED: &[(&str, Target, Action)] = &[
    ("systemd::start", Target::Unit, Action::Start),
    ("systemd::stop", Target::Unit, Action::Stop),
    ("systemd::restart", Target::Unit, Action::Restart),
    ("systemd::reload", Target::Unit, Action::Reload),
    (
        "systemd::reload_or_restart",
        Target::Unit,
        Action::ReloadOrRestart,
    ),
    ("docker::start", Target::Container, Action::Start),
    ("docker::stop", Target::Container, Action::Stop),
    ("docker::restart", Target::Container, Action::Restart),
    ("docker::exec", Target::Container, Action::Exec),
];

/// A gate the door must pass before the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    Confirm { question: String },
    Typed { question: String, expected: String },
}

/// The approvals a run carries, for signal-required units.
#[derive(Debug, Clone, Copy)]
pub struct Approvals<'a> {
    /// Principals whose signature of the run's plan verified (never the requester).
    pub approved: &'a [String],
    pub dry_run: bool,
}

impl Approvals<'_> {
    pub const NONE: Approvals<'static> = Approvals {
        approved: &[],
        dry_run: false,
    };
}

/// What the site's policy asks of one mutating call: nothing, a gate, or a refusal.
pub fn check(
    f: &HostFn,
    args: &Args,
    site: &Site,
    signal: Approvals,
) -> Result<Option<Gate>, HostError> {
    let name = f.qualified_name();
    let Some(&(_, target, action)) = GOVERNED.iter().find(|(n, _, _)| *n == name) else {
        return Ok(None);
    };
    let raw = args
        .get(if target == Target::Unit {
            "unit"
        } else {
            "name"
        })
        .and_then(|v| v.as_str())
        .unwrap_or_default();
    let governed = match target {
        Target::Unit => {
            let unit = systemd::normalize_unit(raw)?;
            governed_unit(site, &unit).ok_or_else(|| {
                HostError::Refused(format!(
                    "unit {unit} is not in the site policy (site file {}: units), so no runbook may {} it",
                    site.origin,
                    action.verb()
                ))
            })?
        }
        Target::Container => governed_container(site, raw).ok_or_else(|| {
            HostError::Refused(format!(
                "container {raw} is not in the site config (site file {}: containers), so no runbook may {} it",
                site.origin,
                action.verb()
            ))
        })?,
    };
    gate_for(governed, action, signal)
}

/// The gates for a mutating command whose site rule names the units or containers it acts on
/// (`affects`): each one's policy applies, as if the call were made on it directly.
pub fn check_affected(
    affects: &[String],
    site: &Site,
    signal: Approvals,
) -> Result<Vec<Gate>, HostError> {
    let mut gates = Vec::new();
    for name in affects {
        // The site refuses to load an `affects` naming neither a unit nor a container.
        let governed = governed_unit(site, name)
            .or_else(|| governed_container(site, name))
            .ok_or_else(|| {
                HostError::Refused(format!(
                    "{name} is neither a unit nor a container of the site (site file {})",
                    site.origin
                ))
            })?;
        gates.extend(gate_for(governed, Action::Command, signal)?);
    }
    Ok(gates)
}

/// A unit or container with the site's policy for it.
struct Governed {
    thing: String,
    policy: RestartPolicy,
    description: String,
    approvers: Vec<String>,
}

fn governed_unit(site: &Site, unit: &str) -> Option<Governed> {
    let (_, p) = site.unit(unit)?;
    Some(Governed {
        thing: unit.to_string(),
        policy: p.policy,
        description: p.description.clone(),
        approvers: p.approvers.clone(),
    })
}

fn governed_container(site: &Site, name: &str) -> Option<Governed> {
    let c = site.containers.get(name)?;
    Some(Governed {
        thing: name.to_string(),
        policy: c.policy,
        description: c.purpose.clone(),
        approvers: Vec::new(),
    })
}

fn gate_for(g: Governed, action: Action, signal: Approvals) -> Result<Option<Gate>, HostError> {
    let Governed {
        thing,
        policy,
        description,
        approvers,
    } = g;
    let verb = action.verb();
    Ok(match policy {
        RestartPolicy::Safe => None,
        RestartPolicy::ReloadPreferred => match action {
            Action::Reload | Action::Start => None,
            _ => Some(Gate::Confirm {
                question: format!(
                    "{thing} is reload-preferred ({description}): {verb} it rather than reload?"
                ),
            }),
        },
        RestartPolicy::AskFirst => Some(Gate::Typed {
            question: format!("{thing} is ask-first ({description}): {verb} it now?"),
            expected: thing,
        }),
        RestartPolicy::SignalRequired => {
            if let Some(who) = signal.approved.iter().find(|p| approvers.contains(p)) {
                // The approval was verified and recorded before the run started.
                let _ = who;
                return Ok(None);
            }
            if signal.dry_run {
                return Ok(Some(Gate::Confirm {
                    question: format!(
                        "{thing} is signal-required ({description}): a real {verb} needs an approved plan{}",
                        named(&approvers)
                    ),
                }));
            }
            return Err(HostError::Refused(format!(
                "{thing} needs an approval before any {verb} (site policy signal-required){}: \
                 make a plan (runbook plan RUNBOOK -p ...), have the approver sign its challenge with \
                 ssh-keygen -Y sign and hand it in (runbook approve PLAN SIG), then runbook run --plan PLAN",
                named(&approvers)
            )));
        }
    })
}

fn named(approvers: &[String]) -> String {
    if approvers.is_empty() {
        String::new()
    } else {
        format!(" (approvers: {})", approvers.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::{registry, Effect};
    use serde_json::json;

    fn ask(
        f: &str,
        args: serde_json::Value,
        approved: Option<&str>,
    ) -> Result<Option<Gate>, HostError> {
        let (m, n) = f.split_once("::").unwrap();
        let f = registry::find(m, n).unwrap();
        let approved: Vec<String> = approved.into_iter().map(String::from).collect();
        let signal = Approvals {
            approved: &approved,
            dry_run: false,
        };
        check(f, args.as_object().unwrap(), &Site::openclaw(), signal)
    }

    #[test]
    fn every_mutating_systemd_and_docker_function_is_governed() {
        for f in registry::all() {
            let mutating = !matches!(f.effect, Effect::Read);
            if mutating && (f.module == "systemd" || f.module == "docker") {
                let name = f.qualified_name();
                assert!(
                    GOVERNED.iter().any(|(n, _, _)| *n == name),
                    "{name} mutates but the site policy does not govern it"
                );
            }
        }
    }

    #[test]
    fn unit_policies() {
        let unit = |u: &str| json!({"unit": u});
        assert_eq!(
            ask("systemd::restart", unit("openclaw-bg-worker"), None).unwrap(),
            None
        );
        let err = ask("systemd::restart", unit("cron"), None).unwrap_err();
        assert!(
            matches!(err, HostError::Refused(_))
                && err.to_string().contains("not in the site policy"),
            "{err}"
        );
        let err = ask("systemd::stop", unit("cron.service"), Some("miguel")).unwrap_err();
        assert!(matches!(err, HostError::Refused(_)), "{err}");
        match ask("systemd::restart", unit("aurora"), None).unwrap() {
            Some(Gate::Typed { expected, .. }) => assert_eq!(expected, "aurora.service"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            ask("systemd::start", unit("aurora"), None).unwrap(),
            Some(Gate::Typed { .. })
        ));
        assert_eq!(ask("systemd::reload", unit("caddy"), None).unwrap(), None);
        assert!(matches!(
            ask("systemd::restart", unit("caddy"), None).unwrap(),
            Some(Gate::Confirm { .. })
        ));
        // signal-required: refused without miguel's approval, through with it.
        for approved in [None, Some("nat"), Some("juanesteban")] {
            let err = ask("systemd::restart", unit("openclaw-gateway"), approved).unwrap_err();
            assert!(err.to_string().contains("needs an approval"), "{err}");
            assert!(err.to_string().contains("approvers: miguel"), "{err}");
        }
        assert_eq!(
            ask(
                "systemd::restart",
                unit("openclaw-gateway.service"),
                Some("miguel")
            )
            .unwrap(),
            None
        );
        // A dry run shows the approval it would need as a gate, so a plan can be made.
        let f = registry::find("systemd", "restart").unwrap();
        let dry = Approvals {
            approved: &[],
            dry_run: true,
        };
        let args = json!({"unit": "openclaw-gateway"});
        assert!(matches!(
            check(f, args.as_object().unwrap(), &Site::openclaw(), dry).unwrap(),
            Some(Gate::Confirm { .. })
        ));
    }

    #[test]
    fn container_policies() {
        let c = |n: &str| json!({"name": n, "argv": ["psql"]});
        assert!(matches!(
            ask("docker::restart", c("aurora-postgres"), None).unwrap(),
            Some(Gate::Typed { .. })
        ));
        assert_eq!(
            ask("docker::restart", c("aurora-pgadmin"), None).unwrap(),
            None
        );
        assert!(matches!(
            ask("docker::exec", c("aurora-postgres"), None).unwrap(),
            Some(Gate::Typed { .. })
        ));
        let err = ask("docker::stop", c("random-box"), None).unwrap_err();
        assert!(matches!(err, HostError::Refused(_)), "{err}");
        // Reads are not governed.
        assert_eq!(
            ask("systemd::status", json!({"unit": "cron"}), None).unwrap(),
            None
        );
    }
}
