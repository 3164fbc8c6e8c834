// What trace knows about each syscall: the kind of every argument (kinds.ts, from the kernel's
// signatures), which user memory to copy (and when: timeouts and inputs at entry, results at
// exit), and how to print it like strace. The copy ops become the `ops` table in the BPF
// object's .rodata (see bpf/trace.h).
import { formatIPv4, formatIPv6 } from '../../core/net.js';
import { errnoMessage, errnoName } from '../../core/syscalls/index.js';
import { specFor, type ArgType, type SyscallSpec } from './kinds.js';
import * as X from './xlat.js';

export type { ArgType, SyscallSpec } from './kinds.js';

/** exit and exit_group never return: the kernel side reports them at entry. */
export const NORETURN = ['exit', 'exit_group'];

// ---- copy ops (struct trace_copy_op in bpf/trace.h) ----
/** enum trace_copy_kind without its TRACE_COPY_ prefix; the numbers come from the object's BTF. */
export type CopyKind = 'FIXED' | 'STR' | 'ARGLEN' | 'RETLEN' | 'LENPTR' | 'STRARRAY' | 'DIRENTS';
export interface CopyOp { kind: CopyKind; atExit: boolean; arg: number; lenArg: number; max: number; mult: number; shift: number; retry?: boolean }
/** The kernel side's limits on a plan, from the object's BTF (TraceSession reads them). */
export interface PlanLimits {
  /** Ops per syscall: the size of trace_rec.lens (TRACE_MAX_OPS). */
  maxOps: number;
  /** Sum of the ops' max sizes: TRACE_DATA_USED. */
  dataBudget: number;
}
export const PATH_MAX_COPY = 256;
export const SOCKADDR_MAX = 128;
export const FDSET_MAX = 32;      // bytes: fds 0..255
export const POLLFD_MAX = 32;     // entries
export const EPEVENT_MAX = 16;    // entries
/** execve: argv strings shown (strace shows 32, then `...`), and bytes for them. */
export const ARGV_MAX = 32;
export const ARGV_BYTES = 640;

/** For one syscall: its copy ops (entry ops first, then exit ops: the order of the data). */
export interface Plan {
  nr: number;
  name: string;
  spec: SyscallSpec | undefined;
  ops: CopyOp[];
  /** For each argument index: the op index of its entry copy and of its exit copy. */
  entryOp: number[];
  exitOp: number[];
  strsize: number;
}

function op(kind: CopyKind, atExit: boolean, arg: number, max: number, lenArg = 0, mult = 1, shift = 0): CopyOp {
  return { kind, atExit, arg, lenArg, max, mult, shift };
}
/** An input the kernel reads but never changes: if its page was not present at entry, copy it at exit. */
const input = (o: CopyOp): CopyOp => ({ ...o, retry: true });

/** struct stat's fields strace shows (st_mode, st_rdev, st_size), per arch: x86_64 has its own layout. */
const STAT = process.arch === 'x64' ? { mode: 24, rdev: 40, size: 48 } : { mode: 16, rdev: 32, size: 48 };

