// From raw counters to a diagnosis: group processes into services (services.ts), match both
// ends of local TCP connections into a flow graph, describe where each service's time goes,
// and run the table of rules (rules.ts), which never look at program names.
import type { CgroupCpu, FutexStat, IoLimit, Snapshot, SocketQueue, StackSample, ThreadStat, WaitKind } from './collect.js';
import { WAIT_KINDS } from './collect.js';
import { formatHostPort, unmapIPv4 } from '../../core/net.js';
import { groupServices } from './services.js';
import { hostNotes, RULES, type VerdictKind } from './rules.js';
import { jvmThreadKind, looksLikeJvmThreads, type JvmThreadKind } from '../../core/jvm.js';

/** A JVM's own threads (by their HotSpot names), apart from its application's. */
export interface JvmShare {
  /** Cores used by GC, JIT compiler and other JVM threads (VM Thread, service threads). */
  gcCores: number; jitCores: number; vmCores: number;
  /** GC threads' share of the service's CPU time. */
  gcShare: number;
  /** JVM threads seen (not counted in `threads`). */
  threads: number;
  /** The busiest GC thread. */
  busiestGc?: { tid: number; comm: string; cpu: number };
}

export interface TimeShare {
  /** Fractions (0..1) of the service's accounted thread time. */
  cpu: number; runq: number; wait: Record<WaitKind, number>;
}

export interface Service {
  id: number;            // root pid of the group
  comm: string;
  /** Every process of the service seen in the window (live and exited). */
  pids: number[];
  /** Container id (12 hex digits) when the service is a container. */
  container?: string;
  /** The container's name, where its runtime's state says it. */
  containerName?: string;
  threads: number;
  cgroup: string;
  cmdline: string;
  /** CPU use in cores (1.0 = one core busy all the time), with that of its children that exited. */
  cpuCores: number;
  /** Part of cpuCores used by threads and child processes that exited during the window. */
  exitedCpuCores: number;
  /** Time runnable but not running, in threads (1.0 = one thread waiting for a CPU all the time). */
  runqCores: number;
  /** Share of the window the busiest thread was on CPU. */
  busiestThreadCpu: number;
  /** Share of the window the thread that wanted the CPU most was on CPU or runnable, and its CPU share. */
  hungriestThread: { tid: number; comm: string; demand: number; cpu: number } | undefined;
  busiestThread?: { tid: number; comm: string };
  share: TimeShare;
  /** Seconds per second blocked in each kind of syscall (summed over threads). */
  waitPerS: Record<WaitKind, number>;
  /** Completed blocking syscalls per second, by kind. */
  callsPerS: Record<WaitKind, number>;
  ioBytesPerS: number;
  ioPerS: number;
  inBytesPerS: number;
  outBytesPerS: number;
  /** Share of accounted time in timed sleeps, select/poll with no fds counted separately. */
  sleepShare: number;
  /**
   * A JVM: its GC, JIT and VM threads. They are not the application's work: shares, thread
   * counts and the busiest thread above are of the application's threads only (cpuCores is all).
   */
  jvm?: JvmShare;
}

export interface Edge {
  from: number | string; // service id, or "addr:port" of a remote peer
  to: number | string;   // service id, or "addr:port" of a remote peer
  bytesPerS: number;
  msgsPerS: number;
}

/** Where the named service spends the time behind its verdict, from its user stacks. */
export interface Where {
  kind: StackSample['kind'];
  /** Share of that service's time of this kind (or of all off-CPU time) in this stack. */
  share: number;
  frames: string[];
}

export interface Verdict {
  service: number;
  comm: string;
  rule: VerdictKind;
  score: number;
  /** 0..1: how far past its thresholds the evidence is (and how much of it was measured). */
  confidence: number;
  summary: string;
  evidence: string[];
  next: string[];
  where?: Where[];
}

export interface Report {
  windowS: number;
  services: Service[];
  edges: Edge[];
  verdicts: Verdict[];
  notes: string[];
  saturated: boolean;
  conclusion: string;
}

