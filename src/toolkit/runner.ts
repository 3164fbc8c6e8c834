// The tool runtime. A tool is a flag table, a parse step and a run step; the runner owns the
// rest, once for every tool: --help from the table, the shared flags (-p, -t, -c, -i, -d,
// --json, --buffer-mb), privilege and PID checks, readiness, the deadline, a target that exits,
// signals, bounded output that ends cleanly, and the release of every BPF object on the way out.
import { existsSync, statSync, accessSync, constants as fsc } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { BpfkitError, badArgs } from '../core/errors.js';
import { closeAll, setCgroupScope } from '../core/bpf.js';
import { resolveScope, type CgroupScope } from '../core/containers.js';
import { ContainerView } from './containers.js';
import { setLibbpfVerbose, setVerboseNotes } from '../core/log.js';
import { requireBpfPrivileges } from '../core/privileges.js';
import { processGone, readStatus } from '../core/proc.js';
import { COMMON, DEFAULT_BUFFER_MB, flagHelp, parseBufferMb, parseDuration, parseFlags, parseInterval, parsePid, parsePids, type Flag, type ParsedArgs } from './flags.js';
import { Output, describeWriteError } from './output.js';

/** The shared flags, parsed by the runner (present when the tool's table lists them). */
export interface Common {
  pid?: number;
  tid?: number;
  /** -p PID[,PID] (COMMON.pids). */
  pids?: number[];
  /** -t TID[,TID] (COMMON.tids). */
  tids?: number[];
  cgroup?: string;
  /** --container values (names or ids), split at commas. */
  container?: string[];
  /** --containers: show the CONTAINER column whatever the rows. */
  containers: boolean;
  /** What -c and --container resolved to (the kernel checks these cgroup ids). */
  scope?: CgroupScope;
  /** -n NAME: a substring of the comm (filtered in user space by the tool). */
  name?: string;
  intervalS?: number;
  durationS?: number;
  json: boolean;
  bufferMb: number;
}

export type StopReason = 'signal' | 'duration' | 'target-exited' | 'output-closed' | 'output-failed';

export interface ToolSpec<O> {
  name: string;
  /** One line for `bpfkit --help`. */
  summary: string;
  /** After `bpfkit NAME` in the usage line (default "[options]"). */
  usage?: string;
  /** What the tool does and how (--help). */
  about: string;
  /** Flags in --help order; shared ones from COMMON. */
  flags: readonly Flag[];
  /** Text after the options in --help: columns, examples. */
  more?: string;
  /** How many positional arguments the tool takes (default none). */
  maxPositionals?: number;
  /** false: the tool loads no BPF (no privilege check). */
  bpf?: boolean;
  /** true: -p/-t name processes to look at once, not to follow (no exit watch). */
  snapshot?: boolean;
  /** Seconds the tool may take after Ctrl-C to finish its report (default 2). */
  stopGraceS?: number;
  parse(args: ParsedArgs, common: Common): O;
  /** Files the tool will write, by flag ({'--svg': path}): checked before it starts, not after minutes of sampling. */
  outputPaths?(opts: O): Record<string, string | undefined>;
  run(opts: O, rt: Runtime): Promise<void>;
}

/** What `bpfkit` (src/cli) needs of a tool module. */
export interface ToolCommand {
  name: string;
  summary: string;
  help: string;
  execute(argv: string[], opts: { verbose: boolean }): Promise<number>;
  /** Parse a command line into the tool's options, checking values but not PIDs (unit tests). */
  parse(argv: string[]): unknown;
}

export function defineTool<O>(spec: ToolSpec<O>): ToolCommand {
  return {
    name: spec.name,
    summary: spec.summary,
    help: toolHelp(spec),
    execute: (argv, opts) => execute(spec, argv, opts.verbose),
    parse: (argv) => parseCommandLine(spec, argv).opts,
  };
}

function parseCommandLine<O>(spec: ToolSpec<O>, argv: string[]): { opts: O; common: Common } {
  const args = parseFlags(argv, spec.flags);
  const max = spec.maxPositionals ?? 0;
  if (args.positionals.length > max) throw badArgs(`unexpected argument '${args.positionals[max]}' (see --help)`);
  const common = parseCommon(args, spec.flags);
  return { opts: spec.parse(args, common), common };
}

function toolHelp(spec: ToolSpec<unknown>): string {
  const flags = [...spec.flags, { key: 'verbose', long: 'verbose', help: 'say which kernel hooks are used, and show libbpf\'s log' }, { key: 'help', short: 'h', long: 'help', help: 'this text' }];
  return `Usage: bpfkit ${spec.name} ${spec.usage ?? '[options]'}

${spec.about.trim()}

Options:
${flagHelp(flags)}
${spec.more ? `\n${spec.more.trim()}\n` : ''}`;
}

