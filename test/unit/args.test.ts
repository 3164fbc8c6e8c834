import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFlags, parseIntArg, parseNumber, parseSeconds, flagHelp } from '../../src/toolkit/flags.js';
import { BpfkitError } from '../../src/core/errors.js';
import { command as syscount } from '../../src/tools/syscount/index.js';
import type { SyscountOptions } from '../../src/tools/syscount/index.js';

const specs = [
  { key: 'L', short: 'L', help: 'l' }, { key: 'P', short: 'P', help: 'p' },
  { key: 'i', short: 'i', long: 'interval', arg: 'N', help: 'interval' }, { key: 'json', long: 'json', help: 'json' },
];
const parseArgs = (argv: string[], table: typeof specs) => parseFlags(argv, table);
const parseSyscountArgs = (argv: string[]) => syscount.parse(argv) as SyscountOptions;

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
  assert.equal(parseNumber('0.5', 'x'), 0.5);
  assert.throws(() => parseNumber('-1', 'x'));
  assert.throws(() => parseNumber('0', 'x'));
});

test('syscount flags as BCC users type them', () => {
  const o = parseSyscountArgs(['-LP', '-i', '1', '-p', '123', '-T', '5', '-m', '-e', 'enoent', '--syscall', 'read,write']);
  assert.equal(o.filters.latency, true);
  assert.equal(o.filters.byProcess, true);
  assert.equal(o.filters.tgid, 123);
  assert.equal(o.filters.errno, 2);
  assert.equal(o.top, 5);
  assert.equal(o.ms, true);
  assert.deepEqual(o.filters.syscalls, [0, 1]);
  assert.throws(() => parseSyscountArgs(['--syscall', 'reed']), /unknown syscall 'reed' \(did you mean read/);
});

test('durations: plain seconds or with a unit; zero, huge and malformed values are BAD_ARGS', () => {
  assert.equal(parseSeconds('10', 'x'), 10);
  assert.equal(parseSeconds('10s', 'x'), 10);
  assert.equal(parseSeconds('500ms', 'x'), 0.5);
  assert.equal(parseSeconds('2m', 'x'), 120);
  assert.equal(parseSeconds('1h', 'x'), 3600);
  assert.equal(parseSeconds('2592000', 'x'), 2592000, '30 days is a valid duration (longer than a 2^31 ms timer)');
  for (const bad of ['0', '-1', '10x', '', 's', '1e3', '400d']) assert.throws(() => parseSeconds(bad, 'x'), BpfkitError, bad);
  assert.throws(() => parseSeconds('0.0001', 'x', 0.1), /at least 0.1 s/);
  assert.throws(() => syscount.parse(['-i', '0.0001']), /at least 0.1 s/);
  assert.throws(() => syscount.parse(['-d', '10y']), /not a duration/);
});

test('one table drives parsing and --help: every flag of a tool appears in its help', () => {
  const help = flagHelp(specs);
  assert.match(help, /-i, --interval N\s+interval/);
  for (const flag of ['-p, --pid PID', '-L, --latency', '--syscall NAMES', '-d, --duration DURATION', '--json']) {
    assert.ok(syscount.help.includes(flag), `${flag} in syscount --help`);
  }
});

test('repeated -p lists accumulate, each value checked (profile, diagnose, sockets)', async () => {
  const { command: diagnose } = await import('../../src/tools/diagnose/index.js');
  assert.deepEqual((diagnose.parse(['-p', '1', '-p', '2,3', '-p', '1']) as { pids: number[] }).pids, [1, 2, 3]);
  assert.throws(() => diagnose.parse(['-p', '1', '-p', '']), /no IDs given/);
  assert.throws(() => diagnose.parse(['-p', '1', '-p', 'x']), /not an integer/);
});
