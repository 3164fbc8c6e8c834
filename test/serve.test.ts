// bpfkit serve against a real Prometheus (Debian's prometheus on 127.0.0.1, scraping every
// second): after workloads with known counts - N syscalls, M and R bytes between two local
// processes, K direct reads and writes on a loop-device ext4 - Prometheus' query API returns
// exactly those counter values; promtool finds nothing wrong with the exposition; bad requests
// get 400 with a reason; SIGTERM leaves no program loaded. Also the pprof endpoint and
// `profile --pprof`, decoded with the reader in serve-helpers.ts (not the package serve uses).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { request } from 'node:http';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileC, kernelTest, leftoverPrograms, runInKernel, runTool, sleep, startGatedChild, startTool } from './helpers.js';
import { diskStat, makeLoopFs, STORAGE_WORKLOAD, type LoopFs } from './storagefs.js';
import { decodePprof, freePort, get, promtoolCheck, startPrometheus } from './serve-helpers.js';

/** sys N: as "sv_sys", after a line on stdin, N getppid syscalls. */
const SYSCALLS = `#define _GNU_SOURCE
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(int argc, char **argv) {
  prctl(PR_SET_NAME, "sv_sys");
  long n = atol(argv[1]);
  char line[8];
  if (read(0, line, sizeof line) <= 0) return 1;
  for (long i = 0; i < n; i++) syscall(SYS_getppid);
  return 0;
}
`;

/** pair M R: after a line on stdin, "sv_send" sends M bytes over loopback TCP to its child
 * "sv_recv", which reads them to EOF of the send direction and answers with R bytes. */
export const PAIR = `#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
int main(int argc, char **argv) {
  long m = atol(argv[1]), r = atol(argv[2]);
  static char buf[1 << 16];
  memset(buf, 'b', sizeof buf);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  socklen_t len = sizeof a;
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  if (bind(ls, (void *)&a, len) || listen(ls, 1) || getsockname(ls, (void *)&a, &len)) { perror("listen"); return 2; }
  pid_t child = fork();
  if (child == 0) {
    prctl(PR_SET_NAME, "sv_recv");
    int c = accept(ls, 0, 0);
    close(ls);
    long got = 0; ssize_t n;
    while ((n = read(c, buf, sizeof buf)) > 0) got += n;
    for (long left = r; left > 0;) { n = write(c, buf, left < (long)sizeof buf ? left : (long)sizeof buf); if (n <= 0) return 3; left -= n; }
    close(c);
    return got == m ? 0 : 1;
  }
  prctl(PR_SET_NAME, "sv_send");
  close(ls);
  char line[8];
  if (read(0, line, sizeof line) <= 0) return 1;
  int s = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(s, (void *)&a, len)) { perror("connect"); return 2; }
  for (long left = m; left > 0;) { ssize_t n = write(s, buf, left < (long)sizeof buf ? left : (long)sizeof buf); if (n <= 0) return 3; left -= n; }
  shutdown(s, SHUT_WR);
  long got = 0; ssize_t n;
  while ((n = read(s, buf, sizeof buf)) > 0) got += n;
  int st = 0;
  waitpid(child, &st, 0);
  return got == r && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 4;
}
`;

/** spin SECONDS: as "sv_spin", burns the CPU in spin_hot() (not inlined, frame pointers). */
const SPIN = `#include <time.h>
#include <stdlib.h>
#include <sys/prctl.h>
volatile unsigned long sink;
__attribute__((noinline)) unsigned long spin_hot(unsigned long x) { for (int i = 0; i < 50000000; i++) sink = x = x * 6364136223846793005UL + 1442695040888963407UL; return x; }
int main(int argc, char **argv) {
  prctl(15, "sv_spin");
  time_t end = time(0) + atoi(argv[1]);
  unsigned long x = 1;
  while (time(0) < end) x = spin_hot(x);
  return (int)(x & 1) * 0;
}
`;

const N = 12345;
const M = 3_000_017;
const R = 123_457;
const K = 100;

