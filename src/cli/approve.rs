//! `runbook approve PLAN SIGFILE`: hand in an approver's SSH signature of a plan's challenge.

use std::io::Read;
use std::path::PathBuf;

use clap::Args;

use super::Globals;
use crate::approval::plan::Plan;
use crate::approval::{flow, record, verify};
use crate::audit::event::{self, CoSign, Event, Signature};
use crate::error::{exit, Error, Result};
use crate::identity::Operator;

pub const APPROVE_EXAMPLES: &str = "\
Examples:
  runbook approve gateway.plan gateway.challenge.sig
  runbook approve gateway.plan -                read the signature pasted on stdin

The signature is made on the approver's own workstation with
  ssh-keygen -Y sign -n runbook-plan@HOST -f ~/.ssh/id_ed25519 gateway.challenge
It counts for the account whose ~/.ssh/authorized_keys on this server holds the key (never
the key's comment), under that namespace only, for this plan only, once.

After a plan ran under break-glass (run --plan PLAN --break-glass REASON), the same command
by a second operator co-signs that run; the operator who broke the glass cannot.

Every signature handed in is recorded, accepted or not (runbook log, runbook replay).

Exit codes: 0 recorded; 3 refused (bad signature, unknown key, other namespace, expired,
a co-sign by the break-glass operator); 4 the audit store could not record it.";

#[derive(Debug, Args)]
pub struct ApproveArgs {
    /// The plan file (`runbook plan` wrote it)
    pub plan: PathBuf,
    /// The signature file `ssh-keygen -Y sign` wrote, or - for stdin
    pub signature: PathBuf,
}

pub fn run(args: &ApproveArgs, globals: &Globals) -> Result<i32> {
    let site = super::run::load_site(globals.cli_site.as_deref())?;
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
    let rt = super::runtime()?;
    let ctx = Ctx {
        db: &globals.audit_db,
        rt: &rt,
        operator: Operator::detect(),
    };
    let mut plan = match Plan::load(&args.plan) {
        Ok(plan) => plan,
        Err(e) => {
            let subject = record::Subject::peek(&args.plan);
            return Err(ctx.reject(&subject, verdict_of(&subject, None, None), e));
        }
    };
    let subject = record::Subject::of(&plan);
    let now = chrono::Utc::now();
    flow::check_host(&plan, &ctx.operator.hostname)
        .map_err(|e| ctx.reject(&subject, verdict_of(&subject, None, None), e))?;
    let glass = rt
        .block_on(record::break_glass_run(ctx.db, &plan.plan_hash))
        .map_err(|e| Error::Audit(e.to_string()))?;
    if let Some((run, glass)) = glass {
        return co_sign(&ctx, &plan, &subject, &pem, &site, run, glass);
    }
    let verified = verify::verify(&pem, &plan.challenge_bytes(), &plan.namespace(), &site);
    let signer = match verified {
        Ok(signer) => signer,
        Err(r) => {
            let event = verdict_of(&subject, r.key.as_ref(), r.principal.as_deref());
            return Err(ctx.reject(&subject, event, r.reason));
        }
    };
    let event = verdict_of(
        &subject,
        Some(&key_of(&signer, &plan)),
        Some(&signer.principal),
    );
    flow::check_expiry(&plan, now).map_err(|e| ctx.reject(&subject, event.clone(), e))?;
    let own = signer.principal == plan.requester.login;
    let accepted = Signature {
        verdict: event::ACCEPTED.into(),
        reason: if own {
            "the requester's own signature: recorded, never counted".into()
        } else {
            "added to the plan's approvals".into()
        },
        ..event
    };
    // On record before the plan file says so: an approval the audit store cannot take is
    // not added.
    ctx.record(&subject, accepted.into(), None)?;
    flow::add_approval(&mut plan, &pem, &site, now).map_err(|r| Error::Refused(r.reason))?;
    plan.save(&args.plan).map_err(Error::Usage)?;
    let own = if own {
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

/// Where and as whom approve records what it decided.
struct Ctx<'a> {
    db: &'a std::path::Path,
    rt: &'a tokio::runtime::Runtime,
    operator: Operator,
}

impl Ctx<'_> {
    fn record(
        &self,
        subject: &record::Subject,
        event: Event,
        refused: Option<&str>,
    ) -> Result<String> {
        self.rt
            .block_on(record::record(
                self.db,
                record::APPROVE,
                subject,
                &self.operator,
                event,
                refused,
            ))
            .map_err(|e| {
                Error::Audit(format!(
                    "the approval could not be recorded, so nothing was changed: {e}"
                ))
            })
    }

    /// Record a rejected signature and return the refusal to exit with (3). A store that
    /// cannot record it does not turn the refusal into anything else.
    fn reject(&self, subject: &record::Subject, event: Signature, reason: String) -> Error {
        let event = Signature {
            verdict: event::REJECTED.into(),
            reason: reason.clone(),
            ..event
        };
        match self.record(subject, event.into(), Some(&reason)) {
            Ok(_) => Error::Refused(reason),
            Err(e) => Error::Refused(format!("{reason}\n({e})")),
        }
    }
}

fn key_of(signer: &verify::Signer, plan: &Plan) -> verify::KeyInfo {
    verify::KeyInfo {
        namespace: plan.namespace(),
        fingerprint: signer.fingerprint.clone(),
        algorithm: signer.key_type.clone(),
    }
}

/// A `signature` event about `subject` with what is known of the key; verdict and reason
/// are filled in by the caller.
fn verdict_of(
    subject: &record::Subject,
    key: Option<&verify::KeyInfo>,
    principal: Option<&str>,
) -> Signature {
    Signature {
        plan_hash: subject.plan_hash.clone(),
        principal: principal.map(str::to_string),
        fingerprint: key.map(|k| k.fingerprint.clone()),
        algorithm: key.map(|k| k.algorithm.clone()),
        namespace: key.map(|k| k.namespace.clone()),
        verdict: String::new(),
        reason: String::new(),
        requester: subject.requester.clone(),
    }
}

/// The plan ran under break-glass: this signature is a co-sign of that run, by a second
/// operator (never the one who broke the glass, nor the requester). Its expiry does not
/// matter any more: the plan ran, and the co-sign is the review of what was done.
fn co_sign(
    ctx: &Ctx,
    plan: &Plan,
    subject: &record::Subject,
    pem: &str,
    site: &crate::site::Site,
    run: String,
    glass: crate::audit::event::BreakGlass,
) -> Result<i32> {
    let signer =
        verify::verify(pem, &plan.challenge_bytes(), &plan.namespace(), site).map_err(|r| {
            let event = verdict_of(subject, r.key.as_ref(), r.principal.as_deref());
            ctx.reject(subject, event, r.reason)
        })?;
    let event = verdict_of(
        subject,
        Some(&key_of(&signer, plan)),
        Some(&signer.principal),
    );
    if signer.principal == glass.principal || signer.principal == plan.requester.login {
        let why = format!(
            "{} {} plan {}: a co-sign of break-glass run {run} must be by a second operator, so it does not count",
            signer.principal,
            if signer.principal == glass.principal {
                "broke the glass for"
            } else {
                "requested"
            },
            plan.plan_hash
        );
        return Err(ctx.reject(subject, event, why));
    }
    let cosign = CoSign {
        plan_hash: plan.plan_hash.clone(),
        run: run.clone(),
        principal: signer.principal.clone(),
        fingerprint: signer.fingerprint.clone(),
        algorithm: signer.key_type.clone(),
    };
    ctx.record(subject, cosign.into(), None)?;
    println!(
        "break-glass run {run} (by {}) co-signed by {} ({} key {})",
        glass.principal, signer.principal, signer.key_type, signer.fingerprint
    );
    Ok(exit::OK)
}
