// syscount's kernel side: load bpf/syscount.bpf.o with the filters as constants, attach to
// raw_syscalls sys_enter/sys_exit (tp_btf), and read cumulative per-CPU counters as deltas.
import { BpfObject, bpfObjectPath } from '../../core/bpf.js';
import { BpfkitError } from '../../core/errors.js';
import { hasBtfTracepoint, hasTaskStorage } from '../../core/features.js';
import { note } from '../../core/log.js';
import { possibleCpus, type BpfMap } from '../../core/maps.js';
import type { StructView } from '../../core/btf.js';

export interface SyscountFilters {
  tgid?: number;
  tid?: number;
  failuresOnly?: boolean;
  errno?: number;
  byProcess?: boolean;
  latency?: boolean;
  /** Only these syscall numbers. */
  syscalls?: number[];
}

export interface SyscallRow { nr: number; count: number; totalNs: number }
export interface ProcessRow { pid: number; comm: string; count: number; totalNs: number }

const MAX_SYSCALLS = 1024;

export class SyscountSession {
  private constructor(
    private obj: BpfObject,
    private counts: BpfMap,
    private valueView: StructView,
    private procView: StructView,
    readonly byProcess: boolean,
  ) {}
  private last = new Map<number, { count: number; totalNs: number }>();

  static start(f: SyscountFilters): SyscountSession {
    try {
      return SyscountSession.load(f);
    } catch (err) {
      // Name the missing kernel feature rather than the libbpf failure it caused. Probed only
      // on failure: reading the kernel's BTF costs start-up time every run otherwise.
      for (const tp of ['sys_enter', 'sys_exit']) {
        if (!hasBtfTracepoint(tp)) {
          throw new BpfkitError('NOT_SUPPORTED', `kernel has no BTF for raw_syscalls:${tp} (tp_btf needs Linux 5.5+ with CONFIG_DEBUG_INFO_BTF)`);
        }
      }
      if (f.latency && !hasTaskStorage()) {
        throw new BpfkitError('NOT_SUPPORTED', 'syscount -L needs BPF task storage (Linux 5.11+)');
      }
      throw err;
    }
  }

  private static load(f: SyscountFilters): SyscountSession {
    const obj = BpfObject.openFile(bpfObjectPath('syscount'));
    try {
      let allowed: Buffer | undefined;
      if (f.syscalls) {
        allowed = Buffer.alloc(MAX_SYSCALLS);
        for (const nr of f.syscalls) allowed[nr] = 1;
      }
      obj.setConstants({
        filter_tgid: f.tgid ?? 0,
        filter_tid: f.tid ?? 0,
        failures_only: f.failuresOnly ?? false,
        filter_errno: f.errno ?? 0,
        by_process: f.byProcess ?? false,
        measure_latency: f.latency ?? false,
        filter_syscalls: allowed !== undefined,
        ...(allowed ? { syscall_allowed: allowed } : {}),
      });
      // Without -L only sys_exit is needed: it sees the syscall number and the result.
      obj.selectPrograms(f.latency ? ['syscount_enter', 'syscount_exit'] : ['syscount_exit']);
      // Unused maps get one entry so they cost no memory.
      if (f.byProcess) obj.map('by_syscall').setMaxEntries(1);
      else obj.map('by_proc').setMaxEntries(1);
      obj.load();
      obj.attachAll();
      note(`syscount: attached tp_btf/sys_exit${f.latency ? ' and tp_btf/sys_enter, entry times in task storage' : ''}; ${f.byProcess ? 'per-CPU hash by process' : 'per-CPU array by syscall number'}`);
      return new SyscountSession(
        obj,
        obj.map(f.byProcess ? 'by_proc' : 'by_syscall'),
        obj.struct('syscount_value'),
        obj.struct('syscount_proc'),
        f.byProcess ?? false,
      );
    } catch (err) {
      obj.close();
      throw err;
    }
  }

  /** Counts since the previous call (the first call: since attach). */
  syscallDeltas(): SyscallRow[] {
    const rows: SyscallRow[] = [];
    for (const [k, v] of this.counts.entries()) {
      const nr = k.readUInt32LE(0);
      const { count, totalNs } = this.sum(v, this.valueView);
      const d = this.delta(nr, count, totalNs);
      if (d) rows.push({ nr, ...d });
    }
    return rows;
  }

  processDeltas(): ProcessRow[] {
    const rows: ProcessRow[] = [];
    for (const [k, v] of this.counts.entries()) {
      const pid = k.readUInt32LE(0);
      const { count, totalNs } = this.sum(v, this.procView);
      let comm = '';
      for (let c = 0; c < possibleCpus() && !comm; c++) comm = this.procView.str(v, 'comm', c * this.counts.slotSize);
      const d = this.delta(pid, count, totalNs);
      if (d) rows.push({ pid, comm, ...d });
    }
    return rows;
  }

  private sum(v: Buffer, view: StructView): { count: number; totalNs: number } {
    let count = 0;
    let totalNs = 0;
    for (let c = 0; c < possibleCpus(); c++) {
      count += view.uint(v, 'count', c * this.counts.slotSize);
      totalNs += view.uint(v, 'total_ns', c * this.counts.slotSize);
    }
    return { count, totalNs };
  }

  /** The change since the previous read of `key`, or undefined when nothing was counted. */
  private delta(key: number, count: number, totalNs: number): { count: number; totalNs: number } | undefined {
    const prev = this.last.get(key) ?? { count: 0, totalNs: 0 };
    this.last.set(key, { count, totalNs });
    return count > prev.count ? { count: count - prev.count, totalNs: totalNs - prev.totalNs } : undefined;
  }

  close(): void {
    this.obj.close();
  }
}