/** What the rules read: the snapshot turned into services and a flow graph. */
export interface Model {
  snap: Snapshot;
  W: number;
  cpus: number;
  services: Service[];
  svc: Map<number, Service>;
  edges: Edge[];
  /** Cores in use on the host by the observed services. */
  busyCores: number;
  edge(from: number | string, to: number | string): Edge | undefined;
  /** Evidence attached to a service by its pids. */
  futexesOf(s: Service): FutexStat[];
  queuesOf(s: Service): SocketQueue[];
  cgroupCpuOf(s: Service): CgroupCpu[];
  ioLimitsOf(s: Service): IoLimit[];
  /** Local peers' service ids of a connection end, when known. */
  peerOf(q: { raddr: string; rport: number }): number | undefined;
  /** Whether c opened a connection to a listening port of s (undefined: listeners unknown). */
  isClientOf(c: Service, s: Service): boolean | undefined;
  /** Whether c opened its connections to a remote "addr:port" (undefined: listeners unknown). */
  isClientOfRemote(c: Service, remote: string): boolean | undefined;
}

export const fmtRate = (bps: number): string =>
  bps >= 1e6 ? `${(bps / 1e6).toFixed(2)} MB/s` : bps >= 1e3 ? `${(bps / 1e3).toFixed(1)} KB/s` : `${bps.toFixed(0)} B/s`;
export const fmtBytes = (b: number): string =>
  b >= 1 << 20 ? `${(b / (1 << 20)).toFixed(1)} MiB` : b >= 1024 ? `${(b / 1024).toFixed(0)} KiB` : `${b.toFixed(0)} B`;
export const pct = (x: number): string => `${(x * 100).toFixed(0)}%`;
export const label = (s: Service): string => `${s.comm} (pid ${s.id})`;

