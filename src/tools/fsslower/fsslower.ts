// fsslower's kernel side. Syscall mode (works everywhere tp_btf and task storage do, including
// kernels without kprobes/fentry): tp_btf sys_enter/sys_exit for the read/write/open/fsync
// syscalls, fd -> struct file -> file system type and name resolved in the kernel, events over
// the threshold through a ring buffer. A FsslowerSession is an EventSource
// (src/toolkit/stream.ts): streamEvents reads it.
import { readFileSync } from 'node:fs';
import { BpfObject, bpfObjectPath } from '../../core/bpf.js';
import { BpfkitError } from '../../core/errors.js';
import { hasBtfTracepoint, hasKprobes, hasRingbuf, hasTaskStorage } from '../../core/features.js';
import { note } from '../../core/log.js';
import { syscallNumber } from '../../core/syscalls/index.js';
import type { StructView } from '../../core/btf.js';
import { RingSource } from '../../toolkit/stream.js';

export interface FsslowerFilters {
  fstype: string;
  minMs: number;
  tgid?: number;
  /** Ring buffer size in MiB (a power of two). */
  bufferMb?: number;
}

export interface FsEvent {
  /** CLOCK_MONOTONIC at completion, microseconds (BCC's ENDTIME_us). */
  endUs: number;
  latencyUs: number;
  pid: number;
  tid: number;
  comm: string;
  type: 'R' | 'W' | 'O' | 'S';
  bytes: number;
  offset: number;
  file: string;
}

// enum fsslower_kind in bpf/fsslower.h
const KINDS: Record<string, number> = {
  read: 1, readv: 1,
  pread64: 2, preadv: 2, preadv2: 2,
  write: 3, writev: 3,
  pwrite64: 4, pwritev: 4, pwritev2: 4,
  open: 5, openat: 5, openat2: 5, creat: 5,
  fsync: 6, fdatasync: 6,
};

/** The file system's own functions (kprobe mode): read_iter, write_iter, open, fsync. */
const FS_FUNCS: Record<string, [string, string, string, string]> = {
  ext4: ['ext4_file_read_iter', 'ext4_file_write_iter', 'ext4_file_open', 'ext4_sync_file'],
  xfs: ['xfs_file_read_iter', 'xfs_file_write_iter', 'xfs_file_open', 'xfs_file_fsync'],
  btrfs: ['btrfs_file_read_iter', 'btrfs_file_write_iter', 'btrfs_file_open', 'btrfs_sync_file'],
  f2fs: ['f2fs_file_read_iter', 'f2fs_file_write_iter', 'f2fs_file_open', 'f2fs_sync_file'],
  nfs: ['nfs_file_read', 'nfs_file_write', 'nfs_file_open', 'nfs_file_fsync'],
};

/** Which of these kernel functions exist now (modules included), from /proc/kallsyms. */
function kernelFunctionsPresent(names: string[]): boolean {
  let text: string;
  try { text = readFileSync('/proc/kallsyms', 'utf8'); } catch { return false; }
  return names.every((n) => new RegExp(`^[0-9a-f]+ [tT] ${n}(\\s|$)`, 'm').test(text));
}

export type FsslowerMode = 'kprobe' | 'syscall';

/** kprobe mode where kprobes work and the file system's functions are known; else syscall mode. */
export function chooseFsslowerMode(fstype: string): FsslowerMode {
  const funcs = FS_FUNCS[fstype];
  if (funcs && hasKprobes() && kernelFunctionsPresent(funcs)) return 'kprobe';
  return 'syscall';
}

/** File system types the kernel knows now (/proc/filesystems). */
export function knownFilesystems(): string[] {
  try {
    return readFileSync('/proc/filesystems', 'utf8').split('\n').map((l) => l.split('\t').pop()!.trim()).filter(Boolean);
  } catch {
    return [];
  }
}

export class FsslowerSession extends RingSource {
  private constructor(obj: BpfObject, private view: StructView) {
    super(obj);
  }

  /** Load and attach; records wait in the ring buffer until start(). */
  static open(f: FsslowerFilters, mode: FsslowerMode = chooseFsslowerMode(f.fstype)): FsslowerSession {
    if (!hasRingbuf()) throw new BpfkitError('NOT_SUPPORTED', 'fsslower needs the BPF ring buffer (Linux 5.8+)');
    if (mode === 'syscall') {
      for (const tp of ['sys_enter', 'sys_exit']) {
        if (!hasBtfTracepoint(tp)) throw new BpfkitError('NOT_SUPPORTED', `fsslower needs kprobes or BTF for raw_syscalls:${tp} (tp_btf: Linux 5.5+ with CONFIG_DEBUG_INFO_BTF)`);
      }
      if (!hasTaskStorage()) throw new BpfkitError('NOT_SUPPORTED', 'fsslower needs kprobes or BPF task storage (Linux 5.11+)');
    }
    const table = Buffer.alloc(1024);
    for (const [name, kind] of Object.entries(KINDS)) {
      const nr = syscallNumber(name);
      if (nr !== undefined && nr < table.length) table[nr] = kind;
    }
    const obj = BpfObject.openFile(bpfObjectPath('fsslower'));
    try {
      const fsName = Buffer.alloc(16);
      fsName.write(f.fstype);
      obj.setConstants({
        filter_tgid: f.tgid ?? 0,
        min_ns: BigInt(Math.round(f.minMs * 1e6)),
        fs_name: fsName,
        syscall_kind: table,
      });
      const kprobes = ['fsslower_kp_read', 'fsslower_kp_write', 'fsslower_kp_open', 'fsslower_kp_sync'];
      if (mode === 'kprobe') obj.selectPrograms([...kprobes, 'fsslower_kp_exit']);
      else obj.selectPrograms(['fsslower_sys_enter', 'fsslower_sys_exit']);
      obj.map('events').setMaxEntries((f.bufferMb ?? 8) * 1048576);
      obj.load();
      const view = obj.struct('fsslower_event');
      const session = new FsslowerSession(obj, view);
      if (mode === 'kprobe') {
        const funcs = FS_FUNCS[f.fstype]!;
        const exit = obj.program('fsslower_kp_exit');
        funcs.forEach((fn, i) => {
          obj.program(kprobes[i]!).attachKprobe(fn);
          exit.attachKprobe(fn, true);
        });
        note(`fsslower: kprobe mode: kprobe+kretprobe on ${funcs.join(', ')}; latency = the file system function (open: ${funcs[2]} only, not the path lookup)`);
      } else {
        obj.attachAll();
        note(`fsslower: syscall mode: tp_btf/sys_enter + tp_btf/sys_exit (read/write/open/fsync families), fd resolved to ${f.fstype} files in the kernel; latency = whole syscall`);
      }
      return session;
    } catch (err) {
      obj.close();
      throw err;
    }
  }

  /** One ring-buffer record (valid only during the call) into an event. */
  decode(b: Buffer): FsEvent {
    const v = this.view;
    return {
      endUs: Math.floor(v.uint(b, 'end_ns') / 1000),
      latencyUs: v.uint(b, 'delta_ns') / 1000,
      pid: v.uint(b, 'pid'),
      tid: v.uint(b, 'tid'),
      comm: v.str(b, 'comm'),
      type: String.fromCharCode(v.uint(b, 'type')) as FsEvent['type'],
      bytes: v.int(b, 'size'),
      offset: v.uint(b, 'offset'),
      file: v.str(b, 'file'),
    };
  }
}
