// diagnose's rules on synthetic snapshots (no kernel): the verdicts follow from the numbers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyze } from '../../src/tools/diagnose/analyze.js';
import { command, type DiagnoseOptions } from '../../src/tools/diagnose/index.js';
import { WAIT_KINDS, type FlowStat, type Snapshot, type ThreadStat, type WaitKind } from '../../src/tools/diagnose/collect.js';

const W = 10; // seconds observed
const S = 1e9;

function thread(tid: number, tgid: number, comm: string, cpuS: number, waits: Partial<Record<WaitKind, number>>): ThreadStat {
  const waitNs = Object.fromEntries(WAIT_KINDS.map((k) => [k, (waits[k] ?? 0) * S])) as Record<WaitKind, number>;
  const waitCount = Object.fromEntries(WAIT_KINDS.map((k) => [k, waits[k] ? 100 : 0])) as Record<WaitKind, number>;
  return { tid, tgid, comm, oncpuNs: cpuS * S, runqNs: 0, syscalls: 1000, ioBytes: 0, ioCount: 0, waitNs, waitCount };
}

/** One TCP connection a<->b on loopback: bytes/s and messages/s each way over W seconds. */
function conn(a: number, aPort: number, b: number, bPort: number, abBps: number, abMps: number, baBps: number, baMps: number): FlowStat[] {
  const end = (tgid: number, lport: number, rport: number, tx: number, txc: number, rx: number, rxc: number): FlowStat =>
    ({ tgid, family: 4, laddr: '127.0.0.1', lport, raddr: '127.0.0.1', rport, txBytes: tx * W, txCalls: txc * W, rxBytes: rx * W, rxCalls: rxc * W });
  return [end(a, aPort, bPort, abBps, abMps, baBps, baMps), end(b, bPort, aPort, baBps, baMps, abBps, abMps)];
}

function pipeline(dbToLoaderBps: number, loaderCpuS = 0.2): Snapshot {
  const procs = new Map([
    [10, { pid: 10, comm: 'producer', ppid: 1, cgroup: '/', cmdline: '' }],
    [20, { pid: 20, comm: 'db', ppid: 1, cgroup: '/', cmdline: '' }],
    [21, { pid: 21, comm: 'db', ppid: 20, cgroup: '/', cmdline: '' }],
    [22, { pid: 22, comm: 'db', ppid: 20, cgroup: '/', cmdline: '' }],
    [30, { pid: 30, comm: 'loader', ppid: 1, cgroup: '/', cmdline: '' }],
    [40, { pid: 40, comm: 'store', ppid: 1, cgroup: '/', cmdline: '' }],
  ]);
  return {
    windowS: W, cpus: 2, procs, endpoints: new Map(), localAddrs: new Set(['127.0.0.1']), listenPorts: new Set([5432, 6379]), selfPid: 99,
    threads: [
      thread(10, 10, 'producer', 0.5, { select_sleep: 6, input: 3 }),
      thread(21, 21, 'db', 1, { input: 9 }),
      thread(22, 22, 'db', 1, { input: 9 }),
      thread(30, 30, 'loader', loaderCpuS, { sleep: 5, input: 4 }),
      thread(40, 40, 'store', 0.3, { input: 9.5 }),
    ],
    flows: [
      ...conn(10, 40001, 21, 5432, 400_000, 300, 8_000, 300),   // producer -> db backend 21
      ...conn(30, 40002, 22, 5432, 2_000, 20, dbToLoaderBps, 20), // loader <-> db backend 22
      ...conn(30, 40003, 40, 6379, 1.2 * dbToLoaderBps, 20, 2_000, 20), // loader -> store: what it loads
    ],
  };
}

test('a consumer pulling in small round trips while its upstream accumulates is the top suspect', () => {
  const r = analyze(pipeline(50_000));
  const top = r.verdicts[0];
  assert.ok(top);
  assert.equal(top.service, 30);
  assert.equal(top.rule, 'pull-limited consumer');
  assert.ok(top.evidence.some((e) => /receives 400\.0 KB\/s .* sends only 50\.0 KB\/s/.test(e)), top.evidence.join('\n'));
  assert.ok(top.evidence.some((e) => /request\/response: 20 requests\/s/.test(e)));
  // Backends of the same name are grouped under their parent: one "db" service with both ends.
  assert.ok(r.edges.some((e) => e.from === 10 && e.to === 20));
  assert.ok(r.services.some((s) => s.id === 20 && s.threads === 2));
  assert.match(r.conclusion, /likely bottleneck: loader \(pid 30\)/);
});

test('a consumer that drains more than its upstream receives is not a suspect', () => {
  const r = analyze(pipeline(1_000_000));
  assert.ok(!r.verdicts.some((v) => v.service === 30), JSON.stringify(r.verdicts));
  assert.equal(r.saturated, false);
  assert.match(r.conclusion, /nothing is saturated/);
});

test('a thread on CPU nearly all the time is CPU-saturated', () => {
  const r = analyze(pipeline(1_000_000, 9.5));
  const v = r.verdicts.find((x) => x.service === 30);
  assert.equal(v?.rule, 'cpu-saturated');
});

