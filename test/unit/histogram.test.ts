// BCC's log2 histogram layout, without a kernel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { log2Buckets, log2Histogram, slotRange, stars } from '../../src/render/histogram.js';

test('slot ranges as BCC prints them: 0 -> 1, 2 -> 3, 4 -> 7, ...', () => {
  assert.deepEqual(slotRange(0), { low: 0n, high: 1n });
  assert.deepEqual(slotRange(1), { low: 2n, high: 3n });
  assert.deepEqual(slotRange(9), { low: 512n, high: 1023n });
  assert.deepEqual(slotRange(63), { low: 1n << 63n, high: (1n << 64n) - 1n });
});

test('stars: floor(40 * count / max), capped', () => {
  assert.equal(stars(10, 10, 40), '*'.repeat(40));
  assert.equal(stars(1, 3, 40), '*'.repeat(13));
  assert.equal(stars(0, 3, 40), '');
  assert.equal(stars(1, 41, 40), '');
});

test('narrow layout, exact text', () => {
  const slots = new Array(64).fill(0);
  slots[3] = 5;
  slots[4] = 20;
  slots[6] = 1;
  assert.equal(log2Histogram(slots, 'usecs'), [
    '     usecs               : count     distribution',
    '         0 -> 1          : 0        |                                        |',
    '         2 -> 3          : 0        |                                        |',
    '         4 -> 7          : 0        |                                        |',
    '         8 -> 15         : 5        |**********                              |',
    '        16 -> 31         : 20       |****************************************|',
    '        32 -> 63         : 0        |                                        |',
    '        64 -> 127        : 1        |**                                      |',
    '',
  ].join('\n'));
  assert.deepEqual(log2Buckets(slots), [{ low: 8, high: 15, count: 5 }, { low: 16, high: 31, count: 20 }, { low: 64, high: 127, count: 1 }]);
});

test('empty histogram prints nothing; past 2^32 the wide layout with 20 stars', () => {
  assert.equal(log2Histogram(new Array(64).fill(0), 'usecs'), '');
  const slots = new Array(64).fill(0);
  slots[32] = 2;
  slots[0] = 1;
  const lines = log2Histogram(slots, 'msecs').split('\n');
  assert.equal(lines[0], `               ${'msecs'.padEnd(29)} : count     distribution`);
  assert.equal(lines[1], `${'0'.padStart(20)} -> ${'1'.padEnd(20)} : 1        |**********          |`);
  assert.equal(lines[33], `${String(2 ** 32).padStart(20)} -> ${String(2 ** 33 - 1).padEnd(20)} : 2        |********************|`);
});
