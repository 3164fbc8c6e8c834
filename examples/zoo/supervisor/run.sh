#!/usr/bin/env bash
# supervisor: one python3 launcher starts source -> transform -> sink as its children, all the
# same executable (python3) with the same parent; the transform is CPU-bound on one thread.
#   run.sh start | status [--json] | stop      (ZOO_DIR, ZOO_PORT_BASE: see ../lib.sh)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
zoo_init supervisor 27110 source transform sink launcher

do_start() {
  # The sink listens before the transform connects; stages retry their connects meanwhile.
  zoo_start_stage launcher "$ZOO_PY" ../launch.py sink:stage.py:sink transform:stage.py:transform source:stage.py:source
  zoo_wait_file "$ZOO_STATE/source.pid"
  zoo_wait_steady sink 5
}

do_stop() { zoo_stop_all; }

do_truth() {
  zoo_sample 2
  ZOO_EXPECT_STAGE=transform
  ZOO_EXPECT_KIND=cpu-saturated
  ZOO_MSGS="${ZOO_RATE[sink]}"
  local lp
  lp="$(zoo_pid launcher || echo '?')"
  ZOO_TRUTH="transform (child of launcher $lp like source and sink, all python3) on CPU ${ZOO_TCPU[transform]}% + runnable ${ZOO_RUNQ[transform]}% of 2 s, never waiting for input (source ${ZOO_CPU[source]}%, sink ${ZOO_CPU[sink]}%, launcher ${ZOO_CPU[launcher]}% CPU); the source is blocked on the transform's full socket (Send-Q $(zoo_send_q "$ZOO_PORT") B); ${ZOO_MSGS} msgs/s"
  zoo_ge $((ZOO_TCPU[transform] + ZOO_RUNQ[transform])) 85 && zoo_ge "${ZOO_TCPU[transform]}" 50 && ZOO_HOLDS=true || ZOO_HOLDS=false
  ZOO_EXTRA_JSON=",\"cpu\":{\"source\":${ZOO_CPU[source]},\"transform\":${ZOO_TCPU[transform]},\"sink\":${ZOO_CPU[sink]},\"launcher\":${ZOO_CPU[launcher]}}"
}

zoo_main "$@"
