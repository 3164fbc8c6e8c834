// What `lsof -i -a -p PID` answers, from /proc alone (no eBPF): the sockets a process holds.
// /proc/PID/fd/N -> "socket:[INODE]" is joined with the socket tables of the process's network
// namespace, /proc/PID/net/{tcp,tcp6,udp,udp6,raw,raw6,unix}. Pure data: nothing here prints.
import { readdirSync, readFileSync, readlinkSync, existsSync } from 'node:fs';
import { endianness } from 'node:os';
import { join } from 'node:path';
import { BpfkitError } from './errors.js';
import { formatEndpoint, formatIPv4, formatIPv6 } from './net.js';
import { listPids, readComm } from './proc.js';

export type SocketProto = 'tcp' | 'tcp6' | 'udp' | 'udp6' | 'raw' | 'raw6' | 'unix';

/** One row of a /proc/net socket table (before joining with a process). */
export interface NetEntry {
  proto: SocketProto;
  /** Socket type: stream, dgram, seqpacket, raw. */
  type: string;
  /** inet: address text ("127.0.0.1", "::1", "::ffff:10.0.0.1"); unix: path or null if unnamed. */
  localAddr: string | null;
  localPort: number | null;
  remoteAddr: string | null;
  remotePort: number | null;
  /** TCP: LISTEN, ESTABLISHED, SYN_SENT, ...; UDP/raw: UNCONN or ESTABLISHED; unix: LISTEN, CONNECTED, UNCONN, ... */
  state: string;
  /**
   * tx_queue / rx_queue of the /proc table, bytes. For TCP LISTEN sockets recvQ is the current
   * accept backlog (connections waiting for accept()). null for unix sockets (not in /proc).
   */
  sendQ: number | null;
  recvQ: number | null;
  inode: number;
}

/** A socket held by a process: its table row, the fd that holds it, and display forms. */
export interface SocketRecord extends NetEntry {
  pid: number;
  comm: string;
  fd: number;
  /** Display forms: "127.0.0.1:8080", "[::1]:443", "*:8080", "*:*"; unix: path, "@abstract" or "". */
  local: string;
  remote: string;
}

export interface ListOptions {
  /** Processes to inspect; each must exist (else NO_SUCH_PROCESS). */
  pids?: number[];
  /** Every process (ignored when pids is given). */
  all?: boolean;
  /** Only listening sockets: TCP and unix LISTEN, and bound unconnected UDP/raw sockets. */
  listening?: boolean;
  /** Root of procfs (tests); default /proc. */
  procRoot?: string;
  /** Diagnostics (processes skipped, sockets not found in any table). */
  verbose?: (text: string) => void;
}

// ---- address parsing

const LITTLE = endianness() === 'LE';

