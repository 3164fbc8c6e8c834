// diagnose on the pipeline lab (real PostgreSQL, Redis, producer and loader): the lab's own
// ground truth (its counters and the slot's lag) says which configuration falls behind; with
// the Python loader and with the Java one.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { kernelTest, leftoverPrograms, REPO, runInKernel, runTool } from './helpers.js';

const LAB = join(REPO, 'examples', 'pipeline', 'run.sh');
// A private lab (directory and ports) so a developer's own lab is not disturbed.
const ENV = { ...process.env, LAB_DIR: '/tmp/bpfkit-test-lab', PG_PORT: '25632', REDIS_PORT: '26579' };
const root = process.getuid?.() === 0;

interface LabStatus {
  running: boolean;
  producer: { pid: number; rowsPerSec: number };
  loader: { pid: number; changesPerSec: number; batchSize: number };
  postgres: { pid: number; port: number };
  redis: { pid: number };
  lag: { trend: 'growing' | 'stable' };
}

function lab(...args: string[]): string {
  const r = spawnSync('bash', [LAB, ...args], { env: ENV, encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) throw new Error(`run.sh ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}
const status = (seconds = 4): LabStatus => JSON.parse(lab('status', '--json', '--interval', String(seconds))) as LabStatus;

interface Verdict { service: number; comm: string; rule: string; evidence: string[] }
interface Report { verdicts: Verdict[]; notes: string[]; saturated: boolean; conclusion: string; edges: Array<{ from: number | string; to: number | string; bytesPerS: number; msgsPerS: number }> }

/** diagnose scoped to the lab's pipeline (-p its producer: the producer and all connected to it). */
async function diagnose(seconds: number, st?: LabStatus): Promise<Report> {
  const scope = st ? ['-p', String(st.producer.pid)] : [];
  const run = await runTool(['diagnose', '-d', String(seconds), '--json', ...scope], { timeoutMs: (seconds + 30) * 1000 });
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(leftoverPrograms('diagnose_'), []);
  return JSON.parse(run.stdout) as Report;
}

/** Bytes the loader received from PostgreSQL's port during `seconds`, measured by tcptop. */
async function loaderRxFromPostgres(st: LabStatus, seconds: number): Promise<number> {
  const run = await runTool(['tcptop', '-C', '-p', String(st.loader.pid), '--json', String(seconds), '1'], { timeoutMs: (seconds + 30) * 1000 });
  assert.equal(run.code, 0, run.stderr);
  let rx = 0;
  for (const line of run.stdout.trim().split('\n')) {
    const rec = JSON.parse(line) as { rows: Array<{ pid: number; rport: number; rx_bytes: number }> };
    for (const r of rec.rows) if (r.pid === st.loader.pid && r.rport === st.postgres.port) rx += r.rx_bytes;
  }
  return rx;
}

after(() => { if (root) lab('stop'); });

// The same lab with either loader: loader.py, or Loader.java on HotSpot (whose own GC, JIT and
// VM threads must not count as the loader's work). Its process name: loader.py renames itself.
const LOADERS = [
  { loader: 'python', comm: 'loader', runs10: 5, runs5000: 2 },
  { loader: 'java', comm: 'java', runs10: 2, runs5000: 1 },
] as const;

for (const { loader, comm, runs10, runs5000 } of LOADERS) {
  let rxBatch10 = 0;

  test(`${loader} loader, batch size 10: the lab falls behind and diagnose names the loader, ${runs10} runs`, kernelTest(), async () => {
    lab('start', '--loader', loader, '--batch-size', '10');
    const st = status();
    assert.equal(st.lag.trend, 'growing', 'ground truth: with batch 10 the loader falls behind');
    for (let i = 0; i < runs10; i++) {
      const report = await diagnose(10, st);
      const top = report.verdicts[0];
      assert.ok(top, `run ${i + 1}: no verdict: ${report.conclusion}`);
      assert.equal(top.service, st.loader.pid, `run ${i + 1}: top suspect ${top.comm} (${top.service}), want loader ${st.loader.pid}`);
      assert.equal(top.comm, comm);
      assert.equal(top.rule, 'pull-limited consumer');
      assert.ok(top.evidence.some((e) => /request\/response/.test(e) && /postgres/.test(e)), top.evidence.join('\n'));
      // The flow graph has both directions of the loader's exchange with PostgreSQL.
      assert.ok(report.edges.some((e) => e.from === st.postgres.pid && e.to === st.loader.pid && e.msgsPerS > 1));
      assert.ok(report.edges.some((e) => e.from === st.loader.pid && e.to === st.postgres.pid && e.msgsPerS > 1));
      if (loader === 'java') {
        // The JVM's own threads are set apart; the loader sleeps between polls (Thread.sleep: a timed futex wait).
        assert.ok(report.notes.some((n) => new RegExp(`^java \\(pid ${st.loader.pid}\\) is a JVM: GC \\d+% of its CPU`).test(n)), report.notes.join('\n'));
        assert.ok(top.evidence.some((e) => /java's time: .*, [1-9]\d% in timed sleeps/.test(e)), top.evidence.join('\n'));
      }
    }
    rxBatch10 = await loaderRxFromPostgres(st, 5);
    assert.ok(rxBatch10 > 0);
  });

  test(`${loader} loader: text report with verdict, evidence, next command, and the producer sleeping on a timer`, kernelTest(), async () => {
    const st = status(2);
    const run = await runTool(['diagnose', '-d', '5', '-p', String(st.producer.pid)], { timeoutMs: 60_000 });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, new RegExp(`Verdict: likely bottleneck: ${comm} \\(pid ${st.loader.pid}\\)`));
    assert.match(run.stdout, new RegExp(`next: bpfkit trace -p ${st.loader.pid}`));
    // The producer sleeps with select() and no file descriptors: a timed sleep, not I/O.
    assert.match(run.stdout, new RegExp(`python3 \\(pid ${st.producer.pid}\\) is sleeping on a timer \\d+% of its time \\(select/poll with no file descriptors`));
  });

  test(`${loader} loader, batch size 5000: the lab keeps up, diagnose does not blame the loader, 10x its traffic`, kernelTest(), async () => {
    lab('start', '--loader', loader, '--batch-size', '5000');
    const st = status(6);
    assert.equal(st.loader.batchSize, 5000);
    assert.equal(st.lag.trend, 'stable', 'ground truth: with batch 5000 the loader keeps up');
    for (let i = 0; i < runs5000; i++) {
      const report = await diagnose(10, st);
      assert.ok(!report.verdicts.some((v) => v.service === st.loader.pid), `loader named: ${JSON.stringify(report.verdicts)}`);
    }
    const rx = await loaderRxFromPostgres(st, 5);
    assert.ok(rxBatch10 > 0, 'the batch-10 measurement ran first');
    assert.ok(rx >= 10 * rxBatch10, `loader rx from postgres: ${rx} B with batch 5000 vs ${rxBatch10} B with batch 10`);
  });
}

test('bad input: one-line errors, exit 2', kernelTest(), async () => {
  for (const args of [['diagnose', '-d', '0'], ['diagnose', '-p', '999999'], ['diagnose', 'extra']]) {
    const run = await runTool(args);
    assert.equal(run.code, 2, run.stderr);
    assert.equal(run.stderr.trimEnd().split('\n').length, 1, run.stderr);
  }
});

test('6.1 kernel (no sock_*_length): TCP flows from fexit, exact bytes on the edge', kernelTest(), async () => {
  const B = 3_000_000 + Math.floor(Math.random() * 1_000_000);
  // Receiver and sender are separate processes; each writes its pid to a file.
  const receiver = `const s=require('net').createServer(c=>{let n=0;c.on('data',d=>n+=d.length);c.on('end',()=>{require('fs').writeFileSync('/tmp/rx-bytes',String(n));process.exit(0)})}).listen(0,'127.0.0.1',()=>{require('fs').writeFileSync('/tmp/port',String(s.address().port));require('fs').writeFileSync('/tmp/rx-pid',String(process.pid))})`;
  const sender = `const c=require('net').connect(+require('fs').readFileSync('/tmp/port','utf8'),'127.0.0.1',()=>{require('fs').writeFileSync('/tmp/tx-pid',String(process.pid));c.end(Buffer.alloc(${B},7))})`;
  const { code, output } = await runInKernel(`
BPFKIT_READY=1 node dist/src/cli/main.js diagnose -d 25 --json --verbose > /tmp/report 2> /tmp/err &
T=$!
for i in $(seq 1 1200); do grep -q BPFKIT_READY /tmp/err && break; sleep 0.1; done
node -e ${JSON.stringify(receiver)} &
R=$!
for i in $(seq 1 600); do [ -s /tmp/rx-pid ] && break; sleep 0.1; done
node -e ${JSON.stringify(sender)}
wait $R
wait $T; echo "TOOLEXIT=$?"
echo "RXPID=$(cat /tmp/rx-pid) TXPID=$(cat /tmp/tx-pid) RXBYTES=$(cat /tmp/rx-bytes)"
grep 'diagnose:' /tmp/err
echo "REPORT=$(cat /tmp/report)"
echo "LEFT=$(bpftool prog show | grep -c diagnose_ || true)"
`, 600);
  assert.equal(code, 0, output);
  assert.match(output, /^TOOLEXIT=0$/m, output);
  assert.match(output, /TCP bytes from fexit\/tcp_sendmsg \+ fexit\/tcp_recvmsg/, output);
  assert.match(output, /^LEFT=0$/m, output);
  const ids = /RXPID=(\d+) TXPID=(\d+) RXBYTES=(\d+)/.exec(output);
  assert.ok(ids, output);
  assert.equal(Number(ids[3]), B, 'the receiver got every byte');
  const report = JSON.parse(/^REPORT=(.*)$/m.exec(output)![1]!) as Report & { windowS: number };
  const edge = report.edges.find((e) => e.from === Number(ids[2]) && e.to === Number(ids[1]));
  assert.ok(edge, JSON.stringify(report.edges));
  assert.equal(Math.round(edge.bytesPerS * report.windowS), B);
});
