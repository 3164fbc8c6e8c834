// opensnoop under an open() storm: events delivered into NDJSON on a file against the events
// generated, at several generated rates, with the default ring buffer (8 MiB); the same storm
// under libbpf-tools' opensnoop (text on a file); the time from SIGINT to exit under the storm.
// Ratios and counts, never pass/fail. Generated is counted by the storm program itself; delivered
// from the output lines; lost from the tool's own report (bpfkit: the summary record; libbpf-tools:
// its "Lost N events" lines). The storm is gated (`-p` of the storm's PID, `-x`: only its failing
// opens), so other processes on the machine add nothing to the counts.
// Usage: [BPFKIT_BIN=other/dist/src/cli/main.js] node dist/bench/snoop.js [seconds=5] [rates=100000,200000,300000,400000,0] (0: as fast as
// the storm can go) [runs=1]
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BPFKIT, median } from './common.js';
import { compileC } from '../test/helpers.js';
import { STORM, STORM_PATH } from '../test/storm.js';


const seconds = Number(process.argv[2] ?? 5);
const rates = (process.argv[3] ?? '100000,200000,300000,400000,0').split(',').map(Number);
const runs = Number(process.argv[4] ?? 1);
const storm = compileC(STORM, ['-O2', '-pthread']);
const TICK = 100; // USER_HZ
/** Another build to compare with (BPFKIT_BIN=/path/to/dist/src/cli/main.js), else this one. */
const BPFKIT_BIN = process.env.BPFKIT_BIN ?? BPFKIT;

const LIBBPF_TOOLS = ['/usr/sbin/opensnoop', '/usr/sbin/libbpf-opensnoop', '/usr/bin/opensnoop'].find(existsSync);

function cpuSeconds(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
    return (Number(f[11]) + Number(f[12])) / TICK;
  } catch {
    return NaN;
  }
}
function machineIdle(): { idle: number; all: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.split(/\s+/).slice(1).map(Number);
  return { idle: f[3]! + f[4]!, all: f.reduce((a, b) => a + b, 0) };
}
/** BPF links and perf events (tracepoint attachments) a process holds. */
function attachedLinks(pid: number): number {
  let n = 0;
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const l = readlinkSync(`/proc/${pid}/fd/${fd}`);
        if (l.includes('bpf_link') || l.includes('perf_event')) n++;
      } catch { /* closed */ }
    }
  } catch { /* exited */ }
  return n;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Result {
  generated: number; genRate: number; delivered: number; lost: number | undefined;
  lostKernel?: number; lostOutput?: number; cpuS: number; busyCores: number; stopMs: number; error?: string;
}

type Which = 'bpfkit' | 'libbpf-tools';

