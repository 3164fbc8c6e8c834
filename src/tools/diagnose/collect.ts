// diagnose's kernel side: load every program of bpf/diagnose.bpf.o for the whole host, wait,
// and read the per-thread and per-connection counters into plain records; plus the evidence
// behind verdicts: user stacks (off-CPU by wait kind, and sampled on CPU), futex waits, socket
// queue depths (sampled from /proc while the session runs), cgroup CPU throttling, disks.
import { hostContainers } from '../../core/containers.js';
import { existsSync, readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { BpfObject, bpfObjectPath, type BpfProgram } from '../../core/bpf.js';
import { BpfkitError } from '../../core/errors.js';
import { hasBtfTracepoint, hasFentry, hasKernelFunc, hasTaskStorage } from '../../core/features.js';
import { native } from '../../core/libbpf.js';
import { note } from '../../core/log.js';
import { sumPercpuU64 } from '../../core/maps.js';
import { syscallNumber } from '../../core/syscalls/index.js';
import { formatAddr, unmapIPv4 } from '../../core/net.js';
import { listSockets, type SocketRecord } from '../../core/sockets.js';
import { listPids, readCgroup2, readCmdline, readStat } from '../../core/proc.js';
import { cgroupAncestors, cpuCgroupDir, readCgroupMounts, readCpuCgroup, readIoLimits, readProcCgroups, type CgroupMounts, type CpuCgroupState, type ProcCgroups } from '../../core/cgroups.js';
import { diskDeltas, readDiskstats, type DiskCounters } from '../../core/diskstats.js';
import { DiskNames } from '../../core/disks.js';
import { TcpQueueSampler } from '../../core/tcpqueues.js';
import { demangleAll, dropSelfCaller, frameLabel, isMangled, Symbolizer, type Frame } from '../../core/symbols/index.js';
import { onlineCpus, openPerfEvent, perfAttr } from '../profile/profile.js';

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
  /** Blocks (off-CPU) or samples (on CPU) behind `ns`. */
  count: number;
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
  /** Local ports with a listening TCP socket: a connection end on one of them is the server's. */
  listenPorts?: Set<number>;
  selfPid: number;
  /** Top user stacks per process (off-CPU by wait kind, and on-CPU), heaviest first. */
  stacks?: StackSample[];
  futexes?: FutexStat[];
  sockQueues?: SocketQueue[];
  cgroupCpu?: CgroupCpu[];
  disks?: DiskStat[];
  ioLimits?: IoLimit[];
  /** Container short id -> name, where the runtime's state names it. */
  containerNames?: Map<string, string>;
}

