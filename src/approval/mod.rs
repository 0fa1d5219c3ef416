//! Change control: plans bound by a hash, approvals signed with the approver's own SSH key,
//! quorum without self-approval.
//!
//! ```text
//! runbook plan NAME -p ...     dry run → plan.rs (effects, facts, change table, nonce, plan_hash)
//!                               prints the challenge line to sign
//! ssh-keygen -Y sign -n runbook-plan@HOST -f KEY challenge     on the approver's workstation
//! runbook approve PLAN SIG     verify.rs: SSHSIG against the operators' authorized_keys
//! runbook run --plan PLAN      approvals verified again, quorum.rs, expiry, nonce (single use),
//!                               a fresh dry run compared with the plan (drift), then the run
//!   [--break-glass REASON]      an approver's own word instead, where the site allows it
//! runbook approve PLAN SIG      after a break-glass run: a second operator's co-sign
//! ```
//!
//! Every approve and every refused `run --plan` is recorded as a short run of its own
//! (record.rs), so `log` and `replay` show who tried what and why it was refused.
//!
//! ```text
//! ```
//!
//! The plan file holds the approvals, but nothing in it is trusted: the hash is recomputed,
//! every signature is verified again when the plan is used, and its principal is found again
//! from the keys on the server.

pub mod flow;
pub mod plan;
pub mod quorum;
pub mod record;
pub mod run_plan;
pub mod verify;
