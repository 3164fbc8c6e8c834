// `bpfkit tcplife`: TCP connections with duration and bytes, one line when each closes.
import { COMMON, parseIntArg } from '../../toolkit/flags.js';
import { defineTool } from '../../toolkit/runner.js';
import { streamEvents } from '../../toolkit/stream.js';
import { badArgs } from '../../core/errors.js';
import { clockTime, monoToDate } from '../../core/clock.js';
import { padL, padR } from '../../render/text.js';
import { maxPorts, openTcplife, tcplifeDecoder, type TcplifeFilters, type TcplifeRecord } from './tcplife.js';

export interface TcplifeOptions {
  filters: TcplifeFilters;
  time: boolean;
  timestamp: boolean;
  wide: boolean;
  bufferMb: number;
}

function portList(text: string, what: string): number[] {
  const list = text.split(',').filter((s) => s !== '').map((s) => parseIntArg(s, what, 1, 65535));
  if (list.length === 0) throw badArgs(`${what}: no ports given`);
  if (list.length > maxPorts()) throw badArgs(`${what}: at most ${maxPorts()} ports`);
  return list;
}

/** "at most N" for --help, N from the object's BTF (nothing if it cannot be read: parse says so). */
const atMost = (() => { try { return `, at most ${maxPorts()}`; } catch { return ''; } })();

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
  if (o.time) s += padR(clockTime(monoToDate(r.tsNs)), 9);
  if (o.timestamp) s += padR((Math.max(0, Number(r.tsNs - startNs)) / 1e9).toFixed(3), 10);
  return s + `${padR(r.pid, 7)} ${padR(r.comm.slice(0, w.comm), w.comm)} ${padR(r.laddr, w.addr)} ${padL(r.lport, 5)} ${padR(r.raddr, w.addr)} ${padL(r.rport, 5)} ${padL(Math.floor(r.txBytes / 1024), 6)} ${padL(Math.floor(r.rxBytes / 1024), 6)} ${(r.spanNs / 1e6).toFixed(2)}\n`;
}

/** JSON keys are the column names (lower case), plus family and the exact tx_bytes/rx_bytes. */
export function tcplifeJson(r: TcplifeRecord): string {
  return JSON.stringify({
    time: monoToDate(r.tsNs).toISOString(),
    pid: r.pid, comm: r.comm,
    laddr: r.laddr, lport: r.lport, raddr: r.raddr, rport: r.rport,
    tx_kb: Math.floor(r.txBytes / 1024), rx_kb: Math.floor(r.rxBytes / 1024),
    ms: Math.round(r.spanNs / 1e3) / 1e3,
    family: r.family === 4 ? 'ipv4' : 'ipv6',
    tx_bytes: r.txBytes, rx_bytes: r.rxBytes,
  }) + '\n';
}

export const command = defineTool<TcplifeOptions>({
  name: 'tcplife',
  summary: 'trace TCP connections with duration and bytes sent/received',
  about: `Trace TCP connections (IPv4 and IPv6) from their start (connect, or a SYN received) to their
close, printing one line per connection with its duration and the bytes it moved.
Hook: tp_btf/inet_sock_set_state (the sock:inet_sock_set_state tracepoint); bytes are
tcp_sock.bytes_acked (TX: sent and acknowledged) and tcp_sock.bytes_received (RX) at close.
Connections already open when tracing starts are not reported.`,
  flags: [
    { ...COMMON.pid, help: 'only connections of this process' },
    { key: 'lports', short: 'L', long: 'localport', arg: 'PORTS', help: `only these local ports (comma-separated${atMost})` },
    { key: 'rports', short: 'D', long: 'remoteport', arg: 'PORTS', help: `only these remote ports (comma-separated${atMost})` },
    { key: 'ipv4', short: '4', long: 'ipv4', help: 'IPv4 only' },
    { key: 'ipv6', short: '6', long: 'ipv6', help: 'IPv6 only' },
    { key: 'time', short: 'T', long: 'time', help: 'include a time column (HH:MM:SS)' },
    { key: 'timestamp', short: 't', long: 'timestamp', help: 'include a timestamp column (seconds since start)' },
    { key: 'wide', short: 'w', long: 'wide', help: 'wide columns (fit IPv6 addresses)' },
    COMMON.duration,
    COMMON.bufferMb,
    COMMON.cgroup,
    COMMON.container,
    COMMON.containers,
    COMMON.json,
  ],
  more: `Columns: PID COMM LADDR LPORT RADDR RPORT TX_KB RX_KB MS. PID/COMM: the process that connected,
or for accepted connections the one that closed it (0 if the kernel closed it, e.g. on RST).
TX_KB and RX_KB are whole KiB (rounded down, as BCC); --json adds tx_bytes and rx_bytes.

Examples:
  bpfkit tcplife                 # every connection, system-wide
  bpfkit tcplife -L 80,443 -T    # connections to the local web server, with time
  bpfkit tcplife -p 1234 --json  # connections of PID 1234, exact bytes`,
  parse(a, c) {
    if (a.has('ipv4') && a.has('ipv6')) throw badArgs('-4 and -6 exclude each other');
    const filters: TcplifeFilters = {};
    if (c.pid !== undefined) filters.tgid = c.pid;
    const l = a.get('lports');
    if (l !== undefined) filters.localPorts = portList(l, '-L PORTS');
    const d = a.get('rports');
    if (d !== undefined) filters.remotePorts = portList(d, '-D PORTS');
    if (a.has('ipv4')) filters.family = 4;
    if (a.has('ipv6')) filters.family = 6;
    return {
      filters,
      time: a.has('time'),
      timestamp: a.has('timestamp'),
      wide: a.has('wide'),
      bufferMb: c.bufferMb,
    };
  },
  async run(o, rt) {
    const source = rt.use(openTcplife(o.filters, o.bufferMb));
    const decode = tcplifeDecoder(source);
    const startNs = process.hrtime.bigint();
    if (!rt.json) rt.write(rt.containerHeader(tcplifeHeader(o)));
    await streamEvents(rt, source, {
      decode,
      pid: (r) => r.pid,
      cgroupId: (r) => r.cgroupId,
      text: (r) => tcplifeLine(r, o, startNs),
      json: (r) => tcplifeJson(r),
    });
  },
});
