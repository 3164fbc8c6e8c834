// Memory under a storm into a slow reader: a streaming tool whose reader stalls keeps at most
// OUTPUT_QUEUE_LIMIT (8 MiB, src/toolkit/output.ts) of output queued and counts what it could not
// queue, so its peak RSS stays bounded however long the stall, and every event is accounted for:
// delivered (lines in the output) + lost (the summary record) == generated (counted by the storm).
//
// Bound: PEAK_RSS_MIB below. What it covers, measured on this machine (Node 20, x86-64):
//   Node.js + bpfkit loaded, idle                 ~ 60-75 MiB
//   ring buffer pages touched (8 MiB, mapped twice so records never wrap: up to 16 MiB resident)
//   output queue (8 MiB) + one 256 KiB chunk being filled + the strings of a slice in flight
//   V8 heap growth between collections           ~ 20-40 MiB
// An unbounded queue grows by ~100 MB per second of stall at these rates (2 GB in 20 s).
import { test } from 'node:test';
import { createInterface } from 'node:readline';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createReadStream, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BPFKIT, compileC, kernelTest, sleep } from './helpers.js';
import { STORM, STORM_PATH } from './storm.js';

const PEAK_RSS_MIB = 200;

interface StormRun { generated: number; delivered: number; summary: Record<string, unknown> | undefined; peakKiB: number; stderr: string; code: number | null }

/**
 * `bpfkit ARGS` (ARGS given the storm's PID) under a storm of STORM_S seconds, its stdout piped
 * into `sh -c 'sleep STALL_S; cat > FILE'` (a reader that stalls, then reads everything).
 */
async function stormIntoSlowReader(args: (pid: number) => string[], stormS: number, stallS: number): Promise<StormRun> {
  const storm = spawn(compileC(STORM, ['-O2', '-pthread']), ['0', String(stormS), '2', STORM_PATH], { stdio: ['pipe', 'pipe', 'inherit'] });
  let sout = '';
  storm.stdout!.on('data', (d) => { sout += d; });
  const stormDone = new Promise((r) => storm.on('close', r));
  const out = join(tmpdir(), `bpfkit-memory-${process.pid}.out`);
  const tool = spawn(process.execPath, [BPFKIT, ...args(storm.pid!)], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, BPFKIT_READY: '1' } });
  const reader = spawn('sh', ['-c', `sleep ${stallS}; cat > ${out}`], { stdio: [tool.stdout!, 'ignore', 'inherit'] });
  const readerDone = new Promise((r) => reader.on('close', r));
  tool.stdout!.destroy(); // the reader has the pipe now (this process keeping it would hold the writer's queue)
  let stderr = '';
  tool.stderr!.on('data', (d) => { stderr += d; });
  const toolDone = new Promise<number | null>((r) => tool.on('exit', (c) => r(c)));
  try {
    while (!stderr.includes('BPFKIT_READY')) {
      if (tool.exitCode !== null) throw new Error(`exited before ready: ${stderr}`);
      await sleep(50);
    }
    let peakKiB = 0;
    const sample = () => {
      try {
        const kib = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${tool.pid}/status`, 'utf8'))?.[1] ?? 0);
        peakKiB = Math.max(peakKiB, kib);
      } catch { /* exited */ }
    };
    const sampler = setInterval(sample, 250);
    storm.stdin!.write('go\n');
    while (!sout.includes('\n')) await sleep(100);
    await sleep(500);
    sample();
    tool.kill('SIGINT');
    const code = await toolDone;
    clearInterval(sampler);
    await readerDone;
    const [generated] = sout.trim().split(' ').map(Number) as [number];
    let delivered = 0;
    let summary: Record<string, unknown> | undefined;
    // Streamed: a fast machine writes more than the largest string V8 can hold.
    for await (const line of createInterface({ input: createReadStream(out), crlfDelay: Infinity })) {
      if (!line) continue;
      if (line.includes(STORM_PATH)) delivered++;
      else {
        const rec = JSON.parse(line) as Record<string, unknown>;
        if (rec.type === 'summary') summary = rec;
      }
    }
    return { generated, delivered, summary, peakKiB, stderr, code };
  } finally {
    tool.kill('SIGKILL');
    storm.stdin!.end();
    storm.kill('SIGKILL');
    await stormDone;
    rmSync(out, { force: true });
  }
}

function check(what: string, r: StormRun): void {
  const lost = Number(r.summary?.lost);
  console.log(`${what}: generated ${r.generated}, delivered ${r.delivered}, lost ${lost} (${JSON.stringify(r.summary)}), peak RSS ${(r.peakKiB / 1024).toFixed(0)} MiB`);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.summary, `${what}: no summary record\n${r.stderr}`);
  assert.ok(r.generated > 1_000_000, `${what}: the storm made only ${r.generated} calls`);
  assert.ok(r.delivered > 0, `${what}: nothing delivered`);
  assert.equal(r.delivered + lost, r.generated, `${what}: delivered ${r.delivered} + lost ${lost} != generated ${r.generated}`);
  assert.ok(r.peakKiB > 0 && r.peakKiB < PEAK_RSS_MIB * 1024, `${what}: peak RSS ${(r.peakKiB / 1024).toFixed(0)} MiB (bound ${PEAK_RSS_MIB} MiB)`);
}

test('opensnoop --json under a 30 s storm into a reader that stalls 20 s: bounded RSS, every event accounted for', kernelTest(), async () => {
  const r = await stormIntoSlowReader((pid) => ['opensnoop', '-x', '-p', String(pid), '--json'], 30, 20);
  check('opensnoop', r);
  assert.ok(Number(r.summary!.lost_output) > 0, 'the stalled reader should have cost events (lost_output)');
});

test('trace --json under a 15 s storm into a reader that stalls 10 s: bounded RSS, every event accounted for', kernelTest(), async () => {
  const r = await stormIntoSlowReader((pid) => ['trace', '-e', 'openat', '-p', String(pid), '--json'], 15, 10);
  check('trace', r);
});
