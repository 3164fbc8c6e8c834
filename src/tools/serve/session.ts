// serve's kernel side: bpf/serve.bpf.o (syscall and block I/O latency histograms, TCP bytes per
// connection end), loaded once and read for as long as `bpfkit serve` runs.
import { BpfObject, bpfObjectPath } from '../../core/bpf.js';
import { BpfkitError } from '../../core/errors.js';
import { hasBtfTracepoint, hasFentry, hasKernelFunc, hasTaskStorage } from '../../core/features.js';
import { note } from '../../core/log.js';
import { possibleCpus, type BpfMap } from '../../core/maps.js';
import { formatAddr } from '../../core/net.js';
import type { StructView } from '../../core/btf.js';

export interface ServeKernelOptions {
  /** Syscall histograms per process name too. */
  byComm: boolean;
  /** Syscall histograms per process (pid) too. */
  perProcess: boolean;
}

/** A log2 histogram: slots[i] counts latencies in [2^i, 2^(i+1)) x 1024 ns. */
export interface Hist { slots: number[]; count: number; sumNs: number }
export interface SyscallHist extends Hist { nr: number; tgid: number; comm: string }
export interface BlockHist extends Hist { major: number; minor: number; op: number; bytes: number }
export interface ConnBytes {
  tgid: number; comm: string;
  laddr: string; lport: number; raddr: string; rport: number;
  sent: number; received: number;
}
export type DropKind = 'syscall' | 'tcp' | 'block';

/** Nanoseconds per histogram unit (the BPF side shifts by 10). */
export const HIST_UNIT_NS = 1024;

export class ServeSession {
  private gen = 0;
  readonly tcpHooks: string;
  private constructor(
    readonly obj: BpfObject,
    private readonly sc: BpfMap,
    private readonly blk: BpfMap,
    private readonly conns: [BpfMap, BpfMap],
    private readonly scKey: StructView,
    private readonly hist: StructView,
    private readonly blkView: StructView,
    private readonly connKey: StructView,
    private readonly connVal: StructView,
    tcpHooks: string,
  ) { this.tcpHooks = tcpHooks; }

  static start(o: ServeKernelOptions): ServeSession {
    const missing = ['sys_enter', 'sys_exit', 'block_rq_issue', 'block_rq_complete'].filter((t) => !hasBtfTracepoint(t));
    if (missing.length) throw new BpfkitError('NOT_SUPPORTED', `serve needs the BTF tracepoints ${missing.join(', ')} (Linux 5.5+ with BTF)`);
    if (!hasTaskStorage()) throw new BpfkitError('NOT_SUPPORTED', 'serve needs BPF task storage (Linux 5.11+)');
    const programs = ['serve_sys_enter', 'serve_sys_exit', 'serve_rq_issue', 'serve_rq_complete'];
    let tcpHooks = 'none';
    if (hasBtfTracepoint('sock_send_length') && hasBtfTracepoint('sock_recv_length')) {
      programs.push('serve_send', 'serve_recv');
      tcpHooks = 'tp_btf/sock_send_length + sock_recv_length';
    } else if (hasKernelFunc('tcp_sendmsg') && hasKernelFunc('tcp_recvmsg') && hasFentry()) {
      programs.push('serve_fx_send', 'serve_fx_recv');
      tcpHooks = 'fexit/tcp_sendmsg + tcp_recvmsg';
    } else {
      note('serve: neither sock_*_length tracepoints nor fexit on tcp_sendmsg/tcp_recvmsg: TCP bytes are not measured on this kernel');
    }
    const obj = BpfObject.openFile(bpfObjectPath('serve'));
    try {
      obj.setConstants({ by_comm: o.byComm, per_process: o.perProcess });
      obj.selectPrograms(programs);
      obj.load();
      obj.attachAll();
      note(`serve: attached ${programs.join(', ')}; TCP bytes from ${tcpHooks}`);
      return new ServeSession(obj, obj.map('syscalls'), obj.map('block'), [obj.map('conns0'), obj.map('conns1')],
        obj.struct('serve_sc_key'), obj.struct('serve_hist'), obj.struct('serve_blk'), obj.struct('serve_conn_key'), obj.struct('serve_conn'), tcpHooks);
    } catch (err) {
      obj.close();
      throw err;
    }
  }

