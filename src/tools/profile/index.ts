// `bpfkit profile`: sample on-CPU stacks (BCC's profile flags and output), as text, folded stacks,
// an interactive SVG flame graph or a speedscope file.
import { ContainerView } from '../../toolkit/containers.js';
import { containerLabel } from '../../core/containers.js';
import { writeFileSync } from 'node:fs';
import { COMMON, parseDuration, parseIntArg, type ParsedArgs } from '../../toolkit/flags.js';
import { defineTool, type Common } from '../../toolkit/runner.js';
import { badArgs, BpfkitError } from '../../core/errors.js';
import { frameLabel, type Frame } from '../../core/symbols/index.js';
import { hasPerfMap, isHotSpot, javaFrameName, jvmThreadKind, JVM_KIND_LABEL, requestPerfMap } from '../../core/jvm.js';
import { renderFolded, type StackCount } from '../../render/folded.js';
import { encodePprof } from '../../render/pprof.js';
import { renderFlameGraph } from '../../render/flamegraph.js';
import { renderSpeedscope } from '../../render/speedscope.js';
import { MAX_FILTER, onlineCpus, ProfileSession, type ProfileEvent, type ProfileOptions, type ProfileResult, type ProfileStack } from './profile.js';

const FLAGS = [
  { ...COMMON.pids, help: 'profile these processes only' },
  { ...COMMON.tids, short: 'L', help: 'profile these threads only' },
  { key: 'user', short: 'U', long: 'user-stacks-only', help: 'user stacks only (no kernel stacks)' },
  { key: 'kernel', short: 'K', long: 'kernel-stacks-only', help: 'kernel stacks only (no user stacks)' },
  { key: 'idle', short: 'I', long: 'include-idle', help: 'include CPU idle stacks' },
  { key: 'freq', short: 'F', long: 'frequency', arg: 'FREQUENCY', help: 'sample frequency, Hertz (default 49)' },
  { key: 'count', short: 'c', long: 'count', arg: 'COUNT', help: 'sample period: every COUNT events (cpu-clock: nanoseconds)' },
  { key: 'cpu', short: 'C', long: 'cpu', arg: 'CPU', help: 'sample only on this CPU' },
  { ...COMMON.duration, help: 'stop after DURATION (seconds, or 500ms, 2m, 1h; or as the argument)' },
  { key: 'folded', short: 'f', long: 'folded', help: 'folded output, one line per stack (input of flame graph tools)' },
  { key: 'annotate', short: 'a', long: 'annotations', help: 'annotate frames: _[k] kernel, _[j] JIT (folded and text output)' },
  { key: 'delimited', long: 'delimited', help: 'insert "-" between the user and the kernel stack' },
  { key: 'svg', long: 'svg', arg: 'FILE', help: 'write an interactive SVG flame graph to FILE' },
  { key: 'speedscope', long: 'speedscope', arg: 'FILE', help: 'write a speedscope (https://www.speedscope.app) profile to FILE' },
  { key: 'pprof', long: 'pprof', arg: 'FILE', help: 'write a pprof profile (gzipped profile.proto: go tool pprof, Parca, Pyroscope) to FILE' },
  { key: 'storage', long: 'stack-storage-size', arg: 'SIZE', help: 'distinct stacks the kernel can store (default 16384)' },
  { key: 'cycles', long: 'cycles', help: 'sample on hardware CPU cycles instead of cpu-clock (needs a PMU)' },
  { key: 'noleaf', long: 'no-leaf-caller', help: 'frame pointers only, as perf record -g (no caller of frameless leaves)' },
  { key: 'nojitmap', long: 'no-jit-map', help: 'do not ask sampled HotSpot JVMs for a JIT map (jcmd PID Compiler.perfmap)' },
  { ...COMMON.cgroup, short: undefined },
  COMMON.container,
  COMMON.containers,
  { ...COMMON.json, help: 'NDJSON: one record per stack, then a summary record' },
];

