"""Worker stage: reads request lines from upstream, burns ~1 ms of CPU per message and
forwards a result line downstream. Usage: worker.py LISTEN_PORT SINK_PORT"""
import os
import sys

import zoo

ROUNDS = int(os.environ.get("WORK_ROUNDS", "15000"))


def work(line):
    # Pure-Python arithmetic: CPU time, no syscalls.
    x = len(line) + 1
    for i in range(ROUNDS):
        x = (x * 1103515245 + i) & 0xFFFFFFFF
    return x


zoo.exit_on_term()
listen_port, sink_port = int(sys.argv[1]), int(sys.argv[2])
sink = zoo.connect(sink_port)
conn, _ = zoo.listen(listen_port).accept()
done = zoo.Counter("worker")
done.publish()
for line in conn.makefile("rb"):
    sink.sendall(b"%d\n" % work(line))
    done.add()
