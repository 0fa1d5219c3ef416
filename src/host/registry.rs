//! The table of every host function. `runbook api` and the Rhai registration both read it.

use super::HostFn;

/// Each backend's table, in the order `runbook api` lists modules.
const TABLES: &[&[HostFn]] = &[
    super::site_fns::FNS,
    super::systemd::FNS,
    super::journal::FNS,
    super::docker::FNS,
    super::metrics::FNS,
    super::net::FNS,
    super::files::FNS,
    super::users::FNS,
    super::commands::FNS,
    super::fail2ban::FNS,
    super::backup::FNS,
    super::drill::FNS,
];

/// Every host function, grouped by module.
pub fn all() -> Vec<&'static HostFn> {
    TABLES.iter().flat_map(|t| t.iter()).collect()
}

/// One host function by module and name (`find("systemd", "restart")`).
pub fn find(module: &str, name: &str) -> Option<&'static HostFn> {
    TABLES
        .iter()
        .flat_map(|t| t.iter())
        .find(|f| f.module == module && f.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::Effect;
    use std::collections::HashSet;

    /// The declarations are the API contract; check their shape once for all backends.
    #[test]
    fn declarations_are_consistent() {
        let mut seen = HashSet::new();
        let modules = [
            "site", "systemd", "journal", "docker", "host", "net", "files", "users", "cmd",
            "fail2ban", "backup", "drill",
        ];
        for f in all() {
            assert!(
                seen.insert(f.qualified_name()),
                "duplicate {}",
                f.qualified_name()
            );
            assert!(modules.contains(&f.module), "unknown module {}", f.module);
            assert!(
                f.name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{} is not snake_case",
                f.name
            );
            assert!(!f.doc.is_empty(), "{} has no doc", f.qualified_name());
            let mut optional_seen = false;
            for p in f.params {
                assert!(
                    !p.doc.is_empty(),
                    "{}({}) has no doc",
                    f.qualified_name(),
                    p.name
                );
                assert!(
                    !optional_seen || p.optional,
                    "{}: required `{}` after an optional parameter",
                    f.qualified_name(),
                    p.name
                );
                optional_seen |= p.optional;
            }
            match f.effect {
                Effect::Read => assert!(
                    f.plan.is_none(),
                    "{} reads but has a plan",
                    f.qualified_name()
                ),
                Effect::Mutate => assert!(
                    f.plan.is_some(),
                    "{} mutates without a plan",
                    f.qualified_name()
                ),
                Effect::BySite(_) => {
                    assert!(
                        f.plan.is_some(),
                        "{} may mutate without a plan",
                        f.qualified_name()
                    );
                    assert!(
                        f.params.iter().all(|p| p.name != "readonly"),
                        "{}: the caller must not classify the call",
                        f.qualified_name()
                    );
                }
            }
        }
        assert!(find("systemd", "restart").is_some());
        assert!(find("systemd", "nope").is_none());
    }
}