export interface ProfileCliOptions {
  session: ProfileOptions;
  durationS?: number;
  folded: boolean;
  annotate: boolean;
  delimited: boolean;
  svg?: string;
  speedscope?: string;
  pprof?: string;
  json: boolean;
  /** Ask sampled JVMs without a JIT map for one at the end of the window (default true). */
  jitMap: boolean;
}

function idList(ids: number[] | undefined, what: string): number[] | undefined {
  if (ids && ids.length > MAX_FILTER) throw badArgs(`${what}: at most ${MAX_FILTER} IDs`);
  return ids;
}

export function parseProfileOptions(a: ParsedArgs, c: Common): ProfileCliOptions {
  const s: ProfileOptions = {};
  s.pids = idList(c.pids, '-p PID');
  s.tids = idList(c.tids, '-L TID');
  if (s.pids && s.tids) throw badArgs('-p and -L cannot be combined');
  s.userOnly = a.has('user');
  s.kernelOnly = a.has('kernel');
  if (s.userOnly && s.kernelOnly) throw badArgs('-U and -K cannot be combined');
  s.includeIdle = a.has('idle');
  const freq = a.get('freq');
  const count = a.get('count');
  if (freq !== undefined && count !== undefined) throw badArgs('-F and -c cannot be combined');
  if (freq !== undefined) s.frequency = parseIntArg(freq, '-F FREQUENCY', 1, 1_000_000);
  if (count !== undefined) s.period = parseIntArg(count, '-c COUNT', 1);
  const cpu = a.get('cpu');
  if (cpu !== undefined) {
    const n = parseIntArg(cpu, '-C CPU', 0, 65535);
    if (!onlineCpus().includes(n)) throw badArgs(`-C: CPU ${n} is not online (online: ${onlineCpus().join(',')})`);
    s.cpus = [n];
  }
  const storage = a.get('storage');
  if (storage !== undefined) s.stackStorageSize = parseIntArg(storage, '--stack-storage-size', 1, 1 << 24);
  s.leafCaller = !a.has('noleaf');
  s.event = (a.has('cycles') ? 'cycles' : 'cpu-clock') as ProfileEvent;
  // BCC's positional duration: the runner's -d deadline serves both forms.
  if (c.durationS !== undefined && a.positionals.length) throw badArgs('give the duration either with -d or as an argument, not both');
  if (a.positionals.length) c.durationS = parseDuration(a.positionals[0]!, 'duration');
  const svg = a.get('svg');
  const speedscope = a.get('speedscope');
  const pprof = a.get('pprof');
  if (svg === '' || speedscope === '' || pprof === '') throw badArgs(`--${svg === '' ? 'svg' : speedscope === '' ? 'speedscope' : 'pprof'}: empty file name`);
  return {
    session: s,
    durationS: c.durationS,
    folded: a.has('folded'),
    annotate: a.has('annotate'),
    delimited: a.has('delimited'),
    svg,
    speedscope,
    ...(pprof !== undefined ? { pprof } : {}),
    json: c.json,
    jitMap: !a.has('nojitmap'),
  };
}

