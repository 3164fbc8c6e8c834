// diagnose --timeline against a workload with a known schedule: one thread that spins 200 ms of
// CPU, sleeps 300 ms in nanosleep, then writes N messages over TCP to another process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileC, kernelTest, leftoverPrograms, runInKernel, startGatedChild, startTool } from './helpers.js';

const N = 37;
const MSG = 100;

// The writer's worker thread (tl-worker) waits for a line on stdin, burns 200 ms of its own CPU
// time (CLOCK_THREAD_CPUTIME_ID: exact whatever the preemptions), sleeps 300 ms, then writes N
// messages with N write() calls. The sink (a forked process, tl-sink) reads until EOF.
const WORKLOAD = String.raw`
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int fd;
static double cpu(void) { struct timespec t; clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); return t.tv_sec + t.tv_nsec / 1e9; }

static void *worker(void *arg) {
  (void)arg;
  prctl(PR_SET_NAME, "tl-worker");
  printf("tid %ld\n", (long)syscall(SYS_gettid));
  fflush(stdout);
  char c;
  if (read(0, &c, 1) != 1) exit(3);
  double t0 = cpu();
  volatile unsigned long x = 0;
  while (cpu() - t0 < 0.2) for (int i = 0; i < 1000; i++) x += i;
  struct timespec ts = { 0, 300000000 };
  nanosleep(&ts, 0);
  char msg[${MSG}];
  memset(msg, 'm', sizeof msg);
  for (int i = 0; i < ${N}; i++) if (write(fd, msg, sizeof msg) != sizeof msg) exit(4);
  return 0;
}

int main(void) {
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  socklen_t len = sizeof a;
  if (bind(ls, (void *)&a, sizeof a) || listen(ls, 1) || getsockname(ls, (void *)&a, &len)) return 1;
  pid_t sink = fork();
  if (sink == 0) {
    prctl(PR_SET_NAME, "tl-sink");
    int c = accept(ls, 0, 0);
    char buf[65536];
    long n, total = 0;
    while ((n = read(c, buf, sizeof buf)) > 0) total += n;
    return total == ${N * MSG} ? 0 : 5;
  }
  close(ls);
  fd = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(fd, (void *)&a, sizeof a)) return 2;
  printf("pids %d %d\n", getpid(), sink);
  fflush(stdout);
  pthread_t t;
  pthread_create(&t, 0, worker, 0);
  pthread_join(t, 0);
  close(fd);
  int st;
  waitpid(sink, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 6;
}
`;

interface Ev { ph: string; pid: number; tid: number; ts: number; dur?: number; name: string; cat?: string; id?: number; args?: { name?: string } }
interface Trace { traceEvents: Ev[]; displayTimeUnit: string; otherData: { truncated: boolean; lostKernel: number; tcpMessages: boolean; notes: string[] } }

const TOL_MS = 30;

test('timeline: the worker runs 200 ms, sleeps 300 ms, and its N messages are N flows to the sink', kernelTest(), async () => {
  const bin = compileC(WORKLOAD, ['-pthread']);
  const dir = mkdtempSync(join(tmpdir(), 'bpfkit-tl-'));
  const file = join(dir, 'trace.json');
  const child = startGatedChild(bin);
  let kept = true; // the trace stays for a look when the test fails
  try {
    // the writer and its sink are up, the worker waits for its line
    const t0 = Date.now();
    while (!/tid \d+/.test(child.stdout()) && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 20));
    const [, writer, sink] = /pids (\d+) (\d+)/.exec(child.stdout())!.map(Number) as [number, number, number];
    const worker = Number(/tid (\d+)/.exec(child.stdout())![1]);
    const tool = startTool(['diagnose', '-d', '3', '--json', '--timeline', file], { timeoutMs: 60_000 });
    await tool.ready;
    await new Promise((r) => setTimeout(r, 200));
    child.go();
    assert.equal(await child.exited, 0, 'the sink read every byte');
    const run = await tool.done;
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /wrote .*trace\.json: \d+ trace events \(\d+ TCP flows\)/);
    assert.deepEqual(leftoverPrograms('tl_'), []);

    const trace = JSON.parse(readFileSync(file, 'utf8')) as Trace;
    assert.equal(trace.displayTimeUnit, 'ms');
    assert.equal(trace.otherData.truncated, false);
    assert.equal(trace.otherData.tcpMessages, true);
    assert.equal(trace.otherData.lostKernel, 0);
    const ev = trace.traceEvents;
    const meta = (kind: string, pid: number, tid: number) => ev.find((e) => e.ph === 'M' && e.name === kind && e.pid === pid && e.tid === tid)?.args?.name;
    assert.equal(meta('thread_name', writer, worker), 'tl-worker');
    assert.equal(meta('thread_name', sink, sink), 'tl-sink');
    assert.equal(meta('process_name', sink, sink), 'tl-sink');
    assert.ok(meta('process_name', writer, writer), 'the writer has a process name');

    // The worker's states in time order: ... blocked: read (stdin) | running/runnable ~200 ms of
    // CPU | blocked: sleep 300 ms | ...
    const mine = ev.filter((e) => e.ph === 'X' && e.tid === worker && e.cat !== 'tcp').sort((a, b) => a.ts - b.ts);
    assert.ok(mine.every((e) => e.pid === writer));
    for (let i = 1; i < mine.length; i++) assert.ok(mine[i]!.ts >= mine[i - 1]!.ts + mine[i - 1]!.dur! - 0.001, `slices overlap at ${mine[i]!.ts}`);
    const sleeps = mine.filter((e) => e.name === 'blocked: sleep');
    assert.equal(sleeps.length, 1, JSON.stringify(sleeps));
    const sleep = sleeps[0]!;
    assert.ok(Math.abs(sleep.dur! / 1000 - 300) <= TOL_MS, `sleep slice ${sleep.dur! / 1000} ms`);
    const stdin = mine.filter((e) => e.name === 'blocked: read' && e.ts < sleep.ts).at(-1);
    assert.ok(stdin, 'the wait for stdin is a read slice');
    const spin = mine.filter((e) => e.ts >= stdin.ts + stdin.dur! && e.ts < sleep.ts);
    assert.ok(spin.every((e) => e.name === 'running' || e.name === 'runnable'), spin.map((e) => e.name).join(','));
    const cpuMs = spin.filter((e) => e.name === 'running').reduce((s, e) => s + e.dur!, 0) / 1000;
    assert.ok(Math.abs(cpuMs - 200) <= TOL_MS, `on CPU ${cpuMs} ms between the stdin read and the sleep`);
    const longest = Math.max(...spin.filter((e) => e.name === 'running').map((e) => e.dur!)) / 1000;

    // N sends, each one flow to a receive of the sink
    const sends = ev.filter((e) => e.ph === 'X' && e.tid === worker && e.name === `send ${MSG} B`);
    assert.equal(sends.length, N);
    const starts = new Map(ev.filter((e) => e.ph === 's' && e.pid === writer).map((e) => [e.id, e]));
    const flows = ev.filter((e) => e.ph === 'f' && e.pid === sink && starts.has(e.id));
    assert.equal(flows.length, N, `flows writer -> sink: ${flows.length}`);
    assert.ok(flows.every((f) => f.ts >= starts.get(f.id)!.ts));
    const recvBytes = ev.filter((e) => e.ph === 'X' && e.pid === sink && e.name.startsWith('recv ')).reduce((s, e) => s + Number(e.name.split(' ')[1]), 0);
    assert.equal(recvBytes, N * MSG);
    kept = false;
    process.stderr.write(`  worker: sleep ${(sleep.dur! / 1000).toFixed(1)} ms, on CPU ${cpuMs.toFixed(1)} ms in ${spin.length} slices (longest ${longest.toFixed(1)} ms); ${flows.length} flows; ${ev.length} events\n`);
  } finally {
    child.proc.kill('SIGKILL');
    if (kept) process.stderr.write(`  trace kept: ${file}\n`);
    else rmSync(dir, { recursive: true, force: true });
  }
});

