// profile's engine: open one sampling perf event per CPU (cpu-clock, or hardware cycles), attach
// bpf/profile.bpf.o to each, count (pid, user stack, kernel stack) in the kernel, and turn the
// counts into symbolized stacks. Processes are snapshotted (/proc/PID/maps, JIT maps) as soon as
// they are first sampled, so that stacks of processes that exit before the end still resolve.
import { readFileSync } from 'node:fs';
import { BpfObject, bpfObjectPath, type BpfProgram } from '../../core/bpf.js';
import { BpfkitError } from '../../core/errors.js';
import { hasKernelFunc, hasRingbuf } from '../../core/features.js';
import { native, lastErrno } from '../../core/libbpf.js';
import { note } from '../../core/log.js';
import { sumPercpuU64, type BpfMap } from '../../core/maps.js';
import { RingBufferReader } from '../../core/ringbuf.js';
import type { StructView } from '../../core/btf.js';
import { demangleAll, dropSelfCaller, escapeControl, isMangled, PerfMap, Symbolizer, type Frame } from '../../core/symbols/index.js';

/** Must match PROFILE_MAX_FILTER / PROFILE_MAX_STACK_DEPTH in bpf/profile.h. */
export const MAX_FILTER = 64;
const MAX_STACK_DEPTH = 127;
/** PROFILE_STACK_MISSED in bpf/profile.h (0 = PROFILE_STACK_NONE: no stack; above 1: a stack's hash). */
const STACK_MISSED = 1n;

export type ProfileEvent = 'cpu-clock' | 'cycles';

export interface ProfileOptions {
  /** Samples per second per CPU (default 49); ignored when `period` is set. */
  frequency?: number;
  /** Sample every PERIOD events (cpu-clock: nanoseconds; cycles: cycles). */
  period?: number;
  event?: ProfileEvent;
  /** CPUs to sample (default: all online CPUs). */
  cpus?: number[];
  pids?: number[];
  tids?: number[];
  /** Collect only user stacks (-U) / only kernel stacks (-K). */
  userOnly?: boolean;
  kernelOnly?: boolean;
  includeIdle?: boolean;
  /** Entries of the stack-trace map (distinct stacks it can hold). Default 16384. */
  stackStorageSize?: number;
  /** Recover the caller of frameless leaf functions (x86_64: the word at the user stack pointer; arm64: the link register). Default true. */
  leafCaller?: boolean;
}

export interface ProfileStack {
  pid: number;
  comm: string;
  count: number;
  /** Leaf first. null: not collected (-K, or kernel thread); [] never happens for a present stack. */
  user: Frame[] | null;
  kernel: Frame[] | null;
  /** The stack existed but could not be stored (stack map full or hash collision). */
  userMissed: boolean;
  kernelMissed: boolean;
}

export interface ProfileStats {
  /** Samples that passed the filters (the sum of all stack counts plus `dropped`). */
  samples: number;
  /** Samples lost because the counts map was full. */
  dropped: number;
  userMissed: number;
  kernelMissed: number;
}

export interface ProfileResult {
  stacks: ProfileStack[];
  stats: ProfileStats;
}

/** Online CPUs, from /sys/devices/system/cpu/online ("0-3,5"). */
export function onlineCpus(): number[] {
  let text = '0';
  try {
    text = readFileSync('/sys/devices/system/cpu/online', 'utf8').trim();
  } catch {
    // single CPU assumed
  }
  return parseCpuList(text);
}

export function parseCpuList(text: string): number[] {
  const out: number[] = [];
  for (const part of text.split(',').filter(Boolean)) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) continue;
    const a = Number(m[1]);
    const b = m[2] !== undefined ? Number(m[2]) : a;
    for (let c = a; c <= b; c++) out.push(c);
  }
  return out;
}

// perf_event_attr (include/uapi/linux/perf_event.h), PERF_ATTR_SIZE_VER7 = 128 bytes.
const PERF_ATTR_SIZE = 128;
const PERF_TYPE_HARDWARE = 0;
const PERF_TYPE_SOFTWARE = 1;
const PERF_COUNT_HW_CPU_CYCLES = 0;
const PERF_COUNT_SW_CPU_CLOCK = 0;
const ATTR_DISABLED = 1n << 0n;
const ATTR_FREQ = 1n << 10n;
const PERF_FLAG_FD_CLOEXEC = 8;

function perfEventOpenNr(): number {
  switch (process.arch) {
    case 'x64': return 298;
    case 'arm64': return 241;
    default: throw new BpfkitError('NOT_SUPPORTED', `perf_event_open syscall number unknown for ${process.arch}`);
  }
}

