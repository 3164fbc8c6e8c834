// biotop: flags and renderers (no kernel).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { command, renderJson, renderText, type BiotopOptions } from '../../src/tools/biotop/index.js';
import type { BiotopRow } from '../../src/tools/biotop/biotop.js';

const parse = (argv: string[]) => command.parse(argv) as BiotopOptions;
const bad = (argv: string[], re: RegExp) => assert.throws(() => command.parse(argv), (e: Error & { code?: string }) => e.code === 'BAD_ARGS' && re.test(e.message), argv.join(' '));

test('biotop flags: BCC positionals [interval [count]], -C -r -p -s', () => {
  assert.deepEqual(parse([]), { intervalS: 1, count: 0, noclear: false, rows: 20, pid: undefined, sort: 'all' });
  assert.deepEqual(parse(['-C', '-r', '5', '-p', '42', '-s', 'io', '5', '10']), { intervalS: 5, count: 10, noclear: true, rows: 5, pid: 42, sort: 'io' });
  assert.equal(parse(['250ms']).intervalS, 0.25);
  assert.equal(parse(['-d', '10s', '--json', '1']).intervalS, 1);
  bad(['0'], /^interval: must be more than 0/);
  bad(['0.05'], /^interval: at least 0.1 s/);
  bad(['1', 'x'], /^count: 'x' is not an integer$/);
  bad(['1', '2', '3'], /^unexpected argument '3'/);
  bad(['-s', 'size'], /^-s: unknown sort key 'size'/);
  bad(['-r', '0'], /^-r ROWS: 0 is out of range/);
  bad(['-i', '1'], /^unknown option -i/);
  assert.match(command.help, /^Usage: bpfkit biotop \[options\] \[interval \[count\]\]/);
});

const row = (pid: number, comm: string, bytes: number, io: number): BiotopRow => ({ pid, comm, dir: 'W', major: 7, minor: 0, disk: 'loop0', io, bytes, totalNs: io * 2e6 });

test('biotop text: BCC columns, sorted, cut to -r; a hostile comm escaped; clear only when asked', () => {
  const rows = [row(1, 'small', 4096, 1), row(2, 'e\x1b[2J\nvil', 65536, 16), row(3, 'mid', 8192, 2)];
  const text = renderText(rows, parse(['-r', '2']), false);
  const lines = text.split('\n');
  assert.equal(lines[0], '');
  assert.match(lines[1]!, /^\d\d:\d\d:\d\d loadavg: /);
  assert.equal(lines[3], 'PID     COMM             D MAJ MIN DISK       I/O  Kbytes  AVGms');
  assert.equal(lines[4], '2       e\\x1b[2J\\x0avil  W 7   0   loop0       16      64   2.00');
  assert.equal(lines[5], '3       mid              W 7   0   loop0        2       8   2.00');
  assert.equal(lines.length, 7);
  assert.doesNotMatch(text, /\x1b/);
  assert.ok(renderText(rows, parse([]), true).startsWith('\x1b[2J\x1b[H\n'));
});

test('biotop JSON: keys as the columns, plus exact bytes', () => {
  const rec = JSON.parse(renderJson([row(2, 'x', 65536 + 100, 16)], parse([]), 1)) as { interval_s: number; rows: unknown[] };
  assert.equal(rec.interval_s, 1);
  assert.deepEqual(rec.rows, [{ pid: 2, comm: 'x', d: 'W', maj: 7, min: 0, disk: 'loop0', io: 16, kbytes: 64, avgms: 2, bytes: 65636 }]);
});
