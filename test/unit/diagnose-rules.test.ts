// diagnose's rule table and service identity on synthetic snapshots (no kernel): each kind of
// bottleneck from the numbers that define it, and its look-alikes that must not be named.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { analyze, type Report } from '../../src/tools/diagnose/analyze.js';
import { RULES } from '../../src/tools/diagnose/rules.js';
import { containerOfCgroup } from '../../src/tools/diagnose/services.js';
import { WAIT_KINDS, type FlowStat, type ProcInfo, type Snapshot, type ThreadStat, type WaitKind } from '../../src/tools/diagnose/collect.js';

const W = 10;
const S = 1e9;

interface T { cpu?: number; runq?: number; waits?: Partial<Record<WaitKind, number>>; calls?: Partial<Record<WaitKind, number>>; io?: number; ioBytes?: number }
function th(tid: number, tgid: number, comm: string, t: T): ThreadStat {
  const waitNs = Object.fromEntries(WAIT_KINDS.map((k) => [k, (t.waits?.[k] ?? 0) * S])) as Record<WaitKind, number>;
  const waitCount = Object.fromEntries(WAIT_KINDS.map((k) => [k, t.calls?.[k] ?? (t.waits?.[k] ? 100 : 0)])) as Record<WaitKind, number>;
  return { tid, tgid, comm, oncpuNs: (t.cpu ?? 0) * S, runqNs: (t.runq ?? 0) * S, syscalls: 1000, ioBytes: t.ioBytes ?? 0, ioCount: t.io ?? 0, waitNs, waitCount };
}
/** One connection: the client (port cport) to the server's listening port sport, both ways. */
function conn(client: number, cport: number, server: number, sport: number, up: [number, number], down: [number, number]): FlowStat[] {
  const end = (tgid: number, lport: number, rport: number, tx: [number, number], rx: [number, number]): FlowStat =>
    ({ tgid, family: 4, laddr: '127.0.0.1', lport, raddr: '127.0.0.1', rport, txBytes: tx[0] * W, txCalls: tx[1] * W, rxBytes: rx[0] * W, rxCalls: rx[1] * W });
  return [end(client, cport, sport, up, down), end(server, sport, cport, down, up)];
}
function snap(procs: Array<[number, string, number, string?]>, threads: ThreadStat[], flows: FlowStat[], extra: Partial<Snapshot> = {}): Snapshot {
  const map = new Map<number, ProcInfo>(procs.map(([pid, comm, ppid, cgroup]) => [pid, { pid, comm, ppid, cgroup: cgroup ?? '/user.slice', cmdline: comm }]));
  const listen = new Set<number>();
  for (const f of flows) if (f.lport < 20000) listen.add(f.lport);
  return { windowS: W, cpus: 2, procs: map, threads, flows, endpoints: new Map(), localAddrs: new Set(['127.0.0.1']), listenPorts: listen, selfPid: 99, ...extra };
}
const top = (r: Report) => r.verdicts[0];
const svcOf = (r: Report, pid: number) => r.services.find((s) => s.pids.includes(pid));

test('the rule table: every rule has a documented reason for each threshold', () => {
  assert.equal(new Set(RULES.map((r) => r.kind)).size, RULES.length);
  for (const r of RULES) {
    assert.ok(r.about.length > 20, r.kind);
    for (const [name, t] of Object.entries(r.thresholds)) assert.ok(Number.isFinite(t.value) && t.why.length > 10, `${r.kind}.${name}`);
  }
});

test('docs/tools/diagnose.md documents every rule and threshold with the value in the code', () => {
  const doc = readFileSync(join(import.meta.dirname, '..', '..', '..', 'docs', 'tools', 'diagnose.md'), 'utf8');
  for (const r of RULES) {
    const at = doc.indexOf(`### ${r.kind}\n`);
    assert.ok(at >= 0, `no section for ${r.kind}`);
    const section = doc.slice(at, doc.indexOf('\n### ', at + 4));
    for (const [name, t] of Object.entries(r.thresholds)) assert.ok(section.includes(`| ${name} | ${t.value} |`), `${r.kind}: ${name} = ${t.value} not documented`);
  }
});

