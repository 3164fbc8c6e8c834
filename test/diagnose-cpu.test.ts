// diagnose and CPU saturation, on workloads the test controls: fork+exec loops whose CPU time is
// spent almost entirely in processes that exit within a millisecond, and a process that sleeps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { kernelTest, leftoverPrograms, runTool, sleep, startTool } from './helpers.js';

interface Verdict { service: number; comm: string; rule: string; summary: string; evidence: string[] }
interface Service { id: number; comm: string; pids: number[]; cpuCores: number; exitedCpuCores: number }
interface Report { verdicts: Verdict[]; services: Service[]; saturated: boolean; conclusion: string }

async function diagnose(args: string[]): Promise<Report> {
  const run = await runTool(['diagnose', ...args, '--json'], { timeoutMs: 60_000 });
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(leftoverPrograms('diagnose_'), []);
  return JSON.parse(run.stdout) as Report;
}

const cpuCount = (): number => readFileSync('/proc/stat', 'utf8').split('\n').filter((l) => /^cpu\d+ /.test(l)).length;

/** CPU time (user + system, s) of a process's children that exited and were reaped. */
function childCpu(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[13]) + Number(f[14])) / 100;
}

test('fork+exec loops (one per CPU): the CPU is saturated and the loops are named, short-lived processes counted', kernelTest(), async () => {
  const n = cpuCount();
  const loops: ChildProcess[] = [];
  try {
    for (let i = 0; i < n; i++) loops.push(spawn('bash', ['-c', 'while :; do /bin/true; done'], { stdio: 'ignore' }));
    await sleep(300);
    const c0 = loops.map((l) => childCpu(l.pid!));
    const report = await diagnose(['-d', '4']);
    // Ground truth: the loops' exited children (/bin/true and the forks) used the CPU (cutime+cstime).
    const used = loops.reduce((s, l, i) => s + childCpu(l.pid!) - c0[i]!, 0);
    assert.ok(used >= 0.5 * n * 4, `ground truth: the loops' children used ${used} s of CPU in 4 s on ${n} CPUs`);
    assert.equal(report.saturated, true, `${report.conclusion}\n${JSON.stringify(report.services.slice(0, 5))}`);
    for (const l of loops) {
      const v = report.verdicts.find((x) => x.service === l.pid);
      assert.ok(v, `loop ${l.pid} not named: ${JSON.stringify(report.verdicts)}`);
      assert.match(v.rule, /cpu-saturated/);
      const s = report.services.find((x) => x.id === l.pid)!;
      assert.ok(s.cpuCores >= 0.4, `loop ${l.pid}: ${s.cpuCores} cores`);
      // Most of a loop's CPU is in children that exited within the window.
      assert.ok(s.exitedCpuCores >= 0.5 * s.cpuCores, `loop ${l.pid}: ${s.exitedCpuCores} of ${s.cpuCores} cores in exited processes`);
    }
    // The short-lived children are not reported as services of their own.
    assert.ok(!report.services.some((s) => s.comm === 'true'), JSON.stringify(report.services.filter((s) => s.comm === 'true').slice(0, 3)));
  } finally {
    for (const l of loops) l.kill('SIGKILL');
  }
});

test('a process that sleeps: nothing is saturated for it, whatever else the host runs', kernelTest(), async () => {
  // Scoped with -p to a process the test controls, so other load on a shared host cannot change
  // the answer: it wakes 10 times a second and does almost nothing.
  const idle = spawn('bash', ['-c', 'while :; do sleep 0.1; done'], { stdio: 'ignore' });
  try {
    await sleep(200);
    const report = await diagnose(['-d', '3', '-p', String(idle.pid)]);
    assert.equal(report.saturated, false, JSON.stringify(report.verdicts));
    assert.deepEqual(report.verdicts, []);
    assert.match(report.conclusion, /nothing is saturated/);
    const s = report.services.find((x) => x.id === idle.pid);
    assert.ok(s, `the sleeping process is reported: ${JSON.stringify(report.services.map((x) => x.id))}`);
    assert.ok(s.cpuCores < 0.2, `${s.cpuCores} cores`);
  } finally {
    idle.kill('SIGKILL');
  }
});

test('-d 2592000 (30 days) keeps observing; Ctrl-C reports what was observed', kernelTest(), async () => {
  const t = startTool(['diagnose', '-d', '2592000', '--json'], { timeoutMs: 60_000 });
  await t.ready;
  await sleep(2000);
  assert.equal(t.proc.exitCode, null, 'diagnose -d 2592000 ended early');
  const t0 = Date.now();
  const r = await t.stop('SIGINT');
  assert.ok(Date.now() - t0 < 5000, `report ${Date.now() - t0} ms after SIGINT`);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as Report & { windowS: number };
  assert.ok(report.windowS >= 1.9 && report.windowS < 30, `window ${report.windowS} s`);
  assert.ok(report.services.length > 0);
  assert.deepEqual(leftoverPrograms('diagnose_'), []);
});
