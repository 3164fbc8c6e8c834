// serve without a kernel: --listen checks, the kernel-histogram exposition, pprof encoding read
// back by the test's own protobuf reader, quantiles.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { command as serve, parseListen } from '../../src/tools/serve/index.js';
import { BUCKET_SLOTS, KernelHistogram, bucketBound, quantileMs } from '../../src/tools/serve/metrics.js';
import { encodePprof } from '../../src/render/pprof.js';
import { isLoopbackHost } from '../../src/tools/serve/http.js';
import { decodePprof, promtoolCheck } from '../serve-helpers.js';
import { BpfkitError } from '../../src/core/errors.js';

const badArgs = (f: () => unknown, re: RegExp) => assert.throws(f, (e: unknown) => e instanceof BpfkitError && e.code === 'BAD_ARGS' && re.test(e.message));

test('--listen: loopback by default and on request; other addresses need --allow-remote', () => {
  assert.deepEqual(parseListen('127.0.0.1:9435', false), { host: '127.0.0.1', port: 9435 });
  assert.deepEqual(parseListen('[::1]:80', false), { host: '::1', port: 80 });
  assert.deepEqual(parseListen('localhost:1', false), { host: 'localhost', port: 1 });
  badArgs(() => parseListen('0.0.0.0:9435', false), /not a loopback address; add --allow-remote/);
  assert.deepEqual(parseListen('0.0.0.0:9435', true), { host: '0.0.0.0', port: 9435 });
  badArgs(() => parseListen('9435', false), /is not HOST:PORT/);
  badArgs(() => parseListen(':9435', false), /give the host/);
  badArgs(() => parseListen('127.0.0.1:70000', false), /out of range/);
  const o = serve.parse([]) as { host: string; port: number; windowS: number; diagnose: boolean };
  assert.deepEqual([o.host, o.port, o.windowS, o.diagnose], ['127.0.0.1', 9435, 10, true]);
  badArgs(() => serve.parse(['-i', '0.5']), /at least 1 s/);
});

test('kernel histograms: cumulative buckets in seconds, +Inf = count, sum in seconds; promtool accepts it', async () => {
  const r = new Registry();
  const h = new KernelHistogram('bpfkit_test_latency_seconds', 'A test histogram.', r);
  const slots = new Array<number>(32).fill(0);
  slots[0] = 5; // < 1024 ns
  slots[3] = 2; // [8, 16) x 1024 ns: <= 16384 ns
  slots[31] = 1; // beyond every finite bucket
  h.set({ syscall: 'read' }, { slots, count: 8, sumNs: 2.5e9 });
  const text = await r.metrics();
  const bucket = (le: string) => Number(new RegExp(`bpfkit_test_latency_seconds_bucket\\{syscall="read",le="${le.replace(/[.+]/g, '\\$&')}"\\} (\\d+)`).exec(text)?.[1]);
  assert.equal(bucket(String(bucketBound(2))), 5);
  assert.equal(bucket('0.000016384'), 7);
  assert.equal(bucket(String(bucketBound(30))), 7);
  assert.equal(bucket('+Inf'), 8);
  assert.match(text, /bpfkit_test_latency_seconds_sum\{syscall="read"\} 2\.5\n/);
  assert.match(text, /bpfkit_test_latency_seconds_count\{syscall="read"\} 8\n/);
  assert.equal(BUCKET_SLOTS.length, 15);
  const c = promtoolCheck(text);
  assert.equal(c.output, '', c.output);
});

test('pprof: samples, locations leaf first, pid/comm labels, period', () => {
  const f = (name: string, module: string, kind: 'user' | 'kernel' = 'user') => ({ name, module, kind });
  const gz = encodePprof([
    { pid: 7, comm: 'app', count: 30, user: [f('leaf', 'app'), f('main', 'app')], kernel: null },
    { pid: 7, comm: 'app', count: 10, user: [f('main', 'app')], kernel: [f('do_syscall_64', '', 'kernel')] },
  ], { periodNs: 10_101_010, durationNs: 2e9 });
  const p = decodePprof(Buffer.from(gz));
  assert.deepEqual(p.sampleTypes, ['samples/count', 'cpu/nanoseconds']);
  assert.equal(p.periodNs, 10_101_010);
  assert.equal(p.durationNs, 2e9);
  assert.deepEqual(p.samples.map((s) => [s.frames, s.values, s.labels]), [
    [['leaf', 'main'], [30, 303_030_300], { pid: 7, comm: 'app' }],
    [['do_syscall_64', 'main'], [10, 101_010_100], { pid: 7, comm: 'app' }],
  ]);
});

test('quantiles of a log2 histogram: the upper bound of the slot', () => {
  const slots = new Array<number>(32).fill(0);
  slots[0] = 98;
  slots[10] = 2;
  assert.equal(quantileMs(slots, 100, 0.5), 2 * 1024 / 1e6);
  assert.equal(quantileMs(slots, 100, 0.99), 2 ** 11 * 1024 / 1e6);
  assert.equal(quantileMs(slots, 0, 0.99), undefined);
});

test('Host headers that name loopback', () => {
  for (const h of ['127.0.0.1:9435', 'localhost:9435', '[::1]:9435', '127.0.0.1', 'localhost']) assert.ok(isLoopbackHost(h), h);
  for (const h of ['evil.example:9435', '10.0.0.1:9435', '127.0.0.1.evil.example', '', undefined]) assert.ok(!isLoopbackHost(h), String(h));
});
