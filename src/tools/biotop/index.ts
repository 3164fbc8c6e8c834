// `bpfkit biotop`: block I/O by process, top-style (BCC's columns and flags).
import type { ToolCommand, ToolContext } from '../../cli/command.js';
import { parseArgs, has, last, parseIntArg, parsePositive, type FlagSpec } from '../../cli/args.js';
import { runIntervals } from '../../cli/runtime.js';
import { badArgs } from '../../core/errors.js';
import { requireBpfPrivileges, requireProcess } from '../../core/privileges.js';
import { CLEAR_SCREEN, loadavgLine, padL, padR } from '../../render/text.js';
import { BiotopSession, type BiotopRow } from './biotop.js';

const HELP = `Usage: bpfkit biotop [options] [interval [count]]

Block device I/O by process, refreshed every interval (default 1 s): who does the I/O, on
which disk, how many I/Os and bytes, and the average device time (issue to completion).

Options:
  -C, --noclear     don't clear the screen between intervals
  -r ROWS           maximum rows to print (default 20)
  -p PID            trace only this process
  -s SORT           sort by all|io|bytes|time (default all: bytes, then I/O, then time)
  --json            one JSON record per interval (NDJSON)
  --verbose         show which kernel hooks are used

Examples:
  bpfkit biotop              # top-style, every second
  bpfkit biotop -C 5 10      # don't clear, every 5 s, 10 times
  bpfkit biotop -p 1234 --json
`;

const FLAGS: FlagSpec[] = [
  { key: 'noclear', short: 'C', long: 'noclear' },
  { key: 'rows', short: 'r', long: 'maxrows', value: true },
  { key: 'pid', short: 'p', long: 'pid', value: true },
  { key: 'sort', short: 's', long: 'sort', value: true },
  { key: 'json', long: 'json' },
];

type SortKey = 'all' | 'io' | 'bytes' | 'time';

export interface BiotopOptions {
  intervalS: number;
  count: number;
  noclear: boolean;
  rows: number;
  pid?: number;
  sort: SortKey;
  json: boolean;
}

export function parseBiotopArgs(argv: string[]): BiotopOptions {
  const a = parseArgs(argv, FLAGS);
  if (a.positionals.length > 2) throw badArgs(`unexpected argument '${a.positionals[2]}' (usage: biotop [interval [count]])`);
  const sort = (last(a, 'sort') ?? 'all') as SortKey;
  if (!['all', 'io', 'bytes', 'time'].includes(sort)) throw badArgs(`-s: unknown sort key '${sort}' (use all, io, bytes or time)`);
  const pid = last(a, 'pid');
  const rows = last(a, 'rows');
  return {
    intervalS: a.positionals[0] !== undefined ? parsePositive(a.positionals[0], 'interval') : 1,
    count: a.positionals[1] !== undefined ? parseIntArg(a.positionals[1], 'count', 1) : 0,
    noclear: has(a, 'noclear'),
    rows: rows !== undefined ? parseIntArg(rows, '-r ROWS', 1) : 20,
    pid: pid !== undefined ? parseIntArg(pid, '-p PID', 1, 4194304) : undefined,
    sort,
    json: has(a, 'json'),
  };
}

function sortRows(rows: BiotopRow[], sort: SortKey): BiotopRow[] {
  const keys: Record<SortKey, (r: BiotopRow) => number[]> = {
    all: (r) => [r.bytes, r.io, r.totalNs],
    io: (r) => [r.io],
    bytes: (r) => [r.bytes],
    time: (r) => [r.totalNs],
  };
  const k = keys[sort];
  return [...rows].sort((x, y) => {
    const a = k(x), b = k(y);
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return b[i]! - a[i]!;
    return x.pid - y.pid;
  });
}

const avgMs = (r: BiotopRow) => (r.io > 0 ? r.totalNs / r.io / 1e6 : 0);

export function renderText(rows: BiotopRow[], opts: BiotopOptions, clear: boolean): string {
  const lines = [clear ? CLEAR_SCREEN.trimEnd() : '', loadavgLine(), ''];
  lines.push(`${padR('PID', 7)} ${padR('COMM', 16)} ${'D'} ${padR('MAJ', 3)} ${padR('MIN', 3)} ${padR('DISK', 8)} ${padL('I/O', 5)} ${padL('Kbytes', 7)} ${padL('AVGms', 6)}`);
  for (const r of sortRows(rows, opts.sort).slice(0, opts.rows)) {
    lines.push(`${padR(r.pid, 7)} ${padR(r.comm, 16)} ${r.dir} ${padR(r.major, 3)} ${padR(r.minor, 3)} ${padR(r.disk, 8)} ${padL(r.io, 5)} ${padL(Math.floor(r.bytes / 1024), 7)} ${padL(avgMs(r).toFixed(2), 6)}`);
  }
  return lines.join('\n') + '\n';
}

export function renderJson(rows: BiotopRow[], opts: BiotopOptions, intervalS: number): string {
  return JSON.stringify({
    time: new Date().toISOString(),
    interval_s: Math.round(intervalS * 1000) / 1000,
    rows: sortRows(rows, opts.sort).slice(0, opts.rows).map((r) => ({
      pid: r.pid, comm: r.comm, dir: r.dir, major: r.major, minor: r.minor, disk: r.disk,
      io: r.io, bytes: r.bytes, kbytes: Math.floor(r.bytes / 1024), avg_ms: Math.round(avgMs(r) * 1000) / 1000,
    })),
  }) + '\n';
}

export const command: ToolCommand = {
  name: 'biotop',
  summary: 'block device I/O by process, top-style',
  help: HELP,
  async run(argv: string[], ctx: ToolContext): Promise<void> {
    const opts = parseBiotopArgs(argv);
    if (opts.pid !== undefined) requireProcess(opts.pid);
    requireBpfPrivileges();
    const session = BiotopSession.start({ tgid: opts.pid });
    try {
      ctx.ready();
      if (!opts.json) ctx.out(`Tracing... Output every ${opts.intervalS} secs. Hit Ctrl-C to end\n`);
      let lastTime = Date.now();
      await runIntervals({ intervalS: opts.intervalS, count: opts.count }, ctx.signal, () => {
        const now = Date.now();
        const rows = session.drain();
        ctx.out(opts.json ? renderJson(rows, opts, (now - lastTime) / 1000) : renderText(rows, opts, !opts.noclear && ctx.isTTY));
        lastTime = now;
      });
    } finally {
      session.close();
    }
  },
};
