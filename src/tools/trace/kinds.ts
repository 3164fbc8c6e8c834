// What kind of value each syscall argument is, derived from the kernel's own signature of the
// syscall (src/core/syscalls/signatures.generated.ts: C type and name of every argument, from
// the syscall tracepoints' formats), by rules on the type and the name. Only meanings that
// neither says (which `flags` are open flags, which `int` is a signal) are named per syscall.
import { signatures } from '../../core/syscalls/signatures.generated.js';

/** Argument kinds. Kinds with a copy get their bytes from the kernel side (see planFor). */
export type ArgType =
  | 'int' | 'uint' | 'int64' | 'size' | 'hex' | 'ptr' | 'fd' | 'dirfd' | 'mode' | 'oflags' | 'atflags' | 'amode'
  | 'path' | 'bufin' | 'bufout' | 'cwdbuf' | 'randbuf' | 'saddrin' | 'saddrout' | 'timeval' | 'timespec' | 'timespec_out'
  | 'futex_timeout' | 'fdset' | 'pollfds' | 'epevents' | 'prot' | 'mapflags' | 'domain' | 'socktype' | 'sockflags'
  | 'cloneflags' | 'cloneargs' | 'futexop' | 'signal' | 'how' | 'ioctl' | 'msgflags' | 'msghdr'
  | 'clockid' | 'timerflags' | 'whence' | 'epollctl' | 'epevent'
  | 'stat' | 'statx' | 'statxflags' | 'statxmask' | 'rlimit_in' | 'rlimit_out' | 'rlimitres' | 'sigset_in' | 'sigset_out'
  | 'sighow' | 'sigact_in' | 'sigact_out' | 'waitstatus' | 'waitopts' | 'pipefds' | 'pipeflags' | 'utsname' | 'argv' | 'envp'
  | 'dirents' | 'fcntlcmd' | 'fcntlarg' | 'archprctl' | 'grndflags' | 'accessatflags' | 'socklevel' | 'sockopt'
  | 'optval_in' | 'optval_out' | 'intptr_out' | 'madvise' | 'ioctlarg' | 'fadvise' | 'grouplist' | 'sysinfo';

export interface SyscallSpec { args: ArgType[]; ret?: 'hex' | 'int' | 'fd'; names: string[] }

/** Per syscall, the arguments whose meaning the signature does not tell: name -> kind. */
const MEANING: Record<string, Record<string, ArgType>> = {
  open: { flags: 'oflags' }, openat: { flags: 'oflags' }, creat: {},
  dup3: { flags: 'oflags' }, pipe2: { fildes: 'pipefds', flags: 'pipeflags' }, pipe: { fildes: 'pipefds' },
  mmap: { prot: 'prot', flags: 'mapflags', off: 'hex', addr: 'ptr', fd: 'fd' }, mprotect: { prot: 'prot' }, pkey_mprotect: { prot: 'prot' },
  madvise: { behavior: 'madvise' },
  fadvise64: { advice: 'fadvise' },
  getgroups: { grouplist: 'grouplist' },
  socket: { family: 'domain', type: 'socktype' }, socketpair: { family: 'domain', type: 'socktype' },
  accept4: { flags: 'sockflags' },
  sendto: { flags: 'msgflags' }, recvfrom: { flags: 'msgflags' }, sendmsg: { flags: 'msgflags' }, recvmsg: { flags: 'msgflags' },
  setsockopt: { level: 'socklevel', optname: 'sockopt', optval: 'optval_in' },
  getsockopt: { level: 'socklevel', optname: 'sockopt', optval: 'optval_out', optlen: 'intptr_out' },
  shutdown: { how: 'how' },
  fcntl: { cmd: 'fcntlcmd', arg: 'fcntlarg' },
  lseek: { whence: 'whence' },
  access: { mode: 'amode' }, faccessat: { mode: 'amode' }, faccessat2: { mode: 'amode', flags: 'accessatflags' },
  newfstatat: { flag: 'atflags' }, unlinkat: { flag: 'atflags' }, fchmodat: {}, fchownat: { flag: 'atflags' },
  linkat: { flags: 'atflags' }, utimensat: { flags: 'atflags' }, execveat: { flags: 'atflags' },
  statx: { flags: 'statxflags', mask: 'statxmask' },
  prlimit64: { resource: 'rlimitres' }, getrlimit: { resource: 'rlimitres', rlim: 'rlimit_out' }, setrlimit: { resource: 'rlimitres', rlim: 'rlimit_in' },
  rt_sigprocmask: { how: 'sighow' },
  wait4: { options: 'waitopts' }, waitid: { options: 'waitopts' },
  clone: { clone_flags: 'cloneflags' },
  futex: { op: 'futexop', utime: 'futex_timeout', uaddr: 'ptr', uaddr2: 'ptr', val3: 'int' },
  epoll_ctl: { op: 'epollctl' }, epoll_wait: { events: 'epevents' }, epoll_pwait: { events: 'epevents' }, epoll_pwait2: { events: 'epevents' },
  ioctl: { cmd: 'ioctl', arg: 'ioctlarg' },
  clock_nanosleep: { flags: 'timerflags' }, clock_gettime: { tp: 'timespec_out' }, clock_getres: { tp: 'timespec_out' },
  nanosleep: { rmtp: 'ptr' },
  getrandom: { ubuf: 'randbuf', flags: 'grndflags' },
  getcwd: { buf: 'cwdbuf' },
  arch_prctl: { option: 'archprctl', arg2: 'hex' },
  rseq: { rseq_len: 'hex', sig: 'hex' },
  select: { n: 'int' },
};

