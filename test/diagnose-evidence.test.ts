// diagnose's evidence on workloads with exact ground truth: 4 threads waiting on one futex for a
// known time, a process blocked in read() inside wait_here, a CPU loop in spin_here throttled by a
// cgroup v1 CPU quota (and its blkio limit), a TCP receiver that never reads.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { DiagnoseSession, type Snapshot } from '../src/tools/diagnose/collect.js';
import { compileC, kernelTest, leftoverPrograms, sleep } from './helpers.js';

const SOURCE = String.raw`
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/futex.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int word;
static void *waiter(void *arg) {
  (void)arg;
  while (__atomic_load_n(&word, __ATOMIC_ACQUIRE) == 0) syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
  return NULL;
}

__attribute__((noinline)) int wait_here(int fd) {
  char c;
  int n = read(fd, &c, 1);
  __asm__ volatile("" ::: "memory");
  return n;
}

volatile unsigned long sink;
__attribute__((noinline)) void spin_here(void) {
  for (unsigned long i = 0; i < 100000000UL; i++) sink += i;
}

static void gate(void) { char b[8]; if (read(0, b, sizeof b) <= 0) exit(0); }

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (!strcmp(argv[1], "futex")) {
    int ms = atoi(argv[2]);
    printf("%p\n", (void *)&word);
    gate();
    pthread_t t[4];
    for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, waiter, NULL);
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
    __atomic_store_n(&word, 1, __ATOMIC_RELEASE);
    syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 4, NULL, NULL, 0);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    printf("done\n");
    gate();
  } else if (!strcmp(argv[1], "block")) {
    int p[2];
    if (pipe(p)) return 1;
    if (fork() == 0) {
      close(p[0]);
      struct timespec ts = { 0, 50000000L };
      for (;;) { if (write(p[1], "x", 1) != 1) _exit(0); nanosleep(&ts, NULL); }
    }
    close(p[1]);
    printf("ready\n");
    for (;;) if (wait_here(p[0]) <= 0) return 0;
  } else if (!strcmp(argv[1], "spin")) {
    printf("ready\n");
    for (;;) spin_here();
  } else if (!strcmp(argv[1], "tcp")) {
    int n = atoi(argv[2]);
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    if (bind(l, (void *)&a, sizeof a) || listen(l, 1) || getsockname(l, (void *)&a, &len)) return 1;
    pid_t child = fork();
    if (child == 0) {
      int c = accept(l, NULL, NULL);
      (void)c;
      for (;;) pause(); /* never reads */
    }
    close(l);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(s, (void *)&a, sizeof a)) return 1;
    char *buf = calloc(1, n);
    int off = 0;
    while (off < n) { int w = write(s, buf + off, n - off); if (w <= 0) return 1; off += w; }
    printf("%d %d %d\n", getpid(), child, ntohs(a.sin_port));
    for (;;) pause();
  }
  return 0;
}
`;

const root = process.getuid?.() === 0;
const CPU_CG = `/sys/fs/cgroup/cpu/bpfkit-evidence-${process.pid}`;
const BLKIO_CG = `/sys/fs/cgroup/blkio/bpfkit-evidence-${process.pid}`;
const TCP_BYTES = 200_000;
const FUTEX_MS = 1000;
const children: ChildProcess[] = [];
let snap: Snapshot;
let futexAddr = '';
let blocked: ChildProcess;
let spinner: ChildProcess;
let futexProc: ChildProcess;
let tcp: { sender: number; receiver: number; port: number };
let throttledBefore = 0;
let throttledAfter = 0;
let spinCpuS = 0;
let disk = '';
let diskDev = '';

const outputs = new Map<ChildProcess, string>();

function start(bin: string, args: string[]): ChildProcess {
  const p = spawn(bin, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(p);
  outputs.set(p, '');
  p.stdout!.on('data', (d) => outputs.set(p, outputs.get(p)! + d));
  return p;
}

/** The child's first `n` lines of stdout, once it printed them. */
async function lines(p: ChildProcess, n: number): Promise<string[]> {
  for (let i = 0; i < 200; i++) {
    const ls = outputs.get(p)!.split('\n');
    if (ls.length > n) return ls.slice(0, n);
    await sleep(50);
  }
  throw new Error(`no output from ${p.pid}: ${outputs.get(p)}`);
}

const cpuTimeS = (pid: number): number => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
};
const nrThrottled = (): number => Number(/nr_throttled (\d+)/.exec(readFileSync(`${CPU_CG}/cpu.stat`, 'utf8'))![1]);

before(async () => {
  if (!root) return;
  const bin = compileC(SOURCE, ['-g', '-fno-omit-frame-pointer', '-pthread']);
  // A CPU quota of 0.2 cores and a write limit on the first disk, for the spinning process.
  mkdirSync(CPU_CG);
  writeFileSync(`${CPU_CG}/cpu.cfs_period_us`, '100000');
  writeFileSync(`${CPU_CG}/cpu.cfs_quota_us`, '20000');
  mkdirSync(BLKIO_CG);
  disk = readFileSync('/proc/diskstats', 'utf8').split('\n').map((l) => l.trim().split(/\s+/)).find((f) => f.length > 3 && /^(vd|sd|nvme)/.test(f[2]!))![2]!;
  diskDev = readFileSync(`/sys/class/block/${disk}/dev`, 'utf8').trim();
  writeFileSync(`${BLKIO_CG}/blkio.throttle.write_bps_device`, `${diskDev} 1048576`);
  spinner = start(bin, ['spin']);
  await lines(spinner, 1);
  writeFileSync(`${CPU_CG}/cgroup.procs`, String(spinner.pid));
  writeFileSync(`${BLKIO_CG}/cgroup.procs`, String(spinner.pid));
  blocked = start(bin, ['block']);
  await lines(blocked, 1);
  const t = start(bin, ['tcp', String(TCP_BYTES)]);
  const [sender, receiver, port] = (await lines(t, 1))[0]!.split(' ').map(Number);
  tcp = { sender: sender!, receiver: receiver!, port: port! };
  const fx = start(bin, ['futex', String(FUTEX_MS)]);
  futexProc = fx;
  futexAddr = (await lines(fx, 1))[0]!;
  const fxDone = lines(fx, 2);

  throttledBefore = nrThrottled();
  const cpu0 = cpuTimeS(spinner.pid!);
  const session = DiagnoseSession.start();
  try {
    fx.stdin!.write('go\n');
    await fxDone;
    await sleep(2000);
    spinCpuS = cpuTimeS(spinner.pid!) - cpu0;
    snap = session.snapshot();
  } finally {
    session.close();
  }
  throttledAfter = nrThrottled();
});

