#!/usr/bin/python3
"""Producer (the story's "dummy service"): inserts rows into PostgreSQL in bursts.

Every BURST_INTERVAL seconds it inserts PRODUCER_RATE * BURST_INTERVAL rows, in small
transactions of ROWS_PER_TXN rows, then sleeps for the rest of the interval with
select.select([], [], [], timeout): nfds 0 and a timeout, the portable sub-second sleep
that the story found with `strace -e select`. Note: glibc 2.36 (Debian 12) implements
select() with the pselect6 system call, so the kernel sees pselect6(0, NULL, NULL, NULL, ...).

It publishes its own count to $LAB_DIR/producer.count so `run.sh status` can compute rows/s.
"""
import os
import select
import signal
import sys
import time

import psycopg2

from common import env_float, env_int, write_counter

LAB_DIR = os.environ.get("LAB_DIR", "/tmp/bpfkit-pipeline")
PG_PORT = env_int("PG_PORT", 25432)
RATE = env_float("PRODUCER_RATE", 3000.0)
BURST_INTERVAL = env_float("BURST_INTERVAL", 0.5)
ROWS_PER_TXN = env_int("ROWS_PER_TXN", 10)


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # TCP, not the unix socket: the traffic must be visible to tcptop.
    conn = psycopg2.connect(host="127.0.0.1", port=PG_PORT, user="postgres", dbname="postgres")
    conn.autocommit = True  # every INSERT statement is its own transaction: one round trip
    cur = conn.cursor()
    total = 0
    owed = 0.0  # fractional rows carried between bursts so the long-run rate is exact
    deadline = time.monotonic()
    while True:
        # Published as each burst starts: the total is exact then (the producer is idle
        # between bursts) and the start times follow the timer, so the rate between two
        # readings does not jitter with how long a burst takes.
        write_counter(LAB_DIR, "producer", total)
        owed += RATE * BURST_INTERVAL
        burst = int(owed)
        owed -= burst
        while burst > 0:
            n = min(ROWS_PER_TXN, burst)
            placeholders = ",".join(["(%s)"] * n)
            args = [f"order {total + i} customer {(total + i) * 7919 % 100000} amount {(total + i) % 997}.00 "
                    f"status=created note=synthetic-row-for-the-bpfkit-pipeline-lab" for i in range(n)]
            cur.execute(f"INSERT INTO events (payload) VALUES {placeholders}", args)
            total += n
            burst -= n
        deadline += BURST_INTERVAL
        timeout = deadline - time.monotonic()
        if timeout > 0:
            select.select([], [], [], timeout)
        else:
            deadline = time.monotonic()  # overloaded: do not try to catch up in a tight loop


if __name__ == "__main__":
    main()
