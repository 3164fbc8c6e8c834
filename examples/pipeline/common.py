"""Helpers shared by the lab's Python services."""
import json
import os
import time


def env_int(name, default):
    return int(os.environ.get(name) or default)


def env_float(name, default):
    return float(os.environ.get(name) or default)


def write_counter(lab_dir, name, total):
    """Publish a running total with the time it was reached.

    Written to a temp file and renamed, so a reader never sees a half-written file.
    The timestamp lets `status` compute an exact rate between two readings.
    """
    path = os.path.join(lab_dir, name + ".count")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"pid": os.getpid(), "total": total, "time": time.time()}, f)
    os.replace(tmp, path)
