#!/usr/bin/python3
"""One stage of the supervisor pipeline (started by ../launch.py, all children of one python3):

  stage.py source     sends 1 KiB records to the transform as fast as it accepts them
  stage.py transform  per record: a byte histogram and a rolling checksum in pure Python (one thread)
  stage.py sink       counts the summaries that arrive
"""
import os
import struct
import sys

import zoo

RECORD = 1024
PASSES = 6  # histogram passes per record: ~0.4 ms of interpreter time


def summarize(rec):
    hist = [0] * 256
    acc = 1
    for _ in range(PASSES):
        for b in rec:
            hist[b] += 1
            acc = (acc * 31 + b) % 1000003
    return struct.pack(">I", acc) + bytes(min(h, 255) for h in hist[:32])


def source():
    out = zoo.connect(zoo.PORT)
    count = zoo.Counter("source")
    base = os.urandom(RECORD)
    seq = 0
    while True:
        seq += 1
        zoo.send_msg(out, struct.pack(">Q", seq) + base[8:])
        count.add()


def transform():
    zoo.relay("transform", lambda rec: rec[:8] + summarize(rec))


def sink():
    zoo.sink(zoo.PORT + 1)


if __name__ == "__main__":
    zoo.exit_on_term()
    {"source": source, "transform": transform, "sink": sink}[sys.argv[1]]()
