// From raw counters to a diagnosis: group processes into services, match both ends of local
// TCP connections into a flow graph, describe where each service's time goes, and rank
// bottleneck suspects by general rules about saturation and backlog (never by program names).
import type { FlowStat, Snapshot, ThreadStat, WaitKind } from './collect.js';
import { WAIT_KINDS } from './collect.js';
import { formatHostPort, unmapIPv4 } from '../../core/net.js';

export interface TimeShare {
  /** Fractions (0..1) of the service's accounted thread time. */
  cpu: number; runq: number; wait: Record<WaitKind, number>;
}

export interface Service {
  id: number;            // root pid
  comm: string;
  pids: number[];
  threads: number;
  cgroup: string;
  cmdline: string;
  /** CPU use in cores (1.0 = one core busy all the time), with that of its children that exited. */
  cpuCores: number;
  /** Part of cpuCores used by threads and child processes that exited during the window. */
  exitedCpuCores: number;
  /** Share of the window the busiest thread was on CPU. */
  busiestThreadCpu: number;
  busiestThread?: { tid: number; comm: string };
  share: TimeShare;
  ioBytesPerS: number;
  inBytesPerS: number;
  outBytesPerS: number;
  /** Share of accounted time in timed sleeps, select/poll with no fds counted separately. */
  sleepShare: number;
}

export interface Edge {
  from: number | string; // service id, or "addr:port" of a remote peer
  to: number | string;   // service id, or "addr:port" of a remote peer
  bytesPerS: number;
  msgsPerS: number;
}

export interface Verdict {
  service: number;
  comm: string;
  rule: 'pull-limited consumer' | 'cpu-saturated' | 'host-cpu-saturated' | 'disk-bound';
  score: number;
  summary: string;
  evidence: string[];
  next: string[];
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

const fmtRate = (bps: number): string =>
  bps >= 1e6 ? `${(bps / 1e6).toFixed(2)} MB/s` : bps >= 1e3 ? `${(bps / 1e3).toFixed(1)} KB/s` : `${bps.toFixed(0)} B/s`;
const pct = (x: number): string => `${(x * 100).toFixed(0)}%`;
const label = (s: Service): string => `${s.comm} (pid ${s.id})`;
export { fmtRate };

/**
 * Pids of a service: a process and its descendants of the same name (forked workers), and any
 * descendant that exited during the window (`gone`: pid -> parent, from the kernel's records):
 * the work of a short-lived child belongs to whoever started it, as in the kernel's cutime.
 * Except a gone process that was an end of a TCP connection (`talkers`): it is a node of the flow
 * graph of its own, as a live one is. Folded into its parent, the traffic between two children of
 * one shell would become the shell talking to itself, and vanish from the graph.
 */
function serviceRoot(pid: number, snap: Snapshot, gone: ReadonlyMap<number, number>, talkers: ReadonlySet<number>): number {
  let cur = pid;
  for (let i = 0; i < 64; i++) {
    const p = snap.procs.get(cur);
    if (!p) {
      if (talkers.has(cur)) return cur;
      const pp = gone.get(cur);
      if (pp === undefined || pp <= 1 || pp === cur || pp === snap.selfPid) return cur;
      cur = pp;
      continue;
    }
    const parent = p ? snap.procs.get(p.ppid) : undefined;
    if (!p || !parent || p.ppid <= 1 || parent.comm !== p.comm) return cur;
    cur = parent.pid;
  }
  return cur;
}

export function analyze(snap: Snapshot, opts: { pids?: number[] } = {}): Report {
  const W = Math.max(snap.windowS, 0.001);
  const exited = snap.exited ?? [];
  // Parents of processes that are no longer in /proc, as the kernel saw them.
  const gone = new Map<number, number>();
  for (const t of [...snap.threads, ...exited]) {
    if (t.ppid && !snap.procs.has(t.tgid) && !gone.has(t.tgid)) gone.set(t.tgid, t.ppid);
  }
  const talkers = new Set(snap.flows.map((f) => f.tgid));
  const rootOf = new Map<number, number>();
  const root = (pid: number) => {
    let r = rootOf.get(pid);
    if (r === undefined) { r = serviceRoot(pid, snap, gone, talkers); rootOf.set(pid, r); }
    return r;
  };

  // Threads -> services; exited threads and processes (tid 0 records) -> the service that ran them.
  const byService = new Map<number, ThreadStat[]>();
  for (const t of [...snap.threads, ...exited]) {
    if (t.tgid === snap.selfPid) continue;
    const id = root(t.tgid);
    const list = byService.get(id) ?? [];
    list.push(t);
    byService.set(id, list);
  }

  // Flows: match each connection end to its peer's process.
  const ownerOf = new Map<string, number>();
  const seenEnds = new Set<string>(); // "tgid addr port" of every connection end with a record
  for (const f of snap.flows) {
    ownerOf.set(`${unmapIPv4(f.laddr)} ${f.lport}`, f.tgid);
    seenEnds.add(`${f.tgid} ${unmapIPv4(f.laddr)} ${f.lport}`);
  }
  // An IPv4 peer seen from a dual-stack socket is ::ffff:a.b.c.d: ends are matched by unmapped address.
  const peerOf = (f: FlowStat): number | undefined => ownerOf.get(`${unmapIPv4(f.raddr)} ${f.rport}`) ?? snap.endpoints.get(`${unmapIPv4(f.raddr)} ${f.rport}`);
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
    const peerPid = peerOf(f);
    const isLocal = snap.localAddrs.has(unmapIPv4(f.raddr));
    if (peerPid !== undefined && isLocal) {
      const peer = root(peerPid);
      addEdge(me, peer, f.txBytes, f.txCalls);
      // The peer's own record carries its sends; only count our receives when it has none.
      if (!seenEnds.has(`${peerPid} ${unmapIPv4(f.raddr)} ${f.rport}`)) addEdge(peer, me, f.rxBytes, f.rxCalls);
      if (!byService.has(peer)) byService.set(peer, []);
    } else {
      const remote = formatHostPort(f.raddr, f.rport);
      addEdge(me, remote, f.txBytes, f.txCalls);
      addEdge(remote, me, f.rxBytes, f.rxCalls);
    }
    if (!byService.has(me)) byService.set(me, []);
  }
  const edges = [...edgeMap.values()].sort((a, b) => b.bytesPerS - a.bytesPerS);

