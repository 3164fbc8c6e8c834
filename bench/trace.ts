// trace overhead and throughput. Prints ratios against baselines run in the same invocation;
// nothing here passes or fails.
//
// 1. dd if=/dev/zero of=/dev/null bs=1 count=N (one read + one write per byte) alone, under
//    `bpfkit trace -e write -p PID` and under `strace -e trace=write -p PID`: the slowdown of
//    each, and how many times smaller bpfkit's extra time is than strace's.
// 2. Ring buffer into JS, at one core: the ring buffer is filled with N getppid records while
//    nobody reads, then drained synchronously (so the time is the consumer's alone): libbpf's
//    ring_buffer__consume with a koffi callback per record (the old reader) against the
//    mapped-pages reader in src/core/ringbuf.ts, then with trace's decode and text rendering.
//
// Environment: RUNS (default 3), COUNT (dd bytes, default 300000; the figure is
// 1000000, strace then needs minutes per run), EVENTS (ring buffer records, default 300000).
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { compileC } from '../test/helpers.js';
import { BPFKIT, fmt, median } from './common.js';
import { native, registerSample, unregister, view, isNull, type Ptr } from '../src/core/libbpf.js';
import { RingBufferReader } from '../src/core/ringbuf.js';
import type { BpfMap } from '../src/core/maps.js';
import { syscallNumber } from '../src/core/syscalls/index.js';
import { TraceSession } from '../src/tools/trace/trace.js';
import { formatCall } from '../src/tools/trace/decode.js';

const RUNS = Number(process.env.RUNS ?? 3);
const COUNT = Number(process.env.COUNT ?? 300000);
const EVENTS = Number(process.env.EVENTS ?? 300000);

// ---------- 1. dd under tracers ----------

interface Gated { pid: number; go(): void; exited: Promise<void> }

/** dd, waiting for a line on stdin before it starts (the shell execs dd: same PID). */
function gatedDd(): Gated {
  const p = spawn('sh', ['-c', `read x; exec dd if=/dev/zero of=/dev/null bs=1 count=${COUNT} status=none`], { stdio: ['pipe', 'ignore', 'inherit'] });
  const exited = new Promise<void>((res, rej) => p.on('close', (code) => (code === 0 ? res() : rej(new Error(`dd exited ${code}`)))));
  return { pid: p.pid!, go: () => p.stdin!.write('go\n'), exited };
}

/** Start a tracer with its output to /dev/null; resolves once `readyText` shows on stderr. */
function startTracer(cmd: string, args: string[], readyText: string): Promise<{ done: Promise<void>; kill(): void }> {
  const devnull = openSync('/dev/null', 'w');
  const p = spawn(cmd, args, { stdio: ['ignore', devnull, 'pipe'], env: { ...process.env, BPFKIT_READY: '1' } });
  closeSync(devnull);
  const done = new Promise<void>((res) => p.on('close', () => res()));
  return new Promise((resolve, reject) => {
    let err = '';
    p.stderr!.on('data', (d) => {
      err += d;
      if (err.includes(readyText)) resolve({ done, kill: () => p.kill('SIGINT') });
    });
    p.on('close', (code) => reject(new Error(`${cmd} exited (${code}) before ready: ${err}`)));
  });
}

async function timeDd(tracer?: (pid: number) => Promise<{ done: Promise<void>; kill(): void }>): Promise<number> {
  const dd = gatedDd();
  const t = tracer ? await tracer(dd.pid) : undefined;
  const t0 = process.hrtime.bigint();
  dd.go();
  await dd.exited;
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  if (t) {
    const timer = setTimeout(() => t.kill(), 5000);
    await t.done; // both stop by themselves when dd exits
    clearTimeout(timer);
  }
  return secs;
}

async function medianOf(f: () => Promise<number>): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < RUNS; i++) xs.push(await f());
  return median(xs);
}

