// diagnose's kernel side: load every program of bpf/diagnose.bpf.o for the whole host, wait,
// and read the per-thread and per-connection counters into plain records.
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { BpfObject, bpfObjectPath } from '../../core/bpf.js';
import { BpfkitError } from '../../core/errors.js';
import { hasBtfTracepoint, hasFentry, hasKernelFunc, hasTaskStorage } from '../../core/features.js';
import { note } from '../../core/log.js';
import { syscallNumber } from '../../core/syscalls/index.js';
import { formatAddr, unmapIPv4 } from '../../core/net.js';
import { listSockets } from '../../core/sockets.js';
import { listPids, readCgroup2, readCmdline, readStat } from '../../core/proc.js';

/**
 * Wait kinds: enum diag_wait of bpf/diagnose.h is DIAG_<KIND>; their numbers (the indexes of
 * diag_thread.wait_ns) come from the object's BTF, see waitKindValues.
 */
export const WAIT_KINDS = ['other', 'input', 'sleep', 'select_sleep', 'read', 'write', 'sync', 'lock'] as const;
export type WaitKind = (typeof WAIT_KINDS)[number];
/** Classification-only kinds, resolved in the kernel from the arguments. */
export type TableKind = WaitKind | 'select_like' | 'poll_like';

/** Which syscalls block on what (by name; syscall numbers come from the generated table). */
export const SYSCALL_KINDS: Record<string, TableKind> = {
  epoll_wait: 'input', epoll_pwait: 'input', epoll_pwait2: 'input', accept: 'input', accept4: 'input',
  select: 'select_like', pselect6: 'select_like', poll: 'poll_like', ppoll: 'poll_like',
  nanosleep: 'sleep', clock_nanosleep: 'sleep',
  read: 'read', readv: 'read', pread64: 'read', preadv: 'read', preadv2: 'read', recvfrom: 'read', recvmsg: 'read', recvmmsg: 'read',
  write: 'write', writev: 'write', pwrite64: 'write', pwritev: 'write', pwritev2: 'write', sendto: 'write', sendmsg: 'write', sendmmsg: 'write',
  fsync: 'sync', fdatasync: 'sync', sync_file_range: 'sync', syncfs: 'sync', msync: 'sync',
  futex: 'lock', futex_waitv: 'lock',
};

/**
 * The number of each kind, from enum diag_wait in the object's BTF. Throws when the two sides
 * disagree: a kind missing in C, or a C kind below DIAG_WAIT_KINDS that TypeScript does not name.
 */
export function waitKindValues(diagWait: Record<string, number>, waitSlots: number): Record<TableKind, number> {
  const out = {} as Record<TableKind, number>;
  for (const kind of [...WAIT_KINDS, 'select_like', 'poll_like'] as TableKind[]) {
    const v = diagWait[`DIAG_${kind.toUpperCase()}`];
    if (v === undefined) throw new Error(`bpf/diagnose.bpf.o: enum diag_wait has no DIAG_${kind.toUpperCase()}`);
    out[kind] = v;
  }
  const slots = diagWait.DIAG_WAIT_KINDS;
  if (slots !== WAIT_KINDS.length || waitSlots !== slots) {
    throw new Error(`bpf/diagnose.bpf.o: ${slots} wait kinds (diag_thread.wait_ns has ${waitSlots}), TypeScript knows ${WAIT_KINDS.length}`);
  }
  return out;
}

/**
 * The `wait_kind` table of the BPF objects that classify syscalls (diagnose, timeline): syscall
 * number -> enum diag_wait value, DIAG_MAX_SYSCALLS (1024) entries.
 */
export function syscallKindTable(value: Record<TableKind, number>): Buffer {
  const kinds = Buffer.alloc(1024); // DIAG_MAX_SYSCALLS (setConstants refuses a larger buffer)
  for (const [name, kind] of Object.entries(SYSCALL_KINDS)) {
    const nr = syscallNumber(name);
    if (nr !== undefined && nr < kinds.length) kinds[nr] = value[kind];
  }
  return kinds;
}

export interface ThreadStat {
  tid: number; tgid: number; comm: string;
  /** Parent process when the thread was first seen (0: unknown). */
  ppid?: number;
  oncpuNs: number; runqNs: number; syscalls: number; ioBytes: number; ioCount: number;
  waitNs: Record<WaitKind, number>; waitCount: Record<WaitKind, number>;
}

export interface FlowStat {
  tgid: number; family: 4 | 6;
  laddr: string; lport: number; raddr: string; rport: number;
  txBytes: number; rxBytes: number; txCalls: number; rxCalls: number;
}

export interface ProcInfo { pid: number; comm: string; ppid: number; cgroup: string; cmdline: string }

