// RingBufferReader under load: bounded slices (consume(limit), pending(), drain() bounded by
// what was committed), close() never drains, BpfObject.detach() stops producers with the maps
// still readable, and a tool under an open() flood still answers SIGINT promptly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { openSync } from 'node:fs';
import { BpfObject, bpfObjectPath } from '../src/core/bpf.js';
import { RingBufferReader } from '../src/core/ringbuf.js';
import { syscallNumber } from '../src/core/syscalls/index.js';
import { BPFKIT, compileC, kernelTest, leftoverPrograms, sleep } from './helpers.js';

function openObject(tgid: number): BpfObject {
  const obj = BpfObject.openFile(bpfObjectPath('opensnoop'));
  obj.setConstants({
    nr_open: syscallNumber('open') ?? -1,
    nr_openat: syscallNumber('openat') ?? -1,
    nr_openat2: syscallNumber('openat2') ?? -1,
    filter_tgid: tgid,
  });
  obj.selectPrograms(['opensnoop_exit']);
  obj.load();
  obj.attachAll();
  return obj;
}

const OPENS = `
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv) {
  char buf[8];
  long n = atol(argv[1]);
  if (read(0, buf, sizeof buf) <= 0) return 1;
  for (long i = 0; n < 0 || i < n; i++) open("/nonexistent-bpfkit-ringbuf", O_RDONLY);
  return 0;
}
`;

test('consume(limit) delivers at most limit, pending() tells what is left, drain() the rest; detach keeps the ring readable; close never drains', kernelTest(), async () => {
  const bin = compileC(OPENS);
  const child = spawn(bin, ['1000'], { stdio: ['pipe', 'ignore', 'inherit'] });
  const exited = new Promise<void>((res) => child.on('close', () => res()));
  const obj = openObject(child.pid!);
  let seen = 0;
  child.stdin!.write('go\n');
  await exited;
  obj.detach();
  // Made after the producer ended and no await below: the poll callback cannot take records.
  const reader = new RingBufferReader(obj.map('events'), () => { seen++; });
  try {
    assert.ok(reader.pending());
    assert.equal(reader.consume(10), 10);
    assert.equal(seen, 10);
    assert.ok(reader.pending());
    assert.equal(reader.drain(), 990);
    assert.equal(seen, 1000);
    assert.equal(reader.pending(), false);
    assert.equal(reader.consume(), 0);
    // Producers detached: more opens produce nothing.
    spawnSync(bin, ['100'], { input: 'go\n' });
    assert.equal(reader.pending(), false);
  } finally {
    reader.close();
    obj.close();
  }

  // close() with records unread returns at once and delivers nothing.
  const child2 = spawn(bin, ['500'], { stdio: ['pipe', 'ignore', 'inherit'] });
  const exited2 = new Promise<void>((res) => child2.on('close', () => res()));
  const obj2 = openObject(child2.pid!);
  let seen2 = 0;
  child2.stdin!.write('go\n');
  await exited2;
  const reader2 = new RingBufferReader(obj2.map('events'), () => { seen2++; });
  assert.ok(reader2.pending());
  reader2.close();
  assert.equal(seen2, 0);
  assert.equal(reader2.pending(), false);
  obj2.close();
  assert.deepEqual(leftoverPrograms('opensnoop'), []);
});

test('bpfkit opensnoop under an open() flood exits within a second of SIGINT', kernelTest(), async () => {
  const flood = spawn(compileC(OPENS), ['-1'], { stdio: ['pipe', 'ignore', 'inherit'] });
  try {
    const out = openSync('/dev/null', 'w');
    const tool = spawn(process.execPath, [BPFKIT, 'opensnoop', '--json', '-p', String(flood.pid)], {
      env: { ...process.env, BPFKIT_READY: '1' },
      stdio: ['ignore', out, 'pipe'],
    });
    let stderr = '';
    const ready = new Promise<void>((res, rej) => {
      tool.stderr!.on('data', (d) => { stderr += d; if (stderr.includes('BPFKIT_READY\n')) res(); });
      tool.on('close', () => rej(new Error(`opensnoop exited before ready: ${stderr}`)));
    });
    const done = new Promise<number | null>((res) => tool.on('close', (code) => res(code)));
    await ready;
    flood.stdin!.write('go\n');
    await sleep(2000);
    const t0 = Date.now();
    tool.kill('SIGINT');
    const killer = setTimeout(() => tool.kill('SIGKILL'), 10_000);
    const code = await done;
    clearTimeout(killer);
    const ms = Date.now() - t0;
    assert.equal(code, 0, stderr);
    console.log(`exited ${ms} ms after SIGINT`);
    assert.ok(ms < 1000, `exited ${ms} ms after SIGINT`);
  } finally {
    flood.kill('SIGKILL');
  }
  assert.deepEqual(leftoverPrograms('opensnoop'), []);
});
