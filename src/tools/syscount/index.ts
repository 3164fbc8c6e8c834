// `bpfkit syscount`: syscall counts and latencies, by syscall or by process (BCC's flags).
import type { ToolCommand, ToolContext } from '../../cli/command.js';
import { parseArgs, has, last, parseIntArg, parsePositive, type FlagSpec } from '../../cli/args.js';
import { clockTime, runIntervals } from '../../cli/runtime.js';
import { badArgs } from '../../core/errors.js';
import { requireBpfPrivileges, requireProcess } from '../../core/privileges.js';
import { allSyscalls, errnoNumber, suggestSyscalls, syscallName, syscallNumber } from '../../core/syscalls/index.js';
import { padL, padR } from '../../render/text.js';
import { SyscountSession, type ProcessRow, type SyscallRow, type SyscountFilters } from './syscount.js';

const HELP = `Usage: bpfkit syscount [options]

Summarize syscall counts and latencies, by syscall or by process. Counting and filtering
happen in the kernel (raw_syscalls tracepoints); prints on Ctrl-C unless -i or -d is given.

Options:
  -p PID            trace only this process
  -t TID            trace only this thread
  -c CGROUP_PATH    trace only this cgroup (v2 directory, e.g. /sys/fs/cgroup/unified/...)
  -i INTERVAL       print every INTERVAL seconds
  -d DURATION       total duration of the trace, in seconds
  -T TOP            print only the top TOP rows (default 10)
  -x                count failed syscalls only
  -e ERRNO          count only syscalls failing with this errno (name like ENOENT, or number)
  -L                measure syscall latency (time spent inside the syscall)
  -m                show latency in milliseconds (default microseconds)
  -P                count by process, not by syscall
  -l                list the syscalls this tool knows and exit
  --syscall NAMES   count only these syscalls (comma-separated names)
  --json            one JSON record per interval (NDJSON)
  --verbose         show which kernel hooks are used, and libbpf's log

Examples:
  bpfkit syscount -LP               # latency by process, print on Ctrl-C
  bpfkit syscount -L -i 1 -p 1234   # latency by syscall of PID 1234, every second
  bpfkit syscount -x -e ENOENT      # who fails with ENOENT?
`;

const FLAGS: FlagSpec[] = [
  { key: 'pid', short: 'p', long: 'pid', value: true },
  { key: 'tid', short: 't', long: 'tid', value: true },
  { key: 'cgroup', short: 'c', long: 'cgroup', value: true },
  { key: 'interval', short: 'i', long: 'interval', value: true },
  { key: 'duration', short: 'd', long: 'duration', value: true },
  { key: 'top', short: 'T', long: 'top', value: true },
  { key: 'failures', short: 'x', long: 'failures' },
  { key: 'errno', short: 'e', long: 'errno', value: true },
  { key: 'latency', short: 'L', long: 'latency' },
  { key: 'ms', short: 'm', long: 'milliseconds' },
  { key: 'process', short: 'P', long: 'process' },
  { key: 'list', short: 'l', long: 'list' },
  { key: 'syscall', long: 'syscall', value: true },
  { key: 'json', long: 'json' },
];

export interface SyscountOptions {
  filters: SyscountFilters;
  intervalS?: number;
  durationS?: number;
  top: number;
  ms: boolean;
  json: boolean;
  list: boolean;
}

export function parseSyscountArgs(argv: string[]): SyscountOptions {
  const a = parseArgs(argv, FLAGS);
  if (a.positionals.length) throw badArgs(`unexpected argument '${a.positionals[0]}' (see --help)`);
  const filters: SyscountFilters = {
    failuresOnly: has(a, 'failures'),
    byProcess: has(a, 'process'),
    latency: has(a, 'latency'),
  };
  const pid = last(a, 'pid');
  if (pid !== undefined) filters.tgid = parseIntArg(pid, '-p PID', 1, 4194304);
  const tid = last(a, 'tid');
  if (tid !== undefined) filters.tid = parseIntArg(tid, '-t TID', 1, 4194304);
  filters.cgroupPath = last(a, 'cgroup');
  const e = last(a, 'errno');
  if (e !== undefined) {
    const n = /^\d+$/.test(e) ? Number(e) : errnoNumber(e.toUpperCase());
    if (n === undefined || n <= 0 || n > 4095) throw badArgs(`-e: unknown errno '${e}' (use a name like ENOENT or a number)`);
    filters.errno = n;
  }
  const names = last(a, 'syscall');
  if (names !== undefined) {
    filters.syscalls = names.split(',').filter(Boolean).map((name) => {
      const nr = syscallNumber(name);
      if (nr === undefined) {
        const close = suggestSyscalls(name);
        throw badArgs(`unknown syscall '${name}'${close.length ? ` (did you mean ${close.join(', ')}?)` : ''}`);
      }
      return nr;
    });
    if (filters.syscalls.length === 0) throw badArgs('--syscall: no syscall names given');
  }
  const interval = last(a, 'interval');
  const duration = last(a, 'duration');
  const top = last(a, 'top');
  return {
    filters,
    intervalS: interval !== undefined ? parsePositive(interval, '-i INTERVAL') : undefined,
    durationS: duration !== undefined ? parsePositive(duration, '-d DURATION') : undefined,
    top: top !== undefined ? parseIntArg(top, '-T TOP', 1) : 10,
    ms: has(a, 'ms'),
    json: has(a, 'json'),
    list: has(a, 'list'),
  };
}