/** Where a process's time went in its code: one user stack with its weight. */
export interface StackSample {
  tgid: number;
  /** 'cpu': sampled on CPU; else the wait kind the thread was blocked in when it left the CPU. */
  kind: 'cpu' | WaitKind;
  /** Time: ns blocked (off-CPU) or ns on CPU (samples x sampling period). */
  ns: number;
  /** Symbolized user frames, leaf first ("func (module)" or "0xaddr (module)"). */
  frames: string[];
}

/** Waits on one futex word of one process (a lock or condition variable). */
export interface FutexStat {
  tgid: number;
  /** The futex word's address, hex. */
  uaddr: string;
  waitNs: number;
  waits: number;
  /** Distinct threads that waited on it. */
  waiters: number;
}

/** Queue depths of one local TCP connection end, sampled during the window (bytes). */
export interface SocketQueue {
  pid: number;
  laddr: string; lport: number; raddr: string; rport: number;
  sendQMax: number; sendQAvg: number; recvQMax: number; recvQAvg: number;
  samples: number;
}

/** CPU bandwidth control of one cgroup over the window (v1 cpu controller or v2 cpu.max). */
export interface CgroupCpu {
  path: string;
  pids: number[];
  /** cfs quota / period in cores; undefined: no limit. */
  quotaCores?: number;
  periods: number;
  throttledPeriods: number;
  throttledNs: number;
}

/** One block device over the window, from /proc/diskstats. */
export interface DiskStat {
  name: string;
  reads: number; writes: number; readBytes: number; writeBytes: number;
  /** Average time per completed request (ms). */
  readMsAvg: number; writeMsAvg: number;
  /** Share of the window with requests in flight (io_ticks). */
  busy: number;
}

/** Block I/O limits set on a cgroup (blkio.throttle.* or v2 io.max), for evidence. */
export interface IoLimit {
  path: string;
  pids: number[];
  device: string;
  readBps?: number; writeBps?: number; readIops?: number; writeIops?: number;
}

export interface Snapshot {
  windowS: number;
  cpus: number;
  threads: ThreadStat[];
  /**
   * Threads that exited during the window, summed in the kernel per process (`tid` 0): a process's
   * other threads under its own tgid, a process itself under its parent's tgid (as cutime), with
   * `ppid` the parent of that process. Short-lived processes (fork+exec loops) are counted here.
   */
  exited?: ThreadStat[];
  flows: FlowStat[];
  procs: Map<number, ProcInfo>;
  /** Local TCP endpoint "addr port" -> owning pid, from /proc (for peers that moved no data). */
  endpoints: Map<string, number>;
  localAddrs: Set<string>;
  selfPid: number;
  /** Top user stacks per process (off-CPU by wait kind, and on-CPU), heaviest first. */
  stacks?: StackSample[];
  futexes?: FutexStat[];
  sockQueues?: SocketQueue[];
  cgroupCpu?: CgroupCpu[];
  disks?: DiskStat[];
  ioLimits?: IoLimit[];
}

export function readProcs(into = new Map<number, ProcInfo>()): Map<number, ProcInfo> {
  for (const pid of listPids()) {
    const stat = readStat(pid);
    const cgroup = readCgroup2(pid);
    const cmdline = readCmdline(pid);
    // exited while we looked
    if (stat && cgroup !== undefined && cmdline !== undefined) into.set(pid, { pid, comm: stat.comm, ppid: stat.ppid, cgroup, cmdline });
  }
  return into;
}

export class DiagnoseSession {
  private constructor(private obj: BpfObject, private started: number, private procsAtStart: Map<number, ProcInfo>) {}

