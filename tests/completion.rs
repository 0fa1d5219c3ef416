//! Dynamic completion, asked the way the shells ask it: bash through the function that
//! `runbook completions bash` registers (with COMP_WORDS split at `=` as bash splits them),
//! fish through `COMPLETE=fish runbook -- WORDS...` as its registration does, zsh through the
//! function that `runbook completions zsh` defines (with `words` and `CURRENT` as zsh's
//! completion system sets them, and `_describe` replaced by one that prints what it is given).

mod common;

use std::process::Command;

use common::Sandbox;

/// What bash's TAB offers for `words` (COMP_WORDS as bash fills it; the last word is the one
/// being completed, cut at the cursor), with the audit database `db`.
fn bash_complete(db: &std::path::Path, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let cword = words.len() - 1;
    // Right after `=`, bash passes an empty current word while COMP_WORDS ends in `=`.
    let cur = if words[cword] == "=" {
        ""
    } else {
        words[cword]
    };
    let script = format!(
        "source <(runbook completions bash) || exit 9\n\
         complete -p runbook >/dev/null || exit 8\n\
         COMP_WORDS=({words})\nCOMP_CWORD={cword}\nCOMP_TYPE=9\n\
         COMP_LINE=\"${{COMP_WORDS[*]}}\"\nCOMP_POINT=${{#COMP_LINE}}\n\
         _clap_complete_runbook runbook '{cur}' '{prev}'\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        words = quoted.join(" "),
        prev = if cword > 0 { words[cword - 1] } else { "" },
    );
    shell_lines(&["bash", "-c", &script], db)
}

