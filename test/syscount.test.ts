// syscount against workloads with a known number of syscalls: the counts must be exact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileC, kernelTest, leftoverPrograms, loadedPrograms, runTool, startGatedChild, startTool, BPFKIT } from './helpers.js';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';

// Waits for a line on stdin, then makes exactly N getppid calls, M failing opens (ENOENT)
// and S sleeps of 50 ms.
const WORKLOAD = `
#include <fcntl.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv) {
  int n = atoi(argv[1]), m = atoi(argv[2]), s = atoi(argv[3]);
  char buf[8];
  if (read(0, buf, sizeof buf) <= 0) return 1;
  for (int i = 0; i < n; i++) syscall(SYS_getppid);
  for (int i = 0; i < m; i++) open("/nonexistent-bpfkit-test/file", O_RDONLY);
  struct timespec ts = { 0, 50 * 1000 * 1000 };
  for (int i = 0; i < s; i++) nanosleep(&ts, 0);
  return 0;
}
`;

interface JsonRow { syscall?: string; pid?: number; comm?: string; count: number; total_us?: number }
interface JsonRecord { rows: JsonRow[]; by: string }

function parseJson(stdout: string): JsonRecord[] {
  return stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as JsonRecord);
}

/** Sum counts per syscall (or pid) over all interval records. */
function totals(records: JsonRecord[], key: 'syscall' | 'pid'): Map<string, { count: number; us: number }> {
  const m = new Map<string, { count: number; us: number }>();
  for (const r of records) for (const row of r.rows) {
    const k = String(row[key]);
    const t = m.get(k) ?? { count: 0, us: 0 };
    t.count += row.count;
    t.us += row.total_us ?? 0;
    m.set(k, t);
  }
  return m;
}

/** Start syscount with ARGS on a gated workload, let it run, stop with SIGINT, return output. */
async function traceWorkload(args: (pid: number) => string[], n: number, m: number, s: number) {
  const bin = compileC(WORKLOAD);
  const child = startGatedChild(bin, [String(n), String(m), String(s)]);
  const tool = startTool(['syscount', ...args(child.proc.pid!)]);
  await tool.ready;
  child.go();
  assert.equal(await child.exited, 0);
  const run = await tool.stop('SIGINT');
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(leftoverPrograms('syscount_'), []);
  return run;
}

test('counts exactly N getppid and M failing opens of one process', kernelTest(), async () => {
  const N = 12345, M = 678;
  const run = await traceWorkload((pid) => ['-p', String(pid), '--json', '-T', '50'], N, M, 0);
  const t = totals(parseJson(run.stdout), 'syscall');
  assert.equal(t.get('getppid')?.count, N);
  assert.equal(t.get('openat')?.count, M);
});

test('text output: header and exact counts', kernelTest(), async () => {
  const N = 4321, M = 99;
  const run = await traceWorkload((pid) => ['-p', String(pid), '-T', '50'], N, M, 0);
  const lines = run.stdout.split('\n');
  assert.match(lines[0]!, /^Tracing syscalls, printing top 50\.\.\. Ctrl\+C to quit\.$/);
  assert.match(run.stdout, /^\[\d\d:\d\d:\d\d\]$/m);
  assert.match(run.stdout, /^SYSCALL {19}COUNT$/m);
  assert.match(run.stdout, new RegExp(`^getppid {16}${String(N).padStart(8)}$`, 'm'));
  assert.match(run.stdout, new RegExp(`^openat {17}${String(M).padStart(8)}$`, 'm'));
});

test('-x shows only failed calls; -e ENOENT only those; -e EACCES none of them', kernelTest(), async () => {
  const N = 1000, M = 321;
  const failed = totals(parseJson((await traceWorkload((pid) => ['-p', String(pid), '-x', '--json'], N, M, 0)).stdout), 'syscall');
  assert.equal(failed.get('openat')?.count, M);
  assert.equal(failed.get('getppid'), undefined);
  const enoent = totals(parseJson((await traceWorkload((pid) => ['-p', String(pid), '-e', 'ENOENT', '--json'], N, M, 0)).stdout), 'syscall');
  assert.equal(enoent.get('openat')?.count, M);
  assert.equal(enoent.get('getppid'), undefined);
  assert.deepEqual([...enoent.keys()], ['openat']);
  const eacces = totals(parseJson((await traceWorkload((pid) => ['-p', String(pid), '-e', 'EACCES', '--json'], N, M, 0)).stdout), 'syscall');
  assert.equal(eacces.get('openat'), undefined);
});

test('-L measures 10 x 50 ms sleeps as about 500 ms', kernelTest(), async () => {
  const run = await traceWorkload((pid) => ['-L', '-p', String(pid), '--json'], 0, 0, 10);
  const t = totals(parseJson(run.stdout), 'syscall');
  const sleep = t.get('clock_nanosleep') ?? t.get('nanosleep');
  assert.ok(sleep, run.stdout);
  assert.equal(sleep.count, 10);
  assert.ok(sleep.us >= 500_000 && sleep.us < 650_000, `total ${sleep.us} us`);
  const text = await traceWorkload((pid) => ['-L', '-m', '-p', String(pid)], 0, 0, 10);
  const m = /^clock_nanosleep\s+10\s+(\d+\.\d{6})$/m.exec(text.stdout);
  assert.ok(m, text.stdout);
  assert.ok(Number(m[1]) >= 500 && Number(m[1]) < 650);
});

