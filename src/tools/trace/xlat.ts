// Names of flag bits and enum values, in the order strace prints them (Linux UAPI values,
// x86_64 and arm64 agree on all of these).

export type Bits = Array<[number, string]>;

/** Set bits by name in table order, leftover bits in hex; `zero` when nothing is set. */
export function flagNames(v: number, table: Bits, zero = '0'): string {
  const parts: string[] = [];
  let rest = v >>> 0;
  for (const [bit, name] of table) {
    if (bit !== 0 && (rest & bit) === bit) { parts.push(name); rest = (rest & ~bit) >>> 0; }
  }
  if (rest) parts.push(`0x${rest.toString(16)}`);
  return parts.length ? parts.join('|') : zero;
}

/** An enum value by name, else the number (strace: `0x3001 /* ARCH_??? *\/` style is not kept). */
export function enumName(v: number, table: Record<number, string>, hex = false): string {
  return table[v] ?? (hex ? `0x${(v >>> 0).toString(16)}` : String(v));
}

export const O_FLAGS: Bits = [
  [0o100, 'O_CREAT'], [0o200, 'O_EXCL'], [0o400, 'O_NOCTTY'], [0o1000, 'O_TRUNC'], [0o2000, 'O_APPEND'],
  [0o4000, 'O_NONBLOCK'], [0o4010000, 'O_SYNC'], [0o10000, 'O_DSYNC'], [0o20000, 'O_ASYNC'], [0o40000, 'O_DIRECT'],
  [0o100000, 'O_LARGEFILE'], [0o400000, 'O_NOFOLLOW'], [0o1000000, 'O_NOATIME'], [0o2000000, 'O_CLOEXEC'],
  [0o10000000, 'O_PATH'], [0o20200000, 'O_TMPFILE'], [0o200000, 'O_DIRECTORY'],
];
export function oflags(v: number): string {
  const acc = ['O_RDONLY', 'O_WRONLY', 'O_RDWR', 'O_ACCMODE'][v & 3]!;
  const rest = flagNames(v & ~3, O_FLAGS, '');
  return rest ? `${acc}|${rest}` : acc;
}
export const AT_FLAGS: Bits = [[0x100, 'AT_SYMLINK_NOFOLLOW'], [0x200, 'AT_REMOVEDIR'], [0x400, 'AT_SYMLINK_FOLLOW'], [0x800, 'AT_NO_AUTOMOUNT'], [0x1000, 'AT_EMPTY_PATH']];
export const ACCESSAT_FLAGS: Bits = [[0x100, 'AT_SYMLINK_NOFOLLOW'], [0x200, 'AT_EACCESS'], [0x1000, 'AT_EMPTY_PATH']];
export const STATX_SYNC = ['AT_STATX_SYNC_AS_STAT', 'AT_STATX_FORCE_SYNC', 'AT_STATX_DONT_SYNC', '0x6000'];
export function statxFlags(v: number): string {
  const rest = flagNames(v & ~0x6000, AT_FLAGS, '');
  return STATX_SYNC[(v >> 13) & 3]! + (rest ? `|${rest}` : '');
}
export const STATX_MASK: Bits = [
  [0x7ff, 'STATX_BASIC_STATS'], [0x1, 'STATX_TYPE'], [0x2, 'STATX_MODE'], [0x4, 'STATX_NLINK'], [0x8, 'STATX_UID'], [0x10, 'STATX_GID'],
  [0x20, 'STATX_ATIME'], [0x40, 'STATX_MTIME'], [0x80, 'STATX_CTIME'], [0x100, 'STATX_INO'], [0x200, 'STATX_SIZE'], [0x400, 'STATX_BLOCKS'],
  [0x800, 'STATX_BTIME'], [0x1000, 'STATX_MNT_ID'], [0x2000, 'STATX_DIOALIGN'], [0x4000, 'STATX_MNT_ID_UNIQUE'], [0x8000, 'STATX_SUBVOL'],
  [0x10000, 'STATX_WRITE_ATOMIC'], [0x20000, 'STATX_DIO_READ_ALIGN'],
];
/** statx's request mask: strace names STATX_BASIC_STATS only in the result, single bits in the request. */
export const STATX_MASK_REQ: Bits = STATX_MASK.filter(([b]) => b !== 0x7ff);
export const STATX_ATTRS: Bits = [[0x4, 'STATX_ATTR_COMPRESSED'], [0x10, 'STATX_ATTR_IMMUTABLE'], [0x20, 'STATX_ATTR_APPEND'], [0x40, 'STATX_ATTR_NODUMP'],
  [0x800, 'STATX_ATTR_ENCRYPTED'], [0x1000, 'STATX_ATTR_AUTOMOUNT'], [0x2000, 'STATX_ATTR_MOUNT_ROOT'], [0x100000, 'STATX_ATTR_VERITY'], [0x200000, 'STATX_ATTR_DAX']];
