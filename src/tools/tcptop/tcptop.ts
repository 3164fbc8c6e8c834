// tcptop's kernel side: load bpf/tcptop.bpf.o with the filters as constants, attach the best
// hook set this kernel offers (tp_btf sock_send_length/sock_recv_length, else fexit, else
// kprobes on tcp_sendmsg/tcp_recvmsg), and hand out per-interval byte counts per connection.
import { BpfObject, bpfObjectPath } from '../../core/bpf.js';
import { BpfkitError } from '../../core/errors.js';
import { hasBtfTracepoint, hasFentry, hasKernelFunc, hasKprobes, hasTpBtf } from '../../core/features.js';
import { note } from '../../core/log.js';
import { possibleCpus, type BpfMap } from '../../core/maps.js';
import type { StructView } from '../../core/btf.js';
import { AF_INET, AF_INET6, formatAddr } from '../../core/net.js';

export type HookSet = 'tp_btf' | 'fentry' | 'kprobe';
export const HOOK_SETS: HookSet[] = ['tp_btf', 'fentry', 'kprobe'];

export interface TcptopFilters {
  /** Only this process (tgid). */
  tgid?: number;
  /** Only IPv4 (4) or IPv6 (6). */
  family?: 4 | 6;
}

/** Bytes one process moved over one TCP connection during one interval. */
export interface ConnRow {
  pid: number;
  comm: string;
  family: 4 | 6;
  laddr: string;
  lport: number;
  raddr: string;
  rport: number;
  rxBytes: number;
  txBytes: number;
}

export interface Interval {
  rows: ConnRow[];
  /** Transfers not counted because the connection table was full (since the last interval). */
  dropped: number;
}

const PROGRAMS: Record<HookSet, string[]> = {
  tp_btf: ['tcptop_send', 'tcptop_recv'],
  fentry: ['tcptop_fx_send', 'tcptop_fx_recv'],
  kprobe: ['tcptop_kp_send', 'tcptop_kr_send', 'tcptop_kp_recv', 'tcptop_kr_recv'],
};

const DESCRIBE: Record<HookSet, string> = {
  tp_btf: 'tp_btf/sock_send_length + tp_btf/sock_recv_length',
  fentry: 'fexit/tcp_sendmsg + fexit/tcp_recvmsg',
  kprobe: 'kprobe+kretprobe on tcp_sendmsg and tcp_recvmsg',
};


function usable(h: HookSet): boolean {
  switch (h) {
    case 'tp_btf':
      return hasBtfTracepoint('sock_send_length') && hasBtfTracepoint('sock_recv_length') && hasTpBtf();
    case 'fentry':
      return hasKernelFunc('tcp_sendmsg') && hasKernelFunc('tcp_recvmsg') && hasFentry();
    case 'kprobe':
      return hasKprobes();
  }
}

/** The best hook set of this kernel (or the forced one, if it works here). */
export function chooseHooks(forced?: HookSet): HookSet {
  if (forced) {
    if (!usable(forced)) throw new BpfkitError('NOT_SUPPORTED', `--hooks ${forced}: this kernel lacks ${DESCRIBE[forced]}`);
    return forced;
  }
  for (const h of HOOK_SETS) if (usable(h)) return h;
  throw new BpfkitError(
    'NOT_SUPPORTED',
    'tcptop needs one of: the sock:sock_send_length/sock_recv_length tracepoints as tp_btf (Linux 6.3+ with BTF), ' +
      'fentry/fexit on tcp_sendmsg/tcp_recvmsg (Linux 5.5+, not locked down), or kprobes (CONFIG_KPROBES); this kernel has none of them',
  );
}

export class TcptopSession {
  private gen = 0;
  private droppedSeen = 0;

  private constructor(
    private obj: BpfObject,
    readonly hooks: HookSet,
    private conns: [BpfMap, BpfMap],
    private generation: BpfMap,
    private inflight: BpfMap,
    private droppedMap: BpfMap,
    private keyView: StructView,
    private valueView: StructView,
  ) {}

  static start(f: TcptopFilters, forced?: HookSet): TcptopSession {
    const hooks = chooseHooks(forced);
    const obj = BpfObject.openFile(bpfObjectPath('tcptop'));
    try {
      obj.setConstants({
        filter_tgid: f.tgid ?? 0,
        filter_family: f.family === 4 ? AF_INET : f.family === 6 ? AF_INET6 : 0,
      });
      obj.selectPrograms(PROGRAMS[hooks]);
      if (hooks !== 'kprobe') {
        obj.map('pending_send').setMaxEntries(1);
        obj.map('pending_recv').setMaxEntries(1);
      }
      obj.load();
      obj.attachAll();
      note(`tcptop: using ${hooks}: ${DESCRIBE[hooks]}`);
      return new TcptopSession(
        obj,
        hooks,
        [obj.map('conns0'), obj.map('conns1')],
        obj.map('generation'),
        obj.map('inflight'),
        obj.map('dropped'),
        obj.struct('tcptop_key'),
        obj.struct('tcptop_value'),
      );
    } catch (err) {
      obj.close();
      throw err;
    }
  }

  /**
   * Bytes since the previous call. Programs count into the map of the current generation;
   * this flips the generation, waits until no program is still inside the old map, then reads
   * and deletes all of it. Connections closed meanwhile are in there too.
   */
  collect(): Interval {
    const old = this.gen;
    this.gen ^= 1;
    const zero = Buffer.alloc(4);
    const g = Buffer.alloc(4);
    g.writeUInt32LE(this.gen);
    this.generation.update(zero, g);
    this.waitIdle(old);
    const rows: ConnRow[] = [];
    for (const [k, v] of this.conns[old]!.drain()) rows.push(this.decode(k, v));
    const total = Number(this.droppedMap.lookup(zero)?.readBigUInt64LE(0) ?? 0n);
    const dropped = total - this.droppedSeen;
    this.droppedSeen = total;
    return { rows, dropped };
  }

  /** Wait (briefly) until no program is between reading generation `g` and finishing its update. */
  private waitIdle(g: number): void {
    const key = Buffer.alloc(4);
    key.writeUInt32LE(g);
    const deadline = Date.now() + 1000;
    const pause = new Int32Array(new SharedArrayBuffer(4));
    Atomics.wait(pause, 0, 0, 1); // let the flip reach every CPU before reading the counters
    for (;;) {
      const v = this.inflight.lookup(key);
      let busy = 0n;
      if (v) for (let c = 0; c < possibleCpus(); c++) busy += v.readBigInt64LE(c * this.inflight.slotSize);
      if (busy === 0n) return;
      if (Date.now() > deadline) {
        note(`tcptop: ${busy} program(s) still busy with the old table after 1 s; reading it anyway`);
        return;
      }
      Atomics.wait(pause, 0, 0, 1);
    }
  }

  private decode(k: Buffer, v: Buffer): ConnRow {
    const kv = this.keyView;
    const family = kv.uint(k, 'family') === AF_INET6 ? 6 : 4;
    return {
      pid: kv.uint(k, 'pid'),
      comm: this.valueView.str(v, 'comm'),
      family,
      laddr: formatAddr(family, kv.bytes(k, 'saddr')),
      lport: kv.uint(k, 'lport'),
      raddr: formatAddr(family, kv.bytes(k, 'daddr')),
      rport: kv.uint(k, 'dport'),
      rxBytes: this.valueView.uint(v, 'received'),
      txBytes: this.valueView.uint(v, 'sent'),
    };
  }

  close(): void {
    this.obj.close();
  }
}