test('-P aggregates per process (two processes, exact counts)', kernelTest(), async () => {
  const bin = compileC(WORKLOAD);
  const a = startGatedChild(bin, ['3000', '0', '0']);
  const b = startGatedChild(bin, ['6000', '0', '0']);
  const tool = startTool(['syscount', '-P', '--syscall', 'getppid', '--json', '-T', '1000']);
  await tool.ready;
  a.go();
  b.go();
  await Promise.all([a.exited, b.exited]);
  const run = await tool.stop('SIGINT');
  assert.equal(run.code, 0, run.stderr);
  const t = totals(parseJson(run.stdout), 'pid');
  assert.equal(t.get(String(a.proc.pid))?.count, 3000);
  assert.equal(t.get(String(b.proc.pid))?.count, 6000);
  const row = parseJson(run.stdout).flatMap((r) => r.rows).find((r) => r.pid === a.proc.pid);
  assert.match(row?.comm ?? '', /^w-[0-9a-f]+/);
});

test('--json agrees with the text output on the same workload', kernelTest(), async () => {
  const bin = compileC(WORKLOAD);
  const child = startGatedChild(bin, ['2500', '250', '0']);
  const pid = String(child.proc.pid);
  const text = startTool(['syscount', '-p', pid, '-T', '100']);
  const json = startTool(['syscount', '-p', pid, '-T', '100', '--json']);
  await Promise.all([text.ready, json.ready]);
  child.go();
  await child.exited;
  const [t, j] = await Promise.all([text.stop(), json.stop()]);
  const fromJson = totals(parseJson(j.stdout), 'syscall');
  for (const name of ['getppid', 'openat']) {
    const m = new RegExp(`^${name}\\s+(\\d+)$`, 'm').exec(t.stdout);
    assert.ok(m, t.stdout);
    assert.equal(Number(m[1]), fromJson.get(name)?.count);
  }
  assert.equal(fromJson.get('getppid')?.count, 2500);
});

test('-i prints one record per interval and -d stops', kernelTest(), async () => {
  const run = await runTool(['syscount', '-i', '0.3', '-d', '1', '--json'], { timeoutMs: 20_000 });
  assert.equal(run.code, 0, run.stderr);
  const records = parseJson(run.stdout);
  assert.ok(records.length >= 3 && records.length <= 4, `${records.length} records`);
  assert.deepEqual(leftoverPrograms('syscount_'), []);
});

test('bad input: one-line error, exit code 2, nothing loaded', kernelTest(), async () => {
  const cases: Array<[string[], RegExp]> = [
    [['syscount', '-p', '999999'], /^bpfkit syscount: no such process: 999999$/],
    [['syscount', '--syscall', 'getppdi'], /^bpfkit syscount: unknown syscall 'getppdi' \(did you mean .*getppid.*\)$/],
    [['syscount', '-i', '-1'], /^bpfkit syscount: -i INTERVAL: '-1' is not a duration/],
    [['syscount', '-e', 'ENOTANERRNO'], /^bpfkit syscount: -e: unknown errno/],
    [['syscount', '--bogus'], /^bpfkit syscount: unknown option --bogus/],
    [['nosuchtool'], /^bpfkit: unknown tool 'nosuchtool'/],
  ];
  for (const [args, pattern] of cases) {
    const run = await runTool(args);
    assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
    const lines = run.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, run.stderr);
    assert.match(lines[0]!, pattern);
  }
  assert.deepEqual(leftoverPrograms('syscount_'), []);
});

test('without root: one-line error, exit code 2', kernelTest(), async () => {
  const run = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const p = spawn(process.execPath, [BPFKIT, 'syscount', '-d', '1'], { uid: 65534, gid: 65534, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr!.on('data', (d) => { stderr += d; });
    p.on('close', (code) => resolve({ code, stderr }));
  });
  assert.equal(run.code, 2, run.stderr);
  assert.match(run.stderr, /^bpfkit syscount: this tool loads eBPF programs: run it as root.*\n$/);
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  test(`after ${signal}, no syscount program remains loaded and the totals are printed`, kernelTest(), async () => {
    const tool = startTool(['syscount', '-L']);
    await tool.ready;
    assert.ok(loadedPrograms('syscount_').length >= 2, 'programs should be loaded while running');
    const run = await tool.stop(signal);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^SYSCALL\s+COUNT\s+TIME \(us\)$/m);
    assert.deepEqual(leftoverPrograms('syscount_'), []);
  });
}

test('-c CGROUP counts only the processes of that cgroup (v2)', kernelTest(), async () => {
  const { mkdirSync, rmdirSync, writeFileSync } = await import('node:fs');
  const root = ['/sys/fs/cgroup/unified', '/sys/fs/cgroup'].find((d) => { try { return readdirSync(d).includes('cgroup.procs'); } catch { return false; } });
  assert.ok(root, 'no cgroup v2 hierarchy');
  const dir = `${root}/bpfkit-syscount-test-${process.pid}`;
  mkdirSync(dir);
  const bin = compileC(WORKLOAD);
  const inside = startGatedChild(bin, ['1500', '0', '0']);
  const outside = startGatedChild(bin, ['2500', '0', '0']);
  try {
    writeFileSync(`${dir}/cgroup.procs`, String(inside.proc.pid));
    const tool = startTool(['syscount', '-c', dir, '-P', '--syscall', 'getppid', '--json']);
    await tool.ready;
    inside.go();
    outside.go();
    await Promise.all([inside.exited, outside.exited]);
    const run = await tool.stop();
    assert.equal(run.code, 0, run.stderr);
    const t = totals(parseJson(run.stdout), 'pid');
    assert.equal(t.get(String(inside.proc.pid))?.count, 1500);
    assert.equal(t.get(String(outside.proc.pid)), undefined);
  } finally {
    rmdirSync(dir);
  }
  const bad = await runTool(['syscount', '-c', '/nonexistent-cgroup']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^bpfkit syscount: -c: \/nonexistent-cgroup is not a cgroup directory/);
});