after(async () => {
  for (const c of children) {
    c.kill('SIGKILL');
    // the forked helpers (pipe writer, TCP receiver) die with their parents' pipes or are killed
  }
  if (tcp) try { process.kill(tcp.receiver, 'SIGKILL'); } catch { /* gone */ }
  await sleep(200);
  for (const dir of [CPU_CG, BLKIO_CG]) {
    if (existsSync(dir)) {
      try { rmdirSync(dir); } catch { /* retried once below */ }
    }
  }
  await sleep(300);
  for (const dir of [CPU_CG, BLKIO_CG]) if (existsSync(dir)) rmdirSync(dir);
  if (root) assert.deepEqual(leftoverPrograms('diagnose_'), []);
});

test('futex: 4 threads waiting on the printed word, for the known time', kernelTest(), () => {
  const f = snap.futexes!.find((x) => x.tgid === futexProc.pid && x.uaddr === futexAddr);
  assert.ok(f, `${futexAddr} not found: ${JSON.stringify(snap.futexes!.filter((x) => x.tgid === futexProc.pid))}`);
  assert.equal(f.waiters, 4);
  assert.equal(f.waits, 4);
  // Each thread waits from its start (right after go) until the wake FUTEX_MS later.
  assert.ok(f.waitNs > 4 * FUTEX_MS * 0.8e6 && f.waitNs < 4 * FUTEX_MS * 1.05e6, `waited ${f.waitNs / 1e6} ms`);
});

test('off-CPU stack: the blocked process waits in read() called by wait_here', kernelTest(), () => {
  const mine = snap.stacks!.filter((s) => s.tgid === blocked.pid);
  const read = mine.find((s) => s.kind === 'read' && s.frames.some((f) => f.startsWith('wait_here ')));
  assert.ok(read, JSON.stringify(mine, null, 1));
  // It blocks all the time but a few microseconds per byte (20 a second).
  assert.ok(read.ns > 0.8 * snap.windowS * 1e9, `${read.ns / 1e9} s of ${snap.windowS} s`);
  assert.match(read.frames[0]!, /^read \(libc/);
});

test('on-CPU stack: the spinning process is in spin_here, its sampled time is its CPU time', kernelTest(), () => {
  const cpu = snap.stacks!.filter((s) => s.tgid === spinner.pid && s.kind === 'cpu');
  const spin = cpu.find((s) => s.frames[0]!.startsWith('spin_here '));
  assert.ok(spin, JSON.stringify(cpu, null, 1));
  const total = cpu.reduce((a, s) => a + s.ns, 0) / 1e9;
  assert.ok(total > 0.5 * spinCpuS && total < 1.5 * spinCpuS, `sampled ${total} s, used ${spinCpuS} s`);
});

test('cgroup v1 CPU quota: the spinning process is throttled', kernelTest(), () => {
  const name = CPU_CG.slice('/sys/fs/cgroup/cpu'.length);
  const cg = snap.cgroupCpu!.find((c) => c.path === name);
  assert.ok(cg, JSON.stringify(snap.cgroupCpu));
  assert.deepEqual(cg.pids, [spinner.pid]);
  assert.equal(cg.quotaCores, 0.2);
  assert.ok(cg.throttledPeriods > 0 && cg.throttledPeriods <= throttledAfter - throttledBefore, `${cg.throttledPeriods} of ${throttledAfter - throttledBefore}`);
  assert.ok(cg.periods >= cg.throttledPeriods);
  assert.ok(cg.throttledNs > 0);
});

test('blkio limit: the write limit on the disk, with its name', kernelTest(), () => {
  const name = BLKIO_CG.slice('/sys/fs/cgroup/blkio'.length);
  const lim = snap.ioLimits!.find((l) => l.path === name);
  assert.ok(lim, JSON.stringify(snap.ioLimits));
  assert.deepEqual(lim, { path: name, pids: [spinner.pid], device: disk, writeBps: 1048576 });
});

test('socket queues: the bytes the receiver did not read are in its Recv-Q and the sender\'s Send-Q', kernelTest(), () => {
  const rx = snap.sockQueues!.find((q) => q.pid === tcp.receiver && q.lport === tcp.port);
  const tx = snap.sockQueues!.find((q) => q.pid === tcp.sender && q.rport === tcp.port);
  assert.ok(rx, JSON.stringify(snap.sockQueues));
  assert.equal(rx.recvQMax + (tx?.sendQMax ?? 0), TCP_BYTES);
  assert.equal(rx.recvQAvg + (tx?.sendQAvg ?? 0), TCP_BYTES);
  assert.ok(rx.samples >= 4, `${rx.samples} samples`);
  assert.equal(rx.laddr, '127.0.0.1');
});
