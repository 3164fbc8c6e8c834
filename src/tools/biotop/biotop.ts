// biotop's kernel side: who submitted each block request (block_io_start, or block_bio_queue on
// kernels without it), device time from block_rq_issue to block_rq_complete, totals per
// process/direction/disk aggregated in the kernel and drained every interval.
import { BpfObject, bpfObjectPath } from '../../core/bpf.js';
import { BpfkitError } from '../../core/errors.js';
import { hasBtfTracepoint } from '../../core/features.js';
import { DiskNames } from '../../core/disks.js';
import { note } from '../../core/log.js';
import type { BpfMap } from '../../core/maps.js';
import type { StructView } from '../../core/btf.js';

export interface BiotopFilters { tgid?: number }

export interface BiotopRow {
  pid: number;
  comm: string;
  /** 'R' or 'W' */
  dir: 'R' | 'W';
  major: number;
  minor: number;
  disk: string;
  io: number;
  bytes: number;
  /** Device time (issue -> completion), summed over the I/Os. */
  totalNs: number;
}

export type BiotopMode = 'io_start' | 'bio_queue';

/** Which submitter hook this kernel offers, best first. */
export function chooseBiotopMode(): BiotopMode {
  for (const tp of ['block_rq_issue', 'block_rq_complete']) {
    if (!hasBtfTracepoint(tp)) throw new BpfkitError('NOT_SUPPORTED', `kernel has no BTF for block:${tp} (tp_btf needs Linux 5.5+ with CONFIG_DEBUG_INFO_BTF; block_rq_issue(rq) needs 5.11+)`);
  }
  if (hasBtfTracepoint('block_io_start')) return 'io_start';
  if (hasBtfTracepoint('block_bio_queue')) return 'bio_queue';
  throw new BpfkitError('NOT_SUPPORTED', 'kernel has neither block:block_io_start (Linux 6.5+) nor block:block_bio_queue to find who submits block I/O');
}

export class BiotopSession {
  private disks = new DiskNames();
  private constructor(private obj: BpfObject, private counts: BpfMap, private key: StructView, private value: StructView, readonly mode: BiotopMode) {}

  static start(f: BiotopFilters, mode: BiotopMode = chooseBiotopMode()): BiotopSession {
    const obj = BpfObject.openFile(bpfObjectPath('biotop'));
    try {
      obj.setConstants({ filter_tgid: f.tgid ?? 0 });
      if (mode === 'io_start') {
        obj.selectPrograms(['biotop_io_start', 'biotop_rq_issue', 'biotop_rq_complete']);
        obj.map('who_by_bio').setMaxEntries(1);
      } else {
        obj.selectPrograms(['biotop_bio_queue', 'biotop_rq_issue_bio', 'biotop_rq_complete']);
      }
      obj.load();
      obj.attachAll();
      note(mode === 'io_start'
        ? 'biotop: submitter from tp_btf/block_io_start; device time tp_btf/block_rq_issue -> tp_btf/block_rq_complete'
        : 'biotop: no block_io_start on this kernel: submitter from tp_btf/block_bio_queue (bio -> request at issue); device time tp_btf/block_rq_issue -> tp_btf/block_rq_complete');
      return new BiotopSession(obj, obj.map('counts'), obj.struct('biotop_key'), obj.struct('biotop_value'), mode);
    } catch (err) {
      obj.close();
      throw err;
    }
  }

  private last = new Map<string, { io: number; bytes: number; ns: number }>();

  /**
   * Totals since the previous call. The kernel's counters are cumulative (no update is lost to
   * a reset racing with the kernel); keys idle for a whole interval are deleted to keep the
   * table small.
   */
  drain(): BiotopRow[] {
    const rows: BiotopRow[] = [];
    for (const [k, v] of this.counts.entries()) {
      const id = k.toString('hex');
      const io = this.value.uint(v, 'io');
      const bytes = this.value.uint(v, 'bytes');
      const ns = this.value.uint(v, 'ns');
      const prev = this.last.get(id) ?? { io: 0, bytes: 0, ns: 0 };
      if (io === prev.io && bytes === prev.bytes && ns === prev.ns) {
        this.counts.delete(k);
        this.last.delete(id);
        continue;
      }
      this.last.set(id, { io, bytes, ns });
      const major = this.key.uint(k, 'major');
      const minor = this.key.uint(k, 'minor');
      rows.push({
        pid: this.key.uint(k, 'pid'),
        comm: this.key.str(k, 'comm'),
        dir: this.key.uint(k, 'rwflag') ? 'W' : 'R',
        major,
        minor,
        disk: this.disks.name(major, minor),
        io: io - prev.io,
        bytes: bytes - prev.bytes,
        totalNs: ns - prev.ns,
      });
    }
    return rows;
  }

  close(): void { this.obj.close(); }
}
