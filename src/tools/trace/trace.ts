// trace's kernel side: load bpf/trace.bpf.o with the filters and the per-syscall copy ops as
// constants, attach to raw_syscalls sys_enter/sys_exit (tp_btf + task storage, or raw_tp + a
// hash on older kernels), and turn ring-buffer records into TraceRecords. Never prints.
// A TraceSession is an EventSource (src/toolkit/stream.ts): streamEvents reads it.
import { BpfObject, bpfObjectPath, type Link } from '../../core/bpf.js';
import { BpfkitError } from '../../core/errors.js';
import { hasBtfTracepoint, hasTaskStorage, hasRingbuf } from '../../core/features.js';
import { note } from '../../core/log.js';
import { possibleCpus, type BpfMap } from '../../core/maps.js';
import { RingBufferReader } from '../../core/ringbuf.js';
import type { EventSource } from '../../toolkit/stream.js';
import { allSyscalls, syscallName, syscallNumber } from '../../core/syscalls/index.js';
import { NORETURN, planFor, type Plan, type PlanLimits, type TraceRecord } from './decode.js';

export interface TraceFilters {
  tgid?: number;
  tid?: number;
  comm?: string;
  failedOnly?: boolean;
  minMs?: number;
  /** Only these syscall numbers (default: all). */
  syscalls?: number[];
  /** Bytes of read/write data to copy (strace -s). */
  strsize: number;
  /** Ring buffer size in MiB (a power of two). */
  bufferMb?: number;
  /** Trace the tasks put in the traced set (addTask) instead of -p/-t: -f, -- CMD. */
  taskSet?: boolean;
  /** -f: also the children of traced tasks (threads are always followed in a task set). */
  follow?: boolean;
  /** -c/-C: count calls, errors and time per syscall in the kernel. */
  stats?: boolean;
  /** false (-c alone): no record per syscall. */
  records?: boolean;
  /** -k: the user stack of each syscall. */
  stack?: boolean;
}

/** One row of the -c table, summed over CPUs. */
export interface SyscallStat { nr: number; calls: number; errors: number; ns: number }

export interface TraceCounters { sent: number; lostRingbuf: number; lostSlot: number; lost: number }

const READ_INTERVAL_MS = 50;
/** Records the READ_INTERVAL_MS timer reads at a time (a flood is read by the poll slices). */
const TIMER_SLICE = 4096;

/** The constants of bpf/trace.h, read from the object's BTF (enums and array sizes). */
interface TraceConsts extends PlanLimits {
  maxSyscalls: number;
  copyKind: Record<string, number>;
  opExit: number;
  opRetry: number;
  faultShift: number;
  cut: number;
  taskActive: number;
  taskExec: number;
  taskAdopt: number;
  counter: { sent: number; lostRingbuf: number; lostSlot: number };
}

function traceConsts(obj: BpfObject): TraceConsts {
  const need = (e: Record<string, number>, name: string): number => {
    const v = e[name];
    if (v === undefined) throw new Error(`bpf/trace.bpf.o: no ${name} in its BTF (rebuild with bpf/build.sh)`);
    return v;
  };
  const copyKind = obj.enumValues('trace_copy_kind');
  const when = obj.enumValues('trace_op_when');
  const flags = obj.enumValues('trace_flags');
  const cnt = obj.enumValues('trace_counter');
  const limits = obj.enumValues('trace_limits');
  return {
    maxSyscalls: need(limits, 'TRACE_MAX_SYSCALLS'),
    maxOps: obj.struct('trace_rec').count('lens'),
    dataBudget: need(limits, 'TRACE_DATA_USED'),
    copyKind,
    opExit: need(when, 'TRACE_OP_EXIT'),
    opRetry: need(when, 'TRACE_OP_RETRY'),
    faultShift: need(flags, 'TRACE_F_FAULT_SHIFT'),
    cut: need(flags, 'TRACE_F_CUT'),
    taskActive: need(obj.enumValues('trace_task_state'), 'TRACE_TASK_ACTIVE'),
    taskExec: need(obj.enumValues('trace_task_state'), 'TRACE_TASK_EXEC'),
    taskAdopt: need(obj.enumValues('trace_task_state'), 'TRACE_TASK_ADOPT'),
    counter: { sent: need(cnt, 'TRACE_CNT_SENT'), lostRingbuf: need(cnt, 'TRACE_CNT_LOST_RINGBUF'), lostSlot: need(cnt, 'TRACE_CNT_LOST_SLOT') },
  };
}

