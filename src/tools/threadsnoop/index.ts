// `bpfkit threadsnoop`: thread creation and exit with lifetimes, so short-lived threads show.
import type { ToolCommand, ToolContext } from '../../cli/command.js';
import { parseArgs, has, last, parseIntArg, type FlagSpec } from '../../cli/args.js';
import { badArgs } from '../../core/errors.js';
import { requireBpfPrivileges, requireProcess } from '../../core/privileges.js';
import { padL, padR } from '../../render/text.js';
import { LineBatcher, parseDuration, parseRingbufMb, streamUntilDone, monoToDate } from '../execsnoop/snoop.js';
import { openThreadsnoop, threadDecoder, type ThreadRecord } from './threadsnoop.js';

const HELP = `Usage: bpfkit threadsnoop [options]

Trace thread creation (clone with CLONE_THREAD, e.g. pthread_create) and thread exit, with each
thread's lifetime: a stream of short-lived threads, which thread dumps and top miss, shows up
line by line. Processes (fork) are not threads: see execsnoop and exitsnoop.
Hooks: tp_btf/sched_process_fork and tp_btf/sched_process_exit (in-kernel filters).

Options:
  -p PID            only threads of this process
  -n NAME           only processes whose name contains NAME
  --no-exits        report thread creation only
  -d DURATION       trace for DURATION seconds, then stop
  --ringbuf MB      ring buffer size in MiB, a power of two (default 8)
  --json            one JSON record per event (NDJSON), then a summary record
  --verbose         show which kernel hooks are used, and libbpf's log

Columns: TIME(ms) (since start) EVENT (NEW or EXIT) PID TID PTID (creating thread, NEW only)
COMM LIFE(ms) (EXIT only: creation to exit). BCC's threadsnoop (uprobe on pthread_create)
prints TIME(ms) TID COMM FUNC; the start function is not known in the kernel and is not shown.

Examples:
  bpfkit threadsnoop -p 1234       # threads of PID 1234 coming and going
  bpfkit threadsnoop --no-exits    # creations only, system-wide
`;

const FLAGS: FlagSpec[] = [
  { key: 'pid', short: 'p', long: 'pid', value: true },
  { key: 'name', short: 'n', long: 'name', value: true },
  { key: 'noexits', long: 'no-exits' },
  { key: 'duration', short: 'd', long: 'duration', value: true },
  { key: 'ringbuf', long: 'ringbuf', value: true },
  { key: 'json', long: 'json' },
];

export interface ThreadsnoopOptions {
  tgid?: number;
  name?: string;
  exits: boolean;
  durationS?: number;
  ringbufMb: number;
  json: boolean;
}

export function parseThreadsnoopArgs(argv: string[]): ThreadsnoopOptions {
  const a = parseArgs(argv, FLAGS);
  if (a.positionals.length) throw badArgs(`unexpected argument '${a.positionals[0]}' (see --help)`);
  const pid = last(a, 'pid');
  return {
    tgid: pid !== undefined ? parseIntArg(pid, '-p PID', 1, 4194304) : undefined,
    name: last(a, 'name'),
    exits: !has(a, 'noexits'),
    durationS: parseDuration(last(a, 'duration')),
    ringbufMb: parseRingbufMb(last(a, 'ringbuf')),
    json: has(a, 'json'),
  };
}

export const threadHeader = (): string =>
  `${padR('TIME(ms)', 10)} ${padR('EVENT', 5)} ${padR('PID', 7)} ${padR('TID', 7)} ${padR('PTID', 7)} ${padR('COMM', 16)} ${padL('LIFE(ms)', 10)}\n`;

export function threadLine(r: ThreadRecord, startNs: bigint): string {
  const t = Math.max(0, Number(r.tsNs - startNs) / 1e6);
  const life = r.event === 'EXIT' ? (r.lifetimeNs / 1e6).toFixed(3) : '';
  const ptid = r.event === 'NEW' ? String(r.ptid) : '';
  return `${padR(t.toFixed(0), 10)} ${padR(r.event, 5)} ${padR(r.pid, 7)} ${padR(r.tid, 7)} ${padR(ptid, 7)} ${padR(r.comm, 16)} ${padL(life, 10)}\n`;
}

export function threadJson(r: ThreadRecord): string {
  return JSON.stringify({
    time: monoToDate(r.tsNs).toISOString(),
    event: r.event === 'NEW' ? 'new' : 'exit',
    pid: r.pid, tid: r.tid, comm: r.comm,
    ...(r.event === 'NEW' ? { ptid: r.ptid } : { lifetime_ms: Math.round(r.lifetimeNs / 1e3) / 1e3, exit_code: r.exitCode }),
  }) + '\n';
}

export const command: ToolCommand = {
  name: 'threadsnoop',
  summary: 'trace thread creation and exit, with thread lifetimes',
  help: HELP,
  async run(argv: string[], ctx: ToolContext): Promise<void> {
    const opts = parseThreadsnoopArgs(argv);
    if (opts.tgid !== undefined) requireProcess(opts.tgid);
    requireBpfPrivileges();
    const session = openThreadsnoop({ tgid: opts.tgid, exits: opts.exits }, opts.ringbufMb * 1048576);
    try {
      const decode = threadDecoder(session);
      const out = new LineBatcher(ctx.out);
      const startNs = process.hrtime.bigint();
      if (!opts.json) out.push(threadHeader());
      session.start((b) => {
        const r = decode(b);
        if (opts.name !== undefined && !r.comm.includes(opts.name)) return;
        out.push(opts.json ? threadJson(r) : threadLine(r, startNs));
      });
      ctx.ready();
      await streamUntilDone(session, out, opts, ctx.signal);
    } finally {
      session.close();
    }
  },
};
