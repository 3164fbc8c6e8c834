// cgroup files a diagnosis needs: which cgroup a process is in (v1 controllers and v2), CPU
// bandwidth control (quota and throttling counters) and block I/O limits. Works on v1, v2 and
// hybrid hosts (v1 controllers beside a cgroup2 mount). Parsers are pure; readers never throw.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where each hierarchy is mounted: v1 controllers by name ("cpu", "blkio"), and cgroup2. */
export interface CgroupMounts { v1: Map<string, string>; v2?: string }

/** Parse /proc/self/mounts (or mountinfo-less /proc/mounts) for cgroup and cgroup2 mounts. */
export function parseCgroupMounts(text: string): CgroupMounts {
  const out: CgroupMounts = { v1: new Map() };
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f.length < 4) continue;
    const dir = f[1]!.replace(/\\040/g, ' ');
    if (f[2] === 'cgroup2') out.v2 ??= dir;
    else if (f[2] === 'cgroup') {
      for (const opt of f[3]!.split(',')) {
        if (['cpu', 'cpuacct', 'blkio', 'memory', 'pids', 'cpuset', 'io'].includes(opt) && !out.v1.has(opt)) out.v1.set(opt, dir);
      }
    }
  }
  return out;
}

export function readCgroupMounts(): CgroupMounts {
  try {
    return parseCgroupMounts(readFileSync('/proc/self/mounts', 'utf8'));
  } catch {
    return { v1: new Map() };
  }
}

/** A process's cgroups: v1 path by controller ("cpu", "blkio"), and its v2 path. */
export interface ProcCgroups { v1: Map<string, string>; v2?: string }

/** Parse /proc/PID/cgroup: "ID:controllers:path" lines; "0::path" is cgroup2. */
export function parseProcCgroup(text: string): ProcCgroups {
  const out: ProcCgroups = { v1: new Map() };
  for (const line of text.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    if (m[1] === '0' && m[2] === '') out.v2 = m[3]!;
    else for (const c of m[2]!.split(',')) if (c) out.v1.set(c, m[3]!);
  }
  return out;
}

