// bpfkit never observes itself (bpf/include/self.bpf.h): its own process is left out in the
// kernel, so its own opens never show up, and a tool whose output goes to the file system it
// traces does not feed on its own writes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BPFKIT, kernelTest, leftoverPrograms, sleep, startTool } from './helpers.js';
import { makeLoopFs, type LoopFs } from './storagefs.js';
import { RingSource, openRingSource } from '../src/toolkit/stream.js';
import { syscallNumber } from '../src/core/syscalls/index.js';

const isRoot = process.getuid?.() === 0;

/** opensnoop's object in this process, with bpfkit_self_tgid as load() sets it, or forced to 0. */
function openSession(selfTgid?: number): RingSource {
  return openRingSource({
    object: 'opensnoop',
    programs: [{ name: 'opensnoop_exit', tracepoint: 'sys_exit' }],
    bufferMb: 1,
    constants: {
      nr_open: syscallNumber('open') ?? -1,
      nr_openat: syscallNumber('openat') ?? -1,
      nr_openat2: syscallNumber('openat2') ?? -1,
      ...(selfTgid === undefined ? {} : { bpfkit_self_tgid: selfTgid }),
    },
  });
}

function collect(s: RingSource): Array<{ pid: number; path: string }> {
  const view = s.struct('open_event');
  const pidAt = view.field('pid').offset;
  const pathAt = view.field('path').offset;
  const out: Array<{ pid: number; path: string }> = [];
  s.start((b) => {
    const end = b.indexOf(0, pathAt);
    out.push({ pid: b.readUInt32LE(pidAt), path: b.toString('utf8', pathAt, end < 0 ? undefined : end) });
  });
  return out;
}

test('the loader sets bpfkit_self_tgid: this process\'s opens are left out in the kernel, a child\'s are not', kernelTest(), async () => {
  const mine = `/nonexistent-bpfkit-self-${process.pid}/mine`;
  const child = `/nonexistent-bpfkit-self-${process.pid}/child`;
  const auto = openSession();           // load() sets bpfkit_self_tgid = process.pid
  const control = openSession(0);       // explicitly 0: excludes nothing (proves the test can fail)
  try {
    const seenAuto = collect(auto);
    const seenControl = collect(control);
    for (let i = 0; i < 3; i++) assert.equal(existsSync(mine), false); // stat, not open: no event
    for (let i = 0; i < 3; i++) assert.throws(() => openSync(mine, 'r'));
    const r = spawnSync('cat', [child], { encoding: 'utf8' });
    assert.notEqual(r.status, 0);
    await sleep(100);
    while (auto.consume(1 << 16) > 0);
    while (control.consume(1 << 16) > 0);
    const paths = (evs: Array<{ pid: number; path: string }>, p: string) => evs.filter((e) => e.path === p);
    assert.equal(paths(seenAuto, mine).length, 0, 'own opens must not be seen');
    assert.equal(seenAuto.filter((e) => e.pid === process.pid).length, 0, 'nothing of this process');
    assert.equal(paths(seenAuto, child).length, 1, 'the child\'s open is seen');
    assert.equal(paths(seenControl, mine).length, 3, 'without bpfkit_self_tgid the same opens are seen');
    assert.equal(paths(seenControl, child).length, 1);
  } finally {
    auto.close();
    control.close();
  }
});

test('bpfkit opensnoop: another process\'s opens are reported, bpfkit\'s own pid never', kernelTest(), async () => {
  const path = `/nonexistent-bpfkit-self-cli-${process.pid}`;
  const tool = startTool(['opensnoop', '--json']);
  await tool.ready;
  for (let i = 0; i < 5; i++) spawnSync('cat', [path]);
  await sleep(300);
  const run = await tool.stop('SIGINT');
  assert.equal(run.code, 0, run.stderr);
  const recs = run.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { pid?: number; path?: string });
  assert.equal(recs.filter((r) => r.path === path).length, 5, 'the workload\'s opens');
  assert.deepEqual(recs.filter((r) => r.pid === tool.proc.pid), [], 'bpfkit\'s own opens');
  assert.deepEqual(leftoverPrograms('opensnoop'), []);
});

let fs: LoopFs | undefined;
before(() => { if (isRoot) fs = makeLoopFs(); });
after(() => fs?.cleanup());

test('fsslower -t ext4 0 writing its output to ext4: no feedback loop on its own writes', kernelTest(), async () => {
  const name = `fsslower-out-${process.pid}.ndjson`;
  const file = join(fs!.dir, name);
  const fd = openSync(file, 'w');
  const proc = spawn(process.execPath, [BPFKIT, 'fsslower', '-t', 'ext4', '--json', '0'], {
    env: { ...process.env, BPFKIT_READY: '1' },
    stdio: ['ignore', fd, 'pipe'],
  });
  closeSync(fd);
  let stderr = '';
  const ready = new Promise<void>((res, rej) => {
    proc.stderr!.on('data', (d) => { stderr += d; if (stderr.includes('BPFKIT_READY\n')) res(); });
    proc.on('close', () => rej(new Error(`fsslower exited before ready: ${stderr}`)));
  });
  const done = new Promise<number | null>((res) => proc.on('close', (code) => res(code)));
  await ready;
  await sleep(1000);
  const early = statSync(file).size;
  await sleep(4000);
  const late = statSync(file).size;
  proc.kill('SIGINT');
  assert.equal(await done, 0, stderr);
  const evs = readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { pid?: number; file?: string });
  // Other processes may touch the host's ext4 root meanwhile; none of it is bpfkit's own output.
  assert.deepEqual(evs.filter((e) => e.file === name), [], 'events on its own output file');
  assert.deepEqual(evs.filter((e) => e.pid === proc.pid), [], 'events of bpfkit itself');
  // With feedback every line written would produce another: thousands in 4 s. Without, the file
  // grows only by the host's own ext4 activity.
  const grown = evs.length;
  assert.ok(late - early < 1_000_000, `output grew by ${late - early} bytes in 4 s (${grown} events)`);
  assert.deepEqual(leftoverPrograms('fsslower'), []);
});
