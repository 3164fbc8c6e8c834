// tcptop against loopback transfers of a known size: the byte counts must be exact, per
// process, per connection, in text and in NDJSON, on this kernel (tp_btf) and on the fallback
// kernel (fexit and kprobes, one boot).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmdirSync, writeFileSync, existsSync } from 'node:fs';
import { compileC, kernelTest, leftoverPrograms, runInKernel, runTool, startGatedChild, startTool, type ToolRun } from './helpers.js';

// pair FAMILY BYTES [gate [PACE_US]]: parent "tt_send" sends exactly BYTES to a forked child "tt_recv"
// that reads them with plain reads, MSG_WAITALL receives and MSG_PEEK peeks mixed.
const PAIR = `#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
/* pair FAMILY(4|6) BYTES [gate]: the parent ("tt_send") sends exactly BYTES over loopback TCP
 * to a forked child ("tt_recv") that reads until EOF. Prints the PIDs and the listening port,
 * waits for a line on stdin if "gate", then transfers and prints the sender's local port. */
int main(int argc, char **argv) {
  int fam = atoi(argv[1]) == 6 ? AF_INET6 : AF_INET;
  long total = atol(argv[2]);
  int gate = argc > 3 && strcmp(argv[3], "gate") == 0;
  int pace = argc > 4 ? atoi(argv[4]) : 0; /* microseconds between sends */
  struct sockaddr_storage ss; memset(&ss, 0, sizeof ss);
  socklen_t len;
  if (fam == AF_INET) { struct sockaddr_in *a = (void *)&ss; a->sin_family = AF_INET; a->sin_addr.s_addr = htonl(INADDR_LOOPBACK); len = sizeof *a; }
  else { struct sockaddr_in6 *a = (void *)&ss; a->sin6_family = AF_INET6; a->sin6_addr = in6addr_loopback; len = sizeof *a; }
  int ls = socket(fam, SOCK_STREAM, 0);
  if (ls < 0 || bind(ls, (void *)&ss, len) || listen(ls, 1)) { perror("listen"); return 2; }
  getsockname(ls, (void *)&ss, &len);
  int port = ntohs(fam == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port : ((struct sockaddr_in6 *)&ss)->sin6_port);
  pid_t child = fork();
  if (child == 0) {
    prctl(PR_SET_NAME, "tt_recv");
    int c = accept(ls, 0, 0);
    close(ls);
    static char buf[1 << 17];
    long got = 0; ssize_t n; int i = 0;
    /* Varying reads: small ones, MSG_WAITALL ones (the kernel sleeps inside them, midway),
     * and peeks, which do not consume data and must not be counted. */
    for (;;) {
      switch (i++ % 4) {
      case 0: n = read(c, buf, 1000); break;
      case 1: n = recv(c, buf, sizeof buf, MSG_WAITALL); break;
      case 2: n = recv(c, buf, 4096, MSG_PEEK); if (n > 0) continue; break;
      default: n = read(c, buf, sizeof buf);
      }
      if (n <= 0) break;
      got += n;
    }
    close(c);
    return got == total ? 0 : 1;
  }
  prctl(PR_SET_NAME, "tt_send");
  close(ls);
  printf("{\\"sender\\":%d,\\"receiver\\":%d,\\"port\\":%d}\\n", getpid(), child, port);
  fflush(stdout);
  if (gate) { char line[16]; if (!fgets(line, sizeof line, stdin)) return 3; }
  int s = socket(fam, SOCK_STREAM, 0);
  if (connect(s, (void *)&ss, len)) { perror("connect"); return 2; }
  struct sockaddr_storage me; socklen_t mlen = sizeof me;
  getsockname(s, (void *)&me, &mlen);
  int sport = ntohs(fam == AF_INET ? ((struct sockaddr_in *)&me)->sin_port : ((struct sockaddr_in6 *)&me)->sin6_port);
  static char data[1 << 16];
  memset(data, 'x', sizeof data);
  long sent = 0; int i = 0;
  while (sent < total) {
    long want = total - sent;
    long chunk = (i++ % 2) ? 777 : (long)sizeof data;
    if (want > chunk) want = chunk;
    ssize_t n = send(s, data, want, 0);
    if (n <= 0) { perror("send"); return 2; }
    if (pace) usleep(pace);
    sent += n;
  }
  close(s);
  int st = 0;
  waitpid(child, &st, 0);
  printf("{\\"sport\\":%d,\\"sent\\":%ld,\\"received_ok\\":%s}\\n", sport, sent, WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "true" : "false");
  return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}
`;

