// diagnose --timeline: every thread's on-CPU, runnable and blocked slices and the TCP messages
// between local processes over the window, written as a Chrome trace event file (Perfetto,
// chrome://tracing). Kernel side: bpf/timeline.bpf.c, loaded only for --timeline; its records
// carry the times around each switch, so the reader here only appends slices (no replay).
import { closeSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { BpfObject, bpfObjectPath } from '../../core/bpf.js';
import { BpfkitError } from '../../core/errors.js';
import { hasBtfTracepoint, hasKernelFunc, hasRingbuf, hasTaskStorage } from '../../core/features.js';
import { note } from '../../core/log.js';
import { sumPercpuU64, type BpfMap } from '../../core/maps.js';
import { formatAddr, formatHostPort, unmapIPv4 } from '../../core/net.js';
import { readStat, readStatus } from '../../core/proc.js';
import { RingBufferReader } from '../../core/ringbuf.js';
import { WAIT_KINDS, syscallKindTable, waitKindValues, type WaitKind } from './collect.js';

/** Slices and messages kept at most; then recording stops (said in the file and on stderr). */
export const MAX_EVENTS = 2_000_000;
/** Ring buffer size (MiB): ~250k records, read on every poll wake-up. */
export const RING_MB = 16;
/** How often the ring buffer is read (the programs do not wake the reader per record). */
const READ_EVERY_MS = 50;

/** A slice's state: running, runnable, or blocked in one of diagnose's wait kinds. */
export type SliceState = 'running' | 'runnable' | WaitKind;
/** Index in a slice's `kind`: 0 running, 1 runnable, 2 + index in WAIT_KINDS. */
const STATES: readonly SliceState[] = ['running', 'runnable', ...WAIT_KINDS];
const RUNNING = 0;
const RUNNABLE = 1;
const BLOCKED = 2;

export interface ThreadName { tgid: number; comm: string; pcomm: string }

/** A column of numbers that grows by doubling. */
class Column<T extends Float64Array | Uint32Array | Uint8Array | Int32Array> {
  data: T;
  constructor(private make: (n: number) => T) { this.data = make(1024); }
  set(i: number, v: number): void {
    if (i >= this.data.length) {
      const d = this.make(this.data.length * 2);
      d.set(this.data as never);
      this.data = d;
    }
    this.data[i] = v;
  }
}
const f64 = () => new Column((n) => new Float64Array(n));
const u32 = () => new Column((n) => new Uint32Array(n));

/** What was recorded: times in ns relative to the window start. */
export interface TimelineEvents {
  /** Window length (ns): up to the stop, or to the cap when `truncated`. */
  durationNs: number;
  /** Wall-clock time of the window start (ms since the epoch). */
  startedAtMs: number;
  slices: { n: number; tid: Uint32Array; start: Float64Array; end: Float64Array; state: Uint8Array };
  msgs: {
    n: number; tid: Uint32Array; start: Float64Array; end: Float64Array; bytes: Uint32Array; send: Uint8Array;
    /** Index in `streams` (one direction of one TCP connection). */
    stream: Uint32Array;
    /** Position in the stream after the call (sequence number, unwrapped). */
    seq: Float64Array;
  };
  /** One direction of a connection: "addr:port" of the sending and of the receiving end. */
  streams: Array<{ from: string; to: string }>;
  threads: Map<number, ThreadName>;
  /** TCP messages were recorded (false on kernels without sock_send/recv_length tracepoints). */
  messages: boolean;
  /** Records read from the kernel. */
  records: number;
  lostKernel: number;
  truncated: boolean;
  notes: string[];
}

/**
 * Builds slices from the kernel's records (also fed by unit tests). Times are ktime ns; 0 for a
 * "since" means before the window (the window start is used).
 */
export class TimelineRecorder {
  private s = { n: 0, tid: u32(), start: f64(), end: f64(), state: new Column((n) => new Uint8Array(n)) };
  private m = { n: 0, tid: u32(), start: f64(), end: f64(), bytes: u32(), send: new Column((n) => new Uint8Array(n)), stream: u32(), seq: f64() };
  /** Each thread's last known state, to close its slice at the end. */
  private last = new Map<number, { state: number; since: number }>();
  private streamIds = new Map<string, number>();
  private streamList: Array<{ from: string; to: string; last: number; pos: number }> = [];
  /** Raw connection end (as bytes) -> [stream of its sends, stream of its receives]. */
  private ends = new Map<string, [number, number]>();
  readonly threads = new Map<number, ThreadName>();
  truncated = false;
  private stoppedAt = 0;
  messages = true;
  /** Switches whose other half the kernel did not record (their threads have a hole). */
  missedSwitches = 0;

  constructor(readonly startNs: number, readonly startedAtMs = Date.now(), readonly maxEvents = MAX_EVENTS) {}

  private full(ts: number): boolean {
    if (this.truncated) return true;
    if (this.s.n + this.m.n < this.maxEvents) return false;
    this.truncated = true;
    this.stoppedAt = ts;
    return true;
  }

  private slice(tid: number, state: number, start: number, end: number): void {
    start = Math.max(start, this.startNs);
    if (end <= start) return;
    const i = this.s.n++;
    this.s.tid.set(i, tid);
    this.s.state.set(i, state);
    this.s.start.set(i, start - this.startNs);
    this.s.end.set(i, end - this.startNs);
  }

  /**
   * One context switch at `ts`: prev (tid 0: none) was on CPU since prevOn and now stays
   * runnable (prevBlocked 0), blocks in prevKind (1) or has exited (2); next (tid 0: none) was
   * off CPU since nextOff, blocked in nextKind, runnable since nextReady (0: unknown).
   * Kinds are indexes in WAIT_KINDS.
   */
  switch(ts: number, prevTid: number, prevOn: number, prevBlocked: number, prevKind: number, nextTid: number, nextOff: number, nextReady: number, nextKind: number): void {
    if (this.full(ts)) return;
    if (prevTid) {
      // On CPU since an unknown time although its earlier states were seen: the kernel missed
      // its switch onto the CPU (rare, under load). The time since its last known state is left
      // out rather than drawn from the window start over slices already drawn.
      const known = prevOn ? undefined : this.last.get(prevTid);
      if (known) this.missedSwitches++;
      else this.slice(prevTid, RUNNING, prevOn, ts);
      this.last.set(prevTid, prevBlocked === 2 ? { state: -1, since: ts } : { state: prevBlocked ? BLOCKED + prevKind : RUNNABLE, since: ts });
    }
    if (nextTid) {
      if (nextReady) {
        if (nextReady > nextOff) this.slice(nextTid, BLOCKED + nextKind, nextOff, nextReady);
        this.slice(nextTid, RUNNABLE, nextReady, ts);
      } else if (nextOff) {
        this.slice(nextTid, BLOCKED + nextKind, nextOff, ts); // (its wake-up was not seen)
      } else if (this.last.has(nextTid)) {
        this.missedSwitches++; // its switch off the CPU was missed: the time since is unknown
      } else {
        this.slice(nextTid, RUNNABLE, this.startNs, ts); // woken before the window
      }
      this.last.set(nextTid, { state: RUNNING, since: ts });
    }
  }

  name(tid: number, tgid: number, comm: string, pcomm: string): void {
    this.threads.set(tid, { tgid, comm, pcomm });
  }

  /**
   * A TCP send or receive by `tid` during [start, ts] of `bytes` bytes, ending at sequence
   * number `seq` of its direction of the connection; `raw` identifies the connection end
   * (bytes as recorded), the addresses are formatted only once per end.
   */
  msg(send: boolean, tid: number, ts: number, start: number, bytes: number, seq: number, raw: string, end: () => { laddr: string; lport: number; raddr: string; rport: number }): void {
    if (this.full(ts)) return;
    let ids = this.ends.get(raw);
    if (!ids) {
      const e = end();
      const l = formatHostPort(unmapIPv4(e.laddr), e.lport);
      const r = formatHostPort(unmapIPv4(e.raddr), e.rport);
      ids = [this.stream(l, r), this.stream(r, l)];
      this.ends.set(raw, ids);
    }
    const id = ids[send ? 0 : 1];
    const st = this.streamList[id]!;
    // Sequence numbers wrap at 2^32: positions are unwrapped per stream (records come in order).
    st.pos = st.last < 0 ? seq : st.pos + ((seq - st.last) | 0);
    st.last = seq;
    const i = this.m.n++;
    this.m.tid.set(i, tid);
    this.m.start.set(i, Math.max(start, this.startNs) - this.startNs);
    this.m.end.set(i, Math.max(ts, this.startNs) - this.startNs);
    this.m.bytes.set(i, bytes);
    this.m.send.set(i, send ? 1 : 0);
    this.m.stream.set(i, id);
    this.m.seq.set(i, st.pos);
  }

  private stream(from: string, to: string): number {
    const key = `${from}>${to}`;
    let id = this.streamIds.get(key);
    if (id === undefined) {
      id = this.streamList.length;
      this.streamList.push({ from, to, last: -1, pos: 0 });
      this.streamIds.set(key, id);
    }
    return id;
  }

  /** Close every thread's open slice at `endNs` (or where recording stopped) and hand over. */
  finish(endNs: number, extra: { records?: number; lostKernel?: number; notes?: string[] } = {}): TimelineEvents {
    const end = this.truncated ? this.stoppedAt : endNs;
    const wasTruncated = this.truncated;
    this.truncated = false; // the closing slices are part of the window
    for (const [tid, l] of this.last) if (l.state >= 0) this.slice(tid, l.state, l.since, end);
    this.truncated = wasTruncated;
    this.last.clear();
    const s = this.s;
    const m = this.m;
    return {
      durationNs: Math.max(0, end - this.startNs),
      startedAtMs: this.startedAtMs,
      slices: { n: s.n, tid: s.tid.data, start: s.start.data, end: s.end.data, state: s.state.data },
      msgs: { n: m.n, tid: m.tid.data, start: m.start.data, end: m.end.data, bytes: m.bytes.data, send: m.send.data, stream: m.stream.data, seq: m.seq.data },
      streams: this.streamList.map(({ from, to }) => ({ from, to })),
      threads: this.threads,
      messages: this.messages,
      records: extra.records ?? 0,
      lostKernel: extra.lostKernel ?? 0,
      truncated: this.truncated,
      notes: extra.notes ?? [],
    };
  }
}

/**
 * Sends matched with the receive that read their last byte: [send index, receive index] pairs.
 * Exact whatever the sizes: several sends read by one receive each get a flow to it, a send read
 * in pieces gets one flow (to the piece with its end). Sends not read within the window: none.
 */
export function matchMessages(ev: TimelineEvents): Array<[number, number]> {
  const m = ev.msgs;
  const recvs = new Map<number, number[]>();
  for (let i = 0; i < m.n; i++) {
    if (m.send[i]) continue;
    let list = recvs.get(m.stream[i]!);
    if (!list) recvs.set(m.stream[i]!, (list = []));
    list.push(i);
  }
  for (const list of recvs.values()) list.sort((a, b) => m.seq[a]! - m.seq[b]!);
  const out: Array<[number, number]> = [];
  for (let i = 0; i < m.n; i++) {
    if (!m.send[i]) continue;
    const list = recvs.get(m.stream[i]!);
    if (!list) continue;
    const last = m.seq[i]!; // the byte before this position is the send's last
    // first receive whose end is at or after it
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (m.seq[list[mid]!]! >= last) hi = mid;
      else lo = mid + 1;
    }
    const r = list[lo];
    if (r !== undefined && m.seq[r]! - m.bytes[r]! < last) out.push([i, r]);
  }
  return out;
}

