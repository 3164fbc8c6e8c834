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


def stamp(msg):
    rec = json.loads(msg)
    rec["lag_ms"] = round((time.time() - rec["ts"]) * 1000, 3)
    del rec["pad"]
    return json.dumps(rec).encode()


def consumer():
    zoo.relay("consumer", stamp)


def sink():
    zoo.sink(zoo.PORT + 1)


if __name__ == "__main__":
    zoo.exit_on_term()
    {"producer": producer, "consumer": consumer, "sink": sink}[sys.argv[1]]()