  // Services.
  const services: Service[] = [];
  for (const [id, threads] of byService) {
    const info = snap.procs.get(id);
    const accounted = (t: ThreadStat) => t.oncpuNs + t.runqNs + WAIT_KINDS.reduce((s, k) => s + t.waitNs[k], 0);
    const total = threads.reduce((s, t) => s + accounted(t), 0) || 1;
    const wait = {} as Record<WaitKind, number>;
    for (const k of WAIT_KINDS) wait[k] = threads.reduce((s, t) => s + t.waitNs[k], 0) / total;
    const live = threads.filter((t) => t.tid !== 0);
    const busiest = live.reduce<ThreadStat | undefined>((b, t) => (!b || t.oncpuNs > b.oncpuNs ? t : b), undefined);
    const pids = [...new Set([id, ...live.map((t) => t.tgid)])];
    services.push({
      id,
      comm: info?.comm ?? live[0]?.comm ?? threads[0]?.comm ?? '?',
      pids,
      threads: live.length,
      cgroup: info?.cgroup ?? '',
      cmdline: info?.cmdline ?? '',
      cpuCores: threads.reduce((s, t) => s + t.oncpuNs, 0) / 1e9 / W,
      exitedCpuCores: threads.reduce((s, t) => s + (t.tid === 0 ? t.oncpuNs : 0), 0) / 1e9 / W,
      busiestThreadCpu: busiest ? busiest.oncpuNs / 1e9 / W : 0,
      busiestThread: busiest ? { tid: busiest.tid, comm: busiest.comm } : undefined,
      share: { cpu: threads.reduce((s, t) => s + t.oncpuNs, 0) / total, runq: threads.reduce((s, t) => s + t.runqNs, 0) / total, wait },
      ioBytesPerS: threads.reduce((s, t) => s + t.ioBytes, 0) / W,
      inBytesPerS: edges.filter((e) => e.to === id).reduce((s, e) => s + e.bytesPerS, 0),
      outBytesPerS: edges.filter((e) => e.from === id).reduce((s, e) => s + e.bytesPerS, 0),
      sleepShare: wait.sleep + wait.select_sleep,
    });
  }
  const svc = new Map(services.map((s) => [s.id, s]));
  const edge = (from: number | string, to: number | string) => edges.find((e) => e.from === from && e.to === to);

  const verdicts: Verdict[] = [];
  const notes: string[] = [];

