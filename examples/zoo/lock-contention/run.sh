#!/usr/bin/env bash
# lock-contention: a C program (worker) with THREADS threads that share ONE pthread mutex:
# each iteration holds it for ~30 us of CPU work and works ~3 us outside it; every 64
# iterations a thread sends a result record to the sink over TCP. The mutex serialises the
# work: the process uses about one core whatever the thread count, the other threads sleep
# on the mutex's futex.
#   run.sh start | status [--json] | stop      (ZOO_DIR, ZOO_PORT_BASE: see ../lib.sh)
#   THREADS (8)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
zoo_init lock-contention 27170 worker sink

THREADS="${THREADS:-8}"

do_start() {
  gcc -O2 -g -fno-omit-frame-pointer -pthread -o "$ZOO_STATE/lockwork" "$ZOO_HERE/lockwork.c"
  zoo_start_stage sink "$ZOO_PY" sink.py "$ZOO_PORT"
  zoo_wait_port "$ZOO_PORT"
  zoo_start_stage worker "$ZOO_STATE/lockwork" run "$ZOO_PORT" "$THREADS" "$ZOO_STATE"
  zoo_wait_steady worker 5
}

do_stop() { zoo_stop_all; }

lock_stat() { cat "$ZOO_STATE/worker.lock" 2>/dev/null || echo "0 0 0"; }  # "ITERATIONS HELD_NS NS"

do_truth() {
  local i0 h0 n0 i1 h1 n1
  read -r i0 h0 n0 < <(lock_stat)
  zoo_sample 2
  read -r i1 h1 n1 < <(lock_stat)
  local held hold_us
  held=$(awk -v h=$((h1 - h0)) -v n=$((n1 - n0)) 'BEGIN{printf "%.0f", (n > 0 ? h*100/n : 0)}')
  hold_us=$(awk -v h=$((h1 - h0)) -v i=$((i1 - i0)) 'BEGIN{printf "%.1f", (i > 0 ? h/i/1e3 : 0)}')
  ZOO_EXPECT_STAGE=worker
  ZOO_EXPECT_KIND=lock-contention
  ZOO_MSGS="${ZOO_RATE[sink]}"
  ZOO_TRUTH="worker's one mutex was held ${held}% of the time (mean hold ${hold_us} us, ${ZOO_RATE[worker]} iterations/s); its $THREADS threads used ${ZOO_CPU[worker]}% of one core in total (busiest thread ${ZOO_TCPU[worker]}%), the rest of the time they wait for the lock; ${ZOO_MSGS} results/s reach the sink"
  # The lock is busy most of the time while the process stays near one core (of 2): the lock,
  # not the CPUs, is the limit.
  ZOO_HOLDS=false
  [ "$held" -ge 70 ] && [ "${ZOO_CPU[worker]}" -le 140 ] && ZOO_HOLDS=true
  ZOO_EXTRA_JSON=",\"lock\":{\"heldPct\":$held,\"meanHoldUs\":$hold_us,\"threads\":$THREADS},\"cpu\":{\"worker\":${ZOO_CPU[worker]},\"workerBusiestThread\":${ZOO_TCPU[worker]},\"sink\":${ZOO_CPU[sink]}}"
}

zoo_main "$@"
