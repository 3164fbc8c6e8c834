#!/usr/bin/python3
"""One stage of the slow-server pipeline: client -> server (request/response) -> ... and the
client forwards each result to the sink.

  stage.py client   synchronous calls: send a request, wait for the reply, forward it, repeat
  stage.py server   one thread; each request waits ~15 ms on a simulated backend (a sleep, not
                    CPU), so the server answers ~65 requests/s and the client can do no more
  stage.py sink     counts the results
"""
import random
import struct
import sys
import time

import zoo

BACKEND_S = (0.010, 0.020)  # the backend's latency per request


def client():
    conn = zoo.connect(zoo.PORT)
    out = zoo.connect(zoo.PORT + 1)
    count = zoo.Counter("client")
    waited = zoo.Counter("client-wait")  # microseconds waiting for replies
    seq = 0
    while True:
        seq += 1
        t0 = time.monotonic()
        zoo.send_msg(conn, struct.pack(">Q", seq) + b"lookup user=%d" % (seq % 5000))
        reply = zoo.recv_msg(conn)
        waited.add(int((time.monotonic() - t0) * 1e6))
        zoo.send_msg(out, reply)
        count.add()


def server():
    srv = zoo.listen(zoo.PORT)
    conn, _ = srv.accept()
    count = zoo.Counter("server")
    rnd = random.Random(7)
    while True:
        req = zoo.recv_msg(conn)
        time.sleep(rnd.uniform(*BACKEND_S))  # the backend call
        zoo.send_msg(conn, req[:8] + b"row:" + b"v" * 500)
        count.add()


def sink():
    zoo.sink(zoo.PORT + 1)


if __name__ == "__main__":
    zoo.exit_on_term()
    {"client": client, "server": server, "sink": sink}[sys.argv[1]]()