/** Bytes of a 32-bit word the kernel printed with %08X from memory (host byte order). */
function wordBytes(hex8: string, littleEndian: boolean): number[] {
  const v = parseInt(hex8, 16);
  const be = [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
  return littleEndian ? be.reverse() : be;
}

/**
 * IPv4 address of a /proc/net/{tcp,udp,raw} field ("0100007F" -> "127.0.0.1"): the __be32 was
 * printed as a host-order word, so on little-endian hosts the bytes come out reversed.
 */
export function parseIPv4Hex(hex: string, littleEndian = LITTLE): string {
  if (!/^[0-9A-Fa-f]{8}$/.test(hex)) throw new Error(`bad IPv4 hex '${hex}'`);
  return formatIPv4(wordBytes(hex, littleEndian));
}

/** IPv6 address of a /proc/net/{tcp6,udp6,raw6} field: four 32-bit words, each host order. */
export function parseIPv6Hex(hex: string, littleEndian = LITTLE): string {
  if (!/^[0-9A-Fa-f]{32}$/.test(hex)) throw new Error(`bad IPv6 hex '${hex}'`);
  const bytes: number[] = [];
  for (let i = 0; i < 32; i += 8) bytes.push(...wordBytes(hex.slice(i, i + 8), littleEndian));
  return formatIPv6(bytes);
}

/** "0100007F:1F90" -> { addr: "127.0.0.1", port: 8080 } (IPv4 when 8 hex digits, else IPv6). */
export function parseHexEndpoint(field: string, littleEndian = LITTLE): { addr: string; port: number } {
  const colon = field.lastIndexOf(':');
  if (colon < 0) throw new Error(`bad address '${field}'`);
  const hex = field.slice(0, colon);
  const port = parseInt(field.slice(colon + 1), 16);
  if (!Number.isFinite(port)) throw new Error(`bad port in '${field}'`);
  const addr = hex.length === 8 ? parseIPv4Hex(hex, littleEndian) : parseIPv6Hex(hex, littleEndian);
  return { addr, port };
}

// ---- /proc/net tables

/** Kernel TCP states (include/net/tcp_states.h), as printed in the `st` column. */
export const TCP_STATES: Readonly<Record<number, string>> = {
  1: 'ESTABLISHED', 2: 'SYN_SENT', 3: 'SYN_RECV', 4: 'FIN_WAIT1', 5: 'FIN_WAIT2', 6: 'TIME_WAIT',
  7: 'CLOSE', 8: 'CLOSE_WAIT', 9: 'LAST_ACK', 10: 'LISTEN', 11: 'CLOSING', 12: 'NEW_SYN_RECV',
};

/**
 * Parse a /proc/net/{tcp,tcp6,udp,udp6,raw,raw6} table. Rows with inode 0 (TIME_WAIT,
 * request sockets) belong to no file descriptor and are kept only if `keepOrphans`.
 */
export function parseInetTable(text: string, proto: Exclude<SocketProto, 'unix'>,
  littleEndian = LITTLE, keepOrphans = false): NetEntry[] {
  const out: NetEntry[] = [];
  const isTcp = proto === 'tcp' || proto === 'tcp6';
  const type = isTcp ? 'stream' : proto.startsWith('udp') ? 'dgram' : 'raw';
  for (const line of text.split('\n')) {
    // "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ..."
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || !/^\d+:$/.test(f[0]!)) continue;
    const local = parseHexEndpoint(f[1]!, littleEndian);
    const remote = parseHexEndpoint(f[2]!, littleEndian);
    const st = parseInt(f[3]!, 16);
    const [tx, rx] = f[4]!.split(':').map((h) => parseInt(h, 16));
    const inode = Number(f[9]);
    if (!keepOrphans && inode === 0) continue;
    let state: string;
    if (isTcp) state = TCP_STATES[st] ?? `UNKNOWN(${st})`;
    else state = st === 1 ? 'ESTABLISHED' : 'UNCONN'; // UDP/raw: TCP_ESTABLISHED when connected, else TCP_CLOSE
    out.push({
      proto, type,
      localAddr: local.addr, localPort: local.port,
      remoteAddr: remote.addr, remotePort: remote.port,
      state, sendQ: tx ?? 0, recvQ: rx ?? 0, inode,
    });
  }
  return out;
}

const UNIX_TYPES: Readonly<Record<number, string>> = { 1: 'stream', 2: 'dgram', 3: 'raw', 4: 'rdm', 5: 'seqpacket' };
const UNIX_STATES: Readonly<Record<number, string>> = { 1: 'UNCONN', 2: 'CONNECTING', 3: 'CONNECTED', 4: 'DISCONNECTING' };
const SO_ACCEPTCON = 0x10000;

/**
 * Parse /proc/net/unix: "Num RefCount Protocol Flags Type St Inode Path". A path starting with
 * '@' is an abstract name; unnamed sockets have no path. A socket with __SO_ACCEPTCON is LISTEN.
 * The kernel prints paths raw, and a process chooses its socket's path: a newline in it
 * continues the path on the next line (kept as part of the path), and a path that forges a
 * whole line would give an inode twice: then no path of that inode is believed.
 */
