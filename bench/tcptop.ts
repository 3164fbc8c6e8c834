// tcptop's overhead on TCP over loopback: a bulk transfer (1 MiB writes) and a 100-byte
// ping-pong, each run alone and under `bpfkit tcptop` (interleaved, several times; medians).
// Prints rates and ratios (alone / under tcptop), by wall clock and per CPU-second used by the
// two ends (steadier when other work shares the CPUs); a ratio, never a pass/fail.
//   node dist/bench/tcptop.js [--seconds S (3)] [--reps N (7)]
// libbpf-tools' and BCC's tcptop need kprobes (or fentry) on tcp_sendmsg/tcp_cleanup_rbuf and
// cannot run on this kernel, so there is no comparison with them here.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { native } from '../src/core/libbpf.js';

const BPFKIT = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

// net bulk S | net pingpong S SIZE: a forked server on 127.0.0.1; prints the rate on stdout.
const NET = `
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
static int full(int fd, char *b, int n, int rd) {
  for (int d = 0; d < n;) { int r = rd ? read(fd, b + d, n - d) : write(fd, b + d, n - d); if (r <= 0) return -1; d += r; }
  return n;
}
int main(int argc, char **argv) {
  int bulk = strcmp(argv[1], "bulk") == 0;
  double secs = atof(argv[2]);
  int size = bulk ? 1 << 20 : atoi(argv[3]);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  socklen_t len = sizeof a;
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  if (bind(ls, (void *)&a, len) || listen(ls, 1) || getsockname(ls, (void *)&a, &len)) { perror("listen"); return 2; }
  char *buf = calloc(1, size);
  int one = 1;
  pid_t srv = fork();
  if (srv == 0) {
    int c = accept(ls, 0, 0);
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (bulk) { while (read(c, buf, size) > 0) {} }
    else { while (full(c, buf, size, 1) > 0 && full(c, buf, size, 0) > 0) {} }
    return 0;
  }
  int s = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(s, (void *)&a, len)) { perror("connect"); return 2; }
  setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  double t0 = now(), t;
  long n = 0;
  do {
    for (int i = 0; i < 64; i++) {
      if (bulk) { if (full(s, buf, size, 0) < 0) return 3; n += size; }
      else { if (full(s, buf, size, 0) < 0 || full(s, buf, size, 1) < 0) return 3; n++; }
    }
  } while ((t = now()) - t0 < secs);
  close(s);
  waitpid(srv, 0, 0);
  /* CPU seconds of both ends (the server is a reaped child). */
  struct rusage me, kid;
  getrusage(RUSAGE_SELF, &me);
  getrusage(RUSAGE_CHILDREN, &kid);
  double cpu = me.ru_utime.tv_sec + me.ru_stime.tv_sec + kid.ru_utime.tv_sec + kid.ru_stime.tv_sec
    + (me.ru_utime.tv_usec + me.ru_stime.tv_usec + kid.ru_utime.tv_usec + kid.ru_stime.tv_usec) / 1e6;
  printf("%.1f %.1f\\n", n / (t - t0), n / cpu);
  return 0;
}
`;

function compile(source: string): string {
  const hash = createHash('sha1').update(source).digest('hex').slice(0, 12);
  const dir = join(tmpdir(), 'bpfkit-bench-bin');
  mkdirSync(dir, { recursive: true });
  const bin = join(dir, `net-${hash}`);
  if (!existsSync(bin)) {
    writeFileSync(`${bin}.c`, source);
    const r = spawnSync('gcc', ['-O2', '-o', bin, `${bin}.c`], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`gcc failed: ${r.stderr}`);
  }
  return bin;
}

/** [units per wall-clock second, units per CPU second of both ends]. */
function rate(bin: string, args: string[]): [number, number] {
  const r = spawnSync(bin, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${bin} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  const [wall, cpu] = r.stdout.trim().split(' ').map(Number);
  return [wall!, cpu!];
}

interface Tool { stop(): Promise<string> }

/** bpfkit tcptop -C 1 in the background, resolved once its programs are attached. */
function startTcptop(): Promise<Tool> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [BPFKIT, 'tcptop', '-C', '-S', '1'], { env: { ...process.env, BPFKIT_READY: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    let out = 0;
    let ready = false;
    p.stdout!.on('data', (d: Buffer) => { out += d.length; });
    p.stderr!.on('data', (d) => {
      err += d;
      if (!ready && err.includes('BPFKIT_READY')) {
        ready = true;
        resolve({ stop: () => new Promise((res) => { p.on('close', () => res(`${out} bytes of output`)); p.kill('SIGINT'); }) });
      }
    });
    p.on('close', (code) => { if (!ready) reject(new Error(`bpfkit tcptop exited (${code}) before ready:\n${err}`)); });
  });
}

