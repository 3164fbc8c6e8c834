// opensnoop's kernel side: bpf/opensnoop.bpf.o on tp_btf/sys_exit, filters as constants, one
// record per open/openat/openat2 through the ring buffer.
import { syscallNumber } from '../../core/syscalls/index.js';
import { RingSource } from '../../toolkit/stream.js';

export interface OpensnoopFilters {
  tgid?: number;
  tid?: number;
  uid?: number;
  failedOnly?: boolean;
}

export interface OpenRecord {
  tsNs: bigint;
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
  return RingSource.open({
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

/** A decoder for the session's records (offsets from BTF, looked up once). */
export function openDecoder(s: RingSource): (b: Buffer) => OpenRecord {
  const v = s.struct('open_event');
  const o = (n: string) => v.field(n).offset;
  const [ts, flags, pid, tid, uid, ret, dirfd, kind, mode, comm, path] =
    ['ts_ns', 'flags', 'pid', 'tid', 'uid', 'ret', 'dirfd', 'kind', 'mode', 'comm', 'path'].map(o) as number[];
  const commLen = v.field('comm').size;
  const pathLen = v.field('path').size;
  const cstr = (b: Buffer, at: number, len: number) => {
    const end = b.indexOf(0, at);
    return b.toString('utf8', at, end < 0 || end > at + len ? at + len : end);
  };
  return (b) => ({
    tsNs: b.readBigUInt64LE(ts!),
    flags: Number(b.readBigUInt64LE(flags!)),
    pid: b.readUInt32LE(pid!),
    tid: b.readUInt32LE(tid!),
    uid: b.readUInt32LE(uid!),
    ret: b.readInt32LE(ret!),
    dirfd: b.readInt32LE(dirfd!),
    syscall: KINDS[b.readUInt32LE(kind!)] ?? 'openat',
    mode: b.readUInt32LE(mode!),
    comm: cstr(b, comm!, commLen),
    path: cstr(b, path!, pathLen),
  });
}

const FLAG_NAMES: Array<[number, string]> = [
  [0o100, 'O_CREAT'], [0o200, 'O_EXCL'], [0o400, 'O_NOCTTY'], [0o1000, 'O_TRUNC'], [0o2000, 'O_APPEND'],
  [0o4000, 'O_NONBLOCK'], [0o10000, 'O_DSYNC'], [0o20000, 'O_ASYNC'], [0o40000, 'O_DIRECT'],
  [0o200000, 'O_DIRECTORY'], [0o400000, 'O_NOFOLLOW'], [0o1000000, 'O_NOATIME'], [0o2000000, 'O_CLOEXEC'],
  [0o10000000, 'O_PATH'],
];

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
