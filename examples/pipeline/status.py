#!/usr/bin/python3
"""Ground truth of a running pipeline lab: rates, slot lag and its trend, PIDs.

Usage: status.py [--json] [--interval SECONDS]

Rates come from the counters the producer and loader publish (each with the time it was
written), read at the start and end of the interval. The slot's lag is sampled every
0.1 s over the same interval; its trend compares the smallest lag of the first half with
the smallest lag of the second half, because with a keeping-up loader the lag is a saw
tooth (up during a producer burst, back to ~0 after) and its minima stay flat.
"""
import json
import os
import sys
import time

import psycopg2

LAB_DIR = os.environ.get("LAB_DIR", "/tmp/bpfkit-pipeline")
GROWING_BYTES = 64 * 1024  # minima of the two halves must differ by more than this


def read_json(name):
    try:
        with open(os.path.join(LAB_DIR, name)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def read_pid(path):
    try:
        with open(path) as f:
            pid = int(f.readline().strip())
    except (OSError, ValueError):
        return None
    return pid if os.path.exists(f"/proc/{pid}") else None


def rate(before, after):
    if not before or not after or after["time"] <= before["time"]:
        return None
    return (after["total"] - before["total"]) / (after["time"] - before["time"])


def lag_bytes(cur, slot):
    cur.execute("SELECT (pg_current_wal_lsn() - confirmed_flush_lsn)::bigint FROM pg_replication_slots "
                "WHERE slot_name = %s", (slot,))
    row = cur.fetchone()
    return int(row[0]) if row and row[0] is not None else None


def measure(cfg, interval):
    # Unix socket, not TCP: status must not add to the TCP traffic the tools measure.
    conn = psycopg2.connect(host=os.path.join(LAB_DIR, "pgsock"), port=cfg["pgPort"],
                            user="postgres", dbname="postgres")
    conn.autocommit = True
    cur = conn.cursor()
    prod0, load0 = read_json("producer.count"), read_json("loader.count")
    samples = []
    start = time.monotonic()
    while True:
        samples.append((time.monotonic() - start, lag_bytes(cur, cfg["slot"])))
        if samples[-1][0] >= interval:
            break
        time.sleep(0.1)
    prod1, load1 = read_json("producer.count"), read_json("loader.count")
    conn.close()
    return rate(prod0, prod1), rate(load0, load1), samples, prod1, load1


def trend(samples):
    values = [s for s in samples if s[1] is not None]
    if len(values) < 4:
        return None, None
    half = len(values) // 2
    first = min(values[:half], key=lambda s: s[1])
    second = min(values[half:], key=lambda s: s[1])
    growth = second[1] - first[1]
    per_sec = growth / (second[0] - first[0]) if second[0] > first[0] else 0.0
    return ("growing" if growth > GROWING_BYTES else "stable"), per_sec


def main():
    as_json = "--json" in sys.argv
    interval = 2.0
    if "--interval" in sys.argv:
        interval = float(sys.argv[sys.argv.index("--interval") + 1])
    cfg = read_json("lab.json")
    if not cfg:
        print(json.dumps({"running": False, "labDir": LAB_DIR}) if as_json else f"no lab in {LAB_DIR}")
        return 1
    pids = {
        "producer": read_pid(os.path.join(LAB_DIR, "producer.pid")),
        "loader": read_pid(os.path.join(LAB_DIR, "loader.pid")),
        "postgres": read_pid(os.path.join(LAB_DIR, "pgdata", "postmaster.pid")),
        "redis": read_pid(os.path.join(LAB_DIR, "redis.pid")),
    }
    running = all(pids.values())
    prod_rate = load_rate = None
    samples, prod, load = [], None, None
    if pids["postgres"]:
        prod_rate, load_rate, samples, prod, load = measure(cfg, interval)
    lag_trend, lag_per_sec = trend(samples)
    r = lambda x: None if x is None else round(x, 1)
    out = {
        "running": running,
        "labDir": LAB_DIR,
        "intervalSec": interval,
        "producer": {"pid": pids["producer"], "rowsPerSec": r(prod_rate), "rowsTotal": prod and prod["total"],
                     "targetRowsPerSec": cfg["producerRate"]},
        "loader": {"pid": pids["loader"], "changesPerSec": r(load_rate), "changesTotal": load and load["total"],
                   "batchSize": cfg["batchSize"]},
        "postgres": {"pid": pids["postgres"], "port": cfg["pgPort"], "slot": cfg["slot"]},
        "redis": {"pid": pids["redis"], "port": cfg["redisPort"], "stream": cfg["stream"]},
        "lag": {"bytes": samples[-1][1] if samples else None, "trend": lag_trend,
                "bytesPerSec": r(lag_per_sec)},
    }
    if as_json:
        print(json.dumps(out))
        return 0 if running else 1
    show = lambda x: "-" if x is None else x
    print(f"pipeline lab in {LAB_DIR} ({'running' if running else 'NOT fully running'}), measured over {interval:g} s")
    print(f"  producer  pid {show(pids['producer']):>7}  {show(r(prod_rate))} rows/s (target {cfg['producerRate']})")
    print(f"  loader    pid {show(pids['loader']):>7}  {show(r(load_rate))} changes/s (batch size {cfg['batchSize']})")
    print(f"  postgres  pid {show(pids['postgres']):>7}  127.0.0.1:{cfg['pgPort']}  slot {cfg['slot']}")
    print(f"  redis     pid {show(pids['redis']):>7}  127.0.0.1:{cfg['redisPort']}  stream {cfg['stream']}")
    print(f"  slot lag  {show(out['lag']['bytes'])} bytes, {show(lag_trend)} ({show(r(lag_per_sec))} bytes/s)")
    return 0 if running else 1


if __name__ == "__main__":
    sys.exit(main())
