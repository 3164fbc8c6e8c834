#!/usr/bin/python3
"""The backpressure pipeline: writer -> sink over one TCP stream.

  stage.py writer   streams 4 KiB log chunks as fast as the socket takes them
  stage.py sink     reads 4 KiB, then spends 2 ms on each (a sleep standing in for a slow
                    device or remote store, not CPU): ~1.8 MiB/s. The socket buffers between
                    them fill and the writer stays blocked in send.

Both sides use 256 KiB socket buffers (as many services set), so they fill within a second.
"""
import socket
import sys
import time

import zoo

CHUNK = 4096
BUF = 256 * 1024
SINK_DELAY = 0.002


def writer():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, BUF)
    deadline = time.monotonic() + 10
    while True:
        try:
            s.connect((zoo.HOST, zoo.PORT))
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    count = zoo.Counter("writer")
    blocked = zoo.Counter("writer-blocked")  # microseconds inside send
    line = b"2026-12-01T08:00:00Z level=info msg=\"request served\" status=200 bytes=512\n"
    chunk = (line * (CHUNK // len(line) + 1))[:CHUNK]
    while True:
        t0 = time.monotonic()
        s.sendall(chunk)
        blocked.add(int((time.monotonic() - t0) * 1e6))
        count.add()


def sink():
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, BUF)  # inherited by the accepted socket
    srv.bind((zoo.HOST, zoo.PORT))
    srv.listen(4)
    conn, _ = srv.accept()
    count = zoo.Counter("sink")  # chunks (4 KiB) consumed
    got = 0
    while True:
        data = conn.recv(CHUNK)
        if not data:
            return
        got += len(data)
        time.sleep(SINK_DELAY)  # the slow device
        if got >= CHUNK:
            count.add(got // CHUNK)
            got %= CHUNK


if __name__ == "__main__":
    zoo.exit_on_term()
    {"writer": writer, "sink": sink}[sys.argv[1]]()