/** Which programs: tp_btf with task storage (best), raw_tp with a hash (older kernels). */
export type HookSet = 'tp_btf' | 'raw_tp';

export function chooseHooks(): HookSet {
  const forced = process.env.BPFKIT_TRACE_HOOKS;
  if (forced === 'tp_btf' || forced === 'raw_tp') {
    note(`trace: hook set forced to ${forced} (BPFKIT_TRACE_HOOKS)`);
    return forced;
  }
  if (hasBtfTracepoint('sys_enter') && hasBtfTracepoint('sys_exit') && hasTaskStorage()) return 'tp_btf';
  return 'raw_tp';
}

export class TraceSession implements EventSource {
  readonly plans: Plan[] = [];
  private reader: RingBufferReader | undefined;
  private counterMap: BpfMap;
  private off: Record<string, number> = {};
  private dataOff = 0;
  private links: Link[] = [];
  private timer: NodeJS.Timeout | undefined;

  private readonly k: TraceConsts;

  private constructor(private obj: BpfObject, readonly hooks: HookSet, private strsize: number) {
    this.counterMap = obj.map('trace_counters');
    this.k = traceConsts(obj);
  }

  /**
   * Load and attach. Records stay in the ring buffer until start() (streamEvents calls it;
   * benchmarks fill the buffer, then time the drain).
   */
  static open(f: TraceFilters): TraceSession {
    if (!hasRingbuf()) throw new BpfkitError('NOT_SUPPORTED', 'trace needs the BPF ring buffer (Linux 5.8+)');
    const hooks = chooseHooks();
    if (hooks === 'raw_tp' && process.env.BPFKIT_TRACE_HOOKS !== 'raw_tp') {
      // raw_tp needs only raw tracepoints (4.17+); it is always there on a kernel with ringbuf.
      note('trace: no tp_btf sys_enter/sys_exit or no task storage: using raw_tp and a per-thread hash');
    }
    const obj = BpfObject.openFile(bpfObjectPath('trace'));
    let session: TraceSession | undefined;
    try {
      session = new TraceSession(obj, hooks, f.strsize);
      const { k } = session;
      const opView = obj.struct('trace_copy_op');
      const wanted = Buffer.alloc(k.maxSyscalls);
      const noreturn = Buffer.alloc(k.maxSyscalls);
      const opCount = Buffer.alloc(k.maxSyscalls);
      const ops = Buffer.alloc(k.maxSyscalls * k.maxOps * opView.size);
      const names = f.syscalls ? f.syscalls.map((nr) => ({ nr, name: syscallName(nr) })) : allSyscalls();
      for (const { nr, name } of names) {
        if (nr < 0 || nr >= k.maxSyscalls) continue;
        const plan = planFor(nr, name, f.strsize, k);
        session.plans[nr] = plan;
        wanted[nr] = 1;
        if (NORETURN.includes(name)) noreturn[nr] = 1;
        opCount[nr] = plan.ops.length;
        plan.ops.forEach((o, i) => {
          const base = (nr * k.maxOps + i) * opView.size;
          const kind = k.copyKind[`TRACE_COPY_${o.kind}`];
          if (kind === undefined) throw new Error(`bpf/trace.bpf.o: no TRACE_COPY_${o.kind} in enum trace_copy_kind`);
          ops.writeUInt8(kind, base + opView.field('kind').offset);
          ops.writeUInt8((o.atExit ? k.opExit : 0) | (o.retry ? k.opRetry : 0), base + opView.field('at_exit').offset);
          ops.writeUInt8(o.arg, base + opView.field('arg').offset);
          ops.writeUInt8(o.lenArg, base + opView.field('len_arg').offset);
          ops.writeUInt16LE(o.max, base + opView.field('max').offset);
          ops.writeUInt8(o.mult, base + opView.field('mult').offset);
          ops.writeUInt8(o.shift, base + opView.field('shift').offset);
        });
      }
      // NORETURN entries matter even when not traced by -e (harmless: only wanted ones are seen).
      const comm = Buffer.alloc(16);
      if (f.comm !== undefined) comm.write(f.comm.slice(0, 15));
      obj.setConstants({
        // (with a task set the map filters: -p PID -f also traces the children, other tgids)
        filter_tgid: f.taskSet ? 0 : (f.tgid ?? 0),
        filter_tid: f.tid ?? 0,
        filter_comm: f.comm !== undefined,
        comm_name: comm,
        failed_only: f.failedOnly ?? false,
        min_dur_ns: BigInt(Math.round((f.minMs ?? 0) * 1e6)),
        filter_syscalls: f.syscalls !== undefined,
        syscall_wanted: wanted,
        syscall_noreturn: noreturn,
        ops,
        op_count: opCount,
        // wake the reader at 1/8 of the buffer; below that, the READ_INTERVAL_MS timer reads
        wakeup_bytes: BigInt(((f.bufferMb ?? 8) * 1024 * 1024) / 8),
        use_task_map: f.taskSet ?? false,
        follow_forks: f.follow ?? false,
        exec_nr: syscallNumber('execve') ?? -1,
        execveat_nr: syscallNumber('execveat') ?? -1,
        count_stats: f.stats ?? false,
        send_records: f.records ?? true,
        want_stack: f.stack ?? false,
      });
      const sfx = hooks === 'tp_btf' ? 'btf' : 'raw';
      // enter, exit, the task-exit hook (calls cut short: `= ?`), and with a task set the fork hook
      const progs = [`trace_enter_${sfx}`, `trace_exit_${sfx}`, `trace_task_exit_${sfx}`, ...(f.taskSet ? [`trace_fork_${sfx}`] : [])];
      obj.selectPrograms(progs);
      if (hooks === 'tp_btf') obj.map('trace_inflight').setMaxEntries(1);
      const mb = f.bufferMb ?? 8;
      obj.map('trace_events').setMaxEntries(mb * 1024 * 1024);
      obj.load();
      const rec = obj.struct('trace_rec');
      for (const k of ['ts_ns', 'dur_ns', 'ret', 'args', 'tgid', 'tid', 'nr', 'data_len', 'flags', 'lens', 'offs', 'stack_len', 'comm', 'data']) {
        session.off[k] = rec.field(k).offset;
      }
      session.dataOff = rec.field('data').offset;
      // exit hooks and the fork hook first: no entry slot is filled before its exit program is
      // there, and no traced task forks unseen
      for (const name of [...progs.slice(1), progs[0]!]) session.links.push(obj.program(name).attach());
      note(`trace: attached ${hooks}/sys_enter, ${hooks}/sys_exit, ${hooks}/sched_process_exit${f.taskSet ? `, ${hooks}/sched_process_fork` : ''}; per-thread state in ${hooks === 'tp_btf' ? 'task storage' : 'a hash map'}; ring buffer ${mb} MiB`);
      return session;
    } catch (err) {
      session?.reader?.close();
      obj.close();
      throw err;
    }
  }

