#!/usr/bin/env node
// The test command (npm test): every compiled test file, one after another (kernel tests share
// one kernel and must not overlap), with the time each suite took and a summary at the end.
// The failures' messages are repeated after the summary: CI keeps only the tail of the log.
// Usage: node scripts/run-tests.mjs [FILTER...]   (substrings of test file names)
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('../dist/test/', import.meta.url).pathname;
const files = [
  ...readdirSync(join(root, 'unit')).filter((f) => f.endsWith('.test.js')).sort().map((f) => join(root, 'unit', f)),
  ...readdirSync(root).filter((f) => f.endsWith('.test.js')).sort().map((f) => join(root, f)),
];
const filters = process.argv.slice(2);
const chosen = filters.length ? files.filter((f) => filters.some((x) => f.includes(x))) : files;

/** Run one suite, its output passed through as it comes and kept for the summary. */
function runSuite(file) {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--test', '--test-reporter=spec', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (d) => {
      output += d;
      if (output.length > 4_000_000) output = output.slice(-2_000_000);
    };
    p.stdout.on('data', (d) => { process.stdout.write(d); keep(d); });
    p.stderr.on('data', (d) => { process.stderr.write(d); keep(d); });
    p.on('close', (code) => resolve({ code, output }));
  });
}

/** The spec reporter's "failing tests:" section, cut to a readable size. */
function failureDetails(output) {
  const at = output.lastIndexOf('failing tests:');
  const text = at >= 0 ? output.slice(at) : output.slice(-3000);
  const lines = text.split('\n').filter((l) => !/^\s+at (async )?\S+ \(|^\s+at (node:|file:)/.test(l));
  return lines.slice(0, 80).map((l) => (l.length > 400 ? l.slice(0, 400) + '…' : l)).join('\n');
}

const results = [];
const t0 = Date.now();
for (const file of chosen) {
  const name = file.slice(root.length);
  const start = Date.now();
  process.stdout.write(`\n=== ${name}\n`);
  const r = await runSuite(file);
  const s = (Date.now() - start) / 1000;
  results.push({ name, ok: r.code === 0, s, details: r.code === 0 ? '' : failureDetails(r.output) });
  process.stdout.write(`=== ${name}: ${r.code === 0 ? 'passed' : 'FAILED'} in ${s.toFixed(1)} s\n`);
}
const failed = results.filter((r) => !r.ok);
const summary = `${results.length - failed.length} of ${results.length} suites passed in ${((Date.now() - t0) / 60000).toFixed(1)} min\n`;
process.stdout.write('\nSuite timings:\n');
for (const r of results) process.stdout.write(`  ${r.ok ? 'ok    ' : 'FAILED'} ${r.s.toFixed(1).padStart(7)} s  ${r.name}\n`);
process.stdout.write(summary);
for (const r of failed) process.stdout.write(`\n--- ${r.name} failed:\n${r.details}\n`);
if (failed.length) process.stdout.write(`\n${summary}`);
process.exit(failed.length ? 1 : 0);
