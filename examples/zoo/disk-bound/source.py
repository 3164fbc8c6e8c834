"""Source stage: sends 200-byte records downstream as fast as the connection takes them
(a blocking send: the downstream stage sets the pace). Usage: source.py PORT"""
import sys

import zoo

zoo.exit_on_term()
conn = zoo.connect(int(sys.argv[1]))
out = zoo.Counter("source")
seq = 0
while True:
    conn.sendall(b"rec %012d %s\n" % (seq, b"d" * 182))
    seq += 1
    out.add()
