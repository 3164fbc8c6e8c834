// `bpfkit tcplife`: TCP connections with duration and bytes, one line when each closes.
import type { ToolCommand, ToolContext } from '../../cli/command.js';
import { parseArgs, has, last, parseIntArg, type FlagSpec } from '../../cli/args.js';
import { badArgs } from '../../core/errors.js';
import { requireBpfPrivileges, requireProcess } from '../../core/privileges.js';
import { padL, padR } from '../../render/text.js';
import { LineBatcher, parseDuration, parseRingbufMb, streamUntilDone, monoToDate, hms } from '../execsnoop/snoop.js';
import { MAX_PORTS, openTcplife, tcplifeDecoder, type TcplifeFilters, type TcplifeRecord } from './tcplife.js';

const HELP = `Usage: bpfkit tcplife [options]

Trace TCP connections (IPv4 and IPv6) from their start (connect, or a SYN received) to their
close, printing one line per connection with its duration and the bytes it moved.
Hook: tp_btf/inet_sock_set_state (the sock:inet_sock_set_state tracepoint); bytes are
tcp_sock.bytes_acked (TX: sent and acknowledged) and tcp_sock.bytes_received (RX) at close.
Connections already open when tracing starts are not reported.

Options:
  -p PID            only connections of this process
  -L PORTS          only these local ports (comma-separated, at most ${MAX_PORTS})
  -D PORTS          only these remote ports (comma-separated, at most ${MAX_PORTS})
  -4                IPv4 only
  -6                IPv6 only
  -T                include a time column (HH:MM:SS)
  -t                include a timestamp column (seconds since start)
  -w                wide columns (fit IPv6 addresses)
  -d DURATION       trace for DURATION seconds, then stop
  --ringbuf MB      ring buffer size in MiB, a power of two (default 8)
  --json            one JSON record per connection (NDJSON, exact bytes), then a summary record
  --verbose         show which kernel hooks are used, and libbpf's log

Columns: PID COMM LADDR LPORT RADDR RPORT TX_KB RX_KB MS. PID/COMM: the process that connected,
or for accepted connections the one that closed it (0 if the kernel closed it, e.g. on RST).
TX_KB and RX_KB are whole KiB (rounded down, as BCC); --json gives bytes.

Examples:
  bpfkit tcplife                 # every connection, system-wide
  bpfkit tcplife -L 80,443 -T    # connections to the local web server, with time
  bpfkit tcplife -p 1234 --json  # connections of PID 1234, exact bytes
`;

const FLAGS: FlagSpec[] = [
  { key: 'pid', short: 'p', long: 'pid', value: true },
  { key: 'lports', short: 'L', long: 'localport', value: true },
  { key: 'rports', short: 'D', long: 'remoteport', value: true },
  { key: 'ipv4', short: '4', long: 'ipv4' },
  { key: 'ipv6', short: '6', long: 'ipv6' },
  { key: 'time', short: 'T', long: 'time' },
  { key: 'timestamp', short: 't', long: 'timestamp' },
  { key: 'wide', short: 'w', long: 'wide' },
  { key: 'duration', short: 'd', long: 'duration', value: true },
  { key: 'ringbuf', long: 'ringbuf', value: true },
  { key: 'json', long: 'json' },
];

export interface TcplifeOptions {
  filters: TcplifeFilters;
  time: boolean;
  timestamp: boolean;
  wide: boolean;
  durationS?: number;
  ringbufMb: number;
  json: boolean;
}

function portList(text: string, what: string): number[] {
  const list = text.split(',').filter((s) => s !== '').map((s) => parseIntArg(s, what, 1, 65535));
  if (list.length === 0) throw badArgs(`${what}: no ports given`);
  if (list.length > MAX_PORTS) throw badArgs(`${what}: at most ${MAX_PORTS} ports`);
  return list;
}

