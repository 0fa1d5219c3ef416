//! Plans and approvals outside the twin: real keys made by ssh-keygen in a temp dir, real
//! signatures made by `ssh-keygen -Y sign`, the real binary verifying them against the
//! operators' authorized_keys named by the site.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Run, Sandbox};

const WRITER: &str = r#"//! name: approved-write
//! summary: Writes a file; the site says it needs two approvals
//! mutates: true
//! locks: files:approved
//! time to apply: instant
//! downtime: none
//! rollback: write the old text back
//! param path: string, required -- the file
//! param content: string, default "approved" -- what to write
step "Write" {
    files::replace(params.path, params.content + "\n");
}
"#;

struct Keys {
    dir: PathBuf,
}

impl Keys {
    /// A key pair `name` (`ed25519` or `rsa`) with `comment`; returns the private key's path.
    fn make(&self, name: &str, kind: &str, comment: &str) -> PathBuf {
        let path = self.dir.join(name);
        let mut cmd = Command::new("ssh-keygen");
        cmd.args(["-q", "-t", kind, "-N", "", "-C", comment, "-f"])
            .arg(&path);
        if kind == "rsa" {
            cmd.args(["-b", "2048"]);
        }
        assert!(cmd.status().unwrap().success(), "ssh-keygen -t {kind}");
        path
    }

    fn public(&self, key: &Path) -> String {
        std::fs::read_to_string(key.with_extension("pub")).unwrap()
    }
}

/// `ssh-keygen -Y sign -n NAMESPACE -f KEY FILE`, as an approver would; returns FILE.sig.
fn sign(key: &Path, namespace: &str, file: &Path) -> PathBuf {
    let sig = PathBuf::from(format!("{}.sig", file.display()));
    let _ = std::fs::remove_file(&sig);
    let st = Command::new("ssh-keygen")
        .args(["-q", "-Y", "sign", "-n", namespace, "-f"])
        .arg(key)
        .arg(file)
        .status()
        .unwrap();
    assert!(st.success(), "ssh-keygen -Y sign");
    sig
}

struct World {
    sb: Sandbox,
    site: PathBuf,
    tree: PathBuf,
    keys: Keys,
    /// In the authorized_keys of the tests' own login (break-glass world only).
    own_key: PathBuf,
    miguel_rsa: PathBuf,
    miguel_ed: PathBuf,
    juan: PathBuf,
    nat: PathBuf,
    /// In no operator's authorized_keys, with the comment "miguel".
    impostor: PathBuf,
}

fn world() -> World {
    world_with(None)
}