export function buildModel(snap: Snapshot): Model {
  const W = Math.max(snap.windowS, 0.001);
  const groups = groupServices(snap);
  const root = groups.serviceOf;

  // Threads -> services; exited threads and processes (tid 0 records) -> the service that ran them.
  const byService = new Map<number, ThreadStat[]>();
  for (const t of [...snap.threads, ...(snap.exited ?? [])]) {
    if (t.tgid === snap.selfPid) continue;
    const id = root(t.tgid);
    (byService.get(id) ?? byService.set(id, []).get(id)!).push(t);
  }

  // Flows: match each connection end to its peer's process.
  const ownerOf = new Map<string, number>();
  const seenEnds = new Set<string>(); // "tgid addr port" of every connection end with a record
  for (const f of snap.flows) {
    ownerOf.set(`${unmapIPv4(f.laddr)} ${f.lport}`, f.tgid);
    seenEnds.add(`${f.tgid} ${unmapIPv4(f.laddr)} ${f.lport}`);
  }
  // An IPv4 peer seen from a dual-stack socket is ::ffff:a.b.c.d: ends are matched by unmapped address.
  const peerPid = (q: { raddr: string; rport: number }): number | undefined =>
    ownerOf.get(`${unmapIPv4(q.raddr)} ${q.rport}`) ?? snap.endpoints.get(`${unmapIPv4(q.raddr)} ${q.rport}`);
  const edgeMap = new Map<string, Edge>();
  const addEdge = (from: number | string, to: number | string, bytes: number, msgs: number) => {
    if (bytes <= 0 || from === to) return;
    const key = `${from}>${to}`;
    const e = edgeMap.get(key) ?? { from, to, bytesPerS: 0, msgsPerS: 0 };
    e.bytesPerS += bytes / W;
    e.msgsPerS += msgs / W;
    edgeMap.set(key, e);
  };
  for (const f of snap.flows) {
    if (f.tgid === snap.selfPid) continue;
    const me = root(f.tgid);
    const peer = peerPid(f);
    const isLocal = snap.localAddrs.has(unmapIPv4(f.raddr));
    if (peer !== undefined && isLocal) {
      const ps = root(peer);
      addEdge(me, ps, f.txBytes, f.txCalls);
      // The peer's own record carries its sends; only count our receives when it has none.
      if (!seenEnds.has(`${peer} ${unmapIPv4(f.raddr)} ${f.rport}`)) addEdge(ps, me, f.rxBytes, f.rxCalls);
      if (!byService.has(ps)) byService.set(ps, []);
    } else {
      const remote = formatHostPort(f.raddr, f.rport);
      addEdge(me, remote, f.txBytes, f.txCalls);
      addEdge(remote, me, f.rxBytes, f.rxCalls);
    }
    if (!byService.has(me)) byService.set(me, []);
  }
  const edges = [...edgeMap.values()].sort((a, b) => b.bytesPerS - a.bytesPerS);

  const services: Service[] = [];
  for (const [id, all] of byService) {
    const info = snap.procs.get(id);
    // A JVM's own threads do not do the application's work: set apart, by kind.
    const isJvm = looksLikeJvmThreads(all.map((t) => t.comm));
    const kindOf = (t: ThreadStat): JvmThreadKind | undefined => (isJvm && t.tid !== 0 ? jvmThreadKind(t.comm) : undefined);
    const internal = all.filter((t) => kindOf(t) !== undefined);
    const threads = isJvm ? all.filter((t) => kindOf(t) === undefined) : all;
    const accounted = (t: ThreadStat) => t.oncpuNs + t.runqNs + WAIT_KINDS.reduce((s, k) => s + t.waitNs[k], 0);
    const total = threads.reduce((s, t) => s + accounted(t), 0) || 1;
    const sum = (f: (t: ThreadStat) => number) => threads.reduce((s, t) => s + f(t), 0);
    const wait = {} as Record<WaitKind, number>;
    const waitPerS = {} as Record<WaitKind, number>;
    const callsPerS = {} as Record<WaitKind, number>;
    for (const k of WAIT_KINDS) {
      const ns = sum((t) => t.waitNs[k]);
      wait[k] = ns / total;
      waitPerS[k] = ns / 1e9 / W;
      callsPerS[k] = sum((t) => t.waitCount[k]) / W;
    }
    const live = threads.filter((t) => t.tid !== 0);
    const busiest = live.reduce<ThreadStat | undefined>((b, t) => (!b || t.oncpuNs > b.oncpuNs ? t : b), undefined);
    const hungriest = live.reduce<ThreadStat | undefined>((b, t) => (!b || t.oncpuNs + t.runqNs > b.oncpuNs + b.runqNs ? t : b), undefined);
    const pids = [...new Set([...(groups.members.get(id) ?? [id]), ...live.map((t) => t.tgid)])].sort((a, b) => a - b);
    services.push({
      id,
      comm: info?.comm ?? live[0]?.comm ?? threads[0]?.comm ?? '?',
      pids,
      ...(groups.containers.has(id) ? { container: groups.containers.get(id) } : {}),
      ...(snap.containerNames?.get(groups.containers.get(id) ?? '') ? { containerName: snap.containerNames.get(groups.containers.get(id)!) } : {}),
      threads: live.length,
      cgroup: info?.cgroup ?? '',
      cmdline: info?.cmdline ?? '',
      cpuCores: (sum((t) => t.oncpuNs) + internal.reduce((x, t) => x + t.oncpuNs, 0)) / 1e9 / W,
      exitedCpuCores: sum((t) => (t.tid === 0 ? t.oncpuNs : 0)) / 1e9 / W,
      runqCores: sum((t) => t.runqNs) / 1e9 / W,
      busiestThreadCpu: busiest ? busiest.oncpuNs / 1e9 / W : 0,
      busiestThread: busiest ? { tid: busiest.tid, comm: busiest.comm } : undefined,
      hungriestThread: hungriest
        ? { tid: hungriest.tid, comm: hungriest.comm, demand: (hungriest.oncpuNs + hungriest.runqNs) / 1e9 / W, cpu: hungriest.oncpuNs / 1e9 / W }
        : undefined,
      share: { cpu: sum((t) => t.oncpuNs) / total, runq: sum((t) => t.runqNs) / total, wait },
      waitPerS,
      callsPerS,
      ioBytesPerS: sum((t) => t.ioBytes) / W,
      ioPerS: sum((t) => t.ioCount) / W,
      inBytesPerS: edges.filter((e) => e.to === id).reduce((s, e) => s + e.bytesPerS, 0),
      outBytesPerS: edges.filter((e) => e.from === id).reduce((s, e) => s + e.bytesPerS, 0),
      sleepShare: wait.sleep + wait.select_sleep,
      ...(isJvm ? { jvm: jvmShare(internal, all, W) } : {}),
    });
  }
  const svc = new Map(services.map((s) => [s.id, s]));
  const inService = (s: Service) => { const set = new Set(s.pids); return (pid: number) => set.has(pid); };
  return {
    snap, W, cpus: snap.cpus, services, svc, edges,
    busyCores: services.reduce((sum, s) => sum + s.cpuCores, 0),
    edge: (from, to) => edges.find((e) => e.from === from && e.to === to),
    futexesOf: (s) => { const has = inService(s); return (snap.futexes ?? []).filter((f) => has(f.tgid)); },
    queuesOf: (s) => { const has = inService(s); return (snap.sockQueues ?? []).filter((q) => has(q.pid)); },
    cgroupCpuOf: (s) => { const has = inService(s); return (snap.cgroupCpu ?? []).filter((c) => c.pids.some(has)); },
    ioLimitsOf: (s) => { const has = inService(s); return (snap.ioLimits ?? []).filter((c) => c.pids.some(has)); },
    peerOf: (q) => { const p = peerPid(q); return p === undefined ? undefined : root(p); },
    isClientOf: (c, s) => {
      const listen = snap.listenPorts;
      if (!listen) return undefined;
      const mine = new Set(c.pids);
      return snap.flows.some((f) => mine.has(f.tgid) && listen.has(f.rport) && !listen.has(f.lport) && (() => { const p = peerPid(f); return p !== undefined && root(p) === s.id; })());
    },
    isClientOfRemote: (c, remote) => {
      const listen = snap.listenPorts;
      if (!listen) return undefined;
      const mine = new Set(c.pids);
      return snap.flows.some((f) => mine.has(f.tgid) && !listen.has(f.lport) && formatHostPort(f.raddr, f.rport) === remote);
    },
  };
}