/** The copy ops of one syscall; with `limits`, a plan the kernel side cannot carry throws. */
export function planFor(nr: number, name: string, strsize: number, limits?: PlanLimits): Plan {
  const spec = specFor(name);
  const entry: Array<[number, CopyOp]> = [];
  const exit: Array<[number, CopyOp]> = [];
  const perArg = Math.min(strsize + 2, 255);
  spec?.args.forEach((t, i) => {
    switch (t) {
      case 'path': entry.push([i, input(op('STR', false, i, PATH_MAX_COPY))]); break;
      // write/sendto: the data at entry, its length in the next argument
      case 'bufin': entry.push([i, input(op('ARGLEN', false, i, strsize, i + 1))]); break;
      // read/recvfrom: the data at exit, as much as the call returned
      case 'bufout': exit.push([i, op('RETLEN', true, i, strsize)]); break;
      case 'randbuf': exit.push([i, op('RETLEN', true, i, strsize)]); break;
      case 'cwdbuf': exit.push([i, op('RETLEN', true, i, PATH_MAX_COPY)]); break;
      case 'saddrin': entry.push([i, input(op('ARGLEN', false, i, SOCKADDR_MAX, i + 1))]); break;
      case 'saddrout': exit.push([i, op('LENPTR', true, i, SOCKADDR_MAX, i + 1)]); break;
      case 'timeval': case 'timespec': case 'futex_timeout': entry.push([i, op('FIXED', false, i, 16)]); break;
      case 'timespec_out': exit.push([i, op('FIXED', true, i, 16)]); break;
      case 'fdset':
        entry.push([i, op('ARGLEN', false, i, FDSET_MAX, 0, 1, 3)]);
        exit.push([i, op('ARGLEN', true, i, FDSET_MAX, 0, 1, 3)]);
        break;
      case 'pollfds': exit.push([i, op('ARGLEN', true, i, POLLFD_MAX * 8, i + 1, 8)]); break;
      case 'epevents': exit.push([i, op('RETLEN', true, i, EPEVENT_MAX * 12, 0, 12)]); break;
      case 'epevent': entry.push([i, input(op('FIXED', false, i, 12))]); break;
      case 'msghdr': entry.push([i, op('FIXED', false, i, 56)]); break;
      case 'cloneargs': entry.push([i, input(op('ARGLEN', false, i, 88, i + 1))]); break;
      case 'stat': exit.push([i, op('FIXED', true, i, 56)]); break;
      case 'statx': exit.push([i, op('FIXED', true, i, 48)]); break;
      case 'rlimit_in': entry.push([i, input(op('FIXED', false, i, 16))]); break;
      case 'rlimit_out': exit.push([i, op('FIXED', true, i, 16)]); break;
      case 'sigset_in': entry.push([i, input(op('FIXED', false, i, 8))]); break;
      case 'sigset_out': exit.push([i, op('FIXED', true, i, 8)]); break;
      case 'sigact_in': entry.push([i, input(op('FIXED', false, i, 32))]); break;
      case 'sigact_out': exit.push([i, op('FIXED', true, i, 32)]); break;
      case 'waitstatus': exit.push([i, op('FIXED', true, i, 4)]); break;
      case 'pipefds': exit.push([i, op('FIXED', true, i, 8)]); break;
      case 'utsname': exit.push([i, op('FIXED', true, i, 130)]); break;
      case 'sysinfo': exit.push([i, op('FIXED', true, i, 112)]); break;
      case 'intptr_out': exit.push([i, op('FIXED', true, i, 4)]); break;
      case 'optval_in': entry.push([i, input(op('ARGLEN', false, i, 16, i + 1))]); break;
      case 'optval_out': exit.push([i, op('LENPTR', true, i, 16, i + 1)]); break;
      // pointers until NULL counted (u32), then the first strings (each cut at strsize + 1 chars)
      case 'argv': entry.push([i, op('STRARRAY', false, i, ARGV_BYTES, 0, ARGV_MAX, perArg)]); break;
      case 'envp': entry.push([i, op('STRARRAY', false, i, 4, 0, 0, 0)]); break;
      case 'dirents': exit.push([i, op('DIRENTS', true, i, 4)]); break;
      default: break;
    }
  });
  // after a successful execve the old memory is gone: never copy its inputs again at exit
  if (name === 'execve' || name === 'execveat') for (const e of entry) e[1] = { ...e[1], retry: false };
  const all = [...entry, ...exit];
  if (limits && all.length > limits.maxOps) throw new Error(`trace: ${name} needs ${all.length} copies (max ${limits.maxOps})`);
  const budget = all.reduce((s, [, o]) => s + o.max, 0);
  if (limits && budget > limits.dataBudget) throw new Error(`trace: ${name} copies up to ${budget} bytes (max ${limits.dataBudget})`);
  const entryOp: number[] = [];
  const exitOp: number[] = [];
  all.forEach(([argIdx, o], k) => { (o.atExit ? exitOp : entryOp)[argIdx] = k; });
  return { nr, name, spec, ops: all.map(([, o]) => o), entryOp, exitOp, strsize };
}

// ---- formatting, strace style ----