interface JsonRow { pid: number; comm: string; family: number; laddr: string; lport: number; raddr: string; rport: number; rx_bytes: number; tx_bytes: number; rx_kb: number; tx_kb: number }
interface JsonRecord { time: string; connections: number; rows: JsonRow[] }

const parseJson = (stdout: string): JsonRecord[] => stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as JsonRecord);

/** 1 to 5 MB, different every run. */
const randomBytes = () => 1_000_000 + Math.floor(Math.random() * 4_000_000);

interface Pair { family: 4 | 6; bytes: number; sender: number; receiver: number; port: number; sport: number }

/** Start a gated pair; `run()` lets it transfer and resolves when both processes have exited. */
async function startPair(family: 4 | 6, bytes: number, paceUs = 0) {
  const child = startGatedChild(compileC(PAIR), [String(family), String(bytes), 'gate', String(paceUs)]);
  while (!child.stdout().includes('\n')) await new Promise((r) => setTimeout(r, 10));
  const first = JSON.parse(child.stdout().split('\n')[0]!) as { sender: number; receiver: number; port: number };
  return {
    ...first,
    kill: () => { child.proc.kill('SIGKILL'); },
    async run(): Promise<Pair> {
      child.go();
      const code = await child.exited;
      assert.equal(code, 0, `pair ${family} ${bytes} failed: ${child.stdout()}`);
      const second = JSON.parse(child.stdout().split('\n')[1]!) as { sport: number; sent: number };
      assert.equal(second.sent, bytes);
      return { family, bytes, ...first, sport: second.sport };
    },
  };
}

async function transfer(family: 4 | 6, bytes: number, paceUs = 0): Promise<Pair> {
  return (await startPair(family, bytes, paceUs)).run();
}

/** Per PID, all rows of all intervals. */
function rowsOf(records: JsonRecord[], pid: number): JsonRow[] {
  return records.flatMap((r) => r.rows).filter((r) => r.pid === pid);
}

/** Sum of one PID's bytes over intervals, per connection (lport/rport). */
function totalsOf(records: JsonRecord[], pid: number): Map<string, { rx: number; tx: number; row: JsonRow }> {
  const m = new Map<string, { rx: number; tx: number; row: JsonRow }>();
  for (const r of rowsOf(records, pid)) {
    const k = `${r.laddr}:${r.lport}>${r.raddr}:${r.rport}`;
    const t = m.get(k) ?? { rx: 0, tx: 0, row: r };
    t.rx += r.rx_bytes;
    t.tx += r.tx_bytes;
    m.set(k, t);
  }
  return m;
}

/** The sender moved exactly B out and nothing in; the receiver exactly B in; right addresses. */
function assertExact(records: JsonRecord[], p: Pair, context: string): void {
  const lo = p.family === 4 ? '127.0.0.1' : '::1';
  const s = [...totalsOf(records, p.sender).entries()];
  const r = [...totalsOf(records, p.receiver).entries()];
  assert.deepEqual(s.map(([k, t]) => [k, t.rx, t.tx]), [[`${lo}:${p.sport}>${lo}:${p.port}`, 0, p.bytes]], `sender, ${context}`);
  assert.deepEqual(r.map(([k, t]) => [k, t.rx, t.tx]), [[`${lo}:${p.port}>${lo}:${p.sport}`, p.bytes, 0]], `receiver, ${context}`);
  assert.equal(s[0]![1].row.comm, 'tt_send');
  assert.equal(r[0]![1].row.comm, 'tt_recv');
  assert.equal(s[0]![1].row.family, p.family);
}

async function finish(tool: ReturnType<typeof startTool>, how: 'SIGINT' | 'SIGTERM' | 'exit'): Promise<ToolRun> {
  const run = how === 'exit' ? await tool.done : await tool.stop(how);
  assert.equal(run.code, 0, run.stderr);
  return run;
}

// ---------------------------------------------------------------- unit tests (no kernel)

// ---------------------------------------------------------------- kernel tests

