#!/usr/bin/python3
"""Loader: copies the database's change log into the transaction log.

It polls the logical replication slot with
    pg_logical_slot_get_changes(slot, NULL, BATCH_SIZE)
and appends every row change to a Redis stream (XADD). BATCH_SIZE defaults to 10: the
story's bottleneck. Each poll costs a fixed amount of work in PostgreSQL (a decoding
context is set up and WAL is read again from the slot's restart point), so a small batch
spends almost all its time on that overhead and cannot keep up with the producer.

Each batch is handed to a short-lived thread, like the story's loader, which "spawns
quite a few threads". The main thread renames itself "loader" so that `pgrep python3`
finds only the producer, as in the story.

It publishes its count to $LAB_DIR/loader.count so `run.sh status` can compute changes/s.
"""
import os
import select
import signal
import sys
import threading
import time

import psycopg2
import redis

from common import env_float, env_int, write_counter

LAB_DIR = os.environ.get("LAB_DIR", "/tmp/bpfkit-pipeline")
PG_PORT = env_int("PG_PORT", 55432)
REDIS_PORT = env_int("REDIS_PORT", 56379)
BATCH_SIZE = env_int("BATCH_SIZE", 10)
SLOT = os.environ.get("SLOT", "bpfkit_lab")
STREAM = os.environ.get("STREAM", "txlog")
IDLE_POLL = env_float("IDLE_POLL", 0.1)  # sleep only when the change log was empty
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
        if not rows:
            select.select([], [], [], IDLE_POLL)


if __name__ == "__main__":
    main()
