//! Read or mutate: the effect of one concrete host call, decided from the host function's
//! declaration and, for `cmd::run` and `docker::exec`, the site rule the call fits. Nothing
//! the calling runbook passes can change the answer.
//!
//! Every call the door performs, plans or prefetches is classified here first; a call no site
//! rule fits is refused here, before anything runs or is planned.

use crate::host::{Args, Effect, HostCtx, HostError, HostFn};

/// The effect of one call and, when a site rule decided it, that rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Class {
    pub mutates: bool,
    /// e.g. `commands.allow[9] (read): /usr/sbin/sysctl -n <...> -- read one kernel setting`.
    pub rule: Option<String>,
    /// Units or containers the site rule says the call acts on.
    pub affects: Vec<String>,
}

pub fn classify(f: &HostFn, host: &HostCtx, args: &Args) -> Result<Class, HostError> {
    match f.effect {
        Effect::Read => Ok(Class {
            mutates: false,
            rule: None,
            affects: Vec::new(),
        }),
        Effect::Mutate => Ok(Class {
            mutates: true,
            rule: None,
            affects: Vec::new(),
        }),
        Effect::BySite(rule_for) => {
            let rule = rule_for(host, args)?;
            Ok(Class {
                mutates: rule.mutates,
                rule: Some(rule.label),
                affects: rule.affects,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::{registry, testutil};
    use serde_json::json;

    fn site(allow: &str) -> (tokio::runtime::Runtime, HostCtx) {
        testutil::ctx(testutil::site(&format!("commands:\n  allow:\n{allow}")))
    }

    fn cmd(
        host: &HostCtx,
        argv: serde_json::Value,
        opts: serde_json::Value,
    ) -> Result<Class, HostError> {
        let f = registry::find("cmd", "run").unwrap();
        classify(
            f,
            host,
            &testutil::args(json!({"argv": argv, "opts": opts})),
        )
    }

    #[test]
    fn the_site_rule_decides_and_the_caller_cannot() {
        let (_rt, host) = site(
            "    - {program: /usr/bin/echo, args_prefix: [read], effect: read}\n    - {program: /usr/bin/echo, args_prefix: [write]}\n",
        );
        let read = cmd(&host, json!(["/usr/bin/echo", "read"]), json!({})).unwrap();
        assert!(!read.mutates);
        assert!(read
            .rule
            .unwrap()
            .starts_with("commands.allow[0] (read): /usr/bin/echo read"));
        let write = cmd(&host, json!(["/usr/bin/echo", "write"]), json!({})).unwrap();
        assert!(write.mutates, "no effect means mutate");
        assert!(write
            .rule
            .unwrap()
            .starts_with("commands.allow[1] (mutate)"));
        let err = cmd(
            &host,
            json!(["/usr/bin/echo", "write"]),
            json!({"readonly": true}),
        )
        .unwrap_err();
        assert!(matches!(err, HostError::InvalidArgument(_)), "{err:?}");
        assert!(err.to_string().contains("effect: read"), "{err}");
        let err = cmd(&host, json!(["/usr/bin/echo", "other"]), json!({})).unwrap_err();
        assert!(matches!(err, HostError::Refused(_)), "{err:?}");
    }

    #[test]
    fn required_environment_makes_a_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("job.sh"), "echo $DRY\n").unwrap();
        let d = dir.path().display();
        let (_rt, host) = site(&format!(
            "    - {{program: /usr/bin/bash, script_dir: {d}, effect: read, require_env: {{DRY: \"true\"}}}}\n    - {{program: /usr/bin/bash, script_dir: {d}, env: {{DRY: \"true|false\"}}}}\n"
        ));
        let argv = json!(["/usr/bin/bash", format!("{d}/job.sh")]);
        let dry = cmd(&host, argv.clone(), json!({"env": {"DRY": "true"}})).unwrap();
        assert!(!dry.mutates);
        let live = cmd(&host, argv.clone(), json!({"env": {"DRY": "false"}})).unwrap();
        assert!(live.mutates);
        let unset = cmd(&host, argv, json!({})).unwrap();
        assert!(unset.mutates, "without the switch the script runs live");
    }

    #[test]
    fn declared_effects_stay_as_declared() {
        let (_rt, host) = site("    []\n");
        let f = registry::find("systemd", "restart").unwrap();
        assert!(
            classify(f, &host, &testutil::args(json!({"unit": "x"})))
                .unwrap()
                .mutates
        );
        let f = registry::find("systemd", "status").unwrap();
        assert!(
            !classify(f, &host, &testutil::args(json!({"unit": "x"})))
                .unwrap()
                .mutates
        );
    }
}
