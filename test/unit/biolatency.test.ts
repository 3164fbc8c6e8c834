// biolatency: flags and renderers (no kernel).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { command, renderJson, renderText, type BiolatencyCli } from '../../src/tools/biolatency/index.js';

const parse = (argv: string[]) => command.parse(argv) as BiolatencyCli;
const bad = (argv: string[], re: RegExp) => assert.throws(() => command.parse(argv), (e: Error & { code?: string }) => e.code === 'BAD_ARGS' && re.test(e.message), argv.join(' '));

test('biolatency flags: BCC\'s, -d is the disk, --duration the duration', () => {
  assert.deepEqual(parse([]), { session: { perDisk: false, perFlag: false, ms: false, queued: false, disk: undefined }, intervalS: undefined, count: 0, timestamp: false });
  const o = parse(['-mTQ', '-d', 'sda', '1', '5']);
  assert.deepEqual(o, { session: { perDisk: false, perFlag: false, ms: true, queued: true, disk: 'sda' }, intervalS: 1, count: 5, timestamp: true });
  assert.equal(parse(['-dloop0']).session.disk, 'loop0');
  assert.equal(parse(['-D', '--duration', '10s']).session.perDisk, true);
  bad(['-D', '-F'], /^can only use one of -D and -F$/);
  bad(['-1'], /^interval: '-1' is not a duration/);
  bad(['0.01'], /^interval: at least 0.1 s/);
  bad(['1', 'x'], /^count: 'x' is not an integer$/);
  bad(['1', '2', '3'], /^unexpected argument '3'/);
  bad(['-d'], /^option -d needs a value/);
  bad(['--duration', '0'], /^--duration DURATION: must be more than 0/);
  assert.match(command.help, /\n  -d, --disk DISK +trace this disk only/);
  assert.match(command.help, /\n  --duration DURATION +stop after DURATION/);
});

test('biolatency text and JSON: per disk; disk names escaped in text', () => {
  const slots = new Array(64).fill(0);
  slots[3] = 4;
  slots[5] = 2;
  const hists = [{ disk: 'd\x1b[2J', major: 8, minor: 0, slots }];
  const text = renderText(hists, parse(['-D']));
  assert.match(text, /^\ndisk = d\\x1b\[2J\n {5}usecs {15}: count {5}distribution\n/m);
  assert.doesNotMatch(text, /\x1b/);
  const rec = JSON.parse(renderJson(hists, parse(['-D']), 2)) as { unit: string; histograms: Array<{ disk: string; total: number; buckets: Array<{ low: number; high: number; count: number }> }> };
  assert.equal(rec.unit, 'usecs');
  assert.equal(rec.histograms[0]!.disk, 'd\x1b[2J');
  assert.equal(rec.histograms[0]!.total, 6);
});
