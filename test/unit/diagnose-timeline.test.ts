// diagnose --timeline on synthetic records (no kernel): slices, names, flows, scope, cap, file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WAIT_KINDS } from '../../src/tools/diagnose/collect.js';
import { TimelineRecorder, matchMessages, writeTimeline, type TimelineEvents } from '../../src/tools/diagnose/timeline.js';
import { command } from '../../src/tools/diagnose/index.js';

const T0 = 5e9; // ktime of the window start
const MS = 1e6;
const SLEEP = WAIT_KINDS.indexOf('sleep');
const READ = WAIT_KINDS.indexOf('read');
const A = { laddr: '127.0.0.1', lport: 5000, raddr: '127.0.0.1', rport: 6000 };
const B = { laddr: '127.0.0.1', lport: 6000, raddr: '127.0.0.1', rport: 5000 };

interface Ev { ph: string; pid: number; tid: number; ts: number; dur?: number; name: string; id?: number; args?: Record<string, unknown> }
interface Trace { traceEvents: Ev[]; displayTimeUnit: string; otherData: Record<string, unknown> }

function write(ev: TimelineEvents, scope: Parameters<typeof writeTimeline>[2] = {}): Trace {
  const dir = mkdtempSync(join(tmpdir(), 'tl-'));
  try {
    const path = join(dir, 'trace.json');
    const w = writeTimeline(path, ev, scope);
    assert.ok(!existsSync(`${path}.tmp`), 'the temporary file is renamed');
    const text = readFileSync(path, 'utf8');
    assert.equal(w.bytes, Buffer.byteLength(text));
    const trace = JSON.parse(text) as Trace;
    assert.equal(w.events, trace.traceEvents.length);
    return trace;
  } finally {
    rmSync(dir, { recursive: true });
  }
}

/** A worker (101 of process 100) runnable, on CPU 200 ms, asleep 300 ms, sending two messages read by 200 in one go. */
function scenario(max?: number): TimelineRecorder {
  const r = new TimelineRecorder(T0, Date.UTC(2026, 0, 1), max);
  r.name(100, 100, 'writer', 'writer');
  r.name(101, 100, 'worker', 'writer');
  r.name(200, 200, 'sink', 'sink');
  r.switch(T0 + 1 * MS, 0, 0, 0, 0, 101, 0, 0, 0); // runnable since before the window
  r.switch(T0 + 201 * MS, 101, T0 + 1 * MS, 1, SLEEP, 0, 0, 0, 0); // ran 200 ms, sleeps
  r.switch(T0 + 520 * MS, 0, 0, 0, 0, 101, T0 + 201 * MS, T0 + 501 * MS, SLEEP); // slept 300 ms, waited 19 ms for a CPU
  r.msg(true, 101, T0 + 522 * MS, T0 + 521 * MS, 10, 1010, 'a', () => A);
  r.msg(true, 101, T0 + 524 * MS, T0 + 523 * MS, 10, 1020, 'a', () => A);
  r.switch(T0 + 525 * MS, 0, 0, 0, 0, 200, T0 + 100 * MS, T0 + 522 * MS, READ); // sink woken by the first send
  r.msg(false, 200, T0 + 531 * MS, T0 + 525 * MS, 20, 1020, 'b', () => B);
  r.switch(T0 + 532 * MS, 200, T0 + 525 * MS, 1, READ, 0, 0, 0, 0);
  return r;
}

const slices = (t: Trace, tid: number, name?: string) => t.traceEvents.filter((e) => e.ph === 'X' && e.tid === tid && (name === undefined || e.name === name));

test('slices: running, runnable and blocked by kind, closed at the end of the window', () => {
  const t = write(scenario().finish(T0 + 1000 * MS));
  assert.equal(t.displayTimeUnit, 'ms');
  const worker = slices(t, 101).filter((e) => !e.name.startsWith('send'));
  assert.deepEqual(worker.map((e) => [e.name, e.ts, e.dur]), [
    ['runnable', 0, 1000],
    ['running', 1000, 200_000],
    ['blocked: sleep', 201_000, 300_000],
    ['runnable', 501_000, 19_000],
    ['running', 520_000, 480_000], // still on CPU at the end
  ]);
  assert.ok(worker.every((e) => e.pid === 100));
  const sink = slices(t, 200).filter((e) => !e.name.startsWith('recv'));
  assert.deepEqual(sink.map((e) => [e.name, e.ts, e.dur]), [
    ['blocked: read', 100_000, 422_000],
    ['runnable', 522_000, 3000],
    ['running', 525_000, 7000],
    ['blocked: read', 532_000, 468_000],
  ]);
  assert.equal(t.otherData.windowS, 1);
  assert.equal(t.otherData.truncated, false);
});

test('a switch seen half (kernel missed the other): a gap, never a slice from the window start', () => {
  const r = new TimelineRecorder(T0, Date.UTC(2026, 0, 1));
  r.name(300, 300, 'hog', 'hog');
  r.switch(T0 + 10 * MS, 0, 0, 0, 0, 300, T0 + 2 * MS, T0 + 5 * MS, SLEEP); // on CPU at 10 ms
  r.switch(T0 + 20 * MS, 300, T0 + 10 * MS, 0, 0, 0, 0, 0, 0); // preempted at 20 ms
  r.switch(T0 + 40 * MS, 300, 0, 0, 0, 0, 0, 0, 0); // preempted again: its switch in was missed
  r.switch(T0 + 50 * MS, 0, 0, 0, 0, 300, T0 + 40 * MS, T0 + 40 * MS, 0); // back at 50 ms
  r.switch(T0 + 60 * MS, 0, 0, 0, 0, 301, 0, 0, 0); // first seen: runnable since the window start
  assert.equal(r.missedSwitches, 1);
  const t = write(r.finish(T0 + 70 * MS));
  assert.deepEqual(slices(t, 300).map((e) => [e.name, e.ts, e.dur]), [
    ['blocked: sleep', 2000, 3000],
    ['runnable', 5000, 5000],
    ['running', 10_000, 10_000],
    ['runnable', 40_000, 10_000],
    ['running', 50_000, 20_000],
  ]);
  assert.deepEqual(slices(t, 301).map((e) => [e.name, e.ts, e.dur]), [['runnable', 0, 60_000], ['running', 60_000, 10_000]]);
});