  private readHist(v: Buffer, base: number, slot: number, cpus: number): Hist {
    const slotsOff = this.hist.field('slots').offset;
    const n = this.hist.count('slots');
    const slots = new Array<number>(n).fill(0);
    let count = 0;
    let sumNs = 0;
    for (let c = 0; c < cpus; c++) {
      const o = base + c * slot;
      for (let i = 0; i < n; i++) slots[i]! += Number(v.readBigUInt64LE(o + slotsOff + i * 8));
      count += this.hist.uint(v, 'count', o);
      sumNs += this.hist.uint(v, 'sum_ns', o);
    }
    return { slots, count, sumNs };
  }

  /** Cumulative syscall histograms since attach, summed over CPUs. */
  syscalls(): SyscallHist[] {
    const out: SyscallHist[] = [];
    const cpus = possibleCpus();
    for (const [k, v] of this.sc.entries()) {
      out.push({ nr: this.scKey.uint(k, 'nr'), tgid: this.scKey.uint(k, 'tgid'), comm: this.scKey.str(k, 'comm'), ...this.readHist(v, 0, this.sc.slotSize, cpus) });
    }
    return out;
  }

  /** Forget the syscall histograms of processes that exited (--per-process), after a last read. */
  forgetProcesses(gone: (tgid: number) => boolean): number {
    let n = 0;
    for (const k of [...this.sc.keys()]) {
      const tgid = this.scKey.uint(k, 'tgid');
      if (tgid !== 0 && gone(tgid) && this.sc.delete(k)) n++;
    }
    return n;
  }

  /** Cumulative block I/O histograms and bytes since attach, per disk and operation. */
  block(): BlockHist[] {
    const out: BlockHist[] = [];
    const latOff = this.blkView.field('lat').offset;
    for (const [k, v] of this.blk.entries()) {
      const dev = k.readUInt32LE(0);
      out.push({ major: dev >>> 20, minor: dev & 0xfffff, op: k.readUInt32LE(4), bytes: this.blkView.uint(v, 'bytes'), ...this.readHist(v, latOff, 0, 1) });
    }
    return out;
  }

  /**
   * TCP bytes per connection end since the previous call: flip the generation, wait until no
   * program is inside the old map, then read and delete all of it (closed connections included).
   */
  drainConns(): ConnBytes[] {
    const old = this.gen;
    this.gen ^= 1;
    const zero = Buffer.alloc(4);
    const g = Buffer.alloc(4);
    g.writeUInt32LE(this.gen);
    this.obj.map('generation').update(zero, g);
    this.waitIdle(old);
    const out: ConnBytes[] = [];
    const kv = this.connKey;
    for (const [k, v] of this.conns[old]!.drain()) {
      const family = kv.uint(k, 'family');
      out.push({
        tgid: kv.uint(k, 'tgid'), comm: this.connVal.str(v, 'comm'),
        laddr: formatAddr(family, kv.bytes(k, 'laddr')), lport: kv.uint(k, 'lport'),
        raddr: formatAddr(family, kv.bytes(k, 'raddr')), rport: kv.uint(k, 'rport'),
        sent: this.connVal.uint(v, 'sent'), received: this.connVal.uint(v, 'received'),
      });
    }
    return out;
  }

  private waitIdle(g: number): void {
    const inflight = this.obj.map('inflight');
    const key = Buffer.alloc(4);
    key.writeUInt32LE(g);
    const deadline = Date.now() + 1000;
    const pause = new Int32Array(new SharedArrayBuffer(4));
    Atomics.wait(pause, 0, 0, 1); // let the flip reach every CPU
    for (;;) {
      const v = inflight.lookup(key);
      let busy = 0n;
      if (v) for (let c = 0; c < possibleCpus(); c++) busy += v.readBigInt64LE(c * inflight.slotSize);
      if (busy === 0n || Date.now() > deadline) return;
      Atomics.wait(pause, 0, 0, 1);
    }
  }

  /** Events a full map could not record, cumulative. */
  drops(): Record<DropKind, number> {
    const m = this.obj.map('drops');
    const read = (i: number) => {
      const key = Buffer.alloc(4);
      key.writeUInt32LE(i);
      const v = m.lookup(key);
      let n = 0;
      if (v) for (let c = 0; c < possibleCpus(); c++) n += Number(v.readBigUInt64LE(c * m.slotSize));
      return n;
    };
    const e = this.obj.enumValues('serve_drop');
    return { syscall: read(e.SERVE_DROP_SYSCALL!), tcp: read(e.SERVE_DROP_TCP!), block: read(e.SERVE_DROP_BLOCK!) };
  }

  close(): void {
    this.obj.close();
  }
}
