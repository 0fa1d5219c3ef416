//! `cargo xtask`: what packaging needs and the binary does not carry.
//!
//! - `cargo xtask assets DIR`: a man page per subcommand (`runbook.1`, `runbook-run.1`,
//!   `runbook-audit-verify.1`, ...; gzip'd) from the clap definitions, with EXAMPLES from each
//!   subcommand's `--help`, and EXIT STATUS, ENVIRONMENT and FILES on `runbook(1)` and
//!   `runbook-run(1)`; and the bash, zsh and fish completion scripts (dynamic: they call
//!   `runbook` back at each TAB).
//! - `cargo xtask deb`: a stripped release build, the assets in `target/assets`, then
//!   `cargo deb --no-build` (metadata in Cargo.toml's `[package.metadata.deb]`).

mod man;

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["assets", dir] => assets(Path::new(dir)),
        ["deb"] => deb(),
        _ => Err("usage: cargo xtask assets DIR | cargo xtask deb".to_string()),
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn assets(dir: &Path) -> Result<(), String> {
    let io = |what: &str, e: std::io::Error| format!("{what} in {}: {e}", dir.display());
    let man_dir = dir.join("man");
    let comp_dir = dir.join("completions");
    for d in [&man_dir, &comp_dir] {
        if d.exists() {
            std::fs::remove_dir_all(d).map_err(|e| io("clearing", e))?;
        }
        std::fs::create_dir_all(d).map_err(|e| io("creating", e))?;
    }
    let pages = man::write_all(&man_dir).map_err(|e| io("writing man pages", e))?;
    run(Command::new("gzip").arg("-9nf").args(&pages))?;
    for (shell, file) in [
        ("bash", "runbook"),
        ("zsh", "_runbook"),
        ("fish", "runbook.fish"),
    ] {
        let mut text = Vec::new();
        runbook::cli::complete::registration(shell, &mut text)
            .map_err(|e| io("writing completions", e))?;
        std::fs::write(comp_dir.join(file), text).map_err(|e| io("writing completions", e))?;
    }
    println!(
        "{} man pages and 3 completion scripts in {}",
        pages.len(),
        dir.display()
    );
    Ok(())
}

fn deb() -> Result<(), String> {
    let root = root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    run(Command::new(&cargo)
        .args(["build", "--release", "--locked", "--bin", "runbook"])
        .current_dir(&root))?;
    assets(&root.join("target/assets"))?;
    run(Command::new(&cargo)
        .args(["deb", "--no-build", "--strip", "--locked", "-p", "runbook"])
        .current_dir(&root))
    .map_err(|e| format!("{e} (cargo-deb missing? `cargo install cargo-deb`)"))
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run {:?}: {e}", cmd.get_program()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?} failed: {status}"))
    }
}
