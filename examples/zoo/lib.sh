# Shared helpers for the zoo's run.sh scripts. Source it, then call zoo_main "$@":
#
#   source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
#   zoo_init NAME DEFAULT_PORT_BASE ROLE...   # ROLE...: the stages, in pipeline order
#   do_start()  { ...; zoo_start_stage ROLE CMD...; zoo_wait_port "$ZOO_PORT" 5; ...; zoo_wait_steady ROLE 5; }
#   do_stop()   { zoo_stop_all; ...remove cgroups/mounts here... }
#   do_truth()  { zoo_sample 2; ZOO_EXPECT_STAGE=...; ZOO_EXPECT_KIND=...; ZOO_MSGS=...; ZOO_TRUTH="..."; }
#   zoo_main "$@"
#
# State: $ZOO_STATE = ${ZOO_DIR:-/tmp/bpfkit-zoo}/NAME holds ROLE.pid ("PID STARTTIME": the
# start time keeps a stale file from naming a reused pid), ROLE.log and ROLE.count.
# Counters: a stage publishes "TOTAL MONOTONIC_NS" in $ZOO_STATE/ROLE.count (written to a temp
# file and renamed), e.g. with examples/zoo/zoo.py's Counter; rates use the writer's timestamps.
# Ports: ZOO_PORT = ${ZOO_PORT_BASE:-DEFAULT_PORT_BASE}; use ZOO_PORT, ZOO_PORT+1, ...
# (each pipeline owns 10 ports; the defaults sit below the ephemeral range 32768-60999).

ZOO_LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ZOO_PY="${ZOO_PY:-/usr/bin/python3}"
export PYTHONDONTWRITEBYTECODE=1   # keep __pycache__ out of the source tree
export PYTHONPATH="$ZOO_LIB_DIR${PYTHONPATH:+:$PYTHONPATH}"   # zoo.py for python stages
ZOO_CLK_TCK="$(getconf CLK_TCK)"

zoo_log() { echo "zoo/${ZOO_NAME:-?}: $*" >&2; }
zoo_die() { zoo_log "$*"; exit 1; }

# zoo_init NAME DEFAULT_PORT_BASE ROLE...: sets ZOO_NAME, ZOO_HERE (the pipeline's directory),
# ZOO_STATE, ZOO_PORT, ZOO_ROLES (array).
zoo_init() {
  ZOO_NAME="$1"; ZOO_PORT="${ZOO_PORT_BASE:-$2}"; shift 2
  ZOO_ROLES=("$@")
  ZOO_HERE="$(cd "$(dirname "${BASH_SOURCE[1]}")" && pwd)"
  ZOO_STATE="$(realpath -m "${ZOO_DIR:-/tmp/bpfkit-zoo}/$ZOO_NAME")"
  [[ "$ZOO_PORT" =~ ^[1-9][0-9]*$ ]] || zoo_die "ZOO_PORT_BASE must be a port number, not '$ZOO_PORT'"
  export ZOO_NAME ZOO_STATE ZOO_PORT
}