async function ddBench(): Promise<void> {
  console.log(`1. dd if=/dev/zero of=/dev/null bs=1 count=${COUNT}: median wall time of ${RUNS} runs`);
  const alone = await medianOf(() => timeDd());
  // the floor: the same programs attached and filtering, but no syscall of dd selected
  const floor = await medianOf(() => timeDd((pid) => startTracer(process.execPath, [BPFKIT, 'trace', '-e', 'getppid', '-p', String(pid)], 'BPFKIT_READY')));
  const bpfkit = await medianOf(() => timeDd((pid) => startTracer(process.execPath, [BPFKIT, 'trace', '-e', 'write', '-p', String(pid)], 'BPFKIT_READY')));
  const strace = process.env.NO_STRACE ? NaN : await medianOf(() => timeDd((pid) => startTracer('strace', ['-e', 'trace=write', '-o', '/dev/null', '-p', String(pid)], 'attached')));
  const bpf = (args: string[]) => medianOf(() => timeDd((pid) => startTracer(process.execPath, [BPFKIT, ...args, '-p', String(pid)], 'BPFKIT_READY')));
  const st = (args: string[]) => (process.env.NO_STRACE ? Promise.resolve(NaN) : medianOf(() => timeDd((pid) => startTracer('strace', [...args, '-o', '/dev/null', '-p', String(pid)], 'attached'))));
  // -f (the task set and the fork hook) and -c (counts in the kernel, no record per call)
  const bpfkitF = await bpf(['trace', '-f', '-e', 'write']);
  const straceF = await st(['-f', '-e', 'trace=write']);
  const bpfkitC = await bpf(['trace', '-c']);
  const syscount = await bpf(['syscount']);
  // syscount -L times every call too (two hooks, as -c): the like-for-like baseline of -c
  const syscountL = await bpf(['syscount', '-L']);
  const straceC = await st(['-c']);
  const row = (name: string, t: number) => console.log(`  ${name.padEnd(34)} ${fmt(t, 3).padStart(8)} s   slowdown x${fmt(t / alone)}`);
  row('dd alone', alone);
  row('bpfkit trace -e getppid -p (floor)', floor);
  row('under bpfkit trace -e write -p', bpfkit);
  row('under strace -e trace=write -p', strace);
  row('under bpfkit trace -f -e write -p', bpfkitF);
  row('under strace -f -e trace=write -p', straceF);
  row('under bpfkit trace -c -p', bpfkitC);
  row('under bpfkit syscount -p', syscount);
  row('under bpfkit syscount -L -p', syscountL);
  row('under strace -c -p', straceC);
  console.log(`  -f: slowdown ratio strace/bpfkit ${fmt((straceF / alone) / (bpfkitF / alone))}x (target >= 20x); -c: strace -c/trace -c ${fmt(straceC / bpfkitC)}x, trace -c/syscount ${fmt((bpfkitC - alone) / Math.max(1e-9, syscount - alone))}x of the extra time (target <= 1.3x), trace -c/syscount -L ${fmt((bpfkitC - alone) / Math.max(1e-9, syscountL - alone))}x`);
  const extraB = bpfkit - alone;
  const extraS = strace - alone;
  await programCost();
  console.log(`  slowdown ratio strace/bpfkit: ${fmt((strace / alone) / (bpfkit / alone))}x; extra time ratio: ${extraB > 0 ? fmt(extraS / extraB, 1) + 'x' : 'bpfkit within noise of alone'} (target: >= 20x)`);
}

/** run_time_ns and run_cnt of the loaded trace_* programs. */
function traceProgramStats(): { ns: number; runs: number } {
  const r = spawnSync('bpftool', ['-j', 'prog', 'show'], { encoding: 'utf8' });
  let ns = 0;
  let runs = 0;
  for (const p of JSON.parse(r.stdout) as Array<{ name?: string; run_time_ns?: number; run_cnt?: number }>) {
    if (p.name?.startsWith('trace_')) { ns += p.run_time_ns ?? 0; runs += p.run_cnt ?? 0; }
  }
  return { ns, runs };
}

/**
 * The kernel side's own cost, free of scheduling noise: one dd run under `trace --comm dd -e
 * write` (so the programs stay loaded after dd exits) with BPF run-time statistics on
 * (BPF_ENABLE_STATS, only while our fd is open).
 */
