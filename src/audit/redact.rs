//! Redaction: the last line of defence between secrets and the audit trail.
//!
//! Every payload passes through [`Redactor::redact_json`] before it is hashed and written, and
//! the CLI uses [`Redactor::redact_str`] on anything it prints from a run. What is replaced by
//! `[REDACTED]` (key names are kept so the trail still says *what* was set):
//!
//! - values of assignments whose key names a secret: `KEY=value`, `KEY: value`,
//!   `"key": "value"` (JSON inside text), and in payload JSON itself every string or number
//!   under an object key that names a secret (`{"password": "x"}` → `{"password": "[REDACTED]"}`);
//! - bearer tokens (`Authorization: Bearer xxx`, `bearer xxx`);
//! - passwords in URLs (`postgres://user:secret@host/db`);
//! - SQL `PASSWORD 'secret'` clauses;
//! - private key blocks (`-----BEGIN ... PRIVATE KEY-----` up to the matching `END` line, or to
//!   the end of the text when the block is cut off);
//! - every value a runbook marks secret at run time ([`Redactor::add_secret`]), in each
//!   encoding it may take on the way to a sink: as is, escaped as in a JSON or Rhai string
//!   (once or twice: JSON text inside a JSON string), shell-quoted, and URL-encoded; values
//!   shorter than [`MIN_SECRET_LEN`] characters are ignored so that output is not shredded.
//!
//! Object keys are redacted like string values (a secret used as a map key is still a
//! secret); only the "key names a secret" rule reads the key itself.
//!
//! A key names a secret when one of its word parts (split at `_`, `-`, `.`, and lower→upper
//! camel-case boundaries) contains `password`, `passwd`, `passphrase`, `secret`, `token` or
//! `credential`, or is exactly `pass`, `pwd`, `key`, `keys`, `apikey`, `privatekey`,
//! `accesskey`, `secretkey`, `auth`, `authorization` or `cookie`. So `API_KEY`, `PRIVATE_KEY`,
//! `apiKey`, `PGPASSWORD` and `Authorization` are secret; `keyboard`, `monkey` and `author` are
//! not.
//!
//! The patterns are compiled once per process. A [`Redactor`] is cheap to clone and clones share
//! their runtime secrets, so a secret added through any clone is redacted by all of them.

use std::borrow::Cow;
use std::sync::{Arc, LazyLock, RwLock};

use regex::{Captures, Regex, RegexSet};
use serde_json::Value;

/// The replacement text.
pub const REDACTED: &str = "[REDACTED]";

/// Runtime secrets shorter than this many characters are not redacted.
pub const MIN_SECRET_LEN: usize = 4;

struct Rules {
    private_key: Regex,
    bearer: Regex,
    url_password: Regex,
    json_pair: Regex,
    sql_password: Regex,
    assign_eq: Regex,
    assign_colon: Regex,
    /// All of the above in one automaton: most strings match none, and one scan says so.
    any: RegexSet,
}

/// The words a secret key contains (see `mentions_secret_word`), as regex alternatives.
const SECRET_WORDS: &str = "pass|pwd|secret|token|key|credential|auth|cookie";

