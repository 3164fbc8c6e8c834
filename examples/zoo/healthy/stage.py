#!/usr/bin/python3
"""One stage of the healthy pipeline: client -> server (request/response) -> sink.

  stage.py client   300 requests/s, paced, each waits for its reply (a few hundred bytes)
  stage.py server   answers at once and forwards a record of each request to the sink
  stage.py sink     counts
"""
import hashlib
import struct
import sys
import time

import zoo

RATE = 300


def client():
    conn = zoo.connect(zoo.PORT)
    count = zoo.Counter("client")
    waited = zoo.Counter("client-wait")  # microseconds waiting for replies
    seq = 0
    nxt = time.monotonic()
    while True:
        seq += 1
        t0 = time.monotonic()
        zoo.send_msg(conn, struct.pack(">Q", seq) + b"GET /item/%d" % (seq % 1000))
        zoo.recv_msg(conn)
        waited.add(int((time.monotonic() - t0) * 1e6))
        count.add()
        nxt += 1.0 / RATE
        delay = nxt - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            nxt = time.monotonic()


def server():
    srv = zoo.listen(zoo.PORT)
    out = zoo.connect(zoo.PORT + 1)
    conn, _ = srv.accept()
    count = zoo.Counter("server")
    while True:
        req = zoo.recv_msg(conn)
        body = hashlib.sha256(req).digest() * 8
        zoo.send_msg(conn, body)
        zoo.send_msg(out, req[:8] + body[:32])
        count.add()


def sink():
    zoo.sink(zoo.PORT + 1)


if __name__ == "__main__":
    zoo.exit_on_term()
    {"client": client, "server": server, "sink": sink}[sys.argv[1]]()
