// `bpfkit exitsnoop`: process exits with age and exit code or signal (BCC's columns).
import { COMMON } from '../../toolkit/flags.js';
import { defineTool } from '../../toolkit/runner.js';
import { streamEvents } from '../../toolkit/stream.js';
import { clockTime, monoToDate } from '../../core/clock.js';
import { padL, padR } from '../../render/text.js';
import { decodeExitCode, exitCodeText, exitDecoder, openExitsnoop, type ExitRecord, type ExitsnoopFilters } from './exitsnoop.js';

export interface ExitsnoopOptions {
  filters: ExitsnoopFilters;
  time: boolean;
  name?: string;
  bufferMb: number;
}

export const exitHeader = (o: Pick<ExitsnoopOptions, 'time'>): string =>
  `${o.time ? padR('TIME', 9) : ''}${padR('PCOMM', 16)} ${padR('PID', 7)} ${padR('PPID', 7)} ${padR('TID', 7)} ${padL('AGE(s)', 7)} EXIT_CODE\n`;

export function exitLine(r: ExitRecord, o: Pick<ExitsnoopOptions, 'time'>): string {
  return `${o.time ? padR(clockTime(monoToDate(r.tsNs)), 9) : ''}${padR(r.comm, 16)} ${padR(r.pid, 7)} ${padR(r.ppid, 7)} ${padR(r.tid, 7)} ${padL((r.ageNs / 1e9).toFixed(2), 7)} ${exitCodeText(r.exitCode)}\n`;
}

/**
 * JSON keys are the column names (lower case: AGE(s) -> age_s; EXIT_CODE -> exit_code, the code
 * or null when a signal ended it), plus signal, core_dumped and the kernel's raw_exit_code.
 */
export function exitJson(r: ExitRecord): string {
  const d = decodeExitCode(r.exitCode);
  return JSON.stringify({
    time: monoToDate(r.tsNs).toISOString(),
    pcomm: r.comm, pid: r.pid, ppid: r.ppid, tid: r.tid,
    age_s: Math.round(r.ageNs / 1e6) / 1e3,
    exit_code: d.code ?? null,
    signal: d.signalName ?? null,
    core_dumped: d.coreDumped,
    raw_exit_code: r.exitCode,
  }) + '\n';
}

export const command = defineTool<ExitsnoopOptions>({
  name: 'exitsnoop',
  summary: 'trace process exits with age and exit code or signal',
  about: `Trace process exits: who exited, how old it was and how it ended (exit code, or the signal
that killed it). Short-lived processes show up even if nobody saw them start.
Hook: tp_btf/sched_process_exit (in-kernel filters).`,
  flags: [
    { ...COMMON.pid, help: 'only this process (stops when it has exited)' },
    { key: 'failed', short: 'x', long: 'failed', help: 'only failed exits (non-zero code, or killed by a signal)' },
    { key: 'perthread', long: 'per-thread', help: 'one line per exiting thread, not per process' },
    { key: 'time', short: 't', long: 'timestamp', help: 'include a time column (HH:MM:SS)' },
    COMMON.name,
    COMMON.duration,
    COMMON.bufferMb,
    COMMON.cgroup,
    COMMON.container,
    COMMON.containers,
    COMMON.json,
  ],
  more: `Columns: PCOMM PID PPID TID AGE(s) EXIT_CODE. A process is reported when its main thread
(PID == TID) exits; AGE is measured from the start of that thread's process.

Examples:
  bpfkit exitsnoop -x        # processes that failed or were killed
  bpfkit exitsnoop -t -p 42  # when PID 42 exits, and how`,
  parse(a, c) {
    return {
      filters: { tgid: c.pid, perThread: a.has('perthread'), failedOnly: a.has('failed') },
      time: a.has('time'),
      name: c.name,
      bufferMb: c.bufferMb,
    };
  },
  async run(o, rt) {
    const source = rt.use(openExitsnoop(o.filters, o.bufferMb));
    const decode = exitDecoder(source);
    const wanted = (r: ExitRecord) => o.name === undefined || r.comm.includes(o.name);
    if (!rt.json) rt.write(rt.containerHeader(exitHeader(o)));
    await streamEvents(rt, source, {
      decode,
      pid: (r) => r.pid,
      cgroupId: (r) => r.cgroupId,
      text: (r) => (wanted(r) ? exitLine(r, o) : undefined),
      json: (r) => (wanted(r) ? exitJson(r) : undefined),
    });
  },
});
