#!/usr/bin/env bash
# pull-limited: the pipeline lab (examples/pipeline: producer -> PostgreSQL -> loader -> Redis)
# with the loader's batch size 10: every 100 ms poll moves one 10-row transaction out of the
# replication slot, ~100 changes/s against the producer's 3000 rows/s, so the slot's lag grows.
# The lab runs in its own LAB_DIR under the zoo state dir with its own ports.
#   run.sh start | status [--json] | stop      (ZOO_DIR, ZOO_PORT_BASE: see ../lib.sh)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
zoo_init pull-limited 27200 producer postgres loader redis

LAB="$ZOO_HERE/../../pipeline/run.sh"
export LAB_DIR="$ZOO_STATE/lab" PG_PORT="$ZOO_PORT" REDIS_PORT=$((ZOO_PORT + 1)) BATCH_SIZE=10

do_start() {
  "$LAB" start
  # The lab's own pid files, recorded in the zoo's format.
  zoo_write_pid producer "$(head -n1 "$LAB_DIR/producer.pid")"
  zoo_write_pid loader "$(head -n1 "$LAB_DIR/loader.pid")"
  zoo_write_pid postgres "$(head -n1 "$LAB_DIR/pgdata/postmaster.pid")"
  zoo_write_pid redis "$(head -n1 "$LAB_DIR/redis.pid")"
  sleep 1  # let the slot's backlog build past the first polls
}

do_stop() {
  [ -d "$LAB_DIR" ] && "$LAB" stop
  zoo_stop_all  # anything the lab's stop missed
}

do_truth() {
  local lab
  lab="$("$LAB" status --json --interval 2 || true)"
  # producer rows/s, loader changes/s, lag bytes, lag trend, lag growth bytes/s
  local prod load lag trend grow
  read -r prod load lag trend grow < <(python3 -c '
import json, sys
d = json.loads(sys.argv[1] or "{}")
g = lambda *k: (lambda v: "null" if v is None else v)(__import__("functools").reduce(lambda a, b: (a or {}).get(b), k, d))
print(g("producer", "rowsPerSec"), g("loader", "changesPerSec"), g("lag", "bytes"), g("lag", "trend"), g("lag", "bytesPerSec"))
' "$lab")
  ZOO_EXPECT_STAGE=loader
  ZOO_EXPECT_KIND="pull-limited consumer"
  ZOO_MSGS="$load"
  ZOO_TRUTH="loader pulls $load changes/s from the replication slot (batch 10 per 100 ms poll) while the producer writes $prod rows/s: the slot's lag is $lag bytes and $trend (+$grow bytes/s)"
  ZOO_HOLDS=false
  [ "$trend" = growing ] && zoo_ge "$prod" "$(awk -v l="$load" 'BEGIN{print l*3}')" && ZOO_HOLDS=true
  ZOO_EXTRA_JSON=",\"lab\":{\"producerRowsPerS\":$prod,\"loaderChangesPerS\":$load,\"lagBytes\":$lag,\"lagTrend\":\"$trend\",\"lagBytesPerS\":$grow}"
}

zoo_main "$@"
