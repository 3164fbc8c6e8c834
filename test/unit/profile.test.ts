// profile: pure unit tests (no kernel, no root), moved from test/profile.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { command, renderText, stackLine, header, type ProfileCliOptions } from '../../src/tools/profile/index.js';
import { parseCpuList, perfAttr, type ProfileResult } from '../../src/tools/profile/profile.js';

const parseProfileArgs = (argv: string[]) => command.parse(argv) as ProfileCliOptions;

test('arguments: BCC flags, duration, conflicts', () => {
  const o = parseProfileArgs(['-p', '12,34', '-F', '99', '-U', '-f', '5']);
  assert.deepEqual(o.session.pids, [12, 34]);
  assert.equal(o.session.frequency, 99);
  assert.equal(o.session.userOnly, true);
  assert.equal(o.folded, true);
  assert.equal(o.durationS, 5);
  assert.equal(parseProfileArgs(['-d', '2.5']).durationS, 2.5);
  assert.equal(parseProfileArgs(['-d', '10s']).durationS, 10);
  assert.equal(parseProfileArgs(['2m']).durationS, 120);
  assert.equal(parseProfileArgs(['-d', '2592000']).durationS, 2592000);
  assert.deepEqual(parseProfileArgs(['-L', '5,6,5']).session.tids, [5, 6]);
  assert.deepEqual(parseProfileArgs(['--svg', 'a.svg', '--speedscope', 'b.json']).svg, 'a.svg');
  assert.equal(parseProfileArgs(['-c', '1000000']).session.period, 1000000);
  assert.equal(parseProfileArgs(['--stack-storage-size', '1024']).session.stackStorageSize, 1024);
  for (const bad of [['-U', '-K'], ['-F', '99', '-c', '10'], ['-d', '1', '2'], ['-F', 'x'], ['-p', '1', '-L', '2'], ['1', '2'], ['--nope'], ['-d', '0'], ['-p', ''], ['-p', '1,x'], ['-L', '0'], ['--svg', ''],
    ['-p', Array.from({ length: 65 }, (_, i) => i + 1).join(',')]]) {
    assert.throws(() => parseProfileArgs(bad), (e: Error & { code?: string }) => e.code === 'BAD_ARGS', bad.join(' '));
  }
  assert.equal(header(parseProfileArgs(['-p', '7', '-F', '99', '2'])), 'Sampling at 99 Hertz of PID 7 by user + kernel stack for 2 secs.');
  assert.deepEqual(parseCpuList('0-2,5'), [0, 1, 2, 5]);
});

test('perf_event_attr: cpu-clock, frequency mode', () => {
  const a = perfAttr('cpu-clock', 99, undefined);
  assert.equal(a.length, 128);
  assert.equal(a.readUInt32LE(0), 1); // PERF_TYPE_SOFTWARE
  assert.equal(a.readUInt32LE(4), 128);
  assert.equal(a.readBigUInt64LE(8), 0n); // PERF_COUNT_SW_CPU_CLOCK
  assert.equal(a.readBigUInt64LE(16), 99n);
  assert.equal(a.readBigUInt64LE(40), (1n << 10n) | 1n); // freq | disabled
  const p = perfAttr('cycles', undefined, 100000);
  assert.equal(p.readUInt32LE(0), 0); // PERF_TYPE_HARDWARE
  assert.equal(p.readBigUInt64LE(16), 100000n);
  assert.equal(p.readBigUInt64LE(40), 1n);
});

test('text and folded order: BCC layout, kernel leaf first, user after --', () => {
  const f = (name: string, kind: 'user' | 'kernel') => ({ name, module: kind === 'kernel' ? 'kernel' : '/bin/x', kind });
  const r: ProfileResult = {
    stats: { samples: 7, dropped: 0, userMissed: 0, kernelMissed: 0 },
    stacks: [
      { pid: 5, comm: 'x', count: 5, user: [f('leaf', 'user'), f('main', 'user')], kernel: null, userMissed: false, kernelMissed: false },
      { pid: 5, comm: 'x', count: 2, user: [f('read', 'user'), f('main', 'user')], kernel: [f('vfs_read', 'kernel'), f('do_syscall_64', 'kernel')], userMissed: false, kernelMissed: false },
    ],
  };
  assert.deepEqual(stackLine(r.stacks[1]!, { annotate: true, delimited: true }), ['x', 'main', 'read', '-', 'do_syscall_64_[k]', 'vfs_read_[k]']);
  assert.equal(renderText(r, { annotate: false, delimited: false }),
    '    vfs_read\n    do_syscall_64\n    --\n    read\n    main\n    -                x (5)\n        2\n\n' +
    '    leaf\n    main\n    -                x (5)\n        5\n\n');
});
