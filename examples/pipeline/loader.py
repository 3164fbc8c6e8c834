#!/usr/bin/python3
"""Loader: copies the database's change log into the transaction log.

Every POLL_INTERVAL seconds (0.1) it takes the next batch of the slot's change log with
    pg_logical_slot_get_changes(slot, NULL, BATCH_SIZE)
and appends every row change to a Redis stream (XADD). BATCH_SIZE defaults to 10: the
story's bottleneck. A poll therefore moves at most one producer transaction (the limit is
only checked at transaction ends, and the producer commits 10 rows at a time), so the
loader tops out at about 10 / 0.1 = 100 changes/s whatever the machine, far below what
the producer writes. With a large batch every poll drains the backlog and it keeps up.

Each batch is handed to a short-lived thread, like the story's loader, which "spawns
quite a few threads". The main thread renames itself "loader" so that `pgrep python3`
finds only the producer, as in the story. Between polls it sleeps with time.sleep
(clock_nanosleep), which tools can tell apart from the producer's select().

It publishes its count to $LAB_DIR/loader.count so `run.sh status` can compute changes/s.
"""
import os
import signal
import sys
import threading
import time

import psycopg2
import redis

from common import env_float, env_int, write_counter

LAB_DIR = os.environ.get("LAB_DIR", "/tmp/bpfkit-pipeline")
PG_PORT = env_int("PG_PORT", 25432)
REDIS_PORT = env_int("REDIS_PORT", 26379)
BATCH_SIZE = env_int("BATCH_SIZE", 10)
SLOT = os.environ.get("SLOT", "bpfkit_lab")
STREAM = os.environ.get("STREAM", "txlog")
POLL_INTERVAL = env_float("POLL_INTERVAL", 0.1)
STREAM_MAXLEN = env_int("STREAM_MAXLEN", 100000)  # keeps Redis memory bounded
COUNTER_EVERY = 0.25  # seconds between counter-file writes (keeps syscall noise low)


def append(rds, changes):
    # One pipelined round trip per batch: Redis is not where the bottleneck is.
    pipe = rds.pipeline(transaction=False)
    for lsn, xid, data in changes:
        pipe.xadd(STREAM, {"lsn": lsn, "xid": xid, "data": data}, maxlen=STREAM_MAXLEN, approximate=True)
    pipe.execute()


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        with open("/proc/self/comm", "w") as f:
            f.write("loader")
    except OSError:
        pass
    pg = psycopg2.connect(host="127.0.0.1", port=PG_PORT, user="postgres", dbname="postgres")
    pg.autocommit = True  # each poll consumes its changes immediately
    cur = pg.cursor()
    rds = redis.Redis(host="127.0.0.1", port=REDIS_PORT)
    total = 0
    last_write = 0.0
    write_counter(LAB_DIR, "loader", total)
    next_poll = time.monotonic()
    while True:
        cur.execute("SELECT lsn::text, xid::text, data FROM pg_logical_slot_get_changes(%s, NULL, %s)",
                    (SLOT, BATCH_SIZE))
        rows = cur.fetchall()
        # test_decoding also emits BEGIN/COMMIT rows; only row changes go to the log.
        changes = [r for r in rows if r[2].startswith("table ")]
        if changes:
            worker = threading.Thread(target=append, args=(rds, changes))
            worker.start()
            worker.join()
            total += len(changes)
        now = time.time()
        if now - last_write >= COUNTER_EVERY:
            write_counter(LAB_DIR, "loader", total)
            last_write = now
        # A fixed poll schedule: the time a poll takes does not add to the interval.
        next_poll += POLL_INTERVAL
        delay = next_poll - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            next_poll = time.monotonic()


if __name__ == "__main__":
    main()
