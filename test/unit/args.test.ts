import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgs, parseIntArg, parsePositive } from '../../src/cli/args.js';
import { BpfkitError } from '../../src/core/errors.js';
import { parseSyscountArgs } from '../../src/tools/syscount/index.js';

const specs = [
  { key: 'L', short: 'L' }, { key: 'P', short: 'P' },
  { key: 'i', short: 'i', long: 'interval', value: true }, { key: 'json', long: 'json' },
];

test('combined short flags, attached and separate values, long forms', () => {
  const a = parseArgs(['-LP', '-i1', '--interval=2', '-i', '3', 'pos', '--json'], specs);
  assert.ok(a.flags.has('L') && a.flags.has('P') && a.flags.has('json'));
  assert.deepEqual(a.flags.get('i'), ['1', '2', '3']);
  assert.deepEqual(a.positionals, ['pos']);
});

test('unknown flags and missing values are BAD_ARGS (exit 2)', () => {
  for (const argv of [['-z'], ['--nope'], ['-i'], ['--json=1']]) {
    assert.throws(() => parseArgs(argv, specs), (e: unknown) => e instanceof BpfkitError && e.code === 'BAD_ARGS' && e.exitCode === 2);
  }
});

test('numbers: integers, ranges, positives', () => {
  assert.equal(parseIntArg('42', 'x'), 42);
  assert.throws(() => parseIntArg('4x', 'x'));
  assert.throws(() => parseIntArg('0', 'x', 1));
  assert.equal(parsePositive('0.5', 'x'), 0.5);
  assert.throws(() => parsePositive('-1', 'x'));
  assert.throws(() => parsePositive('0', 'x'));
});

test('syscount flags as BCC users type them', () => {
  const o = parseSyscountArgs(['-LP', '-i', '1', '-p', '123', '-T', '5', '-m', '-e', 'enoent', '--syscall', 'read,write']);
  assert.equal(o.filters.latency, true);
  assert.equal(o.filters.byProcess, true);
  assert.equal(o.filters.tgid, 123);
  assert.equal(o.filters.errno, 2);
  assert.equal(o.intervalS, 1);
  assert.equal(o.top, 5);
  assert.equal(o.ms, true);
  assert.deepEqual(o.filters.syscalls, [0, 1]);
  assert.throws(() => parseSyscountArgs(['--syscall', 'reed']), /unknown syscall 'reed' \(did you mean read/);
});