export interface TimelineScope {
  /** Only these processes (and flows between them); all when undefined. */
  pids?: Set<number>;
  /** Process names by pid (e.g. from /proc), preferred to the kernel's comm of the group leader. */
  names?: ReadonlyMap<number, string>;
}

const SLICE_NAME: Record<SliceState, string> = {
  running: 'running', runnable: 'runnable', other: 'blocked: other', input: 'blocked: input', sleep: 'blocked: sleep',
  select_sleep: 'blocked: sleep', read: 'blocked: read', write: 'blocked: write', sync: 'blocked: sync', lock: 'blocked: lock',
};
const SLICE_CAT: Record<SliceState, string> = Object.fromEntries(STATES.map((s) => [s, s === 'running' ? 'cpu' : s === 'runnable' ? 'runqueue' : 'blocked'])) as Record<SliceState, string>;

/** µs with ns precision from ns (integers / 1000 print with at most 3 decimals). */
const us = (ns: number) => Math.round(ns) / 1000;

/** The trace's events, as JSON texts (one per event), in the file's order. */
export function* traceEvents(ev: TimelineEvents, scope: TimelineScope = {}): Generator<string> {
  const pidOf = (tid: number) => ev.threads.get(tid)?.tgid ?? tid;
  const keep = (tid: number) => !scope.pids || scope.pids.has(pidOf(tid));
  // metadata: the names of the processes and threads that have events
  const tids = new Set<number>();
  for (let i = 0; i < ev.slices.n; i++) tids.add(ev.slices.tid[i]!);
  for (let i = 0; i < ev.msgs.n; i++) tids.add(ev.msgs.tid[i]!);
  const pids = new Set<number>();
  for (const tid of [...tids].sort((a, b) => a - b)) {
    if (!keep(tid)) continue;
    const pid = pidOf(tid);
    const t = ev.threads.get(tid);
    if (!pids.has(pid)) {
      pids.add(pid);
      const name = scope.names?.get(pid) ?? (t && t.tgid === pid ? t.pcomm : undefined) ?? ev.threads.get(pid)?.comm ?? `pid ${pid}`;
      yield JSON.stringify({ ph: 'M', name: 'process_name', pid, tid: pid, args: { name } });
    }
    yield JSON.stringify({ ph: 'M', name: 'thread_name', pid, tid, args: { name: t?.comm ?? `tid ${tid}` } });
  }
  const s = ev.slices;
  for (let i = 0; i < s.n; i++) {
    const tid = s.tid[i]!;
    if (!keep(tid)) continue;
    const state = STATES[s.state[i]!]!;
    const ts = us(s.start[i]!);
    const dur = Math.round(us(s.end[i]!) * 1000 - ts * 1000) / 1000;
    const args = state === 'select_sleep' ? ',"args":{"kind":"select_sleep"}' : '';
    yield `{"ph":"X","pid":${pidOf(tid)},"tid":${tid},"ts":${ts},"dur":${dur},"name":"${SLICE_NAME[state]}","cat":"${SLICE_CAT[state]}"${args}}`;
  }
  // messages: a slice inside the running slice that made the call
  const m = ev.msgs;
  for (let i = 0; i < m.n; i++) {
    const tid = m.tid[i]!;
    if (!keep(tid)) continue;
    const ts = us(m.start[i]!);
    const dur = Math.round(us(m.end[i]!) * 1000 - ts * 1000) / 1000;
    const st = ev.streams[m.stream[i]!]!;
    const send = m.send[i] === 1;
    yield JSON.stringify({ ph: 'X', pid: pidOf(tid), tid, ts, dur, name: `${send ? 'send' : 'recv'} ${m.bytes[i]} B`, cat: 'tcp', args: { bytes: m.bytes[i], from: st.from, to: st.to } });
  }
  // flows: from inside the send's slice (just after its start) to inside the receive's (just
  // before its end): the receive returned after the send began, so arrows never go back in time
  let id = 0;
  for (const [a, b] of matchMessages(ev)) {
    const ta = m.tid[a]!;
    const tb = m.tid[b]!;
    if (!keep(ta) || !keep(tb)) continue;
    id++;
    const inset = (i: number) => (m.end[i]! - m.start[i]! >= 2 ? 1 : 0);
    yield `{"ph":"s","id":${id},"pid":${pidOf(ta)},"tid":${ta},"ts":${us(m.start[a]! + inset(a))},"name":"tcp","cat":"tcp"}`;
    yield `{"ph":"f","bp":"e","id":${id},"pid":${pidOf(tb)},"tid":${tb},"ts":${us(m.end[b]! - inset(b))},"name":"tcp","cat":"tcp"}`;
  }
}

