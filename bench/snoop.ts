// Snoopers' costs, as ratios against baselines run in the same invocation (never pass/fail):
//  1. a workload of failing open() calls alone, under `opensnoop -p OTHER` (hook runs, filter
//     says no), and under `opensnoop -p WORKLOAD` (every call is an event): slowdown ratios;
//  2. ring buffer -> JS throughput: events delivered per CPU-second of the tool process (text
//     to /dev/null, and --json), with a ring buffer big enough that nothing is lost, the tool's
//     idle CPU (same run length, no events) subtracted.
// Usage: node dist/bench/snoop.js [calls=300000] [runs=3]
import { spawn } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import { BPFKIT, median } from './common.js';
import { compileC } from '../test/helpers.js';

const WORKLOAD = `
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv) {
  long n = atol(argv[1]);
  char buf[8];
  if (read(0, buf, sizeof buf) <= 0) return 1;
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (long i = 0; i < n; i++) if (open("/nonexistent-bpfkit-bench/x", O_RDONLY) >= 0) return 2;
  clock_gettime(CLOCK_MONOTONIC, &t);
  printf("%.6f\\n", (t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9);
  return 0;
}
`;

const calls = Number(process.argv[2] ?? 300000);
const runs = Number(process.argv[3] ?? 3);
const bin = compileC(WORKLOAD);
const TICK = 100; // USER_HZ

function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  return (Number(f[11]) + Number(f[12])) / TICK; // utime, stime (fields 14, 15)
}

interface Tool { pid: number; stop(): Promise<void> }

function startTool(args: string[], json: boolean): Promise<Tool> {
  return new Promise((resolve, reject) => {
    const out = openSync('/dev/null', 'w');
    const p = spawn(process.execPath, [BPFKIT, 'opensnoop', ...args, ...(json ? ['--json'] : [])], {
      env: { ...process.env, BPFKIT_READY: '1' }, stdio: ['ignore', out, 'pipe'],
    });
    let err = '';
    p.stderr!.on('data', (d) => {
      err += d;
      if (err.includes('BPFKIT_READY')) resolve({ pid: p.pid!, stop: () => new Promise((r) => { p.on('close', () => r()); p.kill('SIGINT'); }) });
    });
    p.on('close', (code) => reject(new Error(`opensnoop exited (${code}): ${err}`)));
  });
}

/** Start the gated workload; returns its pid and a function that runs it and yields seconds. */
function workload(): { pid: number; go(): Promise<number> } {
  const p = spawn(bin, [String(calls)], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  p.stdout!.on('data', (d) => { out += d; });
  const done = new Promise<number>((r) => p.on('close', () => r(Number(out.trim()))));
  return { pid: p.pid!, go: () => { p.stdin!.write('go\n'); return done; } };
}

async function once(mode: 'alone' | 'other' | 'self', json = false): Promise<{ secs: number; toolCpu?: number }> {
  const w = workload();
  let tool: Tool | undefined;
  if (mode === 'other') tool = await startTool(['-x', '-p', String(process.pid)], json);
  if (mode === 'self') tool = await startTool(['-x', '-p', String(w.pid), '--ringbuf', '256'], json);
  const cpu0 = tool ? cpuSeconds(tool.pid) : 0;
  const secs = await w.go();
  await new Promise((r) => setTimeout(r, 300));
  const toolCpu = tool ? cpuSeconds(tool.pid) - cpu0 : undefined;
  await tool?.stop();
  return { secs, toolCpu };
}

/** The tool's CPU while idle over `secs` + 0.3 s (no events): subtracted from the loaded runs. */
async function idleCpu(secs: number): Promise<number> {
  const tool = await startTool(['-x', '-p', String(process.pid)], false);
  const cpu0 = cpuSeconds(tool.pid);
  await new Promise((r) => setTimeout(r, secs * 1000 + 300));
  const c = cpuSeconds(tool.pid) - cpu0;
  await tool.stop();
  return c;
}

const alone: number[] = [];
const other: number[] = [];
const self: number[] = [];
const textRate: number[] = [];
const jsonRate: number[] = [];
for (let i = 0; i < runs; i++) {
  alone.push((await once('alone')).secs);
  other.push((await once('other')).secs);
  const t = await once('self', false);
  self.push(t.secs);
  textRate.push(calls / Math.max(0.01, t.toolCpu! - await idleCpu(t.secs)));
  const j = await once('self', true);
  jsonRate.push(calls / Math.max(0.01, j.toolCpu! - await idleCpu(j.secs)));
}
const a = median(alone);
console.log(`workload: ${calls} failing open() calls, ${runs} runs each, medians`);
console.log(`  alone:                           ${(a * 1e3).toFixed(0)} ms (${Math.round(calls / a)} calls/s)`);
console.log(`  opensnoop -x -p OTHER (filtered): ${(median(other) * 1e3).toFixed(0)} ms  slowdown x${(median(other) / a).toFixed(2)}`);
console.log(`  opensnoop -x -p WORKLOAD (all):  ${(median(self) * 1e3).toFixed(0)} ms  slowdown x${(median(self) / a).toFixed(2)}`);
console.log(`ring buffer -> JS, events per CPU-second of the tool (1 core): text ${Math.round(median(textRate))}/s, json ${Math.round(median(jsonRate))}/s`);
