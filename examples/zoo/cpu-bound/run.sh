#!/usr/bin/env bash
# cpu-bound: source -> transform -> sink over TCP; the transform's one thread is on the CPU
# all the time (pure-Python work per message), the source sends as fast as it accepts.
#   run.sh start | status [--json] | stop      (ZOO_DIR, ZOO_PORT_BASE: see ../lib.sh)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
zoo_init cpu-bound 27100 source transform sink

do_start() { zoo_start_line source transform; }

do_stop() { zoo_stop_all; }

do_truth() {
  zoo_sample 2
  ZOO_EXPECT_STAGE=transform
  ZOO_EXPECT_KIND=cpu-saturated
  ZOO_MSGS="${ZOO_RATE[sink]}"
  ZOO_TRUTH="transform's thread on CPU ${ZOO_TCPU[transform]}% + runnable ${ZOO_RUNQ[transform]}% of 2 s, never waiting for input (source ${ZOO_CPU[source]}%, sink ${ZOO_CPU[sink]}% CPU); the source is blocked on the transform's full socket (Send-Q $(zoo_send_q "$ZOO_PORT") B); ${ZOO_MSGS} msgs/s"
  # The transform never waits for input: on CPU or runnable (waiting for a core) all the time, and
  # on CPU at least half of it (other load on a 2-core host takes the rest: seen 56% + 41%).
  zoo_ge $((ZOO_TCPU[transform] + ZOO_RUNQ[transform])) 85 && zoo_ge "${ZOO_TCPU[transform]}" 50 && ZOO_HOLDS=true || ZOO_HOLDS=false
  ZOO_EXTRA_JSON=",\"cpu\":{\"source\":${ZOO_CPU[source]},\"transform\":${ZOO_TCPU[transform]},\"sink\":${ZOO_CPU[sink]}}"
}

zoo_main "$@"
