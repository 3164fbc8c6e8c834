// `bpfkit trace`: strace-style syscall lines (decoded arguments, result, duration) from eBPF,
// without stopping the traced threads: of a process (-p), of a command it starts (-- CMD), with
// its children (-f), as strace -c's table (-c, -C), with user stacks (-k).
import { createWriteStream, readdirSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { COMMON, parseIntArg, parseNumber } from '../../toolkit/flags.js';
import { defineTool, type Runtime } from '../../toolkit/runner.js';
import { streamEvents } from '../../toolkit/stream.js';
import { badArgs } from '../../core/errors.js';
import { monoToDate, monoToWallMs } from '../../core/clock.js';
import { escapeControl, Symbolizer } from '../../core/symbols/index.js';
import { errnoName, suggestSyscalls, syscallName, syscallNumber } from '../../core/syscalls/index.js';
import { formatArg, formatCall, setFdAnnotator, type TraceRecord } from './decode.js';
import { FdPaths } from './fdpaths.js';
import { resolveCommand, spawnAdopted } from './command.js';
import { summaryTable } from './summary.js';
import { TraceSession, type TraceFilters } from './trace.js';

export interface TraceOptions {
  filters: TraceFilters;
  timestamps: boolean;
  /** -- CMD ARGS: [resolved path, argv...] */
  command?: { path: string; argv: string[] };
  output?: string;
  /** -c (table only) or -C (lines and table) */
  summary?: 'only' | 'also';
  /** -y */
  decodeFds?: boolean;
}

/** Which tasks have been seen, for strace's prefix rule: [pid N] once more than one is traced. */
class Prefixer {
  private seen = new Set<number>();
  constructor(private main: number | undefined, private follow: boolean, private toFile: boolean) {}
  prefix(tid: number): string {
    // strace -f -o FILE prefixes every line with the pid, a terminal once two tasks are traced
    if (this.follow && this.toFile) return `${String(tid).padEnd(5)} `;
    if (this.follow) {
      // the first task's lines are bare until another task shows up (another is always traced then)
      this.seen.add(tid);
      if (tid === (this.main ?? tid) && this.seen.size < 2) return '';
    } else if (this.main !== undefined && tid === this.main) {
      return '';
    }
    // strace -o FILE writes the pid as a bare column, to a terminal as [pid N]
    return this.toFile ? `${String(tid).padEnd(5)} ` : `[pid ${tid}] `;
  }
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

export function renderText(r: TraceRecord, session: TraceSession, opts: TraceOptions, prefixer?: Prefixer, stacks?: StackPrinter): string {
  const plan = session.planOf(r.nr);
  let line = '';
  if (prefixer) line += prefixer.prefix(r.tid);
  else {
    const main = opts.filters.tgid ?? opts.filters.tid;
    if (main === undefined || r.tid !== main) line += `[pid ${r.tid}] `;
  }
  if (opts.timestamps) line += timeOfDay(monoToWallMs(r.tsNs)) + ' ';
  line += formatCall(r, plan);
  if (!r.noReturn) line += ` <${(r.durNs / 1e9).toFixed(6)}>`;
  line += '\n';
  if (stacks && r.stack) line += stacks.lines(r, plan.name);
  return line;
}

/** -k: strace's ` > /usr/lib/x86_64-linux-gnu/libc.so.6(__write+0x14) [0x10e7a4]` lines. */
class StackPrinter {
  private sym = new Symbolizer();
  private seen = new Set<number>();
  lines(r: TraceRecord, name: string): string {
    // new mappings (execve, mmap): read the process's maps again before the next stack
    if (!this.seen.has(r.tgid)) { this.seen.add(r.tgid); this.sym.snapshotProcess(r.tgid, { force: true }); }
    const ips = r.stack!.filter((a) => a !== 0n);
    const frames = this.sym.symbolizeUser(r.tgid, ips);
    if (name === 'execve' || name === 'mmap' || name === 'munmap') this.seen.delete(r.tgid);
    return frames.map((f, i) => {
      // resolved: (symbol+0xoff); inside a known file only: (+0xoff) as strace prints it
      const unresolved = f.name === '[unknown]' || f.name.startsWith(`${f.module.split('/').pop()}+0x`);
      const where = f.offset === undefined ? '' : unresolved ? `(+0x${f.offset.toString(16)})` : `(${escapeControl(f.name)}+0x${f.offset.toString(16)})`;
      return ` > ${escapeControl(f.module || '?')}${where} [0x${ips[i]!.toString(16)}]\n`;
    }).join('');
  }
}

function threadsOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).map(Number).filter((n) => n > 0);
  } catch {
    return [pid];
  }
}