test('names: process_name and thread_name metadata; given names win for processes', () => {
  const t = write(scenario().finish(T0 + 1000 * MS), { names: new Map([[200, 'sink-svc']]) });
  const meta = t.traceEvents.filter((e) => e.ph === 'M').map((e) => [e.name, e.pid, e.tid, e.args?.name]);
  assert.deepEqual(meta, [
    ['process_name', 100, 100, 'writer'],
    ['thread_name', 100, 101, 'worker'],
    ['process_name', 200, 200, 'sink-svc'],
    ['thread_name', 200, 200, 'sink'],
  ]);
});

test('flows: each send to the receive that read its last byte, inside the message slices', () => {
  const ev = scenario().finish(T0 + 1000 * MS);
  assert.deepEqual(matchMessages(ev), [[0, 2], [1, 2]]);
  const t = write(ev);
  const sends = slices(t, 101).filter((e) => e.name === 'send 10 B');
  const recv = slices(t, 200, 'recv 20 B');
  assert.equal(sends.length, 2);
  assert.equal(recv.length, 1);
  assert.deepEqual(recv[0]!.args, { bytes: 20, from: '127.0.0.1:5000', to: '127.0.0.1:6000' });
  const starts = t.traceEvents.filter((e) => e.ph === 's');
  const ends = t.traceEvents.filter((e) => e.ph === 'f');
  assert.equal(starts.length, 2);
  assert.deepEqual(ends.map((e) => e.id), starts.map((e) => e.id));
  for (const [i, s] of starts.entries()) {
    assert.equal(s.tid, 101);
    assert.ok(s.ts > sends[i]!.ts && s.ts < sends[i]!.ts + sends[i]!.dur!, 'the start is inside its send slice');
    const f = ends[i]!;
    assert.equal(f.tid, 200);
    assert.ok(f.ts > recv[0]!.ts && f.ts < recv[0]!.ts + recv[0]!.dur!, 'the end is inside the receive slice');
    assert.ok(f.ts >= s.ts);
  }
  // the message slices nest in the running slices of their threads
  for (const m of [...sends, ...recv]) {
    assert.ok(slices(t, m.tid, 'running').some((r) => r.ts <= m.ts && m.ts + m.dur! <= r.ts + r.dur!), `${m.name} at ${m.ts} is inside a running slice`);
  }
});

test('flows: a send read in two pieces has one flow (to the piece with its end); sequence numbers wrap', () => {
  const r = new TimelineRecorder(T0);
  r.name(1, 1, 'a', 'a');
  r.name(2, 2, 'b', 'b');
  const top = 2 ** 32 - 4;
  r.msg(true, 1, T0 + 2, T0 + 1, 10, (top + 10) >>> 0, 'a', () => A); // bytes [top, top + 10): wraps
  r.msg(false, 2, T0 + 4, T0 + 3, 4, top, 'b', () => B); // the first 4 (up to 2^32)
  r.msg(false, 2, T0 + 6, T0 + 5, 6, (top + 10) >>> 0, 'b', () => B); // the rest
  r.msg(true, 1, T0 + 8, T0 + 7, 5, (top + 15) >>> 0, 'a', () => A); // never read in the window
  const ev = r.finish(T0 + 10);
  assert.deepEqual(matchMessages(ev), [[0, 2]]);
});

test('-p scope: only the given processes, and flows only between kept ends', () => {
  const t = write(scenario().finish(T0 + 1000 * MS), { pids: new Set([200]) });
  assert.deepEqual([...new Set(t.traceEvents.map((e) => e.pid))], [200]);
  assert.equal(t.traceEvents.filter((e) => e.ph === 's' || e.ph === 'f').length, 0);
  assert.deepEqual(t.otherData.scope, [200]);
});

test('cap: recording stops at the cap, open slices end there, the file says so', () => {
  const ev = scenario(3).finish(T0 + 1000 * MS);
  assert.equal(ev.truncated, true);
  const t = write(ev);
  assert.equal(t.otherData.truncated, true);
  assert.match(String(t.otherData.truncatedNote), /stopped recording/);
  // the third record (4 slices) reached the cap; the window ends at the first record not kept (the send at 522 ms)
  assert.equal(t.otherData.windowS, 0.522);
  assert.ok(t.traceEvents.every((e) => e.ph === 'M' || e.ts + (e.dur ?? 0) <= 522_000));
  assert.equal(slices(t, 101, 'running').at(-1)!.dur, 2000, 'the worker is on CPU until the cut');
  assert.equal(t.traceEvents.filter((e) => e.name.startsWith('send')).length, 0);
});

test('--timeline parsing: a file name, empty rejected', () => {
  assert.equal((command.parse(['--timeline', '/tmp/x.json']) as { timeline?: string }).timeline, '/tmp/x.json');
  assert.equal((command.parse([]) as { timeline?: string }).timeline, undefined);
  assert.throws(() => command.parse(['--timeline', '']), /empty file name/);
});
