//! `runbook approve PLAN SIGFILE`: hand in an approver's SSH signature of a plan's challenge.

use std::io::Read;
use std::path::PathBuf;

use clap::Args;

use super::Globals;
use crate::approval::flow;
use crate::approval::plan::Plan;
use crate::error::{exit, Error, Result};

pub const APPROVE_EXAMPLES: &str = "\
Examples:
  runbook approve gateway.plan gateway.challenge.sig
  runbook approve gateway.plan -                read the signature pasted on stdin

The signature is made on the approver's own workstation with
  ssh-keygen -Y sign -n runbook-plan@HOST -f ~/.ssh/id_ed25519 gateway.challenge
It counts for the account whose ~/.ssh/authorized_keys on this server holds the key (never
the key's comment), under that namespace only, for this plan only, once.

Exit codes: 0 recorded; 3 refused (bad signature, unknown key, other namespace, expired).";

#[derive(Debug, Args)]
pub struct ApproveArgs {
    /// The plan file (`runbook plan` wrote it)
    pub plan: PathBuf,
    /// The signature file `ssh-keygen -Y sign` wrote, or - for stdin
    pub signature: PathBuf,
}

pub fn run(args: &ApproveArgs, globals: &Globals) -> Result<i32> {
    let site = super::run::load_site(globals.cli_site.as_deref())?;
    let mut plan = Plan::load(&args.plan).map_err(Error::Refused)?;
    let now = chrono::Utc::now();
    let host = crate::audit::process::hostname();
    flow::check_usable(&plan, &host, now).map_err(Error::Refused)?;
    let pem = if args.signature.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Error::Usage(format!("cannot read the signature from stdin: {e}")))?;
        text
    } else {
        std::fs::read_to_string(&args.signature)
            .map_err(|e| Error::Usage(format!("cannot read {}: {e}", args.signature.display())))?
    };
    let signer = flow::add_approval(&mut plan, &pem, &site, now).map_err(Error::Refused)?;
    plan.save(&args.plan).map_err(Error::Usage)?;
    let own = if signer.principal == plan.requester.login {
        " (the requester's own: it will not count)"
    } else {
        ""
    };
    println!(
        "approval by {} ({} key {}) added to {}{own}",
        signer.principal,
        signer.key_type,
        signer.fingerprint,
        args.plan.display()
    );
    Ok(exit::OK)
}
