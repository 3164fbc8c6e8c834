// `bpfkit opensnoop`: every open/openat/openat2 with path, flags and result (BCC's columns).
import { COMMON, parseIntArg } from '../../toolkit/flags.js';
import { defineTool } from '../../toolkit/runner.js';
import { streamEvents } from '../../toolkit/stream.js';
import { monoIsoString, monoToDate } from '../../core/clock.js';
import { cString, cStringJson } from '../../render/cstring.js';
import { errnoName } from '../../core/syscalls/index.js';
import { padL, padR } from '../../render/text.js';
import {
  openDecoder, openFlagNames, openFlagNamesCached, openLayout, openOpensnoop, openRecordAt, u64,
  type OpenLayout, type OpensnoopFilters, type OpenRecord,
} from './opensnoop.js';

export interface OpensnoopOptions {
  filters: OpensnoopFilters;
  name?: string;
  timestamp: boolean;
  showUid: boolean;
  extended: boolean;
  bufferMb: number;
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

/** JSON keys are the column names (lower case), plus what the columns leave out. */
export function openJson(r: OpenRecord): string {
  return JSON.stringify({
    time: monoToDate(r.tsNs).toISOString(),
    pid: r.pid, tid: r.tid, uid: r.uid, comm: r.comm,
    fd: r.ret >= 0 ? r.ret : -1,
    err: r.ret < 0 ? errnoName(-r.ret) : null,
    path: r.path,
    syscall: r.syscall,
    ...(r.syscall !== 'open' ? { dirfd: r.dirfd === -100 ? 'AT_FDCWD' : r.dirfd } : {}),
    flags: r.flags, flag_names: openFlagNames(r.flags),
    ...(r.flags & 0o100 || (r.flags & 0o20200000) === 0o20200000 ? { mode: '0' + r.mode.toString(8) } : {}),
    ret: r.ret,
  }) + '\n';
}

const SYSCALLS = ['"open"', '"openat"', '"openat2"'];

/**
 * openJson(record at data[at, at + length)) with the record read in place: no Buffer, no
 * object, no JSON.stringify per event (the stream's hot path under an open() flood).
 * `name`: only processes whose comm contains it (undefined: all).
 */
export function openJsonAt(L: OpenLayout, name: string | undefined): (data: Buffer, at: number, length: number) => string | undefined {
  return (b, at, length) => {
    const end = at + length;
    const commEnd = Math.min(end, at + L.comm + L.commLen);
    if (name !== undefined && !cString(b, at + L.comm, commEnd).includes(name)) return undefined;
    const ret = b.readInt32LE(at + L.ret);
    const kind = b.readUInt32LE(at + L.kind);
    const flags = u64(b, at + L.flags);
    let s = '{"time":"' + monoIsoString(u64(b, at + L.ts)) +
      '","pid":' + b.readUInt32LE(at + L.pid) +
      ',"tid":' + b.readUInt32LE(at + L.tid) +
      ',"uid":' + b.readUInt32LE(at + L.uid) +
      ',"comm":' + cStringJson(b, at + L.comm, commEnd) +
      ',"fd":' + (ret >= 0 ? ret : -1) +
      ',"err":' + (ret < 0 ? '"' + errnoName(-ret) + '"' : 'null') +
      ',"path":' + cStringJson(b, at + L.path, Math.min(end, at + L.path + L.pathLen)) +
      ',"syscall":' + (SYSCALLS[kind] ?? '"openat"');
    if (kind !== 0) {
      const dirfd = b.readInt32LE(at + L.dirfd);
      s += ',"dirfd":' + (dirfd === -100 ? '"AT_FDCWD"' : dirfd);
    }
    s += ',"flags":' + flags + ',"flag_names":"' + openFlagNamesCached(flags) + '"';
    if (flags & 0o100 || (flags & 0o20200000) === 0o20200000) s += ',"mode":"0' + b.readUInt32LE(at + L.mode).toString(8) + '"';
    return s + ',"ret":' + ret + '}\n';
  };
}

export const command = defineTool<OpensnoopOptions>({
  name: 'opensnoop',
  summary: 'trace open()/openat()/openat2() with path, flags and result',
  about: `Trace open(), openat() and openat2() system-wide: who opened which path, with which flags,
and the result (file descriptor or errno). One line per call, printed as it happens.
Filtering happens in the kernel (tp_btf/sys_exit); events go through a BPF ring buffer; events
the buffer had no room for, or that a slow reader of the output could not take, are counted and
reported. bpfkit's own opens are never shown.`,
  flags: [
    COMMON.pid,
    COMMON.tid,
    { key: 'uid', short: 'u', long: 'uid', arg: 'UID', help: 'trace only this user id' },
    { key: 'failed', short: 'x', long: 'failed', help: 'only failed opens' },
    COMMON.name,
    { key: 'timestamp', short: 'T', long: 'timestamp', help: 'include a timestamp column (seconds since start)' },
    { key: 'showuid', short: 'U', long: 'print-uid', help: 'include a UID column' },
    { key: 'extended', short: 'e', long: 'extended-fields', help: 'extended fields: the flags (octal, as BCC prints them)' },
    COMMON.duration,
    COMMON.bufferMb,
    COMMON.cgroup,
    COMMON.container,
    COMMON.containers,
    COMMON.json,
  ],
  more: `Columns: PID COMM FD ERR PATH (FD is -1 on failure; ERR is the errno name, 0 on success).

Examples:
  bpfkit opensnoop -x            # failed opens, system-wide
  bpfkit opensnoop -p 1234 -T    # opens of PID 1234 with timestamps
  bpfkit opensnoop -n nginx -e   # processes named *nginx*, with flags`,
  parse(a, c) {
    const uid = a.get('uid');
    return {
      filters: {
        tgid: c.pid,
        tid: c.tid,
        uid: uid !== undefined ? parseIntArg(uid, '-u UID', 0, 0xfffffffe) : undefined,
        failedOnly: a.has('failed'),
      },
      name: c.name,
      timestamp: a.has('timestamp'),
      showUid: a.has('showuid'),
      extended: a.has('extended'),
      bufferMb: c.bufferMb,
    };
  },
  async run(o, rt) {
    const source = rt.use(openOpensnoop(o.filters, o.bufferMb));
    const decode = openDecoder(source);
    const layout = openLayout(source);
    const startNs = process.hrtime.bigint();
    const wanted = (r: OpenRecord) => o.name === undefined || r.comm.includes(o.name);
    const text = (r: OpenRecord) => (wanted(r) ? openLine(r, o, startNs) : undefined);
    const reused = {} as OpenRecord;
    if (!rt.json) rt.write(rt.containerHeader(openHeader(o)));
    await streamEvents(rt, source, {
      decode,
      pid: (r) => r.pid,
      cgroupId: (r) => r.cgroupId,
      text,
      json: (r) => (wanted(r) ? openJson(r) : undefined),
      textAt: (b, at, length) => text(openRecordAt(layout, b, at, length, reused)),
      jsonAt: openJsonAt(layout, o.name),
    });
  },
});
