// What trace knows about each syscall: the type of every argument, which user memory to copy
// (and when: timeouts and inputs at entry, results at exit), and how to print it like strace.
// The copy ops become the `ops` table in the BPF object's .rodata (see bpf/trace.h).
import { formatIPv4, formatIPv6 } from '../../core/net.js';
import { errnoName, syscallNumber } from '../../core/syscalls/index.js';

/** Argument types. Types with a copy get their bytes from the kernel side. */
export type ArgType =
  | 'int' | 'uint' | 'size' | 'hex' | 'ptr' | 'fd' | 'dirfd' | 'mode' | 'oflags' | 'atflags' | 'amode'
  | 'path' | 'bufin' | 'bufout' | 'saddrin' | 'saddrout' | 'timeval' | 'timespec' | 'futex_timeout'
  | 'fdset' | 'pollfds' | 'epevents' | 'prot' | 'mapflags' | 'domain' | 'socktype' | 'sockflags'
  | 'cloneflags' | 'cloneargs' | 'futexop' | 'signal' | 'how' | 'ioctl' | 'msgflags' | 'msghdr'
  | 'clockid' | 'timerflags' | 'whence' | 'epollctl' | 'epevent';

export interface SyscallSpec { args: ArgType[]; ret?: 'hex' | 'int' | 'fd' }

/** The syscalls with decoders (names as in the kernel's table; missing ones on an arch are skipped). */
export const SPECS: Record<string, SyscallSpec> = {
  read: { args: ['fd', 'bufout', 'size'] },
  write: { args: ['fd', 'bufin', 'size'] },
  pread64: { args: ['fd', 'bufout', 'size', 'int'] },
  pwrite64: { args: ['fd', 'bufin', 'size', 'int'] },
  readv: { args: ['fd', 'ptr', 'int'] },
  writev: { args: ['fd', 'ptr', 'int'] },
  open: { args: ['path', 'oflags', 'mode'] },
  openat: { args: ['dirfd', 'path', 'oflags', 'mode'] },
  creat: { args: ['path', 'mode'] },
  close: { args: ['fd'] },
  stat: { args: ['path', 'ptr'] },
  lstat: { args: ['path', 'ptr'] },
  fstat: { args: ['fd', 'ptr'] },
  newfstatat: { args: ['dirfd', 'path', 'ptr', 'atflags'] },
  statx: { args: ['dirfd', 'path', 'atflags', 'hex', 'ptr'] },
  access: { args: ['path', 'amode'] },
  faccessat: { args: ['dirfd', 'path', 'amode'] },
  faccessat2: { args: ['dirfd', 'path', 'amode', 'atflags'] },
  unlink: { args: ['path'] },
  unlinkat: { args: ['dirfd', 'path', 'atflags'] },
  mkdir: { args: ['path', 'mode'] },
  mkdirat: { args: ['dirfd', 'path', 'mode'] },
  fchmodat: { args: ['dirfd', 'path', 'mode'] },
  getdents64: { args: ['fd', 'ptr', 'size'] },
  chdir: { args: ['path'] },
  lseek: { args: ['fd', 'int', 'whence'] },
  dup: { args: ['fd'] },
  dup2: { args: ['fd', 'fd'] },
  dup3: { args: ['fd', 'fd', 'oflags'] },
  select: { args: ['int', 'fdset', 'fdset', 'fdset', 'timeval'] },
  pselect6: { args: ['int', 'fdset', 'fdset', 'fdset', 'timespec', 'ptr'] },
  poll: { args: ['pollfds', 'uint', 'int'] },
  ppoll: { args: ['pollfds', 'uint', 'timespec', 'ptr', 'size'] },
  epoll_wait: { args: ['fd', 'epevents', 'int', 'int'] },
  epoll_pwait: { args: ['fd', 'epevents', 'int', 'int', 'ptr', 'size'] },
  epoll_ctl: { args: ['fd', 'epollctl', 'fd', 'epevent'] },
  nanosleep: { args: ['timespec', 'ptr'] },
  clock_nanosleep: { args: ['clockid', 'timerflags', 'timespec', 'ptr'] },
  futex: { args: ['ptr', 'futexop', 'int', 'futex_timeout', 'ptr', 'int'] },
  socket: { args: ['domain', 'socktype', 'int'] },
  connect: { args: ['fd', 'saddrin', 'uint'] },
  accept: { args: ['fd', 'saddrout', 'ptr'] },
  accept4: { args: ['fd', 'saddrout', 'ptr', 'sockflags'] },
  bind: { args: ['fd', 'saddrin', 'uint'] },
  listen: { args: ['fd', 'int'] },
  sendto: { args: ['fd', 'bufin', 'size', 'msgflags', 'saddrin', 'uint'] },
  recvfrom: { args: ['fd', 'bufout', 'size', 'msgflags', 'saddrout', 'ptr'] },
  sendmsg: { args: ['fd', 'msghdr', 'msgflags'] },
  recvmsg: { args: ['fd', 'msghdr', 'msgflags'] },
  shutdown: { args: ['fd', 'how'] },
  fsync: { args: ['fd'] },
  fdatasync: { args: ['fd'] },
  mmap: { args: ['ptr', 'size', 'prot', 'mapflags', 'fd', 'hex'], ret: 'hex' },
  munmap: { args: ['ptr', 'size'] },
  mprotect: { args: ['ptr', 'size', 'prot'] },
  brk: { args: ['ptr'], ret: 'hex' },
  clone: { args: ['cloneflags', 'ptr', 'ptr', 'ptr', 'hex'] },
  clone3: { args: ['cloneargs', 'size'] },
  fork: { args: [] },
  vfork: { args: [] },
  execve: { args: ['path', 'ptr', 'ptr'] },
  exit: { args: ['int'] },
  exit_group: { args: ['int'] },
  kill: { args: ['int', 'signal'] },
  tgkill: { args: ['int', 'int', 'signal'] },
  tkill: { args: ['int', 'signal'] },
  ioctl: { args: ['fd', 'ioctl', 'hex'] },
  getpid: { args: [] },
  getppid: { args: [] },
  gettid: { args: [] },
  getuid: { args: [] },
  sched_yield: { args: [] },
  pipe2: { args: ['ptr', 'oflags'] },
  wait4: { args: ['int', 'ptr', 'hex', 'ptr'] },
};

