// `bpfkit sockets`: the sockets a process holds (lsof -i -a -p PID), from /proc; no eBPF.
import { COMMON } from '../../toolkit/flags.js';
import { defineTool } from '../../toolkit/runner.js';
import { badArgs } from '../../core/errors.js';
import { listSockets, type SocketRecord } from '../../core/sockets.js';
import { safe } from '../../render/text.js';

export { listSockets } from '../../core/sockets.js';
export type { SocketRecord, ListOptions, SocketProto } from '../../core/sockets.js';

// -p takes a list and may be repeated (COMMON.pids); the runner checks each PID (exists, is a
// process and not a thread) and, as sockets is a snapshot, does not follow them.
const FLAGS = [
  { ...COMMON.pids, help: 'processes to inspect (repeatable)' },
  { key: 'all', short: 'a', long: 'all', help: 'all processes' },
  { key: 'listening', short: 'l', long: 'listening', help: 'only listening sockets (TCP/unix LISTEN, bound unconnected UDP/raw)' },
  { key: 'json', long: 'json', help: 'NDJSON, one object per socket' },
];

export interface SocketsOptions {
  /** Empty with `all`. */
  pids: number[];
  all: boolean;
  listening: boolean;
}

type Align = 'l' | 'r';
const COLUMNS: { title: string; align: Align; get: (r: SocketRecord) => string }[] = [
  { title: 'PID', align: 'r', get: (r) => String(r.pid) },
  { title: 'COMM', align: 'l', get: (r) => safe(r.comm) },
  { title: 'FD', align: 'r', get: (r) => String(r.fd) },
  { title: 'PROTO', align: 'l', get: (r) => r.proto },
  { title: 'LOCAL', align: 'l', get: (r) => safe(r.local) || '-' },
  { title: 'REMOTE', align: 'l', get: (r) => safe(r.remote) || '-' },
  { title: 'STATE', align: 'l', get: (r) => r.state },
  { title: 'SEND-Q', align: 'r', get: (r) => (r.sendQ === null ? '-' : String(r.sendQ)) },
  { title: 'RECV-Q', align: 'r', get: (r) => (r.recvQ === null ? '-' : String(r.recvQ)) },
  { title: 'INODE', align: 'r', get: (r) => String(r.inode) },
];

/** Aligned text table (header + one line per socket), each line ending in '\n'. */
export function renderText(records: SocketRecord[]): string {
  const rows = [COLUMNS.map((c) => c.title), ...records.map((r) => COLUMNS.map((c) => c.get(r)))];
  const widths = COLUMNS.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows.map((row) => row.map((cell, i) => {
    const last = i === row.length - 1;
    if (COLUMNS[i]!.align === 'r') return cell.padStart(widths[i]!);
    return last ? cell : cell.padEnd(widths[i]!);
  }).join('  ').trimEnd() + '\n').join('');
}

/** One JSON object per socket: the column names as keys (SEND-Q -> send_q), plus type and the split addresses. */
export function socketJson(r: SocketRecord): Record<string, unknown> {
  return {
    pid: r.pid, comm: r.comm, fd: r.fd, proto: r.proto, local: r.local, remote: r.remote, state: r.state,
    send_q: r.sendQ, recv_q: r.recvQ, inode: r.inode,
    type: r.type, local_addr: r.localAddr, local_port: r.localPort, remote_addr: r.remoteAddr, remote_port: r.remotePort,
  };
}

/** NDJSON: one object per socket. */
export function renderJson(records: SocketRecord[]): string {
  return records.map((r) => JSON.stringify(socketJson(r)) + '\n').join('');
}

export const command = defineTool<SocketsOptions>({
  name: 'sockets',
  summary: 'sockets held by processes (lsof -i -a -p PID), from /proc',
  usage: '(-p PID[,PID...] | -a) [--listening] [--json]',
  about: `List the sockets held by processes, like lsof -i -a -p PID (plus unix sockets), from /proc
(no eBPF): /proc/PID/fd links joined with /proc/PID/net/{tcp,tcp6,udp,udp6,raw,raw6,unix}.`,
  flags: FLAGS,
  bpf: false,
  snapshot: true,
  more: `Columns:
  PID COMM FD         process and file descriptor
  PROTO               tcp, tcp6, udp, udp6, raw, raw6, unix
  LOCAL REMOTE        addresses (*:port is a wildcard address; unix: path, @abstract)
  STATE               TCP state (LISTEN, ESTABLISHED, ...); UDP UNCONN/ESTABLISHED;
                      unix LISTEN/CONNECTED/UNCONN
  SEND-Q RECV-Q       bytes queued (tx_queue/rx_queue); for LISTEN, RECV-Q is the number of
                      connections waiting for accept(); '-' for unix sockets (null in JSON)
  INODE               socket inode (matches socket:[INODE] in /proc/PID/fd)
JSON keys: pid comm fd proto local remote state send_q recv_q inode, plus type, local_addr,
local_port, remote_addr, remote_port.

Examples:
  bpfkit sockets -p 1234          # sockets of process 1234
  bpfkit sockets -a --listening   # every listening socket and who owns it`,
  parse(a, c) {
    const pids = c.pids ?? [];
    const all = a.has('all');
    if (pids.length && all) throw badArgs('-p and -a cannot be used together');
    if (!pids.length && !all) throw badArgs('give -p PID or -a (see --help)');
    return { pids, all, listening: a.has('listening') };
  },
  async run(opts, rt) {
    rt.ready(); // no kernel programs to attach: ready at once
    const records = listSockets({ pids: opts.all ? undefined : opts.pids, all: opts.all, listening: opts.listening, verbose: rt.verbose });
    rt.verbose(`sockets: ${records.length} socket(s)`);
    rt.write(rt.json ? renderJson(records) : renderText(records));
  },
});
