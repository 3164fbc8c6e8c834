"""Result sink: accepts any number of TCP connections and counts the iterations reported in
their records ("N checksum" lines). Usage: sink.py PORT"""
import selectors
import sys

import zoo

zoo.exit_on_term()
srv = zoo.listen(int(sys.argv[1]), backlog=64)
sel = selectors.DefaultSelector()
sel.register(srv, selectors.EVENT_READ)
partial = {}
got = zoo.Counter("sink")
got.publish()
while True:
    for key, _ in sel.select():
        if key.fileobj is srv:
            conn, _ = srv.accept()
            sel.register(conn, selectors.EVENT_READ)
            partial[conn] = b""
            continue
        conn = key.fileobj
        data = conn.recv(65536)
        if not data:
            sel.unregister(conn)
            conn.close()
            continue
        lines = (partial[conn] + data).split(b"\n")
        partial[conn] = lines.pop()
        got.add(sum(int(line.split()[0]) for line in lines if line))
