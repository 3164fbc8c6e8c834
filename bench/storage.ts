// Storage tools' overhead: a 4 KiB direct-I/O write+read loop and a buffered 4 KiB write+fsync
// loop on a loop-device ext4, alone and under bpfkit biotop, biolatency and ext4slower.
// Runs are interleaved (alone, biotop, biolatency, ext4slower, alone, ...) so that noise from
// other work on the machine hits all configurations alike; prints median rates and the ratio
// rate alone / rate under the tool (1.00 = no cost; target <= 1.05). Nothing passes or fails.
// Run as root: node dist/bench/storage.js   (RUNS=7 DIO_OPS=4000 FSYNC_OPS=400 to change)
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { compileC } from '../test/helpers.js';
import { makeLoopFs } from '../test/storagefs.js';
import { fmt, median, startBpfkit, type Background } from './common.js';

const RUNS = Number(process.env.RUNS ?? 5);
const DIO_OPS = Number(process.env.DIO_OPS ?? 4000);
const FSYNC_OPS = Number(process.env.FSYNC_OPS ?? 400);

// bench dio|fsync PATH OPS: prints the operations per second of the loop (timed inside).
const WORKLOAD = `
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
int main(int argc, char **argv) {
  int n = atoi(argv[3]);
  void *buf;
  if (posix_memalign(&buf, 4096, 4096)) return 2;
  memset(buf, 'b', 4096);
  int dio = !strcmp(argv[1], "dio");
  int fd = open(argv[2], O_CREAT | O_RDWR | (dio ? O_DIRECT : 0), 0644);
  if (fd < 0) { perror("open"); return 3; }
  double t0 = now();
  for (int i = 0; i < n; i++) {
    off_t off = (off_t)(i % 256) * 4096;
    if (dio) {
      if (pwrite(fd, buf, 4096, off) != 4096 || pread(fd, buf, 4096, off) != 4096) { perror("io"); return 4; }
    } else {
      if (pwrite(fd, buf, 4096, off) != 4096 || fsync(fd)) { perror("io"); return 5; }
    }
  }
  printf("%f\\n", n / (now() - t0));
  return 0;
}
`;

function rate(bin: string, mode: string, path: string, ops: number): number {
  const r = spawnSync(bin, [mode, path, String(ops)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`workload ${mode} failed: ${r.stderr}`);
  return Number(r.stdout.trim());
}

async function main() {
  if (process.getuid?.() !== 0) throw new Error('run as root (loop device, BPF)');
  const bin = compileC(WORKLOAD);
  const fs = makeLoopFs(128);
  try {
    const dioFile = join(fs.dir, 'dio');
    const syncFile = join(fs.dir, 'sync');
    spawnSync('fallocate', ['-l', String(256 * 4096), dioFile]);
    spawnSync('fallocate', ['-l', String(256 * 4096), syncFile]);
    rate(bin, 'dio', dioFile, 200); // warm up
    rate(bin, 'fsync', syncFile, 20);
    const configs: Array<[string, string[] | undefined]> = [
      ['alone', undefined],
      ['biotop', ['biotop', '-C', '--json', '1']],
      ['biolatency', ['biolatency', '--json', '1']],
      ['ext4slower', ['ext4slower', '--json']],
    ];
    const dio = new Map<string, number[]>(configs.map(([n]) => [n, []]));
    const sync = new Map<string, number[]>(configs.map(([n]) => [n, []]));
    for (let r = 0; r < RUNS; r++) {
      for (const [name, args] of configs) {
        let bg: Background | undefined;
        if (args) bg = await startBpfkit(args);
        try {
          dio.get(name)!.push(rate(bin, 'dio', dioFile, DIO_OPS));
          sync.get(name)!.push(rate(bin, 'fsync', syncFile, FSYNC_OPS));
        } finally {
          await bg?.stop();
        }
      }
    }
    console.log(`loop-device ext4 (${fs.device}), median of ${RUNS} interleaved runs; ratio = rate alone / rate under the tool (target <= 1.05)`);
    console.log(`${'configuration'.padEnd(14)} ${'DIO 4K w+r/s'.padStart(13)} ${'ratio'.padStart(6)}   ${'4K write+fsync/s'.padStart(16)} ${'ratio'.padStart(6)}`);
    const dioAlone = median(dio.get('alone')!);
    const syncAlone = median(sync.get('alone')!);
    for (const [name] of configs) {
      const d = median(dio.get(name)!);
      const s = median(sync.get(name)!);
      console.log(`${name.padEnd(14)} ${fmt(d, 0).padStart(13)} ${fmt(dioAlone / d).padStart(6)}   ${fmt(s, 0).padStart(16)} ${fmt(syncAlone / s).padStart(6)}`);
    }
  } finally {
    fs.cleanup();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
