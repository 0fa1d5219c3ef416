//! Change control against the real server replica: real sshd accounts, the operators' real
//! authorized_keys, their private keys in /etc/twin/keys, signatures made by `ssh-keygen -Y
//! sign` inside the twin, and a real restart of the gateway only when miguel signed.
//!
//! Needs a running twin (`tests/twin/e2e` brings it up and sets RUNBOOK_TWIN=1).

mod common;

use common::twin::{available, exec, exec_ok, lock, must, runbook};
use common::Run;

const DIR: &str = "/tmp/approvals";

fn main_pid() -> String {
    exec_ok(&[
        "systemctl",
        "show",
        "-p",
        "MainPID",
        "--value",
        "openclaw-gateway",
    ])
}

fn sh(script: &str) -> Run {
    exec(&["sh", "-c", script])
}

fn plan(name: &str, args: &str) -> String {
    let path = format!("{DIR}/{name}.plan");
    let out = sh(&format!("NO_COLOR=1 runbook plan {args} -o {path}"));
    assert_eq!(out.code, 0, "plan {args}: {}", out.all());
    path
}

fn challenge(plan: &str) -> String {
    plan.replace(".plan", ".challenge")
}

fn namespace(plan: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(&exec_ok(&["cat", plan])).unwrap();
    format!("runbook-plan@{}", v["host"].as_str().unwrap())
}

/// Sign the plan's challenge with KEY under NAMESPACE (as the approver would, with
/// ssh-keygen) and hand it in; returns approve's result.
fn approve_with(plan: &str, key: &str, ns: &str) -> Run {
    let ch = challenge(plan);
    sh(&format!(
        "rm -f {ch}.sig && ssh-keygen -q -Y sign -n {ns} -f {key} {ch} && NO_COLOR=1 runbook approve {plan} {ch}.sig"
    ))
}

fn run_plan(plan: &str) -> Run {
    runbook(&["run", "--plan", plan, "--json"])
}

fn setup() {
    exec_ok(&[
        "sh",
        "-c",
        &format!("rm -rf {DIR} && mkdir -p {DIR} && chmod 777 {DIR}"),
    ]);
    // An ed25519 key for miguel beside his RSA one, and a key in nobody's file whose comment
    // claims miguel.
    sh(&format!(
        "ssh-keygen -q -t ed25519 -N '' -C miguel@ed -f {DIR}/miguel_ed && \
         ssh-keygen -q -t ed25519 -N '' -C miguel -f {DIR}/impostor && \
         cp /home/miguel/.ssh/authorized_keys {DIR}/miguel.ak.orig && \
         cat {DIR}/miguel_ed.pub >> /home/miguel/.ssh/authorized_keys"
    ));
}

fn restore_site() {
    sh("cp /usr/local/share/runbook/site.orig /etc/runbook/site.yaml 2>/dev/null; true");
}

fn teardown() {
    restore_site();
    sh(&format!(
        "cp {DIR}/miguel.ak.orig /home/miguel/.ssh/authorized_keys"
    ));
}