  /** Put a task in the traced set: traced now, or (`untilExec`) from its next execve on. */
  addTask(tid: number, untilExec = false): void {
    const key = Buffer.alloc(4);
    key.writeUInt32LE(tid);
    this.obj.map('trace_tasks').update(key, Buffer.from([untilExec ? this.k.taskExec : this.k.taskActive]));
  }

  /**
   * -- CMD: the next child this thread (bpfkit's main thread) forks is traced from its execve
   * on; call right before spawning it, and endAdopt() right after.
   */
  adoptNextChild(): void {
    const key = Buffer.alloc(4);
    key.writeUInt32LE(process.pid);
    this.obj.map('trace_tasks').update(key, Buffer.from([this.k.taskAdopt]));
  }
  endAdopt(): void {
    const key = Buffer.alloc(4);
    key.writeUInt32LE(process.pid);
    try { this.obj.map('trace_tasks').delete(key); } catch { /* the fork hook removed it */ }
  }

  /** -c: calls, errors and time per syscall, summed over CPUs (syscalls never called left out). */
  stats(): SyscallStat[] {
    const m = this.obj.map('trace_stats');
    const view = this.obj.struct('trace_stat');
    const out: SyscallStat[] = [];
    const key = Buffer.alloc(4);
    for (let nr = 0; nr < this.k.maxSyscalls; nr++) {
      key.writeUInt32LE(nr);
      const v = m.lookup(key);
      if (!v) continue;
      const row = { nr, calls: 0, errors: 0, ns: 0 };
      for (let c = 0; c < possibleCpus(); c++) {
        const base = c * m.slotSize;
        row.calls += Number(v.readBigUInt64LE(base + view.field('calls').offset));
        row.errors += Number(v.readBigUInt64LE(base + view.field('errors').offset));
        row.ns += Number(v.readBigUInt64LE(base + view.field('ns').offset));
      }
      if (row.calls) out.push(row);
    }
    return out;
  }