/** Syscalls that print a result as an address. */
const HEX_RESULT = new Set(['mmap', 'brk', 'mremap', 'shmat']);

const FD_NAMES = /^(fd|ufd|oldfd|newfd|fd_in|fd_out|epfd|out_fd|in_fd|fdin|fdout|mqdes|pidfd)$/;
const DIRFD_NAMES = /^(dfd|olddfd|newdfd|dirfd|fromfd|tofd)$/;

/** The kind of one argument from its C type and name (and the syscall, for in/out structs). */
export function kindOf(syscall: string, ctype: string, name: string, next?: readonly [string, string]): ArgType {
  const meant = MEANING[syscall]?.[name];
  if (meant) return meant;
  const t = ctype.replace(/\b__user\b/g, '').replace(/\s+/g, ' ').trim();
  // (for struct pointers only) results the kernel writes: oact, oset, old_rlim
  const out = /^(o|old_)/.test(name);
  if (/^const char \*const \*$/.test(t)) return name === 'envp' ? 'envp' : 'argv';
  if (t === 'const char *' || t === 'char *') {
    if (/^(buf|ubuf)$/.test(name)) return t.startsWith('const') ? 'bufin' : 'bufout';
    return t.startsWith('const') ? 'path' : 'bufout';
  }
  if (/^(const )?void \*$/.test(t) && /^(buf|ubuf)$/.test(name)) return t.startsWith('const') ? 'bufin' : 'bufout';
  if (t.endsWith('*')) {
    const st = t.replace(/^const /, '').replace(/ \*$/, '');
    switch (st) {
      case 'struct stat': return 'stat';
      case 'struct statx': return 'statx';
      case 'struct sockaddr': return next && next[0].endsWith('*') ? 'saddrout' : 'saddrin';
      case 'struct __kernel_timespec': case 'struct timespec': return 'timespec';
      case 'struct __kernel_old_timeval': case 'struct timeval': return syscall === 'gettimeofday' ? 'ptr' : 'timeval';
      case 'struct pollfd': return 'pollfds';
      case 'struct epoll_event': return syscall === 'epoll_ctl' ? 'epevent' : 'epevents';
      case 'struct rlimit64': case 'struct rlimit': return out ? 'rlimit_out' : 'rlimit_in';
      case 'sigset_t': return out ? 'sigset_out' : 'sigset_in';
      case 'struct sigaction': return out ? 'sigact_out' : 'sigact_in';
      case 'struct user_msghdr': return 'msghdr';
      case 'struct new_utsname': return 'utsname';
      case 'struct sysinfo': return 'sysinfo';
      case 'struct linux_dirent64': return 'dirents';
      case 'struct clone_args': return 'cloneargs';
      case 'fd_set': return 'fdset';
      case 'int': return syscall === 'wait4' && name === 'stat_addr' ? 'waitstatus' : 'ptr';
      default: return 'ptr';
    }
  }
  if (FD_NAMES.test(name) && /int$/.test(t)) return 'fd';
  if (DIRFD_NAMES.test(name) && /int$/.test(t)) return 'dirfd';
  if (t === 'umode_t') return 'mode';
  if (name === 'sig' && /int$/.test(t)) return 'signal';
  if (/^(clockid_t|const clockid_t)$/.test(t)) return 'clockid';
  if (t === 'size_t' || t === 'ssize_t') return 'size';
  if (t === 'unsigned long' && /^(addr|start|brk|new_addr|old_addr|tidptr)$/.test(name)) return 'ptr';
  if (/^(unsigned long|u64|__u64|unsigned long long)$/.test(t)) return 'size';
  if (/^(long|loff_t|off_t|long long|__s64|s64)$/.test(t)) return 'int64';
  if (/^(unsigned int|unsigned|u32|__u32|uid_t|gid_t|qid_t|key_serial_t|unsigned short|u16)$/.test(t)) return 'uint';
  return 'int';
}

const specs = new Map<string, SyscallSpec | null>();

/** Kinds of every argument of `name` (undefined: the kernel described no such syscall). */
export function specFor(name: string): SyscallSpec | undefined {
  let s = specs.get(name);
  if (s === undefined) {
    const sig = signatures[name];
    s = sig ? {
      args: sig.map(([t, n], i) => kindOf(name, t, n, sig[i + 1])),
      names: sig.map(([, n]) => n),
      ret: HEX_RESULT.has(name) ? 'hex' : undefined,
    } : null;
    specs.set(name, s);
  }
  return s ?? undefined;
}
