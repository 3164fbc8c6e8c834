// `bpfkit tcptop`: TCP throughput per process and connection, every interval (BCC's flags and
// columns; libbpf-tools' -4/-6/-s/-r/-c).
import type { ToolCommand, ToolContext } from '../../cli/command.js';
import { parseArgs, has, last, parseIntArg, parsePositive, type FlagSpec } from '../../cli/args.js';
import { runIntervals } from '../../cli/runtime.js';
import { badArgs } from '../../core/errors.js';
import { requireBpfPrivileges, requireProcess } from '../../core/privileges.js';
import { CLEAR_SCREEN, loadavgLine, padL, padR } from '../../render/text.js';
import { HOOK_SETS, TcptopSession, type ConnRow, type HookSet, type Interval, type TcptopFilters } from './tcptop.js';

export { TcptopSession, chooseHooks } from './tcptop.js';
export type { ConnRow, HookSet, Interval, TcptopFilters } from './tcptop.js';

const HELP = `Usage: bpfkit tcptop [options] [interval [count]]

Summarize TCP bytes sent and received per process and connection, every interval (default
1 s). Counted in the kernel on every successful send/receive; the process shown is the one that
called send or receive. Connections that closed during the interval are still counted.

Options:
  -i INTERVAL       output every INTERVAL seconds (same as the first positional argument)
  -C                don't clear the screen between intervals
  -S                skip the summary line (time and load averages)
  -p PID            trace only this process
  -c CGROUP_PATH    trace only tasks in this cgroup (v2 directory, e.g. /sys/fs/cgroup/unified/...)
  -4                trace IPv4 only
  -6                trace IPv6 only
  -s SORT           sort by all (sent + received, default), sent or received
  -r ROWS           print at most ROWS connections per interval (default 20)
  --json            one JSON record per interval (NDJSON), exact byte counts
  --hooks SET       force a hook set: tp_btf, fentry or kprobe (default: the best this kernel has)
  --verbose         show which kernel hooks are used, and libbpf's log

Columns: PID COMM LADDR RADDR RX_KB TX_KB (KB = 1024 bytes, rounded down); IPv6 connections
follow in a second block with LADDR6 RADDR6.

Examples:
  bpfkit tcptop              # every second, clear the screen
  bpfkit tcptop -C 5 3       # three 5-second summaries, no clearing
  bpfkit tcptop -i 10 -p 1234
  bpfkit tcptop -s sent -r 5 --json
`;

const FLAGS: FlagSpec[] = [
  { key: 'interval', short: 'i', long: 'interval', value: true },
  { key: 'noclear', short: 'C', long: 'noclear' },
  { key: 'nosummary', short: 'S', long: 'nosummary' },
  { key: 'pid', short: 'p', long: 'pid', value: true },
  { key: 'cgroup', short: 'c', long: 'cgroup', value: true },
  { key: 'ipv4', short: '4', long: 'ipv4' },
  { key: 'ipv6', short: '6', long: 'ipv6' },
  { key: 'sort', short: 's', long: 'sort', value: true },
  { key: 'rows', short: 'r', long: 'rows', value: true },
  { key: 'json', long: 'json' },
  { key: 'hooks', long: 'hooks', value: true },
];

export type SortBy = 'all' | 'sent' | 'received';

export interface TcptopOptions {
  filters: TcptopFilters;
  intervalS: number;
  /** 0 = until Ctrl-C. */
  count: number;
  noclear: boolean;
  nosummary: boolean;
  sort: SortBy;
  rows: number;
  json: boolean;
  hooks?: HookSet;
}

export function parseTcptopArgs(argv: string[]): TcptopOptions {
  // The generic parser takes "-4" for a (negative) number; here it is a flag (-4, -6, -4C ...).
  const words = argv.flatMap((w) => {
    const m = /^-([46])([A-Za-z]*)$/.exec(w);
    return m ? [m[1] === '4' ? '--ipv4' : '--ipv6', ...(m[2] ? [`-${m[2]}`] : [])] : [w];
  });
  const a = parseArgs(words, FLAGS);
  const filters: TcptopFilters = {};
  const pid = last(a, 'pid');
  if (pid !== undefined) filters.tgid = parseIntArg(pid, '-p PID', 1, 4194304);
  filters.cgroupPath = last(a, 'cgroup');
  if (has(a, 'ipv4') && has(a, 'ipv6')) throw badArgs('-4 and -6 exclude each other (without either, both are traced)');
  if (has(a, 'ipv4')) filters.family = 4;
  if (has(a, 'ipv6')) filters.family = 6;

  const pos = [...a.positionals];
  let intervalText = last(a, 'interval');
  if (intervalText === undefined) intervalText = pos.shift();
  if (pos.length > 1) throw badArgs(`unexpected argument '${pos[1]}' (usage: tcptop [options] [interval [count]])`);
  const intervalS = intervalText !== undefined ? parsePositive(intervalText, 'interval') : 1;
  const count = pos[0] !== undefined ? parseIntArg(pos[0], 'count', 1) : 0;

  const sort = last(a, 'sort') ?? 'all';
  if (sort !== 'all' && sort !== 'sent' && sort !== 'received') throw badArgs(`-s: sort by all, sent or received, not '${sort}'`);
  const rows = last(a, 'rows');
  const hooks = last(a, 'hooks');
  if (hooks !== undefined && !HOOK_SETS.includes(hooks as HookSet)) throw badArgs(`--hooks: one of ${HOOK_SETS.join(', ')}, not '${hooks}'`);
  return {
    filters,
    intervalS,
    count,
    noclear: has(a, 'noclear'),
    nosummary: has(a, 'nosummary'),
    sort,
    rows: rows !== undefined ? parseIntArg(rows, '-r ROWS', 1) : 20,
    json: has(a, 'json'),
    hooks: hooks as HookSet | undefined,
  };
}

