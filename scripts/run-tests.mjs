#!/usr/bin/env node
// The test command (npm test): every compiled test file, one after another (kernel tests share
// one kernel and must not overlap), with the time each suite took and a summary at the end.
// Usage: node scripts/run-tests.mjs [FILTER...]   (substrings of test file names)
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('../dist/test/', import.meta.url).pathname;
const files = [
  ...readdirSync(join(root, 'unit')).filter((f) => f.endsWith('.test.js')).sort().map((f) => join(root, 'unit', f)),
  ...readdirSync(root).filter((f) => f.endsWith('.test.js')).sort().map((f) => join(root, f)),
];
const filters = process.argv.slice(2);
const chosen = filters.length ? files.filter((f) => filters.some((x) => f.includes(x))) : files;
const results = [];
const t0 = Date.now();
for (const file of chosen) {
  const name = file.slice(root.length);
  const start = Date.now();
  process.stdout.write(`\n=== ${name}\n`);
  const r = spawnSync(process.execPath, ['--test', '--test-reporter=spec', file], { stdio: 'inherit' });
  const s = (Date.now() - start) / 1000;
  results.push({ name, ok: r.status === 0, s });
  process.stdout.write(`=== ${name}: ${r.status === 0 ? 'passed' : 'FAILED'} in ${s.toFixed(1)} s\n`);
}
process.stdout.write('\nSuite timings:\n');
for (const r of results) process.stdout.write(`  ${r.ok ? 'ok    ' : 'FAILED'} ${r.s.toFixed(1).padStart(7)} s  ${r.name}\n`);
const failed = results.filter((r) => !r.ok);
process.stdout.write(`${results.length - failed.length} of ${results.length} suites passed in ${((Date.now() - t0) / 60000).toFixed(1)} min\n`);
process.exit(failed.length ? 1 : 0);