test('timeline with -p: only the pipeline of the given process', kernelTest(), async () => {
  const bin = compileC(WORKLOAD, ['-pthread']);
  const dir = mkdtempSync(join(tmpdir(), 'bpfkit-tl-'));
  const file = join(dir, 'trace.json');
  const child = startGatedChild(bin);
  try {
    const t0 = Date.now();
    while (!/tid \d+/.test(child.stdout()) && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 20));
    const [, writer, sink] = /pids (\d+) (\d+)/.exec(child.stdout())!.map(Number) as [number, number, number];
    const tool = startTool(['diagnose', '-d', '3', '--json', '-p', String(sink), '--timeline', file], { timeoutMs: 60_000 });
    await tool.ready;
    child.go();
    assert.equal(await child.exited, 0);
    const run = await tool.done; // ends early: the sink exited
    assert.equal(run.code, 0, run.stderr);
    const trace = JSON.parse(readFileSync(file, 'utf8')) as Trace;
    const pids = new Set(trace.traceEvents.map((e) => e.pid));
    assert.ok(pids.has(sink), 'the given process');
    assert.ok(pids.has(writer), 'its TCP peer');
    assert.ok([...pids].every((p) => p === sink || p === writer), `other processes: ${[...pids].filter((p) => p !== sink && p !== writer).join(',')}`);
    assert.equal(trace.traceEvents.filter((e) => e.ph === 'f').length, N);
  } finally {
    child.proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('6.1 kernel (no sock_*_length): slices without flows, and a note saying so', kernelTest(), async () => {
  const { code, output } = await runInKernel(`
node dist/src/cli/main.js diagnose -d 2 --json --verbose --timeline /tmp/tl.json > /tmp/report 2> /tmp/err
grep -o 'TCP messages and flows are not in the timeline' /tmp/err | head -1
node -e 'const t=JSON.parse(require("fs").readFileSync("/tmp/tl.json","utf8"));const x=t.traceEvents.filter(e=>e.ph==="X");console.log("RESULT "+JSON.stringify({running:x.filter(e=>e.name==="running").length,blocked:x.filter(e=>e.cat==="blocked").length,names:t.traceEvents.filter(e=>e.ph==="M").length,flows:t.traceEvents.filter(e=>e.ph==="s").length,tcp:t.otherData.tcpMessages,notes:t.otherData.notes}))'
`);
  assert.equal(code, 0, output);
  assert.match(output, /TCP messages and flows are not in the timeline/);
  const r = JSON.parse(/RESULT (.*)/.exec(output)![1]!) as { running: number; blocked: number; names: number; flows: number; tcp: boolean; notes: string[] };
  assert.ok(r.running > 10 && r.blocked > 10 && r.names > 4, JSON.stringify(r));
  assert.equal(r.flows, 0);
  assert.equal(r.tcp, false);
  assert.ok(r.notes.some((n) => /not in the timeline/.test(n)));
});
