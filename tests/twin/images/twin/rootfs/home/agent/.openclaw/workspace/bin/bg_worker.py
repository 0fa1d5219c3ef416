#!/usr/bin/env python3
"""Twin stand-in for the OpenClaw background job worker.

Rewrites runtime/worker-heartbeat.json every 5 s, atomically (temp file + rename):
    {"ts": <unix seconds>, "iso": "...Z", "pid": <pid>, "jobs_running": <n>}
On start, jobs left RUNNING by a previous instance are marked FAILED (as on the server).

Fault flags (tests/twin/fault):
  /run/openclaw/fault-stale-heartbeat  stop refreshing; the heartbeat is backdated once by the
                                       number of seconds in the flag (default 900)
  /run/openclaw/fault-error-burst      log N error lines (flag content, default 20), remove flag
"""
import datetime
import glob
import json
import os
import signal
import sys
import tempfile
import time

WORKSPACE = os.path.expanduser("~agent/.openclaw/workspace")
RUNTIME = os.path.join(WORKSPACE, "runtime")
HEARTBEAT = os.path.join(RUNTIME, "worker-heartbeat.json")
JOBS = os.path.join(RUNTIME, "jobs")
STALE_FLAG = "/run/openclaw/fault-stale-heartbeat"
BURST_FLAG = "/run/openclaw/fault-error-burst"
INTERVAL = 5


def log(msg, prio=6):
    # systemd reads the <N> prefix as the syslog priority of the line (3 = err).
    print(f"<{prio}>bg-worker: {msg}", flush=True)


def flag_int(path, default):
    try:
        with open(path) as f:
            return int(f.read().strip() or default)
    except (OSError, ValueError):
        return default


def jobs():
    out = []
    for path in sorted(glob.glob(os.path.join(JOBS, "*.json"))):
        try:
            with open(path) as f:
                out.append((path, json.load(f)))
        except (OSError, ValueError):
            continue
    return out


def fail_orphans():
    for path, job in jobs():
        if job.get("state") == "RUNNING":
            job["state"] = "FAILED"
            job["error"] = "worker restarted while job was running"
            write_json(path, job)
            log(f"job {job.get('id', os.path.basename(path))} marked FAILED (orphaned)", 4)


def write_json(path, obj, mtime=None):
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        if mtime is not None:
            os.utime(tmp, (mtime, mtime))
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def heartbeat(ts):
    running = sum(1 for _, j in jobs() if j.get("state") == "RUNNING")
    iso = datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    write_json(HEARTBEAT, {"ts": ts, "iso": iso, "pid": os.getpid(), "jobs_running": running},
               mtime=ts)


def error_burst():
    n = flag_int(BURST_FLAG, 20)
    for i in range(1, n + 1):
        log(f"job runner error {i}/{n}: ReadyMode session rejected (HTTP 401), giving up", 3)
    try:
        os.unlink(BURST_FLAG)
    except OSError:
        pass


def main():
    os.makedirs(JOBS, exist_ok=True)
    signal.signal(signal.SIGHUP, lambda *_: log("SIGHUP: allowlist and config reloaded"))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    fail_orphans()
    log(f"started, heartbeat every {INTERVAL}s -> {HEARTBEAT}")
    last = 0
    stale = False
    beats = 0
    while True:
        now = int(time.time())
        if os.path.exists(BURST_FLAG):
            error_burst()
        if os.path.exists(STALE_FLAG):
            if not stale:
                age = flag_int(STALE_FLAG, 900)
                heartbeat(now - age)
                stale = True
                log(f"heartbeat loop stalled (last beat {age}s ago)", 4)
        else:
            if stale:
                log("heartbeat loop resumed")
                stale = False
                last = 0
            if now - last >= INTERVAL:
                heartbeat(now)
                last = now
                beats += 1
                if beats % 12 == 1:
                    log("heartbeat ok, 0 jobs queued")
        time.sleep(1)


if __name__ == "__main__":
    sys.exit(main())
