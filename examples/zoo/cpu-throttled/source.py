"""Source stage: sends request lines downstream as fast as the connection takes them
(a blocking send: the downstream stage sets the pace). Usage: source.py PORT"""
import sys

import zoo

zoo.exit_on_term()
conn = zoo.connect(int(sys.argv[1]))
out = zoo.Counter("source")
seq = 0
while True:
    conn.sendall(b"".join(b"req %012d %s\n" % (seq + i, b"p" * 80) for i in range(32)))
    seq += 32
    out.add(32)