#[test]
fn the_gateway_restarts_only_with_miguels_signature() {
    if !available() {
        return;
    }
    let _g = lock();
    must("reset", &[]);
    setup();
    let pid = main_pid();
    let args = "restart-unit -p unit=openclaw-gateway -p reason=after-incident";

    // Without an approval: refused, untouched, and the plain run too.
    let p = plan("none", args);
    let out = run_plan(&p);
    assert_eq!(out.code, 3, "{}", out.all());
    assert!(
        out.stderr.contains("needs 1 approval(s) by miguel"),
        "{}",
        out.stderr
    );
    let out = runbook(&[
        "run",
        "restart-unit",
        "-p",
        "unit=openclaw-gateway",
        "--yes",
    ]);
    assert_eq!(out.code, 3, "{}", out.all());
    assert!(out.stderr.contains("needs an approval"), "{}", out.stderr);
    assert_eq!(main_pid(), pid);

    // The requester's own signature: miguel plans it himself (as the miguel account), signs
    // it, and it does not count.
    let own = format!("{DIR}/own.plan");
    let out = sh(&format!(
        "su miguel -c 'NO_COLOR=1 runbook plan {args} -o {own}'"
    ));
    assert_eq!(out.code, 0, "{}", out.all());
    let ns = namespace(&own);
    let out = approve_with(&own, "/etc/twin/keys/miguel", &ns);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("the requester's own"), "{}", out.stdout);
    let out = run_plan(&own);
    assert_eq!(out.code, 3, "{}", out.all());
    assert!(out.stderr.contains("has 0"), "{}", out.stderr);

    let p = plan("bad", args);
    let ns = namespace(&p);
    // Juanesteban's real key: a principal, but not miguel.
    let out = approve_with(&p, "/etc/twin/keys/juanesteban", &ns);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stdout.contains("approval by juanesteban"),
        "{}",
        out.stdout
    );
    let out = run_plan(&p);
    assert_eq!(out.code, 3, "{}", out.all());
    // A key whose comment says miguel, in nobody's authorized_keys.
    let out = approve_with(&p, &format!("{DIR}/impostor"), &ns);
    assert_eq!(out.code, 3, "{}", out.all());
    assert!(
        out.stderr.contains("in no operator's authorized_keys"),
        "{}",
        out.stderr
    );
    // Miguel's key under git's namespace.
    let out = approve_with(&p, "/etc/twin/keys/miguel", "git");
    assert_eq!(out.code, 3, "{}", out.all());
    assert!(out.stderr.contains("namespace `git`"), "{}", out.stderr);
    assert_eq!(main_pid(), pid);

    // Expired.
    let old = plan("old", &format!("{args} --expires-in 5s"));
    let out = approve_with(&old, "/etc/twin/keys/miguel", &ns);
    assert_eq!(out.code, 0, "{}", out.all());
    std::thread::sleep(std::time::Duration::from_millis(6100));
    let out = run_plan(&old);
    assert_eq!(out.code, 3, "{}", out.all());
    assert!(out.stderr.contains("expired"), "{}", out.stderr);

    // A one-byte change of the params: miguel's approval of one plan does not carry over.
    let a = plan("a", args);
    approve_with(&a, "/etc/twin/keys/miguel", &ns);
    let b = plan(
        "b",
        "restart-unit -p unit=openclaw-gateway -p reason=after-incidenT",
    );
    sh(&format!(
        "python3 -c \"import json; a=json.load(open('{a}')); b=json.load(open('{b}')); b['approvals']=a['approvals']; json.dump(b, open('{b}','w'))\""
    ));
    let out = run_plan(&b);
    assert_eq!(out.code, 3, "{}", out.all());
    assert!(out.stderr.contains("does not verify"), "{}", out.stderr);

    // The site config changed after the plan: drift.
    let s = plan("site", args);
    approve_with(&s, "/etc/twin/keys/miguel", &ns);
    sh("cp /etc/runbook/site.yaml /usr/local/share/runbook/site.orig && sed -i 's/Reverse proxy;/Reverse proxy (edited);/' /etc/runbook/site.yaml");
    let out = run_plan(&s);
    restore_site();
    assert_eq!(out.code, 3, "{}", out.all());
    assert!(
        out.stderr.contains("site config sha256 (plan)"),
        "{}",
        out.stderr
    );

    // The unit's state changed after the plan (restarted by hand): drift, shown.
    let d = plan("drift", args);
    approve_with(&d, "/etc/twin/keys/miguel", &ns);
    exec_ok(&["systemctl", "restart", "openclaw-gateway"]);
    let pid = main_pid();
    let out = run_plan(&d);
    assert_eq!(out.code, 3, "{}", out.all());
    assert!(
        out.stderr.contains("planned effects (plan)"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("main_pid"), "{}", out.stderr);
    assert_eq!(main_pid(), pid);

    // Accepted: miguel's RSA key, then his ed25519 key; each restarts the gateway once, and
    // the record names miguel and the key's fingerprint.
    for (key, kind) in [
        ("/etc/twin/keys/miguel", "ssh-rsa"),
        (&format!("{DIR}/miguel_ed") as &str, "ssh-ed25519"),
    ] {
        let before = main_pid();
        let p = plan(&format!("ok-{kind}"), args);
        let out = approve_with(&p, key, &ns);
        assert_eq!(out.code, 0, "{}", out.all());
        let out = run_plan(&p);
        assert_eq!(out.code, 0, "{kind}: {}", out.all());
        assert_ne!(main_pid(), before, "{kind}: the gateway was not restarted");
        let run_id = out.json()["run_id"].as_str().unwrap().to_string();
        let replay = runbook(&["replay", &run_id, "--json"]).json();
        let approvals = common::events_of(&replay, "approval");
        assert_eq!(approvals.len(), 1, "{replay}");
        assert_eq!(approvals[0]["payload"]["principal"], "miguel");
        assert_eq!(approvals[0]["payload"]["algorithm"], kind);
        let fp = exec_ok(&["sh", "-c", &format!("ssh-keygen -lf {key} | cut -d' ' -f2")]);
        assert_eq!(approvals[0]["payload"]["fingerprint"], fp.trim());
        // Once only.
        let out = run_plan(&p);
        assert_eq!(out.code, 3, "{}", out.all());
        assert!(out.stderr.contains("already used"), "{}", out.stderr);
    }
    teardown();
    must("reset", &[]);
}

