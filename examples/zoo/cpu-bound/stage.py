#!/usr/bin/python3
"""One stage of the cpu-bound pipeline: source -> transform -> sink over TCP.

  stage.py source     sends 256-byte messages to the transform as fast as it accepts them
  stage.py transform  per message: a few hundred microseconds of pure-Python work, one thread
  stage.py sink       counts what arrives
"""
import struct
import sys

import zoo

MSG = 256
ROUNDS = 250  # work per message in the transform: ~0.3 ms of interpreter time


def work(payload):
    # A checksum loop: pure interpreter work, so it holds its one thread on the CPU.
    h = 2166136261
    for _ in range(ROUNDS):
        for b in payload[:16]:
            h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h


def source():
    out = zoo.connect(zoo.PORT)
    count = zoo.Counter("source")
    seq = 0
    body = bytes(range(256)) * (MSG // 256)
    while True:
        seq += 1
        zoo.send_msg(out, struct.pack(">Q", seq) + body[8:])
        count.add()


def transform():
    zoo.relay("transform", lambda payload: payload[:8] + struct.pack(">I", work(payload)))


def sink():
    zoo.sink(zoo.PORT + 1)


if __name__ == "__main__":
    zoo.exit_on_term()
    {"source": source, "transform": transform, "sink": sink}[sys.argv[1]]()