/// The login this test's runs are recorded under (no login uid here: the effective user).
fn own_login() -> String {
    let out = Command::new("id").arg("-un").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A world whose approved-write rule allows break-glass, with the tests' own login among
/// its approvers, holding `own_key` in its authorized_keys (`self_key` names it).
fn break_glass_world() -> World {
    world_with(Some(own_login()))
}

fn world_with(break_glass_by: Option<String>) -> World {
    let sb = Sandbox::new();
    let keys = Keys {
        dir: sb.path().join("keys"),
    };
    std::fs::create_dir_all(&keys.dir).unwrap();
    let miguel_rsa = keys.make("miguel_rsa", "rsa", "miguel@arpagrowth");
    let miguel_ed = keys.make("miguel_ed", "ed25519", "miguel@laptop");
    let juan = keys.make("juan", "ed25519", "juanespg03@gmail.com");
    // Generated on Nat's machine, so its comment says juanesteban (as on the server).
    let nat = keys.make("nat", "ed25519", "juanesteban");
    let impostor = keys.make("impostor", "ed25519", "miguel");
    let ak = |name: &str, text: String| {
        let p = sb.path().join(format!("{name}.authorized_keys"));
        std::fs::write(&p, text).unwrap();
        p
    };
    let miguel_ak = ak(
        "miguel",
        keys.public(&miguel_rsa) + &keys.public(&miguel_ed),
    );
    let juan_ak = ak("juanesteban", keys.public(&juan));
    let nat_ak = ak("nat", keys.public(&nat));
    let base = std::fs::read_to_string(sb.site(&[])).unwrap();
    let mut text = String::new();
    for line in base.lines() {
        text.push_str(line);
        text.push('\n');
        for (who, path) in [
            ("miguel", &miguel_ak),
            ("juanesteban", &juan_ak),
            ("nat", &nat_ak),
        ] {
            if line == format!("    sudoers_file: /etc/sudoers.d/90-{who}") {
                text.push_str(&format!("    authorized_keys: {}\n", path.display()));
            }
        }
        if line == "  runbooks:" {
            match &break_glass_by {
                None => text
                    .push_str("    approved-write: {by: [miguel, juanesteban, nat], count: 2}\n"),
                Some(me) => text.push_str(&format!(
                    "    approved-write: {{by: [miguel, juanesteban, nat, {me}], count: 2, break_glass: true}}\n"
                )),
            }
        }
    }
    let own_key = keys.make("own", "ed25519", "own@workstation");
    if let Some(me) = &break_glass_by {
        let own_ak = ak("own", keys.public(&own_key));
        let entry = format!(
            "  {me}:\n    role: operator\n    can_approve: true\n    authorized_keys: {}\n",
            own_ak.display()
        );
        // The shipped site lists root as a service account: the tests' login becomes an
        // operator who can approve (replacing its entry, or added).
        let mut out = String::new();
        let mut skipping = false;
        for line in text.lines() {
            if line == format!("  {me}:") {
                skipping = true;
                continue;
            }
            if skipping && line.starts_with("    ") {
                continue;
            }
            skipping = false;
            out.push_str(line);
            out.push('\n');
            if line == "operators:" {
                out.push_str(&entry);
            }
        }
        text = out;
    }
    assert!(
        text.contains("approved-write:"),
        "the site has an approvals section"
    );
    let site = sb.path().join("site-approvals.yaml");
    std::fs::write(&site, text).unwrap();
    let tree = sb.tree(&[("approved-write", WRITER)], &[]);
    World {
        sb,
        site,
        tree,
        keys,
        own_key,
        miguel_rsa,
        miguel_ed,
        juan,
        nat,
        impostor,
    }
}

impl World {
    fn runbook(&self) -> common::Runbook {
        self.sb
            .in_tree(&self.tree, &self.site)
            .env("RUNBOOK_LOCK_DIR", self.sb.path().join("locks"))
    }

    fn target(&self) -> PathBuf {
        self.sb.path().join("files/approved.txt")
    }

    /// `runbook plan approved-write` to `name`.plan; returns the plan's path.
    fn plan(&self, name: &str, content: &str, extra: &[&str]) -> PathBuf {
        let path = self.sb.path().join(format!("{name}.plan"));
        self.runbook()
            .args(["plan", "approved-write", "-o"])
            .arg_path("", &path)
            .args(["-p", &format!("content={content}"), "-p"])
            .arg_path("path=", &self.target())
            .args(extra)
            .run()
            .code(0);
        path
    }

    fn plan_json(&self, plan: &Path) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(plan).unwrap()).unwrap()
    }

    fn namespace(&self, plan: &Path) -> String {
        format!(
            "runbook-plan@{}",
            self.plan_json(plan)["host"].as_str().unwrap()
        )
    }

    fn challenge(&self, plan: &Path) -> PathBuf {
        plan.with_extension("challenge")
    }

    fn approve(&self, plan: &Path, sig: &Path) -> Run {
        self.runbook()
            .args(["approve".as_ref(), plan.as_os_str(), sig.as_os_str()])
            .run()
    }

    fn sign_and_approve(&self, plan: &Path, key: &Path) -> Run {
        let sig = sign(key, &self.namespace(plan), &self.challenge(plan));
        self.approve(plan, &sig)
    }

    fn run_plan_break_glass(&self, plan: &Path, reason: &str) -> Run {
        self.run_plan_with(plan, &["--break-glass", reason])
    }

    /// `runbook replay RUN` as text (not a terminal, so without colour).
    fn replay_text(&self, run: &str) -> String {
        self.sb.cmd().args(["replay", run]).run().code(0).stdout
    }

    /// The Markdown and HTML reports of one run.
    fn reports(&self, run: &str) -> (String, String) {
        let md = self.sb.cmd().args(["report", run]).run().code(0).stdout;
        let path = self.sb.path().join(format!("{run}.html"));
        self.sb
            .cmd()
            .args(["report", run, "-o"])
            .arg_path("", &path)
            .run()
            .code(0);
        (md, std::fs::read_to_string(path).unwrap())
    }

    fn replay_json(&self, run: &str) -> serde_json::Value {
        self.sb
            .cmd()
            .args(["replay", run, "--json"])
            .run()
            .code(0)
            .json()
    }

    fn run_plan(&self, plan: &Path) -> Run {
        self.run_plan_with(plan, &[])
    }

    fn run_plan_with(&self, plan: &Path, extra: &[&str]) -> Run {
        self.runbook()
            .args([
                "run".as_ref(),
                "--json".as_ref(),
                "--plan".as_ref(),
                plan.as_os_str(),
            ])
            .args(extra)
            .run()
    }
}