// source(10) -> transform(20) -> sink(30), all python3 children of one launcher (5, python3 too).
function supervised(transformCpu: number, sourceSleep = 0): Snapshot {
  return snap(
    [[5, 'python3', 1], [10, 'python3', 5], [20, 'python3', 5], [30, 'python3', 5]],
    [
      th(5, 5, 'python3', { cpu: 0.01, waits: { other: 9.9 } }),
      th(10, 10, 'python3', { cpu: 0.5, waits: sourceSleep ? { sleep: sourceSleep, write: 0.2 } : { write: 9 } }),
      th(20, 20, 'python3', { cpu: transformCpu, waits: { read: 10 - transformCpu - 0.2 } }),
      th(30, 30, 'python3', { cpu: 0.3, waits: { read: 9.5 } }),
    ],
    [...conn(10, 40001, 20, 7001, [500_000, 500], [0, 0]), ...conn(20, 40002, 30, 7002, [400_000, 500], [0, 0])],
    { sockQueues: [{ pid: 10, laddr: '127.0.0.1', lport: 40001, raddr: '127.0.0.1', rport: 7001, sendQMax: 2_500_000, sendQAvg: 2_000_000, recvQMax: 0, recvQAvg: 0, samples: 20 }] },
  );
}

test('identity: stages started by one supervisor with the same executable are separate services', () => {
  const r = analyze(supervised(9.7));
  for (const pid of [5, 10, 20, 30]) assert.deepEqual(svcOf(r, pid)?.pids, [pid], `pid ${pid}: ${JSON.stringify(r.services.map((s) => s.pids))}`);
  assert.deepEqual(r.edges.map((e) => [e.from, e.to]), [[10, 20], [20, 30]]);
  assert.equal(top(r)?.rule, 'cpu-saturated');
  assert.equal(top(r)?.service, 20, 'the stage, not the supervisor');
  // The source blocked on the transform's full buffers is evidence for it, not another verdict.
  assert.ok(top(r)!.evidence.some((e) => /upstream: python3 \(pid 10\) is blocked sending to it 95%/.test(e)), top(r)!.evidence.join('\n'));
  assert.equal(r.verdicts.length, 1, JSON.stringify(r.verdicts));
});

test('cpu-saturated on a busy host: a stage that never blocks is named though other work takes part of its CPU', () => {
  const line = (cpu: number, runq: number) => {
    const s = supervised(cpu);
    const t = s.threads.find((x) => x.tid === 20)!;
    t.runqNs = runq * S;
    t.waitNs.read = Math.max(0, 10 - cpu - runq - 0.2) * S;
    // other work on the host: many short bursts (a build), no thread of it saturated
    s.procs.set(40, { pid: 40, comm: 'make', ppid: 1, cgroup: '/user.slice', cmdline: 'make' });
    for (let i = 0; i < 4; i++) s.threads.push(th(41 + i, 40, 'cc1', { cpu: 2.4, waits: { sleep: 7 } }));
    return analyze(s);
  };
  const r = line(7.0, 2.6);
  assert.equal(top(r)?.rule, 'cpu-saturated', JSON.stringify(r.verdicts.map((v) => [v.rule, v.service])));
  assert.equal(top(r)?.service, 20);
  assert.match(top(r)!.summary, /on CPU 70% of the time and waiting for a CPU 26%/);
  assert.ok(!r.verdicts.some((v) => v.service === 20 && v.rule === 'host-cpu-saturated'));
  // The same stage waiting for input a third of the time is not CPU-bound.
  const idle = line(6.0, 0.5);
  assert.ok(!idle.verdicts.some((v) => v.service === 20 && v.rule === 'cpu-saturated'), JSON.stringify(idle.verdicts.map((v) => [v.rule, v.service])));
});

test('identity: a timer-paced source under a supervisor is noted as sleeping, and nothing is saturated', () => {
  const r = analyze(supervised(2, 9));
  assert.deepEqual(r.verdicts, []);
  assert.ok(r.notes.some((n) => /^python3 \(pid 10\) is sleeping on a timer/.test(n)), r.notes.join('\n'));
  assert.ok(r.services.find((s) => s.id === 10)!.outBytesPerS > 0, 'the where-the-time-goes table has the source');
});