export const command: ToolCommand = {
  name: 'tcptop',
  summary: 'TCP throughput per process and connection, every interval',
  help: HELP,
  async run(argv: string[], ctx: ToolContext): Promise<void> {
    const opts = parseTcptopArgs(argv);
    if (opts.filters.tgid !== undefined) requireProcess(opts.filters.tgid);
    requireBpfPrivileges();
    const session = TcptopSession.start(opts.filters, opts.hooks);
    try {
      ctx.ready();
      if (!opts.json) ctx.out(`Tracing... Output every ${opts.intervalS} secs. Hit Ctrl-C to end\n`);
      let lastTime = Date.now();
      await runIntervals({ intervalS: opts.intervalS, count: opts.count }, ctx.signal, () => {
        const now = Date.now();
        const interval = session.collect();
        if (interval.dropped > 0) ctx.verbose(`tcptop: ${interval.dropped} transfers not counted: connection table full`);
        if (opts.json) ctx.out(renderJson(interval, opts, (now - lastTime) / 1000));
        else ctx.out(renderText(interval, opts, ctx.isTTY));
        lastTime = now;
      });
    } finally {
      session.close();
    }
  },
};

/** Sorted (largest first, then by PID and ports for a stable order) and cut to -r ROWS. */
export function sortRows(rows: ConnRow[], sort: SortBy, limit: number): ConnRow[] {
  const key = sort === 'sent' ? (r: ConnRow) => r.txBytes : sort === 'received' ? (r: ConnRow) => r.rxBytes : (r: ConnRow) => r.txBytes + r.rxBytes;
  return [...rows]
    .sort((x, y) => key(y) - key(x) || (y.txBytes + y.rxBytes) - (x.txBytes + x.rxBytes) || x.pid - y.pid || x.lport - y.lport || x.rport - y.rport)
    .slice(0, limit);
}

const kb = (bytes: number) => Math.floor(bytes / 1024);

export function renderText(interval: Interval, opts: TcptopOptions, isTTY: boolean): string {
  let out = opts.noclear || !isTTY ? '\n' : CLEAR_SCREEN;
  if (!opts.nosummary) out += `${loadavgLine()}\n\n`;
  const rows = sortRows(interval.rows, opts.sort, opts.rows);
  const line = (pid: string | number, comm: string, l: string, r: string, rx: string | number, tx: string | number, w: number) =>
    `${padR(pid, 7)} ${padR(comm.slice(0, 12), 12)} ${padR(l, w)} ${padR(r, w)} ${padL(rx, 6)} ${padL(tx, 6)}\n`;
  out += line('PID', 'COMM', 'LADDR', 'RADDR', 'RX_KB', 'TX_KB', 21);
  for (const r of rows.filter((x) => x.family === 4)) {
    out += line(r.pid, r.comm, `${r.laddr}:${r.lport}`, `${r.raddr}:${r.rport}`, kb(r.rxBytes), kb(r.txBytes), 21);
  }
  const v6 = rows.filter((x) => x.family === 6);
  if (v6.length) {
    out += '\n' + line('PID', 'COMM', 'LADDR6', 'RADDR6', 'RX_KB', 'TX_KB', 32);
    for (const r of v6) out += line(r.pid, r.comm, `${r.laddr}:${r.lport}`, `${r.raddr}:${r.rport}`, kb(r.rxBytes), kb(r.txBytes), 32);
  }
  return out;
}

export function renderJson(interval: Interval, opts: TcptopOptions, intervalS: number): string {
  const rows = sortRows(interval.rows, opts.sort, opts.rows).map((r) => ({
    pid: r.pid,
    comm: r.comm,
    family: r.family,
    laddr: r.laddr,
    lport: r.lport,
    raddr: r.raddr,
    rport: r.rport,
    rx_bytes: r.rxBytes,
    tx_bytes: r.txBytes,
    rx_kb: kb(r.rxBytes),
    tx_kb: kb(r.txBytes),
  }));
  return JSON.stringify({
    time: new Date().toISOString(),
    interval_s: Math.round(intervalS * 1000) / 1000,
    connections: interval.rows.length,
    ...(interval.dropped ? { dropped: interval.dropped } : {}),
    rows,
  }) + '\n';
}
