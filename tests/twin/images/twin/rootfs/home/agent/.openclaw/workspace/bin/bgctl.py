#!/usr/bin/env python3
"""Twin stand-in for bgctl: inspect background jobs in runtime/jobs/*.json.

    bgctl.py queue                  active jobs (QUEUED and RUNNING) as JSON
    bgctl.py status JOB_ID          one job as JSON
    bgctl.py logs JOB_ID [--tail N] the job's log
    bgctl.py cancel JOB_ID          mark a QUEUED or RUNNING job CANCELED
"""
import argparse
import json
import os
import sys

JOBS = "/home/agent/.openclaw/workspace/runtime/jobs"


def load(job_id):
    path = os.path.join(JOBS, f"{job_id}.json")
    try:
        with open(path) as f:
            return path, json.load(f)
    except FileNotFoundError:
        print(f"bgctl: no such job: {job_id}", file=sys.stderr)
        sys.exit(1)


def all_jobs():
    out = []
    for name in sorted(os.listdir(JOBS)) if os.path.isdir(JOBS) else []:
        if name.endswith(".json"):
            with open(os.path.join(JOBS, name)) as f:
                out.append(json.load(f))
    return out


def main():
    p = argparse.ArgumentParser(prog="bgctl.py")
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("queue")
    for name in ("status", "cancel"):
        sub.add_parser(name).add_argument("job_id")
    lg = sub.add_parser("logs")
    lg.add_argument("job_id")
    lg.add_argument("--tail", type=int, default=120)
    a = p.parse_args()

    if a.cmd == "queue":
        jobs = [j for j in all_jobs() if j.get("state") in ("QUEUED", "RUNNING")]
        counts = {s: 0 for s in ("QUEUED", "RUNNING")}
        for j in jobs:
            counts[j["state"]] += 1
        print(json.dumps({"jobs": jobs, "counts": counts}, indent=2))
    elif a.cmd == "status":
        print(json.dumps(load(a.job_id)[1], indent=2))
    elif a.cmd == "logs":
        load(a.job_id)
        log = os.path.join(JOBS, f"{a.job_id}.log")
        if os.path.exists(log):
            with open(log) as f:
                sys.stdout.writelines(f.readlines()[-a.tail:])
    elif a.cmd == "cancel":
        path, job = load(a.job_id)
        if job.get("state") not in ("QUEUED", "RUNNING"):
            print(f"bgctl: job {a.job_id} is {job.get('state')}, not cancelable", file=sys.stderr)
            return 1
        job["state"] = "CANCELED"
        with open(path, "w") as f:
            json.dump(job, f)
        print(f"job {a.job_id} CANCELED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