  static start(): DiagnoseSession {
    const missing = ['sys_enter', 'sys_exit', 'sched_switch', 'sched_wakeup'].filter((tp) => !hasBtfTracepoint(tp));
    if (missing.length) throw new BpfkitError('NOT_SUPPORTED', `diagnose needs BTF tracepoints ${missing.join(', ')} (Linux 5.5+ with BTF)`);
    if (!hasTaskStorage()) throw new BpfkitError('NOT_SUPPORTED', 'diagnose needs BPF task storage (Linux 5.11+)');
    const procsAtStart = readProcs();
    const obj = BpfObject.openFile(bpfObjectPath('diagnose'));
    try {
      const value = waitKindValues(obj.enumValues('diag_wait'), obj.struct('diag_thread').count('wait_ns'));
      obj.setConstants({ wait_kind: syscallKindTable(value) }); // bpfkit_self_tgid: set by load()
      const programs = ['diagnose_sys_enter', 'diagnose_sys_exit', 'diagnose_switch', 'diagnose_wakeup', 'diagnose_wakeup_new'];
      if (hasBtfTracepoint('sock_send_length') && hasBtfTracepoint('sock_recv_length')) {
        programs.push('diagnose_send', 'diagnose_recv');
        note('diagnose: TCP bytes from tp_btf/sock_send_length + sock_recv_length');
      } else if (hasKernelFunc('tcp_sendmsg') && hasKernelFunc('tcp_recvmsg') && hasFentry()) {
        programs.push('diagnose_fx_send', 'diagnose_fx_recv');
        note('diagnose: no sock_*_length tracepoints: TCP bytes from fexit/tcp_sendmsg + fexit/tcp_recvmsg');
      } else {
        note('diagnose: neither sock_*_length tracepoints nor fexit on tcp_sendmsg/tcp_recvmsg: TCP flows are not measured on this kernel');
      }
      if (hasBtfTracepoint('block_rq_issue')) programs.push('diagnose_block');
      obj.selectPrograms(programs);
      obj.load();
      obj.attachAll();
      note(`diagnose: attached ${programs.map((p) => p.replace('diagnose_', '')).join(', ')}`);
    } catch (err) {
      obj.close();
      throw err;
    }
    return new DiagnoseSession(obj, Date.now(), procsAtStart);
  }

  /** Read everything measured since start. */
  snapshot(): Snapshot {
    const windowS = (Date.now() - this.started) / 1000;
    const tv = this.obj.struct('diag_thread');
    const waitOff = tv.field('wait_ns').offset;
    const countOff = tv.field('wait_count').offset;
    const index = waitKindValues(this.obj.enumValues('diag_wait'), tv.count('wait_ns'));
    const read = (map: string): ThreadStat[] => {
      const threads: ThreadStat[] = [];
      for (const [k, v] of this.obj.map(map).entries()) {
        const waitNs = {} as Record<WaitKind, number>;
        const waitCount = {} as Record<WaitKind, number>;
        for (const kind of WAIT_KINDS) {
          waitNs[kind] = Number(v.readBigUInt64LE(waitOff + index[kind] * 8));
          waitCount[kind] = Number(v.readBigUInt64LE(countOff + index[kind] * 8));
        }
        threads.push({
          tid: map === 'exited' ? 0 : k.readUInt32LE(0), tgid: tv.uint(v, 'tgid'), ppid: tv.uint(v, 'ppid'), comm: tv.str(v, 'comm'),
          oncpuNs: tv.uint(v, 'oncpu_ns'), runqNs: tv.uint(v, 'runq_ns'), syscalls: tv.uint(v, 'syscalls'),
          ioBytes: tv.uint(v, 'io_bytes'), ioCount: tv.uint(v, 'io_count'), waitNs, waitCount,
        });
      }
      return threads;
    };
    const threads = read('threads');
    const exited = read('exited');
    const kv = this.obj.struct('diag_flow_key');
    const fv = this.obj.struct('diag_flow');
    const flows: FlowStat[] = [];
    for (const [k, v] of this.obj.map('flows').entries()) {
      const fam = kv.uint(k, 'family');
      flows.push({
        tgid: kv.uint(k, 'tgid'), family: fam === 2 ? 4 : 6,
        laddr: formatAddr(fam, kv.bytes(k, 'laddr')), lport: kv.uint(k, 'lport'),
        raddr: formatAddr(fam, kv.bytes(k, 'raddr')), rport: kv.uint(k, 'rport'),
        txBytes: fv.uint(v, 'tx_bytes'), rxBytes: fv.uint(v, 'rx_bytes'), txCalls: fv.uint(v, 'tx_calls'), rxCalls: fv.uint(v, 'rx_calls'),
      });
    }
    const procs = readProcs(new Map(this.procsAtStart));
    const endpoints = new Map<string, number>();
    try {
      for (const s of listSockets({ all: true })) {
        if ((s.proto === 'tcp' || s.proto === 'tcp6') && s.localAddr !== null && s.localPort !== null) {
          endpoints.set(`${unmapIPv4(s.localAddr)} ${s.localPort}`, s.pid);
        }
      }
    } catch {
      // best effort: flows seen in the kernel already name both ends in most cases
    }
    const localAddrs = new Set<string>(['127.0.0.1', '::1']);
    for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) localAddrs.add(a.address);
    return { windowS, cpus: cpuCount(), threads, exited, flows, procs, endpoints, localAddrs, selfPid: process.pid };
  }

  close(): void {
    this.obj.close();
  }
}

function cpuCount(): number {
  try {
    return readFileSync('/proc/stat', 'utf8').split('\n').filter((l) => /^cpu\d+ /.test(l)).length || 1;
  } catch {
    return 1;
  }
}