test('exact bytes over IPv4 and IPv6 loopback: tcptop -C 1 N, and the text agrees with --json', kernelTest(), async () => {
  const B4 = randomBytes();
  const B6 = randomBytes();
  const json = startTool(['tcptop', '-C', '--json', '-r', '1000', '1', '4']);
  const text = startTool(['tcptop', '-C', '-r', '1000', '60']);
  await Promise.all([json.ready, text.ready]);
  const v4 = await transfer(4, B4);
  const v6 = await transfer(6, B6);
  const [j, t] = await Promise.all([finish(json, 'exit'), finish(text, 'SIGINT')]);
  assert.deepEqual(leftoverPrograms('tcptop_'), []);

  const records = parseJson(j.stdout);
  assert.equal(records.length, 4, j.stdout);
  assertExact(records, v4, `IPv4 ${B4} bytes`);
  assertExact(records, v6, `IPv6 ${B6} bytes`);

  // Text: one report (Ctrl-C), BCC's columns; the IPv6 connections in the second block.
  const [v4part, v6part] = t.stdout.split(/\nPID +COMM +LADDR6 +RADDR6 +RX_KB +TX_KB\n/);
  assert.ok(v6part !== undefined, t.stdout);
  assert.match(t.stdout, /^Tracing\.\.\. Output every 60 secs\. Hit Ctrl-C to end\n\n\d\d:\d\d:\d\d loadavg: /);
  assert.match(v4part!, /\nPID {5}COMM {9}LADDR {17}RADDR {18}RX_KB  TX_KB\n/);
  const line = (p: Pair, pid: number, w: number, l: string, r: string, rx: number, tx: number) =>
    `${String(pid).padEnd(7)} ${(pid === p.sender ? 'tt_send' : 'tt_recv').padEnd(12)} ${l.padEnd(w)} ${r.padEnd(w)} ${String(rx).padStart(6)} ${String(tx).padStart(6)}`;
  const kb = (b: number) => Math.floor(b / 1024);
  const lines4 = v4part!.split('\n');
  const lines6 = v6part.split('\n');
  assert.ok(lines4.includes(line(v4, v4.sender, 21, `127.0.0.1:${v4.sport}`, `127.0.0.1:${v4.port}`, 0, kb(B4))), t.stdout);
  assert.ok(lines4.includes(line(v4, v4.receiver, 21, `127.0.0.1:${v4.port}`, `127.0.0.1:${v4.sport}`, kb(B4), 0)), t.stdout);
  assert.ok(lines6.includes(line(v6, v6.sender, 32, `::1:${v6.sport}`, `::1:${v6.port}`, 0, kb(B6))), t.stdout);
  assert.ok(lines6.includes(line(v6, v6.receiver, 32, `::1:${v6.port}`, `::1:${v6.sport}`, kb(B6), 0)), t.stdout);
});

test('a connection that opens, transfers and closes inside one interval is reported', kernelTest(), async () => {
  const B = randomBytes();
  const tool = startTool(['tcptop', '-C', '--json', '-r', '1000', '3', '1']);
  await tool.ready;
  const started = Date.now();
  const p = await transfer(4, B); // both processes have exited: the socket is gone
  assert.ok(Date.now() - started < 2500, 'the transfer should fit in the interval');
  const run = await finish(tool, 'exit');
  assert.deepEqual(leftoverPrograms('tcptop_'), []);
  const records = parseJson(run.stdout);
  assert.equal(records.length, 1);
  assertExact(records, p, 'closed connection');
});

test('exact across many interval boundaries (-i 0.1, the shortest, while a paced transfer runs)', kernelTest(), async () => {
  // Each report flips the in-kernel table and drains the old one while the transfer goes on:
  // the sum over all reports must still be exact.
  const B = randomBytes();
  const tool = startTool(['tcptop', '-C', '--json', '-r', '1000', '-i', '0.1']);
  await tool.ready;
  const p = await transfer(4, B, 20000);
  await new Promise((r) => setTimeout(r, 200));
  const run = await finish(tool, 'SIGINT');
  assert.deepEqual(leftoverPrograms('tcptop_'), []);
  const records = parseJson(run.stdout);
  const withOurs = records.filter((r) => r.rows.some((row) => row.pid === p.sender || row.pid === p.receiver));
  assert.ok(withOurs.length >= 3, `the transfer should span several reports, got ${withOurs.length} of ${records.length}`);
  assertExact(records, p, `${B} bytes over ${withOurs.length} reports`);
});