async function once(which: Which, rate: number): Promise<Result> {
  const s = spawn(storm, [String(rate), String(seconds), '2', STORM_PATH], { stdio: ['pipe', 'pipe', 'inherit'] });
  let sout = '';
  s.stdout!.on('data', (d) => { sout += d; });
  const stormDone = new Promise((r) => s.on('close', r));
  const out = join(tmpdir(), `bpfkit-bench-snoop-${process.pid}.out`);
  const fd = openSync(out, 'w');
  const args = which === 'bpfkit'
    ? [process.execPath, BPFKIT_BIN, 'opensnoop', '-x', '-p', String(s.pid), '--json']
    : [LIBBPF_TOOLS!, '-x', '-p', String(s.pid)];
  const tool: ChildProcess = spawn(args[0]!, args.slice(1), { stdio: ['ignore', fd, 'pipe'], env: { ...process.env, BPFKIT_READY: '1' } });
  closeSync(fd);
  let err = '';
  tool.stderr!.on('data', (d) => { err += d; });
  const toolDone = new Promise<number | null>((r) => tool.on('close', (c) => r(c)));
  const fail = async (why: string): Promise<Result> => {
    tool.kill('SIGKILL');
    s.stdin!.end();
    s.kill('SIGKILL');
    await stormDone;
    rmSync(out, { force: true });
    return { generated: 0, genRate: 0, delivered: 0, lost: undefined, cpuS: NaN, busyCores: NaN, stopMs: NaN, error: `${why}: ${err.trim().split('\n').slice(-3).join(' / ')}` };
  };
  // libbpf-tools' header sits in stdio's buffer (a file): ready once it holds attached links
  let linkedAt = 0;
  const ready = () => {
    if (which === 'bpfkit') return err.includes('BPFKIT_READY');
    if (!linkedAt && attachedLinks(tool.pid!) >= 2) linkedAt = Date.now();
    return linkedAt > 0 && Date.now() - linkedAt > 500;
  };
  const t0 = Date.now();
  while (!ready()) {
    if (tool.exitCode !== null) return fail(`exited (${tool.exitCode}) before it was ready`);
    if (Date.now() - t0 > 20000) return fail('not ready within 20 s');
    await sleep(20);
  }
  const m0 = machineIdle();
  const c0 = cpuSeconds(tool.pid!);
  s.stdin!.write('go\n');
  while (!sout.includes('\n')) {
    if (s.exitCode !== null) return fail('storm failed');
    await sleep(20);
  }
  const [generated, secs] = sout.trim().split(' ').map(Number) as [number, number];
  // the storm is over: give the tool a moment for what is in its buffer, then measure and stop it
  await sleep(300);
  const cpuS = cpuSeconds(tool.pid!) - c0;
  const m1 = machineIdle();
  const busyCores = 2 * (1 - (m1.idle - m0.idle) / (m1.all - m0.all));
  const t1 = Date.now();
  tool.kill('SIGINT');
  const code = await toolDone;
  const stopMs = Date.now() - t1;
  s.stdin!.end();
  await stormDone;
  const text = readFileSync(out, 'utf8');
  rmSync(out, { force: true });
  let delivered = 0;
  let lost: number | undefined;
  let lostKernel: number | undefined;
  let lostOutput: number | undefined;
  if (which === 'bpfkit') {
    for (const line of text.split('\n')) {
      if (line.includes(`"path":"${STORM_PATH}"`)) delivered++;
      else if (line.startsWith('{"type":"summary"')) {
        const sum = JSON.parse(line) as { lost: number; lost_kernel: number; lost_output: number };
        ({ lost, lost_kernel: lostKernel, lost_output: lostOutput } = sum);
      }
    }
  } else {
    for (const line of text.split('\n')) if (line.endsWith(STORM_PATH)) delivered++;
    // "Lost N events on CPU #C!" (perf buffer), on stderr or stdout
    lost = 0;
    for (const m of (err + text).matchAll(/Lost (\d+) events/g)) lost += Number(m[1]);
  }
  const r: Result = { generated, genRate: generated / secs, delivered, lost, lostKernel, lostOutput, cpuS, busyCores, stopMs };
  if (code !== 0 && !(which === 'libbpf-tools' && code === null)) r.error = `exit status ${code}: ${err.trim().split('\n').slice(-2).join(' / ')}`;
  return r;
}

/** libbpf-tools' opensnoop attaches classic tracepoints: it needs tracefs (debugfs for old libbpf). */
function ensureTracefs(): string {
  if (existsSync('/sys/kernel/tracing/events')) return 'tracefs already mounted';
  const r = spawnSync('mount', ['-t', 'tracefs', 'nodev', '/sys/kernel/tracing'], { encoding: 'utf8' });
  return r.status === 0 ? 'mounted tracefs at /sys/kernel/tracing (libbpf-tools needs it)' : `could not mount tracefs: ${r.stderr.trim()}`;
}

const pad = (x: string | number, w: number) => String(x).padStart(w);
const k = (x: number) => (Number.isFinite(x) ? `${Math.round(x / 1000)}k` : '-');

