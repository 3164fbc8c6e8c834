// bpfkit serve under churn, the way it runs for days: for 90 s a workload forks ~100 short-lived
// processes a second, each opening a TCP connection, sending 1000 bytes and exiting, while the
// metrics are scraped every second. With per-process labels on (the worst case for series),
// serve's RSS stays flat, the series of exited processes go away, the kernel maps do not fill,
// and the flow counter still holds exactly 1000 bytes per connection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { compileC, kernelTest, leftoverPrograms, sleep, startGatedChild, startTool } from './helpers.js';
import { freePort, get } from './serve-helpers.js';

/** churn SECONDS: "sv_churnsrv" accepts and reads; "sv_churn" forks one child per connection
 * (connect, send 1000 bytes, exit) about 100 times a second. Prints the connections made. */
const CHURN = `#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv) {
  int secs = atoi(argv[1]);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  socklen_t len = sizeof a;
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  if (bind(ls, (void *)&a, len) || listen(ls, 128) || getsockname(ls, (void *)&a, &len)) return 2;
  pid_t srv = fork();
  if (srv == 0) {
    prctl(PR_SET_NAME, "sv_churnsrv");
    char buf[4096];
    for (;;) {
      int c = accept(ls, 0, 0);
      if (c < 0) continue;
      while (read(c, buf, sizeof buf) > 0) {}
      close(c);
    }
  }
  prctl(PR_SET_NAME, "sv_churn");
  close(ls);
  char line[8];
  if (read(0, line, sizeof line) <= 0) return 1;
  time_t end = time(0) + secs;
  long made = 0;
  static char msg[1000];
  memset(msg, 'c', sizeof msg);
  while (time(0) < end) {
    pid_t p = fork();
    if (p == 0) {
      int s = socket(AF_INET, SOCK_STREAM, 0);
      if (connect(s, (void *)&a, len)) _exit(1);
      if (write(s, msg, sizeof msg) != sizeof msg) _exit(1);
      close(s);
      _exit(0);
    }
    int st;
    waitpid(p, &st, 0);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) made++;
    usleep(8000);
  }
  printf("%ld\\n", made);
  fflush(stdout);
  /* the server lives until the test has read its counters */
  if (read(0, line, sizeof line) <= 0) {}
  kill(srv, SIGTERM);
  waitpid(srv, 0, 0);
  return 0;
}
`;

const SECONDS = 90;

const rssOf = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;

function family(text: string, name: string): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m && m[1] === name) out.push([m[2] ?? '', Number(m[3])]);
  }
  return out;
}

test(`serve under ${SECONDS} s of process and connection churn: RSS flat, exited processes forgotten, exact bytes received`, kernelTest(), async () => {
  const bin = compileC(CHURN);
  const port = await freePort();
  const serve = startTool(['serve', '--listen', `127.0.0.1:${port}`, '--per-process', '--by-comm', '-i', '5'], { timeoutMs: (SECONDS + 60) * 1000 });
  await serve.ready;
  const spid = serve.proc.pid!;
  const churn = startGatedChild(bin, [String(SECONDS)]);
  churn.go();
  const t0 = Date.now();
  const rss: Array<[number, number]> = [];
  let maxSeries = 0;
  let last = '';
  while (!churn.stdout().includes('\n')) {
    last = (await get(`http://127.0.0.1:${port}/metrics`)).body.toString();
    maxSeries = Math.max(maxSeries, last.split('\n').filter((l) => l && !l.startsWith('#')).length);
    rss.push([(Date.now() - t0) / 1000, rssOf(spid)]);
    await sleep(1000);
  }
  const made = Number(churn.stdout().trim());
  assert.ok(made >= 2000, `only ${made} connections`);
  // Two refreshes later every byte is counted, and the exited processes are gone from the series.
  await sleep(7000);
  last = (await get(`http://127.0.0.1:${port}/metrics`)).body.toString();
  const received = family(last, 'bpfkit_tcp_received_bytes_total').filter(([l]) => l.includes('comm="sv_churnsrv"'));
  assert.equal(received.length, 1, JSON.stringify(received));
  assert.equal(received[0]![1], made * 1000, `bytes received by the server after ${made} connections`);
  const churnSeries = family(last, 'bpfkit_tcp_sent_bytes_total').filter(([l]) => l.includes('comm="sv_churn"'));
  assert.ok(churnSeries.length <= 1, `per-process series of exited children left: ${churnSeries.length}`);
  const flowSeries = family(last, 'bpfkit_tcp_flow_bytes_total').filter(([l]) => l.includes('src="sv_churn"'));
  assert.ok(flowSeries.length <= 1, `flow series of exited children left: ${flowSeries.length}`);
  churn.proc.stdin!.write('end\n');
  assert.equal(await churn.exited, 0);
  const scSeries = family(last, 'bpfkit_syscall_latency_seconds_count').filter(([l]) => l.includes('comm="sv_churn"'));
  assert.ok(scSeries.length <= 40, `syscall series of sv_churn processes left: ${scSeries.length}`);
  const lost = family(last, 'bpfkit_events_lost_total');
  // RSS: after warm-up (first third) vs the last third.
  const mid = rss.filter(([t]) => t >= SECONDS / 3 && t < (2 * SECONDS) / 3).map(([, r]) => r);
  const end = rss.filter(([t]) => t >= (2 * SECONDS) / 3).map(([, r]) => r);
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const mb = (x: number) => (x / 1048576).toFixed(1);
  console.log(`# churn: ${made} processes+connections in ${SECONDS} s; serve RSS start ${mb(rss[0]![1])} MB, median middle third ${mb(med(mid))} MB, median last third ${mb(med(end))} MB, max ${mb(Math.max(...rss.map(([, r]) => r)))} MB; at most ${maxSeries} samples per scrape; lost ${JSON.stringify(lost)}`);
  assert.ok(med(end) <= med(mid) * 1.1 + 4 * 1048576, `RSS grew: middle ${mb(med(mid))} MB -> end ${mb(med(end))} MB`);
  const run = await serve.stop('SIGTERM');
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(leftoverPrograms('serve_'), []);
  assert.deepEqual(leftoverPrograms('diagnose_'), []);
});