/** run_time_ns and run_cnt of the loaded programs named tcptop_* (kernel.bpf_stats_enabled). */
function tcptopProgramStats(): { ns: number; runs: number } {
  const r = spawnSync('bpftool', ['-j', 'prog', 'show'], { encoding: 'utf8' });
  let ns = 0;
  let runs = 0;
  for (const p of JSON.parse(r.stdout) as Array<{ name?: string; run_time_ns?: number; run_cnt?: number }>) {
    if (p.name?.startsWith('tcptop_')) { ns += p.run_time_ns ?? 0; runs += p.run_cnt ?? 0; }
  }
  return { ns, runs };
}

/**
 * One more run under tcptop with the kernel's BPF run-time statistics on (BPF_ENABLE_STATS:
 * on while our fd is open, without touching the kernel.bpf_stats_enabled sysctl that others
 * may be using): the cost of tcptop's programs per event, and how many events one unit of
 * work causes. Independent of the other load on the machine, unlike the rates.
 */
async function programCost(bin: string, args: string[]): Promise<{ nsPerEvent: number; eventsPerUnit: number; cpuRate: number }> {
  const tool = await startTcptop();
  const statsFd = native.bpf_enable_stats(0) as number;
  if (statsFd < 0) throw new Error('BPF_ENABLE_STATS failed');
  try {
    const before = tcptopProgramStats();
    const t0 = Date.now();
    const [wall, cpuRate] = rate(bin, args);
    const secs = (Date.now() - t0) / 1000;
    const after = tcptopProgramStats();
    const runs = after.runs - before.runs;
    return { nsPerEvent: (after.ns - before.ns) / Math.max(1, runs), eventsPerUnit: runs / (wall * secs), cpuRate };
  } finally {
    native.close(statsFd);
    await tool.stop();
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const opt = (name: string, dflt: number) => { const i = argv.indexOf(name); return i >= 0 ? Number(argv[i + 1]) : dflt; };
  const seconds = opt('--seconds', 3);
  const reps = opt('--reps', 7);
  const bin = compile(NET);
  const workloads = [
    { name: 'bulk (1 MiB writes)', unit: 'MB/s', scale: 1e-6, args: ['bulk', String(seconds)], target: 1.03 },
    { name: 'ping-pong (100 B)', unit: 'round trips/s', scale: 1, args: ['pingpong', String(seconds), '100'], target: 1.10 },
  ];
  console.log(`tcptop overhead: ${reps} runs x ${seconds} s per configuration, interleaved; medians (2 shared cores: expect noise)`);
  console.log('libbpf-tools/BCC tcptop: not comparable here, they need kprobes/fentry, which this kernel lacks\n');
  for (const w of workloads) {
    const alone: Array<[number, number]> = [];
    const under: Array<[number, number]> = [];
    for (let i = 0; i < reps; i++) {
      alone.push(rate(bin, w.args));
      const tool = await startTcptop();
      try {
        under.push(rate(bin, w.args));
      } finally {
        await tool.stop();
      }
    }
    const f = (x: number) => (x * w.scale).toFixed(w.scale === 1 ? 0 : 1);
    console.log(`${w.name}`);
    for (const [k, label, unit] of [[0, 'throughput', w.unit], [1, 'per CPU-second of both ends', w.unit.replace('/s', '/CPU-s')]] as const) {
      const a = median(alone.map((r) => r[k]));
      const u = median(under.map((r) => r[k]));
      console.log(`  ${label}`);
      console.log(`    alone         ${f(a).padStart(10)} ${unit}   runs: ${alone.map((r) => f(r[k])).join(', ')}`);
      console.log(`    under tcptop  ${f(u).padStart(10)} ${unit}   runs: ${under.map((r) => f(r[k])).join(', ')}`);
      console.log(`    ratio alone/under tcptop: ${(a / u).toFixed(3)}x${k === 0 ? ` (target <= ${w.target.toFixed(2)}x)` : ''}`);
    }
    const cost = await programCost(bin, w.args);
    const extra = cost.nsPerEvent * cost.eventsPerUnit * cost.cpuRate / 1e9;
    console.log(`  tcptop's BPF programs (kernel run-time stats, one run): ${cost.nsPerEvent.toFixed(0)} ns per event, ` +
      `~${(cost.eventsPerUnit * (w.scale === 1 ? 1 : 1 / w.scale)).toFixed(w.scale === 1 ? 1 : 2)} events per ${w.scale === 1 ? 'round trip' : 'MB'} ` +
      `(incl. other traffic): +${(extra * 100).toFixed(2)}% CPU for this workload, i.e. ratio ~${(1 + extra).toFixed(3)}x when CPU-bound`);
    console.log('');
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
