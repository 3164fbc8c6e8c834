// /proc/diskstats: cumulative I/O counters per block device, and their change over a window.
import { readFileSync } from 'node:fs';

/** One device's cumulative counters (Documentation/admin-guide/iostats.rst). */
export interface DiskCounters {
  name: string;
  reads: number; readSectors: number; readMs: number;
  writes: number; writeSectors: number; writeMs: number;
  /** Time with requests in flight (io_ticks), ms. */
  ioMs: number;
}

export function parseDiskstats(text: string): Map<string, DiskCounters> {
  const out = new Map<string, DiskCounters>();
  for (const line of text.split('\n')) {
    // major minor name reads merged sectors ms writes merged sectors ms in_flight io_ms weighted_ms ...
    const f = line.trim().split(/\s+/);
    if (f.length < 14) continue;
    const n = f.map(Number);
    out.set(f[2]!, {
      name: f[2]!,
      reads: n[3]!, readSectors: n[5]!, readMs: n[6]!,
      writes: n[7]!, writeSectors: n[9]!, writeMs: n[10]!,
      ioMs: n[12]!,
    });
  }
  return out;
}

export function readDiskstats(path = '/proc/diskstats'): Map<string, DiskCounters> {
  try {
    return parseDiskstats(readFileSync(path, 'utf8'));
  } catch {
    return new Map();
  }
}

/** A device over a window: what it did, how long requests took, how busy it was. */
export interface DiskDelta {
  name: string;
  reads: number; writes: number; readBytes: number; writeBytes: number;
  /** Average time per completed request (ms); 0 when none completed. */
  readMsAvg: number; writeMsAvg: number;
  /** Share of the window with requests in flight (0..1). */
  busy: number;
}

/** Deltas between two readings; devices with no completed I/O in the window are left out. */
export function diskDeltas(before: Map<string, DiskCounters>, after: Map<string, DiskCounters>, windowMs: number): DiskDelta[] {
  const out: DiskDelta[] = [];
  for (const [name, b] of after) {
    const a = before.get(name);
    if (!a) continue;
    const reads = b.reads - a.reads;
    const writes = b.writes - a.writes;
    if (reads <= 0 && writes <= 0) continue;
    out.push({
      name, reads, writes,
      readBytes: (b.readSectors - a.readSectors) * 512, writeBytes: (b.writeSectors - a.writeSectors) * 512,
      readMsAvg: reads > 0 ? (b.readMs - a.readMs) / reads : 0,
      writeMsAvg: writes > 0 ? (b.writeMs - a.writeMs) / writes : 0,
      busy: windowMs > 0 ? Math.min(1, (b.ioMs - a.ioMs) / windowMs) : 0,
    });
  }
  return out.sort((x, y) => y.busy - x.busy || (y.reads + y.writes) - (x.reads + x.writes));
}
