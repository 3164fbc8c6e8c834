// The diagnose zoo (examples/zoo/): the table of pipelines and what diagnose must say on each,
// shared by test/zoo.test.ts and bench/zoo.ts.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const BPFKIT = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
export const ZOO = join(REPO, 'examples', 'zoo');

/**
 * Every pipeline of the zoo with the verdict diagnose must give (null: nothing saturated) and the
 * evidence a user needs to act on it (matched against the top verdict's evidence and stacks).
 */
export const PIPELINES: ReadonlyArray<{ name: string; kind: string | null; evidence?: RegExp }> = [
  { name: 'cpu-bound', kind: 'cpu-saturated', evidence: /CPU time in: / },
  { name: 'supervisor', kind: 'cpu-saturated', evidence: /CPU time in: / },
  { name: 'timer-limited', kind: null },
  { name: 'healthy', kind: null },
  { name: 'slow-server', kind: 'slow-dependency', evidence: /waits \d+\.\d ms per call[^]*time blocked \(sleep\) in: clock_nanosleep/ },
  { name: 'backpressure', kind: 'backpressure', evidence: /blocked sending to it \d+% of its time, with up to \d+ KiB queued on the socket/ },
  { name: 'disk-bound', kind: 'disk-bound', evidence: /limits its I\/O on loop\d+ to 100 writes\/s[^]*time blocked \(sync\) in: fdatasync/ },
  { name: 'lock-contention', kind: 'lock-contention', evidence: /\d+ threads wait on the futex at 0x[0-9a-f]+[^]*time blocked \(lock\) in: .*pthread_mutex_lock \(libc\.so\.6\) < worker \(lockwork\)/ },
  { name: 'cpu-throttled', kind: 'cpu-throttled', evidence: /quota 0\.25 cores; throttled \d+ of \d+ periods/ },
  { name: 'runqueue-saturated', kind: 'runqueue-saturated', evidence: /python3: 7 processes/ },
  { name: 'pull-limited', kind: 'pull-limited consumer', evidence: /request\/response/ },
];

/** ZOO=a,b limits the pipelines (for development; CI runs them all). */
export function selected(name: string): boolean {
  const only = (process.env.ZOO ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  return only.length === 0 || only.includes(name);
}

export interface ZooStatus {
  pipeline: string;
  running: boolean;
  /** Stage role -> pid, head of the pipeline first. */
  stages: Record<string, number | null>;
  expected: { stage: string | null; pid?: number | null; kind: string | null };
  throughput: { msgsPerS: number };
  groundTruth: string;
  truthHolds?: boolean;
}

export interface Service { id: number | string; comm: string; pids: number[] }
export interface Verdict { service: number | string; comm: string; rule: string; confidence?: number; summary?: string; evidence: string[]; where?: Array<{ kind: string; share: number; frames: string[] }> }
export interface Report { services: Service[]; verdicts: Verdict[]; notes: string[]; saturated: boolean; conclusion: string }

export const runSh = (name: string) => join(ZOO, name, 'run.sh');

/** run.sh CMD for pipeline `name`; throws with its output when it fails. */
export function zoo(name: string, ...args: string[]): string {
  const r = spawnSync('bash', [runSh(name), ...args], { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`${name}/run.sh ${args.join(' ')} failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

export const exists = (name: string) => existsSync(runSh(name));
export const status = (name: string): ZooStatus => JSON.parse(zoo(name, 'status', '--json')) as ZooStatus;

/** The pid diagnose is scoped to: the pipeline's head (its first stage), as a user would pick. */
export function headPid(st: ZooStatus): number {
  const pid = Object.values(st.stages).find((p): p is number => typeof p === 'number');
  if (pid === undefined) throw new Error(`${st.pipeline}: no running stage in ${JSON.stringify(st.stages)}`);
  return pid;
}

/** `diagnose -d SECONDS --json -p PID`, asynchronous so that a test's timers keep running. */
export function diagnose(pid: number, seconds: number): Promise<{ code: number | null; report: Report | null; stderr: string; seconds: number }> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BPFKIT, 'diagnose', '-d', String(seconds), '--json', '-p', String(pid)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout!.on('data', (d) => { out += d; });
    p.stderr!.on('data', (d) => { err += d; });
    const timer = setTimeout(() => p.kill('SIGKILL'), (seconds + 40) * 1000);
    p.on('close', (code) => {
      clearTimeout(timer);
      let report: Report | null = null;
      try { report = JSON.parse(out) as Report; } catch { /* reported by the caller */ }
      resolve({ code, report, stderr: err, seconds: (Date.now() - t0) / 1000 });
    });
  });
}

/** What diagnose said, in one cell: "rule -> stage (pid)" or "none". */
export function got(st: ZooStatus, r: Report | null): string {
  if (!r) return 'no report';
  const v = r.verdicts[0];
  if (!v) return r.saturated ? 'none (saturated)' : 'none';
  const svc = r.services.find((s) => String(s.id) === String(v.service));
  const pids = svc?.pids ?? [Number(v.service)];
  const role = Object.entries(st.stages).find(([, p]) => p !== null && pids.includes(p))?.[0] ?? `${v.comm}(${v.service})`;
  return `${v.rule} -> ${role}`;
}

export const expectedCell = (st: ZooStatus) => (st.expected.kind ? `${st.expected.kind} -> ${st.expected.stage}` : 'none');

/** Why the report is wrong for the pipeline's ground truth, or null when it is right. */
export function judge(st: ZooStatus, r: Report | null): string | null {
  if (!r) return 'no JSON report';
  const v = r.verdicts[0];
  if (st.expected.kind === null) {
    if (v) return `expected no verdict, got ${v.rule} on ${v.comm} (${v.service})`;
    if (r.saturated) return 'expected saturated false';
    return null;
  }
  if (!v) return `expected ${st.expected.kind}, got no verdict: ${r.conclusion}`;
  // A wrong kind says why: the verdict's own evidence and the notes (time shares, host load).
  if (v.rule !== st.expected.kind) return `expected ${st.expected.kind}, got ${v.rule} on ${v.comm} (${v.service})\n    ${[...v.evidence, ...r.notes].join('\n    ')}`;
  const svc = r.services.find((s) => String(s.id) === String(v.service));
  if (!svc) return `verdict service ${v.service} is not among the services`;
  if (typeof st.expected.pid !== 'number' || !svc.pids.includes(st.expected.pid)) {
    return `${v.rule} names service ${v.service} (pids ${svc.pids.join(',')}), not ${st.expected.stage} (${st.expected.pid})`;
  }
  const want = PIPELINES.find((p) => p.name === st.pipeline)?.evidence;
  const shown = [...v.evidence, ...(v.where ?? []).map((w) => `${w.kind === 'cpu' ? 'CPU time' : `time blocked (${w.kind})`} in: ${w.frames.join(' < ')}`)].join('\n');
  if (want && !want.test(shown)) return `the evidence lacks ${want}:\n${shown}`;
  return null;
}
