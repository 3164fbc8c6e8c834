// A throwaway ext4 file system on a loop device for the storage tools' kernel tests, so that
// results do not depend on the host's disk. Also the C workloads with a known ground truth.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface LoopFs {
  dir: string;
  device: string;   // /dev/loopN
  name: string;     // loopN
  major: number;
  minor: number;
  cleanup(): void;
}

/**
 * Make a 64 MiB ext4 image (no lazy init, so no background writes), attach it to a free loop
 * device and mount it with a long journal commit interval (no jbd2 writes during a test).
 */
export function makeLoopFs(sizeMb = 64): LoopFs {
  const base = mkdtempSync(join(tmpdir(), 'bpfkit-storage-'));
  const img = join(base, 'ext4.img');
  const dir = join(base, 'mnt');
  execFileSync('truncate', ['-s', `${sizeMb}M`, img]);
  execFileSync('mkfs.ext4', ['-q', '-F', '-E', 'lazy_itable_init=0,lazy_journal_init=0', img]);
  const device = execFileSync('losetup', ['-f', '--show', img], { encoding: 'utf8' }).trim();
  const name = device.replace('/dev/', '');
  execFileSync('mkdir', ['-p', dir]);
  try {
    execFileSync('mount', ['-t', 'ext4', '-o', 'commit=300', device, dir]);
  } catch (err) {
    execFileSync('losetup', ['-d', device]);
    throw err;
  }
  const [major, minor] = readFileSync(`/sys/class/block/${name}/dev`, 'utf8').trim().split(':').map(Number) as [number, number];
  return {
    dir, device, name, major, minor,
    cleanup() {
      try { execFileSync('umount', [dir]); } catch { /* already gone */ }
      try { execFileSync('losetup', ['-d', device]); } catch { /* already gone */ }
      rmSync(base, { recursive: true, force: true });
    },
  };
}

/** Completed reads and writes and their sectors, from /sys/block/NAME/stat. */
export function diskStat(name: string): { reads: number; readSectors: number; writes: number; writeSectors: number } {
  const f = readFileSync(`/sys/block/${name}/stat`, 'utf8').trim().split(/\s+/).map(Number);
  return { reads: f[0]!, readSectors: f[2]!, writes: f[4]!, writeSectors: f[6]! };
}

/**
 * dio PATH K: waits for a line on stdin, then writes K x 4 KiB with O_DIRECT (offsets 0, 4K, ...)
 * and reads them back with O_DIRECT. Prints "done".
 * fs PATH N OTHER: waits, then: open(PATH, O_CREAT|O_TRUNC|O_WRONLY); N sequential writes of
 * (i+1)*1000 bytes; one pwrite of 8192 bytes at 1 MiB; fsync; close; open(PATH) and 3 reads of
 * 4096; close. Then the same on OTHER (another file system). Prints "done".
 */
export const STORAGE_WORKLOAD = `
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
static void fs_ops(const char *path, int n) {
  static char buf[16384];
  memset(buf, 'x', sizeof buf);
  int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
  if (fd < 0) { perror("open"); exit(1); }
  for (int i = 0; i < n; i++) if (write(fd, buf, (i + 1) * 1000) != (i + 1) * 1000) exit(2);
  if (pwrite(fd, buf, 8192, 1 << 20) != 8192) exit(3);
  if (fsync(fd)) exit(4);
  close(fd);
  fd = open(path, O_RDONLY);
  if (fd < 0) exit(5);
  for (int i = 0; i < 3; i++) if (read(fd, buf, 4096) != 4096) exit(6);
  close(fd);
}
int main(int argc, char **argv) {
  char line[8];
  if (read(0, line, sizeof line) <= 0) return 1;
  if (!strcmp(argv[1], "dio")) {
    int k = atoi(argv[3]);
    void *buf;
    if (posix_memalign(&buf, 4096, 4096)) return 2;
    memset(buf, 'd', 4096);
    int fd = open(argv[2], O_CREAT | O_RDWR | O_DIRECT, 0644);
    if (fd < 0) { perror("open"); return 3; }
    for (int i = 0; i < k; i++) if (pwrite(fd, buf, 4096, (off_t)i * 4096) != 4096) { perror("pwrite"); return 4; }
    for (int i = 0; i < k; i++) if (pread(fd, buf, 4096, (off_t)i * 4096) != 4096) { perror("pread"); return 5; }
    close(fd);
  } else {
    fs_ops(argv[2], atoi(argv[3]));
    if (argc > 4) fs_ops(argv[4], atoi(argv[3]));
  }
  puts("done");
  return 0;
}
`;

/**
 * Shell lines for run-in-kernel: load the 6.1 kernel's loop and ext4 modules, make a 32 MiB
 * ext4 image in $D and mount it at $D/mnt (device in $DEV).
 */
export const VM_EXT4 = `M=/var/cache/run-in-kernel/debian-6.1/tree
KV=$(ls $M/lib/modules)
modprobe -d $M -S $KV loop; modprobe -d $M -S $KV ext4
D=$(mktemp -d)
truncate -s 32M $D/img; mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 $D/img
DEV=$(losetup -f --show $D/img); mkdir $D/mnt; mount -o commit=300 $DEV $D/mnt`;