#[test]
fn two_distinct_approvers_let_the_plan_run_once_and_the_record_names_them() {
    let w = world();
    let plan = w.plan("ok", "approved", &[]);
    let challenge = std::fs::read_to_string(w.challenge(&plan)).unwrap();
    let json = w.plan_json(&plan);
    assert_eq!(
        challenge,
        format!(
            "runbook-plan v1 host={} runbook=approved-write expires={} plan_hash={}\n",
            json["host"].as_str().unwrap(),
            json["expires"].as_str().unwrap(),
            json["plan_hash"].as_str().unwrap()
        )
    );
    assert_eq!(json["effects"][0]["function"], "files::replace");
    assert_eq!(json["change"]["rollback"], "write the old text back");

    // Without approvals, and with one: refused, nothing written.
    let out = w.run_plan(&plan).code(3);
    assert!(out.stderr.contains("needs 2 approval(s)"), "{}", out.stderr);
    let out = w.sign_and_approve(&plan, &w.miguel_rsa).code(0);
    assert!(
        out.stdout
            .contains("approval by miguel (ssh-rsa key SHA256:"),
        "{}",
        out.stdout
    );
    let out = w.run_plan(&plan).code(3);
    assert!(out.stderr.contains("has 1 (miguel)"), "{}", out.stderr);
    // The same approver with another of their keys still counts once.
    let out = w.sign_and_approve(&plan, &w.miguel_ed).code(0);
    assert!(
        out.stdout.contains("approval by miguel (ssh-ed25519"),
        "{}",
        out.stdout
    );
    let out = w.run_plan(&plan).code(3);
    assert!(out.stderr.contains("has 1 (miguel)"), "{}", out.stderr);
    assert!(!w.target().exists(), "a refused plan wrote the file");

    // Nat's key says "juanesteban" in its comment: it approves as nat.
    let out = w.sign_and_approve(&plan, &w.nat).code(0);
    assert!(
        out.stdout.contains("approval by nat (ssh-ed25519"),
        "{}",
        out.stdout
    );
    let out = w.run_plan(&plan).code(0);
    assert_eq!(std::fs::read_to_string(w.target()).unwrap(), "approved\n");
    let run_id = out.json()["run_id"].as_str().unwrap().to_string();
    let replay =
        w.sb.cmd()
            .args(["replay", &run_id, "--json"])
            .run()
            .code(0)
            .json();
    let approvals = common::events_of(&replay, "approval");
    let who: Vec<&str> = approvals
        .iter()
        .map(|a| a["payload"]["principal"].as_str().unwrap())
        .collect();
    assert_eq!(who, vec!["miguel", "miguel", "nat"], "{replay}");
    let nat_fp = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(w.nat.with_extension("pub"))
        .output()
        .unwrap();
    let nat_fp = String::from_utf8_lossy(&nat_fp.stdout)
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string();
    assert_eq!(approvals[2]["payload"]["fingerprint"], nat_fp.as_str());
    assert_eq!(approvals[2]["payload"]["plan_hash"], json["plan_hash"]);
    assert_eq!(approvals[2]["payload"]["algorithm"], "ssh-ed25519");
    assert_eq!(approvals[0]["payload"]["algorithm"], "ssh-rsa");

    // Single use: the same plan, with the same approvals, is refused the second time.
    let out = w.run_plan(&plan).code(3);
    assert!(out.stderr.contains("was already used"), "{}", out.stderr);
}