test('-p shows only that process and stops when it exits; -s sent / -s received order; -4 / -6; -c cgroup', kernelTest(), async () => {
  const small = 1_000_000 + Math.floor(Math.random() * 1_000_000);
  const big = 3_000_000 + Math.floor(Math.random() * 2_000_000);
  const a = await startPair(4, small);
  const b = await startPair(4, big);
  const c = await startPair(6, small);
  const cg = '/sys/fs/cgroup/unified/bpfkit-tcptop-test';
  if (!existsSync(cg)) mkdirSync(cg);
  writeFileSync(`${cg}/cgroup.procs`, String(b.sender));
  writeFileSync(`${cg}/cgroup.procs`, String(b.receiver));
  try {
    const tools = {
      pid: startTool(['tcptop', '-C', '--json', '-p', String(a.sender), '60']),
      sent: startTool(['tcptop', '-C', '--json', '-s', 'sent', '-r', '1000', '60']),
      received: startTool(['tcptop', '-C', '--json', '-s', 'received', '-r', '1000', '60']),
      v4: startTool(['tcptop', '-C', '--json', '-4', '-r', '1000', '60']),
      v6: startTool(['tcptop', '-C', '--json', '-6', '-r', '1000', '60']),
      cgroup: startTool(['tcptop', '-C', '--json', '-c', cg, '60']),
    };
    await Promise.all(Object.values(tools).map((t) => t.ready));
    const [pa, pb, pc] = await Promise.all([a.run(), b.run(), c.run()]);
    const out: Record<string, JsonRecord[]> = {};
    // -p: the sender has exited, so that tcptop says so and stops by itself.
    const byPid = await tools.pid.done;
    assert.equal(byPid.code, 0, byPid.stderr);
    assert.equal(byPid.stderr, `bpfkit tcptop: process ${pa.sender} exited\n`);
    out.pid = parseJson(byPid.stdout);
    for (const [k, t] of Object.entries(tools)) if (k !== 'pid') out[k] = parseJson((await finish(t, 'SIGTERM')).stdout);
    assert.deepEqual(leftoverPrograms('tcptop_'), []);

    // -p: only the sender of pair a, exactly its bytes.
    const pidRows = out.pid!.flatMap((r) => r.rows);
    assert.deepEqual(pidRows.map((r) => [r.pid, r.tx_bytes, r.rx_bytes]), [[pa.sender, small, 0]]);

    // -s: the order of our processes in the single report.
    const ours = [pa.sender, pa.receiver, pb.sender, pb.receiver, pc.sender, pc.receiver];
    const order = (recs: JsonRecord[]) => recs.flatMap((r) => r.rows).map((r) => r.pid).filter((pid) => ours.includes(pid));
    const bySent = order(out.sent!);
    assert.deepEqual(bySent.slice(0, 3), [pb.sender, ...[pa.sender, pc.sender].sort((x, y) => x - y)]);
    const byReceived = order(out.received!);
    assert.deepEqual(byReceived.slice(0, 3), [pb.receiver, ...[pa.receiver, pc.receiver].sort((x, y) => x - y)]);
    for (const p of [pa, pb, pc]) assertExact(out.sent!, p, 'with -s sent');

    // -4 / -6: only that family.
    assert.ok(out.v4!.flatMap((r) => r.rows).every((r) => r.family === 4));
    assert.ok(out.v6!.flatMap((r) => r.rows).every((r) => r.family === 6));
    assertExact(out.v4!, pa, '-4');
    assertExact(out.v6!, pc, '-6');
    assert.deepEqual(rowsOf(out.v4!, pc.sender), []);
    assert.deepEqual(rowsOf(out.v6!, pa.sender), []);

    // -c: only the processes of that cgroup.
    assert.deepEqual([...new Set(out.cgroup!.flatMap((r) => r.rows).map((r) => r.pid))].sort(), [pb.sender, pb.receiver].sort());
    assertExact(out.cgroup!, pb, '-c');
  } finally {
    for (const p of [a, b, c]) p.kill();
    // The exited members may take a moment to leave the cgroup.
    for (let i = 0; ; i++) {
      try { rmdirSync(cg); break; } catch (e) { if (i > 50) throw e; await new Promise((r) => setTimeout(r, 100)); }
    }
  }
});

test('bad input: one-line error, exit code 2, nothing loaded', kernelTest(), async () => {
  const cases: Array<[string[], RegExp]> = [
    [['tcptop', '-p', '999999'], /^bpfkit tcptop: no such process: 999999$/],
    [['tcptop', '-i', '0'], /^bpfkit tcptop: -i INTERVAL: must be more than 0, got '0'$/],
    [['tcptop', '-i', '0.02'], /^bpfkit tcptop: -i INTERVAL: at least 0.1 s, got '0.02'$/],
    [['tcptop', 'abc'], /^bpfkit tcptop: interval: 'abc' is not a duration/],
    [['tcptop', '1', 'x'], /^bpfkit tcptop: count: 'x' is not an integer$/],
    [['tcptop', '1', '2', '3'], /^bpfkit tcptop: unexpected argument '3'/],
    [['tcptop', '-s', 'bytes'], /^bpfkit tcptop: -s: sort by all, sent or received, not 'bytes'$/],
    [['tcptop', '-r', '0'], /^bpfkit tcptop: -r ROWS: 0 is out of range/],
    [['tcptop', '-4', '-6'], /^bpfkit tcptop: -4 and -6 exclude each other/],
    [['tcptop', '-c', '/nonexistent'], /^bpfkit tcptop: -c: \/nonexistent is not a cgroup directory/],
    [['tcptop', '--hooks', 'uprobe'], /^bpfkit tcptop: --hooks: one of tp_btf, fentry, kprobe/],
    [['tcptop', '--hooks', 'kprobe'], /^bpfkit tcptop: --hooks kprobe: this kernel lacks kprobe/],
  ];
  const runs = await Promise.all(cases.map(([args]) => runTool(args)));
  for (const [i, [args, pattern]] of cases.entries()) {
    const run = runs[i]!;
    const expected = args.includes('kprobe') ? 1 : 2; // NOT_SUPPORTED is not a usage error
    assert.equal(run.code, expected, `${args.join(' ')}: ${run.stderr}`);
    const lines = run.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, run.stderr);
    assert.match(lines[0]!, pattern);
  }
  assert.deepEqual(leftoverPrograms('tcptop_'), []);
});