  // Rule: a consumer that pulls from an upstream service in request/response round trips,
  // while the upstream receives much more data than it hands to that consumer.
  for (const c of services) {
    for (const down of edges.filter((e) => e.to === c.id && typeof e.from === 'number')) {
      const p = svc.get(down.from as number);
      if (!p) continue;
      const up = edge(c.id, p.id);
      if (!up || up.msgsPerS <= 0 || down.msgsPerS <= 0) continue;
      const roundTrip = Math.min(up.msgsPerS, down.msgsPerS) / Math.max(up.msgsPerS, down.msgsPerS) >= 0.2;
      const feeders = edges.filter((e) => e.to === p.id && e.from !== c.id);
      const inflow = feeders.reduce((s, e) => s + e.bytesPerS, 0);
      const ratio = inflow / Math.max(down.bytesPerS, 1);
      if (!roundTrip || ratio < 2 || inflow < 10_000 || p.busiestThreadCpu >= 0.8) continue;
      const feederNames = feeders.map((e) => (typeof e.from === 'number' ? label(svc.get(e.from)!) : e.from)).join(', ');
      const downstream = edges.filter((e) => e.from === c.id && e.to !== p.id).map((e) => svc.get(e.to as number)).filter((s): s is Service => !!s);
      const evidence = [
        `${label(p)} receives ${fmtRate(inflow)} from ${feederNames} but sends only ${fmtRate(down.bytesPerS)} to ${label(c)} (${ratio.toFixed(1)}x less): data accumulates upstream of ${c.comm}`,
        `${c.comm} <-> ${p.comm} is request/response: ${up.msgsPerS.toFixed(0)} requests/s of ${(up.bytesPerS / up.msgsPerS).toFixed(0)} B, ${down.msgsPerS.toFixed(0)} replies/s of ${(down.bytesPerS / down.msgsPerS).toFixed(0)} B on average: small batches per round trip`,
        `${c.comm}'s time: ${pct(c.share.cpu)} on CPU, ${pct(c.sleepShare)} in timed sleeps, ${pct(c.share.wait.input + c.share.wait.read)} waiting for input/replies, ${pct(c.share.wait.lock)} on locks (${c.threads} threads seen)`,
        `${p.comm} is not saturated: its busiest thread is on CPU ${pct(p.busiestThreadCpu)} of the time`,
        ...downstream.map((d) => `downstream ${label(d)} receives ${fmtRate(edge(c.id, d.id)?.bytesPerS ?? 0)} and spends ${pct(d.share.wait.input + d.sleepShare)} of its time waiting for input`),
      ];
      verdicts.push({
        service: c.id, comm: c.comm, rule: 'pull-limited consumer', score: Math.min(10, ratio),
        summary: `${label(c)} does not keep up with ${p.comm}: it pulls data in small request/response batches while ${p.comm}'s input piles up`,
        evidence,
        next: [`bpfkit trace -p ${c.id} -e sendto,recvfrom,write,read`, `bpfkit syscount -L -p ${c.id}`, `bpfkit tcptop -p ${c.id} -i 10`],
      });
    }
  }

  // Rule: a thread on CPU nearly all the time is saturated (its work cannot go faster).
  for (const s of services) {
    if (s.busiestThreadCpu >= 0.85 || s.cpuCores >= 0.85 * snap.cpus) {
      const downstream = edges.filter((e) => e.from === s.id).map((e) => svc.get(e.to as number)).filter((d): d is Service => !!d);
      verdicts.push({
        service: s.id, comm: s.comm, rule: 'cpu-saturated', score: 2 + 3 * s.busiestThreadCpu,
        summary: `${label(s)} is CPU-bound: thread ${s.busiestThread?.comm} (${s.busiestThread?.tid}) is on CPU ${pct(s.busiestThreadCpu)} of the time`,
        evidence: [
          `${s.comm} uses ${s.cpuCores.toFixed(2)} cores; time: ${pct(s.share.cpu)} on CPU, ${pct(s.share.runq)} waiting for a CPU`,
          ...downstream.map((d) => `downstream ${label(d)} spends ${pct(d.share.wait.input + d.sleepShare)} of its time waiting for input`),
        ],
        next: [`bpfkit profile -p ${s.id} -F 99 10 --svg ${s.comm}.svg`],
      });
    }
  }

