//! `runbook`: see `runbook --help`. All the work happens in the library (`src/cli`).

fn main() {
    std::process::exit(runbook::cli::main());
}
