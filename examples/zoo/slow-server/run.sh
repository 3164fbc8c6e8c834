#!/usr/bin/env bash
# slow-server: a client makes synchronous request/response calls to a single-threaded server
# that spends 10-20 ms per request waiting on a (simulated) backend, and forwards the results to
# a sink. Throughput = 1 / latency: the server limits it, without using the CPU.
#   run.sh start | status [--json] | stop      (ZOO_DIR, ZOO_PORT_BASE: see ../lib.sh)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
zoo_init slow-server 27140 client server sink

do_start() { zoo_start_line client server; }

do_stop() { zoo_stop_all; }

do_truth() {
  local wait_pct lat_ms product
  zoo_share_begin client-wait
  zoo_sample 2
  wait_pct="$(zoo_share_end client-wait)"
  lat_ms=$(awk -v w="$wait_pct" -v r="${ZOO_RATE[client]}" 'BEGIN{ if (r > 0) printf "%.1f", w*10/r; else print 0 }')
  product=$(awk -v w="$wait_pct" 'BEGIN{printf "%.2f", w/100}')
  ZOO_EXPECT_STAGE=server
  ZOO_EXPECT_KIND=slow-dependency
  ZOO_MSGS="${ZOO_RATE[sink]}"
  ZOO_TRUTH="the client waits for the server's replies ${wait_pct}% of the time: ${ZOO_RATE[client]} requests/s x ${lat_ms} ms mean latency = ${product}; the server is not CPU-bound (${ZOO_CPU[server]}% CPU, it waits on its backend), client ${ZOO_CPU[client]}%, sink ${ZOO_CPU[sink]}% CPU; sink gets ${ZOO_MSGS} msgs/s"
  zoo_ge "$wait_pct" 85 && ! zoo_ge "${ZOO_CPU[server]}" 30 && ! zoo_ge "${ZOO_CPU[client]}" 30 && ZOO_HOLDS=true || ZOO_HOLDS=false
  ZOO_EXTRA_JSON=",\"clientWaitPct\":$wait_pct,\"latencyMs\":$lat_ms,\"cpu\":{\"client\":${ZOO_CPU[client]},\"server\":${ZOO_CPU[server]},\"sink\":${ZOO_CPU[sink]}}"
}

zoo_main "$@"
