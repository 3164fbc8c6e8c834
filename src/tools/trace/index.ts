// `bpfkit trace`: strace-style syscall lines (decoded arguments, result, duration) from eBPF,
// without stopping the traced threads.
import { readFileSync } from 'node:fs';
import type { ToolCommand, ToolContext } from '../../cli/command.js';
import { parseArgs, has, last, parseIntArg, parsePositive, type FlagSpec } from '../../cli/args.js';
import { sleepOrAbort } from '../../cli/runtime.js';
import { badArgs } from '../../core/errors.js';
import { requireBpfPrivileges, requireProcess } from '../../core/privileges.js';
import { errnoName, suggestSyscalls, syscallNumber } from '../../core/syscalls/index.js';
import { formatArg, formatCall, type TraceRecord } from './decode.js';
import { TraceSession, type TraceFilters } from './trace.js';

const HELP = `Usage: bpfkit trace [options]

Print the syscalls of a process (or of the whole system) like strace: decoded arguments,
result with errno names, and the time spent in each call. Runs in the kernel (eBPF on the
raw_syscalls tracepoints): the traced threads are never stopped.

Options:
  -p PID            trace this process (all its threads); stops when it exits
  -t TID            trace only this thread
  --comm NAME       trace only threads with this command name
  -e SYSCALLS       trace only these syscalls (comma-separated; strace's -e trace=... works too)
  -x                failed syscalls only (result -1 with an errno)
  --min-ms MS       only syscalls that took at least MS milliseconds
  -T                prefix each line with the wall-clock time (HH:MM:SS.micros)
  -s SIZE           bytes of read/write data to show (default 32, max 256)
  -d DURATION       stop after DURATION seconds
  --buffer-mb MB    ring buffer size in MiB, a power of two (default 8)
  --json            one JSON record per syscall (NDJSON), then a summary record
  --verbose         show which kernel hooks are used, and libbpf's log

Each line: [pid TID] name(args) = result <seconds>. Lines of threads other than the
main thread of -p PID (or of any thread without -p) carry the [pid TID] prefix.
Events the ring buffer could not take are counted and reported, never silently dropped.

Examples:
  bpfkit trace -p 1234 -e select,poll,epoll_wait
  bpfkit trace -p 1234 -x -T               # failing calls, with timestamps
  bpfkit trace --comm nginx -e connect,accept4 --min-ms 10
`;

const FLAGS: FlagSpec[] = [
  { key: 'pid', short: 'p', long: 'pid', value: true },
  { key: 'tid', short: 't', long: 'tid', value: true },
  { key: 'comm', long: 'comm', value: true },
  { key: 'syscalls', short: 'e', long: 'syscalls', value: true },
  { key: 'failed', short: 'x', long: 'failed' },
  { key: 'minms', long: 'min-ms', value: true },
  { key: 'timestamps', short: 'T', long: 'timestamps' },
  { key: 'strsize', short: 's', long: 'strsize', value: true },
  { key: 'duration', short: 'd', long: 'duration', value: true },
  { key: 'buffermb', long: 'buffer-mb', value: true },
  { key: 'json', long: 'json' },
];

export interface TraceOptions {
  filters: TraceFilters;
  timestamps: boolean;
  json: boolean;
  durationS?: number;
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

export function parseTraceArgs(argv: string[]): TraceOptions {
  const a = parseArgs(argv, FLAGS);
  if (a.positionals.length) throw badArgs(`unexpected argument '${a.positionals[0]}' (trace attaches to running processes: use -p PID)`);
  const filters: TraceFilters = { strsize: 32, failedOnly: has(a, 'failed') };
  const pid = last(a, 'pid');
  if (pid !== undefined) filters.tgid = parseIntArg(pid, '-p PID', 1, 4194304);
  const tid = last(a, 'tid');
  if (tid !== undefined) filters.tid = parseIntArg(tid, '-t TID', 1, 4194304);
  const comm = last(a, 'comm');
  if (comm !== undefined) {
    if (comm === '' || comm.length > 15) throw badArgs('--comm: a command name of 1 to 15 characters (as in /proc/PID/comm)');
    filters.comm = comm;
  }
  const e = a.flags.get('syscalls');
  if (e) filters.syscalls = [...new Set(e.flatMap(parseSyscallList))];
  const minMs = last(a, 'minms');
  if (minMs !== undefined) filters.minMs = parsePositive(minMs, '--min-ms', true);
  const s = last(a, 'strsize');
  if (s !== undefined) filters.strsize = parseIntArg(s, '-s SIZE', 1, 256);
  const mb = last(a, 'buffermb');
  if (mb !== undefined) {
    const n = parseIntArg(mb, '--buffer-mb', 1, 1024);
    if ((n & (n - 1)) !== 0) throw badArgs(`--buffer-mb: ${n} is not a power of two`);
    filters.bufferMb = n;
  }
  const d = last(a, 'duration');
  return {
    filters,
    timestamps: has(a, 'timestamps'),
    json: has(a, 'json'),
    durationS: d !== undefined ? parsePositive(d, '-d DURATION') : undefined,
  };
}

/** The process exited (no /proc entry, or a zombie waiting for its parent). */
function gone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state === 'Z' || state === 'X';
  } catch {
    return true;
  }
}