function jvmShare(internal: ThreadStat[], all: ThreadStat[], W: number): JvmShare {
  const cores = (k: JvmThreadKind) => internal.filter((t) => jvmThreadKind(t.comm) === k).reduce((s, t) => s + t.oncpuNs, 0) / 1e9 / W;
  const total = all.reduce((s, t) => s + t.oncpuNs, 0) / 1e9 / W;
  const gc = internal.filter((t) => jvmThreadKind(t.comm) === 'gc').sort((a, b) => b.oncpuNs - a.oncpuNs)[0];
  const gcCores = cores('gc');
  return {
    gcCores, jitCores: cores('jit'), vmCores: cores('jvm'),
    gcShare: total > 0 ? gcCores / total : 0,
    threads: internal.length,
    ...(gc ? { busiestGc: { tid: gc.tid, comm: gc.comm, cpu: gc.oncpuNs / 1e9 / W } } : {}),
  };
}

/** Which stacks explain each kind of verdict. */
const WHERE_KINDS: Record<VerdictKind, Array<StackSample['kind']> | 'offcpu'> = {
  'cpu-saturated': ['cpu'], 'host-cpu-saturated': ['cpu'], 'runqueue-saturated': ['cpu'], 'cpu-throttled': ['cpu'],
  'lock-contention': ['lock'], 'disk-bound': ['sync', 'write'],
  'pull-limited consumer': 'offcpu', backpressure: 'offcpu', 'slow-dependency': 'offcpu', 'gc-bound': ['cpu'],
};

