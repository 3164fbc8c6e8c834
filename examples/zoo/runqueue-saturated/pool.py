"""Dispatcher with a pool of forked CPU-bound workers. The dispatcher listens on 127.0.0.1,
forks WORKERS children (the same python3, no exec) that connect back to it over TCP, and
keeps every worker busy with jobs (two outstanding each). A job is ~5 ms of pure-Python CPU
work. With more workers than cores they queue for the CPUs: the run queue, not any one
process, limits throughput. Writes workerN.pid for each worker (N = 1..WORKERS).

Usage: pool.py PORT WORKERS"""
import os
import selectors
import signal
import sys

import zoo

ROUNDS = int(os.environ.get("JOB_ROUNDS", "45000"))
OUTSTANDING = 2
port, workers = int(sys.argv[1]), int(sys.argv[2])


def worker():
    conn = zoo.connect(port)
    for job in conn.makefile("rb"):
        x = int(job)
        for i in range(ROUNDS):
            x = (x * 1103515245 + i) & 0xFFFFFFFF
        conn.sendall(b"%d\n" % x)
    os._exit(0)  # the dispatcher went away


zoo.exit_on_term()
srv = zoo.listen(port, backlog=64)
children = []
for n in range(workers):
    pid = os.fork()
    if pid == 0:
        srv.close()
        worker()
    children.append(pid)
    zoo.write_pid("worker%d" % (n + 1), pid)


def on_term(*_):
    # stop kills our process group, which holds the workers; a TERM to us alone must not
    # leave them spinning.
    for p in children:
        os.kill(p, signal.SIGKILL)
    os._exit(0)


signal.signal(signal.SIGTERM, on_term)
sel = selectors.DefaultSelector()
buf = {}
for _ in range(workers):
    conn, _ = srv.accept()
    buf[conn] = b""
    sel.register(conn, selectors.EVENT_READ)
    conn.sendall(b"".join(b"%d\n" % (i + 1) for i in range(OUTSTANDING)))
results = zoo.Counter("dispatcher")
results.publish()
seq = 0
while True:
    for key, _ in sel.select():
        conn = key.fileobj
        data = conn.recv(4096)
        if not data:
            sys.exit("pool: a worker went away")
        lines = (buf[conn] + data).split(b"\n")
        buf[conn] = lines.pop()
        for _ in lines:  # one new job per result
            seq += 1
            conn.sendall(b"%d\n" % seq)
        results.add(len(lines))
