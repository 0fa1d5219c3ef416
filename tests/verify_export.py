#!/usr/bin/env python3
"""Re-verify a `runbook audit export` without runbook.

Usage: verify_export.py [--partial] [EXPORT.jsonl]    (reads stdin without a file)

Checks every event's hash against the canonical encoding (see src/audit/chain.rs) and, unless
--partial is given (for `--run` exports, whose events are not adjacent in the chain), that each
event's prev_hash is the previous line's hash. The first line may start mid-chain (`--since`
exports); its prev_hash is then printed as the anchor. Exit status 0 when everything verifies,
1 at the first problem.
"""
import hashlib
import json
import sys

GENESIS = "0" * 64


def field(x):
    if x is None:
        return b"-\n"
    b = str(x).encode("utf-8")
    return str(len(b)).encode() + b":" + b + b"\n"


def event_hash(e):
    m = b"runbook-audit-v1\n" + b"".join(
        field(e[k]) for k in ("prev_hash", "run", "seq", "time", "kind", "step", "payload_text")
    )
    return hashlib.sha256(m).hexdigest()


def main(argv):
    partial = "--partial" in argv
    paths = [a for a in argv if a != "--partial"]
    stream = open(paths[0], encoding="utf-8") if paths else sys.stdin
    prev, count, anchor = None, 0, None
    for lineno, line in enumerate(stream, 1):
        e = json.loads(line)
        where = f"line {lineno} (event {e['id']}, run {e['run']}, seq {e['seq']})"
        if prev is None:
            anchor = e["prev_hash"]
        elif not partial and e["prev_hash"] != prev:
            print(f"BROKEN {where}: prev_hash {e['prev_hash']} != previous hash {prev}")
            return 1
        if event_hash(e) != e["hash"]:
            print(f"BROKEN {where}: hash {e['hash']} != recomputed {event_hash(e)}")
            return 1
        prev, count = e["hash"], count + 1
    start = "the genesis" if anchor in (None, GENESIS) else f"anchor {anchor}"
    print(f"ok: {count} events from {start}, head {prev or GENESIS}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