/// Signatures the Rust side accepts pass `ssh-keygen -Y verify` against the same key, and
/// those it refuses fail it, in the twin with the operators' real keys.
#[test]
fn verdicts_agree_with_ssh_keygen_verify_on_the_real_keys() {
    if !available() {
        return;
    }
    let _g = lock();
    setup();
    let p = plan("cross", "restart-unit -p unit=openclaw-gateway");
    let ns = namespace(&p);
    let ch = challenge(&p);
    sh(&format!(
        "printf 'miguel %s\\n' \"$(cut -d' ' -f1,2 /home/miguel/.ssh/authorized_keys | head -1)\" > {DIR}/allowed"
    ));
    for (what, key, sign_ns) in [
        ("miguel rsa", "/etc/twin/keys/miguel", ns.as_str()),
        ("git namespace", "/etc/twin/keys/miguel", "git"),
        (
            "juanesteban as miguel",
            "/etc/twin/keys/juanesteban",
            ns.as_str(),
        ),
    ] {
        let out = approve_with(&p, key, sign_ns);
        let ours = out.code == 0 && out.stdout.contains("approval by miguel");
        let theirs = sh(&format!(
            "ssh-keygen -Y verify -f {DIR}/allowed -I miguel -n {ns} -s {ch}.sig < {ch}"
        ))
        .code
            == 0;
        assert_eq!(ours, theirs, "{what}: runbook {ours}, ssh-keygen {theirs}");
    }
    teardown();
}

