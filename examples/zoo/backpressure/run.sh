#!/usr/bin/env bash
# backpressure: a fast writer streams over TCP to a slow sink that reads 4 KiB and then waits
# 2 ms (not CPU); the socket buffers stay full and the writer is blocked in send. The sink limits
# the pipeline.
#   run.sh start | status [--json] | stop      (ZOO_DIR, ZOO_PORT_BASE: see ../lib.sh)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
zoo_init backpressure 27150 writer sink

do_start() {
  zoo_start_stage sink "$ZOO_PY" stage.py sink
  zoo_wait_port "$ZOO_PORT"
  zoo_start_stage writer "$ZOO_PY" stage.py writer
  zoo_wait_steady sink 5
}

do_stop() { zoo_stop_all; }

sndbuf_of_writer() {  # the writer socket's send buffer limit (skmem tb), bytes
  ss -Htnm "dport = :$ZOO_PORT" 2>/dev/null | grep -o 'tb[0-9]*' | tr -d tb | sort -n | tail -1
}

do_truth() {
  local blocked_pct sendq recvq tb
  zoo_share_begin writer-blocked
  zoo_sample 2
  blocked_pct="$(zoo_share_end writer-blocked)"
  sendq="$(zoo_send_q "$ZOO_PORT")"
  recvq="$(zoo_recv_q "$ZOO_PORT")"
  tb="$(sndbuf_of_writer)"
  ZOO_EXPECT_STAGE=sink
  ZOO_EXPECT_KIND=backpressure
  ZOO_MSGS="${ZOO_RATE[sink]}"
  ZOO_TRUTH="the writer is blocked in send ${blocked_pct}% of the time with Send-Q ${sendq} B (send buffer ${tb:-?} B) and ${recvq} B unread at the sink; the sink reads ${ZOO_MSGS} 4 KiB chunks/s = what the writer gets out (${ZOO_RATE[writer]}/s), at ${ZOO_CPU[sink]}% CPU (it waits 2 ms per chunk, not CPU-bound); writer ${ZOO_CPU[writer]}% CPU"
  zoo_ge "$blocked_pct" 85 && zoo_ge "$sendq" 65536 && ! zoo_ge "${ZOO_CPU[sink]}" 40 && ZOO_HOLDS=true || ZOO_HOLDS=false
  ZOO_EXTRA_JSON=",\"writerBlockedPct\":$blocked_pct,\"sendQ\":$sendq,\"recvQ\":$recvq,\"sndbuf\":${tb:-0},\"cpu\":{\"writer\":${ZOO_CPU[writer]},\"sink\":${ZOO_CPU[sink]}}"
}

zoo_main "$@"
