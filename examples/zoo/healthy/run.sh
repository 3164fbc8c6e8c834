#!/usr/bin/env bash
# healthy: client -> server (request/response) -> sink; the client paces itself at 300
# requests/s and every stage has plenty of headroom. Nothing is saturated.
#   run.sh start | status [--json] | stop      (ZOO_DIR, ZOO_PORT_BASE: see ../lib.sh)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
zoo_init healthy 27130 client server sink

do_start() { zoo_start_line client server; }

do_stop() { zoo_stop_all; }

do_truth() {
  local wait_pct max
  zoo_share_begin client-wait
  zoo_sample 2
  wait_pct="$(zoo_share_end client-wait)"
  ZOO_EXPECT_STAGE=""
  ZOO_EXPECT_KIND=""
  ZOO_MSGS="${ZOO_RATE[sink]}"
  max=$(printf '%s\n' "${ZOO_TCPU[client]}" "${ZOO_TCPU[server]}" "${ZOO_TCPU[sink]}" | sort -n | tail -1)
  ZOO_TRUTH="the client's own pacing (300/s) sets the rate: ${ZOO_RATE[client]} requests/s, it waits for replies only ${wait_pct}% of the time; busiest stage thread ${max}% CPU (client ${ZOO_CPU[client]}%, server ${ZOO_CPU[server]}%, sink ${ZOO_CPU[sink]}%); sink gets ${ZOO_MSGS} msgs/s"
  ! zoo_ge "$max" 50 && ! zoo_ge "$wait_pct" 30 && zoo_ge "${ZOO_RATE[client]}" 250 && ZOO_HOLDS=true || ZOO_HOLDS=false
  ZOO_EXTRA_JSON=",\"clientWaitPct\":$wait_pct,\"cpu\":{\"client\":${ZOO_CPU[client]},\"server\":${ZOO_CPU[server]},\"sink\":${ZOO_CPU[sink]}}"
}

zoo_main "$@"
