// opensnoop's kernel side: bpf/opensnoop.bpf.o on tp_btf/sys_exit, filters as constants, one
// record per open/openat/openat2 through the ring buffer.
import { syscallNumber } from '../../core/syscalls/index.js';
import { RingSource, openRingSource } from '../../toolkit/stream.js';
import { cString } from '../../render/cstring.js';
import type { StructView } from '../../core/btf.js';

export interface OpensnoopFilters {
  tgid?: number;
  tid?: number;
  uid?: number;
  failedOnly?: boolean;
}

export interface OpenRecord {
  tsNs: bigint;
  /** The task's cgroup2 id (its container, resolvable after it exited). */
  cgroupId?: number;
  pid: number;
  tid: number;
  uid: number;
  comm: string;
  /** The syscall's return: a file descriptor, or -errno. */
  ret: number;
  syscall: 'open' | 'openat' | 'openat2';
  dirfd: number;
  flags: number;
  mode: number;
  path: string;
}

const KINDS = ['open', 'openat', 'openat2'] as const;

export function openOpensnoop(f: OpensnoopFilters, bufferMb: number): RingSource {
  return openRingSource({
    object: 'opensnoop',
    programs: [{ name: 'opensnoop_exit', tracepoint: 'sys_exit' }],
    bufferMb,
    constants: {
      nr_open: syscallNumber('open') ?? -1,
      nr_openat: syscallNumber('openat') ?? -1,
      nr_openat2: syscallNumber('openat2') ?? -1,
      filter_tgid: f.tgid ?? 0,
      filter_tid: f.tid ?? 0,
      filter_uid: f.uid ?? 0xffffffff,
      failed_only: f.failedOnly ?? false,
    },
  });
}

/** Where open_event's fields are in a record (from the object's BTF, looked up once). */
export interface OpenLayout {
  ts: number; cgroupId: number; flags: number; pid: number; tid: number; uid: number; ret: number; dirfd: number;
  kind: number; mode: number; comm: number; commLen: number; path: number; pathLen: number;
}

export function openLayout(s: { struct(name: string): StructView }): OpenLayout {
  const v = s.struct('open_event');
  const o = (n: string) => v.field(n).offset;
  return {
    ts: o('ts_ns'), cgroupId: o('cgroup_id'), flags: o('flags'), pid: o('pid'), tid: o('tid'), uid: o('uid'), ret: o('ret'),
    dirfd: o('dirfd'), kind: o('kind'), mode: o('mode'), comm: o('comm'), commLen: v.field('comm').size,
    path: o('path'), pathLen: v.field('path').size,
  };
}

/** A decoder for the session's records (offsets from BTF, looked up once). */
export function openDecoder(s: { struct(name: string): StructView }): (b: Buffer) => OpenRecord {
  const L = openLayout(s);
  return (b) => openRecordAt(L, b, 0, b.length);
}

/** The record at data[at, at + length) (a record of the ring buffer, read in place). */
export function openRecordAt(L: OpenLayout, b: Buffer, at: number, length: number, into?: OpenRecord): OpenRecord {
  const end = at + length;
  const r = into ?? {} as OpenRecord;
  r.tsNs = b.readBigUInt64LE(at + L.ts);
  r.cgroupId = u64(b, at + L.cgroupId);
  r.flags = u64(b, at + L.flags);
  r.pid = b.readUInt32LE(at + L.pid);
  r.tid = b.readUInt32LE(at + L.tid);
  r.uid = b.readUInt32LE(at + L.uid);
  r.ret = b.readInt32LE(at + L.ret);
  r.dirfd = b.readInt32LE(at + L.dirfd);
  r.syscall = KINDS[b.readUInt32LE(at + L.kind)] ?? 'openat';
  r.mode = b.readUInt32LE(at + L.mode);
  r.comm = cString(b, at + L.comm, Math.min(end, at + L.comm + L.commLen));
  r.path = cString(b, at + L.path, Math.min(end, at + L.path + L.pathLen));
  return r;
}

/** A u64 as a number (as Number(readBigUInt64LE) rounds it, without the BigInt). */
export const u64 = (b: Buffer, at: number): number => b.readUInt32LE(at + 4) * 4294967296 + b.readUInt32LE(at);

const FLAG_NAMES: Array<[number, string]> = [
  [0o100, 'O_CREAT'], [0o200, 'O_EXCL'], [0o400, 'O_NOCTTY'], [0o1000, 'O_TRUNC'], [0o2000, 'O_APPEND'],
  [0o4000, 'O_NONBLOCK'], [0o10000, 'O_DSYNC'], [0o20000, 'O_ASYNC'], [0o40000, 'O_DIRECT'],
  [0o200000, 'O_DIRECTORY'], [0o400000, 'O_NOFOLLOW'], [0o1000000, 'O_NOATIME'], [0o2000000, 'O_CLOEXEC'],
  [0o10000000, 'O_PATH'],
];

const flagNamesSeen = new Map<number, string>();
/** openFlagNames, remembered (a stream sees few distinct flag sets; at most 4096 are kept). */
export function openFlagNamesCached(flags: number): string {
  let s = flagNamesSeen.get(flags);
  if (s === undefined) {
    s = openFlagNames(flags);
    if (flagNamesSeen.size < 4096) flagNamesSeen.set(flags, s);
  }
  return s;
}

/** open(2) flags as names, x86-64/arm64 values: "O_RDONLY|O_CLOEXEC". */
export function openFlagNames(flags: number): string {
  const acc = ['O_RDONLY', 'O_WRONLY', 'O_RDWR', 'O_ACCMODE'][flags & 3]!;
  const names = [acc];
  let rest = flags & ~3;
  if ((rest & 0o20200000) === 0o20200000) { names.push('O_TMPFILE'); rest &= ~0o20200000; }
  if ((rest & 0o4010000) === 0o4010000) { names.push('O_SYNC'); rest &= ~0o4010000; }
  for (const [bit, name] of FLAG_NAMES) if (rest & bit) { names.push(name); rest &= ~bit; }
  if (rest) names.push(`0${rest.toString(8)}`);
  return names.join('|');
}
