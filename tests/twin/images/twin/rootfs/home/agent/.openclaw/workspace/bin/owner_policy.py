#!/usr/bin/env python3
"""Twin stand-in for the owner policy daemon (WhatsApp command parser): a long-running loop
that logs now and then and re-reads its policy on SIGHUP.

Fault flag /run/openclaw/fault-crash-loop: exit 1 one second after start (tests/twin/fault)."""
import os
import signal
import sys
import time

CRASH_FLAG = "/run/openclaw/fault-crash-loop"


def log(msg, prio=6):
    print(f"<{prio}>owner-policy: {msg}", flush=True)


def main():
    signal.signal(signal.SIGHUP, lambda *_: log("SIGHUP: owner policy reloaded"))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    log("started, listening for owner commands")
    n = 0
    while True:
        time.sleep(1)
        n += 1
        if os.path.exists(CRASH_FLAG):
            log("fatal: policy store unreadable (unexpected EOF), exiting", 3)
            return 1
        if n % 60 == 0:
            log("idle, 0 commands parsed")


if __name__ == "__main__":
    sys.exit(main())
