// `bpfkit tcptop`: TCP throughput per process and connection, every interval (BCC's flags and
// columns; libbpf-tools' -4/-6/-s/-r/-c).
import { COMMON, parseIntArg, parseInterval, type ParsedArgs } from '../../toolkit/flags.js';
import { defineTool, type Common } from '../../toolkit/runner.js';
import { badArgs } from '../../core/errors.js';
import { CLEAR_SCREEN, loadavgLine, padL, padR, safe } from '../../render/text.js';
import type { ContainerView } from '../../toolkit/containers.js';
import { HOOK_SETS, TcptopSession, type ConnRow, type HookSet, type Interval, type TcptopFilters } from './tcptop.js';

export { TcptopSession, chooseHooks } from './tcptop.js';
export type { ConnRow, HookSet, Interval, TcptopFilters } from './tcptop.js';

const FLAGS = [
  COMMON.interval,
  { key: 'noclear', short: 'C', long: 'noclear', help: "don't clear the screen between intervals" },
  { key: 'nosummary', short: 'S', long: 'nosummary', help: 'skip the summary line (time and load averages)' },
  COMMON.pid,
  COMMON.cgroup,
  COMMON.container,
  COMMON.containers,
  { key: 'ipv4', short: '4', long: 'ipv4', help: 'trace IPv4 only' },
  { key: 'ipv6', short: '6', long: 'ipv6', help: 'trace IPv6 only' },
  { key: 'sort', short: 's', long: 'sort', arg: 'SORT', help: 'sort by all (sent + received, default), sent or received' },
  { key: 'rows', short: 'r', long: 'rows', arg: 'ROWS', help: 'print at most ROWS connections per interval (default 20)' },
  COMMON.duration,
  COMMON.json,
  { key: 'hooks', long: 'hooks', arg: 'SET', help: 'force a hook set: tp_btf, fentry or kprobe (default: the best this kernel has)' },
];

export type SortBy = 'all' | 'sent' | 'received';

export interface TcptopOptions {
  filters: TcptopFilters;
  intervalS: number;
  /** 0 = until stopped. */
  count: number;
  noclear: boolean;
  nosummary: boolean;
  sort: SortBy;
  rows: number;
  hooks?: HookSet;
}

export function parseTcptopOptions(a: ParsedArgs, c: Common): TcptopOptions {
  const filters: TcptopFilters = { tgid: c.pid };
  if (a.has('ipv4') && a.has('ipv6')) throw badArgs('-4 and -6 exclude each other (without either, both are traced)');
  if (a.has('ipv4')) filters.family = 4;
  if (a.has('ipv6')) filters.family = 6;

  // BCC: [interval [count]]; -i INTERVAL takes the place of the first.
  const pos = [...a.positionals];
  const intervalText = c.intervalS === undefined ? pos.shift() : undefined;
  if (pos.length > 1) throw badArgs(`unexpected argument '${pos[1]}' (usage: tcptop [options] [interval [count]])`);
  const intervalS = c.intervalS ?? (intervalText !== undefined ? parseInterval(intervalText, 'interval') : 1);
  const count = pos[0] !== undefined ? parseIntArg(pos[0], 'count', 1) : 0;

  const sort = a.get('sort') ?? 'all';
  if (sort !== 'all' && sort !== 'sent' && sort !== 'received') throw badArgs(`-s: sort by all, sent or received, not '${sort}'`);
  const rows = a.get('rows');
  const hooks = a.get('hooks');
  if (hooks !== undefined && !HOOK_SETS.includes(hooks as HookSet)) throw badArgs(`--hooks: one of ${HOOK_SETS.join(', ')}, not '${hooks}'`);
  return {
    filters,
    intervalS,
    count,
    noclear: a.has('noclear'),
    nosummary: a.has('nosummary'),
    sort,
    rows: rows !== undefined ? parseIntArg(rows, '-r ROWS', 1) : 20,
    hooks: hooks as HookSet | undefined,
  };
}