/** perf_event_attr for a sampling event: frequency (Hz) or period mode. */
export function perfAttr(event: ProfileEvent, frequency: number | undefined, period: number | undefined): Buffer {
  const attr = Buffer.alloc(PERF_ATTR_SIZE);
  attr.writeUInt32LE(event === 'cycles' ? PERF_TYPE_HARDWARE : PERF_TYPE_SOFTWARE, 0); // type
  attr.writeUInt32LE(PERF_ATTR_SIZE, 4); // size
  attr.writeBigUInt64LE(BigInt(event === 'cycles' ? PERF_COUNT_HW_CPU_CYCLES : PERF_COUNT_SW_CPU_CLOCK), 8); // config
  let flags = ATTR_DISABLED; // libbpf enables the event once the program is attached
  if (period !== undefined) {
    attr.writeBigUInt64LE(BigInt(period), 16); // sample_period
  } else {
    attr.writeBigUInt64LE(BigInt(frequency ?? 49), 16); // sample_freq
    flags |= ATTR_FREQ;
  }
  attr.writeBigUInt64LE(flags, 40);
  return attr;
}

export function openPerfEvent(attr: Buffer, cpu: number, event: ProfileEvent): number {
  const fd = Number(native.syscall6(perfEventOpenNr(), attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC));
  if (fd >= 0) return fd;
  const e = lastErrno();
  if (event === 'cycles' && (e === 2 || e === 95 || e === 19)) {
    throw new BpfkitError('NOT_SUPPORTED', 'no hardware cycles counter on this machine (no PMU, e.g. in a VM): use the default cpu-clock event');
  }
  if (e === 1 || e === 13) throw new BpfkitError('NOT_ROOT', `perf_event_open on CPU ${cpu} denied (needs root or CAP_PERFMON; see /proc/sys/kernel/perf_event_paranoid)`);
  if (e === 22 && attr.readBigUInt64LE(40) & ATTR_FREQ) {
    let max = '';
    try { max = readFileSync('/proc/sys/kernel/perf_event_max_sample_rate', 'utf8').trim(); } catch { /* unknown */ }
    throw new BpfkitError('BAD_ARGS', `the kernel refused the sampling frequency${max ? ` (maximum: ${max} Hz, /proc/sys/kernel/perf_event_max_sample_rate)` : ''}`);
  }
  if (e === 19 || e === 6) throw new BpfkitError('BAD_ARGS', `CPU ${cpu} is not online`);
  throw new BpfkitError('ATTACH', `perf_event_open (${event}, CPU ${cpu}) failed: errno ${e}`);
}

export class ProfileSession {
  readonly symbolizer = new Symbolizer();
  private reader?: RingBufferReader;
  private refreshTimer?: NodeJS.Timeout;
  private readonly seen = new Set<number>();

  private constructor(
    private readonly obj: BpfObject,
    private readonly counts: BpfMap,
    private readonly stacks: BpfMap,
    private readonly stat: BpfMap,
    private readonly keyView: StructView,
    private readonly statView: StructView,
    readonly cpus: number[],
  ) {}

