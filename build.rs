use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=runbooks");
    println!("cargo:rerun-if-changed=stdlib");
    version_info();
}

/// `runbook --version` names the commit and the build date: RUNBOOK_GIT_COMMIT and
/// RUNBOOK_BUILD_DATE for `env!`. The commit is `unknown` outside a git checkout (a source
/// tarball) unless RUNBOOK_GIT_COMMIT is set; the date is SOURCE_DATE_EPOCH's when set, so a
/// reproducible build stays reproducible.
fn version_info() {
    println!("cargo:rerun-if-env-changed=RUNBOOK_GIT_COMMIT");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    let commit = std::env::var("RUNBOOK_GIT_COMMIT")
        .ok()
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".into());
    // Rebuild when HEAD moves: HEAD itself, and the branch it points to (loose or packed).
    for path in [
        git(&["rev-parse", "--git-path", "HEAD"]),
        git(&["symbolic-ref", "-q", "HEAD"]).and_then(|r| git(&["rev-parse", "--git-path", &r])),
        git(&["rev-parse", "--git-path", "packed-refs"]),
    ]
    .into_iter()
    .flatten()
    {
        if std::path::Path::new(&path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    let epoch = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok());
    let date = match epoch {
        Some(e) => run("date", &["-u", "-d", &format!("@{e}"), "+%Y-%m-%d"]),
        None => run("date", &["-u", "+%Y-%m-%d"]),
    }
    .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=RUNBOOK_GIT_COMMIT={commit}");
    println!("cargo:rustc-env=RUNBOOK_BUILD_DATE={date}");
}

fn git(args: &[&str]) -> Option<String> {
    run("git", args)
}

fn run(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !text.is_empty()).then_some(text)
}
