// biolatency's kernel side: a log2 histogram of block I/O latency per disk and/or per request
// flags, built in the kernel (tp_btf block_rq_issue -> block_rq_complete; -Q from block_io_start
// or, on kernels without it, block_rq_insert).
import { BpfObject, bpfObjectPath } from '../../core/bpf.js';
import { DiskNames, diskDevice } from '../../core/disks.js';
import { BpfkitError } from '../../core/errors.js';
import { hasBtfTracepoint } from '../../core/features.js';
import { note } from '../../core/log.js';
import type { BpfMap } from '../../core/maps.js';
import type { StructView } from '../../core/btf.js';

export interface BiolatencyOptions {
  perDisk: boolean;
  perFlag: boolean;
  ms: boolean;
  queued: boolean;
  /** Only this disk (name as in /proc/diskstats). */
  disk?: string;
}

export interface Histogram {
  /** Set with perDisk. */
  disk?: string;
  major?: number;
  minor?: number;
  /** Set with perFlag: the request's operation and flags, BCC style ("Sync-Write"). */
  flags?: string;
  slots: number[];
}

const SLOTS = 64;

const OPS: Record<number, string> = { 0: 'Read', 1: 'Write', 2: 'Flush', 3: 'Discard', 5: 'SecureErase', 9: 'WriteZeros', 10: 'ZoneAppend', 13: 'ZoneOpen', 15: 'ZoneClose', 17: 'ZoneFinish', 19: 'ZoneReset', 21: 'ZoneResetAll' };
// Normalized bits from bpf/biolatency.h, in BCC's order of prefixes.
const FLAG_NAMES: Array<[number, string]> = [
  [1 << 8, 'Sync'], [1 << 9, 'Metadata'], [1 << 13, 'ForcedUnitAccess'], [1 << 14, 'PreFlush'], [1 << 10, 'Priority'],
  [1 << 11, 'NoMerge'], [1 << 12, 'Idle'], [1 << 15, 'ReadAhead'], [1 << 16, 'Background'], [1 << 17, 'NoWait'],
];

export function flagsText(flags: number): string {
  let desc = OPS[flags & 0xff] ?? 'Unknown';
  for (const [bit, name] of FLAG_NAMES) if (flags & bit) desc = `${name}-${desc}`;
  return desc;
}

export class BiolatencySession {
  private disks = new DiskNames();
  private last = new Map<string, number[]>();
  private constructor(private obj: BpfObject, private hists: BpfMap, private key: StructView, readonly opts: BiolatencyOptions) {}

  static start(opts: BiolatencyOptions): BiolatencySession {
    for (const tp of ['block_rq_issue', 'block_rq_complete']) {
      if (!hasBtfTracepoint(tp)) throw new BpfkitError('NOT_SUPPORTED', `kernel has no BTF for block:${tp} (tp_btf needs Linux 5.5+ with CONFIG_DEBUG_INFO_BTF; block_rq_issue(rq) needs 5.11+)`);
    }
    let queueHook: string | undefined;
    if (opts.queued) {
      if (hasBtfTracepoint('block_io_start')) queueHook = 'biolat_io_start';
      else if (hasBtfTracepoint('block_rq_insert')) queueHook = 'biolat_rq_insert';
      else throw new BpfkitError('NOT_SUPPORTED', 'biolatency -Q needs block:block_io_start (Linux 6.5+) or block:block_rq_insert');
    }
    let dev: { major: number; minor: number } | undefined;
    if (opts.disk !== undefined) {
      dev = diskDevice(opts.disk);
      if (!dev) throw new BpfkitError('BAD_ARGS', `-d: no such disk '${opts.disk}' (see /proc/diskstats)`);
    }
    const obj = BpfObject.openFile(bpfObjectPath('biolatency'));
    try {
      obj.setConstants({
        per_disk: opts.perDisk,
        per_flag: opts.perFlag,
        in_ms: opts.ms,
        queued: opts.queued,
        filter_dev: dev !== undefined,
        target_dev: dev ? (dev.major << 20) | dev.minor : 0,
      });
      obj.selectPrograms(['biolat_rq_issue', 'biolat_rq_complete', ...(queueHook ? [queueHook] : [])]);
      obj.load();
      obj.attachAll();
      note(`biolatency: ${queueHook ? `from tp_btf/${queueHook === 'biolat_io_start' ? 'block_io_start' : 'block_rq_insert'} (queue + device time)` : 'from tp_btf/block_rq_issue (device time)'} to tp_btf/block_rq_complete`);
      return new BiolatencySession(obj, obj.map('hists'), obj.struct('biolat_key'), opts);
    } catch (err) {
      obj.close();
      throw err;
    }
  }

  /**
   * Histograms since the previous call. The kernel's counts are cumulative (no count lost to a
   * reset racing with the kernel); user space keeps the previous totals and subtracts.
   */
  read(): Histogram[] {
    const out: Histogram[] = [];
    for (const [k, v] of this.hists.entries()) {
      const id = k.toString('hex');
      const total: number[] = [];
      for (let i = 0; i < SLOTS; i++) total.push(Number(v.readBigUInt64LE(i * 8)));
      const prev = this.last.get(id);
      this.last.set(id, total);
      const slots = total.map((t, i) => t - (prev?.[i] ?? 0));
      if (!slots.some((s) => s > 0)) continue;
      const h: Histogram = { slots };
      if (this.opts.perDisk) {
        const dev = this.key.uint(k, 'dev');
        h.major = dev >>> 20;
        h.minor = dev & 0xfffff;
        h.disk = this.disks.name(h.major, h.minor);
      }
      if (this.opts.perFlag) h.flags = flagsText(this.key.uint(k, 'flags'));
      out.push(h);
    }
    return out.sort((a, b) => (a.disk ?? '').localeCompare(b.disk ?? '') || (a.flags ?? '').localeCompare(b.flags ?? ''));
  }

  close(): void { this.obj.close(); }
}