  /** Start delivering raw records (decode() them during the call). */
  start(onRecord: (data: Buffer) => void): void {
    if (this.reader) return;
    this.reader = new RingBufferReader(this.eventsMap, onRecord);
    // The kernel side wakes us only when the backlog is large (see wakeup_bytes): read the rest
    // on a short timer, so a quiet process's calls still show within READ_INTERVAL_MS.
    this.timer = setInterval(() => this.reader?.consume(TIMER_SLICE), READ_INTERVAL_MS);
    this.timer.unref();
  }

  consume(limit: number): number { return this.reader?.consume(limit) ?? 0; }
  pending(): boolean { return this.reader?.pending() ?? false; }
  discard(): number { return this.reader?.discard() ?? 0; }
  /** Events lost in the kernel: ring buffer full, or no per-thread slot at entry. */
  lostInKernel(): number { return this.counters().lost; }

  /** The ring buffer map (benchmarks compare readers on it). */
  get eventsMap(): BpfMap {
    return this.obj.map('trace_events');
  }

  /** One ring-buffer record into a TraceRecord (the buffer is only valid during the call). */
  decode(b: Buffer): TraceRecord {
    const o = this.off;
    const nr = b.readInt32LE(o.nr!);
    const flags = b.readUInt32LE(o.flags!);
    const plan = this.planOf(nr);
    const chunks: Array<Buffer | 'fault' | null> = [];
    for (let i = 0; i < plan.ops.length; i++) {
      const len = b.readUInt16LE(o.lens! + 2 * i);
      const at = this.dataOff + b.readUInt16LE(o.offs! + 2 * i);
      if (flags & (1 << (this.k.faultShift + i))) chunks.push('fault');
      else if (len === 0) chunks.push(null);
      else {
        const end = Math.min(at + len, b.length);
        // (strings keep the NUL the kernel copied: without it, the path was longer than the copy)
        chunks.push(Buffer.from(b.subarray(at, end)));
      }
    }
    // The fixed part is copied (the ring buffer memory is reused after the call); the 64-bit
    // fields become BigInts and the comm a string only when someone reads them.
    const h = Buffer.allocUnsafe(this.dataOff);
    b.copy(h, 0, 0, this.dataOff);
    const rec = new Rec(h, o, nr, flags, chunks, (flags & this.k.cut) !== 0);
    const stackLen = b.readUInt16LE(o.stack_len!);
    if (stackLen) {
      const at = this.dataOff + b.readUInt16LE(o.data_len!) - stackLen;
      const ips: bigint[] = [];
      for (let i = 0; i + 8 <= stackLen && at + i + 8 <= b.length; i += 8) ips.push(b.readBigUInt64LE(at + i));
      rec.stack = ips;
    }
    return rec;
  }

