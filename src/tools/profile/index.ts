// `bpfkit profile`: sample on-CPU stacks (BCC's profile flags and output), as text, folded stacks,
// an interactive SVG flame graph or a speedscope file.
import { writeFileSync } from 'node:fs';
import type { ToolCommand, ToolContext } from '../../cli/command.js';
import { parseArgs, has, last, parseIntArg, parsePositive, type FlagSpec } from '../../cli/args.js';
import { sleepOrAbort } from '../../cli/runtime.js';
import { badArgs, BpfkitError } from '../../core/errors.js';
import { requireBpfPrivileges, requireProcess } from '../../core/privileges.js';
import { frameLabel, type Frame } from '../../core/symbols/index.js';
import { renderFolded, type StackCount } from '../../render/folded.js';
import { renderFlameGraph } from '../../render/flamegraph.js';
import { renderSpeedscope } from '../../render/speedscope.js';
import { MAX_FILTER, onlineCpus, ProfileSession, type ProfileEvent, type ProfileOptions, type ProfileResult, type ProfileStack } from './profile.js';

const HELP = `Usage: bpfkit profile [options] [duration]

Profile CPU usage by sampling stack traces at a timed interval (perf events), counting the
stacks in the kernel. Prints when the duration elapses or on Ctrl-C.

Options:
  -p PID[,PID]      profile these processes only
  -L TID[,TID]      profile these threads only
  -U                user stacks only (no kernel stacks)
  -K                kernel stacks only (no user stacks)
  -I                include CPU idle stacks
  -F FREQUENCY      sample frequency, Hertz (default 49)
  -c COUNT          sample period: every COUNT events (cpu-clock: nanoseconds)
  -C CPU            sample only on this CPU
  -d DURATION       duration in seconds (also as the positional argument)
  -f                folded output, one line per stack (input of flame graph tools)
  -a                annotate frames: _[k] kernel, _[j] JIT (folded and text output)
  --delimited       insert "-" between the user and the kernel stack
  --svg FILE        write an interactive SVG flame graph to FILE
  --speedscope FILE write a speedscope (https://www.speedscope.app) profile to FILE
  --stack-storage-size SIZE  distinct stacks the kernel can store (default 16384)
  --cycles          sample on hardware CPU cycles instead of cpu-clock (needs a PMU)
  --no-leaf-caller  do not recover the caller of frameless leaf functions (x86_64), walk
                    frame pointers only (as perf record -g does)
  --json            NDJSON: one record per stack, then a summary record
  --verbose         show which kernel hooks are used, and libbpf's log

Stacks are walked through frame pointers: code built without them (gcc/clang -O2 default on
x86_64) may show truncated user stacks. Unresolved frames show as module+0xOFFSET.

Examples:
  bpfkit profile -p 1234 -F 99 10        # 10 s of PID 1234 at 99 Hz
  bpfkit profile -f 30 > out.folded      # folded stacks of the whole system, 30 s
  bpfkit profile -p 1234 --svg cpu.svg 5 # flame graph
`;

const FLAGS: FlagSpec[] = [
  { key: 'pid', short: 'p', long: 'pid', value: true },
  { key: 'tid', short: 'L', long: 'tid', value: true },
  { key: 'user', short: 'U', long: 'user-stacks-only' },
  { key: 'kernel', short: 'K', long: 'kernel-stacks-only' },
  { key: 'idle', short: 'I', long: 'include-idle' },
  { key: 'freq', short: 'F', long: 'frequency', value: true },
  { key: 'count', short: 'c', long: 'count', value: true },
  { key: 'cpu', short: 'C', long: 'cpu', value: true },
  { key: 'duration', short: 'd', long: 'duration', value: true },
  { key: 'folded', short: 'f', long: 'folded' },
  { key: 'annotate', short: 'a', long: 'annotations' },
  { key: 'delimited', long: 'delimited' },
  { key: 'svg', long: 'svg', value: true },
  { key: 'speedscope', long: 'speedscope', value: true },
  { key: 'storage', long: 'stack-storage-size', value: true },
  { key: 'cycles', long: 'cycles' },
  { key: 'noleaf', long: 'no-leaf-caller' },
  { key: 'json', long: 'json' },
];

export interface ProfileCliOptions {
  session: ProfileOptions;
  durationS?: number;
  folded: boolean;
  annotate: boolean;
  delimited: boolean;
  svg?: string;
  speedscope?: string;
  json: boolean;
}

function idList(text: string, what: string): number[] {
  const ids = text.split(',').filter((t) => t !== '').map((t) => parseIntArg(t.trim(), what, 1, 4194304));
  if (ids.length === 0) throw badArgs(`${what}: no IDs given`);
  if (ids.length > MAX_FILTER) throw badArgs(`${what}: at most ${MAX_FILTER} IDs`);
  return [...new Set(ids)];
}