test('identity: forked workers fed by their dispatcher are one pool; the dispatcher is its own service', () => {
  const procs: Array<[number, string, number]> = [[100, 'python3', 1]];
  const threads = [th(100, 100, 'python3', { cpu: 0.3, waits: { input: 9 } })];
  const flows: FlowStat[] = [];
  for (let i = 1; i <= 6; i++) {
    procs.push([100 + i, 'python3', 100]);
    threads.push(th(100 + i, 100 + i, 'python3', { cpu: 3.1, runq: 6.5, waits: { read: 0.3 } }));
    flows.push(...conn(100 + i, 41000 + i, 100, 7100, [1000, 100], [1000, 100]));
  }
  const r = analyze(snap(procs, threads, flows));
  assert.deepEqual(svcOf(r, 101)?.pids, [101, 102, 103, 104, 105, 106]);
  assert.deepEqual(svcOf(r, 100)?.pids, [100]);
  const v = top(r)!;
  assert.equal(v.rule, 'runqueue-saturated');
  assert.ok([101, 102, 103, 104, 105, 106].includes(v.service));
  assert.ok(!r.verdicts.some((x) => x.service === 100), JSON.stringify(r.verdicts));
});

test('identity: same-named children that talk only to outside clients stay one service (database backends)', () => {
  const r = analyze(snap(
    [[20, 'postgres', 1], [21, 'postgres', 20], [22, 'postgres', 20], [30, 'client', 1]],
    [th(21, 21, 'postgres', { cpu: 1, waits: { input: 8 } }), th(22, 22, 'postgres', { cpu: 1, waits: { input: 8 } }), th(30, 30, 'client', { cpu: 1, waits: { sleep: 8 } })],
    [...conn(30, 40001, 21, 5432, [1000, 10], [1000, 10]), ...conn(30, 40002, 22, 5432, [1000, 10], [1000, 10])],
  ));
  assert.deepEqual(svcOf(r, 21)?.pids, [20, 21, 22]);
  assert.equal(svcOf(r, 21)?.id, 20);
});

test('identity: a container is one service whatever its processes are called', () => {
  const id = 'ab'.repeat(32);
  assert.equal(containerOfCgroup(`/system.slice/docker-${id}.scope`), id.slice(0, 12));
  assert.equal(containerOfCgroup(`/machine.slice/libpod-${id}.scope/container`), id.slice(0, 12));
  assert.equal(containerOfCgroup(`/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/cri-containerd-${id}.scope`), id.slice(0, 12));
  assert.equal(containerOfCgroup(`/kubepods/burstable/pod0f/${id}`), id.slice(0, 12));
  assert.equal(containerOfCgroup('/user.slice/user-0.slice/session-1.scope'), undefined);
  const cg = `/machine.slice/libpod-${id}.scope`;
  const r = analyze(snap(
    [[40, 'nginx', 1, cg], [41, 'worker', 40, cg], [50, 'sh', 1]],
    [th(40, 40, 'nginx', { cpu: 0.2, waits: { input: 9 } }), th(41, 41, 'worker', { cpu: 0.5, waits: { input: 9 } }), th(50, 50, 'sh', { cpu: 0.1, waits: { other: 9 } })],
    [],
  ));
  const s = svcOf(r, 41)!;
  assert.deepEqual(s.pids, [40, 41]);
  assert.equal(s.container, id.slice(0, 12));
});

test('cpu-throttled: a quota-limited stage is named with its throttling counters, not the host', () => {
  const snapshot = snap(
    [[10, 'python3', 1], [20, 'python3', 1, '/throttled'], [30, 'python3', 1]],
    [th(10, 10, 'python3', { cpu: 0.2, waits: { write: 9 } }), th(20, 20, 'python3', { cpu: 2.5, runq: 7.3, waits: { read: 0.1 } }), th(30, 30, 'python3', { cpu: 0.1, waits: { read: 9.8 } })],
    [...conn(10, 40001, 20, 7001, [100_000, 100], [0, 0]), ...conn(20, 40002, 30, 7002, [100_000, 100], [0, 0])],
    { cgroupCpu: [{ path: '/throttled', pids: [20], quotaCores: 0.25, periods: 100, throttledPeriods: 97, throttledNs: 7.2 * S }] },
  );
  const r = analyze(snapshot);
  assert.equal(top(r)?.rule, 'cpu-throttled');
  assert.equal(top(r)?.service, 20);
  assert.ok(top(r)!.evidence.some((e) => /quota 0\.25 cores; throttled 97 of 100 periods/.test(e)), top(r)!.evidence.join('\n'));
  // The same stage far below its quota: not throttled.
  const free = analyze({ ...snapshot, cgroupCpu: [{ path: '/throttled', pids: [20], quotaCores: 4, periods: 100, throttledPeriods: 0, throttledNs: 0 }] });
  assert.ok(!free.verdicts.some((v) => v.rule === 'cpu-throttled'), JSON.stringify(free.verdicts));
});