/// The non-empty lines `argv` (a shell running a script) prints, with the built runbook first
/// on PATH and the audit database `db`; the shell must succeed.
fn shell_lines(argv: &[&str], db: &std::path::Path) -> Vec<String> {
    let bin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_runbook"))
        .parent()
        .unwrap();
    let out = Command::new(argv[0])
        .args(&argv[1..])
        .env(
            "PATH",
            format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap()),
        )
        .env("RUNBOOK_AUDIT_DB", db)
        .env_remove("RUNBOOK_PATH")
        .env_remove("RUNBOOK_SITE")
        .output()
        .unwrap_or_else(|e| panic!("{} runs (scripts/test installs it): {e}", argv[0]));
    assert!(
        out.status.success(),
        "{}: {}",
        argv[0],
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// What zsh's completion function offers for `words` (zsh passes them whole; the last one is
/// being completed): the values it hands to `_describe`, without their descriptions. Needs zsh.
fn zsh_complete(db: &std::path::Path, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    // `_describe -V TAG ARRAY [options]` is what the function calls to offer candidates; the
    // stand-in prints the named array. `compdef` needs compinit, which is not what is tested.
    let script = format!(
        "compdef() {{ :; }}\n\
         _describe() {{ print -rl -- \"${{(@P)3}}\"; }}\n\
         eval \"$(runbook completions zsh)\" || exit 9\n\
         (( $+functions[_clap_dynamic_completer_runbook] )) || exit 8\n\
         words=({words})\nCURRENT={current}\n\
         _clap_dynamic_completer_runbook\n",
        words = quoted.join(" "),
        current = words.len(),
    );
    shell_lines(&["zsh", "-f", "-c", &script], db)
        .iter()
        .map(|l| l.split(':').next().unwrap_or("").to_string())
        .collect()
}

/// What fish's registration gets back for the words (fish passes them whole).
fn fish_complete(db: &std::path::Path, words: &[&str]) -> Vec<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_runbook"))
        .arg("--")
        .args(words)
        .env("COMPLETE", "fish")
        .env("RUNBOOK_AUDIT_DB", db)
        .env_remove("RUNBOOK_PATH")
        .env_remove("RUNBOOK_SITE")
        .output()
        .expect("runbook runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split('\t').next().unwrap_or("").to_string())
        .collect()
}

#[test]
fn runbook_names_for_run_show_and_log_u() {
    let sb = Sandbox::new();
    assert_eq!(
        bash_complete(&sb.db(), &["runbook", "run", "tri"]),
        ["triage"]
    );
    assert_eq!(
        bash_complete(&sb.db(), &["runbook", "show", "restart-"]),
        ["restart-safe-units", "restart-unit"]
    );
    assert_eq!(
        bash_complete(&sb.db(), &["runbook", "log", "-u", "he"]),
        ["health"]
    );
    assert_eq!(
        fish_complete(&sb.db(), &["runbook", "run", "tri"]),
        ["triage"]
    );
}

#[test]
fn zsh_offers_runbooks_keys_and_choices() {
    let sb = Sandbox::new();
    assert_eq!(
        zsh_complete(&sb.db(), &["runbook", "run", "tri"]),
        ["triage"]
    );
    assert_eq!(
        zsh_complete(&sb.db(), &["runbook", "show", "restart-"]),
        ["restart-safe-units", "restart-unit"]
    );
    assert_eq!(
        zsh_complete(&sb.db(), &["runbook", "run", "diagnose", "-p", "sy"]),
        ["symptom="]
    );
    assert_eq!(
        zsh_complete(
            &sb.db(),
            &["runbook", "run", "diagnose", "-p", "symptom=aur"]
        ),
        ["symptom=aurora-502", "symptom=aurora-db-unreachable"]
    );
}

#[test]
fn param_keys_of_the_chosen_runbook_then_their_choices() {
    let sb = Sandbox::new();
    let keys = bash_complete(&sb.db(), &["runbook", "run", "diagnose", "-p", ""]);
    assert!(
        keys.contains(&"symptom=".to_string()) && !keys.contains(&"unit=".to_string()),
        "{keys:?}"
    );
    assert_eq!(
        bash_complete(&sb.db(), &["runbook", "run", "diagnose", "-p", "sy"]),
        ["symptom="]
    );
    let keys = bash_complete(&sb.db(), &["runbook", "run", "restart-unit", "-p", ""]);
    assert!(
        keys.contains(&"unit=".to_string()) && !keys.contains(&"symptom=".to_string()),
        "{keys:?}"
    );

    // bash: `-p symptom=aur` arrives as `symptom`, `=`, `aur`; it gets back the rest only.
    let aurora = bash_complete(
        &sb.db(),
        &["runbook", "run", "diagnose", "-p", "symptom", "=", "aur"],
    );
    assert_eq!(aurora, ["aurora-502", "aurora-db-unreachable"]);
    let all = bash_complete(
        &sb.db(),
        &["runbook", "run", "diagnose", "-p", "symptom", "="],
    );
    assert!(
        all.len() >= 10 && all.contains(&"ssh-timeout".to_string()),
        "{all:?}"
    );
    // fish passes `symptom=aur` whole and gets whole words back.
    assert_eq!(
        fish_complete(
            &sb.db(),
            &["runbook", "run", "diagnose", "-p", "symptom=aur"]
        ),
        ["symptom=aurora-502", "symptom=aurora-db-unreachable"]
    );
}

#[test]
fn run_ids_for_replay_and_report() {
    let sb = Sandbox::new();
    assert_eq!(
        bash_complete(&sb.db(), &["runbook", "replay", "2026"]),
        Vec::<String>::new()
    );
    sb.cmd().args(["run", "triage"]).run();
    sb.cmd().args(["run", "health"]).run();
    let log = sb.cmd().args(["log", "--json"]).run().code(0).json();
    let ids: Vec<String> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 2);
    let year = &ids[0][..4];
    assert_eq!(
        bash_complete(&sb.db(), &["runbook", "replay", year]),
        ids,
        "newest first"
    );
    assert_eq!(
        bash_complete(
            &sb.db(),
            &["runbook", "report", &ids[1][..ids[1].len() - 2]]
        ),
        [ids[1].clone()]
    );
    assert_eq!(
        bash_complete(&sb.db(), &["runbook", "replay", "la"]),
        ["last"]
    );
    // Completing never writes: the database is byte for byte the same afterwards.
    let before = std::fs::read(sb.db()).unwrap();
    bash_complete(&sb.db(), &["runbook", "replay", ""]);
    assert_eq!(before, std::fs::read(sb.db()).unwrap());
}

#[test]
fn units_of_the_site_and_words_of_a_pattern() {
    let sb = Sandbox::new();
    let units = bash_complete(
        &sb.db(),
        &[
            "runbook",
            "run",
            "restart-unit",
            "-p",
            "unit",
            "=",
            "openclaw-bg",
        ],
    );
    assert_eq!(units, ["openclaw-bg-dispatcher", "openclaw-bg-worker"]);
    let via = bash_complete(
        &sb.db(),
        &["runbook", "run", "add-hostname", "-p", "via", "="],
    );
    assert_eq!(via, ["tunnel", "caddy"]);
    // A pattern that is not a list of words offers nothing (no file names either).
    let script = bash_complete(
        &sb.db(),
        &[
            "runbook",
            "run",
            "readymode-script",
            "-p",
            "script",
            "=",
            "",
        ],
    );
    assert_eq!(script, Vec::<String>::new());
}
