// `bpfkit diagnose`: watch the host for a few seconds and name the bottleneck with evidence.
import { COMMON, type ParsedArgs } from '../../toolkit/flags.js';
import { defineTool, type Common } from '../../toolkit/runner.js';
import { padL, padR, safe } from '../../render/text.js';
import { analyze, fmtRate, type Report, type Service } from './analyze.js';
import { DiagnoseSession } from './collect.js';
import { TimelineSession, writeTimeline, MAX_EVENTS } from './timeline.js';
import { badArgs } from '../../core/errors.js';

/** How long diagnose observes without -d. */
export const DEFAULT_DURATION_S = 10;

const FLAGS = [
  { ...COMMON.duration, help: `how long to observe (default ${DEFAULT_DURATION_S} s; or 500ms, 2m, 1h)` },
  { ...COMMON.pids, help: 'only these processes and their pipeline (local TCP peers)' },
  COMMON.cgroup,
  COMMON.container,
  { ...COMMON.json, help: 'the report as one JSON object' },
  { key: 'timeline', long: 'timeline', arg: 'FILE', help: 'also write a Chrome trace (Perfetto, chrome://tracing) of every thread\'s running, runnable and blocked time and the TCP messages between processes to FILE' },
];

export interface DiagnoseOptions {
  durationS: number;
  pids?: number[];
  json: boolean;
  /** --timeline FILE */
  timeline?: string;
}

export function parseDiagnoseOptions(a: ParsedArgs, c: Common): DiagnoseOptions {
  // The runner's -d deadline ends the observation; without -d, the default window.
  c.durationS ??= DEFAULT_DURATION_S;
  const timeline = a.get('timeline');
  if (timeline === '') throw badArgs('--timeline: empty file name');
  return { durationS: c.durationS, pids: c.pids, json: c.json, ...(timeline !== undefined ? { timeline } : {}) };
}

export const command = defineTool<DiagnoseOptions>({
  name: 'diagnose',
  summary: 'watch a pipeline for seconds and name its bottleneck, with evidence',
  about: `Watch the whole host (or the given processes and their TCP peers) for a few seconds with
the tools' kernel programs loaded together, then report:
  - the flow graph: services (a container, or a process with its same-named children;
    processes that exchange data are never one service), TCP flows between them with bytes/s
    and messages/s each way, and traffic to remote peers;
  - where each service spends its time: on CPU, waiting for a CPU, blocked in syscalls by
    kind (waiting for input, timed sleeps, reads, writes, disk sync, locks), block I/O;
  - the likely bottlenecks, ranked, one per service, from a table of rules: cpu-saturated,
    cpu-throttled, runqueue-saturated, host-cpu-saturated, disk-bound, lock-contention,
    backpressure, slow-dependency, pull-limited consumer; each with a confidence, its
    evidence, the top user stacks of where it waits or burns CPU, and the next command.
Verdicts come from general rules about saturation and backlog, never from program names;
the thresholds and their reasons are in docs/tools/diagnose.md.
Ctrl-C (or the exit of every process given with -p) reports on what was observed so far.`,
  flags: FLAGS,
  more: `Examples:
  bpfkit diagnose                   # the whole host, 10 s
  bpfkit diagnose -d 30s -p 1234    # process 1234 and its TCP pipeline, 30 s
  bpfkit diagnose -d 5 --json       # the report as JSON
  bpfkit diagnose --timeline t.json # also a trace of every thread for Perfetto`,
  // Reading thousands of threads' counters, symbolizing stacks and writing a timeline take a moment.
  stopGraceS: 10,
  parse: parseDiagnoseOptions,
  outputPaths: (o) => ({ '--timeline': o.timeline }),
  async run(opts, rt) {
    const session = rt.use(DiagnoseSession.start());
    const timeline = opts.timeline !== undefined
      ? rt.use(TimelineSession.start({ onTruncate: () => rt.notice(`--timeline: ${MAX_EVENTS} slices and messages recorded: the timeline stops here (the report covers the whole window)`) }))
      : undefined;
    rt.ready();
    if (!opts.json) rt.write(`Observing the host for ${opts.durationS} s... (Ctrl-C to report early)\n`);
    await rt.until();
    const recorded = timeline?.stop();
    const snap = session.snapshot();
    const report = analyze(snap, { pids: opts.pids });
    rt.write(opts.json ? JSON.stringify(report) + '\n' : renderReport(report));
    if (recorded && opts.timeline !== undefined) {
      // -p: the processes of the report's services (the given ones and their pipeline)
      const pids = opts.pids ? new Set([...opts.pids, ...report.services.flatMap((s) => s.pids)]) : undefined;
      const names = new Map([...snap.procs].map(([pid, p]) => [pid, p.comm]));
      const w = writeTimeline(opts.timeline, recorded, { pids, names });
      rt.notice(`wrote ${opts.timeline}: ${w.events} trace events (${w.flows} TCP flows), ${(w.bytes / 1048576).toFixed(1)} MB${recorded.truncated ? ', cut short at the event cap' : ''}`);
    }
  },
});