#[test]
fn a_plain_run_of_an_approval_gated_runbook_is_refused() {
    let w = world();
    let out = w
        .runbook()
        .args(["run", "approved-write", "-p"])
        .arg_path("path=", &w.target())
        .run()
        .code(3);
    assert!(out.stderr.contains("needs 2 approval(s)"), "{}", out.stderr);
    assert!(!w.target().exists());
}

#[test]
fn signatures_that_must_not_count_are_refused() {
    let w = world();
    let plan = w.plan("bad", "approved", &[]);
    // A key in no operator's authorized_keys, whose comment claims miguel.
    let out = w.sign_and_approve(&plan, &w.impostor).code(3);
    assert!(
        out.stderr.contains("is in no operator's authorized_keys"),
        "{}",
        out.stderr
    );
    // Miguel's real key, under git's namespace.
    let sig = sign(&w.miguel_rsa, "git", &w.challenge(&plan));
    let out = w.approve(&plan, &sig).code(3);
    assert!(out.stderr.contains("namespace `git`"), "{}", out.stderr);
    // Miguel's key over another text than this plan's challenge.
    let other = w.sb.path().join("other.txt");
    std::fs::write(&other, "runbook-plan v1 something else\n").unwrap();
    let sig = sign(&w.miguel_rsa, &w.namespace(&plan), &other);
    let out = w.approve(&plan, &sig).code(3);
    assert!(out.stderr.contains("does not verify"), "{}", out.stderr);
    assert!(w.plan_json(&plan)["approvals"]
        .as_array()
        .unwrap()
        .is_empty());
}

