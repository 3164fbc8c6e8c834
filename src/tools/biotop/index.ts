// `bpfkit biotop`: block I/O by process, top-style (BCC's columns and flags).
import { ContainerView } from '../../toolkit/containers.js';
import { COMMON, parseIntArg, parseInterval, type ParsedArgs } from '../../toolkit/flags.js';
import { defineTool, type Common } from '../../toolkit/runner.js';
import { badArgs } from '../../core/errors.js';
import { CLEAR_SCREEN, loadavgLine, padL, padR, safe } from '../../render/text.js';
import { BiotopSession, type BiotopRow } from './biotop.js';

const FLAGS = [
  { key: 'noclear', short: 'C', long: 'noclear', help: "don't clear the screen between intervals" },
  { key: 'rows', short: 'r', long: 'maxrows', arg: 'ROWS', help: 'maximum rows to print (default 20)' },
  COMMON.pid,
  { key: 'sort', short: 's', long: 'sort', arg: 'SORT', help: 'sort by all|io|bytes|time (default all: bytes, then I/O, then time)' },
  COMMON.duration,
  COMMON.cgroup,
  COMMON.container,
  COMMON.containers,
  COMMON.json,
];

type SortKey = 'all' | 'io' | 'bytes' | 'time';

export interface BiotopOptions {
  intervalS: number;
  /** 0 = until stopped. */
  count: number;
  noclear: boolean;
  rows: number;
  pid?: number;
  sort: SortKey;
}

export function parseBiotopOptions(a: ParsedArgs, c: Common): BiotopOptions {
  const sort = (a.get('sort') ?? 'all') as SortKey;
  if (!['all', 'io', 'bytes', 'time'].includes(sort)) throw badArgs(`-s: unknown sort key '${sort}' (use all, io, bytes or time)`);
  const rows = a.get('rows');
  const [interval, count] = a.positionals;
  return {
    intervalS: interval !== undefined ? parseInterval(interval, 'interval') : 1,
    count: count !== undefined ? parseIntArg(count, 'count', 1) : 0,
    noclear: a.has('noclear'),
    rows: rows !== undefined ? parseIntArg(rows, '-r ROWS', 1) : 20,
    pid: c.pid,
    sort,
  };
}

export const command = defineTool<BiotopOptions>({
  name: 'biotop',
  summary: 'block device I/O by process, top-style',
  usage: '[options] [interval [count]]',
  about: `Block device I/O by process, refreshed every interval (default 1 s): who does the I/O, on
which disk, how many I/Os and bytes, and the average device time (issue to completion).`,
  flags: FLAGS,
  maxPositionals: 2,
  more: `Columns: PID COMM D MAJ MIN DISK I/O Kbytes AVGms (D: R or W; AVGms: average device time).
JSON: one record per interval, rows with the columns' keys (pid comm d maj min disk io kbytes
avgms) plus the exact bytes.

Examples:
  bpfkit biotop              # top-style, every second
  bpfkit biotop -C 5 10      # don't clear, every 5 s, 10 times
  bpfkit biotop -p 1234 --json`,
  parse: parseBiotopOptions,
  async run(opts, rt) {
    const session = rt.use(BiotopSession.start({ tgid: opts.pid }));
    rt.ready();
    if (!rt.json) rt.write(`Tracing... Output every ${opts.intervalS} secs. Hit Ctrl-C to end\n`);
    await rt.intervals((_final, elapsedS) => {
      const rows = session.drain();
      rt.write(rt.json ? renderJson(rows, opts, elapsedS, rt.containers) : renderText(rows, opts, !opts.noclear && rt.isTTY, rt.containers));
    }, { intervalS: opts.intervalS, count: opts.count });
  },
});

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

/** Top-style text; `clear` (a terminal, no -C) clears the screen first. */
export function renderText(rows: BiotopRow[], opts: BiotopOptions, clear: boolean, ct?: ContainerView): string {
  const lines = [clear ? CLEAR_SCREEN.trimEnd() : '', loadavgLine(), ''];
  const shown = sortRows(rows, opts.sort).slice(0, opts.rows);
  const column = ct?.shown(shown.map((r) => r.pid)) ?? false;
  lines.push(`${column ? ct!.header() : ''}${padR('PID', 7)} ${padR('COMM', 16)} ${'D'} ${padR('MAJ', 3)} ${padR('MIN', 3)} ${padR('DISK', 8)} ${padL('I/O', 5)} ${padL('Kbytes', 7)} ${padL('AVGms', 6)}`);
  for (const r of shown) {
    lines.push(`${column ? ct!.cell(r.pid) : ''}${padR(r.pid, 7)} ${padR(safe(r.comm), 16)} ${r.dir} ${padR(r.major, 3)} ${padR(r.minor, 3)} ${padR(safe(r.disk), 8)} ${padL(r.io, 5)} ${padL(Math.floor(r.bytes / 1024), 7)} ${padL(avgMs(r).toFixed(2), 6)}`);
  }
  return lines.join('\n') + '\n';
}

/** JSON keys are the column names (lower case; I/O -> io), plus the exact bytes. */
export function renderJson(rows: BiotopRow[], opts: BiotopOptions, intervalS: number, ct?: ContainerView): string {
  return JSON.stringify({
    time: new Date().toISOString(),
    interval_s: Math.round(intervalS * 1000) / 1000,
    rows: sortRows(rows, opts.sort).slice(0, opts.rows).map((r) => ({
      pid: r.pid, comm: r.comm, ...ct?.json(r.pid), d: r.dir, maj: r.major, min: r.minor, disk: r.disk,
      io: r.io, kbytes: Math.floor(r.bytes / 1024), avgms: Math.round(avgMs(r) * 1000) / 1000, bytes: r.bytes,
    })),
  }) + '\n';
}
