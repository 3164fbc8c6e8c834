#!/usr/bin/env bash
# timer-limited: a python3 launcher starts producer -> consumer -> sink (same executable, same
# parent); the producer sends 20 records per 10 ms tick and sleeps in between. Nothing is
# saturated: the consumer and sink have lots of headroom.
#   run.sh start | status [--json] | stop      (ZOO_DIR, ZOO_PORT_BASE: see ../lib.sh)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
zoo_init timer-limited 27120 producer consumer sink launcher

do_start() {
  zoo_start_stage launcher "$ZOO_PY" ../launch.py sink:stage.py:sink consumer:stage.py:consumer producer:stage.py:producer
  zoo_wait_file "$ZOO_STATE/producer.pid"
  zoo_wait_steady sink 5
}

do_stop() { zoo_stop_all; }

do_truth() {
  local sleep_pct backlog
  zoo_share_begin producer-sleep
  zoo_sample 2
  sleep_pct="$(zoo_share_end producer-sleep)"
  backlog="$(zoo_recv_q "$ZOO_PORT")"
  ZOO_EXPECT_STAGE=""
  ZOO_EXPECT_KIND=""
  ZOO_MSGS="${ZOO_RATE[sink]}"
  ZOO_TRUTH="the producer's 10 ms timer sets the rate: it sleeps ${sleep_pct}% of the time (CPU ${ZOO_CPU[producer]}%); consumer ${ZOO_CPU[consumer]}% and sink ${ZOO_CPU[sink]}% CPU with ${backlog} B unread at the consumer; sink gets ${ZOO_MSGS} msgs/s for the producer's ${ZOO_RATE[producer]}"
  zoo_ge "$sleep_pct" 60 && ! zoo_ge "${ZOO_CPU[consumer]}" 50 && ! zoo_ge "${ZOO_CPU[sink]}" 50 && ! zoo_ge "$backlog" 65536 && ZOO_HOLDS=true || ZOO_HOLDS=false
  ZOO_EXTRA_JSON=",\"producerSleepPct\":$sleep_pct,\"cpu\":{\"producer\":${ZOO_CPU[producer]},\"consumer\":${ZOO_CPU[consumer]},\"sink\":${ZOO_CPU[sink]}}"
}

zoo_main "$@"