let fs: LoopFs | undefined;
const isRoot = process.getuid?.() === 0;
before(() => { if (isRoot) fs = makeLoopFs(); });
after(() => fs?.cleanup());

test('serve: Prometheus scrapes exact counts of syscalls, TCP bytes each way and direct I/Os; promtool is silent; SIGTERM detaches', kernelTest(), async () => {
  const sysBin = compileC(SYSCALLS);
  const pairBin = compileC(PAIR);
  const dioBin = compileC(STORAGE_WORKLOAD);
  const file = join(fs!.dir, 'dio');
  execFileSync('fallocate', ['-l', String(K * 4096), file]);
  execFileSync('sync');
  const port = await freePort();
  const s0 = diskStat(fs!.name);
  const serve = startTool(['serve', '--listen', `127.0.0.1:${port}`, '--by-comm', '-i', '2'], { timeoutMs: 120_000 });
  await serve.ready;
  const prom = await startPrometheus(`127.0.0.1:${port}`);
  try {
    const sys = startGatedChild(sysBin, [String(N)]);
    const pair = startGatedChild(pairBin, [String(M), String(R)]);
    const dio = startGatedChild(dioBin, ['dio', file, String(K)]);
    for (const c of [sys, pair, dio]) c.go();
    assert.deepEqual(await Promise.all([sys.exited, pair.exited, dio.exited]), [0, 0, 0]);
    const s1 = diskStat(fs!.name);
    const reads = s1.reads - s0.reads;
    const writes = s1.writes - s0.writes;
    assert.equal(reads, K, `loop device reads ${reads}`);
    assert.ok(writes >= K, `loop device writes ${writes}`);

    const want: Array<[string, number]> = [
      [`bpfkit_syscall_latency_seconds_count{syscall="getppid",comm="sv_sys"}`, N],
      [`bpfkit_syscall_latency_seconds_bucket{syscall="getppid",comm="sv_sys",le="+Inf"}`, N],
      [`bpfkit_tcp_flow_bytes_total{src="sv_send",dst="sv_recv"}`, M],
      [`bpfkit_tcp_flow_bytes_total{src="sv_recv",dst="sv_send"}`, R],
      [`bpfkit_tcp_sent_bytes_total{comm="sv_send"}`, M],
      [`bpfkit_tcp_received_bytes_total{comm="sv_send"}`, R],
      [`bpfkit_block_io_latency_seconds_count{disk="${fs!.name}",op="read"}`, reads],
      [`bpfkit_block_io_bytes_total{disk="${fs!.name}",op="read"}`, reads * 4096],
      [`bpfkit_block_io_latency_seconds_count{disk="${fs!.name}",op="write"}`, writes],
    ];
    let got: Array<string | undefined> = [];
    const deadline = Date.now() + 30_000;
    for (;;) {
      got = await Promise.all(want.map(async ([q]) => (await prom.query(q))[0]?.value[1]));
      if (got.every((v, i) => v === String(want[i]![1])) || Date.now() > deadline) break;
      await sleep(500);
    }
    for (let i = 0; i < want.length; i++) assert.equal(got[i], String(want[i]![1]), `Prometheus: ${want[i]![0]}`);
    console.log(`# Prometheus returned: ${want.map(([q], i) => `${q} = ${got[i]}`).join('; ')}`);
    // The histogram's buckets are cumulative and end at the count.
    const buckets = await prom.query(`bpfkit_syscall_latency_seconds_bucket{syscall="getppid",comm="sv_sys"}`);
    const byLe = buckets.map((b) => [Number(b.metric.le === '+Inf' ? Infinity : b.metric.le), Number(b.value[1])] as const).sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < byLe.length; i++) assert.ok(byLe[i]![1] >= byLe[i - 1]![1], JSON.stringify(byLe));
    assert.equal(byLe.length, 16);
    // The self-cost metrics are there and move.
    const runs = await prom.query('sum(bpfkit_bpf_program_runs_total{program="serve_sys_exit"})');
    assert.ok(Number(runs[0]?.value[1]) >= N, JSON.stringify(runs));
    assert.ok(Number((await prom.query('bpfkit_self_resident_memory_bytes'))[0]?.value[1]) > 10e6);

    const expo = (await get(`http://127.0.0.1:${port}/metrics`)).body.toString();
    const check = promtoolCheck(expo);
    assert.equal(check.output, '', `promtool check metrics: ${check.output}`);
    assert.equal(check.code, 0);

    // Bad requests: 400 with one line saying why; unknown paths 404.
    const bad: Array<[string, number, RegExp]> = [
      ['/metrics?x=1', 400, /^unknown parameter 'x'\n$/],
      ['/debug/pprof/profile?seconds=abc', 400, /^seconds: 'abc' is not a whole number\n$/],
      ['/debug/pprof/profile?seconds=0', 400, /out of range \(1\.\.300\)\n$/],
      ['/debug/pprof/profile?seconds=1&pid=4194000', 400, /no such process/],
      ['/debug/pprof/profile?seconds=1&seconds=2', 400, /given twice/],
      ['/nope', 404, /^not found\n$/],
      ['/', 404, /^not found\n$/], // no --web
      ['/api/state', 404, /^not found\n$/],
    ];
    for (const [path, status, re] of bad) {
      const r = await get(`http://127.0.0.1:${port}${path}`);
      assert.equal(r.status, status, path);
      assert.match(r.body.toString(), re, path);
    }
    const post = await fetch(`http://127.0.0.1:${port}/metrics`, { method: 'POST' });
    assert.equal(post.status, 405);
    // A name that is not loopback in Host (DNS rebinding from a web page): refused.
    const rebound = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/metrics', headers: { Host: `evil.example:${port}` } }, (res) => {
        let body = '';
        res.on('data', (d) => { body += d; });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(rebound.status, 400);
    assert.match(rebound.body, /^Host header is not a loopback address/);
  } finally {
    await prom.stop();
  }
  const run = await serve.stop('SIGTERM');
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(leftoverPrograms('serve_'), []);
  assert.deepEqual(leftoverPrograms('diagnose_'), []);
  assert.deepEqual(leftoverPrograms('profile_'), []);
});

