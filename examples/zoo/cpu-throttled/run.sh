#!/usr/bin/env bash
# cpu-throttled: source -> worker -> sink over TCP. The worker burns ~1 ms of CPU per message
# and would use a whole core, but it runs in a cgroup v1 cpu cgroup with a CFS quota of
# 25 ms per 100 ms period (0.25 core): it spends most of each period throttled.
#   run.sh start | status [--json] | stop      (ZOO_DIR, ZOO_PORT_BASE: see ../lib.sh)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
zoo_init cpu-throttled 27180 source worker sink

QUOTA_US="${QUOTA_US:-25000}"  # -1: no quota (to see the worker use a whole core)
PERIOD_US=100000
CG="/sys/fs/cgroup/cpu/bpfkit-zoo-$ZOO_NAME-$ZOO_PORT"

do_start() {
  [ -d /sys/fs/cgroup/cpu ] || zoo_die "needs the cgroup v1 cpu controller at /sys/fs/cgroup/cpu"
  mkdir -p "$CG"
  echo "$PERIOD_US" >"$CG/cpu.cfs_period_us"
  echo "$QUOTA_US" >"$CG/cpu.cfs_quota_us"
  zoo_start_stage sink "$ZOO_PY" sink.py $((ZOO_PORT + 1))
  zoo_wait_port $((ZOO_PORT + 1))
  zoo_start_stage worker "$ZOO_PY" worker.py "$ZOO_PORT" $((ZOO_PORT + 1))
  zoo_pid worker >"$CG/cgroup.procs"  # before any work arrives (the source starts after this)
  zoo_wait_port "$ZOO_PORT"
  zoo_start_stage source "$ZOO_PY" source.py "$ZOO_PORT"
  zoo_wait_steady sink 5
}

do_stop() {
  zoo_stop_all
  local i
  # An exiting task may hold the cgroup for a moment after it is gone from /proc.
  for ((i = 0; i < 20; i++)); do [ -d "$CG" ] && ! rmdir "$CG" 2>/dev/null || break; sleep 0.1; done
  [ ! -d "$CG" ] || zoo_log "could not remove $CG"
}

cpu_stat() {  # "NR_PERIODS NR_THROTTLED THROTTLED_NS"
  awk '{ v[$1] = $2 } END { print v["nr_periods"], v["nr_throttled"], v["throttled_time"] }' "$CG/cpu.stat"
}

do_truth() {
  local p0 n0 ns0 p1 n1 ns1 t0 t1
  read -r p0 n0 ns0 < <(cpu_stat); t0=$(date +%s%N)
  zoo_sample 2
  read -r p1 n1 ns1 < <(cpu_stat); t1=$(date +%s%N)
  local share secs
  secs=$(awk -v w=$((t1 - t0)) 'BEGIN{printf "%.1f", w/1e9}')
  share=$(awk -v d=$((ns1 - ns0)) -v w=$((t1 - t0)) 'BEGIN{printf "%.0f", d*100/w}')
  ZOO_EXPECT_STAGE=worker
  ZOO_EXPECT_KIND=cpu-throttled
  ZOO_MSGS="${ZOO_RATE[sink]}"
  ZOO_TRUTH="worker's cgroup (cfs quota $((QUOTA_US / 1000)) ms per $((PERIOD_US / 1000)) ms = $(awk -v q="$QUOTA_US" -v p="$PERIOD_US" 'BEGIN{print q / p}') core) was throttled in $((n1 - n0)) of $((p1 - p0)) periods over ${secs} s, throttled ${share}% of the time; worker CPU ${ZOO_CPU[worker]}% of one core (source ${ZOO_CPU[source]}%, sink ${ZOO_CPU[sink]}%); source blocked on the worker's full socket (Send-Q $(zoo_send_q "$ZOO_PORT") B); ${ZOO_MSGS} msgs/s"
  # Throttled in most periods, and the worker gets about its quota (unthrottled it would use a core).
  ZOO_HOLDS=false
  [ $((p1 - p0)) -gt 0 ] && [ $(((n1 - n0) * 10)) -ge $(((p1 - p0) * 8)) ] \
    && [ "${ZOO_CPU[worker]}" -ge 18 ] && [ "${ZOO_CPU[worker]}" -le 32 ] && ZOO_HOLDS=true
  ZOO_EXTRA_JSON=",\"throttling\":{\"quotaUs\":$QUOTA_US,\"periodUs\":$PERIOD_US,\"periods\":$((p1 - p0)),\"throttled\":$((n1 - n0)),\"throttledNs\":$((ns1 - ns0))},\"cpu\":{\"source\":${ZOO_CPU[source]},\"worker\":${ZOO_CPU[worker]},\"sink\":${ZOO_CPU[sink]}}"
}

zoo_main "$@"
