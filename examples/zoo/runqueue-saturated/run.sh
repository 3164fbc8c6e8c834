#!/usr/bin/env bash
# runqueue-saturated: a dispatcher (python3) forks WORKERS workers (the same python3, no exec)
# that connect back to it over TCP and do ~5 ms of CPU work per job, two jobs outstanding
# each. With more runnable workers than CPUs they take turns on the run queue: no single
# process is at 100%, the CPUs are, and each worker waits runnable most of the time.
#   run.sh start | status [--json] | stop      (ZOO_DIR, ZOO_PORT_BASE: see ../lib.sh)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
WORKERS=7
zoo_init runqueue-saturated 27190 dispatcher $(for ((i = 1; i <= WORKERS; i++)); do echo "worker$i"; done)

do_start() {
  zoo_start_stage dispatcher "$ZOO_PY" pool.py "$ZOO_PORT" "$WORKERS"
  zoo_wait_port "$ZOO_PORT"
  zoo_wait_file "$ZOO_STATE/worker$WORKERS.pid"
  zoo_wait_steady dispatcher 5
}

do_stop() { zoo_stop_all; }

do_truth() {
  zoo_sample 2
  local i cpu=0 runq=0 pids=() ncpu
  for ((i = 1; i <= WORKERS; i++)); do
    cpu=$((cpu + ZOO_CPU[worker$i])); runq=$((runq + ZOO_RUNQ[worker$i]))
    pids+=("${ZOO_PIDS[worker$i]}")
  done
  ncpu="$(nproc)"
  local share
  share=$(awk -v q="$runq" -v c="$cpu" 'BEGIN{printf "%.0f", (q + c > 0 ? q*100/(q+c) : 0)}')
  ZOO_EXPECT_STAGE=worker1  # any worker: the pool is one service
  ZOO_EXPECT_KIND=runqueue-saturated
  ZOO_MSGS="${ZOO_RATE[dispatcher]}"
  ZOO_TRUTH="$WORKERS CPU-bound workers on $ncpu CPUs: together on CPU ${cpu}% and waiting runnable on the run queue ${runq}% (of one core; schedstat run delay), so each worker waits ${share}% of the time it wants to run; runnable tasks on the host now $(awk '{split($4, a, "/"); print a[1]}' /proc/loadavg) (loadavg 1 min $(cut -d' ' -f1 /proc/loadavg)); dispatcher CPU ${ZOO_CPU[dispatcher]}%; ${ZOO_MSGS} jobs/s"
  # Workers wait runnable more than they run, and on average more workers wait than there
  # are CPUs (other load on the host only makes the queue longer).
  ZOO_HOLDS=false
  [ "$share" -ge 50 ] && [ "$runq" -ge $((ncpu * 100)) ] && ZOO_HOLDS=true
  ZOO_EXTRA_JSON=",\"workers\":[$(IFS=,; echo "${pids[*]}")],\"runqueue\":{\"workersCpuPct\":$cpu,\"workersRunqWaitPct\":$runq,\"waitSharePct\":$share,\"cpus\":$ncpu}"
}

zoo_main "$@"