export interface TimelineWritten { events: number; bytes: number; flows: number }

/**
 * Write the trace to `path` (through path.tmp, renamed when complete): {"traceEvents": [...],
 * "displayTimeUnit": "ms", "otherData": {...}}. Streams the events: memory stays flat.
 */
export function writeTimeline(path: string, ev: TimelineEvents, scope: TimelineScope = {}): TimelineWritten {
  const tmp = `${path}.tmp`;
  let fd: number;
  try {
    fd = openSync(tmp, 'w', 0o644);
  } catch (err) {
    throw new BpfkitError('IO', `cannot write ${tmp}: ${(err as Error).message}`);
  }
  let bytes = 0;
  let events = 0;
  let flows = 0;
  let parts: string[] = [];
  let pending = 0;
  const put = (text: string) => {
    parts.push(text);
    pending += text.length;
    if (pending >= 1 << 20) flush();
  };
  const flush = () => {
    if (!parts.length) return;
    const buf = Buffer.from(parts.join(''));
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off);
    bytes += buf.length;
    parts = [];
    pending = 0;
  };
  try {
    put('{"traceEvents":[\n');
    for (const e of traceEvents(ev, scope)) {
      put(events++ ? `,\n${e}` : e);
      if (e.startsWith('{"ph":"s"')) flows++;
    }
    const other = {
      tool: 'bpfkit diagnose --timeline',
      startedAt: new Date(ev.startedAtMs).toISOString(),
      windowS: Math.round(ev.durationNs / 1e6) / 1e3,
      scope: scope.pids ? [...scope.pids].sort((a, b) => a - b) : 'host',
      events,
      flows,
      truncated: ev.truncated,
      ...(ev.truncated ? { truncatedNote: `stopped recording after ${MAX_EVENTS} slices and messages, ${(ev.durationNs / 1e9).toFixed(1)} s into the window` } : {}),
      records: ev.records,
      lostKernel: ev.lostKernel,
      tcpMessages: ev.messages,
      notes: ev.notes,
    };
    put(`\n],\n"displayTimeUnit":"ms",\n"otherData":${JSON.stringify(other)}}\n`);
    flush();
    closeSync(fd);
    renameSync(tmp, path);
  } catch (err) {
    try { closeSync(fd); } catch { /* closed already */ }
    try { unlinkSync(tmp); } catch { /* not there */ }
    throw new BpfkitError('IO', `cannot write ${path}: ${(err as Error).message}`);
  }
  return { events, bytes, flows };
}

