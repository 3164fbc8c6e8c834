// `bpfkit syscount`: syscall counts and latencies, by syscall or by process (BCC's flags).
import { COMMON, parseIntArg, type ParsedArgs } from '../../toolkit/flags.js';
import { defineTool, type Common } from '../../toolkit/runner.js';
import { badArgs } from '../../core/errors.js';
import { clockTime } from '../../core/clock.js';
import { allSyscalls, errnoNumber, suggestSyscalls, syscallName, syscallNumber } from '../../core/syscalls/index.js';
import { padL, padR, safe } from '../../render/text.js';
import type { ContainerView } from '../../toolkit/containers.js';
import { SyscountSession, type ProcessRow, type SyscallRow, type SyscountFilters } from './syscount.js';

const FLAGS = [
  COMMON.pid,
  COMMON.tid,
  COMMON.cgroup,
  COMMON.container,
  COMMON.containers,
  COMMON.interval,
  COMMON.duration,
  { key: 'top', short: 'T', long: 'top', arg: 'TOP', help: 'print only the top TOP rows (default 10)' },
  { key: 'failures', short: 'x', long: 'failures', help: 'count failed syscalls only' },
  { key: 'errno', short: 'e', long: 'errno', arg: 'ERRNO', help: 'count only syscalls failing with this errno (name like ENOENT, or number)' },
  { key: 'latency', short: 'L', long: 'latency', help: 'measure syscall latency (time spent inside the syscall)' },
  { key: 'ms', short: 'm', long: 'milliseconds', help: 'show latency in milliseconds (default microseconds)' },
  { key: 'process', short: 'P', long: 'process', help: 'count by process, not by syscall' },
  { key: 'list', short: 'l', long: 'list', help: 'list the syscalls this tool knows and exit' },
  { key: 'syscall', long: 'syscall', arg: 'NAMES', help: 'count only these syscalls (comma-separated names)' },
  COMMON.json,
];

export interface SyscountOptions {
  filters: SyscountFilters;
  top: number;
  ms: boolean;
  list: boolean;
  json: boolean;
}

export function parseSyscountOptions(a: ParsedArgs, c: Common): SyscountOptions {
  const filters: SyscountFilters = {
    failuresOnly: a.has('failures'),
    byProcess: a.has('process'),
    latency: a.has('latency'),
    tgid: c.pid,
    tid: c.tid,
  };
  const e = a.get('errno');
  if (e !== undefined) {
    const n = /^\d+$/.test(e) ? Number(e) : errnoNumber(e.toUpperCase());
    if (n === undefined || n <= 0 || n > 4095) throw badArgs(`-e: unknown errno '${e}' (use a name like ENOENT or a number)`);
    filters.errno = n;
  }
  const names = a.get('syscall');
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
  const top = a.get('top');
  return {
    filters,
    top: top !== undefined ? parseIntArg(top, '-T TOP', 1) : 10,
    ms: a.has('ms'),
    list: a.has('list'),
    json: c.json,
  };
}

export const command = defineTool<SyscountOptions>({
  name: 'syscount',
  summary: 'count syscalls and their latency, by syscall or by process',
  about: `Summarize syscall counts and latencies, by syscall or by process. Counting and filtering
happen in the kernel (raw_syscalls tracepoints); prints on Ctrl-C unless -i or -d is given.
bpfkit's own syscalls are never counted.`,
  flags: FLAGS,
  more: `Examples:
  bpfkit syscount -LP               # latency by process, print on Ctrl-C
  bpfkit syscount -L -i 1 -p 1234   # latency by syscall of PID 1234, every second
  bpfkit syscount -x -e ENOENT      # who fails with ENOENT?`,
  parse: parseSyscountOptions,
  async run(opts, rt) {
    if (opts.list) {
      rt.write(allSyscalls().map(({ nr, name }) => `${padL(nr, 4)} ${name}\n`).join(''));
      return;
    }
    const session = rt.use(SyscountSession.start(opts.filters));
    rt.ready();
    if (!opts.json) {
      const what = opts.filters.failuresOnly || opts.filters.errno ? 'failed syscalls' : 'syscalls';
      rt.write(`Tracing ${what}, printing top ${opts.top}... Ctrl+C to quit.\n`);
    }
    const ct = rt.containers;
    await rt.intervals((_final, elapsedS) => {
      const rows = opts.filters.byProcess ? session.processDeltas() : session.syscallDeltas();
      rt.write(opts.json ? renderJson(rows, opts, elapsedS, ct) : renderText(rows, opts, ct));
    });
  },
});

type Row = SyscallRow | ProcessRow;
const isProc = (r: Row): r is ProcessRow => 'pid' in r;

function sortRows(rows: Row[], opts: SyscountOptions): Row[] {
  const key = opts.filters.latency ? (r: Row) => r.totalNs : (r: Row) => r.count;
  return [...rows].sort((x, y) => key(y) - key(x) || y.count - x.count).slice(0, opts.top);
}

export function renderText(rows: Row[], opts: SyscountOptions, ct?: ContainerView): string {
  const lines = [`[${clockTime()}]`];
  const agg = opts.filters.byProcess ? 'PID    COMM' : 'SYSCALL';
  const unit = opts.ms ? 1e6 : 1e3;
  const sorted = sortRows(rows, opts);
  // By process: a CONTAINER column first when one of them is in a container (or --containers).
  const column = opts.filters.byProcess && (ct?.shown(sorted.filter(isProc).map((r) => r.pid)) ?? false);
  const head = column ? ct!.header() : '';
  if (opts.filters.latency) lines.push(`${head}${padR(agg, 22)} ${padL('COUNT', 8)} ${padL(opts.ms ? 'TIME (ms)' : 'TIME (us)', 16)}`);
  else lines.push(`${head}${padR(agg, 22)} ${padL('COUNT', 8)}`);
  for (const r of sorted) {
    const label = isProc(r) ? `${padR(r.pid, 6)} ${padR(safe(r.comm), 15)}` : syscallName(r.nr);
    let line = `${column && isProc(r) ? ct!.cell(r.pid) : ''}${padR(label, 22)} ${padL(r.count, 8)}`;
    if (opts.filters.latency) line += ` ${padL((r.totalNs / unit).toFixed(opts.ms ? 6 : 3), 16)}`;
    lines.push(line);
  }
  return lines.join('\n') + '\n\n';
}

export function renderJson(rows: Row[], opts: SyscountOptions, intervalS: number, ct?: ContainerView): string {
  const out = sortRows(rows, opts).map((r) => ({
    ...(isProc(r) ? { pid: r.pid, comm: r.comm, ...ct?.json(r.pid) } : { syscall: syscallName(r.nr), nr: r.nr }),
    count: r.count,
    ...(opts.filters.latency ? { total_us: Math.round(r.totalNs / 1e3 * 1000) / 1000 } : {}),
  }));
  return JSON.stringify({ time: new Date().toISOString(), interval_s: Math.round(intervalS * 1000) / 1000, by: opts.filters.byProcess ? 'process' : 'syscall', rows: out }) + '\n';
}
