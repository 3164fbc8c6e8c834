#!/usr/bin/python3
"""Ground truth of a running pipeline lab: rates, slot lag and its trend, PIDs.

Usage: status.py [--json] [--interval SECONDS]

Rates come from the counters the producer and loader publish (each with the time it was
written), read at the start and end of the interval. The slot's lag is sampled every
0.1 s over the same interval. With a loader that keeps up, the lag is a saw tooth (up
during a producer burst, down after), so the trend compares the smallest lag of the first
half with the smallest lag of the second half: "growing" when it rose by more than 64 KiB
and by more than a quarter of the WAL written meanwhile (the loader misses over 25%).

TCP payload rates per connection come from the kernel's own socket counters (`ss -tinp`:
bytes_sent/bytes_received), read at the start and end of the interval: the ground truth
for tcptop.
"""
import json
import os
import re
import subprocess
import sys
import time

import psycopg2

LAB_DIR = os.environ.get("LAB_DIR", "/tmp/bpfkit-pipeline")
GROWING_BYTES = 64 * 1024
GROWING_SHARE = 0.25


def read_json(name):
    try:
        with open(os.path.join(LAB_DIR, name)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def read_pid(path, expected):
    """PID from a pid file, if that process runs and its command line contains `expected`."""
    try:
        with open(path) as f:
            pid = int(f.readline().strip())
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
    except (OSError, ValueError, IndexError):
        return None
    return pid if state != "Z" and expected in cmdline else None


def tcp_counters(ports):
    """{(pid, peer port): (bytes_sent, bytes_received)} for connections to the given ports."""
    flt = "( " + " or ".join(f"dport = :{p}" for p in ports) + " )"
    try:
        out = subprocess.run(["ss", "-tinpH", flt], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    counters, key = {}, None
    for line in out.splitlines():
        if not line.startswith(("\t", " ")):  # socket line; its counters follow on the next line
            m = re.search(r":(\d+)\s+users:\(\(\"[^\"]*\",pid=(\d+)", line)
            key = (int(m.group(2)), int(m.group(1))) if m else None
        elif key:
            sent = re.search(r"bytes_sent:(\d+)", line)
            recv = re.search(r"bytes_received:(\d+)", line)
            old = counters.get(key, (0, 0))
            counters[key] = (old[0] + int(sent.group(1) if sent else 0), old[1] + int(recv.group(1) if recv else 0))
    return counters


def tcp_rates(before, after, seconds):
    """Bytes/s sent and received per (pid, peer port) over the interval."""
    rates = {}
    for key, (sent, recv) in after.items():
        s0, r0 = before.get(key, (0, 0))
        rates[key] = ((sent - s0) / seconds, (recv - r0) / seconds)
    return rates


def rate(before, after):
    if not before or not after or after["time"] <= before["time"]:
        return None
    return (after["total"] - before["total"]) / (after["time"] - before["time"])


def wal_and_lag(cur, slot):
    """(WAL position, slot lag) in bytes, or None when the slot is gone."""
    cur.execute("SELECT (pg_current_wal_lsn() - '0/0')::bigint, (pg_current_wal_lsn() - confirmed_flush_lsn)::bigint "
                "FROM pg_replication_slots WHERE slot_name = %s", (slot,))
    row = cur.fetchone()
    return (int(row[0]), int(row[1])) if row and row[1] is not None else None


def measure(cfg, interval):
    # Unix socket, not TCP: status must not add to the TCP traffic the tools measure.
    conn = psycopg2.connect(host=os.path.join(LAB_DIR, "pgsock"), port=cfg["pgPort"],
                            user="postgres", dbname="postgres")
    conn.autocommit = True
    cur = conn.cursor()
    ports = (cfg["pgPort"], cfg["redisPort"])
    prod0, load0 = read_json("producer.count"), read_json("loader.count")
    tcp0 = tcp_counters(ports)
    samples = []
    start = time.monotonic()
    while True:
        t = time.monotonic() - start
        sample = wal_and_lag(cur, cfg["slot"])
        if sample:
            samples.append((t, *sample))
        if t >= interval:
            break
        time.sleep(0.1)
    tcp1 = tcp_counters(ports)
    elapsed = time.monotonic() - start
    prod1, load1 = read_json("producer.count"), read_json("loader.count")
    conn.close()
    return rate(prod0, prod1), rate(load0, load1), samples, prod1, load1, tcp_rates(tcp0, tcp1, elapsed)


def trend(samples):
    """samples: (seconds, wal position, lag). Returns (trend, lag growth in bytes/s)."""
    if len(samples) < 4:
        return None, None
    half = len(samples) // 2
    first = min(samples[:half], key=lambda s: s[2])
    second = min(samples[half:], key=lambda s: s[2])
    growth = second[2] - first[2]
    written = second[1] - first[1]
    per_sec = growth / (second[0] - first[0]) if second[0] > first[0] else 0.0
    growing = growth > GROWING_BYTES and growth > GROWING_SHARE * written
    return ("growing" if growing else "stable"), per_sec


def main():
    as_json = "--json" in sys.argv
    interval = 2.0
    if "--interval" in sys.argv:
        interval = float(sys.argv[sys.argv.index("--interval") + 1])
    cfg = read_json("lab.json")
    if not cfg:
        print(json.dumps({"running": False, "labDir": LAB_DIR}) if as_json else f"no lab in {LAB_DIR}")
        return 1
    kind = cfg.get("loader", "python")  # loader.py, or the JVM running Loader.java
    pids = {
        "producer": read_pid(os.path.join(LAB_DIR, "producer.pid"), "producer.py"),
        "loader": read_pid(os.path.join(LAB_DIR, "loader.pid"), "Loader" if kind == "java" else "loader.py"),
        "postgres": read_pid(os.path.join(LAB_DIR, "pgdata", "postmaster.pid"), os.path.join(LAB_DIR, "pgdata")),
        "redis": read_pid(os.path.join(LAB_DIR, "redis.pid"), "redis-server"),
    }
    running = all(pids.values())
    prod_rate = load_rate = None
    samples, prod, load, tcp = [], None, None, {}
    if pids["postgres"]:
        prod_rate, load_rate, samples, prod, load, tcp = measure(cfg, interval)
    # (sent, received) bytes/s of one component's connections to one port
    flow = lambda who, port: tcp.get((pids[who], port), (None, None))
    lag_trend, lag_per_sec = trend(samples)
    r = lambda x: None if x is None else round(x, 1)
    out = {
        "running": running,
        "labDir": LAB_DIR,
        "intervalSec": interval,
        "producer": {"pid": pids["producer"], "rowsPerSec": r(prod_rate), "rowsTotal": prod and prod["total"],
                     "targetRowsPerSec": cfg["producerRate"],
                     "tcpToPostgresBytesPerSec": r(flow("producer", cfg["pgPort"])[0])},
        "loader": {"pid": pids["loader"], "changesPerSec": r(load_rate), "changesTotal": load and load["total"],
                   "batchSize": cfg["batchSize"], "kind": kind,
                   "tcpFromPostgresBytesPerSec": r(flow("loader", cfg["pgPort"])[1]),
                   "tcpToRedisBytesPerSec": r(flow("loader", cfg["redisPort"])[0])},
        "postgres": {"pid": pids["postgres"], "port": cfg["pgPort"], "slot": cfg["slot"]},
        "redis": {"pid": pids["redis"], "port": cfg["redisPort"], "stream": cfg["stream"]},
        "lag": {"bytes": samples[-1][2] if samples else None, "trend": lag_trend,
                "bytesPerSec": r(lag_per_sec)},
        # The change log grows faster than the loader drains it: the loader is the bottleneck.
        "bottleneck": "loader" if lag_trend == "growing" else None,
    }
    if as_json:
        print(json.dumps(out))
        return 0 if running else 1
    show = lambda x: "-" if x is None else x
    state = "running" if running else "stopped" if not any(pids.values()) else "NOT fully running"
    print(f"pipeline lab in {LAB_DIR} ({state}), measured over {interval:g} s")
    print(f"  producer  pid {show(pids['producer']):>7}  {show(r(prod_rate))} rows/s (target {cfg['producerRate']})")
    print(f"  loader    pid {show(pids['loader']):>7}  {show(r(load_rate))} changes/s ({kind}, batch size {cfg['batchSize']})")
    print(f"  postgres  pid {show(pids['postgres']):>7}  127.0.0.1:{cfg['pgPort']}  slot {cfg['slot']}")
    print(f"  redis     pid {show(pids['redis']):>7}  127.0.0.1:{cfg['redisPort']}  stream {cfg['stream']}")
    print(f"  tcp       producer->postgres {show(out['producer']['tcpToPostgresBytesPerSec'])} B/s, "
          f"postgres->loader {show(out['loader']['tcpFromPostgresBytesPerSec'])} B/s, "
          f"loader->redis {show(out['loader']['tcpToRedisBytesPerSec'])} B/s")
    print(f"  slot lag  {show(out['lag']['bytes'])} bytes, {show(lag_trend)} ({show(r(lag_per_sec))} bytes/s)")
    print(f"  bottleneck {show(out['bottleneck'])}")
    return 0 if running else 1


if __name__ == "__main__":
    sys.exit(main())
