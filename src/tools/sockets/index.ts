// `bpfkit sockets`: the sockets a process holds (lsof -i -a -p PID), from /proc; no eBPF.
import { has, parseArgs, parsePids, type FlagSpec } from '../../cli/args.js';
import type { ToolCommand, ToolContext } from '../../cli/command.js';
import { badArgs } from '../../core/errors.js';
import { listSockets, type SocketRecord } from '../../core/sockets.js';

export { listSockets } from '../../core/sockets.js';
export type { SocketRecord, ListOptions, SocketProto } from '../../core/sockets.js';

const FLAGS: FlagSpec[] = [
  { key: 'pid', short: 'p', long: 'pid', value: true },
  { key: 'all', short: 'a', long: 'all' },
  { key: 'listening', short: 'l', long: 'listening' },
  { key: 'json', long: 'json' },
  { key: 'help', short: 'h', long: 'help' },
];

const HELP = `usage: bpfkit sockets (-p PID[,PID...] | -a) [--listening] [--json]

List the sockets held by processes, like lsof -i -a -p PID (plus unix sockets), from /proc
(no eBPF): /proc/PID/fd links joined with /proc/PID/net/{tcp,tcp6,udp,udp6,raw,raw6,unix}.

options:
  -p, --pid PID[,PID]  processes to inspect (repeatable)
  -a, --all            all processes
  -l, --listening      only listening sockets (TCP/unix LISTEN, bound unconnected UDP/raw)
      --json           NDJSON, one object per socket
  -h, --help           this text

columns:
  PID COMM FD         process and file descriptor
  PROTO               tcp, tcp6, udp, udp6, raw, raw6, unix
  LOCAL REMOTE        addresses (*:port is a wildcard address; unix: path, @abstract)
  STATE               TCP state (LISTEN, ESTABLISHED, ...); UDP UNCONN/ESTABLISHED;
                      unix LISTEN/CONNECTED/UNCONN
  SEND-Q RECV-Q       bytes queued (tx_queue/rx_queue); for LISTEN, RECV-Q is the number of
                      connections waiting for accept(); '-' for unix sockets
  INODE               socket inode (matches socket:[INODE] in /proc/PID/fd)

examples:
  bpfkit sockets -p 1234          # sockets of process 1234
  bpfkit sockets -a --listening   # every listening socket and who owns it
`;

type Align = 'l' | 'r';
const COLUMNS: { title: string; align: Align; get: (r: SocketRecord) => string }[] = [
  { title: 'PID', align: 'r', get: (r) => String(r.pid) },
  { title: 'COMM', align: 'l', get: (r) => r.comm },
  { title: 'FD', align: 'r', get: (r) => String(r.fd) },
  { title: 'PROTO', align: 'l', get: (r) => r.proto },
  { title: 'LOCAL', align: 'l', get: (r) => r.local || '-' },
  { title: 'REMOTE', align: 'l', get: (r) => r.remote || '-' },
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

/** NDJSON: one object per socket. */
export function renderJson(records: SocketRecord[]): string {
  return records.map((r) => JSON.stringify(r) + '\n').join('');
}

export const command: ToolCommand = {
  name: 'sockets',
  summary: 'sockets held by processes (lsof -i -a -p PID), from /proc',
  help: HELP,
  async run(argv: string[], ctx: ToolContext): Promise<void> {
    const args = parseArgs(argv, FLAGS);
    if (has(args, 'help')) { ctx.out(HELP); return; }
    if (args.positionals.length) throw badArgs(`sockets: unexpected argument '${args.positionals[0]}' (see --help)`);
    const pids = (args.flags.get('pid') ?? []).flatMap((t) => parsePids(t));
    const all = has(args, 'all');
    if (pids.length && all) throw badArgs('sockets: -p and -a cannot be used together');
    if (!pids.length && !all) throw badArgs('sockets: give -p PID or -a (see --help)');
    ctx.ready(); // no kernel programs to attach: ready at once
    const records = listSockets({ pids: all ? undefined : pids, all, listening: has(args, 'listening'), verbose: ctx.verbose });
    ctx.verbose(`sockets: ${records.length} socket(s)`);
    ctx.out(has(args, 'json') ? renderJson(records) : renderText(records));
  },
};