/** One syscall as the kernel side reported it, with the copied user memory split per op. */
export interface TraceRecord {
  tsNs: bigint;
  durNs: number;
  ret: bigint;
  args: bigint[];
  tgid: number;
  tid: number;
  nr: number;
  comm: string;
  /** No return value: exit/exit_group, or a call cut short by the thread's exit (`= ?`). */
  noReturn: boolean;
  /** per op: the bytes copied, or 'fault' (unreadable), or null (not copied: NULL or no data) */
  chunks: Array<Buffer | 'fault' | null>;
  /** The thread exited inside the call (noReturn is set too). */
  cut?: boolean;
  /** -k: user stack addresses, innermost first. */
  stack?: bigint[];
}

/** strace's %#lx: 0 is `0`, anything else 0x... */
const hex = (v: bigint) => (v === 0n ? '0' : `0x${BigInt.asUintN(64, v).toString(16)}`);
const s32 = (v: bigint) => Number(BigInt.asIntN(32, v));
const u32 = (v: bigint) => Number(v & 0xffffffffn);
const s64 = (v: bigint) => BigInt.asIntN(64, v);

/**
 * strace-style quoted string: printable ASCII as is, C escapes (\t \n \v \f \r), the rest in
 * octal with as few digits as needed, except before an octal digit, where the escape is padded
 * to three digits so that it cannot absorb the digit ("\0017" is bytes 0x01 '7', "\17" is 0x0f).
 */
export function quote(buf: Buffer, truncated: boolean): string {
  let s = '"';
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i]!;
    if (c === 0x22) s += '\\"';
    else if (c === 0x5c) s += '\\\\';
    else if (c >= 0x20 && c < 0x7f) s += String.fromCharCode(c);
    else if (c >= 0x09 && c <= 0x0d) s += C_ESCAPES[c - 0x09];
    else {
      const next = buf[i + 1];
      const pad = next !== undefined && next >= 0x30 && next <= 0x37;
      s += '\\' + (pad ? c.toString(8).padStart(3, '0') : c.toString(8));
    }
  }
  return s + '"' + (truncated ? '...' : '');
}
const C_ESCAPES = ['\\t', '\\n', '\\v', '\\f', '\\r'];

/** Every byte as \xhh (strace prints getrandom's bytes so). */
export function quoteHex(buf: Buffer, truncated: boolean): string {
  let s = '"';
  for (const c of buf) s += `\\x${c.toString(16).padStart(2, '0')}`;
  return s + '"' + (truncated ? '...' : '');
}

export function sockaddr(b: Buffer): string {
  if (b.length < 2) return '{}';
  const fam = b.readUInt16LE(0);
  if (fam === 2 && b.length >= 8) return `{sa_family=AF_INET, sin_port=htons(${b.readUInt16BE(2)}), sin_addr=inet_addr("${formatIPv4(b.subarray(4, 8))}")}`;
  if (fam === 10 && b.length >= 24) {
    const scope = b.length >= 28 ? b.readUInt32LE(24) : 0;
    return `{sa_family=AF_INET6, sin6_port=htons(${b.readUInt16BE(2)}), sin6_flowinfo=htonl(${b.readUInt32BE(4)}), inet_pton(AF_INET6, "${formatIPv6(b.subarray(8, 24))}", &sin6_addr), sin6_scope_id=${scope}}`;
  }
  if (fam === 1) {
    const path = b.subarray(2);
    if (path.length > 0 && path[0] === 0) return `{sa_family=AF_UNIX, sun_path=@${quote(path.subarray(1), false)}}`;
    const end = path.indexOf(0);
    return `{sa_family=AF_UNIX, sun_path=${quote(end < 0 ? path : path.subarray(0, end), false)}}`;
  }
  if (fam === 16 && b.length >= 12) return `{sa_family=AF_NETLINK, nl_pid=${b.readUInt32LE(4)}, nl_groups=${b.readUInt32LE(8).toString(16).padStart(8, '0')}}`;
  return `{sa_family=${X.DOMAINS[fam] ?? fam}, sa_data=${quote(b.subarray(2), false)}}`;
}

/** The fd numbers set in an fd_set. */
function fdsetList(b: Buffer, nfds: number): number[] {
  const out: number[] = [];
  for (let fd = 0; fd < Math.min(nfds, b.length * 8); fd++) if (b[fd >> 3]! & (1 << (fd & 7))) out.push(fd);
  return out;
}

function cstr(b: Buffer): Buffer { const z = b.indexOf(0); return z < 0 ? b : b.subarray(0, z); }