async function programCost(): Promise<void> {
  const dd = gatedDd();
  const t = await startTracer(process.execPath, [BPFKIT, 'trace', '--comm', 'dd', '-e', 'write'], 'BPFKIT_READY');
  const statsFd = native.bpf_enable_stats(0) as number;
  if (statsFd < 0) { console.log('  (BPF_ENABLE_STATS failed: no program cost)'); t.kill(); await dd.exited.catch(() => {}); return; }
  try {
    const before = traceProgramStats();
    dd.go();
    await dd.exited;
    const after = traceProgramStats();
    const ns = after.ns - before.ns;
    const runs = after.runs - before.runs;
    console.log(`  kernel side, one run under trace --comm dd -e write (BPF run-time stats): ${fmt(ns / 1e6, 1)} ms in ${runs} program runs`);
    console.log(`    = ${fmt(ns / Math.max(1, runs), 0)} ns per run on average (every syscall on the machine enters and leaves; most are filtered out),`);
    console.log(`      at most ${fmt(ns / COUNT, 0)} ns per traced write if all of it is charged to dd's ${COUNT} writes`);
  } finally {
    native.close(statsFd);
    t.kill();
    await t.done;
  }
}

// ---------- 2. ring buffer into JS ----------

/** The previous reader: libbpf's ring_buffer__consume, one koffi callback per record. */
function libbpfDrain(map: BpfMap, onEvent: (b: Buffer) => void): number {
  let n = 0;
  const cb = registerSample((_ctx: Ptr, data: Ptr, size: number) => { n++; onEvent(Buffer.from(view(data, size))); return 0; });
  const rb = native.ring_buffer__new(map.fd, cb, null, null);
  if (isNull(rb)) throw new Error('ring_buffer__new failed');
  while ((native.ring_buffer__consume(rb) as number) > 0) { /* until empty */ }
  native.ring_buffer__free(rb);
  unregister(cb);
  return n;
}

const GETPPID = `
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(int argc, char **argv) {
  long n = atol(argv[1]);
  char b[8];
  if (read(0, b, sizeof b) <= 0) return 1;
  for (long i = 0; i < n; i++) syscall(SYS_getppid);
  return 0;
}
`;

type Consumer = 'libbpf callback' | 'mapped pages' | 'mapped pages + decode' | 'mapped pages + decode + text';

async function drainOnce(consumer: Consumer): Promise<{ n: number; secs: number; lost: number }> {
  const bin = compileC(GETPPID);
  const child = spawn(bin, [String(EVENTS)], { stdio: ['pipe', 'ignore', 'inherit'] });
  const exited = new Promise<void>((res) => child.on('close', () => res()));
  const nr = syscallNumber('getppid')!;
  let sink = 0;
  const session = TraceSession.open({ tgid: child.pid!, syscalls: [nr], strsize: 32, bufferMb: 128 });
  try {
    child.stdin!.write('go\n');
    await exited;
    session.detach();
    const lost = session.counters().lost;
    const t0 = process.hrtime.bigint();
    let n: number;
    if (consumer === 'libbpf callback') n = libbpfDrain(session.eventsMap, (b) => { sink += b.length; });
    else if (consumer === 'mapped pages') {
      const r = new RingBufferReader(session.eventsMap, (b) => { sink += b.length; });
      n = r.drain();
      r.close();
    } else {
      session.start((b) => {
        const r = session.decode(b);
        sink += consumer === 'mapped pages + decode + text' ? formatCall(r, session.planOf(r.nr)).length : r.tid;
      });
      n = session.drain();
    }
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    if (sink < 0) console.log(sink); // keep the work observable
    return { n, secs, lost };
  } finally {
    session.close();
  }
}

async function ringbufBench(): Promise<void> {
  console.log(`\n2. ring buffer into JS, one core: drain ${EVENTS} getppid records already in the buffer (median of ${RUNS})`);
  const results: Array<[Consumer, number]> = [];
  for (const c of ['libbpf callback', 'mapped pages', 'mapped pages + decode', 'mapped pages + decode + text'] as Consumer[]) {
    const rates: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const { n, secs, lost } = await drainOnce(c);
      if (lost) console.log(`  (${c}: ${lost} lost while filling; rate over the ${n} delivered)`);
      rates.push(n / secs);
    }
    results.push([c, median(rates)]);
  }
  const base = results[0]![1];
  for (const [c, r] of results) console.log(`  ${c.padEnd(30)} ${Math.round(r).toLocaleString('en-US').padStart(12)} events/s   x${fmt(r / base)} vs libbpf callback`);
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('needs root');
  const which = process.argv[2];
  if (which !== 'ringbuf') await ddBench();
  if (which !== 'dd') await ringbufBench();
  process.exit(0);
}

main().catch((err) => { console.error(err); process.exit(1); });