  // Rule: the host's CPUs are all busy, though no single thread is (many processes or threads,
  // short-lived ones included): the services that use most of it are named.
  const busyCores = services.reduce((sum, s) => sum + s.cpuCores, 0);
  if (busyCores >= 0.85 * snap.cpus) {
    // Named: each service using at least half of a CPU's fair share of the load, at most 8.
    let named = 0;
    for (const s of [...services].sort((a, b) => b.cpuCores - a.cpuCores)) {
      if (s.cpuCores < Math.max(0.2, (0.5 * busyCores) / snap.cpus) || named >= 8) break;
      named++;
      if (verdicts.some((v) => v.service === s.id && v.rule === 'cpu-saturated')) continue;
      const evidence = [
        `the host's ${snap.cpus} CPUs are ${pct(Math.min(1, busyCores / snap.cpus))} busy (${busyCores.toFixed(2)} cores in use); ${s.comm} uses ${s.cpuCores.toFixed(2)} of them (${pct(s.cpuCores / busyCores)})`,
        `no single thread of ${s.comm} is saturated (busiest on CPU ${pct(s.busiestThreadCpu)} of the time): the load comes from many threads or processes`,
      ];
      if (s.exitedCpuCores > 0.01) evidence.push(`${s.exitedCpuCores.toFixed(2)} cores were used by threads or child processes of ${s.comm} that exited during the window (short-lived processes)`);
      verdicts.push({
        service: s.id, comm: s.comm, rule: 'host-cpu-saturated', score: 1.5 + 3 * Math.min(1, s.cpuCores / snap.cpus),
        summary: `the CPUs are saturated and ${label(s)} uses ${s.cpuCores.toFixed(2)} cores of ${snap.cpus}${s.exitedCpuCores > 0.01 ? `, ${s.exitedCpuCores.toFixed(2)} of them in processes that exited` : ''}`,
        evidence,
        next: [`bpfkit execsnoop`, `bpfkit profile -F 49 10`],
      });
    }
  }

  // Rule: most of the time waiting for the disk.
  for (const s of services) {
    if (s.share.wait.sync >= 0.5) {
      verdicts.push({
        service: s.id, comm: s.comm, rule: 'disk-bound', score: 1 + 4 * s.share.wait.sync,
        summary: `${label(s)} waits for the disk: ${pct(s.share.wait.sync)} of its time in fsync/fdatasync`,
        evidence: [`block I/O issued: ${fmtRate(s.ioBytesPerS)}`],
        next: [`bpfkit ext4slower -p ${s.id} 1`, 'bpfkit biotop', 'bpfkit biolatency -D'],
      });
    }
  }

  // Host-level: runnable but not running (CPU contention) is a property of the host, not of
  // a stage; it is reported as a note so that it cannot hide or fake a stage's verdict.
  const starved = services.filter((s) => s.share.runq >= 0.25 && s.cpuCores > 0.05).sort((a, b) => b.share.runq - a.share.runq);
  if (starved.length) {
    notes.push(`CPU contention: ${starved.slice(0, 5).map((s) => `${label(s)} waits for a CPU ${pct(s.share.runq)} of its time`).join('; ')} (host has ${snap.cpus} CPUs; next: bpfkit profile -F 49 10)`);
  }

  // Timed sleepers in the flow graph: a stage that mostly sleeps on a timer paces itself; it is
  // not waiting for I/O (select/poll with no file descriptors is a sleep too).
  for (const s of services) {
    if (s.inBytesPerS + s.outBytesPerS === 0) continue;
    if (s.sleepShare < 0.1) continue;
    const how = s.share.wait.select_sleep >= s.share.wait.sleep
      ? 'select/poll with no file descriptors and a timeout, which is a sleep, not waiting for I/O'
      : 'nanosleep/clock_nanosleep';
    notes.push(`${label(s)} is sleeping on a timer ${pct(s.sleepShare)} of its time (${how}); ${pct(s.share.wait.input)} waiting for input, ${pct(s.share.cpu)} on CPU; it sends ${fmtRate(s.outBytesPerS)}`);
  }

  verdicts.sort((a, b) => b.score - a.score);
  let kept = verdicts;
  if (opts.pids?.length) {
    // The given processes and every local process connected to them through TCP flows.
    const wanted = new Set(opts.pids.map(root));
    for (let grew = true; grew;) {
      grew = false;
      for (const e of edges) {
        if (typeof e.from !== 'number' || typeof e.to !== 'number') continue;
        if (wanted.has(e.from) !== wanted.has(e.to)) {
          wanted.add(e.from);
          wanted.add(e.to);
          grew = true;
        }
      }
    }
    kept = verdicts.filter((v) => wanted.has(v.service));
    return finish(W, services.filter((s) => wanted.has(s.id)), edges.filter((e) => wanted.has(e.from as number) || wanted.has(e.to as number)), kept, notes);
  }
  return finish(W, services, edges, kept, notes);
}

function finish(windowS: number, services: Service[], edges: Edge[], verdicts: Verdict[], notes: string[]): Report {
  const saturated = verdicts.length > 0;
  const top = verdicts[0];
  const conclusion = top
    ? `likely bottleneck: ${top.comm} (pid ${top.service}) - ${top.rule}`
    : 'nothing is saturated: no stage is CPU-bound, disk-bound or falling behind its upstream';
  services.sort((a, b) => b.cpuCores + b.inBytesPerS / 1e6 - (a.cpuCores + a.inBytesPerS / 1e6));
  return { windowS, services, edges, verdicts, notes, saturated, conclusion };
}