  static start(o: ProfileOptions): ProfileSession {
    if ((o.pids?.length ?? 0) > MAX_FILTER || (o.tids?.length ?? 0) > MAX_FILTER) {
      throw new BpfkitError('BAD_ARGS', `at most ${MAX_FILTER} PIDs or TIDs`);
    }
    const event = o.event ?? 'cpu-clock';
    const cpus = o.cpus ?? onlineCpus();
    const ringbuf = hasRingbuf();
    const leaf = (o.leafCaller ?? true) && (process.arch === 'x64' || process.arch === 'arm64');
    const leafKernel = leaf && hasKernelFunc('bpf_task_pt_regs');
    const obj = BpfObject.openFile(bpfObjectPath('profile'));
    const fds: number[] = [];
    try {
      const list = (xs: number[] | undefined) => {
        const b = Buffer.alloc(MAX_FILTER * 4);
        (xs ?? []).forEach((x, i) => b.writeUInt32LE(x, i * 4));
        return b;
      };
      obj.setConstants({
        filter_npids: o.pids?.length ?? 0,
        filter_pids: list(o.pids),
        filter_ntids: o.tids?.length ?? 0,
        filter_tids: list(o.tids),
        include_idle: o.includeIdle ?? false,
        user_stacks: !o.kernelOnly,
        kernel_stacks: !o.userOnly,
        notify_new_pids: ringbuf,
        leaf_fixup: leaf,
        leaf_fixup_kernel: leafKernel,
      });
      if (leaf) note(`profile: leaf callers recovered from the ${process.arch === 'arm64' ? 'link register' : 'user stack pointer'} in user-mode samples${leafKernel ? ' and in kernel-mode samples (bpf_task_pt_regs)' : ' (not in kernel-mode samples: no bpf_task_pt_regs, Linux < 5.15)'}`);
      const stackSize = o.stackStorageSize ?? 16384;
      obj.map('profile_stacks').setMaxEntries(stackSize);
      obj.map('profile_counts').setMaxEntries(Math.max(40960, stackSize * 2));
      if (!ringbuf) {
        // Kernels before 5.8: no ring buffer; the seen-pids set is found by scanning the counts.
        note('profile: no BPF ring buffer (Linux < 5.8): new processes are found by scanning the counts every second');
      }
      obj.load();
      const prog: BpfProgram = obj.program('profile_sample');
      const attr = perfAttr(event, o.frequency, o.period);
      for (const cpu of cpus) {
        const fd = openPerfEvent(attr, cpu, event);
        fds.push(fd);
        prog.attachPerfEvent(fd); // the link owns the fd from now on (closed on destroy)
        fds.pop();
      }
      const rate = o.period !== undefined ? `every ${o.period} ${event === 'cycles' ? 'cycles' : 'ns'}` : `${o.frequency ?? 49} Hz`;
      note(`profile: perf_event ${event} sampling ${rate} on CPU ${cpus.join(',')}; up to ${stackSize} distinct stacks stored by hash, counts in a hash keyed by pid/stacks/comm`);
      const s = new ProfileSession(
        obj,
        obj.map('profile_counts'),
        obj.map('profile_stacks'),
        obj.map('profile_stat'),
        obj.struct('profile_key'),
        obj.struct('profile_stats'),
        cpus,
      );
      for (const pid of o.pids ?? []) s.snapshot(pid);
      if (ringbuf) {
        s.reader = new RingBufferReader(obj.map('profile_events'), (data) => s.snapshot(data.readUInt32LE(0)));
      }
      // Libraries loaded and JIT code written after the first snapshot: the BPF side announces a
      // running process again after a second (ring buffer). Without a ring buffer, poll.
      if (!ringbuf) {
        s.refreshTimer = setInterval(() => s.refresh(), 1000);
        s.refreshTimer.unref();
      }
      return s;
    } catch (err) {
      for (const fd of fds) native.close(fd);
      obj.close();
      throw err;
    }
  }

  private snapshot(pid: number): void {
    if (pid === 0) return;
    const first = !this.seen.has(pid);
    this.seen.add(pid);
    this.symbolizer.snapshotProcess(pid);
    // A process first sampled inside execve has no libraries mapped yet, and a short-lived one may
    // be gone before the next announcement: look again once the loader has had time to map them.
    if (first) for (const ms of [100, 300]) setTimeout(() => this.symbolizer.snapshotProcess(pid, { force: true }), ms).unref();
  }

  /** Without a ring buffer: find new processes in the counts, refresh the known ones. */
  private refresh(): void {
    for (const k of this.counts.keys()) {
      const pid = this.keyView.uint(k, 'pid');
      if (!this.seen.has(pid)) this.snapshot(pid);
    }
    for (const pid of this.seen) {
      const snap = this.symbolizer.snapshot(pid);
      if (snap && !snap.exited) this.symbolizer.snapshotProcess(pid);
    }
  }

  /** Processes sampled so far (announced by the kernel). */
  sampledPids(): number[] {
    this.reader?.consume();
    return [...this.seen];
  }

  /** Stop sampling (the counts stay readable): nothing run afterwards, say jcmd, is sampled. */
  stopSampling(): void {
    this.reader?.consume();
    this.obj.detach();
  }

  /** Sampling statistics so far. */
  stats(): ProfileStats {
    const v = this.stat.lookup(Buffer.alloc(4));
    if (!v) return { samples: 0, dropped: 0, userMissed: 0, kernelMissed: 0 };
    const sum = (f: string) => Number(sumPercpuU64(this.stat, v, this.statView.field(f).offset));
    return { samples: sum('samples'), dropped: sum('dropped'), userMissed: sum('user_missed'), kernelMissed: sum('kernel_missed') };
  }

