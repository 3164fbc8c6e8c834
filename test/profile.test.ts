// profile against workloads whose hot code is known: a C function under main, a function in a
// shared library of a process that exits before the end, a JIT-compiled JS function, a syscall loop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileC, kernelTest, leftoverPrograms, runInKernel, runTool, sleep, startTool, BPFKIT, RUN_IN_KERNEL } from './helpers.js';
import { parseFolded, type StackCount } from '../src/render/folded.js';

const FP = ['-fno-omit-frame-pointer'];

// Spins in bpfkit_hot_spin, called from main. The rare call to tick() makes the hot function a
// non-leaf, so gcc gives it a frame (gcc 12 omits frames in leaf functions even with
// -fno-omit-frame-pointer; frame-pointer unwinding then skips the caller, as it does for perf).
const HOT_C = `
#include <stdio.h>
#include <unistd.h>
volatile unsigned long sink;
__attribute__((noinline)) void tick(unsigned long i) { sink ^= i; }
__attribute__((noinline)) void bpfkit_hot_spin(void) {
  for (unsigned long i = 0;; i++) { sink += i * 7; if ((i & 0xffffff) == 0) tick(i); }
}
int main(void) { printf("ready\\n"); fflush(stdout); bpfkit_hot_spin(); return 0; }
`;

// The same with a leaf function: gcc 12 gives it no frame even with -fno-omit-frame-pointer, so a
// frame-pointer walk alone goes from the leaf straight to main's caller; profile recovers main.
const LEAF_C = `
#include <stdio.h>
volatile unsigned long sink;
__attribute__((noinline)) void bpfkit_hot_leaf(void) { for (unsigned long i = 0; i < 100000000UL; i++) sink += i * 7; }
int main(void) { printf("ready\\n"); fflush(stdout); for (;;) bpfkit_hot_leaf(); return 0; }
`;

// Two threads: one spins in spin_thread_a, the other in spin_thread_b; prints both TIDs.
const THREADS_C = `
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>
volatile unsigned long sink;
__attribute__((noinline)) void tick(unsigned long i) { sink ^= i; }
__attribute__((noinline)) void spin_thread_a(void) { for (unsigned long i = 0;; i++) { sink += i; if (!(i & 0xffffff)) tick(i); } }
__attribute__((noinline)) void spin_thread_b(void) { for (unsigned long i = 0;; i++) { sink += i; if (!(i & 0xffffff)) tick(i); } }
void *b_main(void *arg) { printf("b %d\\n", gettid()); fflush(stdout); spin_thread_b(); return arg; }
int main(void) {
  pthread_t t; pthread_create(&t, 0, b_main, 0);
  usleep(100000);
  printf("a %d\\n", gettid()); fflush(stdout);
  spin_thread_a();
  return 0;
}
`;

// Syscall-heavy: reads 1 MiB of /dev/zero in a loop (most time in the kernel's clear_user).
const SYSCALL_C = `
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
static char buf[1 << 20];
__attribute__((noinline)) void read_zero_loop(int fd) { for (;;) if (read(fd, buf, sizeof buf) < 0) return; }
int main(void) { int fd = open("/dev/zero", O_RDONLY); printf("ready\\n"); fflush(stdout); read_zero_loop(fd); return 0; }
`;

// Sleeps in read(stdin): never on CPU.
const SLEEPER_C = `
#include <stdio.h>
#include <unistd.h>
int main(void) { char b[4]; printf("ready\\n"); fflush(stdout); return read(0, b, sizeof b) < 0; }
`;

/** Start a binary, wait for its first output line. */
async function startProc(cmd: string, args: string[] = [], env?: Record<string, string>): Promise<{ proc: ChildProcess; out: () => string; pid: number }> {
  const proc = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  let out = '';
  proc.stdout!.on('data', (d) => { out += d; });
  const deadline = Date.now() + 10_000;
  while (!out.includes('\n')) {
    if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`${cmd} did not start: ${out}`);
    await sleep(10);
  }
  return { proc, out: () => out, pid: proc.pid! };
}

