#!/usr/bin/env bash
# disk-bound: source -> writer over TCP. The writer appends each record to a log file on its
# own ext4 (a loop device over an image in the state dir) and fdatasyncs it before reading the
# next; its cgroup (v1 blkio) may write that device only WRITE_IOPS times a second, so every
# fdatasync waits for the throttled disk. The source sends as fast as the writer takes it.
#   run.sh start | status [--json] | stop      (ZOO_DIR, ZOO_PORT_BASE: see ../lib.sh)
#   WRITE_IOPS (100): the blkio write limit on the loop device
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
zoo_init disk-bound 27160 source writer

WRITE_IOPS="${WRITE_IOPS:-100}"
IMG="$ZOO_STATE/disk.img"
MNT="$ZOO_STATE/mnt"
CG="/sys/fs/cgroup/blkio/bpfkit-zoo-$ZOO_NAME-$ZOO_PORT"

do_start() {
  [ -d /sys/fs/cgroup/blkio ] || zoo_die "needs the cgroup v1 blkio controller at /sys/fs/cgroup/blkio"
  truncate -s 64M "$IMG"
  mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$IMG"
  local dev majmin
  dev="$(losetup -f --show "$IMG")"
  mkdir -p "$MNT"
  mount "$dev" "$MNT"
  majmin="$(lsblk -dno MAJ:MIN "$dev" | tr -d ' ')"
  echo "$dev $majmin" >"$ZOO_STATE/disk"
  mkdir -p "$CG"
  echo "$majmin $WRITE_IOPS" >"$CG/blkio.throttle.write_iops_device"
  zoo_start_stage writer "$ZOO_PY" writer.py "$ZOO_PORT" "$MNT/wal.log"
  # Into the throttled cgroup before the first record arrives (the source starts after this).
  zoo_pid writer >"$CG/cgroup.procs"
  zoo_wait_port "$ZOO_PORT"
  zoo_start_stage source "$ZOO_PY" source.py "$ZOO_PORT"
  zoo_wait_steady writer 5
}

do_stop() {
  zoo_stop_all
  if mountpoint -q "$MNT" 2>/dev/null; then umount "$MNT" || umount -l "$MNT"; fi
  local dev
  # Every loop device over our image (also ones a failed start left without a mount).
  for dev in $(losetup -nO NAME -j "$IMG" 2>/dev/null); do losetup -d "$dev" || true; done
  local i
  # An exiting task may hold the cgroup for a moment after it is gone from /proc.
  for ((i = 0; i < 20; i++)); do [ -d "$CG" ] && ! rmdir "$CG" 2>/dev/null || break; sleep 0.1; done
  [ ! -d "$CG" ] || zoo_log "could not remove $CG"
  rm -f "$IMG" "$ZOO_STATE/disk"
}

blkio_writes() {  # writes this cgroup issued to the loop device so far
  awk -v d="$1" '$1 == d && $2 == "Write" { print $3 }' "$CG/blkio.throttle.io_serviced"
}

do_truth() {
  local dev majmin w0 w1 t0 t1
  read -r dev majmin <"$ZOO_STATE/disk"
  w0="$(blkio_writes "$majmin")"; t0=$(date +%s%N)
  zoo_sample 2
  w1="$(blkio_writes "$majmin")"; t1=$(date +%s%N)
  local wps
  wps=$(awk -v d=$((w1 - w0)) -v ns=$((t1 - t0)) 'BEGIN{printf "%.1f", d*1e9/ns}')
  ZOO_EXPECT_STAGE=writer
  ZOO_EXPECT_KIND=disk-bound
  ZOO_MSGS="${ZOO_RATE[writer]}"
  ZOO_TRUTH="writer fdatasyncs every message: ${ZOO_MSGS} msgs/s = its blkio cgroup's ${wps} writes/s to $dev ($majmin) against a limit of $WRITE_IOPS write IOPS; writer CPU ${ZOO_CPU[writer]}%, source blocked on the writer's full socket (Send-Q $(zoo_send_q "$ZOO_PORT") B)"
  # The cgroup writes at its limit (one write per fdatasync), and the writer keeps pace with it.
  ZOO_HOLDS=false
  zoo_ge "$wps" "$(awk -v l="$WRITE_IOPS" 'BEGIN{print l*0.9}')" && zoo_ge "$(awk -v l="$WRITE_IOPS" 'BEGIN{print l*1.1}')" "$wps" \
    && zoo_ge "$ZOO_MSGS" "$(awk -v l="$WRITE_IOPS" 'BEGIN{print l*0.8}')" && ZOO_HOLDS=true
  ZOO_EXTRA_JSON=",\"disk\":{\"device\":\"$dev\",\"writeIopsLimit\":$WRITE_IOPS,\"writesPerS\":$wps},\"cpu\":{\"source\":${ZOO_CPU[source]},\"writer\":${ZOO_CPU[writer]}}"
}

zoo_main "$@"
