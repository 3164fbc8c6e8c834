// Benchmark: what `bpfkit profile` costs, as ratios against baselines run in the same invocation.
//  1. A CPU-bound workload (fixed work, frame pointers) alone, under `bpfkit profile -F 99` (all
//     CPUs) and, where installed, under `perf record -F 99 -g -a`: wall time and the workload's own
//     CPU time (getrusage), the median of N interleaved runs each. Target: within 1.01x.
//  2. Post-processing: bpfkit from Ctrl-C to exit (read maps, symbolize, print folded stacks) vs
//     `perf script` on the perf.data of the same kind of run.
//  3. Symbolization of 10,000 distinct stacks of a large binary: runs bench/symbolize.js (node's
//     ~100 MB executable, cold ELF cache). Target: under 1 s.
// Usage: node dist/bench/profile.js [RUNS]   (as root). Prints numbers; it is not a test.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmt, median, startBpfkit } from './common.js';

const RUNS = Number(process.argv[2] ?? 5);
const dir = join(tmpdir(), 'bpfkit-bench-profile');
mkdirSync(dir, { recursive: true });

// Fixed work in a few functions (so that stacks differ), ~1 s on this machine.
const WORK_C = `
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/time.h>
volatile unsigned long sink;
__attribute__((noinline)) void leaf(unsigned long i) { sink ^= i; }
__attribute__((noinline)) void work_a(unsigned long n) { for (unsigned long i = 0; i < n; i++) { sink += i * 3; if (!(i & 0xffff)) leaf(i); } }
__attribute__((noinline)) void work_b(unsigned long n) { for (unsigned long i = 0; i < n; i++) { sink += i * 5; if (!(i & 0xffff)) leaf(i); } }
int main(int argc, char **argv) {
  unsigned long n = strtoul(argv[1], 0, 10);
  for (int r = 0; r < 10; r++) { work_a(n / 20); work_b(n / 20); }
  struct rusage u; getrusage(RUSAGE_SELF, &u);
  printf("%ld\\n", (long)(u.ru_utime.tv_sec * 1000000L + u.ru_utime.tv_usec + u.ru_stime.tv_sec * 1000000L + u.ru_stime.tv_usec));
  return 0;
}
`;
const src = join(dir, 'work.c');
const bin = join(dir, 'work');
writeFileSync(src, WORK_C);
const cc = spawnSync('gcc', ['-O1', '-fno-omit-frame-pointer', '-o', bin, src], { encoding: 'utf8' });
if (cc.status !== 0) throw new Error(cc.stderr);

interface Run { wallS: number; cpuS: number }
function runWork(n: number): Run {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(bin, [String(n)], { encoding: 'utf8' });
  const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`workload failed: ${r.stderr}`);
  return { wallS, cpuS: Number(r.stdout.trim()) / 1e6 };
}

// Calibrate: about 1 s of CPU.
let n = 200_000_000;
const cal = runWork(n);
n = Math.round((n * 1.0) / Math.max(cal.cpuS, 0.05));
console.log(`workload: ${n} iterations (~1 s of CPU), ${RUNS} runs per configuration, median; machine: ${spawnSync('nproc').stdout.toString().trim()} CPUs, shared`);

const havePerf = spawnSync('perf', ['--version']).status === 0;
const alone: Run[] = [];
const bpf: Run[] = [];
const perf: Run[] = [];
const bpfPost: number[] = [];
const perfPost: number[] = [];
const perfData = join(dir, 'perf.data');

/** CPU seconds (user + system) a process used so far. */
function cpuOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}
const bpfSelf: number[] = [];

async function underBpfkit(): Promise<void> {
  const t = await startBpfkit(['profile', '-F', '99', '-f']);
  const c0 = cpuOf(t.proc.pid!);
  const w0 = process.hrtime.bigint();
  bpf.push(runWork(n));
  // The profiler's own user-space CPU while sampling (the BPF program's cost lands in the sampled tasks).
  bpfSelf.push((cpuOf(t.proc.pid!) - c0) / (Number(process.hrtime.bigint() - w0) / 1e9));
  const t0 = process.hrtime.bigint();
  await t.stop();
  bpfPost.push(Number(process.hrtime.bigint() - t0) / 1e9);
}

async function underPerf(): Promise<void> {
  rmSync(perfData, { force: true });
  // perf prints nothing once it samples: give it a moment after start.
  const p = spawn('perf', ['record', '-F', '99', '-g', '-a', '-q', '-o', perfData], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 700));
  perf.push(runWork(n));
  await new Promise<void>((res) => { p.on('close', () => res()); p.kill('SIGINT'); });
  const t0 = process.hrtime.bigint();
  const s = spawnSync('perf', ['script', '-i', perfData], { stdio: ['ignore', 'ignore', 'ignore'] });
  perfPost.push(Number(process.hrtime.bigint() - t0) / 1e9);
  if (s.status !== 0) throw new Error('perf script failed');
}

for (let i = 0; i < RUNS; i++) {
  alone.push(runWork(n));
  await underBpfkit();
  if (havePerf) await underPerf();
}

const m = (rs: Run[], k: keyof Run) => median(rs.map((r) => r[k]));
const row = (name: string, rs: Run[]) =>
  console.log(`  ${name.padEnd(34)} wall ${fmt(m(rs, 'wallS'), 3)} s (x${fmt(m(rs, 'wallS') / m(alone, 'wallS'), 3)})   cpu ${fmt(m(rs, 'cpuS'), 3)} s (x${fmt(m(rs, 'cpuS') / m(alone, 'cpuS'), 3)})`);
console.log('\n1. CPU-bound workload (ratios against "alone"; target <= 1.01x):');
row('alone', alone);
row('under bpfkit profile -F 99 (all)', bpf);
if (havePerf) row('under perf record -F 99 -g -a', perf);
else console.log('  perf: not installed, skipped');

console.log(`  bpfkit's own CPU while sampling:  ${fmt(100 * median(bpfSelf), 2)}% of one CPU (median)`);
console.log('\n2. Post-processing after Ctrl-C (symbolize + print), median:');
console.log(`  bpfkit profile (exit after SIGINT, folded): ${fmt(median(bpfPost), 3)} s`);
if (havePerf) console.log(`  perf script (whole-system perf.data):       ${fmt(median(perfPost), 3)} s  (bpfkit/perf x${fmt(median(bpfPost) / median(perfPost), 2)})`);

console.log('\n3. Symbolization of 10,000 distinct stacks of a large binary (bench/symbolize.js):');
const symbolize = fileURLToPath(new URL('./symbolize.js', import.meta.url));
if (existsSync(symbolize)) {
  const r = spawnSync(process.execPath, [symbolize], { encoding: 'utf8' });
  for (const line of r.stdout.split('\n').filter((l) => /binary:|user:|total incl|warm|mismatched|first stack/.test(l))) console.log('  ' + line.trim());
} else {
  console.log('  bench/symbolize.js missing');
}
rmSync(perfData, { force: true });