export function parseProfileArgs(argv: string[]): ProfileCliOptions {
  const a = parseArgs(argv, FLAGS);
  if (a.positionals.length > 1) throw badArgs(`unexpected argument '${a.positionals[1]}' (see --help)`);
  const s: ProfileOptions = {};
  const pid = last(a, 'pid');
  if (pid !== undefined) s.pids = idList(pid, '-p PID');
  const tid = last(a, 'tid');
  if (tid !== undefined) s.tids = idList(tid, '-L TID');
  if (s.pids && s.tids) throw badArgs('-p and -L cannot be combined');
  s.userOnly = has(a, 'user');
  s.kernelOnly = has(a, 'kernel');
  if (s.userOnly && s.kernelOnly) throw badArgs('-U and -K cannot be combined');
  s.includeIdle = has(a, 'idle');
  const freq = last(a, 'freq');
  const count = last(a, 'count');
  if (freq !== undefined && count !== undefined) throw badArgs('-F and -c cannot be combined');
  if (freq !== undefined) s.frequency = parseIntArg(freq, '-F FREQUENCY', 1, 1_000_000);
  if (count !== undefined) s.period = parseIntArg(count, '-c COUNT', 1);
  const cpu = last(a, 'cpu');
  if (cpu !== undefined) {
    const c = parseIntArg(cpu, '-C CPU', 0, 65535);
    if (!onlineCpus().includes(c)) throw badArgs(`-C: CPU ${c} is not online (online: ${onlineCpus().join(',')})`);
    s.cpus = [c];
  }
  const storage = last(a, 'storage');
  if (storage !== undefined) s.stackStorageSize = parseIntArg(storage, '--stack-storage-size', 1, 1 << 24);
  s.leafCaller = !has(a, 'noleaf');
  s.event = (has(a, 'cycles') ? 'cycles' : 'cpu-clock') as ProfileEvent;
  const d = last(a, 'duration');
  if (d !== undefined && a.positionals.length) throw badArgs('give the duration either with -d or as an argument, not both');
  const dur = d ?? a.positionals[0];
  return {
    session: s,
    durationS: dur !== undefined ? parsePositive(dur, 'duration') : undefined,
    folded: has(a, 'folded'),
    annotate: has(a, 'annotate'),
    delimited: has(a, 'delimited'),
    svg: last(a, 'svg'),
    speedscope: last(a, 'speedscope'),
    json: has(a, 'json'),
  };
}

export const command: ToolCommand = {
  name: 'profile',
  summary: 'sample on-CPU stack traces: text, folded stacks, SVG flame graph, speedscope',
  help: HELP,
  async run(argv: string[], ctx: ToolContext): Promise<void> {
    const opts = parseProfileArgs(argv);
    for (const p of opts.session.pids ?? []) requireProcess(p);
    for (const t of opts.session.tids ?? []) requireProcess(t, 'thread');
    requireBpfPrivileges();
    const session = ProfileSession.start(opts.session);
    let result: ProfileResult;
    try {
      ctx.ready();
      const textMode = !opts.folded && !opts.json;
      const files = opts.svg !== undefined || opts.speedscope !== undefined;
      if (textMode) ctx.out(header(opts) + '\n');
      // setTimeout's limit is 2^31-1 ms (~24.8 days): longer durations wait in steps.
      const end = Date.now() + (opts.durationS !== undefined ? opts.durationS * 1000 : Infinity);
      while (!ctx.signal.aborted && Date.now() < end) await sleepOrAbort(Math.min(end - Date.now(), 2 ** 31 - 1), ctx.signal);
      result = session.collect();
      session.close();
      if (opts.svg !== undefined) writeOut(opts.svg, renderFlameGraph(toStackCounts(result, { annotate: true, delimited: opts.delimited }), {
        title: 'CPU Flame Graph',
        subtitle: `bpfkit profile ${argv.join(' ')}`.trim(),
      }));
      if (opts.speedscope !== undefined) writeOut(opts.speedscope, renderSpeedscope(toStackCounts(result, { annotate: true, delimited: opts.delimited }), {
        name: `bpfkit profile ${argv.join(' ')}`.trim(),
      }));
      if (opts.json) ctx.out(renderJson(result));
      else if (opts.folded) ctx.out(renderFolded(toStackCounts(result, opts)));
      else if (!files) ctx.out(renderText(result, opts));
      else ctx.out([opts.svg && `Wrote flame graph to ${opts.svg}`, opts.speedscope && `Wrote speedscope profile to ${opts.speedscope}`].filter(Boolean).join('\n') + '\n');
      // Missed stacks: after the text output (stdout stays clean for -f and --json, whose summary has them).
      const w = warnings(result);
      if (w && textMode) ctx.out(w);
      else if (w && !opts.json) ctx.verbose(w);
    } finally {
      session.close();
    }
  },
};

function writeOut(path: string, text: string): void {
  try {
    writeFileSync(path, text);
  } catch (err) {
    throw new BpfkitError('IO', `cannot write ${path}: ${(err as Error).message}`);
  }
}

