// Block devices by number and by name, from /proc/diskstats and sysfs.
import { readFileSync } from 'node:fs';

/** Block device names by "MAJ:MIN", from /proc/diskstats (re-read when an unknown one shows up). */
export class DiskNames {
  private names = new Map<string, string>();
  constructor(private readonly diskstats = '/proc/diskstats') { this.reload(); }
  private reload(): void {
    let text = '';
    try { text = readFileSync(this.diskstats, 'utf8'); } catch { return; }
    for (const line of text.split('\n')) {
      const f = line.trim().split(/\s+/);
      if (f.length >= 3) this.names.set(`${f[0]}:${f[1]}`, f[2]!);
    }
  }
  /** The disk's name ("sda", "loop0"), or "?" when neither /proc/diskstats read knows it. */
  name(major: number, minor: number): string {
    const key = `${major}:${minor}`;
    let n = this.names.get(key);
    if (n === undefined) {
      this.reload();
      n = this.names.get(key) ?? '?';
      this.names.set(key, n);
    }
    return n;
  }
}

/** "7:0" of a disk name, from sysfs; undefined for no such disk. */
export function diskDevice(name: string): { major: number; minor: number } | undefined {
  if (!/^[\w.-]+$/.test(name)) return undefined;
  try {
    const [major, minor] = readFileSync(`/sys/class/block/${name}/dev`, 'utf8').trim().split(':').map(Number);
    return { major: major!, minor: minor! };
  } catch {
    return undefined;
  }
}
