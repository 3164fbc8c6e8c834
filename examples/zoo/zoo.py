"""Shared pieces for the zoo's python3 stages (stdlib only). lib.sh puts this directory on
PYTHONPATH. See lib.sh for the file formats (ROLE.count, ROLE.pid)."""
import os
import signal
import socket
import struct
import sys
import time

STATE = os.environ.get("ZOO_STATE", "/tmp/bpfkit-zoo/unknown")
PORT = int(os.environ.get("ZOO_PORT", "27100"))
HOST = "127.0.0.1"


class Counter:
    """Publishes "TOTAL MONOTONIC_NS" to STATE/ROLE.count at most every `every` seconds.

    No thread: add() checks the clock, so a single-threaded stage stays single-threaded."""

    def __init__(self, role, every=0.1):
        self.path = os.path.join(STATE, role + ".count")
        self.tmp = self.path + ".tmp"
        self.total = 0
        self.every = every
        self.next = 0.0

    def add(self, n=1):
        self.total += n
        now = time.monotonic()
        if now >= self.next:
            self.next = now + self.every
            self.publish()

    def publish(self):
        with open(self.tmp, "w") as f:
            f.write("%d %d\n" % (self.total, time.monotonic_ns()))
        os.replace(self.tmp, self.path)


def starttime(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[19]


def write_pid(role, pid):
    """ROLE.pid as lib.sh's zoo_pid reads it: "PID STARTTIME"."""
    with open(os.path.join(STATE, role + ".pid"), "w") as f:
        f.write("%d %s\n" % (pid, starttime(pid)))


def exit_on_term():
    """SIGTERM ends the stage at once (a blocked send or sleep included)."""
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))


def listen(port, backlog=16):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((HOST, port))
    s.listen(backlog)
    return s


def connect(port, timeout=10.0):
    """Connect to 127.0.0.1:port, retrying while the peer starts."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            c = socket.create_connection((HOST, port))
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return c
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return bytes(buf)


# Framing: 4-byte big-endian length, then the payload.
def send_msg(sock, payload):
    sock.sendall(struct.pack(">I", len(payload)) + payload)


def recv_msg(sock):
    (n,) = struct.unpack(">I", recv_exact(sock, 4))
    return recv_exact(sock, n)


def relay(role, handle):
    """A middle stage: accept the upstream on PORT, connect to the next stage on PORT + 1, and
    send handle(message) on for every message received, counted as ROLE."""
    srv = listen(PORT)
    out = connect(PORT + 1)
    conn, _ = srv.accept()
    count = Counter(role)
    while True:
        send_msg(out, handle(recv_msg(conn)))
        count.add()


def sink(port):
    """The last stage: accept one connection on port and count the messages that arrive."""
    srv = listen(port)
    conn, _ = srv.accept()
    count = Counter("sink")
    while True:
        recv_msg(conn)
        count.add()


def log(*args):
    print(*args, file=sys.stderr, flush=True)