test('disk-bound: fsync per message, with its latency, the disk and the io limit', () => {
  const r = analyze(snap(
    [[10, 'python3', 1], [20, 'python3', 1]],
    [th(10, 10, 'python3', { cpu: 0.2, waits: { write: 9 } }), th(20, 20, 'python3', { cpu: 0.3, waits: { sync: 9.2, read: 0.2 }, calls: { sync: 500 }, io: 500, ioBytes: 2_048_000 })],
    conn(10, 40001, 20, 7001, [50_000, 50], [0, 0]),
    {
      disks: [{ name: 'loop3', reads: 0, writes: 500, readBytes: 0, writeBytes: 2_048_000, readMsAvg: 0, writeMsAvg: 0.2, busy: 0.1 }],
      ioLimits: [{ path: '/zoo-disk', pids: [20], device: 'loop3', writeIops: 50 }],
    },
  ));
  const v = top(r)!;
  assert.equal(v.rule, 'disk-bound');
  assert.equal(v.service, 20);
  assert.ok(v.evidence.some((e) => /fsync\/fdatasync 95% of its time: 50 calls\/s, 18\.4 ms each/.test(e)), v.evidence.join('\n'));
  assert.ok(v.evidence.some((e) => /limits its I\/O on loop3 to 50 writes\/s/.test(e)), v.evidence.join('\n'));
});

test('lock-contention: threads taking turns on one futex; an idle pool parked on a condition variable is not', () => {
  const threads = [1, 2, 3, 4, 5, 6, 7, 8].map((i) => th(200 + i, 200, 'app', { cpu: 1.2, waits: { lock: 8.5 }, calls: { lock: 2000 } }));
  const busy = snap([[200, 'app', 1], [300, 'sink', 1]], threads, conn(200, 40001, 300, 7001, [10_000, 100], [0, 0]),
    { futexes: [{ tgid: 200, uaddr: '0x5555deadbeef', waitNs: 68 * S, waits: 16000, waiters: 8 }] });
  const v = top(analyze(busy))!;
  assert.equal(v.rule, 'lock-contention');
  assert.equal(v.service, 200);
  assert.ok(v.evidence.some((e) => /8 threads wait on the futex at 0x5555deadbeef: 1600 waits\/s/.test(e)), v.evidence.join('\n'));
  // Parked workers: each waits once for the whole window.
  const idle = snap([[200, 'app', 1]], [1, 2, 3, 4].map((i) => th(200 + i, 200, 'app', { cpu: 0.01, waits: { lock: 9.9 }, calls: { lock: 1 } })), [],
    { futexes: [{ tgid: 200, uaddr: '0x1', waitNs: 39.6 * S, waits: 4, waiters: 4 }] });
  assert.deepEqual(analyze(idle).verdicts, []);
});

test('backpressure: a writer blocked on full buffers names the slow reader; a busy writer with empty queues does not', () => {
  const make = (sendQ: number) => snap(
    [[10, 'python3', 1], [20, 'python3', 1]],
    [th(10, 10, 'python3', { cpu: 0.5, waits: { write: 9.3 } }), th(20, 20, 'python3', { cpu: 0.4, waits: { sleep: 9, read: 0.5 } })],
    conn(10, 40001, 20, 7001, [400_000, 100], [0, 0]),
    { sockQueues: [
      { pid: 10, laddr: '127.0.0.1', lport: 40001, raddr: '127.0.0.1', rport: 7001, sendQMax: sendQ, sendQAvg: sendQ, recvQMax: 0, recvQAvg: 0, samples: 20 },
      { pid: 20, laddr: '127.0.0.1', lport: 7001, raddr: '127.0.0.1', rport: 40001, sendQMax: 0, sendQAvg: 0, recvQMax: 3_000_000, recvQAvg: 2_900_000, samples: 20 },
    ] },
  );
  const v = top(analyze(make(2_600_000)))!;
  assert.equal(v.rule, 'backpressure');
  assert.equal(v.service, 20);
  assert.ok(v.evidence.some((e) => /blocked sending to it 95% of its time, with up to 2\.5 MiB queued/.test(e)), v.evidence.join('\n'));
  assert.ok(v.evidence.some((e) => /2\.9 MiB unread in its receive queue/.test(e)), v.evidence.join('\n'));
  assert.deepEqual(analyze(make(100)).verdicts, []);
});

