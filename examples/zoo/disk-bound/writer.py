"""Writer stage: appends every record it receives to a log file and makes it durable with
fdatasync before taking the next one (one sync per message, like a write-ahead log).
Usage: writer.py PORT LOGFILE"""
import os
import sys

import zoo

zoo.exit_on_term()
port, logfile = int(sys.argv[1]), sys.argv[2]
fd = os.open(logfile, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
conn, _ = zoo.listen(port).accept()
done = zoo.Counter("writer")
done.publish()
for record in conn.makefile("rb"):
    os.write(fd, record)
    os.fdatasync(fd)
    done.add()