function statText(b: Buffer): string {
  if (b.length < 56) return '{...}';
  const mode = b.readUInt32LE(STAT.mode);
  const type = mode & 0o170000;
  const dev = b.readBigUInt64LE(STAT.rdev);
  // the kernel's new_encode_dev: major in bits 8..19, minor in 0..7 and 20..31
  const rdev = () => `makedev(${hex((dev >> 8n) & 0xfffn)}, ${hex((dev & 0xffn) | ((dev >> 12n) & 0xfff00n))})`;
  if (type === 0o20000 || type === 0o60000) return `{st_mode=${X.fileMode(mode)}, st_rdev=${rdev()}, ...}`;
  return `{st_mode=${X.fileMode(mode)}, st_size=${b.readBigInt64LE(STAT.size)}, ...}`;
}

function statxText(b: Buffer): string {
  if (b.length < 48) return '{...}';
  const mask = b.readUInt32LE(0);
  return `{stx_mask=${X.flagNames(mask, X.STATX_MASK)}, stx_attributes=${X.flagNames(Number(b.readBigUInt64LE(8) & 0xffffffffn), X.STATX_ATTRS)}, stx_mode=${X.fileMode(b.readUInt16LE(28))}, stx_size=${b.readBigUInt64LE(40)}, ...}`;
}

function sigactText(b: Buffer): string {
  if (b.length < 32) return '{...}';
  const handler = b.readBigUInt64LE(0);
  const flags = b.readBigUInt64LE(8);
  const h = handler === 0n ? 'SIG_DFL' : handler === 1n ? 'SIG_IGN' : hex(handler);
  const f = Number(flags & 0xffffffffn);
  const restorer = f & 0x04000000 ? `, sa_restorer=${hex(b.readBigUInt64LE(16))}` : '';
  return `{sa_handler=${h}, sa_mask=${X.sigset(b.subarray(24, 32))}, sa_flags=${X.flagNames(f, X.SA_FLAGS)}${restorer}}`;
}

/** argv: "u32 count, then NUL-terminated strings" (STRARRAY); strings cut at strsize. */
function argvText(b: Buffer, strsize: number): string {
  if (b.length < 4) return '[]';
  const n = b.readUInt32LE(0);
  const items: string[] = [];
  let at = 4;
  while (at < b.length && items.length < n) {
    const z = b.indexOf(0, at);
    const s = b.subarray(at, z < 0 ? b.length : z);
    items.push(quote(s.subarray(0, strsize), s.length > strsize || z < 0));
    if (z < 0) break;
    at = z + 1;
  }
  return `[${items.join(', ')}${n > items.length ? ', ...' : ''}]`;
}

function utsText(b: Buffer): string {
  if (b.length < 130) return '{...}';
  return `{sysname=${quote(cstr(b.subarray(0, 65)), false)}, nodename=${quote(cstr(b.subarray(65, 130)), false)}, ...}`;
}

/** -y: `<path>` after a descriptor of process tgid (set by the tool; none by default). */
let fdAnnotator: ((tgid: number, fd: number) => string) | undefined;
export function setFdAnnotator(f: typeof fdAnnotator): void { fdAnnotator = f; }
const fdText = (r: TraceRecord, fd: number) => String(fd) + (fdAnnotator ? fdAnnotator(r.tgid, fd) : '');
/** Syscalls whose result is a new descriptor (strace -y annotates it too). */
const FD_RESULT = new Set(['open', 'openat', 'openat2', 'creat', 'dup', 'dup2', 'dup3', 'socket', 'accept', 'accept4', 'epoll_create', 'epoll_create1',
  'eventfd', 'eventfd2', 'signalfd4', 'timerfd_create', 'memfd_create', 'inotify_init1', 'pidfd_open', 'fsopen', 'open_tree']);

/** struct sysinfo (64-bit layout): longs, then procs (u16) at 80, the high memory at 88, mem_unit at 104. */
function sysinfoText(b: Buffer): string {
  if (b.length < 108) return '{...}';
  const l = (at: number) => b.readBigUInt64LE(at).toString();
  return `{uptime=${b.readBigInt64LE(0)}, loads=[${l(8)}, ${l(16)}, ${l(24)}], totalram=${l(32)}, freeram=${l(40)}, sharedram=${l(48)}, bufferram=${l(56)}, totalswap=${l(64)}, freeswap=${l(72)}, procs=${b.readUInt16LE(80)}, totalhigh=${l(88)}, freehigh=${l(96)}, mem_unit=${b.readUInt32LE(104)}}`;
}

