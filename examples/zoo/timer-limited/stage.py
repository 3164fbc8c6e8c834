#!/usr/bin/python3
"""One stage of the timer-limited pipeline (started by ../launch.py):

  stage.py producer   every 10 ms sends a batch of 20 records, then sleeps until the next tick
  stage.py consumer   decodes each record, adds a field, forwards it (lots of headroom)
  stage.py sink       counts

The producer's timer is the only limit: 2000 records/s, whatever the rest could take.
"""
import json
import sys
import time

import zoo

TICK = 0.010
BATCH = 20


def producer():
    out = zoo.connect(zoo.PORT)
    count = zoo.Counter("producer")
    slept = zoo.Counter("producer-sleep")  # microseconds asleep, for the ground truth
    seq = 0
    nxt = time.monotonic()
    while True:
        for _ in range(BATCH):
            seq += 1
            zoo.send_msg(out, json.dumps({"seq": seq, "ts": time.time(), "pad": "x" * 200}).encode())
        count.add(BATCH)
        nxt += TICK
        delay = nxt - time.monotonic()
        if delay > 0:
            t0 = time.monotonic()
            time.sleep(delay)  # clock_nanosleep: a timer, not I/O
            slept.add(int((time.monotonic() - t0) * 1e6))
        else:
            nxt = time.monotonic()  # fell behind: no catch-up burst


def consumer():
    srv = zoo.listen(zoo.PORT)
    out = zoo.connect(zoo.PORT + 1)
    conn, _ = srv.accept()
    count = zoo.Counter("consumer")
    while True:
        rec = json.loads(zoo.recv_msg(conn))
        rec["lag_ms"] = round((time.time() - rec["ts"]) * 1000, 3)
        del rec["pad"]
        zoo.send_msg(out, json.dumps(rec).encode())
        count.add()


def sink():
    srv = zoo.listen(zoo.PORT + 1)
    conn, _ = srv.accept()
    count = zoo.Counter("sink")
    while True:
        zoo.recv_msg(conn)
        count.add()


if __name__ == "__main__":
    zoo.exit_on_term()
    {"producer": producer, "consumer": consumer, "sink": sink}[sys.argv[1]]()