test('backpressure towards another host is a note, not a guess', () => {
  const f: FlowStat = { tgid: 10, family: 4, laddr: '10.0.0.1', lport: 40001, raddr: '10.9.9.9', rport: 9000, txBytes: 4_000_000, txCalls: 1000, rxBytes: 0, rxCalls: 0 };
  const r = analyze(snap([[10, 'python3', 1]], [th(10, 10, 'python3', { cpu: 0.5, waits: { write: 9.3 } })], [f]));
  assert.deepEqual(r.verdicts, []);
  assert.ok(r.notes.some((n) => /blocked sending 95% of its time to 10\.9\.9\.9:9000, on another host/.test(n)), r.notes.join('\n'));
});

test('slow-dependency: a client waiting on replies names its server; a sink waiting for input does not', () => {
  const r = analyze(snap(
    [[10, 'python3', 1], [20, 'python3', 1], [30, 'python3', 1]],
    [th(10, 10, 'python3', { cpu: 0.3, waits: { read: 9.5 }, calls: { read: 800 } }), th(20, 20, 'python3', { cpu: 0.4, waits: { sleep: 9, input: 0.5 } }), th(30, 30, 'python3', { cpu: 0.1, waits: { input: 9.8 } })],
    [...conn(10, 40001, 20, 7001, [8_000, 80], [8_000, 80]), ...conn(10, 40002, 30, 7002, [8_000, 80], [0, 0])],
  ));
  const v = top(r)!;
  assert.equal(v.rule, 'slow-dependency');
  assert.equal(v.service, 20);
  assert.ok(v.evidence.some((e) => /waits 11\.9 ms per call/.test(e)), v.evidence.join('\n'));
  assert.equal(r.verdicts.length, 1, JSON.stringify(r.verdicts));
});

test('stacks: the top verdict carries where its time goes, by the kind of its rule', () => {
  const snapshot = supervised(9.7);
  snapshot.stacks = [
    { tgid: 20, kind: 'cpu', ns: 7 * S, count: 10, frames: ['crunch (transform.py)', 'main'] },
    { tgid: 20, kind: 'cpu', ns: 2 * S, count: 10, frames: ['parse (transform.py)', 'main'] },
    { tgid: 20, kind: 'read', ns: 0.3 * S, count: 10, frames: ['read (libc.so.6)'] },
    { tgid: 10, kind: 'write', ns: 9 * S, count: 10, frames: ['send (libc.so.6)'] },
  ];
  const v = top(analyze(snapshot))!;
  assert.deepEqual(v.where?.map((w) => [w.kind, w.frames[0], Math.round(w.share * 100)]), [['cpu', 'crunch (transform.py)', 78], ['cpu', 'parse (transform.py)', 22]]);
});

// ---------- JVMs: the JVM's own threads are not the application's work; GC-bound is a verdict