export function header(o: ProfileCliOptions): string {
  const s = o.session;
  const rate = s.period !== undefined ? `every ${s.period} events` : `at ${s.frequency ?? 49} Hertz`;
  const who = s.pids ? `PID ${s.pids.join(',')}` : s.tids ? `TID ${s.tids.join(',')}` : 'all threads';
  const stacks = s.userOnly ? 'user' : s.kernelOnly ? 'kernel' : 'user + kernel';
  const cpu = s.cpus ? ` on CPU ${s.cpus[0]}` : '';
  const end = o.durationS !== undefined ? ` for ${o.durationS} secs.` : '... Hit Ctrl-C to end.';
  return `Sampling ${rate} of ${who} by ${stacks} stack${cpu}${end}`;
}

function warnings(r: ProfileResult): string {
  const lines: string[] = [];
  const missed = r.stats.userMissed + r.stats.kernelMissed;
  if (missed > 0) lines.push(`WARNING: ${missed} stack traces could not be stored (stack map full or hash collision); increase --stack-storage-size.`);
  if (r.stats.dropped > 0) lines.push(`WARNING: ${r.stats.dropped} samples were lost (counts map full).`);
  return lines.length ? lines.join('\n') + '\n' : '';
}

interface LabelOpts { annotate: boolean; delimited: boolean }

const label = (f: Frame, o: LabelOpts) => frameLabel(f, { kindSuffix: o.annotate });

/** Root-first frames: comm, user root..leaf, [-], kernel root..leaf (BCC's folded order). */
export function stackLine(s: ProfileStack, o: LabelOpts): string[] {
  const out = [s.comm];
  if (s.userMissed) out.push('[Missed User Stack]');
  else if (s.user) for (let i = s.user.length - 1; i >= 0; i--) out.push(label(s.user[i]!, o));
  if (o.delimited && s.user && s.kernel) out.push('-');
  if (s.kernelMissed) out.push('[Missed Kernel Stack]');
  else if (s.kernel) for (let i = s.kernel.length - 1; i >= 0; i--) out.push(label(s.kernel[i]!, o));
  return out;
}

export function toStackCounts(r: ProfileResult, o: LabelOpts): StackCount[] {
  return r.stacks.map((s) => ({ stack: stackLine(s, o), count: s.count }));
}

/**
 * The kernel tells stacks apart by address (two samples at different instructions of the same
 * function are two stacks); users read symbols: merge stacks that print the same, per process.
 */
export function mergeBySymbols(stacks: ProfileStack[], o: LabelOpts): ProfileStack[] {
  const byKey = new Map<string, ProfileStack>();
  for (const s of stacks) {
    const key = `${s.pid}\0${stackLine(s, o).join(';')}`;
    const prev = byKey.get(key);
    if (prev) prev.count += s.count;
    else byKey.set(key, { ...s });
  }
  return [...byKey.values()];
}

/** BCC's multi-line output: kernel frames leaf first, `--`, user frames, `- comm (pid)`, count; hottest last. */
export function renderText(r: ProfileResult, o: LabelOpts): string {
  const lines: string[] = [];
  const sorted = mergeBySymbols(r.stacks, o).sort((x, y) => x.count - y.count || x.pid - y.pid);
  for (const s of sorted) {
    if (s.kernelMissed) lines.push('    [Missed Kernel Stack]');
    else if (s.kernel) for (const f of s.kernel) lines.push(`    ${label(f, o)}`);
    if ((s.kernel || s.kernelMissed) && (s.user || s.userMissed)) lines.push('    --');
    if (s.userMissed) lines.push('    [Missed User Stack]');
    else if (s.user) for (const f of s.user) lines.push(`    ${label(f, o)}`);
    lines.push(`    ${'-'.padEnd(16)} ${s.comm} (${s.pid})`);
    lines.push(`        ${s.count}`, '');
  }
  return lines.length ? lines.join('\n') + '\n' : '';
}

const names = (fs: Frame[] | null) => (fs ? fs.map((f) => f.name) : null);

export function renderJson(r: ProfileResult): string {
  const out = mergeBySymbols(r.stacks, { annotate: false, delimited: false })
    .sort((x, y) => y.count - x.count || x.pid - y.pid)
    .map((s) => JSON.stringify({
      type: 'stack',
      pid: s.pid,
      comm: s.comm,
      count: s.count,
      user_stack: s.userMissed ? null : names(s.user),
      kernel_stack: s.kernelMissed ? null : names(s.kernel),
      ...(s.userMissed ? { user_stack_missed: true } : {}),
      ...(s.kernelMissed ? { kernel_stack_missed: true } : {}),
    }));
  out.push(JSON.stringify({
    type: 'summary',
    samples: r.stats.samples,
    stacks: out.length,
    dropped: r.stats.dropped,
    user_stacks_missed: r.stats.userMissed,
    kernel_stacks_missed: r.stats.kernelMissed,
  }));
  return out.join('\n') + '\n';
}