test('select() with no fds is a timed sleep, reported as such', () => {
  const r = analyze(pipeline(50_000));
  const note = r.notes.find((n) => n.startsWith('producer (pid 10)'));
  assert.match(note ?? '', /sleeping on a timer 63% of its time \(select\/poll with no file descriptors/);
});

test('-p keeps the processes connected to the given one', () => {
  const snap = pipeline(50_000);
  snap.threads.push(thread(50, 50, 'other', 9.8, {}));
  snap.procs.set(50, { pid: 50, comm: 'other', ppid: 1, cgroup: '/', cmdline: '' });
  assert.ok(analyze(snap).verdicts.some((v) => v.service === 50));
  const scoped = analyze(snap, { pids: [10] });
  assert.ok(!scoped.verdicts.some((v) => v.service === 50));
  assert.deepEqual(scoped.services.map((s) => s.id).sort(), [10, 20, 30, 40]);
});

test('short-lived children: exited records go to the service that started them; busy CPUs name it', () => {
  // Two shells (100, 200) running fork+exec loops: almost all of their CPU is in children that exited
  // (kernel records with tid 0 keyed by the parent), plus one child (1234) still running at the end,
  // not in /proc any more either; no single thread is busy.
  const procs = new Map([
    [100, { pid: 100, comm: 'bash', ppid: 1, cgroup: '/', cmdline: '' }],
    [200, { pid: 200, comm: 'bash', ppid: 1, cgroup: '/', cmdline: '' }],
  ]);
  const exited = (key: number, cpuS: number): ThreadStat => ({ ...thread(0, key, 'bash', cpuS, {}), ppid: 1 });
  const snap: Snapshot = {
    windowS: W, cpus: 2, procs, endpoints: new Map(), localAddrs: new Set(['127.0.0.1']), selfPid: 99, flows: [],
    threads: [thread(100, 100, 'bash', 1, { other: 8 }), thread(200, 200, 'bash', 1, { other: 8 }), { ...thread(1234, 1234, 'true', 0.1, {}), ppid: 200 }],
    exited: [exited(100, 8), exited(200, 7.9)],
  };
  const r = analyze(snap);
  assert.equal(r.saturated, true);
  for (const id of [100, 200]) {
    const s = r.services.find((x) => x.id === id)!;
    assert.ok(Math.abs(s.cpuCores - 0.9) < 1e-9, `${id}: ${s.cpuCores}`);
    assert.equal(s.threads, id === 200 ? 2 : 1, 'exited records are not threads (200 has the gone child 1234)');
    const v = r.verdicts.find((x) => x.service === id);
    assert.equal(v?.rule, 'host-cpu-saturated');
    assert.ok(v.evidence.some((e) => /exited during the window/.test(e)), v.evidence.join('\n'));
  }
  assert.ok(!r.services.some((s) => s.id === 1234), 'a gone child is part of its parent service');
  // The same load spread thin: not saturated.
  const light = analyze({ ...snap, cpus: 8 });
  assert.equal(light.saturated, false, JSON.stringify(light.verdicts));
});

test('short-lived processes that talk TCP to each other stay two ends of an edge, not their parent talking to itself', () => {
  // A shell (300) starts a receiver (301) and a sender (302), both multi-threaded and gone by the
  // end: the kernel folded their main threads into the shell's exited record and their other
  // threads into records of their own (ppid: the shell). The sender moved B bytes to the receiver.
  const B = 3_210_987;
  const procs = new Map([[300, { pid: 300, comm: 'bash', ppid: 1, cgroup: '/', cmdline: '' }]]);
  const exited = (key: number, ppid: number, comm: string): ThreadStat => ({ ...thread(0, key, comm, 0.2, {}), ppid });
  const [tx, rx] = conn(302, 40100, 301, 40200, B / W, 3, 0, 0);
  const snap: Snapshot = {
    windowS: W, cpus: 2, procs, endpoints: new Map(), localAddrs: new Set(['127.0.0.1']), selfPid: 99,
    threads: [thread(300, 300, 'bash', 0.1, { other: 9 })],
    exited: [exited(300, 1, 'node'), exited(301, 300, 'node'), exited(302, 300, 'node')],
    flows: [tx!, { ...rx!, txBytes: 0, txCalls: 0 }],
  };
  const r = analyze(snap);
  assert.deepEqual(r.edges.map((e) => [e.from, e.to, Math.round(e.bytesPerS * W)]), [[302, 301, B]]);
  assert.deepEqual(r.services.map((s) => s.id).sort(), [300, 301, 302]);
  // Without TCP, the same processes are the shell's work (as in fork+exec loops).
  const quiet = analyze({ ...snap, flows: [] });
  assert.deepEqual(quiet.services.map((s) => s.id), [300]);
});

test('arguments: -d with units and long durations, default window, PID lists, bad input', () => {
  const parse = (argv: string[]) => command.parse(argv) as DiagnoseOptions;
  assert.equal(parse([]).durationS, 10);
  assert.equal(parse(['-d', '4']).durationS, 4);
  assert.equal(parse(['-d', '10s']).durationS, 10);
  assert.equal(parse(['-d', '500ms']).durationS, 0.5);
  assert.equal(parse(['--duration', '2m']).durationS, 120);
  assert.equal(parse(['-d', '2592000']).durationS, 2592000);
  assert.deepEqual(parse(['-p', '12,34,12']).pids, [12, 34]);
  assert.equal(parse(['--json']).json, true);
  for (const bad of [['-d', '0'], ['-d', 'x'], ['-d', '400d'], ['-p', 'x'], ['-p', '0'], ['extra'], ['--nope']]) {
    assert.throws(() => parse(bad), (e: Error & { code?: string }) => e.code === 'BAD_ARGS', bad.join(' '));
  }
});