/** A JVM (pid 200) fed by a source (pid 210): application threads, GC threads, compilers. */
function jvm(gcCpu: number, appCpu: number, opts: { gcThreads?: number; compilerCpu?: number } = {}): Snapshot {
  const n = opts.gcThreads ?? 2;
  const threads = [
    th(200, 200, 'java', { waits: { lock: 10 } }), // the launcher, joined on main
    th(201, 200, 'java', { cpu: appCpu, waits: { read: 10 - appCpu - 0.1 } }),
    ...Array.from({ length: n }, (_, i) => th(202 + i, 200, `GC Thread#${i}`, { cpu: gcCpu / n, waits: { lock: 10 - gcCpu / n } })),
    th(210 - 1, 200, 'C2 CompilerThre', { cpu: opts.compilerCpu ?? 0, waits: { sleep: 10 - (opts.compilerCpu ?? 0) } }),
    th(208, 200, 'VM Thread', { cpu: 0.05, waits: { lock: 9.9 } }),
    th(207, 200, 'VM Periodic Tas', { cpu: 0.01, waits: { sleep: 9.9 } }),
    th(210, 210, 'python3', { cpu: 0.3, waits: { sleep: 9.6 } }),
  ];
  return snap([[200, 'java', 1], [210, 'python3', 1]], threads, conn(210, 40100, 200, 7200, [200_000, 100], [0, 0]));
}

test('gc-bound: a JVM whose GC threads use most of its CPU is named, with its GC share', () => {
  const r = analyze(jvm(14, 3.5)); // 2 GC threads on CPU 70% each, the application thread 35%
  const v = top(r)!;
  assert.equal(v?.rule, 'gc-bound', JSON.stringify(r.verdicts.map((x) => [x.rule, x.service])));
  assert.equal(v.service, 200);
  assert.match(v.summary, /java \(pid 200\) is GC-bound: its garbage collector uses 80% of its CPU \(1\.40 cores\)/);
  assert.ok(v.evidence.some((e) => /GC threads 1\.40 \(80%\).*application threads 0\.35 \(2 threads\)/.test(e)), v.evidence.join('\n'));
  assert.ok(v.evidence.some((e) => /busiest GC thread, GC Thread#\d \(20\d\), is on CPU 70%/.test(e)), v.evidence.join('\n'));
  const s = r.services.find((x) => x.id === 200)!;
  assert.equal(s.threads, 2, 'application threads only');
  assert.equal(s.jvm?.threads, 5);
  assert.ok(Math.abs(s.cpuCores - 1.756) < 0.001, `all of the JVM's CPU: ${s.cpuCores}`);
  assert.ok(Math.abs(s.busiestThreadCpu - 0.35) < 1e-9, 'the busiest thread is the application thread, not a GC thread');
  assert.ok(r.notes.some((n) => /^java \(pid 200\) is a JVM: GC 80% of its CPU \(1\.40 cores\).*its 5 JVM threads are not counted as application work \(2 application threads\)/.test(n)), r.notes.join('\n'));
});

test('gc-bound look-alikes: a JVM busy with its own work, an idle JVM, and GC threads saturated below the share', () => {
  // The application thread is CPU-bound (95%); the GC takes 10%: cpu-saturated, not gc-bound.
  const busy = analyze(jvm(1, 9.5));
  assert.equal(top(busy)?.rule, 'cpu-saturated', JSON.stringify(busy.verdicts.map((x) => [x.rule, x.service])));
  assert.match(top(busy)!.summary, /thread java \(201\) is on CPU 95%/);
  assert.ok(!busy.verdicts.some((v) => v.rule === 'gc-bound'));
  // An idle JVM with a periodic collection: below gcCores, nothing named.
  const idle = analyze(jvm(0.5, 0.2));
  assert.deepEqual(idle.verdicts.map((v) => v.rule), []);
  // A busy compiler thread (JIT warm-up) is not the application's CPU-bound thread.
  const warm = analyze(jvm(0.2, 1, { compilerCpu: 9.6 }));
  assert.ok(!warm.verdicts.some((v) => v.service === 200), JSON.stringify(warm.verdicts.map((x) => [x.rule, x.summary])));
  // Half the CPU in GC exactly is the threshold; 40% is not GC-bound.
  const some = analyze(jvm(4, 6));
  assert.ok(!some.verdicts.some((v) => v.rule === 'gc-bound'), JSON.stringify(some.verdicts.map((x) => [x.rule, x.summary])));
});

test('a process that is not a JVM keeps threads named like JVM ones as its own', () => {
  const r = analyze(snap([[300, 'worker', 1]], [th(300, 300, 'worker', { waits: { sleep: 10 } }), th(301, 300, 'Finalizer', { cpu: 9.6, waits: { read: 0.2 } })], []));
  assert.equal(top(r)?.rule, 'cpu-saturated');
  assert.equal(r.services[0]!.jvm, undefined);
});
