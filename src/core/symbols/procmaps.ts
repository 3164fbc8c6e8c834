// /proc/PID/maps parsing.

import { readFileSync } from 'node:fs';

export interface Mapping {
  start: number;
  end: number;
  perms: string;
  /** File offset of `start` (pgoff). */
  offset: number;
  /** Device as in maps (`fd:01`) and inode; 0 for anonymous mappings. */
  dev: string;
  inode: number;
  /** Path as shown (without ` (deleted)`), or a pseudo name like `[vdso]`, or '' for anonymous. */
  path: string;
  deleted: boolean;
}

export function parseMaps(text: string): Mapping[] {
  const out: Mapping[] = [];
  for (const line of text.split('\n')) {
    // start-end perms offset dev inode [path]
    const m = /^([0-9a-f]+)-([0-9a-f]+)\s+(\S+)\s+([0-9a-f]+)\s+(\S+)\s+(\d+)\s*(.*)$/.exec(line);
    if (!m) continue;
    let path = m[7]!;
    let deleted = false;
    if (path.endsWith(' (deleted)')) {
      deleted = true;
      path = path.slice(0, -' (deleted)'.length);
    }
    out.push({
      start: parseInt(m[1]!, 16),
      end: parseInt(m[2]!, 16),
      perms: m[3]!,
      offset: parseInt(m[4]!, 16),
      dev: m[5]!,
      inode: Number(m[6]!),
      path,
      deleted,
    });
  }
  out.sort((a, b) => a.start - b.start);
  return out;
}

export function readMaps(pid: number | 'self'): Mapping[] {
  return parseMaps(readFileSync(`/proc/${pid}/maps`, 'latin1'));
}

/** Binary search for the mapping containing addr. */
export function findMapping(maps: Mapping[], addr: number): Mapping | undefined {
  let lo = 0;
  let hi = maps.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const m = maps[mid]!;
    if (addr < m.start) hi = mid - 1;
    else if (addr >= m.end) lo = mid + 1;
    else return m;
  }
  return undefined;
}

/** True for mappings backed by a regular file (not `[vdso]`, `[heap]`, anonymous, memfd...). */
export function isFileMapping(m: Mapping): boolean {
  return m.inode !== 0 && m.path.startsWith('/');
}
