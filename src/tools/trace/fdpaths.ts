// trace -y: what a file descriptor is, as strace -y prints it after the number:
// `3</etc/passwd>`, `5<TCP:[127.0.0.1:5432->127.0.0.1:40000]>`, `4<UNIX:[12345]>`, `6<pipe:[9876]>`.
// Read from /proc when the line is printed (within ~50 ms of the call): an fd closed by then
// prints bare, as a number.
import { readFileSync, readlinkSync } from 'node:fs';
import { formatIPv6 } from '../../core/net.js';

const NET_FILES: Array<[string, string]> = [['tcp', 'TCP'], ['tcp6', 'TCPv6'], ['udp', 'UDP'], ['udp6', 'UDPv6']];

/** 0100007F:1F90 (the kernel's /proc/net/tcp address) -> 127.0.0.1:8080; [::1]:8080 for IPv6. */
export function procNetAddr(text: string): string {
  const [addr, port] = text.split(':') as [string, string];
  const p = parseInt(port, 16);
  if (addr.length === 8) {
    const v = parseInt(addr, 16);
    return `${v & 0xff}.${(v >>> 8) & 0xff}.${(v >>> 16) & 0xff}.${v >>> 24}:${p}`;
  }
  // four 32-bit words, each in the host's (little-endian) byte order
  const bytes: number[] = [];
  for (let i = 0; i < 32; i += 8) for (let k = 6; k >= 0; k -= 2) bytes.push(parseInt(addr.slice(i + k, i + k + 2), 16));
  const ip = formatIPv6(bytes);
  return `[${ip}]:${p}`;
}

export class FdPaths {
  private sockets = new Map<number, Map<string, string>>();
  private socketsAt = new Map<number, number>();

  /** `<...>` for fd of process tgid, or '' when it cannot be told. */
  annotate(tgid: number, fd: number): string {
    if (fd < 0) return '';
    let target: string;
    try {
      target = readlinkSync(`/proc/${tgid}/fd/${fd}`);
    } catch {
      return '';
    }
    const sock = /^socket:\[(\d+)\]$/.exec(target);
    if (sock) return `<${this.socket(tgid, sock[1]!) ?? target}>`;
    return `<${target.replace(/[\\<>]/g, (c) => `\\${c}`)}>`;
  }

  private socket(tgid: number, inode: string): string | undefined {
    let table = this.sockets.get(tgid);
    const at = this.socketsAt.get(tgid) ?? 0;
    if (!table || !table.has(inode) || Date.now() - at > 100) {
      table = this.readSockets(tgid);
      this.sockets.set(tgid, table);
      this.socketsAt.set(tgid, Date.now());
    }
    return table.get(inode) ?? `UNIX:[${inode}]`;
  }

  private readSockets(tgid: number): Map<string, string> {
    const m = new Map<string, string>();
    for (const [file, label] of NET_FILES) {
      let text: string;
      try { text = readFileSync(`/proc/${tgid}/net/${file}`, 'utf8'); } catch { continue; }
      for (const line of text.split('\n').slice(1)) {
        const f = line.trim().split(/\s+/);
        if (f.length < 10) continue;
        const local = procNetAddr(f[1]!);
        const remote = procNetAddr(f[2]!);
        const connected = !/^(0\.0\.0\.0|\[::\]):0$/.test(remote);
        m.set(f[9]!, `${label}:[${local}${connected ? `->${remote}` : ''}]`);
      }
    }
    return m;
  }
}