test('serve --listen: another address than loopback needs --allow-remote (and warns)', kernelTest(), async () => {
  const refused = await runTool(['serve', '--listen', '0.0.0.0:9']);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /^bpfkit serve: --listen 0\.0\.0\.0:9: not a loopback address; add --allow-remote[^\n]*\n$/);
  assert.equal((await runTool(['serve', '--listen', 'nonsense'])).code, 2);
  const port = await freePort();
  const ok = await runTool(['serve', '--listen', `0.0.0.0:${port}`, '--allow-remote', '--no-diagnose', '-d', '1']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stderr, /WARNING: serving on 0\.0\.0\.0:\d+, reachable from other hosts/);
});

test('pprof: /debug/pprof/profile?seconds=2&pid= and profile --pprof show the hot function with its share', kernelTest(), async () => {
  const spin = startGatedChild('sh', ['-c', `read x; exec ${compileC(SPIN, ['-fno-omit-frame-pointer'])} 8`]);
  spin.go();
  await sleep(300);
  const pid = spin.proc.pid!;
  const port = await freePort();
  const serve = startTool(['serve', '--listen', `127.0.0.1:${port}`, '--no-diagnose'], { timeoutMs: 60_000 });
  await serve.ready;
  const out = join(tmpdir(), `bpfkit-test-${process.pid}.pb.gz`);
  try {
    const [r, cli] = await Promise.all([
      get(`http://127.0.0.1:${port}/debug/pprof/profile?seconds=2&pid=${pid}`),
      runTool(['profile', '-p', String(pid), '--pprof', out, '2']),
    ]);
    assert.equal(r.status, 200, r.body.toString());
    assert.equal(cli.code, 0, cli.stderr);
    for (const [what, gz] of [['endpoint', r.body], ['profile --pprof', readFileSync(out)]] as const) {
      const p = decodePprof(gz);
      assert.deepEqual(p.sampleTypes, ['samples/count', 'cpu/nanoseconds'], what);
      const total = p.samples.reduce((a, s) => a + s.values[0]!, 0);
      const hot = p.samples.filter((s) => s.frames[0] === 'spin_hot').reduce((a, s) => a + s.values[0]!, 0);
      assert.ok(total >= 30, `${what}: ${total} samples in 2 s at 99 Hz`);
      assert.ok(hot / total >= 0.9, `${what}: spin_hot is the leaf of ${hot} of ${total} samples`);
      assert.ok(p.samples.every((s) => s.labels.pid === pid && s.labels.comm === 'sv_spin'), what);
      assert.ok(p.samples.every((s) => s.values[1] === s.values[0]! * p.periodNs), what);
      console.log(`# ${what}: ${total} samples, spin_hot leaf in ${(hot / total * 100).toFixed(1)}%, duration ${(p.durationNs / 1e9).toFixed(2)} s`);
    }
  } finally {
    rmSync(out, { force: true });
    spin.proc.kill();
  }
  const run = await serve.stop('SIGINT');
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(leftoverPrograms('profile_'), []);
  assert.deepEqual(leftoverPrograms('serve_'), []);
});