/** Text of one argument, strace style. */
export function formatArg(t: ArgType, i: number, r: TraceRecord, plan: Plan): string {
  const v = r.args[i]!;
  const entry = plan.entryOp[i] !== undefined ? r.chunks[plan.entryOp[i]!] : undefined;
  const exit = plan.exitOp[i] !== undefined ? r.chunks[plan.exitOp[i]!] : undefined;
  const failed = r.ret < 0n && r.ret >= -4095n;
  const ptrOr = (chunk: Buffer | 'fault' | null | undefined, f: (b: Buffer) => string): string => {
    if (v === 0n) return 'NULL';
    if (chunk instanceof Buffer) return f(chunk);
    return hex(v);
  };
  /** an out-parameter: shown only when the call succeeded */
  const outOr = (f: (b: Buffer) => string): string => (failed || r.noReturn ? (v === 0n ? 'NULL' : hex(v)) : ptrOr(exit, f));
  switch (t) {
    case 'int': return String(s32(v));
    case 'fd': return fdText(r, s32(v));
    case 'int64': return s64(v).toString();
    case 'dirfd': return s32(v) === -100 ? 'AT_FDCWD' : fdText(r, s32(v));
    case 'uint': return String(u32(v));
    case 'size': return v.toString();
    case 'hex': return hex(v);
    case 'ptr': return v === 0n ? 'NULL' : hex(v);
    case 'mode': return `0${u32(v & 0o7777n).toString(8).padStart(3, '0')}`;
    case 'oflags': return X.oflags(u32(v));
    case 'pipeflags': return X.flagNames(u32(v), X.O_FLAGS);
    case 'atflags': return X.flagNames(u32(v), X.AT_FLAGS);
    case 'accessatflags': return X.flagNames(u32(v), X.ACCESSAT_FLAGS);
    case 'statxflags': return X.statxFlags(u32(v));
    case 'statxmask': return X.flagNames(u32(v), X.STATX_MASK_REQ);
    case 'amode': return X.flagNames(u32(v & 7n), X.AMODE, 'F_OK');
    case 'path': return ptrOr(entry, (b) => quote(cstr(b), b.indexOf(0) < 0));
    case 'bufin': {
      const want = r.args[i + 1]!;
      return ptrOr(entry ?? null, (b) => quote(b, BigInt(b.length) < want));
    }
    case 'bufout':
      if (failed || r.noReturn) return v === 0n ? 'NULL' : hex(v);
      if (r.ret === 0n) return '""';
      return ptrOr(exit ?? null, (b) => quote(b, BigInt(b.length) < r.ret));
    case 'randbuf':
      if (failed || r.noReturn) return hex(v);
      return ptrOr(exit ?? null, (b) => quoteHex(b, BigInt(b.length) < r.ret));
    case 'cwdbuf': return outOr((b) => quote(cstr(b), false));
    case 'saddrin': return ptrOr(entry, sockaddr);
    case 'saddrout': return outOr(sockaddr);
    case 'timeval': return ptrOr(entry, (b) => b.length >= 16 ? `{tv_sec=${b.readBigInt64LE(0)}, tv_usec=${b.readBigInt64LE(8)}}` : hex(v));
    case 'timespec': return ptrOr(entry, (b) => b.length >= 16 ? `{tv_sec=${b.readBigInt64LE(0)}, tv_nsec=${b.readBigInt64LE(8)}}` : hex(v));
    case 'timespec_out': return outOr((b) => b.length >= 16 ? `{tv_sec=${b.readBigInt64LE(0)}, tv_nsec=${b.readBigInt64LE(8)}}` : hex(v));
    case 'futex_timeout': {
      const fop = u32(r.args[1]!);
      if (!X.futexHasTimeout(fop)) return String(s32(v));
      return ptrOr(entry, (b) => b.length >= 16 ? `{tv_sec=${b.readBigInt64LE(0)}, tv_nsec=${b.readBigInt64LE(8)}}` : hex(v));
    }
    case 'fdset': return ptrOr(entry, (b) => `[${fdsetList(b, s32(r.args[0]!)).join(' ')}]`);
    case 'pollfds': {
      const b = exit;
      if (v === 0n) return 'NULL';
      if (!(b instanceof Buffer)) return hex(v);
      const items: string[] = [];
      for (let o = 0; o + 8 <= b.length; o += 8) items.push(`{fd=${b.readInt32LE(o)}, events=${X.flagNames(b.readUInt16LE(o + 4), X.POLL_BITS)}}`);
      const n = u32(r.args[1]!);
      return `[${items.join(', ')}${n > items.length ? ', ...' : ''}]`;
    }
    case 'epevents':
      if (failed || r.ret === 0n) return v === 0n ? 'NULL' : (failed ? hex(v) : '[]');
      return ptrOr(exit, (b) => {
        const items: string[] = [];
        for (let o = 0; o + 12 <= b.length; o += 12) items.push(`{events=${X.flagNames(b.readUInt32LE(o), X.EPOLL_BITS)}, data=${hex(b.readBigUInt64LE(o + 4))}}`);
        return `[${items.join(', ')}${Number(r.ret) > items.length ? ', ...' : ''}]`;
      });
    case 'epevent': return ptrOr(entry, (b) => b.length >= 12 ? `{events=${X.flagNames(b.readUInt32LE(0), X.EPOLL_BITS)}, data=${hex(b.readBigUInt64LE(4))}}` : hex(v));
    case 'epollctl': return X.EPOLL_CTL[Number(v)] ?? String(v);
    case 'prot': return X.flagNames(u32(v), X.PROT, 'PROT_NONE');
    case 'mapflags': {
      const n = u32(v);
      const rest = X.flagNames(n & ~3, X.MAP_FLAGS, '');
      return (X.MAP_TYPE[n & 3] ?? '0') + (rest ? `|${rest}` : '');
    }
    case 'domain': return X.DOMAINS[Number(v)] ?? String(v);
    case 'socktype': return X.sockType(u32(v));
    case 'sockflags': return X.flagNames(u32(v), X.SOCK_FLAGS);
    case 'msgflags': return X.flagNames(u32(v), X.MSG_FLAGS);
    case 'how': return X.HOW[Number(v)] ?? String(v);
    case 'cloneflags': return cloneFlags(u32(v));
    case 'cloneargs': return ptrOr(entry, (b) => {
      if (b.length < 64) return hex(v);
      const flags = Number(b.readBigUInt64LE(0) & 0xffffffffn);
      const exitSig = Number(b.readBigUInt64LE(32));
      return `{flags=${X.flagNames(flags, X.CLONE_FLAGS)}, exit_signal=${exitSig ? X.signalName(exitSig) : 0}, stack=${hex(b.readBigUInt64LE(40))}, stack_size=${hex(b.readBigUInt64LE(48))}}`;
    });
    case 'futexop': return X.futexOp(u32(v));
    case 'signal': return X.signalName(u32(v));
    case 'ioctl': return X.IOCTLS[u32(v)] ?? hex(v);
    case 'ioctlarg': return u32(r.args[1]!) === 0x40049409 ? String(s32(v)) : hex(v); // FICLONE takes an fd
    case 'clockid': return X.CLOCKS[Number(v)] ?? String(v);
    case 'timerflags': return Number(v) === 1 ? 'TIMER_ABSTIME' : String(v);
    case 'whence': return X.WHENCE[Number(v)] ?? String(v);
    case 'msghdr': return ptrOr(entry, (b) => b.length >= 56
      ? `{msg_name=${b.readBigUInt64LE(0) ? hex(b.readBigUInt64LE(0)) : 'NULL'}, msg_namelen=${b.readUInt32LE(8)}, msg_iov=${hex(b.readBigUInt64LE(16))}, msg_iovlen=${b.readBigUInt64LE(24)}, msg_controllen=${b.readBigUInt64LE(40)}, msg_flags=${X.flagNames(b.readUInt32LE(48), X.MSG_FLAGS)}}`
      : hex(v));
    case 'stat': return outOr(statText);
    case 'statx': return outOr(statxText);
    case 'rlimit_in': return ptrOr(entry, (b) => b.length >= 16 ? `{rlim_cur=${X.rlimValue(b.readBigUInt64LE(0))}, rlim_max=${X.rlimValue(b.readBigUInt64LE(8))}}` : hex(v));
    case 'rlimit_out': return outOr((b) => b.length >= 16 ? `{rlim_cur=${X.rlimValue(b.readBigUInt64LE(0))}, rlim_max=${X.rlimValue(b.readBigUInt64LE(8))}}` : hex(v));
    case 'rlimitres': return X.RLIMITS[u32(v)] ?? String(u32(v));
    case 'sigset_in': return ptrOr(entry, X.sigset);
    case 'sigset_out': return outOr(X.sigset);
    case 'sighow': return X.enumName(u32(v), X.SIG_HOW);
    case 'sigact_in': return ptrOr(entry, sigactText);
    case 'sigact_out': return outOr(sigactText);
    case 'waitstatus': return r.ret > 0n ? outOr((b) => X.waitStatus(b.readInt32LE(0))) : (v === 0n ? 'NULL' : hex(v));
    case 'waitopts': return X.flagNames(u32(v), X.WAIT_OPTS);
    case 'pipefds': return outOr((b) => b.length >= 8 ? `[${b.readInt32LE(0)}, ${b.readInt32LE(4)}]` : hex(v));
    case 'utsname': return outOr(utsText);
    case 'sysinfo': return outOr(sysinfoText);
    case 'argv': return ptrOr(entry, (b) => argvText(b, plan.strsize));
    case 'envp': return ptrOr(entry, (b) => b.length >= 4 ? `${hex(v)} /* ${b.readUInt32LE(0)} vars */` : hex(v));
    case 'dirents':
      if (r.ret === 0n) return `${hex(v)} /* 0 entries */`;
      return outOr((b) => b.length >= 4 ? `${hex(v)} /* ${b.readUInt32LE(0)} entries */` : hex(v));
    case 'fadvise': return X.enumName(s32(v), X.FADVISE);
    // getgroups(0, ...) only counts: strace shows the empty list
    case 'grouplist': return v === 0n ? 'NULL' : s32(r.args[0]!) === 0 && !failed ? '[]' : hex(v);
    case 'fcntlcmd': return X.enumName(u32(v), X.FCNTL_CMDS);
    case 'fcntlarg': return fcntlArg(u32(r.args[1]!), v);
    case 'archprctl': return X.ARCH_PRCTL[s32(v)] ?? `${hex(v)} /* ARCH_??? */`;
    case 'grndflags': return X.flagNames(u32(v), X.GRND);
    case 'madvise': return X.enumName(u32(v), X.MADVISE);
    case 'socklevel': return X.enumName(s32(v), X.STRACE_LEVELS);
    case 'sockopt': return X.SOCKOPTS_BY_LEVEL[s32(r.args[1]!)]?.[s32(v)] ?? String(s32(v));
    case 'optval_in': return ptrOr(entry, (b) => (b.length === 4 ? `[${b.readInt32LE(0)}]` : quote(b, false)));
    case 'optval_out': return outOr((b) => (b.length === 4 ? `[${b.readInt32LE(0)}]` : quote(b, false)));
    case 'intptr_out': return outOr((b) => (b.length >= 4 ? `[${b.readInt32LE(0)}]` : hex(v)));
  }
}