test('fallback kernel (6.1, no sock_*_length): fexit by default, kprobes when forced, exact bytes', kernelTest(), async () => {
  const bin = compileC(PAIR);
  const B4 = randomBytes();
  const B6 = randomBytes();
  // In the guest: start tcptop twice at once (default choice, and kprobes forced), wait until
  // both are attached, run the two transfers, stop both; markers around each output.
  const script = `
BPFKIT_READY=1 node dist/src/cli/main.js tcptop --verbose -C --json -r 1000 600 > /tmp/tt.default.out 2> /tmp/tt.default.err &
d=$!
BPFKIT_READY=1 node dist/src/cli/main.js tcptop --verbose --hooks kprobe -C --json -r 1000 600 > /tmp/tt.kprobe.out 2> /tmp/tt.kprobe.err &
k=$!
for i in $(seq 1 900); do
  grep -q BPFKIT_READY /tmp/tt.default.err && grep -q BPFKIT_READY /tmp/tt.kprobe.err && break
  kill -0 $d 2>/dev/null && kill -0 $k 2>/dev/null || break
  sleep 0.2
done
echo "== pairs"
${bin} 4 ${B4}
${bin} 6 ${B6}
echo "== running"; bpftool prog show | grep -c ' name tcptop_' || true
kill -INT $d $k; wait $d || echo "tcptop exit $?"; wait $k || echo "tcptop --hooks kprobe exit $?"
for mode in default kprobe; do
  echo "== $mode verbose"; grep -v '^libbpf' /tmp/tt.$mode.err || true
  echo "== $mode json"; cat /tmp/tt.$mode.out
done
for i in $(seq 1 25); do n=$(bpftool prog show | grep -c ' name tcptop_' || true); [ "$n" = 0 ] && break; sleep 0.2; done
echo "== left"; echo "$n"
echo "== end"`;
  const r = await runInKernel(script, 500);
  assert.equal(r.code, 0, r.output);
  const section = (name: string) => {
    const m = new RegExp(`== ${name}\\n([\\s\\S]*?)\\n== `).exec(r.output.replace(/\r/g, ''));
    assert.ok(m, `no ${name} in:\n${r.output}`);
    return m[1]!;
  };
  const pairs = section('pairs').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  assert.equal(pairs.length, 4, section('pairs'));
  assert.equal(section('running').trim(), '6', 'both tools attached (2 fexit + 4 kprobe programs)');
  assert.equal(section('left').trim(), '0', 'programs left loaded in the guest');
  for (const mode of ['default', 'kprobe']) {
    const verbose = section(`${mode} verbose`);
    assert.match(verbose, mode === 'default' ? /tcptop: using fentry: fexit\/tcp_sendmsg \+ fexit\/tcp_recvmsg/ : /tcptop: using kprobe: /, verbose);
    if (mode === 'default') assert.match(verbose, /feature tp_btf:sock_send_length: no/);
    const json = section(`${mode} json`);
    const records = parseJson(json.split('\n').filter((l) => l.startsWith('{')).join('\n'));
    assert.ok(records.length >= 1, json);
    const mk = (family: 4 | 6, bytes: number, first: { sender: number; receiver: number; port: number }, second: { sport: number; received_ok: boolean }): Pair => {
      assert.equal(second.received_ok, true);
      return { family, bytes, ...first, sport: second.sport };
    };
    assertExact(records, mk(4, B4, pairs[0], pairs[1]), `${mode}, IPv4 ${B4} bytes on 6.1`);
    assertExact(records, mk(6, B6, pairs[2], pairs[3]), `${mode}, IPv6 ${B6} bytes on 6.1`);
  }
});