  planOf(nr: number): Plan {
    let p = this.plans[nr];
    if (!p) {
      p = planFor(nr, syscallName(nr), this.strsize, this.k);
      this.plans[nr] = p;
    }
    return p;
  }

  /** Deliver everything in the ring buffer now (benchmarks; the tool drains bounded). */
  drain(): number {
    return this.reader?.drain() ?? 0;
  }

  /** Kernel-side counters, summed over CPUs. */
  counters(): TraceCounters {
    const get = (idx: number): number => {
      const key = Buffer.alloc(4);
      key.writeUInt32LE(idx);
      const v = this.counterMap.lookup(key);
      if (!v) return 0;
      let total = 0;
      for (let c = 0; c < possibleCpus(); c++) total += Number(v.readBigUInt64LE(c * this.counterMap.slotSize));
      return total;
    };
    const lostRingbuf = get(this.k.counter.lostRingbuf);
    const lostSlot = get(this.k.counter.lostSlot);
    return { sent: get(this.k.counter.sent), lostRingbuf, lostSlot, lost: lostRingbuf + lostSlot };
  }

  /** Detach the programs (no new events; what is in the ring buffer stays readable). */
  detach(): void {
    for (const l of this.links) l.destroy();
    this.links = [];
  }

  close(): void {
    this.detach();
    clearInterval(this.timer);
    try {
      this.reader?.close();
    } finally {
      this.reader = undefined;
      this.obj.close();
    }
  }
}

/** A TraceRecord over a copy of the record's fixed part, decoding fields on first use. */
class Rec implements TraceRecord {
  private _args: bigint[] | undefined;
  private _ret: bigint | undefined;
  private _comm: string | undefined;
  readonly noReturn: boolean;
  stack: bigint[] | undefined;
  constructor(private h: Buffer, private o: Record<string, number>, readonly nr: number, flags: number, readonly chunks: Array<Buffer | 'fault' | null>, readonly cut: boolean) {
    this.noReturn = (flags & 1) !== 0;
  }
  get tsNs(): bigint { return this.h.readBigUInt64LE(this.o.ts_ns!); }
  get durNs(): number {
    const at = this.o.dur_ns!;
    return this.h.readUInt32LE(at) + this.h.readUInt32LE(at + 4) * 4294967296;
  }
  get ret(): bigint {
    if (this._ret === undefined) {
      const at = this.o.ret!;
      const hi = this.h.readInt32LE(at + 4);
      const lo = this.h.readUInt32LE(at);
      // small results (the common case) without BigInt arithmetic
      this._ret = (hi === 0 || (hi === -1 && lo >= 0x80000000)) ? BigInt(hi === 0 ? lo : lo - 4294967296) : this.h.readBigInt64LE(at);
    }
    return this._ret;
  }
  get args(): bigint[] {
    if (!this._args) {
      const a: bigint[] = new Array(6);
      const base = this.o.args!;
      for (let i = 0; i < 6; i++) {
        const at = base + 8 * i;
        const hi = this.h.readUInt32LE(at + 4);
        a[i] = hi === 0 ? BigInt(this.h.readUInt32LE(at)) : this.h.readBigUInt64LE(at);
      }
      this._args = a;
    }
    return this._args;
  }
  get tgid(): number { return this.h.readUInt32LE(this.o.tgid!); }
  get tid(): number { return this.h.readUInt32LE(this.o.tid!); }
  get comm(): string {
    if (this._comm === undefined) {
      const start = this.o.comm!;
      const end = this.h.indexOf(0, start);
      this._comm = this.h.toString('utf8', start, end < 0 || end > start + 16 ? start + 16 : end);
    }
    return this._comm;
  }
  toJSON(): object {
    return { tsNs: this.tsNs.toString(), durNs: this.durNs, ret: this.ret.toString(), tgid: this.tgid, tid: this.tid, nr: this.nr, comm: this.comm };
  }
}
