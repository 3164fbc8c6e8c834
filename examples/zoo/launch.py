#!/usr/bin/python3
"""A supervisor, as in real deployments: starts each stage as a child with the same python3
executable (subprocess), records their pids, and waits. If one stage exits, it stops the rest.

  launch.py ROLE:SCRIPT[:ARG...] ...     (started in order; cwd is the caller's)
"""
import os
import signal
import subprocess
import sys
import time

import zoo

children = []


def stop(*_):
    for _, p in children:
        if p.poll() is None:
            p.terminate()
    deadline = time.monotonic() + 3
    for _, p in children:
        try:
            p.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
    os._exit(0)


def main():
    signal.signal(signal.SIGTERM, stop)
    for spec in sys.argv[1:]:
        role, script, *args = spec.split(":")
        log = open(os.path.join(zoo.STATE, role + ".log"), "w")
        p = subprocess.Popen([sys.executable, script, *args], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        children.append((role, p))
        zoo.write_pid(role, p.pid)
    # Any exit ends the pipeline: a half pipeline would be a different experiment.
    os.wait()
    stop()


if __name__ == "__main__":
    main()
