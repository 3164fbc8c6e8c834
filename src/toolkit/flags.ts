// One flag table per tool drives both parsing and `--help`. A small getopt for BCC-style command
// lines: combined short flags (-LP), values attached or separate (-i1, -i 1, --interval=1),
// repeated flags, positionals. The flags every tool shares (-p, -t, -c, -i, -d, --json,
// --buffer-mb) are defined once here, with their value checks. Errors are BAD_ARGS (exit 2).
import { badArgs } from '../core/errors.js';

export interface Flag {
  /** Key in the parse result. */
  key: string;
  short?: string;
  long?: string;
  /** Value placeholder in --help ("PID", "SECONDS"); absent: a switch without a value. */
  arg?: string;
  /** One line for --help. */
  help: string;
  /** Another long name accepted for the same flag (kept for old command lines). */
  alias?: string;
}

export class ParsedArgs {
  constructor(readonly flags: Map<string, string[]>, readonly positionals: string[]) {}
  has(key: string): boolean { return this.flags.has(key); }
  /** Last value given (a repeated flag: the last one wins, as getopt). */
  get(key: string): string | undefined { return this.flags.get(key)?.at(-1); }
  all(key: string): string[] { return this.flags.get(key) ?? []; }
}

export function parseFlags(argv: string[], table: readonly Flag[]): ParsedArgs {
  const flags = new Map<string, string[]>();
  const positionals: string[] = [];
  const byShort = new Map(table.filter((f) => f.short).map((f) => [f.short!, f]));
  // A letter taken twice is a bug in the table (one flag would silently shadow the other).
  if (byShort.size !== table.filter((f) => f.short).length) {
    const seen = table.filter((f) => f.short).map((f) => f.short!);
    throw new Error(`flag table: -${seen.find((x, i) => seen.indexOf(x) !== i)} is defined twice`);
  }
  const byLong = new Map<string, Flag>();
  for (const f of table) {
    if (f.long) byLong.set(f.long, f);
    if (f.alias) byLong.set(f.alias, f);
  }
  const add = (f: Flag, v: string) => {
    const list = flags.get(f.key) ?? [];
    list.push(v);
    flags.set(f.key, list);
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') { positionals.push(...argv.slice(i + 1)); break; }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
      const f = byLong.get(name);
      if (!f) throw badArgs(`unknown option --${name} (see --help)`);
      if (f.arg) {
        const v = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
        if (v === undefined) throw badArgs(`option --${name} needs a value (${f.arg})`);
        add(f, v);
      } else {
        if (eq >= 0) throw badArgs(`option --${name} takes no value`);
        add(f, '');
      }
    } else if (arg.startsWith('-') && arg.length > 1 && (!/^-\d/.test(arg) || byShort.has(arg[1]!))) {
      // "-4" is a flag when the table has one of that name (tcptop, tcplife -4/-6), else a number.
      for (let j = 1; j < arg.length; j++) {
        const c = arg[j]!;
        const f = byShort.get(c);
        if (!f) throw badArgs(`unknown option -${c} (see --help)`);
        if (f.arg) {
          const rest = arg.slice(j + 1);
          const v = rest.length > 0 ? rest : argv[++i];
          if (v === undefined) throw badArgs(`option -${c} needs a value (${f.arg})`);
          add(f, v);
          break;
        }
        add(f, '');
      }
    } else {
      positionals.push(arg);
    }
  }
  return new ParsedArgs(flags, positionals);
}

/** The options block of --help, generated from the table. */
export function flagHelp(table: readonly Flag[]): string {
  const left = (f: Flag) => {
    const names = [f.short ? `-${f.short}` : '', f.long ? `--${f.long}` : ''].filter(Boolean).join(', ');
    return f.arg ? `${names} ${f.arg}` : names;
  };
  const width = Math.min(28, Math.max(...table.map((f) => left(f).length)));
  return table.map((f) => {
    const l = left(f);
    return l.length > width ? `  ${l}\n  ${''.padEnd(width)}  ${f.help}` : `  ${l.padEnd(width)}  ${f.help}`;
  }).join('\n');
}

// ---- value checks shared by every tool ----

/** Integer within [min, max]; `what` names the flag in the error. */
export function parseIntArg(text: string, what: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^-?\d+$/.test(text.trim())) throw badArgs(`${what}: '${text}' is not an integer`);
  const n = Number(text);
  if (n < min || n > max) throw badArgs(`${what}: ${n} is out of range (${min}..${max})`);
  return n;
}

/** Non-negative number (fractions allowed). */
export function parseNumber(text: string, what: string, allowZero = false): number {
  const n = Number(text);
  if (!/^\s*-?(\d+\.?\d*|\.\d+)\s*$/.test(text) || !Number.isFinite(n)) throw badArgs(`${what}: '${text}' is not a number`);
  if (n < 0 || (!allowZero && n === 0)) throw badArgs(`${what}: must be ${allowZero ? '>= 0' : '> 0'}, got ${text}`);
  return n;
}