export const PROT: Bits = [[1, 'PROT_READ'], [2, 'PROT_WRITE'], [4, 'PROT_EXEC'], [0x1000000, 'PROT_GROWSDOWN'], [0x2000000, 'PROT_GROWSUP']];
export const MAP_FLAGS: Bits = [
  [0x10, 'MAP_FIXED'], [0x20, 'MAP_ANONYMOUS'], [0x40, 'MAP_32BIT'], [0x100, 'MAP_GROWSDOWN'], [0x800, 'MAP_DENYWRITE'], [0x1000, 'MAP_EXECUTABLE'],
  [0x2000, 'MAP_LOCKED'], [0x4000, 'MAP_NORESERVE'], [0x8000, 'MAP_POPULATE'], [0x10000, 'MAP_NONBLOCK'], [0x20000, 'MAP_STACK'],
  [0x40000, 'MAP_HUGETLB'], [0x80000, 'MAP_SYNC'], [0x100000, 'MAP_FIXED_NOREPLACE'],
];
export const MAP_TYPE = ['0', 'MAP_SHARED', 'MAP_PRIVATE', 'MAP_SHARED_VALIDATE'];
export const CLONE_FLAGS: Bits = [
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
/** SIGTERM for 15; the kernel's real-time signals as strace names them (32 SIGRTMIN, 33 SIGRT_1, ...). */
export function signalName(n: number): string {
  if (n > 0 && n < SIGNALS.length) return SIGNALS[n]!;
  if (n === 32) return 'SIGRTMIN';
  if (n > 32 && n <= 64) return `SIGRT_${n - 32}`;
  return String(n);
}
/** A sigset as strace prints it: [INT TERM], or ~[...] (the signals not in it) when most are. */
export function sigset(b: Buffer): string {
  const bits = Math.min(b.length, 8) * 8;
  const inSet: number[] = [];
  const outSet: number[] = [];
  for (let s = 1; s <= bits; s++) ((b[(s - 1) >> 3]! >> ((s - 1) & 7)) & 1 ? inSet : outSet).push(s);
  const names = (l: number[]) => l.map((s) => signalName(s).replace(/^SIG/, '')).join(' ');
  return inSet.length > bits / 2 ? `~[${names(outSet)}]` : `[${names(inSet)}]`;
}
export const SA_FLAGS: Bits = [
  [0x04000000, 'SA_RESTORER'], [0x08000000, 'SA_ONSTACK'], [0x10000000, 'SA_RESTART'], [0x20000000, 'SA_INTERRUPT'],
  [0x40000000, 'SA_NODEFER'], [0x80000000, 'SA_RESETHAND'], [4, 'SA_SIGINFO'], [1, 'SA_NOCLDSTOP'], [2, 'SA_NOCLDWAIT'],
];
export const SIG_HOW: Record<number, string> = { 0: 'SIG_BLOCK', 1: 'SIG_UNBLOCK', 2: 'SIG_SETMASK' };
const FUTEX_OPS = ['FUTEX_WAIT', 'FUTEX_WAKE', 'FUTEX_FD', 'FUTEX_REQUEUE', 'FUTEX_CMP_REQUEUE', 'FUTEX_WAKE_OP', 'FUTEX_LOCK_PI',
  'FUTEX_UNLOCK_PI', 'FUTEX_TRYLOCK_PI', 'FUTEX_WAIT_BITSET', 'FUTEX_WAKE_BITSET', 'FUTEX_WAIT_REQUEUE_PI', 'FUTEX_CMP_REQUEUE_PI', 'FUTEX_LOCK_PI2'];
export function futexOp(v: number): string {
  const base = FUTEX_OPS[v & 0x7f] ?? String(v & 0x7f);
  return base + (v & 128 ? '_PRIVATE' : '') + (v & 256 ? '|FUTEX_CLOCK_REALTIME' : '');
}
/** Arguments each futex operation uses (WAIT: uaddr, op, val, timeout; WAKE: uaddr, op, val; ...). */
export const FUTEX_ARGC = [4, 3, 3, 5, 6, 6, 4, 2, 2, 6, 6, 5, 6, 4];
export const futexHasTimeout = (v: number) => [0, 6, 9, 11, 13].includes(v & 0x7f);
export const DOMAINS: Record<number, string> = { 0: 'AF_UNSPEC', 1: 'AF_UNIX', 2: 'AF_INET', 10: 'AF_INET6', 16: 'AF_NETLINK', 17: 'AF_PACKET', 38: 'AF_ALG', 40: 'AF_VSOCK' };
const SOCK_TYPES: Record<number, string> = { 1: 'SOCK_STREAM', 2: 'SOCK_DGRAM', 3: 'SOCK_RAW', 4: 'SOCK_RDM', 5: 'SOCK_SEQPACKET', 10: 'SOCK_PACKET' };
export const SOCK_FLAGS: Bits = [[0o2000000, 'SOCK_CLOEXEC'], [0o4000, 'SOCK_NONBLOCK']];
export function sockType(v: number): string {
  const t = SOCK_TYPES[v & 0xf] ?? String(v & 0xf);
  const f = flagNames(v & ~0xf, SOCK_FLAGS, '');
  return f ? `${t}|${f}` : t;
}
export const SOCK_LEVELS: Record<number, string> = { 0: 'SOL_IP', 1: 'SOL_SOCKET', 6: 'SOL_TCP', 17: 'SOL_UDP', 41: 'SOL_IPV6', 255: 'SOL_RAW', 263: 'SOL_PACKET', 270: 'SOL_NETLINK', 280: 'SOL_TLS' };
/** strace names level 6 IPPROTO_TCP (and 17 IPPROTO_UDP) rather than SOL_*. */
export const STRACE_LEVELS: Record<number, string> = { ...SOCK_LEVELS, 0: 'SOL_IP', 6: 'IPPROTO_TCP', 17: 'IPPROTO_UDP', 41: 'SOL_IPV6' };
export const SO_OPTS: Record<number, string> = {
  1: 'SO_DEBUG', 2: 'SO_REUSEADDR', 3: 'SO_TYPE', 4: 'SO_ERROR', 5: 'SO_DONTROUTE', 6: 'SO_BROADCAST', 7: 'SO_SNDBUF', 8: 'SO_RCVBUF',
  9: 'SO_KEEPALIVE', 10: 'SO_OOBINLINE', 11: 'SO_NO_CHECK', 12: 'SO_PRIORITY', 13: 'SO_LINGER', 14: 'SO_BSDCOMPAT', 15: 'SO_REUSEPORT',
  16: 'SO_PASSCRED', 17: 'SO_PEERCRED', 18: 'SO_RCVLOWAT', 19: 'SO_SNDLOWAT', 20: 'SO_RCVTIMEO_OLD', 21: 'SO_SNDTIMEO_OLD',
  25: 'SO_BINDTODEVICE', 29: 'SO_TIMESTAMP_OLD', 30: 'SO_ACCEPTCONN', 32: 'SO_SNDBUFFORCE', 33: 'SO_RCVBUFFORCE', 34: 'SO_PASSSEC',
  36: 'SO_MARK', 38: 'SO_PROTOCOL', 39: 'SO_DOMAIN', 47: 'SO_BUSY_POLL', 49: 'SO_INCOMING_CPU', 66: 'SO_RCVTIMEO_NEW', 67: 'SO_SNDTIMEO_NEW',
};
export const TCP_OPTS: Record<number, string> = {
  1: 'TCP_NODELAY', 2: 'TCP_MAXSEG', 3: 'TCP_CORK', 4: 'TCP_KEEPIDLE', 5: 'TCP_KEEPINTVL', 6: 'TCP_KEEPCNT', 7: 'TCP_SYNCNT',
  8: 'TCP_LINGER2', 9: 'TCP_DEFER_ACCEPT', 10: 'TCP_WINDOW_CLAMP', 11: 'TCP_INFO', 12: 'TCP_QUICKACK', 13: 'TCP_CONGESTION',
  18: 'TCP_USER_TIMEOUT', 23: 'TCP_FASTOPEN', 30: 'TCP_FASTOPEN_CONNECT', 31: 'TCP_ULP',
};
export const IP_OPTS: Record<number, string> = { 1: 'IP_TOS', 2: 'IP_TTL', 3: 'IP_HDRINCL', 4: 'IP_OPTIONS', 8: 'IP_PKTINFO', 10: 'IP_MTU_DISCOVER', 11: 'IP_RECVERR', 14: 'IP_MTU', 15: 'IP_FREEBIND', 19: 'IP_TRANSPARENT' };
export const IPV6_OPTS: Record<number, string> = { 16: 'IPV6_UNICAST_HOPS', 25: 'IPV6_RECVERR', 26: 'IPV6_V6ONLY', 49: 'IPV6_RECVPKTINFO', 67: 'IPV6_TCLASS' };
export const SOCKOPTS_BY_LEVEL: Record<number, Record<number, string>> = { 0: IP_OPTS, 1: SO_OPTS, 6: TCP_OPTS, 41: IPV6_OPTS };
export const MSG_FLAGS: Bits = [[1, 'MSG_OOB'], [2, 'MSG_PEEK'], [4, 'MSG_DONTROUTE'], [8, 'MSG_CTRUNC'], [0x20, 'MSG_TRUNC'],
  [0x40, 'MSG_DONTWAIT'], [0x80, 'MSG_EOR'], [0x100, 'MSG_WAITALL'], [0x2000, 'MSG_ERRQUEUE'], [0x4000, 'MSG_NOSIGNAL'], [0x8000, 'MSG_MORE'],
  [0x10000, 'MSG_WAITFORONE'], [0x40000000, 'MSG_CMSG_CLOEXEC']];
export const HOW = ['SHUT_RD', 'SHUT_WR', 'SHUT_RDWR'];
export const CLOCKS = ['CLOCK_REALTIME', 'CLOCK_MONOTONIC', 'CLOCK_PROCESS_CPUTIME_ID', 'CLOCK_THREAD_CPUTIME_ID', 'CLOCK_MONOTONIC_RAW',
  'CLOCK_REALTIME_COARSE', 'CLOCK_MONOTONIC_COARSE', 'CLOCK_BOOTTIME', 'CLOCK_REALTIME_ALARM', 'CLOCK_BOOTTIME_ALARM', '10', 'CLOCK_TAI'];
export const WHENCE = ['SEEK_SET', 'SEEK_CUR', 'SEEK_END', 'SEEK_DATA', 'SEEK_HOLE'];
export const EPOLL_CTL = ['0', 'EPOLL_CTL_ADD', 'EPOLL_CTL_DEL', 'EPOLL_CTL_MOD'];
export const POLL_BITS: Bits = [[1, 'POLLIN'], [2, 'POLLPRI'], [4, 'POLLOUT'], [8, 'POLLERR'], [0x10, 'POLLHUP'], [0x20, 'POLLNVAL'],
  [0x40, 'POLLRDNORM'], [0x80, 'POLLRDBAND'], [0x100, 'POLLWRNORM'], [0x200, 'POLLWRBAND'], [0x400, 'POLLMSG'], [0x2000, 'POLLRDHUP']];
export const EPOLL_BITS: Bits = [[1, 'EPOLLIN'], [2, 'EPOLLPRI'], [4, 'EPOLLOUT'], [8, 'EPOLLERR'], [0x10, 'EPOLLHUP'],
  [0x40, 'EPOLLRDNORM'], [0x80, 'EPOLLRDBAND'], [0x100, 'EPOLLWRNORM'], [0x200, 'EPOLLWRBAND'], [0x400, 'EPOLLMSG'], [0x2000, 'EPOLLRDHUP'],
  [0x10000000, 'EPOLLEXCLUSIVE'], [0x20000000, 'EPOLLWAKEUP'], [0x40000000, 'EPOLLONESHOT'], [0x80000000, 'EPOLLET']];
export const IOCTLS: Record<number, string> = {
  0x5401: 'TCGETS', 0x5402: 'TCSETS', 0x5403: 'TCSETSW', 0x5404: 'TCSETSF', 0x540f: 'TIOCGPGRP', 0x5410: 'TIOCSPGRP',
  0x5413: 'TIOCGWINSZ', 0x5414: 'TIOCSWINSZ', 0x541b: 'FIONREAD', 0x5421: 'FIONBIO', 0x5451: 'FIOCLEX', 0x5450: 'FIONCLEX', 0x5452: 'FIOASYNC',
  0x40049409: 'BTRFS_IOC_CLONE or FICLONE', 0x80086601: 'FS_IOC_GETFLAGS', 0x40086602: 'FS_IOC_SETFLAGS',
};
export const AMODE: Bits = [[4, 'R_OK'], [2, 'W_OK'], [1, 'X_OK']];
export const FCNTL_CMDS: Record<number, string> = {
  0: 'F_DUPFD', 1: 'F_GETFD', 2: 'F_SETFD', 3: 'F_GETFL', 4: 'F_SETFL', 5: 'F_GETLK', 6: 'F_SETLK', 7: 'F_SETLKW', 8: 'F_SETOWN',
  9: 'F_GETOWN', 10: 'F_SETSIG', 11: 'F_GETSIG', 36: 'F_OFD_GETLK', 37: 'F_OFD_SETLK', 38: 'F_OFD_SETLKW', 1024: 'F_SETLEASE',
  1025: 'F_GETLEASE', 1026: 'F_NOTIFY', 1030: 'F_DUPFD_CLOEXEC', 1031: 'F_SETPIPE_SZ', 1032: 'F_GETPIPE_SZ', 1033: 'F_ADD_SEALS', 1034: 'F_GET_SEALS',
};
export const FD_FLAGS: Bits = [[1, 'FD_CLOEXEC']];
export const RLIMITS = ['RLIMIT_CPU', 'RLIMIT_FSIZE', 'RLIMIT_DATA', 'RLIMIT_STACK', 'RLIMIT_CORE', 'RLIMIT_RSS', 'RLIMIT_NPROC', 'RLIMIT_NOFILE',
  'RLIMIT_MEMLOCK', 'RLIMIT_AS', 'RLIMIT_LOCKS', 'RLIMIT_SIGPENDING', 'RLIMIT_MSGQUEUE', 'RLIMIT_NICE', 'RLIMIT_RTPRIO', 'RLIMIT_RTTIME'];
/** An rlimit value: RLIM64_INFINITY, N*1024 for multiples of 1024 (as strace does), else N. */
export function rlimValue(v: bigint): string {
  if (v === 0xffffffffffffffffn) return 'RLIM64_INFINITY';
  if (v > 0n && v % 1024n === 0n) return `${v / 1024n}*1024`;
  return v.toString();
}
export const WAIT_OPTS: Bits = [[1, 'WNOHANG'], [2, 'WUNTRACED'], [4, 'WEXITED'], [8, 'WCONTINUED'], [0x1000000, 'WNOWAIT'],
  [0x20000000, '__WNOTHREAD'], [0x40000000, '__WALL'], [0x80000000, '__WCLONE']];
/** A wait status as strace prints it: [{WIFEXITED(s) && WEXITSTATUS(s) == 0}]. */
export function waitStatus(s: number): string {
  const sig = s & 0x7f;
  if (sig === 0) return `[{WIFEXITED(s) && WEXITSTATUS(s) == ${(s >> 8) & 0xff}}]`;
  if (sig === 0x7f) return `[{WIFSTOPPED(s) && WSTOPSIG(s) == ${signalName((s >> 8) & 0xff)}}]`;
  if (s === 0xffff) return '[{WIFCONTINUED(s)}]';
  return `[{WIFSIGNALED(s) && WTERMSIG(s) == ${signalName(sig)}${s & 0x80 ? ' && WCOREDUMP(s)' : ''}}]`;
}
export const ARCH_PRCTL: Record<number, string> = { 0x1001: 'ARCH_SET_GS', 0x1002: 'ARCH_SET_FS', 0x1003: 'ARCH_GET_FS', 0x1004: 'ARCH_GET_GS',
  0x1011: 'ARCH_GET_CPUID', 0x1012: 'ARCH_SET_CPUID', 0x1021: 'ARCH_GET_XCOMP_SUPP', 0x1022: 'ARCH_GET_XCOMP_PERM', 0x1023: 'ARCH_REQ_XCOMP_PERM' };
export const GRND: Bits = [[1, 'GRND_NONBLOCK'], [2, 'GRND_RANDOM'], [4, 'GRND_INSECURE']];
export const MADVISE: Record<number, string> = { 0: 'MADV_NORMAL', 1: 'MADV_RANDOM', 2: 'MADV_SEQUENTIAL', 3: 'MADV_WILLNEED', 4: 'MADV_DONTNEED',
  8: 'MADV_FREE', 9: 'MADV_REMOVE', 10: 'MADV_DONTFORK', 11: 'MADV_DOFORK', 12: 'MADV_MERGEABLE', 13: 'MADV_UNMERGEABLE', 14: 'MADV_HUGEPAGE',
  15: 'MADV_NOHUGEPAGE', 16: 'MADV_DONTDUMP', 17: 'MADV_DODUMP', 18: 'MADV_WIPEONFORK', 19: 'MADV_KEEPONFORK', 20: 'MADV_COLD', 21: 'MADV_PAGEOUT',
  22: 'MADV_POPULATE_READ', 23: 'MADV_POPULATE_WRITE', 100: 'MADV_HWPOISON' };
export const S_IFMT: Record<number, string> = { 0o140000: 'S_IFSOCK', 0o120000: 'S_IFLNK', 0o100000: 'S_IFREG', 0o60000: 'S_IFBLK', 0o40000: 'S_IFDIR', 0o20000: 'S_IFCHR', 0o10000: 'S_IFIFO' };
const S_SPECIAL: Bits = [[0o4000, 'S_ISUID'], [0o2000, 'S_ISGID'], [0o1000, 'S_ISVTX']];
/** st_mode as strace prints it: S_IFREG|0644, S_IFDIR|S_ISGID|0770. */
export function fileMode(m: number): string {
  const parts = [S_IFMT[m & 0o170000], flagNames(m & 0o7000, S_SPECIAL, '')].filter(Boolean);
  parts.push(`0${(m & 0o777).toString(8).padStart(3, '0')}`);
  return parts.join('|');
}
export const FADVISE: Record<number, string> = { 0: 'POSIX_FADV_NORMAL', 1: 'POSIX_FADV_RANDOM', 2: 'POSIX_FADV_SEQUENTIAL', 3: 'POSIX_FADV_WILLNEED', 4: 'POSIX_FADV_DONTNEED', 5: 'POSIX_FADV_NOREUSE' };
/**
 * Kernel-internal restart codes (include/linux/errno.h, not in the UAPI headers): a syscall
 * interrupted by a signal returns them to the kernel's signal code, and tracers see them.
 */
export const RESTART_ERRNOS: Record<number, [string, string]> = {
  512: ['ERESTARTSYS', 'To be restarted if SA_RESTART is set'],
  513: ['ERESTARTNOINTR', 'To be restarted'],
  514: ['ERESTARTNOHAND', 'To be restarted if no handler'],
  515: ['ENOIOCTLCMD', 'No ioctl command'],
  516: ['ERESTART_RESTARTBLOCK', 'Interrupted by signal'],
  517: ['EPROBE_DEFER', 'Requested probe deferral'],
  518: ['EOPENSTALE', 'Open found a stale dentry'],
  519: ['ENOPARAM', 'Parameter not supported'],
};