/** fcntl's third argument: per command (none for the F_GET* ones: see argCount). */
function fcntlArg(cmd: number, v: bigint): string {
  switch (cmd) {
    case 2: return X.flagNames(u32(v), X.FD_FLAGS);     // F_SETFD
    case 4: return X.oflags(u32(v));                      // F_SETFL
    case 0: case 1030: case 8: case 10: case 1024: case 1031: return String(s32(v));
    default: return hex(v);
  }
}
const FCNTL_NOARG = new Set([1, 3, 9, 11, 1025, 1032, 1034]);

/** How many arguments strace shows: fewer where the rest are unused. */
function argCount(r: TraceRecord, plan: Plan): number {
  const n = plan.spec!.args.length;
  switch (plan.name) {
    // open/openat: the mode only matters with O_CREAT or O_TMPFILE (strace leaves it out too)
    case 'open': return (u32(r.args[1]!) & 0o20000100) === 0 ? 2 : 3;
    case 'openat': return (u32(r.args[2]!) & 0o20000100) === 0 ? 3 : 4;
    case 'futex': return X.FUTEX_ARGC[Number(r.args[1]! & 0x7fn)] ?? 6;
    case 'fcntl': return FCNTL_NOARG.has(u32(r.args[1]!)) ? 2 : 3;
    default: return n;
  }
}