export const PID_MAX = 4194304;
export const parsePid = (text: string, what = '-p PID'): number => parseIntArg(text, what, 1, PID_MAX);
/** A comma list of PIDs (duplicates removed). */
export function parsePids(text: string, what = '-p PID'): number[] {
  const ids = text.split(',').filter((t) => t.trim() !== '').map((t) => parsePid(t.trim(), what));
  if (ids.length === 0) throw badArgs(`${what}: no IDs given`);
  return [...new Set(ids)];
}

/** Longest duration or interval: a year (timers beyond 2^31 ms are split, see sleepOrAbort). */
export const MAX_SECONDS = 366 * 86400;
/** Shortest interval between reports: more often is a flood, not a report. */
export const MIN_INTERVAL_S = 0.1;
const UNITS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };

/** Seconds, as `10`, `1.5`, `10s`, `500ms`, `2m`, `1h`, `1d`; within (0, a year]. */
export function parseSeconds(text: string, what: string, min = 0): number {
  const m = /^\s*(\d+\.?\d*|\.\d+)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  if (!m) throw badArgs(`${what}: '${text}' is not a duration (seconds, or with a unit: 500ms, 10s, 2m, 1h, 1d)`);
  const s = Number(m[1]) * UNITS[m[2] ?? 's']!;
  if (s <= 0) throw badArgs(`${what}: must be more than 0, got '${text}'`);
  if (s < min) throw badArgs(`${what}: at least ${min} s, got '${text}'`);
  if (s > MAX_SECONDS) throw badArgs(`${what}: at most ${MAX_SECONDS / 86400} days, got '${text}'`);
  return s;
}

export const parseInterval = (text: string, what = '-i INTERVAL'): number => parseSeconds(text, what, MIN_INTERVAL_S);
export const parseDuration = (text: string, what = '-d DURATION'): number => parseSeconds(text, what);

/** Ring buffer size in MiB: a power of two between 1 and 1024. */
export function parseBufferMb(text: string, what = '--buffer-mb'): number {
  const n = parseIntArg(text, what, 1, 1024);
  if ((n & (n - 1)) !== 0) throw badArgs(`${what}: ${n} is not a power of two (1, 2, 4, ... 1024)`);
  return n;
}

// ---- the shared flags: a tool lists the ones it takes ----

export const COMMON = {
  pid: { key: 'pid', short: 'p', long: 'pid', arg: 'PID', help: 'trace only this process' },
  tid: { key: 'tid', short: 't', long: 'tid', arg: 'TID', help: 'trace only this thread' },
  /** -p with a comma list (Common.pids); the run stops when all of them have exited. */
  pids: { key: 'pids', short: 'p', long: 'pid', arg: 'PID[,PID]', help: 'trace only these processes' },
  /** -t with a comma list (Common.tids); a tool may give it another letter ({ ...COMMON.tids, short: 'L' }). */
  tids: { key: 'tids', short: 't', long: 'tid', arg: 'TID[,TID]', help: 'trace only these threads' },
  cgroup: { key: 'cgroup', short: 'c', long: 'cgroup', arg: 'CGROUP_PATH', help: 'trace only this cgroup (v2 directory, e.g. /sys/fs/cgroup/unified/...)' },
  /** --container NAME|ID (repeatable, or a comma list): resolved to cgroup ids the kernel checks. */
  container: { key: 'container', long: 'container', arg: 'NAME|ID', help: 'trace only this container (name, id or id prefix; repeat or comma-list for several)' },
  /** --containers: a CONTAINER column even when no traced process is in a container. */
  containers: { key: 'containers', long: 'containers', help: 'show a CONTAINER column (default: shown when a traced process is in a container)' },
  interval: { key: 'interval', short: 'i', long: 'interval', arg: 'INTERVAL', help: 'print a report every INTERVAL (seconds, or 500ms, 1m; at least 0.1 s)' },
  duration: { key: 'duration', short: 'd', long: 'duration', arg: 'DURATION', help: 'stop after DURATION (seconds, or 500ms, 10s, 2m, 1h)' },
  name: { key: 'name', short: 'n', long: 'name', arg: 'NAME', help: 'only processes whose name contains NAME' },
  json: { key: 'json', long: 'json', help: 'NDJSON output: one JSON record per line' },
  bufferMb: { key: 'bufferMb', long: 'buffer-mb', alias: 'ringbuf', arg: 'MB', help: 'ring buffer size in MiB, a power of two (default 8)' },
} satisfies Record<string, Flag>;

export const DEFAULT_BUFFER_MB = 8;