#[test]
fn approvals_of_one_plan_do_not_carry_to_a_plan_one_byte_different() {
    let w = world();
    let a = w.plan("a", "approved", &[]);
    w.sign_and_approve(&a, &w.miguel_rsa).code(0);
    w.sign_and_approve(&a, &w.juan).code(0);
    let b = w.plan("b", "approvee", &[]);
    let mut bj = w.plan_json(&b);
    bj["approvals"] = w.plan_json(&a)["approvals"].clone();
    std::fs::write(&b, serde_json::to_string_pretty(&bj).unwrap()).unwrap();
    let out = w.run_plan(&b).code(3);
    assert!(out.stderr.contains("does not verify"), "{}", out.stderr);
    assert!(!w.target().exists());
    // And editing a plan's parameters breaks its hash.
    let mut aj = w.plan_json(&a);
    aj["params"]["content"] = "approvee".into();
    std::fs::write(&a, serde_json::to_string_pretty(&aj).unwrap()).unwrap();
    let out = w.run_plan(&a).code(3);
    assert!(
        out.stderr.contains("was changed after it was made"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_plan_whose_site_config_changed_has_drifted() {
    let w = world();
    let plan = w.plan("drift", "approved", &[]);
    w.sign_and_approve(&plan, &w.miguel_rsa).code(0);
    w.sign_and_approve(&plan, &w.juan).code(0);
    let text = std::fs::read_to_string(&w.site).unwrap();
    std::fs::write(
        &w.site,
        text.replace("Reverse proxy;", "Reverse proxy (edited);"),
    )
    .unwrap();
    let out = w.run_plan(&plan).code(3);
    assert!(out.stderr.contains("has drifted"), "{}", out.stderr);
    assert!(
        out.stderr.contains("site config sha256 (plan)"),
        "{}",
        out.stderr
    );
    assert!(!w.target().exists());
}

#[test]
fn a_plan_whose_file_changed_has_drifted_and_shows_the_diff() {
    let w = world();
    std::fs::write(w.target(), "before\n").unwrap();
    let plan = w.plan("fact", "approved", &[]);
    w.sign_and_approve(&plan, &w.miguel_rsa).code(0);
    w.sign_and_approve(&plan, &w.juan).code(0);
    std::fs::write(w.target(), "changed meanwhile\n").unwrap();
    let out = w.run_plan(&plan).code(3);
    assert!(
        out.stderr.contains("planned effects (plan)"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("-before"), "{}", out.stderr);
    assert_eq!(
        std::fs::read_to_string(w.target()).unwrap(),
        "changed meanwhile\n"
    );
}

#[test]
fn an_expired_plan_is_refused() {
    let w = world();
    let plan = w.plan("old", "approved", &["--expires-in", "3s"]);
    w.sign_and_approve(&plan, &w.miguel_rsa).code(0);
    w.sign_and_approve(&plan, &w.juan).code(0);
    // Past its expiry (a wait, not a timing assertion).
    std::thread::sleep(std::time::Duration::from_millis(4100));
    let out = w.run_plan(&plan).code(3);
    assert!(out.stderr.contains("expired"), "{}", out.stderr);
}

/// The Rust side and `ssh-keygen -Y verify` agree on every signature: accepted by one,
/// accepted by the other; refused by one, refused by the other.
#[test]
fn verdicts_agree_with_ssh_keygen_verify() {
    let w = world();
    let plan = w.plan("cross", "approved", &[]);
    let ns = w.namespace(&plan);
    let challenge = w.challenge(&plan);
    let other = w.sb.path().join("other.txt");
    std::fs::write(&other, "not the challenge\n").unwrap();
    let other_sig = sign(&w.miguel_ed, &ns, &other);
    let moved = w.sb.path().join("moved.sig");
    std::fs::rename(&other_sig, &moved).unwrap();
    let cases: Vec<(&str, PathBuf)> = vec![
        ("miguel rsa", {
            let s = sign(&w.miguel_rsa, &ns, &challenge);
            let p = w.sb.path().join("rsa.sig");
            std::fs::rename(&s, &p).unwrap();
            p
        }),
        ("miguel ed25519", {
            let s = sign(&w.miguel_ed, &ns, &challenge);
            let p = w.sb.path().join("ed.sig");
            std::fs::rename(&s, &p).unwrap();
            p
        }),
        ("git namespace", {
            let s = sign(&w.miguel_rsa, "git", &challenge);
            let p = w.sb.path().join("git.sig");
            std::fs::rename(&s, &p).unwrap();
            p
        }),
        ("another text", moved),
    ];
    // Allowed signers as ssh-keygen reads them: miguel's keys, for miguel.
    let signers = w.sb.path().join("allowed_signers");
    let mut text = String::new();
    for key in [&w.miguel_rsa, &w.miguel_ed] {
        text.push_str(&format!("miguel {}", w.keys.public(key)));
    }
    std::fs::write(&signers, text).unwrap();
    let mut agreed = 0;
    for (what, sig) in &cases {
        let ours = w.approve(&plan, sig).code == 0;
        let theirs = Command::new("ssh-keygen")
            .args(["-Y", "verify", "-f"])
            .arg(&signers)
            .args(["-I", "miguel", "-n", &ns, "-s"])
            .arg(sig)
            .stdin(std::fs::File::open(&challenge).unwrap())
            .output()
            .unwrap()
            .status
            .success();
        assert_eq!(
            ours, theirs,
            "{what}: runbook approve {ours}, ssh-keygen -Y verify {theirs}"
        );
        agreed += 1;
    }
    assert_eq!(agreed, 4);
    // Both good signatures were accepted by both sides.
    assert_eq!(w.plan_json(&plan)["approvals"].as_array().unwrap().len(), 2);
}

/// Every signature handed in and every refused `run --plan` is a record of its own: `log`
/// lists it by kind, `replay` shows who tried what and why it did not count.
#[test]
fn refusals_and_approvals_are_audit_events_that_log_and_replay_show() {
    let w = world();
    let plan = w.plan("rec", "approved", &[]);
    let hash = w.plan_json(&plan)["plan_hash"]
        .as_str()
        .unwrap()
        .to_string();

    // run --plan without approvals: refused before any run, and recorded.
    w.run_plan(&plan).code(3);
    let log = w.sb.cmd().args(["log"]).run().code(0).stdout;
    assert!(log.contains("approved-write (run-plan)"), "{log}");
    let replay = w.replay_text("last");
    assert!(
        replay.contains("run --plan refused (quorum)") && replay.contains("needs 2 approval(s)"),
        "{replay}"
    );
    let refused = w.replay_json("last");
    assert_eq!(refused["run"]["status"], "refused");
    let ev = common::events_of(&refused, "plan-refused");
    assert_eq!(ev.len(), 1, "{refused}");
    assert_eq!(ev[0]["payload"]["plan_hash"], hash.as_str());
    assert_eq!(ev[0]["payload"]["check"], "quorum");

    // A signature by a key in nobody's authorized_keys: rejected, recorded with its key.
    w.sign_and_approve(&plan, &w.impostor).code(3);
    let rejected = w.replay_json("last");
    let sig = common::events_of(&rejected, "signature");
    assert_eq!(sig.len(), 1, "{rejected}");
    assert_eq!(sig[0]["payload"]["verdict"], "rejected");
    assert!(sig[0]["payload"]["principal"].is_null(), "{rejected}");
    assert!(sig[0]["payload"]["fingerprint"]
        .as_str()
        .unwrap()
        .starts_with("SHA256:"));
    assert!(w.replay_text("last").contains("signature by no operator"));
    // Under git's namespace: the namespace is in the record.
    let git = sign(&w.miguel_rsa, "git", &w.challenge(&plan));
    w.approve(&plan, &git).code(3);
    let sig = w.replay_json("last");
    let sig = common::events_of(&sig, "signature")[0]["payload"].clone();
    assert_eq!(
        (sig["namespace"].as_str(), sig["verdict"].as_str()),
        (Some("git"), Some("rejected"))
    );

    // Miguel's real signature: accepted, with principal, key and namespace.
    w.sign_and_approve(&plan, &w.miguel_rsa).code(0);
    let accepted = w.replay_json("last");
    assert_eq!(accepted["run"]["kind"], "approve");
    let sig = common::events_of(&accepted, "signature")[0]["payload"].clone();
    assert_eq!(sig["verdict"], "accepted");
    assert_eq!(sig["principal"], "miguel");
    assert_eq!(sig["algorithm"], "ssh-rsa");
    assert_eq!(sig["namespace"], w.namespace(&plan).as_str());
    assert_eq!(sig["plan_hash"], hash.as_str());
    let text = w.replay_text("last");
    assert!(
        text.contains("signature by miguel (ssh-rsa SHA256:") && text.contains("accepted"),
        "{text}"
    );
    let log = w.sb.cmd().args(["log"]).run().code(0).stdout;
    assert!(log.contains("approved-write (approve)"), "{log}");

    // A plan file edited after it was made: refused, recorded with the hash it claims.
    let mut edited = w.plan_json(&plan);
    edited["params"]["content"] = "approvee".into();
    std::fs::write(&plan, serde_json::to_string_pretty(&edited).unwrap()).unwrap();
    w.run_plan(&plan).code(3);
    let r = w.replay_json("last");
    let ev = common::events_of(&r, "plan-refused")[0]["payload"].clone();
    assert_eq!(ev["check"], "plan");
    assert_eq!(ev["plan_hash"], hash.as_str());
    assert!(!w.target().exists());
}

/// Break-glass needs a reason (exit 2), and a rule whose site entry allows it (exit 3,
/// naming the field that would); nothing is written either way.
#[test]
fn break_glass_where_the_site_does_not_allow_it_is_refused_naming_the_field() {
    let w = world();
    let plan = w.plan("bg-off", "approved", &[]);
    let out = w.run_plan_break_glass(&plan, " ").code(2);
    assert!(
        out.stderr.contains("--break-glass needs a reason"),
        "{}",
        out.stderr
    );
    let out = w.run_plan_break_glass(&plan, "site down").code(3);
    assert!(
        out.stderr
            .contains("`approvals.runbooks.approved-write.break_glass: true`"),
        "{}",
        out.stderr
    );
    let r = w.replay_json("last");
    assert_eq!(
        common::events_of(&r, "plan-refused")[0]["payload"]["check"],
        "break-glass"
    );
    assert!(!w.target().exists());
}

/// Where the site allows it, break-glass runs the plan on the operator's own word, recorded
/// loudly and shown as not co-signed until a second operator signs; the operator's own
/// signature is no co-sign.
#[test]
fn break_glass_runs_and_shows_uncosigned_until_a_second_operator_co_signs() {
    let w = break_glass_world();
    let me = own_login();
    let plan = w.plan("bg", "broken glass", &[]);
    assert_eq!(w.plan_json(&plan)["requester"]["login"], me.as_str());
    let out = w
        .run_plan_break_glass(&plan, "site down, approvers asleep")
        .code(0);
    assert_eq!(
        std::fs::read_to_string(w.target()).unwrap(),
        "broken glass\n"
    );
    let json = out.json();
    assert_eq!(json["break_glass"]["principal"], me.as_str());
    assert_eq!(json["break_glass"]["reason"], "site down, approvers asleep");
    assert_eq!(json["break_glass"]["co_signed"], false);
    let run_id = json["run_id"].as_str().unwrap().to_string();

    let text = w.replay_text(&run_id);
    assert!(text.contains("BREAK-GLASS by"), "{text}");
    assert!(text.contains("not co-signed"), "{text}");
    let replay = w.replay_json(&run_id);
    assert_eq!(common::events_of(&replay, "break-glass").len(), 1);
    assert_eq!(replay["run"]["break_glass"]["co_signed"], false);
    let (md, html) = w.reports(&run_id);
    assert!(
        md.contains(&format!("**BREAK-GLASS by {me}, not co-signed")),
        "{md}"
    );
    assert!(
        html.contains("<td class=\"break-glass\">BREAK-GLASS by"),
        "{html}"
    );

    // The operator who broke the glass signing it: refused, still not co-signed.
    let out = w.sign_and_approve(&plan, &w.own_key).code(3);
    assert!(
        out.stderr.contains("must be by a second operator"),
        "{}",
        out.stderr
    );
    assert!(w.replay_text(&run_id).contains("not co-signed"));

    // Juanesteban co-signs: the run is co-signed from then on.
    let out = w.sign_and_approve(&plan, &w.juan).code(0);
    assert!(
        out.stdout.contains("co-signed by juanesteban"),
        "{}",
        out.stdout
    );
    let cosign = w.replay_json("last");
    assert_eq!(
        common::events_of(&cosign, "co-sign")[0]["payload"]["run"],
        run_id.as_str()
    );
    let text = w.replay_text(&run_id);
    assert!(text.contains("co-signed by juanesteban"), "{text}");
    assert!(!text.contains("not co-signed"), "{text}");
    let (md, html) = w.reports(&run_id);
    assert!(
        md.contains("co-signed by juanesteban") && !md.contains("not co-signed"),
        "{md}"
    );
    assert!(
        html.contains("<td class=\"co-signed\">break-glass by"),
        "{html}"
    );
    let replay = w.replay_json(&run_id);
    assert_eq!(replay["run"]["break_glass"]["co_signed"], true);
    assert_eq!(
        replay["run"]["break_glass"]["co_signs"][0]["principal"],
        "juanesteban"
    );
    // The plan ran once: break-glass does not make it reusable.
    let out = w.run_plan_break_glass(&plan, "again").code(3);
    assert!(out.stderr.contains("already used"), "{}", out.stderr);
}