/** CLONE_* flags, then the exit signal in the low byte. */
function cloneFlags(n: number): string {
  const sig = n & 0xff;
  const rest = X.flagNames(n & ~0xff, X.CLONE_FLAGS, '');
  return [rest, sig ? X.signalName(sig) : ''].filter(Boolean).join('|') || '0';
}

/** clone as strace shows it: named arguments, only those the flags use. */
function cloneText(r: TraceRecord): string {
  const [flags, stack, ptid, ctid, tls] = r.args as [bigint, bigint, bigint, bigint, bigint];
  const f = u32(flags);
  const parts = [`child_stack=${stack === 0n ? 'NULL' : hex(stack)}`, `flags=${cloneFlags(f)}`];
  if (f & 0x100000) parts.push(`parent_tid=${hex(ptid)}`);
  if (f & 0x1200000) parts.push(`child_tidptr=${hex(ctid)}`);
  if (f & 0x80000) parts.push(`tls=${hex(tls)}`);
  return parts.join(', ');
}

/** `-1 ENOENT (No such file or directory)`, restart codes by name. */
export function errorText(errno: number): string {
  const restart = X.RESTART_ERRNOS[errno];
  if (restart) return `-1 ${restart[0]} (${restart[1]})`;
  const msg = errnoMessage(errno);
  return `-1 ${errnoName(errno)}${msg ? ` (${msg})` : ''}`;
}