/** exit and exit_group never return: the kernel side reports them at entry. */
export const NORETURN = ['exit', 'exit_group'];

// ---- copy ops (struct trace_copy_op in bpf/trace.h) ----
/** enum trace_copy_kind without its TRACE_COPY_ prefix; the numbers come from the object's BTF. */
export type CopyKind = 'FIXED' | 'STR' | 'ARGLEN' | 'RETLEN' | 'LENPTR';
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

/** For one syscall: its copy ops (entry ops first, then exit ops: the order of the data). */
export interface Plan {
  nr: number;
  name: string;
  spec: SyscallSpec | undefined;
  ops: CopyOp[];
  /** For each argument index: the op index of its entry copy and of its exit copy. */
  entryOp: number[];
  exitOp: number[];
}

function op(kind: CopyKind, atExit: boolean, arg: number, max: number, lenArg = 0, mult = 1, shift = 0): CopyOp {
  return { kind, atExit, arg, lenArg, max, mult, shift };
}
/** An input the kernel reads but never changes: if its page was not present at entry, copy it at exit. */
const input = (o: CopyOp): CopyOp => ({ ...o, retry: true });

/** The copy ops of one syscall; with `limits`, a plan the kernel side cannot carry throws. */
export function planFor(nr: number, name: string, strsize: number, limits?: PlanLimits): Plan {
  const spec = SPECS[name];
  const entry: Array<[number, CopyOp]> = [];
  const exit: Array<[number, CopyOp]> = [];
  spec?.args.forEach((t, i) => {
    switch (t) {
      case 'path': entry.push([i, input(op('STR', false, i, PATH_MAX_COPY))]); break;
      // write/sendto: the data at entry, its length in the next argument
      case 'bufin': entry.push([i, input(op('ARGLEN', false, i, strsize, i + 1))]); break;
      // read/recvfrom: the data at exit, as much as the call returned
      case 'bufout': exit.push([i, op('RETLEN', true, i, strsize)]); break;
      case 'saddrin': entry.push([i, input(op('ARGLEN', false, i, SOCKADDR_MAX, i + 1))]); break;
      case 'saddrout': exit.push([i, op('LENPTR', true, i, SOCKADDR_MAX, i + 1)]); break;
      case 'timeval': case 'timespec': case 'futex_timeout': entry.push([i, op('FIXED', false, i, 16)]); break;
      case 'fdset':
        entry.push([i, op('ARGLEN', false, i, FDSET_MAX, 0, 1, 3)]);
        exit.push([i, op('ARGLEN', true, i, FDSET_MAX, 0, 1, 3)]);
        break;
      case 'pollfds': exit.push([i, op('ARGLEN', true, i, POLLFD_MAX * 8, i + 1, 8)]); break;
      case 'epevents': exit.push([i, op('RETLEN', true, i, EPEVENT_MAX * 12, 0, 12)]); break;
      case 'epevent': entry.push([i, input(op('FIXED', false, i, 12))]); break;
      case 'msghdr': entry.push([i, op('FIXED', false, i, 56)]); break;
      case 'cloneargs': entry.push([i, input(op('ARGLEN', false, i, 88, i + 1))]); break;
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
  return { nr, name, spec, ops: all.map(([, o]) => o), entryOp, exitOp };
}

/** The numbers of the syscalls with decoders on this arch. */
export function decodedSyscalls(): string[] {
  return Object.keys(SPECS).filter((n) => syscallNumber(n) !== undefined);
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
  noReturn: boolean;
  /** per op: the bytes copied, or 'fault' (unreadable), or null (not copied: NULL or no data) */
  chunks: Array<Buffer | 'fault' | null>;
}

const hex = (v: bigint) => `0x${v.toString(16)}`;
const s32 = (v: bigint) => Number(BigInt.asIntN(32, v));
const s64 = (v: bigint) => BigInt.asIntN(64, v);

function flagNames(v: number, table: Array<[number, string]>, zero = '0'): string {
  const parts: string[] = [];
  let rest = v >>> 0;
  for (const [bit, name] of table) {
    if (bit !== 0 && (rest & bit) === bit) { parts.push(name); rest = (rest & ~bit) >>> 0; }
  }
  if (rest) parts.push(`0x${rest.toString(16)}`);
  return parts.length ? parts.join('|') : zero;
}

const O_FLAGS: Array<[number, string]> = [
  [0o100, 'O_CREAT'], [0o200, 'O_EXCL'], [0o400, 'O_NOCTTY'], [0o1000, 'O_TRUNC'], [0o2000, 'O_APPEND'],
  [0o4000, 'O_NONBLOCK'], [0o4010000, 'O_SYNC'], [0o10000, 'O_DSYNC'], [0o20000, 'O_ASYNC'], [0o40000, 'O_DIRECT'],
  [0o200000, 'O_DIRECTORY'], [0o400000, 'O_NOFOLLOW'], [0o1000000, 'O_NOATIME'], [0o2000000, 'O_CLOEXEC'],
  [0o10000000, 'O_PATH'], [0o20200000, 'O_TMPFILE'], [0o100000, 'O_LARGEFILE'],
];
function oflags(v: number): string {
  const acc = ['O_RDONLY', 'O_WRONLY', 'O_RDWR', 'O_ACCMODE'][v & 3]!;
  const rest = flagNames(v & ~3, O_FLAGS, '');
  return rest ? `${acc}|${rest}` : acc;
}
const AT_FLAGS: Array<[number, string]> = [[0x100, 'AT_SYMLINK_NOFOLLOW'], [0x200, 'AT_REMOVEDIR'], [0x400, 'AT_SYMLINK_FOLLOW'], [0x800, 'AT_NO_AUTOMOUNT'], [0x1000, 'AT_EMPTY_PATH']];
const PROT: Array<[number, string]> = [[1, 'PROT_READ'], [2, 'PROT_WRITE'], [4, 'PROT_EXEC']];
const MAP_FLAGS: Array<[number, string]> = [
  [0x10, 'MAP_FIXED'], [0x20, 'MAP_ANONYMOUS'], [0x100, 'MAP_GROWSDOWN'], [0x800, 'MAP_DENYWRITE'], [0x1000, 'MAP_EXECUTABLE'],
  [0x2000, 'MAP_LOCKED'], [0x4000, 'MAP_NORESERVE'], [0x8000, 'MAP_POPULATE'], [0x10000, 'MAP_NONBLOCK'], [0x20000, 'MAP_STACK'],
  [0x40000, 'MAP_HUGETLB'], [0x100000, 'MAP_FIXED_NOREPLACE'],
];
const MAP_TYPE = ['0', 'MAP_SHARED', 'MAP_PRIVATE', 'MAP_SHARED_VALIDATE'];
const CLONE_FLAGS: Array<[number, string]> = [
  [0x100, 'CLONE_VM'], [0x200, 'CLONE_FS'], [0x400, 'CLONE_FILES'], [0x800, 'CLONE_SIGHAND'], [0x1000, 'CLONE_PIDFD'],
  [0x2000, 'CLONE_PTRACE'], [0x4000, 'CLONE_VFORK'], [0x8000, 'CLONE_PARENT'], [0x10000, 'CLONE_THREAD'], [0x20000, 'CLONE_NEWNS'],
  [0x40000, 'CLONE_SYSVSEM'], [0x80000, 'CLONE_SETTLS'], [0x100000, 'CLONE_PARENT_SETTID'], [0x200000, 'CLONE_CHILD_CLEARTID'],
  [0x400000, 'CLONE_DETACHED'], [0x800000, 'CLONE_UNTRACED'], [0x1000000, 'CLONE_CHILD_SETTID'], [0x2000000, 'CLONE_NEWCGROUP'],
  [0x4000000, 'CLONE_NEWUTS'], [0x8000000, 'CLONE_NEWIPC'], [0x10000000, 'CLONE_NEWUSER'], [0x20000000, 'CLONE_NEWPID'],
  [0x40000000, 'CLONE_NEWNET'], [0x80000000, 'CLONE_IO'],
];
const SIGNALS = ['0', 'SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGILL', 'SIGTRAP', 'SIGABRT', 'SIGBUS', 'SIGFPE', 'SIGKILL', 'SIGUSR1',
  'SIGSEGV', 'SIGUSR2', 'SIGPIPE', 'SIGALRM', 'SIGTERM', 'SIGSTKFLT', 'SIGCHLD', 'SIGCONT', 'SIGSTOP', 'SIGTSTP', 'SIGTTIN',
  'SIGTTOU', 'SIGURG', 'SIGXCPU', 'SIGXFSZ', 'SIGVTALRM', 'SIGPROF', 'SIGWINCH', 'SIGIO', 'SIGPWR', 'SIGSYS'];
const signalName = (n: number) => SIGNALS[n] ?? (n >= 34 && n <= 64 ? `SIGRT_${n - 32}` : String(n));
const FUTEX_OPS = ['FUTEX_WAIT', 'FUTEX_WAKE', 'FUTEX_FD', 'FUTEX_REQUEUE', 'FUTEX_CMP_REQUEUE', 'FUTEX_WAKE_OP', 'FUTEX_LOCK_PI',
  'FUTEX_UNLOCK_PI', 'FUTEX_TRYLOCK_PI', 'FUTEX_WAIT_BITSET', 'FUTEX_WAKE_BITSET', 'FUTEX_WAIT_REQUEUE_PI', 'FUTEX_CMP_REQUEUE_PI', 'FUTEX_LOCK_PI2'];
function futexOp(v: number): string {
  const base = FUTEX_OPS[v & 0x7f] ?? String(v & 0x7f);
  return base + (v & 128 ? '_PRIVATE' : '') + (v & 256 ? '|FUTEX_CLOCK_REALTIME' : '');
}
/** Arguments each futex operation uses (WAIT: uaddr, op, val, timeout; WAKE: uaddr, op, val; ...). */
const FUTEX_ARGC = [4, 3, 3, 5, 6, 6, 4, 2, 2, 6, 6, 5, 6, 4];
const futexHasTimeout = (v: number) => [0, 6, 9, 11, 13].includes(v & 0x7f);
const DOMAINS: Record<number, string> = { 0: 'AF_UNSPEC', 1: 'AF_UNIX', 2: 'AF_INET', 10: 'AF_INET6', 16: 'AF_NETLINK', 17: 'AF_PACKET' };
const SOCK_TYPES: Record<number, string> = { 1: 'SOCK_STREAM', 2: 'SOCK_DGRAM', 3: 'SOCK_RAW', 4: 'SOCK_RDM', 5: 'SOCK_SEQPACKET', 10: 'SOCK_PACKET' };
const SOCK_FLAGS: Array<[number, string]> = [[0o4000, 'SOCK_NONBLOCK'], [0o2000000, 'SOCK_CLOEXEC']];
function sockType(v: number): string {
  const t = SOCK_TYPES[v & 0xf] ?? String(v & 0xf);
  const f = flagNames(v & ~0xf, SOCK_FLAGS, '');
  return f ? `${t}|${f}` : t;
}
const MSG_FLAGS: Array<[number, string]> = [[1, 'MSG_OOB'], [2, 'MSG_PEEK'], [4, 'MSG_DONTROUTE'], [8, 'MSG_CTRUNC'], [0x20, 'MSG_TRUNC'],
  [0x40, 'MSG_DONTWAIT'], [0x80, 'MSG_EOR'], [0x100, 'MSG_WAITALL'], [0x4000, 'MSG_NOSIGNAL'], [0x8000, 'MSG_MORE'], [0x40000000, 'MSG_CMSG_CLOEXEC']];
const HOW = ['SHUT_RD', 'SHUT_WR', 'SHUT_RDWR'];
const CLOCKS = ['CLOCK_REALTIME', 'CLOCK_MONOTONIC', 'CLOCK_PROCESS_CPUTIME_ID', 'CLOCK_THREAD_CPUTIME_ID', 'CLOCK_MONOTONIC_RAW',
  'CLOCK_REALTIME_COARSE', 'CLOCK_MONOTONIC_COARSE', 'CLOCK_BOOTTIME', 'CLOCK_REALTIME_ALARM', 'CLOCK_BOOTTIME_ALARM', '10', 'CLOCK_TAI'];
const WHENCE = ['SEEK_SET', 'SEEK_CUR', 'SEEK_END', 'SEEK_DATA', 'SEEK_HOLE'];
const EPOLL_CTL = ['0', 'EPOLL_CTL_ADD', 'EPOLL_CTL_DEL', 'EPOLL_CTL_MOD'];
const POLL_BITS: Array<[number, string]> = [[1, 'POLLIN'], [2, 'POLLPRI'], [4, 'POLLOUT'], [8, 'POLLERR'], [0x10, 'POLLHUP'], [0x20, 'POLLNVAL'],
  [0x40, 'POLLRDNORM'], [0x80, 'POLLRDBAND'], [0x100, 'POLLWRNORM'], [0x200, 'POLLWRBAND'], [0x400, 'POLLMSG'], [0x2000, 'POLLRDHUP']];
const EPOLL_BITS: Array<[number, string]> = [[1, 'EPOLLIN'], [2, 'EPOLLPRI'], [4, 'EPOLLOUT'], [8, 'EPOLLERR'], [0x10, 'EPOLLHUP'],
  [0x40, 'EPOLLRDNORM'], [0x80, 'EPOLLRDBAND'], [0x100, 'EPOLLWRNORM'], [0x200, 'EPOLLWRBAND'], [0x400, 'EPOLLMSG'], [0x2000, 'EPOLLRDHUP'],
  [0x10000000, 'EPOLLEXCLUSIVE'], [0x20000000, 'EPOLLWAKEUP'], [0x40000000, 'EPOLLONESHOT'], [0x80000000, 'EPOLLET']];
const IOCTLS: Record<number, string> = {
  0x5401: 'TCGETS', 0x5402: 'TCSETS', 0x5403: 'TCSETSW', 0x5404: 'TCSETSF', 0x540f: 'TIOCGPGRP', 0x5410: 'TIOCSPGRP',
  0x5413: 'TIOCGWINSZ', 0x5414: 'TIOCSWINSZ', 0x541b: 'FIONREAD', 0x5421: 'FIONBIO', 0x5451: 'FIOCLEX', 0x5450: 'FIONCLEX', 0x5452: 'FIOASYNC',
};
const AMODE: Array<[number, string]> = [[4, 'R_OK'], [2, 'W_OK'], [1, 'X_OK']];

/** strace-style quoted string: printable ASCII as is, C escapes, the rest as \ooo or \xhh. */
export function quote(buf: Buffer, truncated: boolean): string {
  let s = '"';
  for (const c of buf) {
    if (c === 0x22) s += '\\"';
    else if (c === 0x5c) s += '\\\\';
    else if (c === 0x0a) s += '\\n';
    else if (c === 0x09) s += '\\t';
    else if (c === 0x0d) s += '\\r';
    else if (c >= 0x20 && c < 0x7f) s += String.fromCharCode(c);
    else s += `\\${c.toString(8)}`;
  }
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
  return `{sa_family=${DOMAINS[fam] ?? fam}, sa_data=${quote(b.subarray(2), false)}}`;
}

/** The fd numbers set in an fd_set. */
function fdsetList(b: Buffer, nfds: number): number[] {
  const out: number[] = [];
  for (let fd = 0; fd < Math.min(nfds, b.length * 8); fd++) if (b[fd >> 3]! & (1 << (fd & 7))) out.push(fd);
  return out;
}

function cstr(b: Buffer): Buffer { const z = b.indexOf(0); return z < 0 ? b : b.subarray(0, z); }

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
  switch (t) {
    case 'int': case 'fd': return String(s32(v));
    case 'dirfd': return s32(v) === -100 ? 'AT_FDCWD' : String(s32(v));
    case 'uint': return String(Number(v & 0xffffffffn));
    case 'size': return v.toString();
    case 'hex': return hex(v);
    case 'ptr': return v === 0n ? 'NULL' : hex(v);
    case 'mode': return `0${Number(v & 0o7777n).toString(8)}`;
    case 'oflags': return oflags(Number(v & 0xffffffffn));
    case 'atflags': return flagNames(Number(v & 0xffffffffn), AT_FLAGS);
    case 'amode': return flagNames(Number(v & 7n), AMODE, 'F_OK');
    case 'path': return ptrOr(entry, (b) => quote(cstr(b), b.indexOf(0) < 0));
    case 'bufin': {
      const want = r.args[i + 1]!;
      return ptrOr(entry ?? null, (b) => quote(b, BigInt(b.length) < want));
    }
    case 'bufout':
      if (failed || r.noReturn) return hex(v);
      if (r.ret === 0n) return '""';
      return ptrOr(exit ?? null, (b) => quote(b, BigInt(b.length) < r.ret));
    case 'saddrin': return ptrOr(entry, sockaddr);
    case 'saddrout': return failed ? hex(v) : ptrOr(exit, sockaddr);
    case 'timeval': return ptrOr(entry, (b) => b.length >= 16 ? `{tv_sec=${b.readBigInt64LE(0)}, tv_usec=${b.readBigInt64LE(8)}}` : hex(v));
    case 'timespec': return ptrOr(entry, (b) => b.length >= 16 ? `{tv_sec=${b.readBigInt64LE(0)}, tv_nsec=${b.readBigInt64LE(8)}}` : hex(v));
    case 'futex_timeout': {
      const fop = Number(r.args[1]! & 0xffffffffn);
      if (!futexHasTimeout(fop)) return String(s32(v));
      return ptrOr(entry, (b) => b.length >= 16 ? `{tv_sec=${b.readBigInt64LE(0)}, tv_nsec=${b.readBigInt64LE(8)}}` : hex(v));
    }
    case 'fdset': return ptrOr(entry, (b) => `[${fdsetList(b, s32(r.args[0]!)).join(' ')}]`);
    case 'pollfds': {
      const b = exit;
      if (v === 0n) return 'NULL';
      if (!(b instanceof Buffer)) return hex(v);
      const items: string[] = [];
      for (let o = 0; o + 8 <= b.length; o += 8) items.push(`{fd=${b.readInt32LE(o)}, events=${flagNames(b.readUInt16LE(o + 4), POLL_BITS)}}`);
      const n = Number(r.args[1]! & 0xffffffffn);
      return `[${items.join(', ')}${n > items.length ? ', ...' : ''}]`;
    }
    case 'epevents':
      if (failed || r.ret === 0n) return v === 0n ? 'NULL' : (failed ? hex(v) : '[]');
      return ptrOr(exit, (b) => {
        const items: string[] = [];
        for (let o = 0; o + 12 <= b.length; o += 12) items.push(`{events=${flagNames(b.readUInt32LE(o), EPOLL_BITS)}, data=${hex(b.readBigUInt64LE(o + 4))}}`);
        return `[${items.join(', ')}${Number(r.ret) > items.length ? ', ...' : ''}]`;
      });
    case 'epevent': return ptrOr(entry, (b) => b.length >= 12 ? `{events=${flagNames(b.readUInt32LE(0), EPOLL_BITS)}, data=${hex(b.readBigUInt64LE(4))}}` : hex(v));
    case 'epollctl': return EPOLL_CTL[Number(v)] ?? String(v);
    case 'prot': return flagNames(Number(v & 0xffffffffn), PROT, 'PROT_NONE');
    case 'mapflags': {
      const n = Number(v & 0xffffffffn);
      const rest = flagNames(n & ~3, MAP_FLAGS, '');
      return (MAP_TYPE[n & 3] ?? '0') + (rest ? `|${rest}` : '');
    }
    case 'domain': return DOMAINS[Number(v)] ?? String(v);
    case 'socktype': return sockType(Number(v & 0xffffffffn));
    case 'sockflags': return flagNames(Number(v & 0xffffffffn), SOCK_FLAGS);
    case 'msgflags': return flagNames(Number(v & 0xffffffffn), MSG_FLAGS);
    case 'how': return HOW[Number(v)] ?? String(v);
    case 'cloneflags': {
      const n = Number(v & 0xffffffffn);
      const sig = n & 0xff;
      const rest = flagNames(n & ~0xff, CLONE_FLAGS, '');
      return [rest, sig ? signalName(sig) : ''].filter(Boolean).join('|') || '0';
    }
    case 'cloneargs': return ptrOr(entry, (b) => {
      if (b.length < 64) return hex(v);
      const flags = Number(b.readBigUInt64LE(0) & 0xffffffffn);
      const exitSig = Number(b.readBigUInt64LE(32));
      return `{flags=${flagNames(flags, CLONE_FLAGS)}, exit_signal=${exitSig ? signalName(exitSig) : 0}, stack=${hex(b.readBigUInt64LE(40))}, stack_size=${hex(b.readBigUInt64LE(48))}}`;
    });
    case 'futexop': return futexOp(Number(v & 0xffffffffn));
    case 'signal': return signalName(Number(v & 0xffn));
    case 'ioctl': return IOCTLS[Number(v & 0xffffffffn)] ?? hex(v);
    case 'clockid': return CLOCKS[Number(v)] ?? String(v);
    case 'timerflags': return Number(v) === 1 ? 'TIMER_ABSTIME' : String(v);
    case 'whence': return WHENCE[Number(v)] ?? String(v);
    case 'msghdr': return ptrOr(entry, (b) => b.length >= 56
      ? `{msg_name=${b.readBigUInt64LE(0) ? hex(b.readBigUInt64LE(0)) : 'NULL'}, msg_namelen=${b.readUInt32LE(8)}, msg_iov=${hex(b.readBigUInt64LE(16))}, msg_iovlen=${b.readBigUInt64LE(24)}, msg_controllen=${b.readBigUInt64LE(40)}, msg_flags=${flagNames(b.readUInt32LE(48), MSG_FLAGS)}}`
      : hex(v));
  }
}

/** The text after " = ": result, errno name, and details found at exit (select's ready sets, poll's revents). */
export function formatResult(r: TraceRecord, plan: Plan): string {
  if (r.noReturn) return '?';
  const ret = r.ret;
  if (ret < 0n && ret >= -4095n) return `-1 ${errnoName(Number(-ret))}`;
  const spec = plan.spec;
  let text = spec?.ret === 'hex' ? hex(BigInt.asUintN(64, ret)) : ret.toString();
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
        if (rev) items.push(`{fd=${c.readInt32LE(o)}, revents=${flagNames(rev, POLL_BITS)}}`);
      }
      if (items.length) text += ` ([${items.join(', ')}])`;
    }
  }
  return text;
}

/** `name(args) = result` (without duration / prefixes). */
export function formatCall(r: TraceRecord, plan: Plan): string {
  const spec = plan.spec;
  let args: string;
  if (spec) {
    let types = spec.args;
    // open/openat: the mode only matters with O_CREAT or O_TMPFILE (strace leaves it out too)
    const flagsArg = plan.name === 'open' ? 1 : plan.name === 'openat' ? 2 : -1;
    if (flagsArg >= 0 && (Number(r.args[flagsArg]! & 0xffffffffn) & 0o20000100) === 0) types = types.slice(0, -1);
    // futex: as many arguments as the operation uses
    if (plan.name === 'futex') types = types.slice(0, FUTEX_ARGC[Number(r.args[1]! & 0x7fn)] ?? 6);
    args = types.map((t, i) => formatArg(t, i, r, plan)).join(', ');
  }
  else args = r.args.map(hex).join(', ');
  return `${plan.name}(${args}) = ${formatResult(r, plan)}`;
}

export { s64 };
