// `bpfkit exitsnoop`: process exits with age and exit code or signal (BCC's columns).
import type { ToolCommand, ToolContext } from '../../cli/command.js';
import { parseArgs, has, last, parseIntArg, type FlagSpec } from '../../cli/args.js';
import { badArgs } from '../../core/errors.js';
import { requireBpfPrivileges, requireProcess } from '../../core/privileges.js';
import { padL, padR } from '../../render/text.js';
import { LineBatcher, parseDuration, parseRingbufMb, streamUntilDone, monoToDate, hms } from '../execsnoop/snoop.js';
import { decodeExitCode, exitCodeText, exitDecoder, openExitsnoop, type ExitRecord } from './exitsnoop.js';

const HELP = `Usage: bpfkit exitsnoop [options]

Trace process exits: who exited, how old it was and how it ended (exit code, or the signal
that killed it). Short-lived processes show up even if nobody saw them start.
Hook: tp_btf/sched_process_exit (in-kernel filters).

Options:
  -p PID            only this process
  -x                only failed exits (non-zero code, or killed by a signal)
  --per-thread      one line per exiting thread, not per process
  -t                include a time column (HH:MM:SS)
  -n NAME           only processes whose name contains NAME
  -d DURATION       trace for DURATION seconds, then stop
  --ringbuf MB      ring buffer size in MiB, a power of two (default 8)
  --json            one JSON record per exit (NDJSON), then a summary record
  --verbose         show which kernel hooks are used, and libbpf's log

Columns: PCOMM PID PPID TID AGE(s) EXIT_CODE. A process is reported when its main thread
(PID == TID) exits; AGE is measured from the start of that thread's process.

Examples:
  bpfkit exitsnoop -x        # processes that failed or were killed
  bpfkit exitsnoop -t -p 42  # when PID 42 exits, and how
`;

const FLAGS: FlagSpec[] = [
  { key: 'pid', short: 'p', long: 'pid', value: true },
  { key: 'failed', short: 'x', long: 'failed' },
  { key: 'perthread', long: 'per-thread' },
  { key: 'time', short: 't', long: 'timestamp' },
  { key: 'name', short: 'n', long: 'name', value: true },
  { key: 'duration', short: 'd', long: 'duration', value: true },
  { key: 'ringbuf', long: 'ringbuf', value: true },
  { key: 'json', long: 'json' },
];

export interface ExitsnoopOptions {
  tgid?: number;
  failedOnly: boolean;
  perThread: boolean;
  time: boolean;
  name?: string;
  durationS?: number;
  ringbufMb: number;
  json: boolean;
}

export function parseExitsnoopArgs(argv: string[]): ExitsnoopOptions {
  const a = parseArgs(argv, FLAGS);
  if (a.positionals.length) throw badArgs(`unexpected argument '${a.positionals[0]}' (see --help)`);
  const pid = last(a, 'pid');
  return {
    tgid: pid !== undefined ? parseIntArg(pid, '-p PID', 1, 4194304) : undefined,
    failedOnly: has(a, 'failed'),
    perThread: has(a, 'perthread'),
    time: has(a, 'time'),
    name: last(a, 'name'),
    durationS: parseDuration(last(a, 'duration')),
    ringbufMb: parseRingbufMb(last(a, 'ringbuf')),
    json: has(a, 'json'),
  };
}

export const exitHeader = (o: ExitsnoopOptions): string =>
  `${o.time ? padR('TIME', 9) : ''}${padR('PCOMM', 16)} ${padR('PID', 7)} ${padR('PPID', 7)} ${padR('TID', 7)} ${padL('AGE(s)', 7)} EXIT_CODE\n`;

export function exitLine(r: ExitRecord, o: ExitsnoopOptions): string {
  return `${o.time ? padR(hms(monoToDate(r.tsNs)), 9) : ''}${padR(r.comm, 16)} ${padR(r.pid, 7)} ${padR(r.ppid, 7)} ${padR(r.tid, 7)} ${padL((r.ageNs / 1e9).toFixed(2), 7)} ${exitCodeText(r.exitCode)}\n`;
}

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

export const command: ToolCommand = {
  name: 'exitsnoop',
  summary: 'trace process exits with age and exit code or signal',
  help: HELP,
  async run(argv: string[], ctx: ToolContext): Promise<void> {
    const opts = parseExitsnoopArgs(argv);
    if (opts.tgid !== undefined) requireProcess(opts.tgid);
    requireBpfPrivileges();
    const session = openExitsnoop({ tgid: opts.tgid, perThread: opts.perThread, failedOnly: opts.failedOnly }, opts.ringbufMb * 1048576);
    try {
      const decode = exitDecoder(session);
      const out = new LineBatcher(ctx.out);
      if (!opts.json) out.push(exitHeader(opts));
      session.start((b) => {
        const r = decode(b);
        if (opts.name !== undefined && !r.comm.includes(opts.name)) return;
        out.push(opts.json ? exitJson(r) : exitLine(r, opts));
      });
      ctx.ready();
      await streamUntilDone(session, out, opts, ctx.signal);
    } finally {
      session.close();
    }
  },
};
