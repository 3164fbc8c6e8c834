// Send-Q / Recv-Q of TCP connections over time, sampled from /proc/net/tcp{,6} (this network
// namespace). A socket is known by its inode; which process holds it is resolved once, at the end
// (a scan of /proc/PID/fd per sample would cost far more than the tables).
import { readFileSync } from 'node:fs';
import { parseInetTable, type NetEntry } from './sockets.js';

export interface QueueTrack {
  inode: number;
  laddr: string; lport: number; raddr: string; rport: number;
  sendQMax: number; sendQSum: number; recvQMax: number; recvQSum: number;
  samples: number;
}

export class TcpQueueSampler {
  readonly tracks = new Map<number, QueueTrack>();
  /** Connections not tracked because `maxConnections` were tracked already. */
  untracked = 0;
  samples = 0;
  constructor(private readonly maxConnections = 4096, private readonly procNet = '/proc/net') {}

  /** One sample of both tables. */
  sample(): void {
    const entries: NetEntry[] = [];
    for (const proto of ['tcp', 'tcp6'] as const) {
      let text: string;
      try {
        text = readFileSync(`${this.procNet}/${proto}`, 'utf8');
      } catch {
        continue; // no IPv6
      }
      entries.push(...parseInetTable(text, proto));
    }
    this.add(entries);
  }

  /** Add one sample (rows of the tables); listening sockets are skipped. */
  add(entries: NetEntry[]): void {
    this.samples++;
    for (const e of entries) {
      if (e.state === 'LISTEN' || e.inode === 0) continue;
      let t = this.tracks.get(e.inode);
      if (!t) {
        if (this.tracks.size >= this.maxConnections) {
          this.untracked++;
          continue;
        }
        t = {
          inode: e.inode, laddr: e.localAddr ?? '', lport: e.localPort ?? 0, raddr: e.remoteAddr ?? '', rport: e.remotePort ?? 0,
          sendQMax: 0, sendQSum: 0, recvQMax: 0, recvQSum: 0, samples: 0,
        };
        this.tracks.set(e.inode, t);
      }
      const sq = e.sendQ ?? 0;
      const rq = e.recvQ ?? 0;
      t.samples++;
      t.sendQSum += sq;
      t.recvQSum += rq;
      if (sq > t.sendQMax) t.sendQMax = sq;
      if (rq > t.recvQMax) t.recvQMax = rq;
    }
  }
}
