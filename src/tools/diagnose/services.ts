// Service identity: which processes diagnose treats as one stage of the pipeline.
//
// The rule (docs/tools/diagnose.md, "Services"):
//  1. A container is one service (its cgroup names it).
//  2. Otherwise a family is one service: a process and its descendants with the same command
//     name (forked workers, PostgreSQL's backends under the postmaster). A process that exited
//     during the window belongs to whoever started it, whatever its name (as the kernel's
//     cutime does), unless it was an end of a TCP connection.
//  3. Processes that exchange data with each other are never one service: a candidate group
//     with TCP traffic inside is split by role, the members that send to and receive from the
//     same members inside it (a worker pool fed by its dispatcher) staying together. Members
//     with no traffic inside the group join their parent's part.
import type { Snapshot } from './collect.js';
import { unmapIPv4 } from '../../core/net.js';
import { parseContainerCgroup } from '../../core/containers.js';

export interface ServiceGroups {
  /** pid -> service id (the group's root pid: the member whose parent is outside, lowest first). */
  serviceOf(pid: number): number;
  /** service id -> member pids (live and exited, as far as they were seen). */
  members: Map<number, number[]>;
  /** service id -> container id (short), when the service is a container. */
  containers: Map<number, string>;
}

/** The container a cgroup path belongs to (Docker, Podman, containerd, CRI-O, Kubernetes), short id. */
export function containerOfCgroup(path: string): string | undefined {
  return parseContainerCgroup(path)?.id.slice(0, 12);
}

/** Pid-level TCP exchange between local processes: sender -> receivers. */
export function talkGraph(snap: Snapshot): Map<number, Set<number>> {
  const ownerOf = new Map<string, number>();
  for (const f of snap.flows) ownerOf.set(`${unmapIPv4(f.laddr)} ${f.lport}`, f.tgid);
  const sends = new Map<number, Set<number>>();
  const add = (from: number, to: number) => {
    if (from === to) return;
    const s = sends.get(from) ?? new Set<number>();
    s.add(to);
    sends.set(from, s);
  };
  for (const f of snap.flows) {
    if (!snap.localAddrs.has(unmapIPv4(f.raddr))) continue;
    const key = `${unmapIPv4(f.raddr)} ${f.rport}`;
    const peer = ownerOf.get(key) ?? snap.endpoints.get(key);
    if (peer === undefined) continue;
    if (f.txBytes > 0) add(f.tgid, peer);
    if (f.rxBytes > 0) add(peer, f.tgid);
  }
  return sends;
}

export function groupServices(snap: Snapshot): ServiceGroups {
  const exited = snap.exited ?? [];
  const sends = talkGraph(snap);
  const talkers = new Set<number>(snap.flows.map((f) => f.tgid));
  // Parents of processes no longer in /proc, as the kernel saw them.
  const gone = new Map<number, number>();
  for (const t of [...snap.threads, ...exited]) {
    if (t.ppid && !snap.procs.has(t.tgid) && !gone.has(t.tgid)) gone.set(t.tgid, t.ppid);
  }
  const all = new Set<number>([...snap.procs.keys(), ...gone.keys(), ...talkers]);
  for (const t of [...snap.threads, ...exited]) all.add(t.tgid);
  for (const [a, bs] of sends) { all.add(a); for (const b of bs) all.add(b); }
  all.delete(snap.selfPid);

  const parentOf = (pid: number): number | undefined => {
    const p = snap.procs.get(pid);
    const pp = p ? p.ppid : gone.get(pid);
    return pp !== undefined && pp > 1 && pp !== pid && pp !== snap.selfPid ? pp : undefined;
  };
  const container = (pid: number): string | undefined => {
    const cg = snap.procs.get(pid)?.cgroup;
    return cg ? containerOfCgroup(cg) : undefined;
  };

  // Candidate groups: containers, then families (child folded into parent).
  const folded = new Map<number, number>(); // pid -> candidate root
  const candidate = (pid: number, depth = 0): number => {
    const known = folded.get(pid);
    if (known !== undefined) return known;
    let root = pid;
    const parent = parentOf(pid);
    if (parent !== undefined && depth < 64 && !container(pid)) {
      const p = snap.procs.get(pid);
      const pp = snap.procs.get(parent);
      const goneNonTalker = !p && !talkers.has(pid);
      if (goneNonTalker || (p && pp && pp.comm === p.comm && !container(parent))) root = candidate(parent, depth + 1);
    }
    folded.set(pid, root);
    return root;
  };
  const candidates = new Map<string, number[]>();
  for (const pid of all) {
    const c = container(pid);
    const key = c ? `c:${c}` : `f:${candidate(pid)}`;
    const list = candidates.get(key) ?? [];
    list.push(pid);
    candidates.set(key, list);
  }

  const svcOf = new Map<number, number>();
  const members = new Map<number, number[]>();
  const containers = new Map<number, string>();
  for (const [key, pids] of candidates) {
    for (const part of splitByRole(pids, sends, parentOf)) {
      const inside = new Set(part);
      const roots = part.filter((p) => { const pp = parentOf(p); return pp === undefined || !inside.has(pp); }).sort((a, b) => a - b);
      const id = roots[0] ?? Math.min(...part);
      members.set(id, part.sort((a, b) => a - b));
      for (const p of part) svcOf.set(p, id);
      if (key.startsWith('c:')) containers.set(id, key.slice(2));
    }
  }
  return { serviceOf: (pid) => svcOf.get(pid) ?? pid, members, containers };
}

/**
 * Split a candidate group so that no two members that exchange data share a part. Members are
 * keyed by their role inside the group: whom they send to and receive from there.
 */
function splitByRole(pids: number[], sends: Map<number, Set<number>>, parentOf: (pid: number) => number | undefined): number[][] {
  if (pids.length < 2) return [pids];
  const inside = new Set(pids);
  const out = new Map<number, number[]>();
  const inn = new Map<number, number[]>();
  let internal = false;
  for (const a of pids) {
    for (const b of sends.get(a) ?? []) {
      if (!inside.has(b)) continue;
      internal = true;
      (out.get(a) ?? out.set(a, []).get(a)!).push(b);
      (inn.get(b) ?? inn.set(b, []).get(b)!).push(a);
    }
  }
  if (!internal) return [pids];
  const roleOf = new Map<number, string>();
  const sig = (p: number) => `${[...new Set(out.get(p) ?? [])].sort((a, b) => a - b).join(',')}|${[...new Set(inn.get(p) ?? [])].sort((a, b) => a - b).join(',')}`;
  const resolve = (p: number, depth = 0): string => {
    const known = roleOf.get(p);
    if (known !== undefined) return known;
    let role: string;
    if (out.has(p) || inn.has(p)) role = sig(p);
    else {
      // Silent inside the group: with its parent's part (or a part of its own at the top).
      const pp = parentOf(p);
      role = pp !== undefined && inside.has(pp) && depth < 64 ? resolve(pp, depth + 1) : `silent:${p}`;
    }
    roleOf.set(p, role);
    return role;
  };
  const parts = new Map<string, number[]>();
  for (const p of pids) {
    const r = resolve(p);
    (parts.get(r) ?? parts.set(r, []).get(r)!).push(p);
  }
  // A part whose members talk to each other (possible only for silent chains) is split per pid.
  const result: number[][] = [];
  for (const part of parts.values()) {
    const set = new Set(part);
    const talksInside = part.some((a) => [...(sends.get(a) ?? [])].some((b) => set.has(b)));
    if (talksInside) for (const p of part) result.push([p]);
    else result.push(part);
  }
  return result;
}