/** The tool's view of its run: output, stop signal, readiness, timing. Tools never print. */
export class Runtime {
  out: Output;
  /** The tool's exit status when it ends normally (trace -- CMD: the command's). */
  exitStatus = 0;
  private controller = new AbortController();
  /** Aborted when the tool must stop (Ctrl-C, -d elapsed, target exited, output gone). */
  readonly signal = this.controller.signal;
  stopReason: StopReason | undefined;
  readonly isTTY = Boolean(process.stdout.isTTY);
  private timers: Array<() => void> = [];
  private resources: Array<{ close(): void }> = [];
  private announced = false;

  constructor(readonly tool: string, readonly common: Common, readonly verbose: (text: string) => void) {
    this.out = new Output(process.stdout);
  }

  get json(): boolean { return this.common.json; }

  private ct?: ContainerView;
  private ctColumn?: boolean;
  /** The process -> container view every renderer of this run shares (one cache). */
  get containers(): ContainerView { return (this.ct ??= new ContainerView(this.common.containers, this.common.containers || this.common.container !== undefined)); }
  /** Streaming text: a CONTAINER column, decided once at start (--containers, or a container runs). */
  containerColumn(): boolean { return (this.ctColumn ??= !this.json && this.containers.anyRunning()); }
  /** A header with CONTAINER before its last line's first column when the column is on. */
  containerHeader(header: string): string {
    if (!this.containerColumn()) return header;
    const i = header.lastIndexOf('\n', header.length - 2);
    return header.slice(0, i + 1) + this.containers.header() + header.slice(i + 1);
  }
  /** Send the tool's output to `stream` instead of stdout (trace -o FILE). */
  setOutput(stream: NodeJS.WritableStream): void {
    this.out = new Output(stream);
    this.out.onEnd((end) => this.stop(end.kind === 'closed' ? 'output-closed' : 'output-failed'));
  }

  /** Write text (whole lines) to stdout. */
  write(text: string): void { this.out.write(text); }

  /** One line on stderr, prefixed with the tool's name. */
  notice(text: string): void { process.stderr.write(`bpfkit ${this.tool}: ${text}\n`); }

  stop(reason: StopReason): void {
    if (this.signal.aborted) return;
    this.stopReason = reason;
    this.controller.abort();
  }

  /** The programs are attached: start the clock of -d, and tell tests/benchmarks (BPFKIT_READY=1). */
  ready(): void {
    if (this.announced) return;
    this.announced = true;
    if (this.common.durationS !== undefined) {
      const t = longTimeout(() => this.stop('duration'), this.common.durationS * 1000);
      this.timers.push(t);
    }
    if (process.env.BPFKIT_READY === '1') process.stderr.write('BPFKIT_READY\n');
  }