const monoNs = () => Number(process.hrtime.bigint()); // CLOCK_MONOTONIC: bpf_ktime_get_ns's clock

/** The kernel side of --timeline: bpf/timeline.bpf.o attached for the window. */
export class TimelineSession {
  private result: TimelineEvents | undefined;
  private timer: NodeJS.Timeout | undefined;
  private constructor(
    private obj: BpfObject,
    private reader: RingBufferReader,
    private rec: TimelineRecorder,
    private notes: string[],
    private onTruncate: (() => void) | undefined,
    private records: () => number,
  ) {}

  static start(opts: { maxEvents?: number; bufferMb?: number; onTruncate?: () => void } = {}): TimelineSession {
    if (!hasRingbuf()) throw new BpfkitError('NOT_SUPPORTED', '--timeline needs the BPF ring buffer (Linux 5.8+)');
    if (!hasTaskStorage()) throw new BpfkitError('NOT_SUPPORTED', '--timeline needs BPF task storage (Linux 5.11+)');
    const missing = ['sys_enter', 'sys_exit', 'sched_switch', 'sched_wakeup', 'sched_wakeup_new'].filter((tp) => !hasBtfTracepoint(tp));
    if (missing.length) throw new BpfkitError('NOT_SUPPORTED', `--timeline needs BTF tracepoints ${missing.join(', ')}`);
    const notes: string[] = [];
    const obj = BpfObject.openFile(bpfObjectPath('timeline'));
    try {
      const diagWait = obj.enumValues('diag_wait');
      const value = waitKindValues(diagWait, diagWait.DIAG_WAIT_KINDS ?? -1);
      const ptRegs = hasKernelFunc('bpf_task_pt_regs');
      const ringMb = opts.bufferMb ?? RING_MB;
      obj.setConstants({ wait_kind: syscallKindTable(value), have_task_pt_regs: ptRegs, wakeup_bytes: (ringMb << 20) / 4 });
      const programs = ['tl_sys_enter', 'tl_sys_exit', 'tl_switch', 'tl_wakeup', 'tl_wakeup_new'];
      if (hasBtfTracepoint('sched_process_exec')) programs.push('tl_exec');
      if (hasBtfTracepoint('task_rename')) programs.push('tl_rename');
      const messages = hasBtfTracepoint('sock_send_length') && hasBtfTracepoint('sock_recv_length');
      if (messages) programs.push('tl_send', 'tl_recv');
      else notes.push('no sock_send_length/sock_recv_length tracepoints on this kernel (before 6.3?): TCP messages and flows are not in the timeline');
      if (!ptRegs) notes.push('no bpf_task_pt_regs (Linux < 5.15): threads blocked since before the window show as blocked: other until they wake');
      obj.selectPrograms(programs);
      obj.map('events').setMaxEntries(ringMb << 20);
      obj.load();
      const kindOf = new Uint8Array(256); // enum diag_wait value -> index in WAIT_KINDS (0: other)
      WAIT_KINDS.forEach((k, i) => { kindOf[value[k]] = i; });
      const types = obj.enumValues('tl_type');
      const rec = new TimelineRecorder(monoNs(), Date.now(), opts.maxEvents ?? MAX_EVENTS);
      rec.messages = messages;
      const sw = obj.struct('tl_switch');
      const nm = obj.struct('tl_name');
      const ms = obj.struct('tl_msg');
      const o = (v: typeof sw, f: string) => v.field(f).offset;
      const [sPrevBlocked, sPrevKind, sNextKind, sPrevTid, sNextTid, sTs, sPrevOn, sNextOff, sNextReady] =
        ['prev_blocked', 'prev_kind', 'next_kind', 'prev_tid', 'next_tid', 'ts', 'prev_on', 'next_off', 'next_ready'].map((f) => o(sw, f)) as number[] as [number, number, number, number, number, number, number, number, number];
      const [nTid, nTgid, nComm, nPcomm] = ['tid', 'tgid', 'comm', 'pcomm'].map((f) => o(nm, f)) as [number, number, number, number];
      const [mFamily, mTid, mBytes, mSeq, mTs, mStart, mLport, mRport, mLaddr, mRaddr] =
        ['family', 'tid', 'bytes', 'seq', 'ts', 'start', 'lport', 'rport', 'laddr', 'raddr'].map((f) => o(ms, f)) as [number, number, number, number, number, number, number, number, number, number];
      let records = 0;
      const u64 = (d: Buffer, at: number) => d.readUInt32LE(at + 4) * 4294967296 + d.readUInt32LE(at);
      const cstr = (d: Buffer, at: number) => {
        const end = d.indexOf(0, at);
        return d.toString('utf8', at, end < 0 || end > at + 16 ? at + 16 : end);
      };
      let session: TimelineSession | undefined;
      const onRecord = (d: Buffer, off: number) => {
        records++;
        const type = d[off]!;
        if (type === types.TL_SWITCH) {
          rec.switch(u64(d, off + sTs), d.readUInt32LE(off + sPrevTid), u64(d, off + sPrevOn), d[off + sPrevBlocked]!, kindOf[d[off + sPrevKind]!]!,
            d.readUInt32LE(off + sNextTid), u64(d, off + sNextOff), u64(d, off + sNextReady), kindOf[d[off + sNextKind]!]!);
          if (rec.truncated) session?.truncate();
        } else if (type === types.TL_NAME) {
          rec.name(d.readUInt32LE(off + nTid), d.readUInt32LE(off + nTgid), cstr(d, off + nComm), cstr(d, off + nPcomm));
        } else if (type === types.TL_SEND || type === types.TL_RECV) {
          const family = d.readUInt16LE(off + mFamily) === 2 ? 4 : 6;
          const lport = d.readUInt16LE(off + mLport);
          const rport = d.readUInt16LE(off + mRport);
          const raw = d.toString('latin1', off + mLaddr, off + mLaddr + 16) + d.toString('latin1', off + mRaddr, off + mRaddr + 16) + String.fromCharCode(lport, rport, family);
          rec.msg(type === types.TL_SEND, d.readUInt32LE(off + mTid), u64(d, off + mTs), u64(d, off + mStart), d.readUInt32LE(off + mBytes), d.readUInt32LE(off + mSeq), raw,
            () => ({ laddr: formatAddr(family, d.subarray(off + mLaddr, off + mLaddr + 16)), lport, raddr: formatAddr(family, d.subarray(off + mRaddr, off + mRaddr + 16)), rport }));
          if (rec.truncated) session?.truncate();
        }
      };
      obj.attachAll();
      const reader = new RingBufferReader(obj.map('events'), onRecord, { at: true });
      session = new TimelineSession(obj, reader, rec, notes, opts.onTruncate, () => records);
      // The programs wake the reader only when a quarter of the ring is full: read it on a timer.
      session.timer = setInterval(() => reader.consume(), READ_EVERY_MS);
      session.timer.unref();
      note(`diagnose --timeline: attached ${programs.map((p) => p.replace('tl_', '')).join(', ')}; ring buffer ${ringMb} MiB read every ${READ_EVERY_MS} ms, at most ${opts.maxEvents ?? MAX_EVENTS} slices and messages`);
      for (const n of notes) note(`diagnose --timeline: ${n}`);
      return session;
    } catch (err) {
      obj.close();
      throw err;
    }
  }

