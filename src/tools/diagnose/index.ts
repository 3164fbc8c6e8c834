// `bpfkit diagnose`: watch the host for a few seconds and name the bottleneck with evidence.
import type { ToolCommand, ToolContext } from '../../cli/command.js';
import { parseArgs, has, last, parsePositive, parsePids, type FlagSpec } from '../../cli/args.js';
import { sleepOrAbort } from '../../cli/runtime.js';
import { badArgs } from '../../core/errors.js';
import { requireBpfPrivileges, requireProcess } from '../../core/privileges.js';
import { padL, padR } from '../../render/text.js';
import { analyze, fmtRate, type Report, type Service } from './analyze.js';
import { DiagnoseSession } from './collect.js';

const HELP = `Usage: bpfkit diagnose [-d SECONDS] [-p PID,...] [--json]

Watch the whole host (or the given processes and their TCP peers) for a few seconds with
the tools' kernel programs loaded together, then report:
  - the flow graph: processes, TCP flows between local processes with bytes/s and
    messages/s each way, and traffic to remote peers;
  - where each process spends its time: on CPU, waiting for a CPU, blocked in syscalls by
    kind (waiting for input, timed sleeps, reads, writes, disk sync, locks), block I/O;
  - the likely bottleneck stages, ranked, with the evidence and the next command to run.
Verdicts come from general rules about saturation and backlog, never from program names.

Options:
  -d SECONDS     how long to observe (default 10)
  -p PID,...     report on these processes and the local processes connected to them
                 through TCP (their pipeline) only
  --json         the report as one JSON object
  --verbose      kernel hooks used, libbpf's log
`;

const FLAGS: FlagSpec[] = [
  { key: 'duration', short: 'd', long: 'duration', value: true },
  { key: 'pid', short: 'p', long: 'pid', value: true },
  { key: 'json', long: 'json' },
];

export const command: ToolCommand = {
  name: 'diagnose',
  summary: 'watch a pipeline for seconds and name its bottleneck, with evidence',
  help: HELP,
  async run(argv: string[], ctx: ToolContext): Promise<void> {
    const a = parseArgs(argv, FLAGS);
    if (a.positionals.length) throw badArgs(`unexpected argument '${a.positionals[0]}' (see --help)`);
    const d = last(a, 'duration');
    const seconds = d !== undefined ? parsePositive(d, '-d SECONDS') : 10;
    const p = last(a, 'pid');
    const pids = p !== undefined ? parsePids(p) : undefined;
    for (const pid of pids ?? []) requireProcess(pid);
    requireBpfPrivileges();
    const session = DiagnoseSession.start();
    try {
      ctx.ready();
      if (!has(a, 'json')) ctx.out(`Observing the host for ${seconds} s... (Ctrl-C to report early)\n`);
      await sleepOrAbort(seconds * 1000, ctx.signal);
      const report = analyze(session.snapshot(), { pids });
      ctx.out(has(a, 'json') ? JSON.stringify(report) + '\n' : renderReport(report));
    } finally {
      session.close();
    }
  },
};

const pctCell = (x: number) => padL((x * 100).toFixed(0), 5);

export function renderReport(r: Report): string {
  const name = new Map<number | string, string>(r.services.map((s) => [s.id, `${s.comm}(${s.id})`]));
  const nm = (x: number | string) => name.get(x) ?? String(x);
  const out: string[] = [];
  out.push(`\nObserved ${r.windowS.toFixed(1)} s: ${r.services.length} processes, ${r.edges.length} TCP flows.\n`);

  out.push('TCP flows (bytes/s and messages/s):');
  if (r.edges.length === 0) out.push('  (none)');
  const w = Math.max(10, ...r.edges.flatMap((e) => [nm(e.from).length, nm(e.to).length]));
  for (const e of r.edges.slice(0, 30)) {
    out.push(`  ${padR(nm(e.from), w)} -> ${padR(nm(e.to), w)} ${padL(fmtRate(e.bytesPerS), 12)} ${padL(e.msgsPerS.toFixed(0), 7)} msg/s`);
  }

  out.push('\nWhere the time goes (share of thread time; CPU in cores):');
  out.push(`  ${padR('PID', 7)} ${padR('COMM', 15)} ${padL('THR', 4)} ${padL('CORES', 6)} ${padL('CPU%', 5)} ${padL('RUNQ%', 5)} ${padL('INPUT', 5)} ${padL('SLEEP', 5)} ${padL('READ', 5)} ${padL('WRITE', 5)} ${padL('SYNC', 5)} ${padL('LOCK', 5)} ${padL('OTHER', 5)} ${padL('IN/s', 10)} ${padL('OUT/s', 10)}`);
  const shown = r.services.filter((s: Service) => s.cpuCores > 0.005 || s.inBytesPerS > 0 || s.outBytesPerS > 0).slice(0, 25);
  for (const s of shown) {
    const wt = s.share.wait;
    out.push(`  ${padR(s.id, 7)} ${padR(s.comm.slice(0, 15), 15)} ${padL(s.threads, 4)} ${padL(s.cpuCores.toFixed(2), 6)} ${pctCell(s.share.cpu)} ${pctCell(s.share.runq)} ${pctCell(wt.input)} ${pctCell(s.sleepShare)} ${pctCell(wt.read)} ${pctCell(wt.write)} ${pctCell(wt.sync)} ${pctCell(wt.lock)} ${pctCell(wt.other)} ${padL(fmtRate(s.inBytesPerS), 10)} ${padL(fmtRate(s.outBytesPerS), 10)}`);
  }

  out.push(`\nVerdict: ${r.conclusion}`);
  r.verdicts.slice(0, 5).forEach((v, i) => {
    out.push(`  ${i + 1}. ${v.summary}  [${v.rule}, score ${v.score.toFixed(1)}]`);
    for (const e of v.evidence) out.push(`     - ${e}`);
    out.push(`     next: ${v.next.join('   |   ')}`);
  });
  if (r.notes.length) {
    out.push('\nNotes:');
    for (const n of r.notes) out.push(`  - ${n}`);
  }
  return out.join('\n') + '\n';
}
