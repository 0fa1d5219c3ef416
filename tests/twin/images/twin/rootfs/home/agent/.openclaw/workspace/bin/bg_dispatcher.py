#!/usr/bin/env python3
"""Twin stand-in for the /bg dispatcher: a long-running loop that logs now and then.
Has no reload: SIGHUP ends it, like any process that does not handle the signal."""
import signal
import sys
import time


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("bg-dispatcher: started, routing /bg commands to the worker", flush=True)
    n = 0
    while True:
        time.sleep(1)
        n += 1
        if n % 60 == 0:
            print("bg-dispatcher: idle, 0 commands pending", flush=True)


if __name__ == "__main__":
    sys.exit(main())