/** The text after " = ": result, errno name, and details found at exit (select's ready sets, poll's revents). */
export function formatResult(r: TraceRecord, plan: Plan): string {
  if (r.noReturn) return '?';
  const ret = r.ret;
  if (ret < 0n && ret >= -4095n) return errorText(Number(-ret));
  const spec = plan.spec;
  let text = spec?.ret === 'hex' ? hex(ret) : ret.toString();
  if (fdAnnotator && FD_RESULT.has(plan.name) && ret >= 0n) return fdText(r, Number(ret));
  if (!spec || ret <= 0n) return text;
  const name = plan.name;
  if (name === 'select' || name === 'pselect6') {
    const parts: string[] = [];
    (['in', 'out', 'except'] as const).forEach((label, k) => {
      const c = plan.exitOp[k + 1] !== undefined ? r.chunks[plan.exitOp[k + 1]!] : undefined;
      if (c instanceof Buffer) {
        const fds = fdsetList(c, s32(r.args[0]!));
        if (fds.length) parts.push(`${label} [${fds.join(' ')}]`);
      }
    });
    if (parts.length) text += ` (${parts.join(', ')})`;
  } else if (name === 'poll' || name === 'ppoll') {
    const c = r.chunks[plan.exitOp[0]!];
    if (c instanceof Buffer) {
      const items: string[] = [];
      for (let o = 0; o + 8 <= c.length; o += 8) {
        const rev = c.readUInt16LE(o + 6);
        if (rev) items.push(`{fd=${c.readInt32LE(o)}, revents=${X.flagNames(rev, X.POLL_BITS)}}`);
      }
      if (items.length) text += ` ([${items.join(', ')}])`;
    }
  } else if (name === 'fcntl') {
    const cmd = u32(r.args[1]!);
    if (cmd === 3) text = `${hex(ret)} (flags ${X.oflags(Number(ret))})`;
    else if (cmd === 1) text = `${hex(ret)} (flags ${X.flagNames(Number(ret), X.FD_FLAGS)})`;
  }
  return text;
}

/** `name(args) = result` (without duration / prefixes). */
export function formatCall(r: TraceRecord, plan: Plan): string {
  const spec = plan.spec;
  let args: string;
  if (plan.name === 'clone' && process.arch === 'x64') args = cloneText(r);
  else if (spec) args = spec.args.slice(0, argCount(r, plan)).map((t, i) => formatArg(t, i, r, plan)).join(', ');
  else args = r.args.map(hex).join(', ');
  return `${plan.name}(${args}) = ${formatResult(r, plan)}`;
}

export { s64 };