export function readProcCgroups(pid: number, procRoot = '/proc'): ProcCgroups | undefined {
  try {
    return parseProcCgroup(readFileSync(`${procRoot}/${pid}/cgroup`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** "key value" lines (cpu.stat, io.stat-like files) into numbers. */
export function parseKeyValues(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^-?\d+$/.test(v)) out.set(k, Number(v));
  }
  return out;
}

/** CPU bandwidth counters of one cgroup, cumulative, in one unit whatever the version. */
export interface CpuStat { periods: number; throttledPeriods: number; throttledNs: number }

/** cpu.stat: v1 has throttled_time (ns), v2 throttled_usec. undefined: no bandwidth counters. */
export function parseCpuStat(text: string): CpuStat | undefined {
  const kv = parseKeyValues(text);
  const periods = kv.get('nr_periods');
  const throttled = kv.get('nr_throttled');
  if (periods === undefined || throttled === undefined) return undefined;
  const ns = kv.get('throttled_time') ?? (kv.has('throttled_usec') ? kv.get('throttled_usec')! * 1000 : 0);
  return { periods, throttledPeriods: throttled, throttledNs: ns };
}

/** v2 cpu.max "QUOTA PERIOD" ("max 100000": no limit) -> cores, or undefined. */
export function parseCpuMax(text: string): number | undefined {
  const [q, p] = text.trim().split(/\s+/);
  if (!q || q === 'max' || !p) return undefined;
  const quota = Number(q);
  const period = Number(p);
  return quota > 0 && period > 0 ? quota / period : undefined;
}

/** v1 cpu.cfs_quota_us (-1: no limit) and cpu.cfs_period_us -> cores, or undefined. */
export function cfsQuotaCores(quotaUs: string, periodUs: string): number | undefined {
  const q = Number(quotaUs.trim());
  const p = Number(periodUs.trim());
  return q > 0 && p > 0 ? q / p : undefined;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** A cgroup with CPU bandwidth control: where its files are, and how they read now. */
export interface CpuCgroupState extends CpuStat {
  /** "v1:/path" or "v2:/path" (path as in /proc/PID/cgroup). */
  id: string;
  quotaCores?: number;
}

/** The directory of a cgroup with a CPU controller: v1 cpu hierarchy, else cgroup2. */
export function cpuCgroupDir(cg: ProcCgroups, mounts: CgroupMounts): { id: string; dir: string; v: 1 | 2 } | undefined {
  const v1 = cg.v1.get('cpu');
  const m1 = mounts.v1.get('cpu');
  if (v1 !== undefined && m1) return { id: `v1:${v1}`, dir: join(m1, v1), v: 1 };
  if (cg.v2 !== undefined && mounts.v2) return { id: `v2:${cg.v2}`, dir: join(mounts.v2, cg.v2), v: 2 };
  return undefined;
}

/** Read a cgroup's CPU counters and quota (v1: cpu.cfs_*; v2: cpu.max). */
export function readCpuCgroup(id: string, dir: string, v: 1 | 2): CpuCgroupState | undefined {
  const text = readText(join(dir, 'cpu.stat'));
  if (text === undefined) return undefined;
  const stat = parseCpuStat(text) ?? { periods: 0, throttledPeriods: 0, throttledNs: 0 };
  let quotaCores: number | undefined;
  if (v === 1) {
    const q = readText(join(dir, 'cpu.cfs_quota_us'));
    const p = readText(join(dir, 'cpu.cfs_period_us'));
    if (q !== undefined && p !== undefined) quotaCores = cfsQuotaCores(q, p);
  } else {
    const max = readText(join(dir, 'cpu.max'));
    if (max !== undefined) quotaCores = parseCpuMax(max);
  }
  return { id, ...stat, quotaCores };
}

/** The cgroup path and its ancestors up to (not including) the root: "/a/b" -> ["/a/b", "/a"]. */
export function cgroupAncestors(path: string): string[] {
  const out: string[] = [];
  let p = path.replace(/\/+$/, '');
  while (p && p !== '/') {
    out.push(p);
    p = p.slice(0, p.lastIndexOf('/'));
  }
  return out;
}

/** A block I/O limit on one device (undefined: not limited in that direction). */
export interface IoMax { device: string; readBps?: number; writeBps?: number; readIops?: number; writeIops?: number }

/** v1 blkio.throttle.*_device: "MAJ:MIN VALUE" lines. */
export function parseThrottleDevice(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(\d+:\d+)\s+(\d+)$/.exec(line.trim());
    if (m && Number(m[2]) > 0) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

/** v2 io.max: "MAJ:MIN rbps=N wbps=max riops=N wiops=max" lines. Devices keyed by "MAJ:MIN". */
export function parseIoMax(text: string): IoMax[] {
  const out: IoMax[] = [];
  const fields: Record<string, keyof IoMax> = { rbps: 'readBps', wbps: 'writeBps', riops: 'readIops', wiops: 'writeIops' };
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (!/^\d+:\d+$/.test(f[0] ?? '')) continue;
    const lim: IoMax = { device: f[0]! };
    for (const kv of f.slice(1)) {
      const [k, v] = kv.split('=');
      const name = fields[k ?? ''];
      if (name && v && v !== 'max' && /^\d+$/.test(v)) (lim as unknown as Record<string, number>)[name] = Number(v);
    }
    if (lim.readBps !== undefined || lim.writeBps !== undefined || lim.readIops !== undefined || lim.writeIops !== undefined) out.push(lim);
  }
  return out;
}

/** The block I/O limits of a cgroup: v1 blkio.throttle.* or v2 io.max. Devices as "MAJ:MIN". */
export function readIoLimits(cg: ProcCgroups, mounts: CgroupMounts): Array<IoMax & { id: string }> {
  const out: Array<IoMax & { id: string }> = [];
  const blkio = cg.v1.get('blkio');
  const m1 = mounts.v1.get('blkio');
  if (blkio !== undefined && m1) {
    for (const path of cgroupAncestors(blkio)) {
      const dir = join(m1, path);
      const byDev = new Map<string, IoMax>();
      const files: Array<[string, keyof IoMax]> = [
        ['blkio.throttle.read_bps_device', 'readBps'], ['blkio.throttle.write_bps_device', 'writeBps'],
        ['blkio.throttle.read_iops_device', 'readIops'], ['blkio.throttle.write_iops_device', 'writeIops'],
      ];
      for (const [file, field] of files) {
        const text = readText(join(dir, file));
        if (text === undefined) continue;
        for (const [dev, v] of parseThrottleDevice(text)) {
          const lim = byDev.get(dev) ?? { device: dev };
          (lim as unknown as Record<string, number>)[field] = v;
          byDev.set(dev, lim);
        }
      }
      for (const lim of byDev.values()) out.push({ ...lim, id: `v1:${path}` });
    }
  }
  if (cg.v2 !== undefined && mounts.v2) {
    for (const path of cgroupAncestors(cg.v2)) {
      const text = readText(join(mounts.v2, path, 'io.max'));
      if (text !== undefined) for (const lim of parseIoMax(text)) out.push({ ...lim, id: `v2:${path}` });
    }
  }
  return out;
}