zoo_alive() {  # a zombie counts as gone
  local state
  state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

zoo_starttime() {  # field 22 of /proc/PID/stat (after the comm, which may hold spaces)
  local s
  s="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  s="${s##*) }"
  set -- $s
  echo "${20}"
}

# zoo_write_pid ROLE PID: record a stage started by someone else (e.g. a launcher's child).
zoo_write_pid() { echo "$2 $(zoo_starttime "$2")" >"$ZOO_STATE/$1.pid"; }

# zoo_pid ROLE: the stage's pid if its pid file names a live process started when recorded.
zoo_pid() {
  local f="$ZOO_STATE/$1.pid" pid st
  [ -f "$f" ] || return 1
  pid=""; st=""
  read -r pid st <"$f" 2>/dev/null || [ -n "$pid" ] || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] && zoo_alive "$pid" || return 1
  [ -z "$st" ] || [ "$st" = "$(zoo_starttime "$pid")" ] || return 1
  echo "$pid"
}

# zoo_start_stage ROLE CMD...: start CMD detached in its own session (setsid: its own process
# group), cwd the pipeline's directory, output in ROLE.log, pid in ROLE.pid.
zoo_start_stage() {
  local role="$1" pid
  shift
  (cd "$ZOO_HERE" && exec setsid "$@" >"$ZOO_STATE/$role.log" 2>&1 </dev/null) &
  pid=$!
  zoo_write_pid "$role" "$pid"
}

# zoo_wait_port PORT [SECS]: wait until something listens on 127.0.0.1:PORT (ss, no connect).
zoo_wait_port() {
  local port="$1" secs="${2:-5}" i
  for ((i = 0; i < secs * 10; i++)); do
    [ -n "$(ss -Hltn "sport = :$port" 2>/dev/null)" ] && return 0
    sleep 0.1
  done
  zoo_die "nothing listens on port $port after ${secs}s (logs in $ZOO_STATE)"
}

# zoo_wait_file FILE [SECS]: wait until FILE exists and is not empty.
zoo_wait_file() {
  local f="$1" secs="${2:-5}" i
  for ((i = 0; i < secs * 10; i++)); do [ -s "$f" ] && return 0; sleep 0.1; done
  zoo_die "$f did not appear after ${secs}s (logs in $ZOO_STATE)"
}

zoo_count() {  # zoo_count ROLE: "TOTAL NS" from ROLE.count (NS: the reader's clock if absent)
  local c="" ns=""
  [ -r "$ZOO_STATE/$1.count" ] && read -r c ns 2>/dev/null <"$ZOO_STATE/$1.count"
  echo "${c:-0} ${ns:-$(date +%s%N)}"
}

# zoo_wait_steady ROLE [SECS]: wait until ROLE's counter moves (it published at least twice),
# then a second more for the pipeline to fill its buffers.
zoo_wait_steady() {
  local role="$1" secs="${2:-5}" i c0 c
  read -r c0 _ < <(zoo_count "$role")
  for ((i = 0; i < secs * 10; i++)); do
    read -r c _ < <(zoo_count "$role")
    if [ "$c" -gt "$c0" ] && [ "$c0" -gt 0 ]; then sleep 1; return 0; fi
    [ "$c0" -gt 0 ] || c0="$c"
    sleep 0.1
  done
  zoo_die "$role made no progress in ${secs}s (logs in $ZOO_STATE)"
}

# zoo_start_line FIRST MIDDLE: a three-stage line FIRST -> MIDDLE -> sink of stage.py (ports
# ZOO_PORT and ZOO_PORT + 1), each stage started once the next one listens; returns when the
# sink's counter moves.
zoo_start_line() {
  zoo_start_stage sink "$ZOO_PY" stage.py sink
  zoo_wait_port $((ZOO_PORT + 1))
  zoo_start_stage "$2" "$ZOO_PY" stage.py "$2"
  zoo_wait_port "$ZOO_PORT"
  zoo_start_stage "$1" "$ZOO_PY" stage.py "$1"
  zoo_wait_steady sink 5
}

_zoo_cpu_ticks() {  # "PROCESS_TICKS RUNQ_WAIT_NS" for pid $1, summed over its threads (no forks)
  local t s tot=0 wait=0 b
  for t in /proc/"$1"/task/*; do
    read -r s 2>/dev/null <"$t/stat" || continue
    s="${s##*) }"
    set -- $s
    tot=$((tot + ${12} + ${13}))
    read -r _ b _ 2>/dev/null <"$t/schedstat" && wait=$((wait + b))
  done
  echo "$tot $wait"
}

_zoo_now_us() { echo $(( ${EPOCHREALTIME/./} )); }

# zoo_sample [SECS]: sample every stage's counter and CPU over SECS (2) and set, per ROLE:
#   ZOO_RATE[ROLE]  counter increments per second (writer's clock)
#   ZOO_CPU[ROLE]   process CPU, % of one core (all threads)
#   ZOO_TCPU[ROLE]  busiest thread's CPU, % of one core (per-thread ticks at t0 and t1; threads
#                   that start or end in the window are counted only where present both times)
#   ZOO_RUNQ[ROLE]  time its threads waited runnable on a run queue, % of one core (schedstat)
#   ZOO_PIDS[ROLE]  the pid ("" when not running)
# Rates and CPU come from the same window.
zoo_sample() {
  local secs="${1:-2}" r pid c ns tk wt
  declare -gA ZOO_RATE=() ZOO_CPU=() ZOO_TCPU=() ZOO_RUNQ=() ZOO_PIDS=()
  declare -A c0 n0 tk0 wt0 th0 us0
  for r in "${ZOO_ROLES[@]}"; do
    pid="$(zoo_pid "$r" || true)"; ZOO_PIDS[$r]="$pid"
    read -r c ns < <(zoo_count "$r"); c0[$r]=$c; n0[$r]=$ns
    [ -n "$pid" ] || continue
    # Each process's window runs from its own first read to its own last read.
    us0[$r]=$(_zoo_now_us)
    read -r tk0[$r] wt0[$r] < <(_zoo_cpu_ticks "$pid")
    th0[$r]="$(_zoo_thread_ticks "$pid")"
  done
  sleep "$secs"
  for r in "${ZOO_ROLES[@]}"; do
    read -r c ns < <(zoo_count "$r")
    if [ "$ns" -gt "${n0[$r]}" ]; then
      ZOO_RATE[$r]=$(awk -v a="${c0[$r]}" -v b="$c" -v d=$((ns - n0[$r])) 'BEGIN{printf "%.1f", (b-a)*1e9/d}')
    else
      ZOO_RATE[$r]=0
    fi
    pid="${ZOO_PIDS[$r]}"
    if [ -z "$pid" ]; then ZOO_CPU[$r]=0; ZOO_TCPU[$r]=0; ZOO_RUNQ[$r]=0; continue; fi
    read -r tk wt < <(_zoo_cpu_ticks "$pid")
    local th1 ms
    th1="$(_zoo_thread_ticks "$pid")"
    ms=$(( ($(_zoo_now_us) - us0[$r]) / 1000 ))
    ZOO_CPU[$r]=$(awk -v d=$((tk - tk0[$r])) -v ms="$ms" -v hz="$ZOO_CLK_TCK" 'BEGIN{printf "%.0f", d*100000/hz/ms}')
    ZOO_RUNQ[$r]=$(awk -v d=$((wt - wt0[$r])) -v ms="$ms" 'BEGIN{printf "%.0f", d/ms/1e4}')
    ZOO_TCPU[$r]=$(_zoo_thread_max "${th0[$r]}" "$th1" "$ms")
  done
}

_zoo_thread_ticks() {  # "TID:TICKS ..." for pid $1
  local t s out=""
  for t in /proc/"$1"/task/*; do
    read -r s 2>/dev/null <"$t/stat" || continue
    s="${s##*) }"
    set -- $s
    out+="${t##*/}:$((${12} + ${13})) "
  done
  echo "$out"
}