/** The names of the containers the processes are in (nothing read on a host with no runtime). */
function containerNamesOf(procs: Map<number, ProcInfo>): Map<string, string> {
  const out = new Map<string, string>();
  const r = hostContainers();
  if (!r.active) return out;
  for (const p of procs.values()) {
    const c = p.cgroup ? r.ofCgroup(p.cgroup) : undefined;
    if (c?.name) out.set(c.shortId, c.name);
  }
  return out;
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

/** On-CPU sampling rate (per CPU): prime, so it does not beat with periodic work. */
const SAMPLE_HZ = 49;
const SAMPLE_PERIOD_NS = Math.round(1e9 / SAMPLE_HZ);
/** Socket queues are sampled this often while the session runs. */
const QUEUE_SAMPLE_MS = 500;
/** Stacks kept per (process, kind), the share of the window a stack needs, and the total kept. */
const STACKS_PER_KIND = 5;
const STACK_MIN_SHARE = 0.02;
const MAX_STACKS = 200;
/** Stack weights symbolized at most (heaviest first), before merging equal symbolized stacks. */
const MAX_SYMBOLIZED = 4000;
/** Futex words reported at most (most waited-on first). */
const MAX_FUTEXES = 500;
/** DIAG_STACK_MISSED in bpf/diagnose.h (0 = no stack; above 1: a stack's hash). */
const STACK_MISSED = 1n;

export interface CollectOptions {
  /** User stacks of threads when they block (default true). */
  offcpuStacks?: boolean;
  /** On-CPU user stacks sampled at 49 Hz (default true). */
  cpuStacks?: boolean;
  /** Recover the caller of frameless functions (libc wrappers): x86_64 from the stack pointer, arm64 from the link register (default true). */
  leafCaller?: boolean;
}

export class DiagnoseSession {
  private readonly symbolizer = new Symbolizer();
  private readonly queues = new TcpQueueSampler();
  private queueTimer?: NodeJS.Timeout;
  private readonly mounts: CgroupMounts;
  private readonly cpuAtStart = new Map<string, CpuCgroupState>();
  private readonly disksAtStart: Map<string, DiskCounters>;

  private constructor(private obj: BpfObject, private started: number, private procsAtStart: Map<number, ProcInfo>) {
    this.mounts = readCgroupMounts();
    this.disksAtStart = readDiskstats();
    try {
      for (const state of this.cpuCgroups(procsAtStart.keys()).states.values()) this.cpuAtStart.set(state.id, state);
    } catch (e) {
      note(`diagnose: cgroup CPU counters not read: ${(e as Error).message}`);
    }
    this.queues.sample();
    this.queueTimer = setInterval(() => {
      try { this.queues.sample(); } catch { /* best effort */ }
    }, QUEUE_SAMPLE_MS);
    this.queueTimer.unref();
  }

  static start(opts: CollectOptions = {}): DiagnoseSession {
    const missing = ['sys_enter', 'sys_exit', 'sched_switch', 'sched_wakeup'].filter((tp) => !hasBtfTracepoint(tp));
    if (missing.length) throw new BpfkitError('NOT_SUPPORTED', `diagnose needs BTF tracepoints ${missing.join(', ')} (Linux 5.5+ with BTF)`);
    if (!hasTaskStorage()) throw new BpfkitError('NOT_SUPPORTED', 'diagnose needs BPF task storage (Linux 5.11+)');
    const procsAtStart = readProcs();
    const obj = BpfObject.openFile(bpfObjectPath('diagnose'));
    try {
      const value = waitKindValues(obj.enumValues('diag_wait'), obj.struct('diag_thread').count('wait_ns'));
      const leaf = (opts.leafCaller ?? true) && (process.arch === 'x64' || process.arch === 'arm64') && hasKernelFunc('bpf_task_pt_regs');
      // bpfkit_self_tgid: set by load()
      obj.setConstants({ wait_kind: syscallKindTable(value), futex_nr: syscallNumber('futex') ?? -1, leaf_fixup: leaf, offcpu_stacks: opts.offcpuStacks ?? true });
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
      // Thread names given after creation (a JVM's GC and JIT threads): without it, the name at first sight.
      if (hasBtfTracepoint('task_rename')) programs.push('diagnose_rename');
      obj.selectPrograms([...programs, 'diagnose_sample']);
      obj.load();
      for (const name of programs) obj.program(name).attach();
      note(`diagnose: attached ${programs.map((p) => p.replace('diagnose_', '')).join(', ')}; off-CPU user stacks at each block${leaf ? ` (callers of frameless functions recovered from the ${process.arch === 'arm64' ? 'link register' : 'stack pointer'})` : ''}; futex waits per lock word`);
      if (opts.cpuStacks ?? true) attachSampling(obj.program('diagnose_sample'));
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
    const futexes = this.evidence('futex waits', [], () => this.readFutexes());
    const stacks = this.evidence('stacks', [], () => this.readStacks(windowS));
    const procs = readProcs(new Map(this.procsAtStart));
    const endpoints = new Map<string, number>();
    const listenPorts = new Set<number>();
    let sockets: SocketRecord[] = [];
    try {
      sockets = listSockets({ all: true });
      for (const s of sockets) {
        if ((s.proto === 'tcp' || s.proto === 'tcp6') && s.localAddr !== null && s.localPort !== null) {
          if (s.state === 'LISTEN') listenPorts.add(s.localPort);
          endpoints.set(`${unmapIPv4(s.localAddr)} ${s.localPort}`, s.pid);
        }
      }
    } catch {
      // best effort: flows seen in the kernel already name both ends in most cases
    }
    const localAddrs = new Set<string>(['127.0.0.1', '::1']);
    for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) localAddrs.add(a.address);
    const sockQueues = this.evidence('socket queues', [], () => this.readQueues(sockets));
    const live = [...procs.keys()].filter((pid) => pid !== process.pid);
    const cgroupCpu = this.evidence('cgroup CPU', [], () => this.readCgroupCpu(live));
    // Whole devices only: a partition's I/O is also its disk's.
    const disks = this.evidence('disks', [], () => diskDeltas(this.disksAtStart, readDiskstats(), windowS * 1000).filter((d) => !isPartition(d.name)));
    const ioLimits = this.evidence('I/O limits', [], () => this.readIoLimits(live));
    const containerNames = this.evidence('container names', new Map<string, string>(), () => containerNamesOf(procs));
    return {
      windowS, cpus: cpuCount(), threads, exited, flows, procs, endpoints, listenPorts, localAddrs, selfPid: process.pid,
      stacks, futexes, sockQueues, cgroupCpu, disks, ioLimits, containerNames,
    };
  }

  /** Evidence is best effort: a failure is a verbose note, never a failed diagnosis. */
  private evidence<T>(what: string, fallback: T, f: () => T): T {
    try {
      return f();
    } catch (e) {
      note(`diagnose: ${what} not read: ${(e as Error).message}`);
      return fallback;
    }
  }

  private stats(): { stackMissed: number; stackDropped: number; futexDropped: number; samples: number } {
    const m = this.obj.map('diag_stat');
    const v = m.lookup(Buffer.alloc(4));
    const sv = this.obj.struct('diag_stats');
    const sum = (f: string) => (v ? Number(sumPercpuU64(m, v, sv.field(f).offset)) : 0);
    return { stackMissed: sum('stack_missed'), stackDropped: sum('stack_dropped'), futexDropped: sum('futex_dropped'), samples: sum('samples') };
  }

  /** Futex waits per (process, lock word): time, waits, distinct waiting threads. */
  private readFutexes(): FutexStat[] {
    const kv = this.obj.struct('diag_futex_key');
    const tv = this.obj.struct('diag_time');
    const rows: FutexRow[] = [];
    for (const [k, v] of this.obj.map('futexes').entries()) {
      rows.push({ tgid: kv.uint(k, 'tgid'), tid: kv.uint(k, 'tid'), uaddr: k.readBigUInt64LE(kv.field('uaddr').offset), ns: tv.uint(v, 'ns'), count: tv.uint(v, 'count') });
    }
    const dropped = this.stats().futexDropped;
    if (dropped) note(`diagnose: ${dropped} futex waits not counted (map of ${this.obj.map('futexes').maxEntries} lock words x threads full)`);
    return aggregateFutexes(rows).slice(0, MAX_FUTEXES);
  }

  /**
   * The heaviest user stacks per process and kind, symbolized; weights of equal symbolized stacks
   * (e.g. on-CPU samples at different addresses of one loop) are merged first.
   */
  private readStacks(windowS: number): StackSample[] {
    const t0 = performance.now();
    const kv = this.obj.struct('diag_stack_key');
    const tv = this.obj.struct('diag_time');
    const diagWait = this.obj.enumValues('diag_wait');
    const kindOf = new Map<number, 'cpu' | WaitKind>([[diagWait.DIAG_ON_CPU!, 'cpu']]);
    for (const k of WAIT_KINDS) kindOf.set(diagWait[`DIAG_${k.toUpperCase()}`]!, k);
    const sOff = kv.field('stack').offset;
    const cOff = kv.field('caller').offset;
    const windowNs = windowS * 1e9;
    interface Raw { tgid: number; kind: 'cpu' | WaitKind; stack: bigint; caller: bigint; ns: number; count: number }
    const raws: Raw[] = [];
    const groupNs = new Map<string, number>();
    let unstacked = 0;
    for (const [k, v] of this.obj.map('stack_times').entries()) {
      const kind = kindOf.get(kv.uint(k, 'kind'));
      const stack = k.readBigUInt64LE(sOff);
      const ns = tv.uint(v, 'ns');
      if (!kind) continue;
      if (stack <= STACK_MISSED) { unstacked += ns; continue; }
      const tgid = kv.uint(k, 'tgid');
      raws.push({ tgid, kind, stack, caller: k.readBigUInt64LE(cOff), ns, count: tv.uint(v, 'count') });
      const g = `${tgid} ${kind}`;
      groupNs.set(g, (groupNs.get(g) ?? 0) + ns);
    }
    // Only groups that can hold a stack over the threshold, and processes still alive.
    const minNs = STACK_MIN_SHARE * windowNs;
    const alive = new Map<number, boolean>();
    const isAlive = (tgid: number) => {
      let a = alive.get(tgid);
      if (a === undefined) {
        a = tgid !== process.pid && this.symbolizer.snapshotProcess(tgid);
        alive.set(tgid, a);
      }
      return a;
    };
    const cand = raws.filter((r) => (groupNs.get(`${r.tgid} ${r.kind}`) ?? 0) >= minNs).sort((a, b) => b.ns - a.ns).slice(0, MAX_SYMBOLIZED);
    const stackMap = this.obj.map('stacks');
    const addrsOf = new Map<bigint, bigint[] | null>();
    const key = Buffer.alloc(8);
    const merged = new Map<string, { tgid: number; kind: 'cpu' | WaitKind; ns: number; count: number; frames: Frame[] }>();
    const label = (f: Frame) => frameLabel(f, { module: true, kindSuffix: false });
    for (const r of cand) {
      if (!isAlive(r.tgid)) continue;
      let addrs = addrsOf.get(r.stack);
      if (addrs === undefined) {
        key.writeBigUInt64LE(r.stack);
        const v = stackMap.lookup(key);
        addrs = null;
        if (v) {
          addrs = [];
          for (let i = 0; i + 8 <= v.length; i += 8) {
            const a = v.readBigUInt64LE(i);
            if (a === 0n) break;
            addrs.push(a);
          }
        }
        addrsOf.set(r.stack, addrs);
      }
      if (!addrs || addrs.length === 0) continue;
      // The caller of a frameless leaf (found by the BPF side) goes right after the leaf.
      const full = r.caller !== 0n ? [addrs[0]!, r.caller, ...addrs.slice(1)] : addrs;
      const frames = r.caller !== 0n ? dropSelfCaller(this.symbolizer.symbolizeUser(r.tgid, full)) : this.symbolizer.symbolizeUser(r.tgid, full);
      const id = `${r.tgid} ${r.kind} ${frames.map(label).join(';')}`;
      const m = merged.get(id);
      if (m) {
        m.ns += r.ns;
        m.count += r.count;
      } else {
        merged.set(id, { tgid: r.tgid, kind: r.kind, ns: r.ns, count: r.count, frames });
      }
    }
    const byGroup = new Map<string, StackSample[]>();
    const mangled = new Set<string>();
    for (const m of merged.values()) {
      if (m.ns < minNs) continue;
      for (const f of m.frames) if (f.kind === 'user' && isMangled(f.name)) mangled.add(f.name);
    }
    // C++/Rust names demangled in one batch (c++filt, when installed).
    const demangled = mangled.size ? demangleAll(mangled) : new Map<string, string>();
    for (const m of merged.values()) {
      if (m.ns < minNs) continue;
      const g = `${m.tgid} ${m.kind}`;
      const list = byGroup.get(g) ?? [];
      const frames = m.frames.map((f) => label(demangled.has(f.name) ? { ...f, name: demangled.get(f.name)! } : f));
      list.push({ tgid: m.tgid, kind: m.kind, ns: m.ns, count: m.count, frames });
      byGroup.set(g, list);
    }
    let out: StackSample[] = [];
    for (const list of byGroup.values()) out.push(...list.sort((a, b) => b.ns - a.ns).slice(0, STACKS_PER_KIND));
    out = out.sort((a, b) => b.ns - a.ns).slice(0, MAX_STACKS);
    const st = this.stats();
    note(`diagnose: ${raws.length} stack weights, ${cand.length} symbolized into ${merged.size} stacks, ${out.length} kept (>= ${STACK_MIN_SHARE * 100}% of the window, <= ${STACKS_PER_KIND} per process and kind) in ${(performance.now() - t0).toFixed(0)} ms; ${st.samples} on-CPU samples; ${(unstacked / 1e9).toFixed(2)} s without a stored stack${st.stackMissed ? `, ${st.stackMissed} stacks not stored (map full)` : ''}${st.stackDropped ? `, ${st.stackDropped} weights dropped (map full)` : ''}`);
    return out;
  }

  /** Socket queues sampled during the window, by owning process (connections that queued bytes). */
  private readQueues(sockets: SocketRecord[]): SocketQueue[] {
    this.queues.sample();
    const owner = new Map<number, number>();
    for (const s of sockets) if (!owner.has(s.inode) && s.pid !== process.pid) owner.set(s.inode, s.pid);
    const out: SocketQueue[] = [];
    for (const t of this.queues.tracks.values()) {
      const pid = owner.get(t.inode);
      if (pid === undefined || (t.sendQMax === 0 && t.recvQMax === 0)) continue;
      out.push({
        pid, laddr: unmapIPv4(t.laddr), lport: t.lport, raddr: unmapIPv4(t.raddr), rport: t.rport,
        sendQMax: t.sendQMax, sendQAvg: t.sendQSum / t.samples, recvQMax: t.recvQMax, recvQAvg: t.recvQSum / t.samples, samples: t.samples,
      });
    }
    if (this.queues.untracked) note(`diagnose: socket queues of ${this.queues.untracked} connections not sampled (at most ${this.queues.tracks.size})`);
    return out.sort((a, b) => Math.max(b.sendQMax, b.recvQMax) - Math.max(a.sendQMax, a.recvQMax)).slice(0, 500);
  }

  /** CPU cgroups of the processes and their ancestors: state now, and the pids inside each. */
  private cpuCgroups(pids: Iterable<number>): { states: Map<string, CpuCgroupState>; pids: Map<string, number[]> } {
    const states = new Map<string, CpuCgroupState>();
    const members = new Map<string, number[]>();
    const missing = new Set<string>();
    for (const pid of pids) {
      const cg = readProcCgroups(pid);
      const where = cg && cpuCgroupDir(cg, this.mounts);
      if (!where) continue;
      const path = where.id.slice(3);
      for (const p of cgroupAncestors(path)) {
        const id = `${where.id.slice(0, 3)}${p}`;
        if (!states.has(id) && !missing.has(id)) {
          const dir = where.dir.slice(0, where.dir.length - path.length) + p;
          const s = readCpuCgroup(id, dir, where.v);
          if (s) states.set(id, s);
          else missing.add(id);
        }
        const list = members.get(id) ?? [];
        list.push(pid);
        members.set(id, list);
      }
    }
    return { states, pids: members };
  }

  private readCgroupCpu(pids: number[]): CgroupCpu[] {
    const now = this.cpuCgroups(pids);
    const out: CgroupCpu[] = [];
    for (const [id, s] of now.states) {
      const before = this.cpuAtStart.get(id);
      if (!before) continue; // not seen at start: its counters cover more than the window
      const c: CgroupCpu = {
        path: id.slice(3), pids: (now.pids.get(id) ?? []).sort((a, b) => a - b),
        periods: s.periods - before.periods, throttledPeriods: s.throttledPeriods - before.throttledPeriods,
        throttledNs: s.throttledNs - before.throttledNs,
      };
      if (s.quotaCores !== undefined) c.quotaCores = s.quotaCores;
      if (c.quotaCores !== undefined || c.throttledPeriods > 0) out.push(c);
    }
    return out.sort((a, b) => b.throttledNs - a.throttledNs);
  }

  private readIoLimits(pids: number[]): IoLimit[] {
    const names = new DiskNames();
    const byKey = new Map<string, IoLimit>();
    const seen = new Map<string, ReturnType<typeof readIoLimits>>();
    for (const pid of pids) {
      const cg: ProcCgroups | undefined = readProcCgroups(pid);
      if (!cg) continue;
      const ck = `${cg.v1.get('blkio') ?? ''}|${cg.v2 ?? ''}`;
      let lims = seen.get(ck);
      if (!lims) {
        lims = readIoLimits(cg, this.mounts);
        seen.set(ck, lims);
      }
      for (const l of lims) {
        const key = `${l.id} ${l.device}`;
        let e = byKey.get(key);
        if (!e) {
          const [maj, min] = l.device.split(':').map(Number);
          e = { path: l.id.slice(3), pids: [], device: names.name(maj!, min!) };
          for (const f of ['readBps', 'writeBps', 'readIops', 'writeIops'] as const) if (l[f] !== undefined) e[f] = l[f];
          byKey.set(key, e);
        }
        e.pids.push(pid);
      }
    }
    return [...byKey.values()];
  }

  close(): void {
    if (this.queueTimer) clearInterval(this.queueTimer);
    this.queueTimer = undefined;
    this.obj.close();
  }
}

/** Sample on-CPU user stacks on every online CPU; if that is not possible, say so and go on. */
function attachSampling(prog: BpfProgram): void {
  const cpus = onlineCpus();
  const attr = perfAttr('cpu-clock', undefined, SAMPLE_PERIOD_NS);
  let fd = -1;
  try {
    for (const cpu of cpus) {
      fd = openPerfEvent(attr, cpu, 'cpu-clock');
      prog.attachPerfEvent(fd); // the link owns the fd from now on
      fd = -1;
    }
    note(`diagnose: on-CPU user stacks sampled at ${SAMPLE_HZ} Hz (cpu-clock) on CPU ${cpus.join(',')}`);
  } catch (e) {
    if (fd >= 0) native.close(fd);
    note(`diagnose: no on-CPU stacks: ${(e as Error).message}`);
  }
}

export interface FutexRow { tgid: number; tid: number; uaddr: bigint; ns: number; count: number }

/** Futex waits per (process, word), heaviest first; waiters = distinct threads. */
export function aggregateFutexes(rows: FutexRow[]): FutexStat[] {
  const by = new Map<string, FutexStat & { tids: Set<number> }>();
  for (const r of rows) {
    const key = `${r.tgid} ${r.uaddr}`;
    let f = by.get(key);
    if (!f) {
      f = { tgid: r.tgid, uaddr: '0x' + r.uaddr.toString(16), waitNs: 0, waits: 0, waiters: 0, tids: new Set() };
      by.set(key, f);
    }
    f.waitNs += r.ns;
    f.waits += r.count;
    f.tids.add(r.tid);
  }
  return [...by.values()]
    .map(({ tids, ...f }) => ({ ...f, waiters: tids.size }))
    .sort((a, b) => b.waitNs - a.waitNs);
}

function isPartition(name: string): boolean {
  return /^[\w.-]+$/.test(name) && existsSync(`/sys/class/block/${name}/partition`);
}

function cpuCount(): number {
  try {
    return readFileSync('/proc/stat', 'utf8').split('\n').filter((l) => /^cpu\d+ /.test(l)).length || 1;
  } catch {
    return 1;
  }
}
