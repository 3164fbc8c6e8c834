// A small getopt for BCC-style command lines: combined short flags (-LP), values attached or
// separate (-i1, -i 1, --interval=1), repeated flags, positionals. Errors are BAD_ARGS (exit 2).
import { badArgs } from '../core/errors.js';

export interface FlagSpec {
  /** Key in the result object. */
  key: string;
  short?: string;
  long?: string;
  /** true: the flag takes a value. */
  value?: boolean;
}

export interface ParsedArgs {
  flags: Map<string, string[]>;
  positionals: string[];
}

export function parseArgs(argv: string[], specs: FlagSpec[]): ParsedArgs {
  const flags = new Map<string, string[]>();
  const positionals: string[] = [];
  const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short!, s]));
  const byLong = new Map(specs.filter((s) => s.long).map((s) => [s.long!, s]));
  const add = (spec: FlagSpec, v: string) => {
    const list = flags.get(spec.key) ?? [];
    list.push(v);
    flags.set(spec.key, list);
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') { positionals.push(...argv.slice(i + 1)); break; }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
      const spec = byLong.get(name);
      if (!spec) throw badArgs(`unknown option --${name} (see --help)`);
      if (spec.value) {
        const v = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
        if (v === undefined) throw badArgs(`option --${name} needs a value`);
        add(spec, v);
      } else {
        if (eq >= 0) throw badArgs(`option --${name} takes no value`);
        add(spec, '');
      }
    } else if (arg.startsWith('-') && arg.length > 1 && !/^-\d/.test(arg)) {
      for (let j = 1; j < arg.length; j++) {
        const c = arg[j]!;
        const spec = byShort.get(c);
        if (!spec) throw badArgs(`unknown option -${c} (see --help)`);
        if (spec.value) {
          const rest = arg.slice(j + 1);
          const v = rest.length > 0 ? rest : argv[++i];
          if (v === undefined) throw badArgs(`option -${c} needs a value`);
          add(spec, v);
          break;
        }
        add(spec, '');
      }
    } else {
      positionals.push(arg);
    }
  }
  return { flags, positionals };
}

export const has = (p: ParsedArgs, key: string): boolean => p.flags.has(key);
export const last = (p: ParsedArgs, key: string): string | undefined => p.flags.get(key)?.at(-1);

/** Integer within [min, max]; `what` names the flag in the error. */
export function parseIntArg(text: string, what: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^-?\d+$/.test(text.trim())) throw badArgs(`${what}: '${text}' is not an integer`);
  const n = Number(text);
  if (n < min || n > max) throw badArgs(`${what}: ${n} is out of range (${min}..${max})`);
  return n;
}

/** Positive number (seconds, ms, ...); fractions allowed. */
export function parsePositive(text: string, what: string, allowZero = false): number {
  const n = Number(text);
  if (!/^\s*-?[\d.]+\s*$/.test(text) || !Number.isFinite(n)) throw badArgs(`${what}: '${text}' is not a number`);
  if (n < 0 || (!allowZero && n === 0)) throw badArgs(`${what}: must be ${allowZero ? '>= 0' : '> 0'}, got ${text}`);
  return n;
}

/** A PID that exists now (else NO_SUCH_PROCESS). Accepts a comma list when `multi`. */
export function parsePids(text: string, what = '-p'): number[] {
  return text.split(',').map((t) => parseIntArg(t, `${what} PID`, 1, 4194304));
}