export function parseUnixTable(text: string): NetEntry[] {
  const out: NetEntry[] = [];
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  for (const [i, line] of lines.entries()) {
    const m = /^\s*[0-9a-fA-F]+:\s+([0-9a-fA-F]+)\s+([0-9a-fA-F]+)\s+([0-9a-fA-F]+)\s+([0-9a-fA-F]+)\s+([0-9a-fA-F]+)\s+(\d+)(?: (.*))?$/.exec(line);
    if (!m) {
      const prev = out.at(-1);
      if (i > 0 && prev?.localAddr != null) prev.localAddr += '\n' + line;
      continue;
    }
    const flags = parseInt(m[3]!, 16);
    const type = parseInt(m[4]!, 16);
    const st = parseInt(m[5]!, 16);
    const inode = Number(m[6]);
    const path = m[7] !== undefined && m[7] !== '' ? m[7] : null;
    out.push({
      proto: 'unix',
      type: UNIX_TYPES[type] ?? `type${type}`,
      localAddr: path, localPort: null, remoteAddr: null, remotePort: null,
      state: flags & SO_ACCEPTCON ? 'LISTEN' : UNIX_STATES[st] ?? `UNKNOWN(${st})`,
      sendQ: null, recvQ: null, inode,
    });
  }
  const seen = new Map<number, number>();
  for (const e of out) seen.set(e.inode, (seen.get(e.inode) ?? 0) + 1);
  for (const e of out) if (seen.get(e.inode)! > 1) e.localAddr = '?';
  return out;
}

/** "socket:[12345]" -> 12345; anything else -> undefined. */
export function parseSocketLink(link: string): number | undefined {
  const m = /^socket:\[(\d+)\]$/.exec(link);
  return m ? Number(m[1]) : undefined;
}

// ---- joining with processes

const INET_TABLES: Exclude<SocketProto, 'unix'>[] = ['tcp', 'tcp6', 'udp', 'udp6', 'raw', 'raw6'];

