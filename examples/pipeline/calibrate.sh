#!/usr/bin/env bash
# Proves the lab's calibration: with batch 10 the loader falls behind, with batch 5000 it
# keeps up, and PostgreSQL sends the loader at least 10x more TCP payload with 5000.
# Runs each case for WARMUP + INTERVAL seconds, prints the numbers, stops the lab.
# Exit status 0 when all checks hold.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
INTERVAL="${INTERVAL:-10}"
WARMUP="${WARMUP:-2}"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT

for batch in 10 5000; do
  BATCH_SIZE=$batch "$HERE/run.sh" start
  sleep "$WARMUP"
  "$HERE/run.sh" status --json --interval "$INTERVAL" >"$OUT/$batch.json"
done
"$HERE/run.sh" stop

/usr/bin/python3 - "$OUT/10.json" "$OUT/5000.json" <<'EOF'
import json, sys
small, large = (json.load(open(p)) for p in sys.argv[1:3])
for d in (small, large):
    print(f"batch {d['loader']['batchSize']:>5}: producer {d['producer']['rowsPerSec']} rows/s, "
          f"loader {d['loader']['changesPerSec']} changes/s, postgres->loader "
          f"{d['loader']['tcpFromPostgresBytesPerSec']} B/s, lag {d['lag']['bytes']} B {d['lag']['trend']} "
          f"({d['lag']['bytesPerSec']} B/s)")
ratio = large["loader"]["tcpFromPostgresBytesPerSec"] / small["loader"]["tcpFromPostgresBytesPerSec"]
checks = {
    "batch 10 falls behind (lag growing)": small["lag"]["trend"] == "growing",
    "batch 5000 keeps up (lag stable)": large["lag"]["trend"] == "stable",
    "batch 5000 loads >= 90% of rows produced":
        large["loader"]["changesPerSec"] >= 0.9 * large["producer"]["rowsPerSec"],
    f"postgres->loader TCP ratio 5000/10 = {ratio:.1f} >= 10": ratio >= 10,
}
for name, ok in checks.items():
    print(("ok   " if ok else "FAIL ") + name)
sys.exit(0 if all(checks.values()) else 1)
EOF
