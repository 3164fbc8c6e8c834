"""Sink stage: counts the result lines it receives. Usage: sink.py PORT"""
import sys

import zoo

zoo.exit_on_term()
conn, _ = zoo.listen(int(sys.argv[1])).accept()
got = zoo.Counter("sink")
got.publish()
while True:
    data = conn.recv(65536)
    if not data:
        break
    got.add(data.count(b"\n"))