function readOptional(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') return undefined; // no IPv6, or the process exited
    throw new BpfkitError('IO', `cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
}

/** All sockets of one network namespace, by inode, read through /proc/PID/net. */
function readNetTables(netDir: string): Map<number, NetEntry> {
  const byInode = new Map<number, NetEntry>();
  for (const proto of INET_TABLES) {
    const text = readOptional(join(netDir, proto));
    if (text) for (const e of parseInetTable(text, proto)) byInode.set(e.inode, e);
  }
  const unix = readOptional(join(netDir, 'unix'));
  if (unix) for (const e of parseUnixTable(unix)) byInode.set(e.inode, e);
  return byInode;
}

/** Socket fds of a process: [fd, inode], by fd. undefined if the process is gone. */
function socketFds(procRoot: string, pid: number): [number, number][] | undefined {
  const dir = join(procRoot, String(pid), 'fd');
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') return undefined;
    if (code === 'EACCES' || code === 'EPERM') {
      throw new BpfkitError('NOT_ROOT', `cannot read ${dir}: permission denied (run as root or as the process owner)`, { cause: e });
    }
    throw new BpfkitError('IO', `cannot read ${dir}: ${(e as Error).message}`, { cause: e });
  }
  const out: [number, number][] = [];
  for (const name of names) {
    let link: string;
    try {
      link = readlinkSync(join(dir, name));
    } catch {
      continue; // fd closed between readdir and readlink
    }
    const inode = parseSocketLink(link);
    if (inode !== undefined) out.push([Number(name), inode]);
  }
  return out.sort((a, b) => a[0] - b[0]);
}

function netnsKey(procRoot: string, pid: number): string {
  try {
    return readlinkSync(join(procRoot, String(pid), 'ns', 'net'));
  } catch {
    return `pid:${pid}`;
  }
}

function isListening(e: NetEntry): boolean {
  if (e.state === 'LISTEN') return true;
  // bound, unconnected datagram/raw sockets are what ss -l calls listening
  return (e.proto.startsWith('udp') || e.proto.startsWith('raw')) && e.state === 'UNCONN' && (e.localPort ?? 0) !== 0;
}

/** The sockets held by the given processes (or all processes), ordered by pid and fd. */
export function listSockets(opts: ListOptions): SocketRecord[] {
  const procRoot = opts.procRoot ?? '/proc';
  const verbose = opts.verbose ?? (() => {});
  const explicit = opts.pids !== undefined && opts.pids.length > 0;
  if (!explicit && !opts.all) throw new BpfkitError('BAD_ARGS', 'sockets: give -p PID or -a');
  const pids = explicit ? [...new Set(opts.pids)].sort((a, b) => a - b) : listPids(procRoot);
  if (explicit) {
    for (const pid of pids) {
      if (!existsSync(join(procRoot, String(pid)))) throw new BpfkitError('NO_SUCH_PROCESS', `no such process: ${pid}`);
    }
  }
  const tables = new Map<string, Map<number, NetEntry>>();
  const loadTables = (pid: number): Map<number, NetEntry> => {
    const key = netnsKey(procRoot, pid);
    let table = tables.get(key);
    if (!table) {
      table = readNetTables(join(procRoot, String(pid), 'net'));
      tables.set(key, table);
    }
    return table;
  };
  const found: { pid: number; comm: string; fd: number; inode: number; table: Map<number, NetEntry> }[] = [];
  let skipped = 0;
  for (const pid of pids) {
    let fds: [number, number][] | undefined;
    try {
      fds = socketFds(procRoot, pid);
    } catch (e) {
      if (explicit) throw e;
      skipped++;
      continue;
    }
    if (fds === undefined) {
      if (explicit) throw new BpfkitError('NO_SUCH_PROCESS', `no such process: ${pid}`);
      continue; // exited while we looked
    }
    if (fds.length === 0) continue;
    const comm = readComm(pid, procRoot) ?? '';
    const table = loadTables(pid);
    for (const [fd, inode] of fds) found.push({ pid, comm, fd, inode, table });
  }
  // A socket stays in the namespace it was created in; a process that changed namespace since
  // (unshare, setns) holds sockets that its /proc/PID/net does not list. Look in the other
  // namespaces already read, then in init's (/proc/1/net).
  const elsewhere = (inode: number, own: Map<number, NetEntry>): NetEntry | undefined => {
    for (const t of tables.values()) if (t !== own && t.has(inode)) return t.get(inode);
    if (!tables.has(netnsKey(procRoot, 1)) && existsSync(join(procRoot, '1'))) {
      const t = loadTables(1);
      if (t !== own) return t.get(inode);
    }
    return undefined;
  };
  const out: SocketRecord[] = [];
  for (const { pid, comm, fd, inode, table } of found) {
    const e = table.get(inode) ?? elsewhere(inode, table);
    if (!e) {
      verbose(`sockets: pid ${pid} fd ${fd}: socket:[${inode}] is not tcp/udp/raw/unix (netlink, packet, ...)`);
      continue;
    }
    if (opts.listening && !isListening(e)) continue;
    out.push(toRecord(pid, comm, fd, e));
  }
  if (skipped) verbose(`sockets: skipped ${skipped} process(es) whose fds could not be read`);
  return out;
}

function toRecord(pid: number, comm: string, fd: number, e: NetEntry): SocketRecord {
  let local: string, remote: string;
  if (e.proto === 'unix') {
    local = e.localAddr ?? '';
    remote = '';
  } else {
    local = formatEndpoint(e.localAddr!, e.localPort!);
    remote = formatEndpoint(e.remoteAddr!, e.remotePort!);
  }
  return {
    pid, comm, fd, proto: e.proto, type: e.type, local, remote,
    localAddr: e.localAddr, localPort: e.localPort, remoteAddr: e.remoteAddr, remotePort: e.remotePort,
    state: e.state, sendQ: e.sendQ, recvQ: e.recvQ, inode: e.inode,
  };
}
