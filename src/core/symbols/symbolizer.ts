// Symbolizer: turns raw stack addresses into frames, for the kernel (kallsyms) and for user processes
// (/proc/PID/maps -> mapping -> file offset -> ELF vaddr via PT_LOAD -> symbol; JIT perf maps; vDSO).
//
// Processes are snapshotted while sampling (`snapshotProcess`) so that stacks of processes that exited
// before symbolization still resolve. Parsed ELF files are cached per (device, inode) and shared by all
// processes mapping the same file.

import { closeSync, fstatSync, openSync, readFileSync, readlinkSync, readSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { ElfFile } from './elf.js';
import { KernelSymbols } from './kallsyms.js';
import { PerfMap } from './perfmap.js';
import { readStatus } from '../proc.js';
import { findMapping, isFileMapping, parseMaps, type Mapping } from './procmaps.js';
import { buildStack, type LabelOptions } from './frames.js';
import { escapeControl } from '../sanitize.js';
import type { Frame } from './types.js';

export interface SymbolizerOptions {
  /** Kernel symbols to use (default: /proc/kallsyms, loaded on first kernel lookup). */
  kernel?: KernelSymbols;
  kallsymsPath?: string;
  /**
   * Stack entries after the first are return addresses: look up `addr - 1` so a call that is the last
   * instruction of a function is attributed to that function (offsets still use the original address).
   * Default true.
   */
  returnAddresses?: boolean;
  /** Set `Frame.addr` (the address in hex) on every frame. Default false. */
  addresses?: boolean;
  /** Read /tmp/perf-PID.map JIT maps. Default true. */
  perfMaps?: boolean;
  /** Shared ELF cache (e.g. across several Symbolizers). */
  elfCache?: ElfCache;
  /** /proc mount point (tests). Default '/proc'. */
  procRoot?: string;
}

/** Cache of parsed ELF files keyed by `dev:inode` (or `path@mtime:size`); null marks an unreadable file. */
export class ElfCache {
  private readonly map = new Map<string, ElfFile | null>();
  get(key: string): ElfFile | null | undefined {
    return this.map.get(key);
  }
  set(key: string, elf: ElfFile | null): void {
    this.map.set(key, elf);
  }
  get size(): number {
    return this.map.size;
  }
  /** Opens (or returns the cached) ELF file at a path, keyed by path, mtime and size. */
  openPath(path: string): ElfFile | null {
    let key: string;
    try {
      const st = statSync(path);
      key = `${path}@${st.mtimeMs}:${st.size}`;
    } catch {
      return null;
    }
    const hit = this.map.get(key);
    if (hit !== undefined) return hit;
    let elf: ElfFile | null = null;
    try {
      elf = ElfFile.open(path);
    } catch {
      elf = null;
    }
    this.map.set(key, elf);
    return elf;
  }
}

export interface ProcessSnapshot {
  pid: number;
  maps: Mapping[];
  /** Path of the JIT map (host view), if one existed. */
  perfMapPath?: string;
  perfMap?: PerfMap;
  /**
   * Uids of the process (real, effective, saved, filesystem) from /proc/PID/status: its JIT map must
   * be owned by one of them or by root. Unknown for a process that exited before any snapshot.
   */
  uids?: number[];
  /** The process lives in another mount namespace: paths must be read through /proc/PID/root. */
  foreignMountNs: boolean;
  takenAt: number;
  /** Set once the process is known to have exited. */
  exited: boolean;
  /** Last time a missing or stale JIT map was looked for (ms). */
  perfMapCheckedAt?: number;
  /** Resolved frames by address (key: addr * 2 + 1 when looked up at addr - 1). */
  memo: Map<number, Frame>;
}

/** snapshotProcess() without `force` reuses a snapshot younger than this. */
const REFRESH_INTERVAL_MS = 1000;
/** An unresolved frame triggers a refresh (maps, JIT map) at most this often per process. */
const MIN_REFRESH_MS = 50;
/** Memoized frames per process. */
const MEMO_LIMIT = 1 << 18;

export class Symbolizer {
  private kernelSyms?: KernelSymbols;
  private readonly kallsymsPath: string;
  private readonly returnAddresses: boolean;
  private readonly usePerfMaps: boolean;
  private readonly withAddresses: boolean;
  readonly elfCache: ElfCache;
  private readonly proc: string;
  private readonly procs = new Map<number, ProcessSnapshot>();
  private vdso?: ElfFile | null;
  /** Per-mapping shortcut to the cached ELF (avoids building the cache key for every frame). */
  private readonly mappingElf = new WeakMap<Mapping, ElfFile | null>();
  private selfMountNs?: string;

  constructor(opts: SymbolizerOptions = {}) {
    this.kernelSyms = opts.kernel;
    this.kallsymsPath = opts.kallsymsPath ?? '/proc/kallsyms';
    this.returnAddresses = opts.returnAddresses ?? true;
    this.usePerfMaps = opts.perfMaps ?? true;
    this.withAddresses = opts.addresses ?? false;
    this.elfCache = opts.elfCache ?? new ElfCache();
    this.proc = opts.procRoot ?? '/proc';
  }

  /** Kernel symbol table (loaded on first use). */
  kernel(): KernelSymbols {
    if (!this.kernelSyms) {
      try {
        this.kernelSyms = KernelSymbols.load(this.kallsymsPath);
      } catch {
        this.kernelSyms = KernelSymbols.parse('');
      }
    }
    return this.kernelSyms;
  }

  /**
   * One sample's stack as root-first labels for the renderers (folded, flame graph, speedscope):
   * `[comm, user root .. user leaf, kernel root .. kernel_leaf_[k]]`. Stacks are leaf first, as BPF
   * returns them; either may be missing or empty; trailing zero entries (the padding of fixed-size
   * BPF stack arrays) are dropped.
   */
  stackLabels(sample: { pid: number; comm: string; user?: readonly bigint[]; kernel?: readonly bigint[] }, opts: LabelOptions = {}): string[] {
    const u = trimZeros(sample.user);
    const k = trimZeros(sample.kernel);
    const user = u.length ? this.symbolizeUser(sample.pid, u) : [];
    const kernel = k.length ? this.symbolizeKernel(k) : [];
    return buildStack(sample.comm, user, kernel, opts);
  }

  /** Re-reads kallsyms (modules or BPF programs loaded since the first kernel lookup). */
  refreshKernel(): void {
    this.kernelSyms = undefined;
  }

  symbolizeKernel(addrs: readonly bigint[]): Frame[] {
    const k = this.kernel();
    const out: Frame[] = new Array(addrs.length);
    for (let i = 0; i < addrs.length; i++) {
      const a = addrs[i]!;
      const f = k.frame(a, this.returnAddresses && i > 0 && a > 0n ? a - 1n : a);
      if (this.withAddresses) f.addr = '0x' + a.toString(16);
      out[i] = f;
    }
    return out;
  }

  /**
   * Records what is needed to symbolize a process later: its mappings, its JIT map, and (for deleted
   * binaries or another mount namespace) the parsed ELF files themselves, which would be unreachable
   * after the process exits. Cheap when called again for a known pid within a second.
   * `pid` should be a process id (tgid); a thread id works too (the JIT map is found by its tgid).
   * Returns false if the process does not exist (any earlier snapshot is kept).
   */
  snapshotProcess(pid: number, opts: { force?: boolean } = {}): boolean {
    const prev = this.procs.get(pid);
    if (prev && !prev.exited && !opts.force && Date.now() - prev.takenAt < REFRESH_INTERVAL_MS) return true;
    let maps: Mapping[];
    try {
      maps = parseMaps(readFileSync(`${this.proc}/${pid}/maps`, 'latin1'));
    } catch {
      if (prev) prev.exited = true;
      return false;
    }
    const foreignMountNs = this.isForeignMountNs(pid);
    const snap: ProcessSnapshot = { pid, maps, foreignMountNs, takenAt: Date.now(), exited: false, memo: new Map() };
    const uids = this.processIds(pid).uids;
    if (uids) snap.uids = uids;
    for (const m of maps) {
      if (!m.perms.includes('x') || !isFileMapping(m)) continue;
      if (m.deleted || foreignMountNs) this.elfFor(snap, m); // load now, while /proc/PID still exists
    }
    if (this.usePerfMaps) {
      const path = this.perfMapPathOf(pid, foreignMountNs);
      if (path) {
        snap.perfMapPath = path;
        snap.perfMap = prev?.perfMap && prev.perfMap.path === path && sameUids(prev.uids, snap.uids) ? prev.perfMap.refresh() : loadPerfMap(path, snap.uids);
      }
    }
    this.procs.set(pid, snap);
    return true;
  }

  /** Snapshots several processes (e.g. every pid seen in the samples so far); returns how many exist. */
  snapshotProcesses(pids: Iterable<number>): number {
    let n = 0;
    for (const pid of pids) if (this.snapshotProcess(pid)) n++;
    return n;
  }

  /** Drops a process snapshot. */
  forgetProcess(pid: number): void {
    this.procs.delete(pid);
  }

  /** The snapshot of a process, if any. */
  snapshot(pid: number): ProcessSnapshot | undefined {
    return this.procs.get(pid);
  }

  /**
   * Symbolizes a user stack of a process. `addrs` is leaf first, as BPF returns stacks; the result
   * has one frame per address, in the same order. Frames may be shared between calls: read-only.
   */
  symbolizeUser(pid: number, addrs: readonly bigint[]): Frame[] {
    let snap = this.procs.get(pid);
    if (!snap) {
      if (!this.snapshotProcess(pid)) {
        // Gone before any snapshot: only a JIT map left on disk can still help.
        const path = this.usePerfMaps ? `/tmp/perf-${pid}.map` : undefined;
        const dead: ProcessSnapshot = { pid, maps: [], foreignMountNs: false, takenAt: Date.now(), exited: true, memo: new Map() };
        if (path && exists(path)) {
          // The owner cannot be checked against the process: only a map owned by root (or by us) is read.
          dead.perfMapPath = path;
          dead.perfMap = loadPerfMap(path, undefined);
        }
        this.procs.set(pid, dead);
      }
      snap = this.procs.get(pid)!;
    }
    let refreshed = false;
    const out: Frame[] = new Array(addrs.length);
    for (let i = 0; i < addrs.length; i++) {
      const a = addrs[i]!;
      const addr = Number(a);
      const look = this.returnAddresses && i > 0 && addr > 0 ? addr - 1 : addr;
      const key = addr * 2 + (look === addr ? 0 : 1);
      const known = snap.memo.get(key);
      if (known) {
        out[i] = known;
        continue;
      }
      let f = this.resolveUser(snap, addr, look);
      if (!refreshed && (f.kind === 'unknown' || (f.kind === 'jit' && f.module.startsWith('[')))) {
        // A library loaded or JIT code written since the snapshot: refresh once per call.
        refreshed = true;
        const now = Date.now();
        if (now - snap.takenAt >= MIN_REFRESH_MS && !snap.exited && this.snapshotProcess(pid, { force: true })) {
          snap = this.procs.get(pid)!;
        } else if (this.usePerfMaps && now - (snap.perfMapCheckedAt ?? 0) >= MIN_REFRESH_MS) {
          snap.perfMapCheckedAt = now;
          if (snap.perfMap) snap.perfMap = snap.perfMap.refresh();
          else {
            const path = snap.exited ? `/tmp/perf-${pid}.map` : this.perfMapPathOf(pid, snap.foreignMountNs);
            if (path && exists(path)) {
              snap.perfMapPath = path;
              snap.perfMap = loadPerfMap(path, snap.uids);
            }
          }
        }
        f = this.resolveUser(snap, addr, look);
      }
      if (this.withAddresses) f.addr = '0x' + a.toString(16);
      // Unresolved frames are not memoized: a later refresh may resolve them.
      if (f.kind !== 'unknown' && !(f.kind === 'jit' && f.module.startsWith('[')) && snap.memo.size < MEMO_LIMIT) snap.memo.set(key, f);
      out[i] = f;
    }
    return out;
  }

  private resolveUser(snap: ProcessSnapshot, addr: number, look: number): Frame {
    const m = findMapping(snap.maps, look) ?? findMapping(snap.maps, addr);
    if (m && isFileMapping(m)) {
      const fileOff = addr - m.start + m.offset;
      const lookOff = look - m.start + m.offset;
      const elf = this.elfFor(snap, m);
      if (elf) {
        const vaddr = elf.fileOffsetToVaddr(fileOff) ?? fileOff;
        const lookVaddr = elf.fileOffsetToVaddr(lookOff) ?? lookOff;
        const s = elf.lookup(lookVaddr);
        if (s) return { name: s.name, module: escapeControl(m.path), offset: vaddr - s.start, kind: 'user' };
        const jit = this.perfMapLookup(snap, addr, look);
        if (jit) return jit;
        return { name: `${escapeControl(basename(m.path))}+0x${vaddr.toString(16)}`, module: escapeControl(m.path), offset: vaddr, kind: 'unknown' };
      }
      return { name: `${escapeControl(basename(m.path))}+0x${fileOff.toString(16)}`, module: escapeControl(m.path), offset: fileOff, kind: 'unknown' };
    }
    const jit = this.perfMapLookup(snap, addr, look);
    if (jit) return jit;
    if (m && m.path === '[vdso]') {
      const vdso = this.loadVdso();
      const off = addr - m.start;
      if (vdso) {
        const s = vdso.lookup((vdso.fileOffsetToVaddr(look - m.start) ?? look - m.start));
        const vaddr = vdso.fileOffsetToVaddr(off) ?? off;
        if (s) return { name: s.name, module: '[vdso]', offset: vaddr - s.start, kind: 'user' };
      }
      return { name: `[vdso]+0x${off.toString(16)}`, module: '[vdso]', offset: off, kind: 'unknown' };
    }
    if (m) {
      const label = m.path === '' ? '[anon]' : escapeControl(m.path);
      const off = addr - m.start;
      // Executable anonymous memory without a JIT map entry is almost always JIT code.
      return { name: `${label}+0x${off.toString(16)}`, module: label, offset: off, kind: m.perms.includes('x') ? 'jit' : 'unknown' };
    }
    return { name: '[unknown]', module: '[unknown]', kind: 'unknown' };
  }

  private perfMapLookup(snap: ProcessSnapshot, addr: number, look: number): Frame | undefined {
    const pm = snap.perfMap;
    if (!pm) return undefined;
    const s = pm.lookup(look);
    if (!s) return undefined;
    return { name: s.name, module: basename(pm.path), offset: addr - s.start, kind: 'jit' };
  }

  private elfFor(snap: ProcessSnapshot, m: Mapping): ElfFile | null {
    const fast = this.mappingElf.get(m);
    if (fast !== undefined) return fast;
    const elf = this.loadElf(snap, m);
    // A failure is remembered for this mapping only (a later snapshot gets new Mapping objects).
    this.mappingElf.set(m, elf);
    return elf;
  }

  private loadElf(snap: ProcessSnapshot, m: Mapping): ElfFile | null {
    const key = `${m.dev}:${m.inode}`;
    const hit = this.elfCache.get(key);
    if (hit !== undefined) return hit;
    const alive = !snap.exited;
    const candidates: { path: string; check: boolean }[] = [];
    if (alive) {
      candidates.push({ path: `${this.proc}/${snap.pid}/map_files/${m.start.toString(16)}-${m.end.toString(16)}`, check: false });
      if (snap.foreignMountNs) candidates.push({ path: `${this.proc}/${snap.pid}/root${m.path}`, check: true });
    }
    if (!snap.foreignMountNs && !m.deleted) candidates.push({ path: m.path, check: true });
    for (const c of candidates) {
      let fd: number;
      try {
        fd = openSync(c.path, 'r');
      } catch {
        continue;
      }
      try {
        if (c.check && !sameFile(fd, m)) continue;
        let elf: ElfFile | null;
        try {
          elf = ElfFile.fromFd(fd, snap.foreignMountNs && alive ? { debugRoot: `${this.proc}/${snap.pid}/root` } : {});
        } catch {
          elf = null;
        }
        // Only remember a failure that is about the file, not about access to it.
        this.elfCache.set(key, elf);
        return elf;
      } finally {
        closeSync(fd);
      }
    }
    // Not cached: a later attempt (for another live process mapping the same file) may succeed.
    return null;
  }

  private perfMapPathOf(pid: number, foreign: boolean): string | undefined {
    // JIT maps are per process: named by the tgid, as the process sees it in its own PID namespace.
    const ids = this.processIds(pid);
    const direct = `/tmp/perf-${ids.tgid}.map`;
    if (!foreign && exists(direct)) return direct;
    if (foreign || ids.nsTgid !== ids.tgid) {
      const p = `${this.proc}/${pid}/root/tmp/perf-${ids.nsTgid}.map`;
      if (exists(p)) return p;
    }
    return exists(direct) ? direct : undefined;
  }

  private processIds(pid: number): { tgid: number; nsTgid: number; uids?: number[] } {
    let tgid = pid;
    let nsTgid = pid;
    const status = readStatus(pid, this.proc);
    const u = status?.get('Uid');
    const uids = u ? u.split(/\s+/).map(Number) : undefined;
    const t = status?.get('Tgid');
    if (t) tgid = nsTgid = Number(t);
    const ns = status?.get('NStgid');
    if (ns) {
      const ids = ns.split(/\s+/);
      nsTgid = Number(ids[ids.length - 1]);
    }
    return uids ? { tgid, nsTgid, uids } : { tgid, nsTgid };
  }

  private isForeignMountNs(pid: number): boolean {
    try {
      this.selfMountNs ??= readlinkSync(`${this.proc}/self/ns/mnt`);
      return readlinkSync(`${this.proc}/${pid}/ns/mnt`) !== this.selfMountNs;
    } catch {
      return false;
    }
  }

  /** The vDSO image is the same for every 64-bit process of this kernel: read ours once. */
  private loadVdso(): ElfFile | null {
    if (this.vdso !== undefined) return this.vdso;
    this.vdso = null;
    try {
      const m = parseMaps(readFileSync(`/proc/self/maps`, 'latin1')).find((x) => x.path === '[vdso]');
      if (m) {
        const len = m.end - m.start;
        const buf = Buffer.alloc(len);
        const fd = openSync('/proc/self/mem', 'r');
        try {
          readSync(fd, buf, 0, len, m.start);
        } finally {
          closeSync(fd);
        }
        this.vdso = ElfFile.fromBuffer(buf, { debugLookup: false });
      }
    } catch {
      this.vdso = null;
    }
    return this.vdso;
  }
}

function trimZeros(a: readonly bigint[] | undefined): readonly bigint[] {
  if (!a) return [];
  let n = a.length;
  while (n > 0 && a[n - 1] === 0n) n--;
  return n === a.length ? a : a.slice(0, n);
}

/**
 * Opens a JIT map owned by one of `uids` (the process's) or root; without `uids`, by root or by us.
 * Symlinks, FIFOs, devices and other users' files are refused (PerfMap.load), as undefined.
 */
export function loadPerfMap(path: string, uids: readonly number[] | undefined): PerfMap | undefined {
  try {
    return PerfMap.load(path, uids ? { owners: uids } : {});
  } catch {
    return undefined;
  }
}

function sameUids(a: readonly number[] | undefined, b: readonly number[] | undefined): boolean {
  return (a ?? []).join() === (b ?? []).join();
}

function exists(p: string): boolean {
  try {
    statSync(p);
    return true;
  } catch {
    return false;
  }
}

/** Is the open file the one the mapping refers to? Same inode, and same device when comparable. */
function sameFile(fd: number, m: Mapping): boolean {
  try {
    const st = fstat(fd);
    if (st.ino !== m.inode) {
      // Overlay and some FUSE filesystems report other inodes through stat than through maps: only a
      // mismatch on the same device proves that the file was replaced.
      return st.devStr !== m.dev;
    }
    return true;
  } catch {
    return true;
  }
}

function fstat(fd: number): { ino: number; devStr: string } {
  const st = fstatSync(fd, { bigint: true });
  const dev = st.dev;
  const major = Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn));
  const minor = Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn));
  return { ino: Number(st.ino), devStr: `${major.toString(16).padStart(2, '0')}:${minor.toString(16).padStart(2, '0')}` };
}