function kill(p: { proc: ChildProcess }): void {
  if (p.proc.exitCode === null) p.proc.kill('SIGKILL');
}

function noLeftovers(): void {
  assert.deepEqual(leftoverPrograms('profile_'), [], 'BPF programs left loaded after profile exited');
}

async function profile(args: string[]): Promise<string> {
  const r = await runTool(['profile', ...args], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, `profile ${args.join(' ')} failed: ${r.stderr}`);
  noLeftovers();
  return r.stdout;
}

/** CPU time (user + system) of a process or thread so far, in seconds (/proc/ID/stat, clock ticks of 1/100 s). */
function cpuTime(id: number): number {
  const stat = readFileSync(`/proc/${id}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

/**
 * Run profile (no duration) until the workload `id` has used `cpuS` seconds of CPU, then Ctrl-C:
 * the machine is shared, so a wall-clock duration would give a varying number of samples.
 * Returns the output and the workload's CPU time while profile ran (at Ctrl-C, and at exit).
 */
async function profileCpu(args: string[], id: number, cpuS: number): Promise<{ out: string; cpuAtStop: number; cpuAtExit: number }> {
  const t = startTool(['profile', ...args], { timeoutMs: 120_000 });
  await t.ready;
  const c0 = cpuTime(id);
  const deadline = Date.now() + 90_000;
  while (cpuTime(id) - c0 < cpuS && Date.now() < deadline) await sleep(50);
  const cpuAtStop = cpuTime(id) - c0;
  const r = await t.stop('SIGINT');
  const cpuAtExit = cpuTime(id) - c0;
  assert.equal(r.code, 0, `profile ${args.join(' ')} failed: ${r.stderr}`);
  noLeftovers();
  return { out: r.stdout, cpuAtStop, cpuAtExit };
}

interface JsonStack { type: 'stack'; pid: number; comm: string; count: number; user_stack: string[] | null; kernel_stack: string[] | null }
interface JsonSummary { type: 'summary'; samples: number; stacks: number; dropped: number }
function parseJson(text: string): { stacks: JsonStack[]; summary: JsonSummary } {
  const recs = text.trim().split('\n').map((l) => JSON.parse(l) as JsonStack | JsonSummary);
  const summary = recs.filter((r): r is JsonSummary => r.type === 'summary');
  assert.equal(summary.length, 1, 'one summary record');
  assert.equal(recs.at(-1), summary[0], 'summary comes last');
  return { stacks: recs.filter((r): r is JsonStack => r.type === 'stack'), summary: summary[0]! };
}

const sum = (xs: StackCount[]) => xs.reduce((a, s) => a + s.count, 0);
const isKernel = (f: string) => f.endsWith('_[k]');

// ---------------------------------------------------------------- no kernel needed

test('an output file that cannot be written fails at once (exit 2, one line), before any sampling', async () => {
  for (const [args, why] of [
    [['--svg', '/nonexistent/dir/x.svg', '-d', '5'], /directory \/nonexistent\/dir does not exist/],
    [['--speedscope', '/nonexistent/dir/x.json', '5'], /directory \/nonexistent\/dir does not exist/],
    [['--svg', tmpdir(), '-d', '5'], /is a directory/],
  ] as const) {
    const t0 = Date.now();
    const r = await runTool(['profile', ...args], { timeoutMs: 10_000 });
    const ms = Date.now() - t0;
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, why);
    assert.equal(r.stdout, '');
    assert.ok(ms < 1000, `${args.join(' ')}: failed after ${ms} ms`);
  }
});

// ---------------------------------------------------------------- kernel

test('a C function under main gets >= 80% of the samples, folded order right, exact totals', kernelTest(), async () => {
  const leaf = await startProc(compileC(LEAF_C, FP));
  try {
    const folded = parseFolded((await profileCpu(['-p', String(leaf.pid), '-F', '99', '-f'], leaf.pid, 1)).out);
    const under = folded.filter((s) => {
      const i = s.stack.indexOf('main');
      return i > 0 && s.stack[i + 1] === 'bpfkit_hot_leaf';
    });
    assert.ok(sum(under) >= 0.8 * sum(folded) && sum(folded) >= 20, `main;bpfkit_hot_leaf in ${sum(under)} of ${sum(folded)} samples:\n${folded.map((s) => s.stack.join(';')).join('\n')}`);
  } finally {
    kill(leaf);
  }
  const hot = await startProc(compileC(HOT_C, FP));
  try {
    const folded = parseFolded((await profileCpu(['-p', String(hot.pid), '-F', '99', '-f'], hot.pid, 1)).out);
    const total = sum(folded);
    assert.ok(total >= 20, `too few samples: ${total}`);
    for (const s of folded) assert.equal(s.stack[0], hot.proc.spawnfile.split('/').pop()!.slice(0, 15), 'comm first');
    const under = folded.filter((s) => {
      const i = s.stack.indexOf('main');
      return i > 0 && s.stack[i + 1] === 'bpfkit_hot_spin';
    });
    assert.ok(sum(under) >= 0.8 * total, `main;bpfkit_hot_spin in ${sum(under)} of ${total} samples:\n${folded.map((s) => s.stack.join(';')).join('\n')}`);

    // Same process, JSON: the summary's sample total is the sum of the stack counts (nothing lost).
    // The number of samples follows the CPU time the process used: 99 per CPU second.
    const run = await profileCpu(['-p', String(hot.pid), '-F', '99', '--json'], hot.pid, 2);
    const { stacks, summary } = parseJson(run.out);
    assert.ok(summary.samples >= 0.7 * 99 * run.cpuAtStop && summary.samples <= 1.3 * 99 * run.cpuAtExit + 5,
      `${summary.samples} samples for ${run.cpuAtStop}..${run.cpuAtExit} s of CPU at 99 Hz`);
    assert.equal(summary.dropped, 0);
    assert.equal(stacks.reduce((a, s) => a + s.count, 0), summary.samples);
    assert.ok(stacks.every((s) => s.pid === hot.pid));
    assert.equal(stacks[0]!.user_stack![0], 'bpfkit_hot_spin', 'hottest stack leaf first');
  } finally {
    kill(hot);
  }
});

test('a sleeping process gets exactly 0 samples; -C excludes other CPUs exactly', kernelTest(), async () => {
  const sleeper = await startProc(compileC(SLEEPER_C));
  const hot = await startProc('taskset', ['-c', '1', compileC(HOT_C, FP)]);
  try {
    const out = await profile(['-p', `${sleeper.pid},${hot.pid}`, '-C', '0', '-f', '-F', '99', '1']);
    const folded = parseFolded(out);
    assert.deepEqual(folded.filter((s) => s.stack.includes('bpfkit_hot_spin')), [], `hot process pinned to CPU 1 sampled on CPU 0:\n${out}`);
    assert.deepEqual(folded, [], `samples from a sleeping process or another CPU:\n${out}`);
    const onCpu1 = parseFolded((await profileCpu(['-p', `${sleeper.pid},${hot.pid}`, '-C', '1', '-f', '-F', '99'], hot.pid, 0.5)).out);
    assert.ok(sum(onCpu1) > 10, 'the pinned process is sampled on its CPU');
    assert.ok(onCpu1.every((s) => s.stack.includes('bpfkit_hot_spin') || s.stack.includes('tick')), 'only the hot process');
  } finally {
    kill(sleeper);
    kill(hot);
  }
});

test('-L TID profiles one thread only', kernelTest(), async () => {
  const p = await startProc(compileC(THREADS_C, [...FP, '-pthread']));
  try {
    const deadline = Date.now() + 5000;
    while (!/a \d+/.test(p.out()) && Date.now() < deadline) await sleep(10);
    const tidA = Number(/a (\d+)/.exec(p.out())![1]);
    const tidB = Number(/b (\d+)/.exec(p.out())![1]);
    assert.notEqual(tidA, tidB);
    const a = parseFolded((await profileCpu(['-L', String(tidA), '-f', '-F', '99'], tidA, 0.5)).out);
    assert.ok(sum(a) > 10);
    assert.ok(a.every((s) => !s.stack.includes('spin_thread_b')), 'thread B sampled with -L A');
    assert.ok(sum(a.filter((s) => s.stack.includes('spin_thread_a'))) >= 0.8 * sum(a));
  } finally {
    kill(p);
  }
});

test('shared library function of a PIE process that exits before the end is symbolized', kernelTest(), async () => {
  const dir = join(tmpdir(), 'bpfkit-test-bin', 'profile-so3');
  mkdirSync(dir, { recursive: true });
  const lib = join(dir, 'libbpfkithot.so');
  const bin = join(dir, 'shortlived');
  if (!existsSync(bin)) {
    writeFileSync(join(dir, 'hot.c'), `
volatile unsigned long sink;
__attribute__((noinline)) void lib_tick(unsigned long i) { sink ^= i; }
void bpfkit_lib_spin(unsigned long n) { for (unsigned long i = 0; i < n; i++) { sink += i; if (!(i & 0xffffff)) lib_tick(i); } }
`);
    writeFileSync(join(dir, 'main.c'), `
void bpfkit_lib_spin(unsigned long n);
int main(void) { for (int k = 0; k < 120; k++) bpfkit_lib_spin(10000000); return 0; }
`);
    const cc = (args: string[]) => {
      const r = spawnSync('gcc', ['-O1', ...FP, ...args], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(r.stderr);
    };
    cc(['-shared', '-fPIC', '-o', lib, join(dir, 'hot.c')]);
    cc(['-pie', '-fPIE', '-o', bin, join(dir, 'main.c'), `-L${dir}`, '-lbpfkithot', `-Wl,-rpath,${dir}`]);
  }
  // System-wide: the tool must notice the new process and snapshot its maps while it runs.
  // Fixed CPU work (0.4-1.2 s depending on the CPU); profile stops once the process is gone.
  const t = startTool(['profile', '-f', '-F', '99'], { timeoutMs: 120_000 });
  await t.ready;
  const child = spawn(bin, [], { stdio: 'ignore' });
  const exited = new Promise((res) => child.on('close', res));
  await exited;
  await sleep(200);
  assert.ok(existsSync(`/proc/${child.pid}`) === false, 'workload exited before the profile ended');
  const r = await t.stop('SIGINT');
  assert.equal(r.code, 0, r.stderr);
  noLeftovers();
  const mine = parseFolded(r.stdout).filter((s) => s.stack[0] === 'shortlived');
  assert.ok(sum(mine) >= 20, `samples of the short-lived process: ${sum(mine)}\n${r.stdout.slice(0, 3000)}`);
  const resolved = mine.filter((s) => s.stack.join(';').includes('main;bpfkit_lib_spin'));
  assert.ok(sum(resolved) >= 0.8 * sum(mine), `main;bpfkit_lib_spin in ${sum(resolved)} of ${sum(mine)}:\n${mine.map((s) => s.stack.join(';')).join('\n')}`);
  // No idle task without -I.
  assert.ok(!/^swapper/m.test(r.stdout), 'idle samples without -I');
});

test('Node.js with --perf-basic-prof: the JIT-compiled JS function is named', kernelTest(), async () => {
  const dir = join(tmpdir(), 'bpfkit-test-bin');
  mkdirSync(dir, { recursive: true });
  const js = join(dir, 'profile-spin.js');
  writeFileSync(js, `
function bpfkitSpinJs(n) { let x = 0; for (let i = 0; i < n; i++) x = (x + i * 31) % 1000003; return x; }
console.log('ready');
let s = 0; for (;;) s += bpfkitSpinJs(1e6);
`);
  const node = await startProc(process.execPath, ['--perf-basic-prof', js]);
  try {
    await sleep(300); // let V8 optimize the function
    const folded = parseFolded((await profileCpu(['-p', String(node.pid), '-F', '99', '-f', '-a'], node.pid, 1)).out);
    const js = folded.filter((s) => s.stack.some((f) => /bpfkitSpinJs/.test(f) && f.endsWith('_[j]')));
    assert.ok(sum(js) >= 0.5 * sum(folded), `JS function in ${sum(js)} of ${sum(folded)} samples`);
  } finally {
    kill(node);
    rmSync(`/tmp/perf-${node.pid}.map`, { force: true });
  }
});

test('syscall-heavy process: kernel frames; -U removes them, -K keeps only them', kernelTest(), async () => {
  const p = await startProc(compileC(SYSCALL_C, FP));
  try {
    const both = parseFolded((await profileCpu(['-p', String(p.pid), '-F', '99', '-f', '-a'], p.pid, 0.5)).out);
    const withKernel = both.filter((s) => s.stack.some((f) => /^(read_zero|__x64_sys_read|ksys_read|vfs_read)_\[k\]$/.test(f)));
    assert.ok(sum(withKernel) >= 0.3 * sum(both), `kernel read path in ${sum(withKernel)} of ${sum(both)}`);
    // User frames on the root side of the kernel ones: ...;main;read_zero_loop;read;entry_SYSCALL_64...
    const rootSide = withKernel.filter((s) => {
      const m = s.stack.indexOf('main');
      if (s.stack[m + 1] !== 'read_zero_loop') return false;
      const k = s.stack.findIndex(isKernel);
      return m > 0 && k > m && s.stack.slice(1, k).every((f) => !isKernel(f)) && s.stack.slice(k).every(isKernel);
    });
    assert.equal(sum(rootSide), sum(withKernel), 'user frames root side of kernel frames');

    const u = parseFolded((await profileCpu(['-p', String(p.pid), '-F', '99', '-f', '-a', '-U'], p.pid, 0.5)).out);
    assert.ok(sum(u) > 10);
    assert.deepEqual(u.filter((s) => s.stack.some(isKernel)), [], '-U: no kernel frames');
    // glibc's read() has no frame: its caller comes from the leaf-caller recovery.
    assert.ok(sum(u.filter((s) => s.stack.join(';').includes('main;read_zero_loop'))) >= 0.8 * sum(u), '-U: user stacks kept');

    const k = parseFolded((await profileCpu(['-p', String(p.pid), '-F', '99', '-f', '-a', '-K'], p.pid, 0.5)).out);
    assert.ok(sum(k) > 10);
    assert.deepEqual(k.filter((s) => s.stack.slice(1).some((f) => !isKernel(f))), [], '-K: only kernel frames');
    assert.ok(sum(k.filter((s) => s.stack.length > 1)) >= 0.3 * sum(k), 'kernel stacks present');
  } finally {
    kill(p);
  }
});

test('--svg writes a valid flame graph, --speedscope a speedscope file', kernelTest(), async () => {
  const hot = await startProc(compileC(HOT_C, FP));
  const dir = join(tmpdir(), `bpfkit-profile-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  try {
    const svg = join(dir, 'cpu.svg');
    const ss = join(dir, 'cpu.speedscope.json');
    const { out } = await profileCpu(['-p', String(hot.pid), '-F', '99', '--svg', svg, '--speedscope', ss], hot.pid, 0.5);
    assert.match(out, /Wrote flame graph to/);
    const text = readFileSync(svg, 'utf8');
    // Well-formed XML (python's parser), root <svg>, the hot function in a frame's text.
    const check = spawnSync('python3', ['-c', 'import sys,xml.dom.minidom as m; d=m.parse(sys.argv[1]); print(d.documentElement.tagName)', svg], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stderr);
    assert.equal(check.stdout.trim(), 'svg');
    assert.match(text, /<text[^>]*>bpfkit_hot_spin<\/text>|<title>bpfkit_hot_spin \(/);
    assert.match(text, /<script/);

    const doc = JSON.parse(readFileSync(ss, 'utf8'));
    assert.equal(doc.$schema, 'https://www.speedscope.app/file-format-schema.json');
    assert.ok(Array.isArray(doc.shared.frames) && doc.profiles.length >= 1);
    let weight = 0;
    for (const p of doc.profiles) {
      assert.equal(p.type, 'sampled');
      assert.equal(p.samples.length, p.weights.length);
      for (const s of p.samples) for (const i of s) assert.ok(Number.isInteger(i) && i >= 0 && i < doc.shared.frames.length);
      weight += p.weights.reduce((a: number, b: number) => a + b, 0);
    }
    assert.ok(weight > 10);
    const hotIdx = doc.shared.frames.findIndex((f: { name: string }) => f.name === 'bpfkit_hot_spin');
    assert.ok(hotIdx >= 0, 'hot function in the frame table');
  } finally {
    kill(hot);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Ctrl-C without a duration prints what was sampled; bad input exits 2', kernelTest(), async () => {
  const hot = await startProc(compileC(HOT_C, FP));
  try {
    const t = startTool(['profile', '-p', String(hot.pid), '-F', '99']);
    await t.ready;
    await sleep(1000);
    const r = await t.stop('SIGINT');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Sampling at 99 Hertz of PID \d+ by user \+ kernel stack\.\.\. Hit Ctrl-C to end\./);
    assert.match(r.stdout, /bpfkit_hot_spin\n {4}main\n/);
    assert.match(r.stdout, / {4}- {16}w-[0-9a-f]+ \(\d+\)\n {8}\d+\n/);
    noLeftovers();
  } finally {
    kill(hot);
  }
  const nope = await runTool(['profile', '-p', '4194000', '1']);
  assert.equal(nope.code, 2);
  assert.match(nope.stderr, /no such process: 4194000/);
  const both = await runTool(['profile', '-U', '-K', '1']);
  assert.equal(both.code, 2);
  assert.doesNotMatch(both.stderr, /\n\s+at /, 'no stack trace');
  const cpu = await runTool(['profile', '-C', '999', '1']);
  assert.equal(cpu.code, 2);
  noLeftovers();
});

test('-p of a process that exits: sampling ends with a notice and the profile is printed', kernelTest(), async () => {
  const hot = await startProc(compileC(HOT_C, FP));
  try {
    const t = startTool(['profile', '-p', String(hot.pid), '-F', '99', '-f'], { timeoutMs: 60_000 });
    await t.ready;
    const c0 = cpuTime(hot.pid);
    const deadline = Date.now() + 30_000;
    while (cpuTime(hot.pid) - c0 < 0.5 && Date.now() < deadline) await sleep(50);
    const killedAt = Date.now();
    hot.proc.kill('SIGKILL');
    const r = await t.done;
    const ms = Date.now() - killedAt;
    assert.equal(r.code, 0, r.stderr);
    assert.ok(ms < 3000, `profile ended ${ms} ms after its target exited`);
    assert.match(r.stderr, new RegExp(`process ${hot.pid} exited`));
    const folded = parseFolded(r.stdout);
    assert.ok(sum(folded.filter((s) => s.stack.includes('bpfkit_hot_spin'))) >= 20, r.stdout.slice(0, 2000));
    noLeftovers();
  } finally {
    kill(hot);
  }
});

test('fallback kernel (6.1): same sampling and symbolization', { ...kernelTest(), skip: kernelTest().skip || (!existsSync(RUN_IN_KERNEL) && process.env.CI !== 'true' ? 'no run-in-kernel' : false) }, async () => {
  const bin = compileC(LEAF_C, FP);
  const r = await runInKernel(`
uname -r
${bin} > /dev/null &
HOT=$!
sleep 0.5
${JSON.stringify(process.execPath)} ${JSON.stringify(BPFKIT)} profile -p $HOT -F 99 -f 3 > /tmp/profile-fallback.out
kill $HOT
echo "LEFTOVER=$(bpftool -j prog show | grep -c '"name":"profile_' || true)"
echo ---FOLDED---
cat /tmp/profile-fallback.out
echo ---END---
`);
  assert.equal(r.code, 0, r.output);
  assert.match(r.output, /^6\.1\./m, 'ran under the 6.1 kernel');
  assert.match(r.output, /LEFTOVER=0/);
  const body = /---FOLDED---\n([\s\S]*?)---END---/.exec(r.output)![1]!;
  const folded = parseFolded(body);
  assert.ok(sum(folded) >= 10, body);
  const under = folded.filter((s) => s.stack.join(';').includes('main;bpfkit_hot_leaf'));
  assert.ok(sum(under) >= 0.8 * sum(folded), body);
});
