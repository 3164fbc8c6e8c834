// `bpfkit execsnoop`: new processes (execve/execveat) with argv, PPID and result (BCC's columns).
import type { ToolCommand, ToolContext } from '../../cli/command.js';
import { parseArgs, has, last, parseIntArg, type FlagSpec } from '../../cli/args.js';
import { badArgs } from '../../core/errors.js';
import { requireBpfPrivileges, requireProcess } from '../../core/privileges.js';
import { errnoName } from '../../core/syscalls/index.js';
import { padL, padR } from '../../render/text.js';
import { LineBatcher, parseDuration, parseRingbufMb, streamUntilDone, monoToDate, hms } from './snoop.js';
import { execDecoder, openExecsnoop, type ExecsnoopFilters, type ExecRecord } from './execsnoop.js';

const HELP = `Usage: bpfkit execsnoop [options]

Trace new processes: every execve()/execveat(), with the full argv, the parent PID and the
result (0, or the errno name of a failed exec). One line per exec as it happens, so short-lived
processes that top and ps miss are visible. Hook: tp_btf/sys_exit (in-kernel filters).

Options:
  -x                only failed execs
  -T                include a time column (HH:MM:SS)
  -t                include a timestamp column (seconds since start)
  -U                include a UID column
  -u UID            trace only this user id
  -P PPID           trace only children of this parent PID
  -n NAME           only commands whose name contains NAME
  -l LINE           only commands whose argument line contains LINE
  -q                quote arguments (double quotes, embedded quotes escaped)
  --max-args N      at most N arguments per exec (default 20, max 64)
  -d DURATION       trace for DURATION seconds, then stop
  --ringbuf MB      ring buffer size in MiB, a power of two (default 8)
  --json            one JSON record per exec (NDJSON), then a summary record
  --verbose         show which kernel hooks are used, and libbpf's log

Columns: PCOMM PID PPID RET ARGS. PCOMM is the name after a successful exec (before it, for a
failed one); ARGS ends with "..." when arguments were cut.

Examples:
  bpfkit execsnoop           # every exec, system-wide
  bpfkit execsnoop -x -T     # failed execs, with time
  bpfkit execsnoop -P 1234   # what does PID 1234 launch?
`;

const FLAGS: FlagSpec[] = [
  { key: 'failed', short: 'x', long: 'fails' },
  { key: 'time', short: 'T', long: 'time' },
  { key: 'timestamp', short: 't', long: 'timestamp' },
  { key: 'showuid', short: 'U', long: 'print-uid' },
  { key: 'uid', short: 'u', long: 'uid', value: true },
  { key: 'ppid', short: 'P', long: 'ppid', value: true },
  { key: 'name', short: 'n', long: 'name', value: true },
  { key: 'line', short: 'l', long: 'line', value: true },
  { key: 'quote', short: 'q', long: 'quote' },
  { key: 'maxargs', long: 'max-args', value: true },
  { key: 'duration', short: 'd', long: 'duration', value: true },
  { key: 'ringbuf', long: 'ringbuf', value: true },
  { key: 'json', long: 'json' },
];

export interface ExecsnoopOptions {
  filters: ExecsnoopFilters;
  name?: string;
  line?: string;
  time: boolean;
  timestamp: boolean;
  showUid: boolean;
  quote: boolean;
  durationS?: number;
  ringbufMb: number;
  json: boolean;
}

export function parseExecsnoopArgs(argv: string[]): ExecsnoopOptions {
  const a = parseArgs(argv, FLAGS);
  if (a.positionals.length) throw badArgs(`unexpected argument '${a.positionals[0]}' (see --help)`);
  const maxArgs = last(a, 'maxargs');
  const filters: ExecsnoopFilters = {
    failedOnly: has(a, 'failed'),
    maxArgs: maxArgs !== undefined ? parseIntArg(maxArgs, '--max-args', 1, 64) : 20,
  };
  const ppid = last(a, 'ppid');
  if (ppid !== undefined) filters.ppid = parseIntArg(ppid, '-P PPID', 1, 4194304);
  const uid = last(a, 'uid');
  if (uid !== undefined) filters.uid = parseIntArg(uid, '-u UID', 0, 0xfffffffe);
  return {
    filters,
    name: last(a, 'name'),
    line: last(a, 'line'),
    time: has(a, 'time'),
    timestamp: has(a, 'timestamp'),
    showUid: has(a, 'showuid'),
    quote: has(a, 'quote'),
    durationS: parseDuration(last(a, 'duration')),
    ringbufMb: parseRingbufMb(last(a, 'ringbuf')),
    json: has(a, 'json'),
  };
}

export function execHeader(o: ExecsnoopOptions): string {
  let h = '';
  if (o.time) h += `${padR('TIME', 9)}`;
  if (o.timestamp) h += `${padR('TIME(s)', 9)}`;
  if (o.showUid) h += `${padR('UID', 6)} `;
  return h + `${padR('PCOMM', 16)} ${padR('PID', 7)} ${padR('PPID', 7)} ${padL('RET', 6)} ARGS\n`;
}

const quoteArg = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

export function argsText(r: ExecRecord, quote: boolean): string {
  const parts = quote ? r.argv.map(quoteArg) : r.argv;
  return parts.join(' ') + (r.truncated ? ' ...' : '');
}

export function execLine(r: ExecRecord, o: ExecsnoopOptions, startNs: bigint): string {
  let s = '';
  if (o.time) s += `${padR(hms(monoToDate(r.tsNs)), 9)}`;
  if (o.timestamp) s += `${padR((Number(r.tsNs - startNs) / 1e9).toFixed(3), 9)}`;
  if (o.showUid) s += `${padR(r.uid, 6)} `;
  const ret = r.ret === 0 ? '0' : errnoName(-r.ret);
  return s + `${padR(r.comm, 16)} ${padR(r.pid, 7)} ${padR(r.ppid, 7)} ${padL(ret, 6)} ${argsText(r, o.quote)}\n`;
}

export function execJson(r: ExecRecord): string {
  return JSON.stringify({
    time: monoToDate(r.tsNs).toISOString(),
    pcomm: r.comm, pid: r.pid, tid: r.tid, ppid: r.ppid, uid: r.uid,
    ret: r.ret, errno: r.ret < 0 ? errnoName(-r.ret) : null,
    argv: r.argv, truncated: r.truncated,
  }) + '\n';
}

export const command: ToolCommand = {
  name: 'execsnoop',
  summary: 'trace new processes (exec) with argv, PPID and result',
  help: HELP,
  async run(argv: string[], ctx: ToolContext): Promise<void> {
    const opts = parseExecsnoopArgs(argv);
    if (opts.filters.ppid !== undefined) requireProcess(opts.filters.ppid);
    requireBpfPrivileges();
    const session = openExecsnoop(opts.filters, opts.ringbufMb * 1048576);
    try {
      const decode = execDecoder(session, opts.filters.maxArgs);
      const out = new LineBatcher(ctx.out);
      const startNs = process.hrtime.bigint();
      if (!opts.json) out.push(execHeader(opts));
      session.start((b) => {
        const r = decode(b);
        if (opts.name !== undefined && !r.comm.includes(opts.name)) return;
        if (opts.line !== undefined && !r.argv.join(' ').includes(opts.line)) return;
        out.push(opts.json ? execJson(r) : execLine(r, opts, startNs));
      });
      ctx.ready();
      await streamUntilDone(session, out, opts, ctx.signal);
    } finally {
      session.close();
    }
  },
};