  /** Sleep `ms` (any length), or less if the run stops. Resolves true if the full time elapsed. */
  sleep(ms: number): Promise<boolean> {
    if (this.signal.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const cancel = longTimeout(() => { this.signal.removeEventListener('abort', onAbort); resolve(true); }, ms);
      const onAbort = () => { cancel(); resolve(false); };
      this.signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Resolves when the run stops. */
  until(): Promise<void> {
    return this.sleep(Infinity).then(() => undefined);
  }

  /**
   * Call `report` every -i seconds (or `opts.intervalS`, for tools that take the interval as a
   * positional argument) `count` times (0 = forever) until the run stops; on stop, report once
   * more (the partial interval) with final = true. Without an interval, report once at stop.
   */
  async intervals(report: (final: boolean, elapsedS: number) => void, opts: { intervalS?: number; count?: number } = {}): Promise<void> {
    const intervalS = opts.intervalS ?? this.common.intervalS;
    const ms = intervalS !== undefined ? intervalS * 1000 : Infinity;
    const count = opts.count ?? 0;
    let last = performance.now();
    for (let n = 1; ; n++) {
      const full = await this.sleep(ms);
      const done = !full || (count > 0 && n >= count);
      const now = performance.now();
      report(done, (now - last) / 1000);
      last = now;
      if (done) return;
    }
  }

  /** Close `resource` when the run ends (sessions, sources), last opened first closed. */
  use<T extends { close(): void }>(resource: T): T {
    this.resources.push(resource);
    return resource;
  }

  /** Release what the tool handed to use(). */
  release(): void {
    for (const r of this.resources.splice(0).reverse()) {
      try { r.close(); } catch { /* closing the rest matters more */ }
    }
  }

  /** Watch a list of -p/-t targets: say when each exits, stop when none is left. */
  watchTargets(ids: number[], what: 'process' | 'thread'): void {
    const alive = new Set(ids);
    const timer = setInterval(() => {
      for (const id of alive) {
        if (!processGone(id)) continue;
        alive.delete(id);
        this.notice(`${what} ${id} exited`);
      }
      if (alive.size === 0) this.stop('target-exited');
    }, 200);
    this.timers.push(() => clearInterval(timer));
  }

  dispose(): void {
    for (const cancel of this.timers) cancel();
    this.timers = [];
  }
}

/**
 * setTimeout for any length (Node's timers overflow at 2^31 ms and fire at once). Infinity never
 * fires but keeps the process alive like any pending timer.
 */
function longTimeout(fn: () => void, ms: number): () => void {
  const MAX = 2 ** 31 - 1;
  let timer: NodeJS.Timeout;
  const until = Date.now() + ms;
  const arm = () => {
    const left = until - Date.now();
    timer = left > MAX || !Number.isFinite(left) ? setTimeout(arm, MAX) : setTimeout(fn, Math.max(0, left));
  };
  arm();
  return () => clearTimeout(timer);
}

/** Thread group (process) of a task id, or undefined if there is no such task. */
function tgidOf(id: number): number | undefined {
  const t = readStatus(id)?.get('Tgid');
  return t === undefined ? undefined : Number(t);
}

/** -p/-t targets exist; a thread id given as a process is named as such (with -t where the tool has it). */
function checkTargets(processes: number[], threads: number[], table: readonly Flag[]): void {
  const tidFlag = table.find((f) => f.key === COMMON.tid.key || f.key === COMMON.tids.key);
  for (const pid of processes) {
    const tgid = tgidOf(pid);
    if (tgid === undefined) throw new BpfkitError('NO_SUCH_PROCESS', `no such process: ${pid}`);
    if (tgid !== pid) throw new BpfkitError('NO_SUCH_PROCESS', `${pid} is a thread of process ${tgid}, not a process: use -p ${tgid}${tidFlag ? ` for the process, or -${tidFlag.short ?? `-${tidFlag.long}`} ${pid} for this thread` : ''}`);
  }
  for (const tid of threads) {
    if (tgidOf(tid) === undefined) throw new BpfkitError('NO_SUCH_PROCESS', `no such thread: ${tid}`);
  }
}

/** An output file can be created: its directory exists and is writable, and it is not a directory. */
export function checkOutputPath(path: string, what: string): void {
  const full = resolve(path);
  if (existsSync(full) && statSync(full).isDirectory()) throw badArgs(`${what}: ${path} is a directory`);
  const dir = dirname(full);
  if (!existsSync(dir)) throw badArgs(`${what}: directory ${dir} does not exist`);
  try {
    accessSync(dir, fsc.W_OK);
    if (existsSync(full)) accessSync(full, fsc.W_OK);
  } catch {
    throw badArgs(`${what}: ${path} is not writable`);
  }
}

function parseCommon(a: ParsedArgs, table: readonly Flag[]): Common {
  const listed = new Set(table.map((f) => f.key));
  // How errors name a shared flag: as the tool's table spells it (biolatency's is --duration only).
  const what = (key: string, fallback: string) => {
    const f = table.find((x) => x.key === key);
    return f ? `${f.short ? `-${f.short}` : `--${f.long}`} ${f.arg}` : fallback;
  };
  const get = (key: keyof typeof COMMON) => (listed.has(COMMON[key].key) ? a.get(COMMON[key].key) : undefined);
  const pid = get('pid');
  const tid = get('tid');
  // Lists accumulate over repeated flags (-p 1 -p 2,3), each value checked on its own.
  const list = (key: 'pids' | 'tids', what: string) => {
    const values = listed.has(COMMON[key].key) ? a.all(COMMON[key].key) : [];
    return values.length ? [...new Set(values.flatMap((v) => parsePids(v, what)))] : undefined;
  };
  const interval = get('interval');
  const duration = get('duration');
  const mb = get('bufferMb');
  const cgroup = get('cgroup');
  if (cgroup !== undefined && cgroup === '') throw badArgs('-c: empty cgroup path');
  const name = get('name');
  if (name === '') throw badArgs('-n: empty name');
  const container = listed.has('container') ? a.all('container').flatMap((v) => v.split(',')).map((v) => v.trim()) : [];
  if (container.some((v) => v === '')) throw badArgs('--container: empty name');
  return {
    pid: pid !== undefined ? parsePid(pid) : undefined,
    tid: tid !== undefined ? parsePid(tid, '-t TID') : undefined,
    pids: list('pids', '-p PID'),
    tids: list('tids', `-${table.find((f) => f.key === 'tids')?.short ?? 't'} TID`),
    cgroup,
    container: container.length ? container : undefined,
    containers: listed.has('containers') && a.has('containers'),
    name,
    intervalS: interval !== undefined ? parseInterval(interval, what('interval', '-i INTERVAL')) : undefined,
    durationS: duration !== undefined ? parseDuration(duration, what('duration', '-d DURATION')) : undefined,
    json: listed.has('json') && a.has('json'),
    bufferMb: mb !== undefined ? parseBufferMb(mb) : DEFAULT_BUFFER_MB,
  };
}

/** Print an expected failure as one line; anything else with its stack. Returns the status. */
export function reportError(err: unknown, tool: string, verbose: boolean): number {
  const prefix = tool ? `bpfkit ${tool}` : 'bpfkit';
  if (err instanceof BpfkitError) {
    process.stderr.write(`${prefix}: ${err.message}\n`);
    if (verbose && err.detail) process.stderr.write(err.detail + '\n');
    return err.exitCode;
  }
  process.stderr.write(`${prefix}: internal error: ${err instanceof Error ? err.stack : String(err)}\n`);
  return 1;
}

async function execute<O>(spec: ToolSpec<O>, argv: string[], verbose: boolean): Promise<number> {
  const say = (line: string) => process.stderr.write(line.endsWith('\n') ? line : line + '\n');
  setLibbpfVerbose(verbose ? say : undefined);
  setVerboseNotes(verbose ? say : undefined);

  let opts: O;
  let rt: Runtime;
  try {
    let common: Common;
    ({ opts, common } = parseCommandLine(spec, argv));
    // -p PID and -p PID,PID (or -t) name the same kind of target: one list each.
    const processes = [...(common.pid !== undefined ? [common.pid] : []), ...(common.pids ?? [])];
    const threads = [...(common.tid !== undefined ? [common.tid] : []), ...(common.tids ?? [])];
    checkTargets(processes, threads, spec.flags);
    for (const [flag, path] of Object.entries(spec.outputPaths?.(opts) ?? {})) if (path !== undefined) checkOutputPath(path, flag);
    if (spec.bpf !== false) requireBpfPrivileges();
    if (common.cgroup !== undefined || common.container) {
      try {
        common.scope = resolveScope(common.cgroup, common.container ?? []);
      } catch (e) {
        throw badArgs(`${common.cgroup !== undefined && !common.container ? '-c: ' : ''}${(e as Error).message}`);
      }
      // Every object loaded from now on observes only these cgroups (bpf/include/cgroup.bpf.h).
      setCgroupScope(common.scope?.ids);
    }
    rt = new Runtime(spec.name, common, verbose ? say : () => {});
    if (!spec.snapshot) {
      if (processes.length) rt.watchTargets(processes, 'process');
      if (threads.length) rt.watchTargets(threads, 'thread');
    }
  } catch (err) {
    return reportError(err, spec.name, verbose);
  }

  // Signals: the first stops the tool (it prints what it has and releases everything); a second
  // SIGINT leaves at once. A tool that does not finish within its grace time is cut short.
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals > 1 && sig === 'SIGINT') process.exit(130);
    if (signals === 1) {
      rt.stop('signal');
      setTimeout(() => {
        rt.notice(`did not stop within ${spec.stopGraceS ?? 2} s; exiting`);
        process.exit(1);
      }, (spec.stopGraceS ?? 2) * 1000).unref();
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  // A file size limit makes write() fail with EFBIG instead of killing the process.
  process.on('SIGXFSZ', () => {});
  process.on('exit', () => closeAll());
  rt.out.onEnd((end) => rt.stop(end.kind === 'closed' ? 'output-closed' : 'output-failed'));

  let status = 0;
  try {
    await spec.run(opts, rt);
  } catch (err) {
    status = reportError(err, spec.name, verbose);
  } finally {
    rt.dispose();
    rt.release();
    closeAll();
  }
  // Let queued output reach a slow reader, but not for ever.
  await Promise.race([rt.out.flush(), new Promise((r) => setTimeout(r, 1000).unref())]);
  const end = rt.out.ended;
  if (end?.kind === 'failed') {
    rt.notice(`cannot write output: ${describeWriteError(end.error)}`);
    return status || 1;
  }
  return status || rt.exitStatus;
}
