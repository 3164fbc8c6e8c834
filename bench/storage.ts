// Storage tools' overhead: a 4 KiB direct-I/O write+read loop and a buffered 4 KiB write+fsync
// loop on a loop-device ext4, alone and under bpfkit biotop, biolatency and ext4slower.
// Each tool run sits between two runs alone (A B A) and is compared with their mean, so that
// the machine's load drifting (other engineers share its 2 cores) cancels; prints median rates
// and the median paired ratio rate alone / rate under the tool (1.00 = no cost; target <= 1.05),
// then the tools' BPF run time per operation from bpf_stats. Nothing passes or fails.
// Run as root: node dist/bench/storage.js   (RUNS=7 DIO_OPS=4000 FSYNC_OPS=400 to change)
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileC } from '../test/helpers.js';
import { makeLoopFs } from '../test/storagefs.js';
import { fmt, median, startBpfkit, type Background } from './common.js';

const RUNS = Number(process.env.RUNS ?? 7);
const DIO_OPS = Number(process.env.DIO_OPS ?? 3000);
const FSYNC_OPS = Number(process.env.FSYNC_OPS ?? 300);

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

/** Run time and run count of the loaded programs whose names start with prefix (needs bpf_stats). */
function progStats(prefix: string): { ns: number; cnt: number } {
  const r = spawnSync('bpftool', ['-j', 'prog', 'show'], { encoding: 'utf8' });
  const progs = JSON.parse(r.stdout) as Array<{ name?: string; run_time_ns?: number; run_cnt?: number }>;
  return progs.filter((p) => p.name?.startsWith(prefix)).reduce((a, p) => ({ ns: a.ns + (p.run_time_ns ?? 0), cnt: a.cnt + (p.run_cnt ?? 0) }), { ns: 0, cnt: 0 });
}

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
    // Paired ratios: each tool run sits between two runs alone (A B A), and its ratio is to the
    // mean of those two; the median over rounds cancels slow drifts of the machine's load.
    const dioPaired = new Map<string, number[]>(configs.map(([n]) => [n, []]));
    const syncPaired = new Map<string, number[]>(configs.map(([n]) => [n, []]));
    const alone = () => {
      const d = rate(bin, 'dio', dioFile, DIO_OPS);
      const y = rate(bin, 'fsync', syncFile, FSYNC_OPS);
      dio.get('alone')!.push(d);
      sync.get('alone')!.push(y);
      return { d, y };
    };
    for (let r = 0; r < RUNS; r++) {
      let before = alone();
      for (const [name, args] of configs) {
        if (!args) continue;
        const bg: Background = await startBpfkit(args);
        let d: number, y: number;
        try {
          d = rate(bin, 'dio', dioFile, DIO_OPS);
          y = rate(bin, 'fsync', syncFile, FSYNC_OPS);
        } finally {
          await bg.stop();
        }
        dio.get(name)!.push(d);
        sync.get(name)!.push(y);
        const after = alone();
        dioPaired.get(name)!.push((before.d + after.d) / 2 / d);
        syncPaired.get(name)!.push((before.y + after.y) / 2 / y);
        before = after;
      }
    }
    console.log(`loop-device ext4 (${fs.device}), ${RUNS} rounds; each tool run between two runs alone (A B A)`);
    console.log(`ratio = rate alone / rate under the tool, median of the paired ratios (target <= 1.05)`);
    console.log(`${'configuration'.padEnd(14)} ${'DIO 4K w+r/s'.padStart(13)} ${'ratio'.padStart(6)}   ${'4K write+fsync/s'.padStart(16)} ${'ratio'.padStart(6)}`);
    const dioAlone = median(dio.get('alone')!);
    const syncAlone = median(sync.get('alone')!);
    for (const [name, args] of configs) {
      const d = median(dio.get(name)!);
      const s = median(sync.get(name)!);
      const dr = args ? median(dioPaired.get(name)!) : 1;
      const sr = args ? median(syncPaired.get(name)!) : 1;
      console.log(`${name.padEnd(14)} ${fmt(d, 0).padStart(13)} ${fmt(dr).padStart(6)}   ${fmt(s, 0).padStart(16)} ${fmt(sr).padStart(6)}`);
    }
    // In-kernel cost, free of scheduling noise: the tools' BPF run time per workload operation
    // (kernel.bpf_stats_enabled for the duration of this pass, then restored). An upper bound:
    // the programs also run for other processes' I/O and syscalls during the pass.
    const statsPath = '/proc/sys/kernel/bpf_stats_enabled';
    const before = readFileSync(statsPath, 'utf8').trim();
    writeFileSync(statsPath, '1');
    try {
      console.log(`\nBPF run time per workload operation (bpf_stats; upper bound), and the ratio it implies:`);
      console.log(`${'configuration'.padEnd(14)} ${'ns/DIO w+r'.padStart(13)} ${'ratio'.padStart(6)}   ${'ns/write+fsync'.padStart(16)} ${'ratio'.padStart(6)}   BPF runs/op`);
      const prefixes: Record<string, string> = { biotop: 'biotop_', biolatency: 'biolat_', ext4slower: 'fsslower_' };
      for (const [name, args] of configs) {
        if (!args) continue;
        const bg = await startBpfkit(args);
        try {
          const s0 = progStats(prefixes[name]!);
          rate(bin, 'dio', dioFile, DIO_OPS);
          const s1 = progStats(prefixes[name]!);
          rate(bin, 'fsync', syncFile, FSYNC_OPS);
          const s2 = progStats(prefixes[name]!);
          const dioNs = (s1.ns - s0.ns) / DIO_OPS;
          const syncNs = (s2.ns - s1.ns) / FSYNC_OPS;
          const runs = `${fmt((s1.cnt - s0.cnt) / DIO_OPS, 1)} / ${fmt((s2.cnt - s1.cnt) / FSYNC_OPS, 1)}`;
          console.log(`${name.padEnd(14)} ${fmt(dioNs, 0).padStart(13)} ${fmt(1 + dioNs / (1e9 / dioAlone), 4).padStart(6)}   ${fmt(syncNs, 0).padStart(16)} ${fmt(1 + syncNs / (1e9 / syncAlone), 4).padStart(6)}   ${runs}`);
        } finally {
          await bg.stop();
        }
      }
    } finally {
      writeFileSync(statsPath, before);
    }
  } finally {
    fs.cleanup();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