export const command = defineTool<ProfileCliOptions>({
  name: 'profile',
  summary: 'sample on-CPU stack traces: text, folded stacks, SVG flame graph, speedscope',
  usage: '[options] [duration]',
  about: `Profile CPU usage by sampling stack traces at a timed interval (perf events), counting the
stacks in the kernel. Prints when the duration elapses, on Ctrl-C, or when the processes given
with -p (threads with -L) have all exited.`,
  flags: FLAGS,
  maxPositionals: 1,
  // Symbolizing thousands of stacks and writing a flame graph after Ctrl-C takes a few seconds.
  stopGraceS: 10,
  more: `Stacks are walked through frame pointers: code built without them (gcc/clang -O2 default on
x86_64) may show truncated user stacks. Unresolved frames show as module+0xOFFSET.

Examples:
  bpfkit profile -p 1234 -F 99 10        # 10 s of PID 1234 at 99 Hz
  bpfkit profile -f 30 > out.folded      # folded stacks of the whole system, 30 s
  bpfkit profile -p 1234 --svg cpu.svg 5 # flame graph`,
  parse: parseProfileOptions,
  outputPaths: (o) => ({ '--svg': o.svg, '--speedscope': o.speedscope, '--pprof': o.pprof }),
  async run(opts, rt) {
    const session = rt.use(ProfileSession.start(opts.session));
    const started = Date.now();
    rt.ready();
    const textMode = !opts.folded && !opts.json;
    const files = opts.svg !== undefined || opts.speedscope !== undefined || opts.pprof !== undefined;
    if (textMode) rt.write(header(opts) + '\n');
    await rt.until();
    session.stopSampling();
    const jvms = session.sampledPids().filter((pid) => isHotSpot(pid) || mapsJvm(session, pid));
    if (opts.jitMap) {
      // JIT-compiled Java has no symbols; HotSpot writes /tmp/perf-PID.map when asked (JDK 17+).
      for (const pid of jvms) {
        if (!isHotSpot(pid) || hasPerfMap(pid)) continue; // exited, or it has a map
        const r = requestPerfMap(pid);
        rt.notice(r.ok ? `JVM ${pid} had no JIT map: asked it for one (${r.command.join(' ')})` : `JVM ${pid}: no JIT map, and ${r.command.join(' ') || 'jcmd'} failed: ${r.message}`);
        session.symbolizer.snapshotProcess(pid, { force: true });
      }
    }
    const result = javaNames(session.collect(), new Set(jvms));
    session.close();
    if (opts.svg !== undefined) writeOut(opts.svg, renderFlameGraph(toStackCounts(result, { annotate: true, delimited: opts.delimited }, rt.containers), {
      title: 'CPU Flame Graph',
      subtitle: `bpfkit profile: ${what(opts)}`,
    }));
    if (opts.speedscope !== undefined) writeOut(opts.speedscope, renderSpeedscope(toStackCounts(result, { annotate: true, delimited: opts.delimited }, rt.containers), {
      name: `bpfkit profile: ${what(opts)}`,
    }));
    if (opts.pprof !== undefined) {
      // cpu-clock in frequency mode: the kernel aims at 1/F s between samples.
      const periodNs = opts.session.period !== undefined && opts.session.event !== 'cycles' ? opts.session.period : Math.round(1e9 / (opts.session.frequency ?? 49));
      writeOut(opts.pprof, encodePprof(mergeBySymbols(result.stacks, { annotate: false, delimited: false }), { periodNs, durationNs: (Date.now() - started) * 1e6, startMs: started }));
    }
    if (opts.json) rt.write(renderJson(result, rt.containers));
    else if (opts.folded) rt.write(renderFolded(toStackCounts(result, opts, rt.containers)));
    else if (!files) rt.write(renderText(result, opts, rt.containers));
    else rt.write([opts.svg && `Wrote flame graph to ${opts.svg}`, opts.speedscope && `Wrote speedscope profile to ${opts.speedscope}`, opts.pprof && `Wrote pprof profile to ${opts.pprof}`].filter(Boolean).join('\n') + '\n');
    // Missed stacks: after the text output (stdout stays clean for -f and --json, whose summary has them).
    const w = warnings(result);
    if (w && textMode) rt.write(w);
    else if (w && !opts.json) rt.verbose(w);
  },
});

/** A process that exited during sampling was a JVM if its last snapshot maps libjvm.so. */
function mapsJvm(session: ProfileSession, pid: number): boolean {
  return session.symbolizer.snapshot(pid)?.maps.some((m) => m.path.endsWith('/libjvm.so')) ?? false;
}