/**
 * -- CMD: start the command, traced from its execve on (the kernel side adopts the child);
 * the run stops when it exits, with its status. If the run stops first (Ctrl-C, -d), the
 * command goes on untraced, as after strace's detach. Returns its pid.
 */
function startCommand(cmd: { path: string; argv: string[] }, session: TraceSession, rt: Runtime): number {
  const child = spawnAdopted(cmd.path, cmd.argv, () => session.adoptNextChild(), () => session.endAdopt());
  child.on('exit', (code, signal) => {
    rt.exitStatus = code ?? 128 + (signal ? osConstants.signals[signal] : 0);
    if (signal) rt.notice(`+++ killed by ${signal} +++`);
    rt.stop('target-exited');
  });
  child.on('error', (err) => {
    rt.notice(`cannot run ${cmd.path}: ${err.message}`);
    rt.exitStatus = 127;
    rt.stop('target-exited');
  });
  // Stopped before the command ended (Ctrl-C or SIGTERM sent to bpfkit alone): the command is
  // ours, so it ends with us, as under strace.
  rt.use({ close: () => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM'); } });
  return child.pid!;
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
  usage: '[options] [-- COMMAND [ARGS...]]',
  maxPositionals: Infinity,
  flags: [
    { ...COMMON.pid, help: 'trace this process (all its threads); stops when it exits' },
    { key: 'follow', short: 'f', long: 'follow-forks', help: 'also trace the children of the traced processes (followed in the kernel from their fork), [pid N] prefixes' },
    { key: 'output', short: 'o', long: 'output', arg: 'FILE', help: 'write the trace to FILE (lines prefixed by the pid, as strace -o)' },
    { key: 'summary', short: 'c', long: 'summary-only', help: 'no lines: a table of calls, errors and time per syscall at the end (strace -c), counted in the kernel' },
    { key: 'summaryalso', short: 'C', long: 'summary', help: 'the lines and the -c table' },
    { key: 'stack', short: 'k', long: 'stack-trace', help: 'print the user stack of each syscall (symbolized)' },
    { key: 'decodefds', short: 'y', long: 'decode-fds', help: 'print the path (or socket) of file descriptors: 3</etc/passwd>, 5<TCP:[127.0.0.1:5432->127.0.0.1:40000]>' },
    COMMON.tid,
    { key: 'comm', long: 'comm', arg: 'NAME', help: 'trace only threads with this command name' },
    { key: 'syscalls', short: 'e', long: 'syscalls', arg: 'SYSCALLS', help: 'trace only these syscalls (comma-separated; strace\'s -e trace=... works too)' },
    { key: 'failed', short: 'x', long: 'failed', help: 'failed syscalls only (result -1 with an errno)' },
    { key: 'minms', long: 'min-ms', arg: 'MS', help: 'only syscalls that took at least MS milliseconds' },
    { key: 'timestamps', short: 'T', long: 'timestamps', help: 'prefix each line with the wall-clock time (HH:MM:SS.micros)' },
    { key: 'strsize', short: 's', long: 'strsize', arg: 'SIZE', help: 'bytes of read/write data to show (default 32, max 256)' },
    COMMON.duration,
    COMMON.bufferMb,
    { ...COMMON.cgroup, short: undefined }, // -c is strace's summary here
    COMMON.container,
    COMMON.containers,
    { ...COMMON.json, help: 'one JSON record per syscall (NDJSON), then a summary record' },
  ],
  more: `Each line: [pid TID] name(args) = result <seconds>. Lines of threads other than the
main thread of -p PID (or of any thread without -p) carry the [pid TID] prefix; with -f, every
line does once more than one task is traced (as strace -f).
With -- COMMAND, trace starts the command and traces it from its execve; it exits with the
command's exit status (128 + N if signal N killed it).
Events the ring buffer could not take are counted and reported, never silently dropped.

Examples:
  bpfkit trace -p 1234 -e select,poll,epoll_wait
  bpfkit trace -p 1234 -x -T               # failing calls, with timestamps
  bpfkit trace --comm nginx -e connect,accept4 --min-ms 10
  bpfkit trace -f -o /tmp/t.txt -- make -j2
  bpfkit trace -c -- python3 -c 'import json'`,
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
    if (s !== undefined) filters.strsize = parseIntArg(s, '-s SIZE', 1, 253);
    const opts: TraceOptions = { filters, timestamps: a.has('timestamps') };
    if (a.positionals.length) {
      if (c.pid !== undefined || c.tid !== undefined || comm !== undefined) throw badArgs('-- COMMAND: not with -p, -t or --comm (the command is what is traced)');
      opts.command = resolveCommand(a.positionals);
    }
    if (a.has('follow')) {
      filters.follow = true;
      filters.taskSet = true;
      if (c.tid !== undefined) throw badArgs('-f: with -p PID or -- COMMAND, not -t');
      if (!opts.command && c.pid === undefined) throw badArgs('-f: needs -p PID or -- COMMAND');
    }
    if (opts.command) filters.taskSet = true;
    if (a.has('summary') && a.has('summaryalso')) throw badArgs('only one of -c and -C');
    if (a.has('summary') || a.has('summaryalso')) {
      opts.summary = a.has('summary') ? 'only' : 'also';
      filters.stats = true;
      filters.records = opts.summary === 'also';
      if (c.json) throw badArgs('-c/-C: a table, not with --json');
    }
    if (a.has('stack')) filters.stack = true;
    if (a.has('decodefds')) opts.decodeFds = true;
    const out = a.get('output');
    if (out !== undefined) opts.output = out;
    return opts;
  },
  outputPaths: (o) => ({ '-o': o.output }),
  async run(o, rt) {
    const session = rt.use(TraceSession.open(o.filters));
    if (o.output) rt.setOutput(createWriteStream(o.output));
    // -p PID -f: the process's threads now; their children join from the fork hook
    if (o.filters.taskSet && o.filters.tgid !== undefined) for (const tid of threadsOf(o.filters.tgid)) session.addTask(tid);
    const cmdPid = o.command ? startCommand(o.command, session, rt) : undefined;
    const prefixer = new Prefixer(o.filters.tgid ?? o.filters.tid ?? cmdPid, o.filters.follow ?? false, o.output !== undefined);
    const stacks = o.filters.stack ? new StackPrinter() : undefined;
    if (o.decodeFds) {
      const fds = new FdPaths();
      setFdAnnotator((tgid, fd) => fds.annotate(tgid, fd));
    }
    await streamEvents(rt, session, {
      decode: (b) => session.decode(b),
      pid: (r) => r.tgid,
      text: o.summary === 'only' ? () => undefined : (r) => renderText(r, session, o, prefixer, stacks),
      json: (r) => renderJson(r, session),
      multiline: stacks !== undefined,
    });
    if (o.summary) rt.write(summaryTable(session.stats().map((s) => ({ ...s, name: syscallName(s.nr) }))));
  },
});
