// `bpfkit trace`: strace-style syscall lines (decoded arguments, result, duration) from eBPF,
// without stopping the traced threads.
import { COMMON, parseIntArg, parseNumber } from '../../toolkit/flags.js';
import { defineTool } from '../../toolkit/runner.js';
import { streamEvents } from '../../toolkit/stream.js';
import { badArgs } from '../../core/errors.js';
import { monoToDate, monoToWallMs } from '../../core/clock.js';
import { errnoName, suggestSyscalls, syscallNumber } from '../../core/syscalls/index.js';
import { formatArg, formatCall, type TraceRecord } from './decode.js';
import { TraceSession, type TraceFilters } from './trace.js';

export interface TraceOptions {
  filters: TraceFilters;
  timestamps: boolean;
}

export function parseSyscallList(text: string): number[] {
  const list = text.replace(/^trace=/, '').split(',').map((s) => s.trim()).filter(Boolean);
  if (list.length === 0) throw badArgs('-e: no syscall names given');
  return [...new Set(list.map((name) => {
    const nr = syscallNumber(name);
    if (nr === undefined || nr >= 1024) {
      const close = suggestSyscalls(name);
      throw badArgs(`unknown syscall '${name}'${close.length ? ` (did you mean ${close.join(', ')}?)` : ''}`);
    }
    return nr;
  }))];
}

function timeOfDay(ms: number): string {
  const d = new Date(ms);
  const micros = Math.floor((ms * 1000) % 1_000_000);
  return `${d.toTimeString().slice(0, 8)}.${String(micros).padStart(6, '0')}`;
}

export function renderText(r: TraceRecord, session: TraceSession, opts: TraceOptions): string {
  const plan = session.planOf(r.nr);
  let line = '';
  if (opts.timestamps) line += timeOfDay(monoToWallMs(r.tsNs)) + ' ';
  const main = opts.filters.tgid ?? opts.filters.tid;
  if (main === undefined || r.tid !== main) line += `[pid ${r.tid}] `;
  line += formatCall(r, plan);
  if (!r.noReturn) line += ` <${(r.durNs / 1e9).toFixed(6)}>`;
  return line + '\n';
}

export function renderJson(r: TraceRecord, session: TraceSession): string {
  const plan = session.planOf(r.nr);
  const failed = r.ret < 0n && r.ret >= -4095n;
  return JSON.stringify({
    type: 'syscall',
    time: monoToDate(r.tsNs).toISOString(),
    ts_ns: r.tsNs.toString(),
    pid: r.tgid,
    tid: r.tid,
    comm: r.comm,
    syscall: plan.name,
    nr: r.nr,
    args: plan.spec ? plan.spec.args.map((t, i) => formatArg(t, i, r, plan)) : r.args.map((v) => `0x${v.toString(16)}`),
    raw_args: r.args.slice(0, plan.spec ? plan.spec.args.length : 6).map((v) => v.toString()),
    ret: r.noReturn ? null : Number(r.ret),
    errno: failed ? errnoName(Number(-r.ret)) : null,
    duration_us: r.noReturn ? null : Math.round(r.durNs / 1e3 * 1000) / 1000,
    text: formatCall(r, plan),
  }) + '\n';
}

export const command = defineTool<TraceOptions>({
  name: 'trace',
  summary: 'strace at eBPF cost: syscalls with decoded arguments, results and durations',
  about: `Print the syscalls of a process (or of the whole system) like strace: decoded arguments,
result with errno names, and the time spent in each call. Runs in the kernel (eBPF on the
raw_syscalls tracepoints): the traced threads are never stopped. bpfkit's own syscalls are
never shown.`,
  flags: [
    { ...COMMON.pid, help: 'trace this process (all its threads); stops when it exits' },
    COMMON.tid,
    { key: 'comm', long: 'comm', arg: 'NAME', help: 'trace only threads with this command name' },
    { key: 'syscalls', short: 'e', long: 'syscalls', arg: 'SYSCALLS', help: 'trace only these syscalls (comma-separated; strace\'s -e trace=... works too)' },
    { key: 'failed', short: 'x', long: 'failed', help: 'failed syscalls only (result -1 with an errno)' },
    { key: 'minms', long: 'min-ms', arg: 'MS', help: 'only syscalls that took at least MS milliseconds' },
    { key: 'timestamps', short: 'T', long: 'timestamps', help: 'prefix each line with the wall-clock time (HH:MM:SS.micros)' },
    { key: 'strsize', short: 's', long: 'strsize', arg: 'SIZE', help: 'bytes of read/write data to show (default 32, max 256)' },
    COMMON.duration,
    COMMON.bufferMb,
    COMMON.cgroup,
    COMMON.container,
    COMMON.containers,
    { ...COMMON.json, help: 'one JSON record per syscall (NDJSON), then a summary record' },
  ],
  more: `Each line: [pid TID] name(args) = result <seconds>. Lines of threads other than the
main thread of -p PID (or of any thread without -p) carry the [pid TID] prefix.
Events the ring buffer could not take are counted and reported, never silently dropped.

Examples:
  bpfkit trace -p 1234 -e select,poll,epoll_wait
  bpfkit trace -p 1234 -x -T               # failing calls, with timestamps
  bpfkit trace --comm nginx -e connect,accept4 --min-ms 10`,
  parse(a, c) {
    const filters: TraceFilters = { strsize: 32, failedOnly: a.has('failed'), tgid: c.pid, tid: c.tid, bufferMb: c.bufferMb };
    const comm = a.get('comm');
    if (comm !== undefined) {
      if (comm === '' || comm.length > 15) throw badArgs('--comm: a command name of 1 to 15 characters (as in /proc/PID/comm)');
      filters.comm = comm;
    }
    const e = a.all('syscalls');
    if (e.length) filters.syscalls = [...new Set(e.flatMap(parseSyscallList))];
    const minMs = a.get('minms');
    if (minMs !== undefined) filters.minMs = parseNumber(minMs, '--min-ms', true);
    const s = a.get('strsize');
    if (s !== undefined) filters.strsize = parseIntArg(s, '-s SIZE', 1, 256);
    return { filters, timestamps: a.has('timestamps') };
  },
  async run(o, rt) {
    const session = rt.use(TraceSession.open(o.filters));
    await streamEvents(rt, session, {
      decode: (b) => session.decode(b),
      pid: (r) => r.tgid,
      text: (r) => renderText(r, session, o),
      json: (r) => renderJson(r, session),
    });
  },
});