_zoo_thread_max() {  # busiest thread's CPU % between two _zoo_thread_ticks snapshots over $3 ms
  awk -v a="$1" -v b="$2" -v ms="$3" -v hz="$ZOO_CLK_TCK" 'BEGIN{
    n = split(a, x, " "); for (i = 1; i <= n; i++) { split(x[i], kv, ":"); t0[kv[1]] = kv[2] }
    n = split(b, x, " "); m = 0
    for (i = 1; i <= n; i++) { split(x[i], kv, ":"); if (kv[1] in t0 && kv[2] - t0[kv[1]] > m) m = kv[2] - t0[kv[1]] }
    printf "%.0f", m*100000/hz/ms }'
}

# zoo_send_q PORT: the largest Send-Q (bytes not yet acked) on connections to 127.0.0.1:PORT.
zoo_send_q() {
  ss -Htn "dport = :$1" 2>/dev/null | awk '{ if ($3 > m) m = $3 } END { print m + 0 }'
}

# zoo_recv_q PORT: the largest Recv-Q (bytes not yet read) on connections accepted on PORT.
zoo_recv_q() {
  ss -Htn "sport = :$1" 2>/dev/null | awk '{ if ($2 > m) m = $2 } END { print m + 0 }'
}

_zoo_json_str() {  # JSON string literal of $1
  local s="$1"
  s="${s//\\/\\\\}"; s="${s//\"/\\\"}"; s="${s//$'\n'/ }"; s="${s//$'\t'/ }"
  printf '"%s"' "$s"
}