/**
 * Java frames by Class::method, the interpreter as [interpreted], and the JVM's own threads
 * (GC, JIT compilers, VM threads) labelled after their name.
 */
export function javaNames(r: ProfileResult, jvms: Set<number>): ProfileResult {
  if (!jvms.size) return r;
  const stacks = r.stacks.map((s) => {
    if (!jvms.has(s.pid)) return s;
    const kind = jvmThreadKind(s.comm);
    const user = s.user && s.user.map((f) => (f.kind === 'jit' ? { ...f, name: javaFrameName(f.name) } : f));
    return { ...s, comm: kind ? `${s.comm} [${JVM_KIND_LABEL[kind]}]` : s.comm, user };
  });
  return { ...r, stacks };
}

function writeOut(path: string, text: string | Uint8Array): void {
  try {
    writeFileSync(path, text);
  } catch (err) {
    throw new BpfkitError('IO', `cannot write ${path}: ${(err as Error).message}`);
  }
}

export function header(o: ProfileCliOptions): string {
  const end = o.durationS !== undefined ? ` for ${o.durationS} secs.` : '... Hit Ctrl-C to end.';
  return `Sampling ${what(o)}${end}`;
}

/** "at 99 Hertz of PID 7 by user + kernel stack": the header, and the flame graph's subtitle. */
function what(o: ProfileCliOptions): string {
  const s = o.session;
  const rate = s.period !== undefined ? `every ${s.period} events` : `at ${s.frequency ?? 49} Hertz`;
  const who = s.pids ? `PID ${s.pids.join(',')}` : s.tids ? `TID ${s.tids.join(',')}` : 'all threads';
  const stacks = s.userOnly ? 'user' : s.kernelOnly ? 'kernel' : 'user + kernel';
  const cpu = s.cpus ? ` on CPU ${s.cpus[0]}` : '';
  return `${rate} of ${who} by ${stacks} stack${cpu}`;
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

/** With --containers, each stack starts at its container (or [host]): one flame per container. */
export function toStackCounts(r: ProfileResult, o: LabelOpts, ct?: ContainerView): StackCount[] {
  const root = (pid: number) => { const c = ct?.of(pid); return c ? containerLabel(c) : '[host]'; };
  return r.stacks.map((s) => ({ stack: ct?.forced ? [root(s.pid), ...stackLine(s, o)] : stackLine(s, o), count: s.count }));
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
export function renderText(r: ProfileResult, o: LabelOpts, ct?: ContainerView): string {
  const lines: string[] = [];
  const sorted = mergeBySymbols(r.stacks, o).sort((x, y) => x.count - y.count || x.pid - y.pid);
  for (const s of sorted) {
    if (s.kernelMissed) lines.push('    [Missed Kernel Stack]');
    else if (s.kernel) for (const f of s.kernel) lines.push(`    ${label(f, o)}`);
    if ((s.kernel || s.kernelMissed) && (s.user || s.userMissed)) lines.push('    --');
    if (s.userMissed) lines.push('    [Missed User Stack]');
    else if (s.user) for (const f of s.user) lines.push(`    ${label(f, o)}`);
    const c = ct?.of(s.pid);
    lines.push(`    ${'-'.padEnd(16)} ${s.comm} (${s.pid})${c ? ` [${containerLabel(c)}]` : ''}`);
    lines.push(`        ${s.count}`, '');
  }
  return lines.length ? lines.join('\n') + '\n' : '';
}

const names = (fs: Frame[] | null) => (fs ? fs.map((f) => f.name) : null);

export function renderJson(r: ProfileResult, ct?: ContainerView): string {
  const out = mergeBySymbols(r.stacks, { annotate: false, delimited: false })
    .sort((x, y) => y.count - x.count || x.pid - y.pid)
    .map((s) => JSON.stringify({
      type: 'stack',
      pid: s.pid,
      comm: s.comm,
      ...ct?.json(s.pid),
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