  private truncating = false;
  /** The cap was reached: stop the programs (their cost too) at the next turn of the loop. */
  private truncate(): void {
    if (this.truncating) return;
    this.truncating = true;
    setImmediate(() => this.obj.detach());
    this.onTruncate?.();
  }

  /** Stop recording and hand over what was recorded (idempotent). */
  stop(): TimelineEvents {
    if (this.result) return this.result;
    clearInterval(this.timer);
    this.obj.detach();
    const end = monoNs();
    this.reader.drain();
    const lostKernel = lostCount(this.obj.map('lost'));
    this.reader.close();
    const notes = [...this.notes];
    if (lostKernel) notes.push(`${lostKernel} records lost with the ring buffer full: their slices are missing`);
    if (this.rec.missedSwitches) notes.push(`${this.rec.missedSwitches} context switches were seen half (the kernel skipped the other half): those threads have a gap`);
    this.result = this.rec.finish(end, { records: this.records(), lostKernel, notes });
    // Threads whose name record was lost: from /proc if they are still there.
    for (let i = 0; i < this.result.slices.n; i++) this.nameFromProc(this.result.slices.tid[i]!);
    for (let i = 0; i < this.result.msgs.n; i++) this.nameFromProc(this.result.msgs.tid[i]!);
    return this.result;
  }

  private nameFromProc(tid: number): void {
    if (this.rec.threads.has(tid)) return;
    const tgid = Number(readStatus(tid)?.get('Tgid') ?? NaN);
    if (!Number.isFinite(tgid)) {
      this.rec.threads.set(tid, { tgid: tid, comm: `tid ${tid}`, pcomm: `pid ${tid}` });
      return;
    }
    this.rec.threads.set(tid, { tgid, comm: readStat(tid)?.comm ?? `tid ${tid}`, pcomm: readStat(tgid)?.comm ?? `pid ${tgid}` });
  }

  close(): void {
    clearInterval(this.timer);
    this.reader.close();
    this.obj.close();
  }
}

function lostCount(map: BpfMap): number {
  const v = map.lookup(Buffer.alloc(4));
  return v ? Number(sumPercpuU64(map, v, 0)) : 0;
}
