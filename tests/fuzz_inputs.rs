//! Property-based fuzzing of everything an operator or a runbook author types: runbook headers,
//! parameter values, site YAML and the time grammar. Each input must be accepted or refused
//! with an error, never panic (a panic in the binary would leave a run interrupted).
//!
//! The number of cases per property is `FUZZ_CASES` (default 1000, bounded so the suite stays
//! fast; the site YAML property, whose input is the whole shipped site, runs a quarter of them); `FUZZ_CASES=200000 cargo test --release --test fuzz_inputs` is the longer run.

use std::sync::OnceLock;

use proptest::prelude::*;
use serde_json::json;

use runbook::engine::{header, params};
use runbook::site::Site;

fn cases() -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
}

/// Pieces of real header lines, recombined with noise: more of the parser is reached than
/// with random text alone.
const HEADER_WORDS: &[&str] = &[
    "//! ",
    "name:",
    "summary:",
    "mutates:",
    "true",
    "false",
    "param",
    ":",
    ",",
    " -- ",
    "string",
    "int",
    "bool",
    "time",
    "duration",
    "required",
    "secret",
    "default",
    "\"x\"",
    "pattern",
    "[a-z]+",
    "(",
    ")",
    "one of site.symptoms",
    "one of site.",
    "min",
    "max",
    "-1",
    "9223372036854775807",
    "99999999999999999999",
    "\n",
    " ",
    "\\",
    "\"",
    "é",
    "\u{0}",
    "\t",
    "{1,30}",
    "*",
    "|",
];

fn header_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        proptest::collection::vec(
            prop_oneof![
                proptest::sample::select(HEADER_WORDS).prop_map(str::to_string),
                "[ -~]{0,8}",
            ],
            0..40
        )
        .prop_map(|parts| format!("//! name: fuzz\n{}\nstep \"x\" {{ }}\n", parts.concat())),
    ]
}

/// Headers with every kind of parameter, to check values against.
const SPECS: &str = "//! name: fuzz\n\
//! summary: fuzzing\n\
//! mutates: false\n\
//! param s: string, pattern [a-z][a-z0-9_-]{1,30}\n\
//! param n: int, min -5, max 500\n\
//! param b: bool, default false\n\
//! param t: time, default \"10 minutes ago\"\n\
//! param d: duration\n\
//! param k: string, secret\n\
//! param symptom: string, one of site.symptoms\n";

/// Parsed once: a parse per case would spend the run compiling the same patterns.
fn specs() -> &'static (header::Header, serde_json::Value) {
    static SPECS_AND_SITE: OnceLock<(header::Header, serde_json::Value)> = OnceLock::new();
    SPECS_AND_SITE.get_or_init(|| {
        let site = serde_json::to_value(Site::openclaw()).unwrap_or_else(|_| json!({}));
        (
            header::parse(SPECS).expect("the fuzzing header parses"),
            site,
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn headers_parse_or_refuse(text in header_text()) {
        let _ = header::parse(&text);
        let _ = header::steps(&text);
    }

    #[test]
    fn parameter_values_are_accepted_or_refused(
        raw in proptest::collection::vec(
            prop_oneof![
                any::<String>(),
                "(s|n|b|t|d|k|symptom|x)=[ -~]{0,40}",
                "n=-?[0-9]{1,25}",
                "(t|d)=[0-9]{1,20}(s|m|h|d|w|y| days| minutes ago| hours)",
            ],
            0..6
        )
    ) {
        let (header, site) = specs();
        let given: Vec<(String, String)> =
            raw.iter().filter_map(|r| params::split_kv(r).ok()).collect();
        for (k, v) in &given {
            if let Some(spec) = header.param(k) {
                let _ = header::check_value(spec, v);
            }
        }
        let _ = params::validate(header, &given, site);
    }

}

proptest! {
    #![proptest_config(ProptestConfig { cases: (cases() / 4).max(1), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn site_yaml_loads_or_refuses(edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..4), 1..6)) {
        // The shipped site with a few bytes replaced, inserted or cut: close to real, so the
        // loader gets past YAML syntax into the semantic checks.
        let mut bytes = include_bytes!("../site/openclaw.yaml").to_vec();
        for (at, byte, op) in edits {
            let i = at.index(bytes.len().max(1));
            match op {
                0 => bytes[i] = byte,
                1 => bytes.insert(i, byte),
                2 => { bytes.remove(i); }
                _ => bytes.truncate(i),
            }
            if bytes.is_empty() { break; }
        }
        let text = String::from_utf8_lossy(&bytes);
        let _ = Site::from_str(&text, "fuzz.yaml");
    }

}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_site_yaml_is_refused_without_panic(text in any::<String>()) {
        let _ = Site::from_str(&text, "fuzz.yaml");
    }

    #[test]
    fn time_grammar_never_panics(
        text in prop_oneof![
            any::<String>(),
            "[0-9]{1,25} ?(s|sec|m|min|h|d|w|y|ms|us|ns|seconds|minutes|hours|days|weeks|years)( ago)?",
            "[+-]?[0-9]{1,6}-[0-9]{1,3}-[0-9]{1,3}([ T][0-9]{1,3}:[0-9]{1,3}(:[0-9]{1,3})?)?Z?",
            "@-?[0-9]{1,25}",
        ]
    ) {
        let now = chrono::Utc::now();
        let _ = runbook::time::parse_time(&text, now);
        let _ = runbook::time::parse_duration(&text);
    }
}