/** CLOCK_MONOTONIC ns (bpf_ktime_get_ns) -> wall-clock ms. */
function wallClock(): (ns: bigint) => number {
  const offsetNs = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
  return (ns) => Number((ns + offsetNs) / 1000n) / 1000;
}

function timeOfDay(ms: number): string {
  const d = new Date(ms);
  const micros = Math.floor((ms * 1000) % 1_000_000);
  return `${d.toTimeString().slice(0, 8)}.${String(micros).padStart(6, '0')}`;
}

export function renderText(r: TraceRecord, session: TraceSession, opts: TraceOptions, wall: (ns: bigint) => number): string {
  const plan = session.planOf(r.nr);
  let line = '';
  if (opts.timestamps) line += timeOfDay(wall(r.tsNs)) + ' ';
  const main = opts.filters.tgid ?? opts.filters.tid;
  if (main === undefined || r.tid !== main) line += `[pid ${r.tid}] `;
  line += formatCall(r, plan);
  if (!r.noReturn) line += ` <${(r.durNs / 1e9).toFixed(6)}>`;
  return line + '\n';
}

export function renderJson(r: TraceRecord, session: TraceSession, wall: (ns: bigint) => number): string {
  const plan = session.planOf(r.nr);
  const failed = r.ret < 0n && r.ret >= -4095n;
  return JSON.stringify({
    type: 'syscall',
    time: new Date(wall(r.tsNs)).toISOString(),
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

export const command: ToolCommand = {
  name: 'trace',
  summary: 'strace at eBPF cost: syscalls with decoded arguments, results and durations',
  help: HELP,
  async run(argv: string[], ctx: ToolContext): Promise<void> {
    const opts = parseTraceArgs(argv);
    const f = opts.filters;
    if (f.tgid !== undefined) requireProcess(f.tgid);
    if (f.tid !== undefined) requireProcess(f.tid, 'thread');
    requireBpfPrivileges();
    const wall = wallClock();
    let pending: string[] = [];
    let pendingBytes = 0;
    let events = 0;
    const flush = () => {
      if (pending.length === 0) return;
      ctx.out(pending.join(''));
      pending = [];
      pendingBytes = 0;
    };
    let flushScheduled = false;
    // eslint-disable-next-line prefer-const
    let session: TraceSession;
    const onRecord = (r: TraceRecord) => {
      events++;
      const text = opts.json ? renderJson(r, session, wall) : renderText(r, session, opts, wall);
      pending.push(text);
      pendingBytes += text.length;
      if (pendingBytes > 1 << 16) flush();
      else if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(() => { flushScheduled = false; flush(); });
      }
    };
    session = TraceSession.start(f, onRecord);
    try {
      ctx.ready();
      const deadline = opts.durationS !== undefined ? Date.now() + opts.durationS * 1000 : Infinity;
      let reportedLost = 0;
      const reportLost = (lost: number, before: number): number => {
        if (lost <= before) return before;
        flush();
        ctx.out(opts.json
          ? JSON.stringify({ type: 'lost', lost: lost - before, total_lost: lost }) + '\n'
          : `--- lost ${lost - before} events (ring buffer full; total ${lost}) ---\n`);
        return lost;
      };
      for (;;) {
        const wait = Math.min(250, deadline - Date.now());
        if (wait <= 0) break;
        if (!(await sleepOrAbort(wait, ctx.signal))) break;
        if (f.tgid !== undefined && gone(f.tgid)) break;
        if (f.tid !== undefined && gone(f.tid)) break;
        reportedLost = reportLost(session.counters().lost, reportedLost);
      }
      session.detach();
      const c = session.counters();
      session.drain();
      flush();
      reportLost(c.lost, reportedLost);
      if (opts.json) {
        ctx.out(JSON.stringify({ type: 'summary', events, sent: c.sent, lost: c.lost, lost_ringbuf: c.lostRingbuf, lost_no_slot: c.lostSlot, hooks: session.hooks }) + '\n');
      } else {
        ctx.out(`+++ ${events} syscalls traced, ${c.lost} lost +++\n`);
      }
    } finally {
      session.close();
      flush();
    }
  },
};