/** The top user stacks of a service for a verdict: up to 3, each with its share of that time. */
export function whereOf(snap: Snapshot, s: Service, rule: VerdictKind): Where[] {
  const kinds = WHERE_KINDS[rule];
  const pids = new Set(s.pids);
  const mine = (snap.stacks ?? []).filter((x) => pids.has(x.tgid) && (kinds === 'offcpu' ? x.kind !== 'cpu' : kinds.includes(x.kind)));
  const total = mine.reduce((sum, x) => sum + x.ns, 0);
  if (total <= 0) return [];
  // The same code in several processes of the service (a worker pool) is one place.
  const merged = new Map<string, Where>();
  for (const x of mine) {
    const key = `${x.kind} ${x.frames.join(';')}`;
    const w = merged.get(key) ?? { kind: x.kind, share: 0, frames: x.frames };
    w.share += x.ns / total;
    merged.set(key, w);
  }
  return [...merged.values()].sort((a, b) => b.share - a.share).slice(0, 3);
}

export function analyze(snap: Snapshot, opts: { pids?: number[] } = {}): Report {
  const m = buildModel(snap);
  const verdicts: Verdict[] = [];
  const notes: string[] = [];
  for (const rule of RULES) {
    const r = rule.evaluate(m, verdicts);
    verdicts.push(...r.verdicts);
    notes.push(...(r.notes ?? []));
  }
  notes.push(...hostNotes(m, verdicts));
  // One verdict per service: the strongest; the others' findings become its evidence.
  verdicts.sort((a, b) => b.score - a.score);
  const kept: Verdict[] = [];
  for (const v of verdicts) {
    const first = kept.find((k) => k.service === v.service);
    if (first) first.evidence.push(`also ${v.rule}: ${v.summary}`);
    else kept.push(v);
  }
  for (const v of kept.slice(0, 3)) {
    const s = m.svc.get(v.service);
    const where = s ? whereOf(snap, s, v.rule) : [];
    if (where.length) v.where = where;
  }

  let services = m.services;
  let edges = m.edges;
  let shown = kept;
  if (opts.pids?.length) {
    // The given processes and every local process connected to them through TCP flows.
    const byPid = new Map<number, number>();
    for (const s of m.services) for (const p of s.pids) byPid.set(p, s.id);
    const wanted = new Set(opts.pids.map((p) => byPid.get(p) ?? p));
    for (let grew = true; grew;) {
      grew = false;
      for (const e of m.edges) {
        if (typeof e.from !== 'number' || typeof e.to !== 'number') continue;
        if (wanted.has(e.from) !== wanted.has(e.to)) {
          wanted.add(e.from);
          wanted.add(e.to);
          grew = true;
        }
      }
    }
    shown = kept.filter((v) => wanted.has(v.service));
    services = m.services.filter((s) => wanted.has(s.id));
    edges = m.edges.filter((e) => wanted.has(e.from as number) || wanted.has(e.to as number));
    const names = services.map((s) => new RegExp(`\\(pid ${s.id}\\)`));
    notes.splice(0, notes.length, ...notes.filter((n) => names.some((re) => re.test(n))));
  }
  return finish(m.W, services, edges, shown, notes);
}

function finish(windowS: number, services: Service[], edges: Edge[], verdicts: Verdict[], notes: string[]): Report {
  const top = verdicts[0];
  const conclusion = top
    ? `likely bottleneck: ${top.comm} (pid ${top.service}) - ${top.rule}`
    : 'nothing is saturated: no stage is CPU-bound, throttled, disk-bound, lock-bound or falling behind its upstream';
  services.sort((a, b) => b.cpuCores + b.inBytesPerS / 1e6 - (a.cpuCores + a.inBytesPerS / 1e6));
  return { windowS, services, edges, verdicts, notes, saturated: verdicts.length > 0, conclusion };
}