/// add-operator needs two of the three approvers: one signature is refused, the same
/// approver twice counts once, two distinct approvers let the account be created.
#[test]
fn add_operator_needs_two_distinct_approvers() {
    if !available() {
        return;
    }
    let _g = lock();
    setup();
    sh("userdel -r jane 2>/dev/null; rm -f /etc/sudoers.d/90-jane");
    let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl jane@laptop";
    let p = plan(
        "jane",
        &format!("add-operator -p name=jane -p 'key={key}' -p approved_by=miguel"),
    );
    let ns = namespace(&p);
    approve_with(&p, "/etc/twin/keys/miguel", &ns);
    let out = run_plan(&p);
    assert_eq!(out.code, 3, "{}", out.all());
    assert!(
        out.stderr.contains("needs 2 approval(s)") && out.stderr.contains("has 1 (miguel)"),
        "{}",
        out.stderr
    );
    approve_with(&p, &format!("{DIR}/miguel_ed"), &ns);
    let out = run_plan(&p);
    assert_eq!(out.code, 3, "{}", out.all());
    assert!(out.stderr.contains("has 1 (miguel)"), "{}", out.stderr);
    assert_ne!(exec(&["id", "jane"]).code, 0);
    let out = approve_with(&p, "/etc/twin/keys/nat", &ns);
    assert!(out.stdout.contains("approval by nat"), "{}", out.stdout);
    // The typed gate is still a human's: on a pseudo-terminal, typing the name.
    let out = sh(&format!(
        "echo jane | script -qec 'NO_COLOR=1 runbook run --plan {p}' /dev/null"
    ));
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(exec_ok(&["id", "-u", "jane"]).trim().parse::<u32>().is_ok());
    let replay = runbook(&["replay", "last", "--json"]).json();
    let who: Vec<String> = common::events_of(&replay, "approval")
        .iter()
        .map(|a| a["payload"]["principal"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(who, vec!["miguel", "miguel", "nat"]);
    sh("userdel -r jane 2>/dev/null; rm -f /etc/sudoers.d/90-jane");
    teardown();
}

/// `runbook ARGS` as miguel through sudo, as an operator logged in over SSH runs it.
fn as_miguel(args: &str) -> Run {
    sh(&format!(
        "su miguel -c \"sudo -n env NO_COLOR=1 runbook {args}\""
    ))
}

/// A refused `run --plan` and an `approve` are on record (log, replay); break-glass for the
/// gateway is refused by the shipped site, naming the field; where the site allows it,
/// miguel restarts the gateway on his own word, shown as not co-signed until nat co-signs,
/// and miguel's own signature is no co-sign.
#[test]
fn refusals_approvals_and_break_glass_are_on_record() {
    if !available() {
        return;
    }
    let _g = lock();
    must("reset", &[]);
    setup();
    let args = "restart-unit -p unit=openclaw-gateway -p reason=wedged";

    let p = plan("rec", args);
    let out = run_plan(&p);
    assert_eq!(out.code, 3, "{}", out.all());
    let log = runbook(&["log"]);
    assert!(
        log.stdout.contains("restart-unit (run-plan)"),
        "{}",
        log.all()
    );
    let replay = runbook(&["replay", "last"]);
    assert!(
        replay.stdout.contains("run --plan refused (quorum)"),
        "{}",
        replay.all()
    );

    let ns = namespace(&p);
    let out = approve_with(&p, "/etc/twin/keys/juanesteban", &ns);
    assert_eq!(out.code, 0, "{}", out.all());
    let replay = runbook(&["replay", "last", "--json"]).json();
    let sig = common::events_of(&replay, "signature")[0]["payload"].clone();
    assert_eq!(sig["verdict"], "accepted", "{replay}");
    assert_eq!(sig["principal"], "juanesteban");
    let fp = exec_ok(&[
        "sh",
        "-c",
        "ssh-keygen -lf /etc/twin/keys/juanesteban | cut -d' ' -f2",
    ]);
    assert_eq!(sig["fingerprint"], fp.trim());

    // The shipped site keeps break-glass off for the gateway.
    let pid = main_pid();
    let out = runbook(&["run", "--plan", &p, "--break-glass", "gateway wedged"]);
    assert_eq!(out.code, 3, "{}", out.all());
    assert!(
        out.stderr
            .contains("`units.openclaw-gateway.break_glass: true`"),
        "{}",
        out.stderr
    );
    assert_eq!(main_pid(), pid);

    // A site that allows it: miguel, the gateway's approver, plans and runs it himself.
    sh("cp /etc/runbook/site.yaml /usr/local/share/runbook/site.orig && \
        sed -i 's/^    approvers: \\[miguel\\]$/    approvers: [miguel]\\n    break_glass: true/' /etc/runbook/site.yaml");
    let glass = format!("{DIR}/glass.plan");
    let out = as_miguel(&format!("plan {args} -o {glass}"));
    assert_eq!(out.code, 0, "{}", out.all());
    let out = as_miguel(&format!(
        "run --plan {glass} --json --break-glass 'gateway wedged, miguel on call'"
    ));
    restore_site();
    assert_eq!(out.code, 0, "{}", out.all());
    assert_ne!(main_pid(), pid, "break-glass did not restart the gateway");
    let json = out.json();
    assert_eq!(json["break_glass"]["principal"], "miguel");
    assert_eq!(json["break_glass"]["co_signed"], false);
    let run_id = json["run_id"].as_str().unwrap().to_string();
    let text = runbook(&["replay", &run_id]).stdout;
    assert!(text.contains("BREAK-GLASS by miguel"), "{text}");
    assert!(text.contains("not co-signed"), "{text}");

    // Miguel's own signature does not co-sign his break-glass; nat's does.
    let out = approve_with(&glass, "/etc/twin/keys/miguel", &ns);
    assert_eq!(out.code, 3, "{}", out.all());
    assert!(
        out.stderr.contains("must be by a second operator"),
        "{}",
        out.stderr
    );
    assert!(runbook(&["replay", &run_id])
        .stdout
        .contains("not co-signed"));
    let out = approve_with(&glass, "/etc/twin/keys/nat", &ns);
    assert_eq!(out.code, 0, "{}", out.all());
    let text = runbook(&["replay", &run_id]).stdout;
    assert!(text.contains("co-signed by nat"), "{text}");
    assert!(!text.contains("not co-signed"), "{text}");
    let replay = runbook(&["replay", &run_id, "--json"]).json();
    assert_eq!(replay["run"]["break_glass"]["co_signed"], true);
    teardown();
    must("reset", &[]);
}