const pctCell = (x: number) => padL((x * 100).toFixed(0), 5);
const confidenceWord = (c: number) => (c >= 0.75 ? 'high' : c >= 0.5 ? 'medium' : 'low');

/** A service's processes for the table: the first few pids and how many more. */
function pidList(s: Service): string {
  const shown = s.pids.slice(0, 3).join(',');
  return s.pids.length > 3 ? `${shown},+${s.pids.length - 3}` : shown;
}

export function renderReport(r: Report): string {
  // A container is named as its runtime names it (or by its short id), a process group by its comm.
  const name = new Map<number | string, string>(r.services.map((s) => [s.id, `${safe(s.containerName ?? s.comm)}(${s.id})`]));
  const nm = (x: number | string) => name.get(x) ?? safe(String(x));
  const out: string[] = [];
  out.push(`\nObserved ${r.windowS.toFixed(1)} s: ${r.services.length} services (${r.services.reduce((n, s) => n + s.pids.length, 0)} processes), ${r.edges.length} TCP flows.\n`);

  out.push('TCP flows (bytes/s and messages/s):');
  if (r.edges.length === 0) out.push('  (none)');
  const w = Math.max(10, ...r.edges.flatMap((e) => [nm(e.from).length, nm(e.to).length]));
  for (const e of r.edges.slice(0, 30)) {
    out.push(`  ${padR(nm(e.from), w)} -> ${padR(nm(e.to), w)} ${padL(fmtRate(e.bytesPerS), 12)} ${padL(e.msgsPerS.toFixed(0), 7)} msg/s`);
  }

  out.push('\nWhere the time goes (share of thread time; CPU in cores; PIDS: the processes of each service):');
  out.push(`  ${padR('PID', 7)} ${padR('COMM', 15)} ${padL('THR', 4)} ${padL('CORES', 6)} ${padL('CPU%', 5)} ${padL('RUNQ%', 5)} ${padL('INPUT', 5)} ${padL('SLEEP', 5)} ${padL('READ', 5)} ${padL('WRITE', 5)} ${padL('SYNC', 5)} ${padL('LOCK', 5)} ${padL('OTHER', 5)} ${padL('IN/s', 10)} ${padL('OUT/s', 10)}  ${padR('PIDS', 14)} COMMAND`);
  const shown = r.services.filter((s: Service) => s.cpuCores > 0.005 || s.inBytesPerS > 0 || s.outBytesPerS > 0).slice(0, 25);
  for (const s of shown) {
    const wt = s.share.wait;
    const pids = s.container ? `container ${safe(s.containerName ?? s.container)}: ${pidList(s)}` : pidList(s);
    out.push(`  ${padR(s.id, 7)} ${padR(safe(s.comm.slice(0, 15)), 15)} ${padL(s.threads, 4)} ${padL(s.cpuCores.toFixed(2), 6)} ${pctCell(s.share.cpu)} ${pctCell(s.share.runq)} ${pctCell(wt.input)} ${pctCell(s.sleepShare)} ${pctCell(wt.read)} ${pctCell(wt.write)} ${pctCell(wt.sync)} ${pctCell(wt.lock)} ${pctCell(wt.other)} ${padL(fmtRate(s.inBytesPerS), 10)} ${padL(fmtRate(s.outBytesPerS), 10)}  ${padR(pids, 14)} ${safe(s.cmdline.slice(0, 48))}`);
  }

  out.push(`\nVerdict: ${safe(r.conclusion)}`);
  r.verdicts.slice(0, 5).forEach((v, i) => {
    out.push(`  ${i + 1}. ${safe(v.summary)}  [${v.rule}, confidence ${confidenceWord(v.confidence)}, score ${v.score.toFixed(1)}]`);
    for (const e of v.evidence) out.push(`     - ${safe(e)}`);
    for (const where of v.where ?? []) {
      out.push(`     - ${pctCell(where.share).trim()}% of its ${where.kind === 'cpu' ? 'CPU time' : `time blocked (${where.kind})`} in: ${safe(where.frames.slice(0, 6).join(' < '))}`);
    }
    out.push(`     next: ${safe(v.next.join('   |   '))}`);
  });
  if (r.notes.length) {
    out.push('\nNotes:');
    for (const n of r.notes) out.push(`  - ${safe(n)}`);
  }
  return out.join('\n') + '\n';
}