/// The rules' patterns, in the order of [`Rules`]' regex fields.
fn patterns() -> [String; 7] {
    // A key that contains one of the secret words somewhere; `is_secret_key` then checks the
    // word parts precisely (so that `keyboard` is left alone).
    let key = format!(r"[A-Za-z0-9_.\-]*(?i:{SECRET_WORDS})[A-Za-z0-9_.\-]*");
    // Word boundaries are ASCII (`(?-u:\b)`): a Unicode `\b` makes the regex engine give up
    // its DFA for a slow NFA on any text with a non-ASCII character (a report of 5,000
    // events, full of arrows and dashes, spent 80% of 1.8 s there). Non-ASCII letters count
    // as boundaries, so a rule matches at least where it did before.
    [
        // private_key
        r"(?s)(-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----).*?(-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|\z)".to_string(),
        // bearer
        r"(?i)(?-u:\b)(bearer)(\s+)[A-Za-z0-9\-._~+/]+=*".to_string(),
        // url_password
        r#"(?-u:\b)([A-Za-z][A-Za-z0-9+.\-]*://[^\s/:@"']+:)[^\s/@"']+@"#.to_string(),
        // json_pair. (A bounded key length, `{1,128}`, made this one pattern a third of the
        // rules' compile time, paid by every run.)
        r#""([^"\\\n]+)"(\s*:\s*)"(?:[^"\\]|\\.)*""#.to_string(),
        // sql_password
        r"(?i)(?-u:\b)(password)(\s+)'(?:[^']|'')*'".to_string(),
        // assign_eq, `KEY=value`: the value ends at white space, as in a shell.
        format!(r#"(?-u:\b)({key})(\s*=\s*)(\[REDACTED\]|"[^"\n]*"|'[^'\n]*'|[^\s"']+)"#),
        // assign_colon, `KEY: value`: the value may contain spaces (`Authorization: Basic xyz`)
        // and ends at the end of the line or at `,;}]`.
        format!(
            r#"(?-u:\b)({key})(\s*:[ \t]*)(\[REDACTED\]|"[^"\n]*"|'[^'\n]*'|[^\s"',;}}\]]+(?:[ \t]+[^\s"',;}}\]]+)*)"#
        ),
    ]
}

static RULES: LazyLock<Rules> = LazyLock::new(|| {
    let patterns = patterns();
    let re = |i: usize| Regex::new(&patterns[i]).expect("redaction pattern compiles");
    Rules {
        private_key: re(0),
        bearer: re(1),
        url_password: re(2),
        json_pair: re(3),
        sql_password: re(4),
        assign_eq: re(5),
        assign_colon: re(6),
        any: RegexSet::new(&patterns).expect("redaction patterns compile"),
    }
});

/// For `might_change`: json_pair only changes a pair whose key names a secret, and such a key
/// contains one of the secret words, so this set tells with one scan whether any rule can
/// change a text. (json_pair itself matches every pair of every JSON text, and a report is
/// mostly JSON.) Compiled on first use: only the report needs it, and every run pays for
/// what [`RULES`] compiles.
static SELECTIVE: LazyLock<RegexSet> = LazyLock::new(|| {
    let mut selective = patterns();
    selective[3] =
        format!(r#""([^"\\\n]*(?i:{SECRET_WORDS})[^"\\\n]*)"(\s*:\s*)"(?:[^"\\]|\\.)*""#);
    RegexSet::new(&selective).expect("redaction patterns compile")
});

/// Cheap first test for the static rules: each needs `=`, `:`, `-----` (key blocks),
/// `bearer` or `password` somewhere in the text. One pass over the bytes: it runs on every
/// string of every event.
fn might_match_rules(text: &str) -> bool {
    let b = text.as_bytes();
    b.iter().enumerate().any(|(i, &c)| match c {
        b'=' | b':' => true,
        b'-' => b[i..].starts_with(b"-----"),
        b'b' | b'B' => starts_with_ignore_case(&b[i..], b"bearer"),
        b'p' | b'P' => starts_with_ignore_case(&b[i..], b"password"),
        _ => false,
    })
}

fn starts_with_ignore_case(hay: &[u8], prefix: &[u8]) -> bool {
    hay.len() >= prefix.len() && hay[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// Cheap first test for [`is_secret_key`]: does the key contain a secret word at all? One
/// pass over the bytes: it runs on every key of every event. The words are [`SECRET_WORDS`].
fn mentions_secret_word(key: &str) -> bool {
    let b = key.as_bytes();
    (0..b.len()).any(|i| {
        let rest = &b[i..];
        let words: &[&[u8]] = match b[i].to_ascii_lowercase() {
            b'p' => &[b"pass", b"pwd"],
            b's' => &[b"secret"],
            b't' => &[b"token"],
            b'k' => &[b"key"],
            b'c' => &[b"credential", b"cookie"],
            b'a' => &[b"auth"],
            _ => return false,
        };
        words.iter().any(|w| starts_with_ignore_case(rest, w))
    })
}

/// Whether an assignment or object key names a secret. See the module documentation.
pub fn is_secret_key(key: &str) -> bool {
    // sudo's `NOPASSWD:` tag says no password is asked; what follows it is a command list.
    if key.eq_ignore_ascii_case("nopasswd") {
        return false;
    }
    mentions_secret_word(key)
        && split_words(key).any(|part| {
            let p = part.to_ascii_lowercase();
            [
                "password",
                "passwd",
                "passphrase",
                "secret",
                "token",
                "credential",
            ]
            .iter()
            .any(|w| p.contains(w))
                || matches!(
                    p.as_str(),
                    "pass"
                        | "pwd"
                        | "key"
                        | "keys"
                        | "apikey"
                        | "privatekey"
                        | "accesskey"
                        | "secretkey"
                        | "auth"
                        | "authorization"
                        | "cookie"
                )
        })
}

/// Word parts of a key: split at `_`, `-`, `.`, spaces and lower→upper camel-case boundaries.
fn split_words(key: &str) -> impl Iterator<Item = &str> {
    let bytes = key.as_bytes();
    let mut parts = Vec::new();
    let mut start = 0;
    for i in 0..bytes.len() {
        let b = bytes[i];
        if matches!(b, b'_' | b'-' | b'.' | b' ') {
            if start < i {
                parts.push(&key[start..i]);
            }
            start = i + 1;
        } else if i > start && b.is_ascii_uppercase() && bytes[i - 1].is_ascii_lowercase() {
            parts.push(&key[start..i]);
            start = i;
        }
    }
    if start < bytes.len() {
        parts.push(&key[start..]);
    }
    parts.into_iter()
}

/// The forms a secret value can take in text that reaches a sink: as is; escaped as inside a
/// JSON string, once and twice (JSON text inside a JSON string, as in the database's bytes);
/// escaped as Rhai and Rust print strings; inside single and double shell quotes; and
/// URL-encoded (upper- and lower-case hex, space as `%20` or `+`).
fn encodings(value: &str) -> Vec<String> {
    use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
    let json_inner = |s: &str| {
        let quoted = serde_json::to_string(s).expect("strings serialize");
        quoted[1..quoted.len() - 1].to_string()
    };
    let once = json_inner(value);
    let twice = json_inner(&once);
    let url = utf8_percent_encode(value, NON_ALPHANUMERIC).to_string();
    let url_lower = lower_hex_escapes(&url);
    let mut forms = vec![
        value.to_string(),
        once,
        twice,
        value.escape_debug().to_string(),
        value.escape_default().to_string(),
        value.replace('\'', r"'\''"),
        value
            .replace('\\', r"\\")
            .replace('"', "\\\"")
            .replace('$', "\\$")
            .replace('`', "\\`"),
        url.replace("%20", "+"),
        url_lower.replace("%20", "+"),
        url,
        url_lower,
    ];
    forms.dedup();
    let mut unique = Vec::new();
    for f in forms {
        if !unique.contains(&f) {
            unique.push(f);
        }
    }
    unique
}

/// `%2F` → `%2f`: some encoders write lower-case hex.
fn lower_hex_escapes(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    let mut chars = url.chars();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '%' {
            for h in chars.by_ref().take(2) {
                out.push(h.to_ascii_lowercase());
            }
        }
    }
    out
}

#[derive(Default)]
struct Secrets {
    values: Vec<String>,
    /// Every form of every value ([`encodings`]): what is matched.
    forms: Vec<String>,
    matcher: Option<Regex>,
}

/// Replaces secrets with `[REDACTED]`. Clones share the runtime secrets.
#[derive(Clone, Default)]
pub struct Redactor {
    secrets: Arc<RwLock<Secrets>>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.secrets.read().map(|s| s.values.len()).unwrap_or(0);
        f.debug_struct("Redactor")
            .field("runtime_secrets", &n)
            .finish()
    }
}

/// Replace the whole match (after any prefix groups we keep) in `replace_all` callbacks.
fn keep(caps: &Captures<'_>, groups: &[usize], tail: &str) -> String {
    let mut out = String::new();
    for &g in groups {
        out.push_str(caps.get(g).map_or("", |m| m.as_str()));
    }
    out.push_str(tail);
    out
}

/// Apply `f` to `text`, keeping it borrowed when nothing changed.
fn chain<'a>(text: Cow<'a, str>, f: impl Fn(&str) -> Cow<'_, str>) -> Cow<'a, str> {
    match text {
        Cow::Borrowed(s) => f(s),
        Cow::Owned(s) => match f(&s) {
            Cow::Borrowed(_) => Cow::Owned(s),
            Cow::Owned(n) => Cow::Owned(n),
        },
    }
}

fn redact_assignment(c: &Captures<'_>) -> String {
    if !is_secret_key(&c[1]) {
        return c[0].to_string();
    }
    // `word: text` is also how prose reads ("pass: all controls", "(secrets): /root/..."),
    // so the colon form needs a key that looks like a setting, not a plain lower-case word.
    if c[2].trim_start().starts_with(':') && !looks_like_setting(&c[1]) {
        return c[0].to_string();
    }
    let quoted = match c[3].as_bytes()[0] {
        q @ (b'"' | b'\'') => {
            let q = q as char;
            format!("{q}{REDACTED}{q}")
        }
        _ => REDACTED.to_string(),
    };
    format!("{}{}{quoted}", &c[1], &c[2])
}

/// A key written as a setting: it has an upper-case letter or a separator (`DB_PASSWORD`,
/// `api-key`, `Authorization`), or is one of the unambiguous secret words on its own.
fn looks_like_setting(key: &str) -> bool {
    key.bytes()
        .any(|b| b.is_ascii_uppercase() || matches!(b, b'_' | b'-' | b'.'))
        || matches!(
            key,
            "password"
                | "passwd"
                | "passphrase"
                | "secret"
                | "token"
                | "apikey"
                | "credential"
                | "credentials"
                | "privatekey"
                | "authorization"
                | "cookie"
        )
}

impl Redactor {
    pub fn new() -> Redactor {
        Redactor::default()
    }

    /// Compile the redaction rules now. They are compiled on first use otherwise, which takes
    /// about 3 ms: a command that will record events calls this on a spare thread at start.
    pub fn warm_up() {
        LazyLock::force(&RULES);
    }

    /// Redact `value` wherever it appears from now on. Values shorter than [`MIN_SECRET_LEN`]
    /// characters (after trimming) are ignored.
    pub fn add_secret(&self, value: &str) {
        let value = value.trim();
        if value.chars().count() < MIN_SECRET_LEN {
            return;
        }
        let mut secrets = self.secrets.write().unwrap_or_else(|e| e.into_inner());
        if secrets.values.iter().any(|v| v == value) {
            return;
        }
        secrets.values.push(value.to_string());
        for form in encodings(value) {
            if !secrets.forms.contains(&form) {
                secrets.forms.push(form);
            }
        }
        // Longest first, so a secret that contains another is replaced whole.
        let mut sorted: Vec<&String> = secrets.forms.iter().collect();
        sorted.sort_by_key(|v| std::cmp::Reverse(v.len()));
        let pattern = sorted
            .iter()
            .map(|v| regex::escape(v))
            .collect::<Vec<_>>()
            .join("|");
        secrets.matcher = Regex::new(&pattern).ok();
    }

    /// Number of runtime secrets registered.
    pub fn secret_count(&self) -> usize {
        self.secrets.read().map(|s| s.values.len()).unwrap_or(0)
    }

    /// Redact secrets in free text. Borrowed when nothing was redacted.
    pub fn redact_str<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let rules = &*RULES;
        let mut out: Cow<'a, str> = Cow::Borrowed(text);
        {
            let secrets = self.secrets.read().unwrap_or_else(|e| e.into_inner());
            if let Some(m) = &secrets.matcher {
                out = chain(out, |s| m.replace_all(s, REDACTED));
            }
        }
        if !might_match_rules(&out) || !rules.any.is_match(&out) {
            return out;
        }
        out = chain(out, |s| {
            rules.private_key.replace_all(s, |c: &Captures<'_>| {
                let end = c.get(2).map_or("", |m| m.as_str());
                format!("{}\n{REDACTED}\n{end}", &c[1])
            })
        });
        out = chain(out, |s| {
            rules
                .url_password
                .replace_all(s, |c: &Captures<'_>| keep(c, &[1], "[REDACTED]@"))
        });
        out = chain(out, |s| {
            rules.json_pair.replace_all(s, |c: &Captures<'_>| {
                if is_secret_key(&c[1]) {
                    format!("\"{}\"{}\"{REDACTED}\"", &c[1], &c[2])
                } else {
                    c[0].to_string()
                }
            })
        });
        out = chain(out, |s| {
            rules
                .sql_password
                .replace_all(s, |c: &Captures<'_>| keep(c, &[1, 2], "'[REDACTED]'"))
        });
        for rule in [&rules.assign_eq, &rules.assign_colon] {
            out = chain(out, |s| rule.replace_all(s, redact_assignment));
        }
        // Bearer tokens outside an `Authorization:` assignment (which took the whole value).
        out = chain(out, |s| {
            rules
                .bearer
                .replace_all(s, |c: &Captures<'_>| keep(c, &[1, 2], REDACTED))
        });
        out
    }

    /// Whether [`Redactor::redact_str`] could change `text`; false means it certainly leaves it
    /// as it is. One scan of the text, without building a redacted copy: for checking a large
    /// document that almost never holds a secret.
    pub fn might_change(&self, text: &str) -> bool {
        {
            let secrets = self.secrets.read().unwrap_or_else(|e| e.into_inner());
            if secrets.matcher.as_ref().is_some_and(|m| m.is_match(text)) {
                return true;
            }
        }
        might_match_rules(text) && SELECTIVE.is_match(text)
    }

    /// Redact a JSON value in place: every string and every object key goes through
    /// [`Redactor::redact_str`], and every string or number under an object key that names a
    /// secret becomes `"[REDACTED]"`.
    pub fn redact_json(&self, value: &mut Value) {
        self.walk(value, false);
    }

    fn walk(&self, value: &mut Value, secret: bool) {
        match value {
            Value::String(s) => {
                if secret {
                    if s != REDACTED {
                        *s = REDACTED.to_string();
                    }
                } else if let Cow::Owned(r) = self.redact_str(s) {
                    *s = r;
                }
            }
            Value::Number(_) if secret => *value = Value::String(REDACTED.to_string()),
            Value::Array(items) => {
                for item in items {
                    self.walk(item, secret);
                }
            }
            Value::Object(map) => {
                for (k, v) in map.iter_mut() {
                    let secret = secret || is_secret_key(k);
                    self.walk(v, secret);
                }
                if map
                    .keys()
                    .any(|k| matches!(self.redact_str(k), Cow::Owned(_)))
                {
                    // Rebuild the map with redacted keys, in order; keys that redact to the
                    // same text are numbered rather than merged, so no value is lost.
                    let old = std::mem::take(map);
                    for (k, v) in old {
                        let mut key = self.redact_str(&k).into_owned();
                        let mut n = 1;
                        while map.contains_key(&key) {
                            n += 1;
                            key = format!("{} #{n}", self.redact_str(&k));
                        }
                        map.insert(key, v);
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn r(s: &str) -> String {
        Redactor::new().redact_str(s).into_owned()
    }

    #[test]
    fn might_change_is_false_only_where_redaction_changes_nothing() {
        let red = Redactor::new();
        red.add_secret("runtime-s3cret");
        let texts = [
            r#"{"id":1,"run":"r","kind":"call","payload_text":"{\"path\":\"/etc/x\"}"}"#,
            r#"{"api_token":"abc123"}"#,
            r#"{"Password" : "x"}"#,
            r#"{"monkey":"banana","keyboard":"qwerty"}"#,
            r#"{"token":"[REDACTED]"}"#,
            "export DB_PASSWORD=hunter2",
            "Authorization: Bearer abcdefghijklmnopqrstuvwxyz012345",
            "postgres://app:pw@db/x",
            "ALTER ROLE app PASSWORD 'x'",
            "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n",
            "the value runtime-s3cret was used",
            "disk /srv 41% used: fine",
            "files::stat(path=/etc/runbook/1.conf) \u{2192} {\"size\": 7}",
        ];
        for t in texts {
            let changes = red.redact_str(t) != t;
            assert!(
                red.might_change(t) || !changes,
                "might_change said no, but redaction changes {t:?}"
            );
        }
        // And it does say no for JSON without secret words in its keys, the bulk of a report
        // (`monkey` has one: that is left to the full rules, which leave it alone).
        assert!(!red.might_change(texts[0]));
        assert!(!red.might_change(r#"{"path":"/etc/x","size":7,"owner":"root"}"#));
        assert!(red.might_change(texts[1]) && red.might_change(texts[2]));
    }

    #[test]
    fn env_assignments() {
        assert_eq!(
            r("POSTGRES_PASSWORD=hunter2-secret"),
            "POSTGRES_PASSWORD=[REDACTED]"
        );
        assert_eq!(
            r("export API_KEY=abc123 USER=bob"),
            "export API_KEY=[REDACTED] USER=bob"
        );
        assert_eq!(r("PRIVATE_KEY='x y z'"), "PRIVATE_KEY='[REDACTED]'");
        assert_eq!(r(r#"DB_SECRET="s e c""#), r#"DB_SECRET="[REDACTED]""#);
        assert_eq!(r("--password=abc"), "--password=[REDACTED]");
        assert_eq!(r("PGPASSWORD=x1 psql"), "PGPASSWORD=[REDACTED] psql");
        assert_eq!(r("GITHUB_TOKEN = ghp_abc"), "GITHUB_TOKEN = [REDACTED]");
        assert_eq!(r("auth=xyz"), "auth=[REDACTED]");
        assert_eq!(r("https://x/?token=abc&a=1"), "https://x/?token=[REDACTED]");
    }

    #[test]
    fn colon_assignments() {
        assert_eq!(
            r("password: correct horse battery\nuser: bob"),
            "password: [REDACTED]\nuser: bob"
        );
        assert_eq!(r("  client_secret: 'abc'"), "  client_secret: '[REDACTED]'");
        assert_eq!(r("{apiKey: abc, name: x}"), "{apiKey: [REDACTED], name: x}");
        assert_eq!(
            r("Authorization: Basic dXNlcjpwYXNz"),
            "Authorization: [REDACTED]"
        );
        assert_eq!(r("X-Api-Key: 1234"), "X-Api-Key: [REDACTED]");
    }

    #[test]
    fn non_secret_keys_are_kept() {
        for s in [
            "keyboard=us",
            "monkey: george",
            "author: jane",
            "USER=bob",
            "unit: nginx.service",
            "https://example.com:8443/path",
            "passenger=3",
        ] {
            assert_eq!(r(s), s, "{s}");
        }
    }

    #[test]
    fn json_in_text() {
        assert_eq!(
            r(r#"{"user": "bob", "password": "hunter2", "api_key":"k"}"#),
            r#"{"user": "bob", "password": "[REDACTED]", "api_key":"[REDACTED]"}"#
        );
        assert_eq!(r(r#"{"token": "a\"b"}"#), r#"{"token": "[REDACTED]"}"#);
    }

    #[test]
    fn bearer_tokens() {
        assert_eq!(
            r("Authorization: Bearer eyJhbGciOi.x.y"),
            "Authorization: [REDACTED]"
        );
        assert_eq!(
            r("curl -H 'authorization: bearer abc123=' x"),
            "curl -H 'authorization: [REDACTED]' x"
        );
        assert_eq!(
            r("sent bearer abc.def-123 to upstream"),
            "sent bearer [REDACTED] to upstream"
        );
    }

    #[test]
    fn url_passwords() {
        assert_eq!(
            r("postgres://app:s3cr3t@db:5432/app"),
            "postgres://app:[REDACTED]@db:5432/app"
        );
        assert_eq!(
            r("DATABASE_URL=postgres://a:b@h/d"),
            "DATABASE_URL=postgres://a:[REDACTED]@h/d"
        );
    }

    #[test]
    fn sql_password() {
        assert_eq!(
            r("ALTER ROLE app WITH LOGIN PASSWORD 'it''s secret';"),
            "ALTER ROLE app WITH LOGIN PASSWORD '[REDACTED]';"
        );
    }

    #[test]
    fn private_key_blocks() {
        let text = "before\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\nAAAA\n-----END OPENSSH PRIVATE KEY-----\nafter";
        assert_eq!(
            r(text),
            "before\n-----BEGIN OPENSSH PRIVATE KEY-----\n[REDACTED]\n-----END OPENSSH PRIVATE KEY-----\nafter"
        );
        let cut = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nMore";
        assert_eq!(r(cut), "-----BEGIN RSA PRIVATE KEY-----\n[REDACTED]\n");
        let public = "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----";
        assert_eq!(r(public), public);
    }

    #[test]
    fn runtime_secrets() {
        let red = Redactor::new();
        red.add_secret("abc"); // too short: ignored
        red.add_secret("s3cret-value");
        red.add_secret("s3cret-value-longer");
        assert_eq!(red.secret_count(), 2);
        assert_eq!(red.redact_str("abc"), "abc");
        assert_eq!(
            red.redact_str("x s3cret-value-longer y s3cret-value z"),
            "x [REDACTED] y [REDACTED] z"
        );
        // Clones share secrets.
        let clone = red.clone();
        red.add_secret("later-added");
        assert_eq!(clone.redact_str("later-added"), REDACTED);
        // Regex metacharacters are literal.
        red.add_secret("a.b*c");
        assert_eq!(red.redact_str("axbbc a.b*c"), "axbbc [REDACTED]");
    }

    #[test]
    fn runtime_secrets_in_every_encoding() {
        let red = Redactor::new();
        let secret = r#"p"q\r's t/ü"#;
        red.add_secret(secret);
        let json_once = serde_json::to_string(secret).unwrap();
        let json_twice = serde_json::to_string(&json_once).unwrap();
        let forms = [
            secret.to_string(),
            json_once.clone(),
            json_twice,
            format!("{secret:?}"),
            "p%22q%5Cr%27s%20t%2F%C3%BC".to_string(),
            "p%22q%5cr%27s+t%2f%c3%bc".to_string(),
            r#"'p"q\r'\''s t/ü'"#.to_string(),
        ];
        for form in forms {
            let text = format!("before {form} after");
            let out = red.redact_str(&text);
            assert!(
                !out.contains("q\\") && !out.contains("t/") && !out.contains("t%2"),
                "{form}: {out}"
            );
            assert!(out.contains(REDACTED), "{form}: {out}");
        }
        // Keys too, in a JSON value: the key is redacted, the value is kept.
        let mut v =
            json!({"params": {secret: 1, "plain": 2}, "nested": [{json_once.clone(): "x"}]});
        red.redact_json(&mut v);
        let text = v.to_string();
        assert!(!text.contains("t/") && !text.contains("q\\"), "{text}");
        assert_eq!(v["params"]["plain"], 2);
        assert_eq!(v["params"][REDACTED], 1, "{v}");
        // Two keys that redact alike both stay.
        let mut v = json!({secret: 1, json_once: 2});
        red.redact_json(&mut v);
        assert_eq!(v.as_object().unwrap().len(), 2, "{v}");
    }

    #[test]
    fn borrowed_when_clean() {
        assert!(matches!(
            Redactor::new().redact_str("nothing to see here"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn json_payloads() {
        let red = Redactor::new();
        red.add_secret("rt-secret-1");
        let mut v = json!({
            "fn": "postgres.create_role",
            "args": {"name": "app", "password": "hunter2", "pin": 1234, "enabled": true},
            "credentials": ["a", {"x": "b"}],
            "stdout": "POSTGRES_PASSWORD=hunter2-secret\nok rt-secret-1",
            "keyboard": "us",
        });
        red.redact_json(&mut v);
        assert_eq!(
            v,
            json!({
                "fn": "postgres.create_role",
                "args": {"name": "app", "password": "[REDACTED]", "pin": 1234, "enabled": true},
                "credentials": ["[REDACTED]", {"x": "[REDACTED]"}],
                "stdout": "POSTGRES_PASSWORD=[REDACTED]\nok [REDACTED]",
                "keyboard": "us",
            })
        );
        // Key order is preserved.
        let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["fn", "args", "credentials", "stdout", "keyboard"]);
    }

    #[test]
    fn secret_key_words() {
        for k in [
            "PASSWORD",
            "db_password",
            "PGPASSWORD",
            "API_KEY",
            "PRIVATE_KEY",
            "apiKey",
            "APIKey",
            "x-api-key",
            "secret",
            "client_secrets",
            "GITHUB_TOKEN",
            "credentials",
            "Authorization",
            "auth",
            "passwd",
            "ssh.key",
        ] {
            assert!(is_secret_key(k), "{k}");
        }
        for k in [
            "keyboard",
            "monkey",
            "author",
            "user",
            "unit",
            "hotkeys_enabled_x",
            "path",
        ] {
            assert!(!is_secret_key(k), "{k}");
        }
    }

    /// The one-pass prefilters agree with their plain definitions, wherever the word sits.
    #[test]
    fn prefilters_match_their_definitions() {
        let contains = |hay: &str, needle: &str| {
            hay.to_ascii_lowercase()
                .contains(&needle.to_ascii_lowercase())
        };
        let rules = |t: &str| {
            t.contains('=')
                || t.contains(':')
                || t.contains("-----")
                || contains(t, "bearer")
                || contains(t, "password")
        };
        let words = |k: &str| {
            [
                "pass",
                "pwd",
                "secret",
                "token",
                "key",
                "credential",
                "auth",
                "cookie",
            ]
            .iter()
            .any(|w| contains(k, w))
        };
        let pieces = [
            "",
            "x",
            "-",
            "----",
            "-----",
            "=",
            ":",
            "Bearer",
            "bearer",
            "beare",
            "PassWord",
            "passwor",
            "pas",
            "PWD",
            "pw",
            "Secret",
            "secre",
            "TOKEN",
            "toke",
            "KEY",
            "ke",
            "Credential",
            "credentia",
            "COOKIE",
            "cooki",
            "auth",
            "aut",
            "/etc/runbook/1.conf",
        ];
        for a in pieces {
            for b in pieces {
                for text in [format!("{a}{b}"), format!("{a} {b}"), format!("{b}{a}x")] {
                    assert_eq!(might_match_rules(&text), rules(&text), "{text:?}");
                    assert_eq!(mentions_secret_word(&text), words(&text), "{text:?}");
                }
            }
        }
    }

    #[test]
    fn idempotent() {
        let once = r("PASSWORD=x token: y Authorization: Bearer z");
        assert_eq!(r(&once), once);
    }

    #[test]
    fn prose_with_colons_is_left_alone() {
        let r = Redactor::new();
        for text in [
            "pass: /dev/shm noexec,nosuid,nodev (filesystem)",
            "SOPS age master key present and private (secrets): /root/.config/sops/age/keys.txt",
        ] {
            assert_eq!(r.redact_str(text), text);
        }
        assert_eq!(r.redact_str("password: hunter22"), "password: [REDACTED]");
        assert_eq!(r.redact_str("DB_PASS: hunter22"), "DB_PASS: [REDACTED]");
        let sudoers = "jane ALL=(ALL) NOPASSWD: ALL";
        assert_eq!(r.redact_str(sudoers), sudoers);
    }
}