  /** Read the counts and stacks (sampling continues) and symbolize them. */
  collect(): ProfileResult {
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    this.reader?.consume();
    // Sampling goes on while we read: retry until the totals did not move during the read, so
    // that the counts add up to the reported sample total (exact once sampling has stopped).
    let stats = this.stats();
    let entries = this.counts.entries();
    for (let i = 0; i < 3; i++) {
      const after = this.stats();
      if (after.samples === stats.samples) break;
      stats = after;
      entries = this.counts.entries();
    }
    const stackCache = new Map<bigint, bigint[] | null>();
    const readStack = (id: bigint): bigint[] | null => {
      let st = stackCache.get(id);
      if (st !== undefined) return st;
      const key = Buffer.alloc(8);
      key.writeBigUInt64LE(id);
      const v = this.stacks.lookup(key);
      if (v) {
        st = [];
        for (let i = 0; i < MAX_STACK_DEPTH; i++) {
          const a = v.readBigUInt64LE(i * 8);
          if (a === 0n) break;
          st.push(a);
        }
      } else {
        st = null;
      }
      stackCache.set(id, st);
      return st;
    };
    // Processes that exited: their JIT map may have grown after the last snapshot.
    for (const pid of this.seen) {
      const snap = this.symbolizer.snapshot(pid);
      if (snap?.exited && snap.perfMap) snap.perfMap = snap.perfMap.refresh();
      else if (snap?.exited && snap.perfMapPath) {
        // Same checks as the symbolizer's: owned by the process's uid or root, no symlink/FIFO, bounded.
        try { snap.perfMap = PerfMap.load(snap.perfMapPath, snap.uids ? { owners: snap.uids } : {}); } catch { /* gone or refused */ }
      }
    }
    const kernelFrames = new Map<bigint, Frame[]>();
    const userFrames = new Map<string, Frame[]>();
    const uOff = this.keyView.field('user_stack').offset;
    const kOff = this.keyView.field('kernel_stack').offset;
    const cOff = this.keyView.field('user_caller').offset;
    const out: ProfileStack[] = [];
    for (const [k, v] of entries) {
      const pid = this.keyView.uint(k, 'pid');
      // A process names itself: no terminal escapes from it.
      const comm = escapeControl(this.keyView.str(k, 'comm'));
      const uid = k.readBigUInt64LE(uOff);
      const kid = k.readBigUInt64LE(kOff);
      const count = Number(v.readBigUInt64LE(0));
      let user: Frame[] | null = null;
      let kernel: Frame[] | null = null;
      let userMissed = uid === STACK_MISSED;
      let kernelMissed = kid === STACK_MISSED;
      if (uid > STACK_MISSED) {
        const caller = k.readBigUInt64LE(cOff);
        const key = `${pid}:${uid}:${caller}`;
        let f = userFrames.get(key);
        if (!f) {
          let addrs = readStack(uid);
          // The caller of a frameless leaf (found by the BPF side) goes right after the leaf.
          if (addrs && caller !== 0n) addrs = [addrs[0]!, caller, ...addrs.slice(1)];
          if (addrs) {
            f = this.symbolizer.symbolizeUser(pid, addrs);
            if (caller !== 0n) f = dropSelfCaller(f);
            userFrames.set(key, f);
          }
        }
        if (f) user = f;
        else userMissed = true;
      }
      if (kid > STACK_MISSED) {
        let f = kernelFrames.get(kid);
        if (!f) {
          const addrs = readStack(kid);
          if (addrs) {
            f = this.symbolizer.symbolizeKernel(addrs);
            kernelFrames.set(kid, f);
          }
        }
        if (f) kernel = f;
        else kernelMissed = true;
      }
      out.push({ pid, comm, count, user, kernel, userMissed, kernelMissed });
    }
    // C++/Rust names, demangled in one batch (c++filt, when installed), as BCC prints them.
    const mangled = new Set<string>();
    for (const fs of userFrames.values()) for (const f of fs) if (f.kind === 'user' && isMangled(f.name)) mangled.add(f.name);
    if (mangled.size) {
      const map = demangleAll(mangled);
      for (const fs of userFrames.values()) {
        for (let i = 0; i < fs.length; i++) {
          const d = map.get(fs[i]!.name);
          if (d !== undefined && d !== fs[i]!.name) fs[i] = { ...fs[i]!, name: d };
        }
      }
    }
    note(`profile: ${entries.length} stacks (${stackCache.size} distinct stacks, ${new Set(out.map((s) => s.pid)).size} processes, ${this.symbolizer.elfCache.size} binaries) read and symbolized in ${(performance.now() - t0).toFixed(0)} ms (${((process.cpuUsage(cpu0).user + process.cpuUsage(cpu0).system) / 1000).toFixed(0)} ms CPU)`);
    return { stacks: out, stats };
  }

  close(): void {
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    this.refreshTimer = undefined;
    this.reader?.close();
    this.reader = undefined;
    this.obj.close();
  }
}