console.log(`opensnoop -x -p STORM, ${seconds} s storms of failing open() (2 threads), default ring buffer, output to a file; ${runs} run(s) each, medians`);
console.log(`bpfkit: ${BPFKIT_BIN}`);
console.log(`machine: ${spawnSync('nproc').stdout.toString().trim()} CPUs, kernel ${spawnSync('uname', ['-r']).stdout.toString().trim()}, load average before: ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
if (LIBBPF_TOOLS) console.log(`libbpf-tools: ${LIBBPF_TOOLS} (${ensureTracefs()})`);
else console.log('libbpf-tools: opensnoop not found (Debian package libbpf-tools): not compared');
console.log('');
console.log(`${'tool'.padEnd(13)} ${pad('target/s', 9)} ${pad('generated/s', 11)} ${pad('delivered/s', 11)} ${pad('delivered', 9)} ${pad('lost', 9)} ${pad('exact', 5)} ${pad('CPU us/ev', 9)} ${pad('busy CPUs', 9)} ${pad('SIGINT->exit', 12)}`);
const rows: Array<{ which: Which; rate: number; r: Result }> = [];
for (const rate of rates) {
  for (const which of ['bpfkit', 'libbpf-tools'] as Which[]) {
    if (which === 'libbpf-tools' && !LIBBPF_TOOLS) continue;
    const rs: Result[] = [];
    for (let i = 0; i < runs; i++) rs.push(await once(which, rate));
    const bad = rs.find((x) => x.error && x.generated === 0);
    if (bad) {
      console.log(`${which.padEnd(13)} ${pad(rate ? k(rate) : 'max', 9)} cannot run here: ${bad.error}`);
      continue;
    }
    const med = (f: (x: Result) => number) => median(rs.map(f));
    const r: Result = {
      generated: med((x) => x.generated), genRate: med((x) => x.genRate), delivered: med((x) => x.delivered),
      lost: rs.every((x) => x.lost !== undefined) ? med((x) => x.lost!) : undefined,
      cpuS: med((x) => x.cpuS), busyCores: med((x) => x.busyCores), stopMs: med((x) => x.stopMs),
      error: rs.find((x) => x.error)?.error,
    };
    rows.push({ which, rate, r });
    const exact = rs.every((x) => x.lost !== undefined && x.delivered + x.lost === x.generated) ? 'yes' : 'no';
    const frac = r.delivered / r.generated;
    console.log(`${which.padEnd(13)} ${pad(rate ? k(rate) : 'max', 9)} ${pad(k(r.genRate), 11)} ${pad(k(r.genRate * frac), 11)} ${pad((100 * frac).toFixed(1) + '%', 9)} ${pad(r.lost ?? '?', 9)} ${pad(exact, 5)} ${pad(((r.cpuS * 1e6) / Math.max(1, r.delivered)).toFixed(2), 9)} ${pad(r.busyCores.toFixed(2), 9)} ${pad(Math.round(r.stopMs) + ' ms', 12)}${r.error ? `  (${r.error})` : ''}`);
  }
}
console.log('');
console.log('delivered/s, bpfkit / libbpf-tools, same storm:');
for (const rate of rates) {
  const a = rows.find((x) => x.which === 'bpfkit' && x.rate === rate)?.r;
  const b = rows.find((x) => x.which === 'libbpf-tools' && x.rate === rate)?.r;
  if (a && b) console.log(`  ${pad(rate ? k(rate) : 'max', 5)}/s: x${((a.delivered / a.generated) * a.genRate / ((b.delivered / b.generated) * b.genRate)).toFixed(2)}`);
}
console.log('(delivered: lines of the storm in the output; lost: what the tool reports; exact: delivered + lost == generated;');
console.log(' CPU us/ev: the tool\'s CPU time (user+system) per delivered event; busy CPUs: the whole machine\'s, of 2)');