test('6.1 kernel (no sock_*_length): serve counts TCP bytes from fexit, exactly, and detaches on SIGTERM', kernelTest(), async () => {
  const B = 2_000_000 + Math.floor(Math.random() * 1_000_000);
  const receiver = `const s=require('net').createServer(c=>{let n=0;c.on('data',d=>n+=d.length);c.on('end',()=>{require('fs').writeFileSync('/tmp/rx-bytes',String(n));process.exit(0)})}).listen(0,'127.0.0.1',()=>require('fs').writeFileSync('/tmp/port',String(s.address().port)))`;
  const sender = `const c=require('net').connect(+require('fs').readFileSync('/tmp/port','utf8'),'127.0.0.1',()=>c.end(Buffer.alloc(${B},7)))`;
  const scrape = `fetch('http://127.0.0.1:9435/metrics').then(r=>r.text()).then(t=>console.log(t.split('\\n').filter(l=>/^bpfkit_tcp_flow_bytes_total|^bpfkit_syscall_latency_seconds_count\\{syscall="execve"/.test(l)).map(l=>'M '+l).join('\\n')))`;
  const { code, output } = await runInKernel(`
BPFKIT_READY=1 node dist/src/cli/main.js serve --no-diagnose --verbose > /dev/null 2> /tmp/err &
T=$!
for i in $(seq 1 1200); do grep -q BPFKIT_READY /tmp/err && break; sleep 0.1; done
node -e ${JSON.stringify(receiver)} &
R=$!
for i in $(seq 1 600); do [ -s /tmp/port ] && break; sleep 0.1; done
node -e ${JSON.stringify(sender)}
wait $R
sleep 3
node -e ${JSON.stringify(scrape)}
kill -TERM $T; wait $T; echo "TOOLEXIT=$?"
echo "RXBYTES=$(cat /tmp/rx-bytes)"
grep 'serve:' /tmp/err
echo "LEFT=$(bpftool prog show | grep -c serve_ || true)"
`, 600);
  assert.equal(code, 0, output);
  assert.match(output, /^TOOLEXIT=0$/m, output);
  assert.match(output, /TCP bytes from fexit\/tcp_sendmsg \+ tcp_recvmsg/, output);
  assert.match(output, /^LEFT=0$/m, output);
  assert.match(output, new RegExp(`^RXBYTES=${B}$`, 'm'), output);
  assert.match(output, new RegExp(`^M bpfkit_tcp_flow_bytes_total\\{src="node",dst="node"\\} ${B}$`, 'm'), output);
  assert.match(output, /^M bpfkit_syscall_latency_seconds_count\{syscall="execve"\} [1-9]/m, output);
});
