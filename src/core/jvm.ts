// HotSpot JVMs seen from the outside: which threads are the JVM's own (GC, JIT compilers, VM
// service threads; HotSpot names every native thread after its Java name, cut at 15
// characters by the kernel), Java frame names from HotSpot's perf map, and asking a running
// JVM for that map (`jcmd PID Compiler.perfmap`) as its own user and in its own namespaces.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseStatus } from './proc.js';

export type JvmThreadKind = 'gc' | 'jit' | 'jvm';

// Thread names (as /proc/PID/task/TID/comm shows them) of HotSpot 17's own threads.
const GC_THREADS = [
  /^GC Thread#\d+/, /^G1 /, /^ParGC Thread/,
  /^Z(Driver|Director|Stat|Worker|Unmapper|Uncommitter|Thread)/, /^Shenandoah/, /^Conc(urrent)? ?(Mark|GC)/, /^CMS /,
];
const JIT_THREADS = [/^C[12] CompilerThre/, /^C[12] Compiler/, /^JVMCI/, /^Sweeper thread/, /^CompilerThread/];
const JVM_THREADS = [
  /^VM Thread$/, /^VM Periodic Tas/, /^Service Thread$/, /^Monitor Deflati/, /^Signal Dispatch/, /^Reference Handl/,
  /^Finalizer$/, /^Common-Cleaner$/, /^Notification Th/, /^Attach Listener$/, /^Surrogate Locke/,
];

/**
 * The kind of a JVM-internal thread by its name, undefined for an application thread. Only
 * meaningful for threads of a JVM (an application may name a thread "Finalizer" elsewhere).
 * The VM Thread runs safepoint operations (Serial GC's collections among them): counted as JVM.
 */
export function jvmThreadKind(comm: string): JvmThreadKind | undefined {
  if (GC_THREADS.some((re) => re.test(comm))) return 'gc';
  if (JIT_THREADS.some((re) => re.test(comm))) return 'jit';
  if (JVM_THREADS.some((re) => re.test(comm))) return 'jvm';
  return undefined;
}

/** Names that only HotSpot gives its threads: a process with one of them is a JVM. */
export function looksLikeJvmThreads(comms: Iterable<string>): boolean {
  for (const c of comms) if (/^(VM Thread|C[12] CompilerThre|GC Thread#\d+|VM Periodic Tas)$/.test(c)) return true;
  return false;
}

export const JVM_KIND_LABEL: Record<JvmThreadKind, string> = { gc: 'GC', jit: 'JIT compiler', jvm: 'JVM' };

/** Whether the process runs HotSpot: libjvm.so is mapped. */
export function isHotSpot(pid: number, procRoot = '/proc'): boolean {
  try {
    return readFileSync(`${procRoot}/${pid}/maps`, 'latin1').includes('/libjvm.so');
  } catch {
    return false;
  }
}

/**
 * A HotSpot perf-map symbol ("long Hot.alpha(long)", "void a.b.C$D.<init>(int)") as Class::method
 * ("Hot::alpha", "a.b.C$D::<init>"); the interpreter as "[interpreted]"; stubs and anything else
 * unchanged.
 */
export function javaFrameName(sym: string): string {
  if (sym === 'Interpreter') return '[interpreted]';
  const m = /^(?:\S+ )?([\w$.]+)\.([\w$<>]+)\(.*\)$/.exec(sym);
  return m ? `${m[1]}::${m[2]}` : sym;
}

export interface PerfMapRequest {
  pid: number;
  /** What was run (for the user to see). */
  command: string[];
  ok: boolean;
  /** The error, when not ok. */
  message?: string;
}

interface Ids { uid: number; gid: number; nsPid: number; foreign: boolean }

function idsOf(pid: number): Ids | undefined {
  try {
    const st = parseStatus(readFileSync(`/proc/${pid}/status`, 'utf8'));
    const euid = Number(st.get('Uid')?.split(/\s+/)[1]);
    const egid = Number(st.get('Gid')?.split(/\s+/)[1]);
    const nsPids = (st.get('NSpid') ?? String(pid)).split(/\s+/).filter(Boolean);
    const ns = (p: number | 'self', kind: string) => { try { return readlinkSync(`/proc/${p}/ns/${kind}`); } catch { return undefined; } };
    const foreign = ns(pid, 'mnt') !== ns('self', 'mnt') || ns(pid, 'pid') !== ns('self', 'pid');
    return { uid: euid, gid: egid, nsPid: Number(nsPids[nsPids.length - 1]), foreign };
  } catch {
    return undefined;
  }
}

/**
 * The jcmd command line that asks JVM `pid` to write /tmp/perf-<pid>.map: the target's own JDK's
 * jcmd (same version), run with the target's uid and gid (the attach mechanism wants them) and,
 * when the JVM lives in other mount or PID namespaces (a container), inside them with nsenter.
 */
export function perfMapCommand(pid: number, ids: Ids, exe: string, hostJcmd: string | undefined): string[] {
  const jcmd = `${dirname(exe)}/jcmd`;
  if (ids.foreign) {
    return ['nsenter', '-t', String(pid), '-m', '-p', '-S', String(ids.uid), '-G', String(ids.gid), '--', jcmd, String(ids.nsPid), 'Compiler.perfmap'];
  }
  const bin = existsSync(jcmd) ? jcmd : (hostJcmd ?? 'jcmd');
  const asUser = ids.uid === (process.geteuid?.() ?? 0) ? [] : ['setpriv', `--reuid=${ids.uid}`, `--regid=${ids.gid}`, '--clear-groups', '--'];
  return [...asUser, bin, String(pid), 'Compiler.perfmap'];
}

/** Asks a running HotSpot JVM for its JIT map (Compiler.perfmap, JDK 17+). Never throws. */
export function requestPerfMap(pid: number, timeoutMs = 20_000): PerfMapRequest {
  const ids = idsOf(pid);
  let exe = '';
  try { exe = readlinkSync(`/proc/${pid}/exe`); } catch { /* gone */ }
  if (!ids || !exe) return { pid, command: [], ok: false, message: 'the process is gone' };
  const command = perfMapCommand(pid, ids, exe, undefined);
  const r = spawnSync(command[0]!, command.slice(1), { encoding: 'utf8', timeout: timeoutMs, cwd: '/' });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
  if (r.error) return { pid, command, ok: false, message: r.error.message };
  if (r.status !== 0 || /Exception|error/i.test(out)) return { pid, command, ok: false, message: out.split('\n').pop() || `exit status ${r.status}` };
  return { pid, command, ok: true };
}

/** Whether the JVM already has a JIT map, as it sees /tmp (its own mount namespace). */
export function hasPerfMap(pid: number): boolean {
  const ids = idsOf(pid);
  const paths = [`/tmp/perf-${pid}.map`];
  if (ids?.foreign) paths.unshift(`/proc/${pid}/root/tmp/perf-${ids.nsPid}.map`);
  return paths.some((p) => { try { return statSync(p).isFile(); } catch { return false; } });
}
