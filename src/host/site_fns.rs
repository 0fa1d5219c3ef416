//! The site config as seen by runbooks (Rhai module `site`): host facts come from here, never
//! from the runbook text.

use serde_json::{json, Value};

use super::args;
use super::systemd::normalize_unit;
use super::{Args, Effect, HostCtx, HostError, HostFn, HostResult, Param, ParamType};

fn config(ctx: &HostCtx, _a: &Args) -> HostResult {
    serde_json::to_value(&*ctx.site)
        .map_err(|e| HostError::Failed(format!("cannot convert the site config: {e}")))
}

fn unit(ctx: &HostCtx, a: &Args) -> HostResult {
    let name = args::string(a, "name")?;
    let Some((key, p)) = ctx.site.unit(name) else {
        return Err(HostError::Refused(format!(
            "unit {name} is not in the site policy (site file {}: units)",
            ctx.site.origin
        )));
    };
    let mut v = serde_json::to_value(p)
        .map_err(|e| HostError::Failed(format!("cannot convert the policy of {key}: {e}")))?;
    v["name"] = json!(key);
    // The name systemd knows it by, for systemd::* calls.
    v["unit"] = Value::String(normalize_unit(key)?);
    Ok(v)
}

pub static FNS: &[HostFn] = &[
    HostFn {
        module: "site",
        name: "config",
        params: &[],
        effect: Effect::Read,
        doc: "The whole site config as a map: host, units, containers, health, thresholds, paths, files, \
              commands, operators, symptoms, hardening, origin",
        run: config,
        plan: None,
        shell: super::shell::none,
    },
    HostFn {
        module: "site",
        name: "unit",
        params: &[Param {
            name: "name",
            ty: ParamType::String,
            optional: false,
            doc: "unit name, with or without .service",
        }],
        effect: Effect::Read,
        doc: "A unit's policy entry: {name, unit, policy, description, owner, health, approvers}; \
              refused for units the site does not list",
        run: unit,
        plan: None,
        shell: super::shell::none,
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::testutil;
    use crate::site::Site;

    #[test]
    fn unit_policy_and_refusal() {
        let (_rt, ctx) = testutil::ctx(Site::openclaw());
        let u = unit(
            &ctx,
            &testutil::args(json!({"name": "openclaw-gateway.service"})),
        )
        .unwrap();
        assert_eq!(u["name"], "openclaw-gateway");
        assert_eq!(u["unit"], "openclaw-gateway.service");
        assert_eq!(u["policy"], "signal-required");
        assert_eq!(u["approvers"], json!(["miguel"]));
        let err = unit(&ctx, &testutil::args(json!({"name": "postgresql"}))).unwrap_err();
        assert!(matches!(err, HostError::Refused(_)));
        assert_eq!(
            err.to_string(),
            "refused: unit postgresql is not in the site policy (site file built-in site/openclaw.yaml: units)"
        );
    }

    #[test]
    fn config_is_the_whole_site() {
        let (_rt, ctx) = testutil::ctx(Site::openclaw());
        let c = config(&ctx, &Args::new()).unwrap();
        assert_eq!(c["units"]["caddy"]["policy"], "reload-preferred");
        assert_eq!(c["thresholds"]["disk_percent"]["crit"], 95.0);
        assert_eq!(c["health"]["endpoints"][0]["host"], "agent.nheo.ai");
        assert_eq!(c["symptoms"].as_array().unwrap().len(), 12);
        assert_eq!(c["origin"], "built-in site/openclaw.yaml");
        assert_eq!(c["containers"]["aurora-postgres"]["port"], "127.0.0.1:5432");
    }
}