export function parseTcplifeArgs(argv: string[]): TcplifeOptions {
  // The shared parser reads "-4" as a number: spell BCC's -4/-6 as the long flags.
  const a = parseArgs(argv.map((x) => (x === '-4' ? '--ipv4' : x === '-6' ? '--ipv6' : x)), FLAGS);
  if (a.positionals.length) throw badArgs(`unexpected argument '${a.positionals[0]}' (see --help)`);
  if (has(a, 'ipv4') && has(a, 'ipv6')) throw badArgs('-4 and -6 exclude each other');
  const filters: TcplifeFilters = {};
  const pid = last(a, 'pid');
  if (pid !== undefined) filters.tgid = parseIntArg(pid, '-p PID', 1, 4194304);
  const l = last(a, 'lports');
  if (l !== undefined) filters.localPorts = portList(l, '-L PORTS');
  const d = last(a, 'rports');
  if (d !== undefined) filters.remotePorts = portList(d, '-D PORTS');
  if (has(a, 'ipv4')) filters.family = 4;
  if (has(a, 'ipv6')) filters.family = 6;
  return {
    filters,
    time: has(a, 'time'),
    timestamp: has(a, 'timestamp'),
    wide: has(a, 'wide'),
    durationS: parseDuration(last(a, 'duration')),
    ringbufMb: parseRingbufMb(last(a, 'ringbuf')),
    json: has(a, 'json'),
  };
}

function widths(o: TcplifeOptions): { addr: number; comm: number } {
  return o.wide || o.filters.family === 6 ? { addr: 39, comm: 16 } : { addr: 15, comm: 12 };
}

export function tcplifeHeader(o: TcplifeOptions): string {
  const w = widths(o);
  let h = '';
  if (o.time) h += padR('TIME', 9);
  if (o.timestamp) h += padR('TIME(s)', 10);
  return h + `${padR('PID', 7)} ${padR('COMM', w.comm)} ${padR('LADDR', w.addr)} ${padL('LPORT', 5)} ${padR('RADDR', w.addr)} ${padL('RPORT', 5)} ${padL('TX_KB', 6)} ${padL('RX_KB', 6)} MS\n`;
}

export function tcplifeLine(r: TcplifeRecord, o: TcplifeOptions, startNs: bigint): string {
  const w = widths(o);
  let s = '';
  if (o.time) s += padR(hms(monoToDate(r.tsNs)), 9);
  if (o.timestamp) s += padR((Math.max(0, Number(r.tsNs - startNs)) / 1e9).toFixed(3), 10);
  return s + `${padR(r.pid, 7)} ${padR(r.comm.slice(0, w.comm), w.comm)} ${padR(r.laddr, w.addr)} ${padL(r.lport, 5)} ${padR(r.raddr, w.addr)} ${padL(r.rport, 5)} ${padL(Math.floor(r.txBytes / 1024), 6)} ${padL(Math.floor(r.rxBytes / 1024), 6)} ${(r.spanNs / 1e6).toFixed(2)}\n`;
}

export function tcplifeJson(r: TcplifeRecord): string {
  return JSON.stringify({
    time: monoToDate(r.tsNs).toISOString(),
    pid: r.pid, comm: r.comm, family: r.family === 4 ? 'ipv4' : 'ipv6',
    laddr: r.laddr, lport: r.lport, raddr: r.raddr, rport: r.rport,
    tx_bytes: r.txBytes, rx_bytes: r.rxBytes,
    ms: Math.round(r.spanNs / 1e3) / 1e3,
  }) + '\n';
}

export const command: ToolCommand = {
  name: 'tcplife',
  summary: 'trace TCP connections with duration and bytes sent/received',
  help: HELP,
  async run(argv: string[], ctx: ToolContext): Promise<void> {
    const opts = parseTcplifeArgs(argv);
    if (opts.filters.tgid !== undefined) requireProcess(opts.filters.tgid);
    requireBpfPrivileges();
    const session = openTcplife(opts.filters, opts.ringbufMb * 1048576);
    try {
      const decode = tcplifeDecoder(session);
      const out = new LineBatcher(ctx.out);
      const startNs = process.hrtime.bigint();
      if (!opts.json) out.push(tcplifeHeader(opts));
      session.start((b) => {
        const r = decode(b);
        out.push(opts.json ? tcplifeJson(r) : tcplifeLine(r, opts, startNs));
      });
      ctx.ready();
      await streamUntilDone(session, out, opts, ctx.signal);
    } finally {
      session.close();
    }
  },
};