_zoo_pgid() {  # process group of pid $1 (field 5 of its stat, after the comm), empty if gone
  local s=""
  read -r s 2>/dev/null <"/proc/$1/stat" || true
  [ -n "$s" ] || return 0
  s="${s##*) }"
  set -- $s
  echo "$3"
}

# zoo_stop_all: SIGTERM every stage's process group (launchers' children share it), then the
# pids themselves; SIGKILL what is left after 3 s; remove the pid files.
zoo_stop_all() {
  local r pid pg pids=() i left
  [ -d "$ZOO_STATE" ] || return 0
  for f in "$ZOO_STATE"/*.pid; do
    [ -e "$f" ] || continue
    r="$(basename "$f" .pid)"
    pid="$(zoo_pid "$r" || true)"
    [ -n "$pid" ] && pids+=("$pid")
  done
  for pid in "${pids[@]}"; do
    pg="$(_zoo_pgid "$pid")"
    # Only a group this stage leads: never signal the caller's own group.
    # || true: a launcher may reap its children between the two kills (set -e callers).
    if [ "$pg" = "$pid" ]; then kill -TERM -- "-$pg" 2>/dev/null || true; fi
    kill -TERM "$pid" 2>/dev/null || true
  done
  for ((i = 0; i < 30; i++)); do
    left=0
    for pid in "${pids[@]}"; do zoo_alive "$pid" && left=1; done
    [ "$left" = 0 ] && break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do
    if zoo_alive "$pid"; then
      zoo_log "pid $pid ignored SIGTERM, killing"
      pg="$(_zoo_pgid "$pid")"
      if [ "$pg" = "$pid" ]; then kill -KILL -- "-$pg" 2>/dev/null || true; fi
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  rm -f "$ZOO_STATE"/*.pid
}

# zoo_running: true when every role's pid is alive.
zoo_running() {
  local r
  for r in "${ZOO_ROLES[@]}"; do zoo_pid "$r" >/dev/null || return 1; done
}

# Status: do_truth (the pipeline's) sets ZOO_EXPECT_STAGE (a role or empty for none),
# ZOO_EXPECT_KIND, ZOO_MSGS (msgs/s) and ZOO_TRUTH (one sentence), and may set ZOO_EXTRA_JSON
# (',"key":value...' appended to the object), and should set ZOO_HOLDS=true|false: whether the
# measured numbers meet the pipeline's own threshold for its ground truth ("truthHolds").
zoo_status() {
  local json="$1" r pid first=1 stages="" running=true exp
  ZOO_EXPECT_STAGE=""; ZOO_EXPECT_KIND=""; ZOO_MSGS=0; ZOO_TRUTH=""; ZOO_EXTRA_JSON=""; ZOO_HOLDS=""
  zoo_running || running=false
  if [ "$running" = true ]; then do_truth; else ZOO_TRUTH="not running"; fi
  for r in "${ZOO_ROLES[@]}"; do
    pid="$(zoo_pid "$r" || true)"
    [ $first = 1 ] || stages+=","
    first=0
    stages+="\"$r\":${pid:-null}"
  done
  if [ -n "$ZOO_EXPECT_STAGE" ]; then
    pid="$(zoo_pid "$ZOO_EXPECT_STAGE" || true)"
    exp="{\"stage\":\"$ZOO_EXPECT_STAGE\",\"pid\":${pid:-null},\"kind\":$(_zoo_json_str "$ZOO_EXPECT_KIND")}"
  else
    exp='{"stage":null,"kind":null}'
  fi
  local holds=""
  [ -n "$ZOO_HOLDS" ] && holds=",\"truthHolds\":$ZOO_HOLDS"
  if [ "$json" = 1 ]; then
    printf '{"pipeline":"%s","running":%s,"stages":{%s},"expected":%s,"throughput":{"msgsPerS":%s},"groundTruth":%s%s%s}\n' \
      "$ZOO_NAME" "$running" "$stages" "$exp" "${ZOO_MSGS:-0}" "$(_zoo_json_str "$ZOO_TRUTH")" "$holds" "$ZOO_EXTRA_JSON"
  else
    echo "pipeline:    $ZOO_NAME ($([ "$running" = true ] && echo running || echo stopped))"
    for r in "${ZOO_ROLES[@]}"; do printf '  %-12s %s\n' "$r" "$(zoo_pid "$r" || echo -)"; done
    echo "expected:    ${ZOO_EXPECT_STAGE:-none}${ZOO_EXPECT_KIND:+ ($ZOO_EXPECT_KIND)}"
    echo "throughput:  ${ZOO_MSGS:-0} msgs/s"
    echo "truth:       $ZOO_TRUTH${ZOO_HOLDS:+ (holds: $ZOO_HOLDS)}"
  fi
}

# zoo_main start|status [--json]|stop: a failed start stops what it started.
zoo_main() {
  local cmd="${1:-}" json=0
  [ $# -gt 0 ] && shift
  while [ $# -gt 0 ]; do
    case "$1" in
      --json) json=1; shift ;;
      *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    esac
  done
  case "$cmd" in
    start)
      [ "$(id -u)" = 0 ] || zoo_die "start needs root"
      do_stop
      mkdir -p "$ZOO_STATE"
      rm -f "$ZOO_STATE"/*.count "$ZOO_STATE"/*.log
      trap 'if [ $? -ne 0 ]; then zoo_log "start failed, stopping what was started"; do_stop; fi' EXIT
      do_start
      trap - EXIT
      zoo_running || { zoo_log "a stage exited during start (logs in $ZOO_STATE)"; do_stop; exit 1; } ;;
    stop) do_stop ;;
    status) zoo_status "$json" ;;
    *) echo "usage: run.sh start|status [--json]|stop" >&2; exit 2 ;;
  esac
}

# zoo_ge A B: true when number A >= number B (decimals allowed), for ZOO_HOLDS thresholds.
zoo_ge() { awk -v a="$1" -v b="$2" 'BEGIN{exit !(a + 0 >= b + 0)}'; }

# zoo_share_begin/zoo_share_end: for a stage that publishes the microseconds it spent in some state
# as counter NAME (e.g. "producer-sleep"), zoo_share_begin NAME before zoo_sample and
# zoo_share_end NAME after print that state's share of the window in % (writer's clock).
declare -gA _ZOO_SHARE0=()
zoo_share_begin() { _ZOO_SHARE0[$1]="$(zoo_count "$1")"; }
zoo_share_end() {
  local c0 n0 c1 n1
  read -r c0 n0 <<<"${_ZOO_SHARE0[$1]}"
  read -r c1 n1 < <(zoo_count "$1")
  awk -v d=$((c1 - c0)) -v t=$((n1 - n0)) 'BEGIN{ if (t <= 0) print 0; else printf "%.0f", d*1e5/t }'
}
