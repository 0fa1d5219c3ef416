//! In the twin (real journald): triage with its audit database on a full file system still
//! reports, and the journal keeps its start, findings and end.

mod common;

use common::twin::{self, available, exec, exec_ok, lock, must, runbook};

#[test]
fn triage_on_a_full_disk_reports_and_the_journal_keeps_the_run() {
    if !available() {
        return;
    }
    let _g = lock();
    must("reset", &[]);
    exec_ok(&[
        "sh",
        "-c",
        "umount -l /tmp/fulldb 2>/dev/null; mkdir -p /tmp/fulldb && \
         mount -t tmpfs -o size=1m tmpfs /tmp/fulldb && \
         (dd if=/dev/zero of=/tmp/fulldb/fill bs=64k 2>/dev/null; true)",
    ]);
    let out = runbook(&[
        "--audit-db",
        "/tmp/fulldb/audit.db",
        "run",
        "triage",
        "--json",
    ]);
    let v = twin::completed(&out);
    let store = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["subject"] == "audit store")
        .cloned()
        .unwrap_or_else(|| panic!("no audit store finding: {v}"));
    assert_eq!(store["severity"], "crit");
    assert!(
        store["summary"].as_str().unwrap().contains("full"),
        "{store}"
    );
    let run = v["run_id"].as_str().unwrap().to_string();
    // journald receives datagrams asynchronously: give it a moment.
    let ok = twin::poll(std::time::Duration::from_secs(10), || {
        let j = exec(&[
            "journalctl",
            "-o",
            "cat",
            "--no-pager",
            "SYSLOG_IDENTIFIER=runbook",
            &format!("RUNBOOK_RUN={run}"),
            "RUNBOOK_RECORDED=no",
        ]);
        j.stdout.contains("run-start") && j.stdout.contains("run-end")
    });
    let shown = exec(&[
        "journalctl",
        "--no-pager",
        "-o",
        "verbose",
        "SYSLOG_IDENTIFIER=runbook",
        &format!("RUNBOOK_RUN={run}"),
    ]);
    exec(&["umount", "-l", "/tmp/fulldb"]);
    assert!(
        ok,
        "the journal lacks the run's start or end:\n{}",
        shown.stdout
    );
    assert!(shown.stdout.contains("finding"), "{}", shown.stdout);
}