export const command = defineTool<TcptopOptions>({
  name: 'tcptop',
  summary: 'TCP throughput per process and connection, every interval',
  usage: '[options] [interval [count]]',
  about: `Summarize TCP bytes sent and received per process and connection, every interval (default
1 s). Counted in the kernel on every successful send/receive; the process shown is the one that
called send or receive. Connections that closed during the interval are still counted.`,
  flags: FLAGS,
  maxPositionals: 2,
  more: `Columns: PID COMM LADDR RADDR RX_KB TX_KB (KB = 1024 bytes, rounded down); IPv6 connections
follow in a second block with LADDR6 RADDR6. JSON: one record per interval, rows with the
columns' keys (laddr/raddr without the port, lport/rport) plus family and exact rx_bytes/tx_bytes.

Examples:
  bpfkit tcptop              # every second, clear the screen (on a terminal)
  bpfkit tcptop -C 5 3       # three 5-second summaries, no clearing
  bpfkit tcptop -i 10 -p 1234
  bpfkit tcptop -s sent -r 5 --json`,
  parse: parseTcptopOptions,
  async run(opts, rt) {
    const session = rt.use(TcptopSession.start(opts.filters, opts.hooks));
    rt.ready();
    if (!rt.json) rt.write(`Tracing... Output every ${opts.intervalS} secs. Hit Ctrl-C to end\n`);
    const ct = rt.containers;
    await rt.intervals((_final, elapsedS) => {
      const interval = session.collect();
      if (interval.dropped > 0) rt.verbose(`tcptop: ${interval.dropped} transfers not counted: connection table full`);
      rt.write(rt.json ? renderJson(interval, opts, elapsedS, ct) : renderText(interval, opts, rt.isTTY, ct));
    }, { intervalS: opts.intervalS, count: opts.count });
  },
});

/** Sorted (largest first, then by PID and ports for a stable order) and cut to -r ROWS. */
export function sortRows(rows: ConnRow[], sort: SortBy, limit: number): ConnRow[] {
  const key = sort === 'sent' ? (r: ConnRow) => r.txBytes : sort === 'received' ? (r: ConnRow) => r.rxBytes : (r: ConnRow) => r.txBytes + r.rxBytes;
  return [...rows]
    .sort((x, y) => key(y) - key(x) || (y.txBytes + y.rxBytes) - (x.txBytes + x.rxBytes) || x.pid - y.pid || x.lport - y.lport || x.rport - y.rport)
    .slice(0, limit);
}

const kb = (bytes: number) => Math.floor(bytes / 1024);

/** Top-style: the screen is cleared only on a terminal and without -C. */
export function renderText(interval: Interval, opts: TcptopOptions, isTTY: boolean, ct?: ContainerView): string {
  let out = opts.noclear || !isTTY ? '\n' : CLEAR_SCREEN;
  if (!opts.nosummary) out += `${loadavgLine()}\n\n`;
  const rows = sortRows(interval.rows, opts.sort, opts.rows);
  const column = ct?.shown(rows.map((r) => r.pid)) ?? false;
  const line = (pid: string | number, comm: string, l: string, r: string, rx: string | number, tx: string | number, w: number) =>
    `${column ? (typeof pid === 'number' ? ct!.cell(pid) : ct!.header()) : ''}${padR(pid, 7)} ${padR(comm, 12)} ${padR(l, w)} ${padR(r, w)} ${padL(rx, 6)} ${padL(tx, 6)}\n`;
  const comm = (r: ConnRow) => safe(r.comm.slice(0, 12));
  out += line('PID', 'COMM', 'LADDR', 'RADDR', 'RX_KB', 'TX_KB', 21);
  for (const r of rows.filter((x) => x.family === 4)) {
    out += line(r.pid, comm(r), `${r.laddr}:${r.lport}`, `${r.raddr}:${r.rport}`, kb(r.rxBytes), kb(r.txBytes), 21);
  }
  const v6 = rows.filter((x) => x.family === 6);
  if (v6.length) {
    out += '\n' + line('PID', 'COMM', 'LADDR6', 'RADDR6', 'RX_KB', 'TX_KB', 32);
    for (const r of v6) out += line(r.pid, comm(r), `${r.laddr}:${r.lport}`, `${r.raddr}:${r.rport}`, kb(r.rxBytes), kb(r.txBytes), 32);
  }
  return out;
}

/** JSON keys are the column names (lower case), plus what the columns leave out. */
export function renderJson(interval: Interval, opts: TcptopOptions, intervalS: number, ct?: ContainerView): string {
  const rows = sortRows(interval.rows, opts.sort, opts.rows).map((r) => ({
    pid: r.pid,
    comm: r.comm,
    ...ct?.json(r.pid),
    family: r.family,
    laddr: r.laddr,
    lport: r.lport,
    raddr: r.raddr,
    rport: r.rport,
    rx_kb: kb(r.rxBytes),
    tx_kb: kb(r.txBytes),
    rx_bytes: r.rxBytes,
    tx_bytes: r.txBytes,
  }));
  return JSON.stringify({
    time: new Date().toISOString(),
    interval_s: Math.round(intervalS * 1000) / 1000,
    connections: interval.rows.length,
    ...(interval.dropped ? { dropped: interval.dropped } : {}),
    rows,
  }) + '\n';
}