export const command: ToolCommand = {
  name: 'syscount',
  summary: 'count syscalls and their latency, by syscall or by process',
  help: HELP,
  async run(argv: string[], ctx: ToolContext): Promise<void> {
    const opts = parseSyscountArgs(argv);
    if (opts.list) {
      for (const { nr, name } of allSyscalls()) ctx.out(`${padL(nr, 4)} ${name}\n`);
      return;
    }
    if (opts.filters.tgid !== undefined) requireProcess(opts.filters.tgid);
    if (opts.filters.tid !== undefined) requireProcess(opts.filters.tid, 'thread');
    requireBpfPrivileges();
    const session = SyscountSession.start(opts.filters);
    try {
      ctx.ready();
      if (!opts.json) {
        const what = opts.filters.failuresOnly || opts.filters.errno ? 'failed syscalls' : 'syscalls';
        ctx.out(`Tracing ${what}, printing top ${opts.top}... Ctrl+C to quit.\n`);
      }
      let lastTime = Date.now();
      await runIntervals({ intervalS: opts.intervalS, durationS: opts.durationS }, ctx.signal, () => {
        const now = Date.now();
        const rows = opts.filters.byProcess ? session.processDeltas() : session.syscallDeltas();
        ctx.out(opts.json ? renderJson(rows, opts, (now - lastTime) / 1000) : renderText(rows, opts));
        lastTime = now;
      });
    } finally {
      session.close();
    }
  },
};

type Row = SyscallRow | ProcessRow;
const isProc = (r: Row): r is ProcessRow => 'pid' in r;

function sortRows(rows: Row[], opts: SyscountOptions): Row[] {
  const key = opts.filters.latency ? (r: Row) => r.totalNs : (r: Row) => r.count;
  return [...rows].sort((x, y) => key(y) - key(x) || y.count - x.count).slice(0, opts.top);
}

export function renderText(rows: Row[], opts: SyscountOptions): string {
  const lines = [`[${clockTime()}]`];
  const agg = opts.filters.byProcess ? 'PID    COMM' : 'SYSCALL';
  const unit = opts.ms ? 1e6 : 1e3;
  if (opts.filters.latency) lines.push(`${padR(agg, 22)} ${padL('COUNT', 8)} ${padL(opts.ms ? 'TIME (ms)' : 'TIME (us)', 16)}`);
  else lines.push(`${padR(agg, 22)} ${padL('COUNT', 8)}`);
  for (const r of sortRows(rows, opts)) {
    const label = isProc(r) ? `${padR(r.pid, 6)} ${padR(r.comm, 15)}` : syscallName(r.nr);
    let line = `${padR(label, 22)} ${padL(r.count, 8)}`;
    if (opts.filters.latency) line += ` ${padL((r.totalNs / unit).toFixed(opts.ms ? 6 : 3), 16)}`;
    lines.push(line);
  }
  return lines.join('\n') + '\n\n';
}

export function renderJson(rows: Row[], opts: SyscountOptions, intervalS: number): string {
  const out = sortRows(rows, opts).map((r) => ({
    ...(isProc(r) ? { pid: r.pid, comm: r.comm } : { syscall: syscallName(r.nr), nr: r.nr }),
    count: r.count,
    ...(opts.filters.latency ? { total_us: Math.round(r.totalNs / 1e3 * 1000) / 1000 } : {}),
  }));
  return JSON.stringify({ time: new Date().toISOString(), interval_s: Math.round(intervalS * 1000) / 1000, by: opts.filters.byProcess ? 'process' : 'syscall', rows: out }) + '\n';
}
