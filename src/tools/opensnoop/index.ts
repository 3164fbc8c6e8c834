// `bpfkit opensnoop`: every open/openat/openat2 with path, flags and result (BCC's columns).
import type { ToolCommand, ToolContext } from '../../cli/command.js';
import { parseArgs, has, last, parseIntArg, type FlagSpec } from '../../cli/args.js';
import { badArgs } from '../../core/errors.js';
import { requireBpfPrivileges, requireProcess } from '../../core/privileges.js';
import { errnoName } from '../../core/syscalls/index.js';
import { padL, padR } from '../../render/text.js';
import { LineBatcher, parseDuration, parseRingbufMb, streamUntilDone, monoToDate } from '../execsnoop/snoop.js';
import { openDecoder, openFlagNames, openOpensnoop, type OpensnoopFilters, type OpenRecord } from './opensnoop.js';

const HELP = `Usage: bpfkit opensnoop [options]

Trace open(), openat() and openat2() system-wide: who opened which path, with which flags,
and the result (file descriptor or errno). One line per call, printed as it happens.
Filtering happens in the kernel (tp_btf/sys_exit); events go through a BPF ring buffer and
events the buffer had no room for are counted and reported ("Lost N events").

Options:
  -p PID            trace only this process
  -t TID            trace only this thread
  -u UID            trace only this user id
  -x                only failed opens
  -n NAME           only processes whose name contains NAME
  -T                include a timestamp column (seconds since start)
  -U                include a UID column
  -e                extended fields: the flags (octal, as BCC prints them)
  -d DURATION       trace for DURATION seconds, then stop
  --ringbuf MB      ring buffer size in MiB, a power of two (default 8)
  --json            one JSON record per open (NDJSON), then a summary record
  --verbose         show which kernel hooks are used, and libbpf's log

Columns: PID COMM FD ERR PATH (FD is -1 on failure; ERR is the errno name, 0 on success).

Examples:
  bpfkit opensnoop -x            # failed opens, system-wide
  bpfkit opensnoop -p 1234 -T    # opens of PID 1234 with timestamps
  bpfkit opensnoop -n nginx -e   # processes named *nginx*, with flags
`;

const FLAGS: FlagSpec[] = [
  { key: 'pid', short: 'p', long: 'pid', value: true },
  { key: 'tid', short: 't', long: 'tid', value: true },
  { key: 'uid', short: 'u', long: 'uid', value: true },
  { key: 'failed', short: 'x', long: 'failed' },
  { key: 'name', short: 'n', long: 'name', value: true },
  { key: 'timestamp', short: 'T', long: 'timestamp' },
  { key: 'showuid', short: 'U', long: 'print-uid' },
  { key: 'extended', short: 'e', long: 'extended-fields' },
  { key: 'duration', short: 'd', long: 'duration', value: true },
  { key: 'ringbuf', long: 'ringbuf', value: true },
  { key: 'json', long: 'json' },
];

export interface OpensnoopOptions {
  filters: OpensnoopFilters;
  name?: string;
  timestamp: boolean;
  showUid: boolean;
  extended: boolean;
  durationS?: number;
  ringbufMb: number;
  json: boolean;
}

export function parseOpensnoopArgs(argv: string[]): OpensnoopOptions {
  const a = parseArgs(argv, FLAGS);
  if (a.positionals.length) throw badArgs(`unexpected argument '${a.positionals[0]}' (see --help)`);
  const filters: OpensnoopFilters = { failedOnly: has(a, 'failed') };
  const pid = last(a, 'pid');
  if (pid !== undefined) filters.tgid = parseIntArg(pid, '-p PID', 1, 4194304);
  const tid = last(a, 'tid');
  if (tid !== undefined) filters.tid = parseIntArg(tid, '-t TID', 1, 4194304);
  const uid = last(a, 'uid');
  if (uid !== undefined) filters.uid = parseIntArg(uid, '-u UID', 0, 0xfffffffe);
  const name = last(a, 'name');
  if (name !== undefined && name === '') throw badArgs('-n: empty name');
  return {
    filters,
    name,
    timestamp: has(a, 'timestamp'),
    showUid: has(a, 'showuid'),
    extended: has(a, 'extended'),
    durationS: parseDuration(last(a, 'duration')),
    ringbufMb: parseRingbufMb(last(a, 'ringbuf')),
    json: has(a, 'json'),
  };
}

export function openHeader(o: OpensnoopOptions): string {
  let h = '';
  if (o.timestamp) h += `${padR('TIME(s)', 14)} `;
  if (o.showUid) h += `${padR('UID', 6)} `;
  h += `${padR('PID', 7)} ${padR('COMM', 16)} ${padL('FD', 3)} ${padR('ERR', 7)} `;
  if (o.extended) h += `${padR('FLAGS', 8)} `;
  return h + 'PATH\n';
}

export function openLine(r: OpenRecord, o: OpensnoopOptions, startNs: bigint): string {
  let s = '';
  if (o.timestamp) s += `${padR((Number(r.tsNs - startNs) / 1e9).toFixed(9), 14)} `;
  if (o.showUid) s += `${padR(r.uid, 6)} `;
  const fd = r.ret >= 0 ? r.ret : -1;
  const err = r.ret < 0 ? errnoName(-r.ret) : '0';
  s += `${padR(r.pid, 7)} ${padR(r.comm, 16)} ${padL(fd, 3)} ${padR(err, 7)} `;
  if (o.extended) s += `${r.flags.toString(8).padStart(8, '0')} `;
  return s + r.path + '\n';
}

export function openJson(r: OpenRecord): string {
  return JSON.stringify({
    time: monoToDate(r.tsNs).toISOString(),
    pid: r.pid, tid: r.tid, uid: r.uid, comm: r.comm,
    syscall: r.syscall,
    ...(r.syscall !== 'open' ? { dirfd: r.dirfd === -100 ? 'AT_FDCWD' : r.dirfd } : {}),
    path: r.path,
    flags: r.flags, flag_names: openFlagNames(r.flags),
    ...(r.flags & 0o100 || (r.flags & 0o20200000) === 0o20200000 ? { mode: '0' + r.mode.toString(8) } : {}),
    ret: r.ret,
    fd: r.ret >= 0 ? r.ret : null,
    errno: r.ret < 0 ? errnoName(-r.ret) : null,
  }) + '\n';
}

export const command: ToolCommand = {
  name: 'opensnoop',
  summary: 'trace open()/openat()/openat2() with path, flags and result',
  help: HELP,
  async run(argv: string[], ctx: ToolContext): Promise<void> {
    const opts = parseOpensnoopArgs(argv);
    if (opts.filters.tgid !== undefined) requireProcess(opts.filters.tgid);
    if (opts.filters.tid !== undefined) requireProcess(opts.filters.tid, 'thread');
    requireBpfPrivileges();
    const session = openOpensnoop(opts.filters, opts.ringbufMb * 1048576);
    try {
      const decode = openDecoder(session);
      const out = new LineBatcher(ctx.out);
      const startNs = process.hrtime.bigint();
      if (!opts.json) out.push(openHeader(opts));
      session.start((b) => {
        const r = decode(b);
        if (opts.name !== undefined && !r.comm.includes(opts.name)) return;
        out.push(opts.json ? openJson(r) : openLine(r, opts, startNs));
      });
      ctx.ready();
      await streamUntilDone(session, out, opts, ctx.signal);
    } finally {
      session.close();
    }
  },
};
