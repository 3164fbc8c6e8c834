// "First do no harm", for every tool: a reader that goes away (`| head -1`) ends the tool quietly
// with status 0; a failing write (`> /dev/full`) is one line on stderr and status 1; under a
// flood, SIGINT is served within a second with the summary printed; nothing stays loaded.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BPFKIT, compileC, kernelTest, loadedProgramNames, leftoverPrograms, runTool, sleep, startGatedChild, startTool } from './helpers.js';

/** Program-name prefixes of every tool (leak checks). */
const PREFIXES = ['syscount', 'tcptop', 'biotop', 'biolat', 'fsslower', 'profile', 'trace', 'execsnoop', 'threadsnoop', 'exitsnoop', 'opensnoop', 'tcplife', 'diagnose', 'diag'];
function assertNothingLoaded(what: string): void {
  for (const p of PREFIXES) assert.deepEqual(leftoverPrograms(p), [], `${what}: ${p} programs left loaded`);
}

/** Each tool with arguments that make it print soon and keep printing (given the workload below). */
const ALL_TOOLS: Array<[string, string[]]> = [
  ['syscount', ['-i', '0.2']],
  ['tcptop', ['-C', '-i', '0.2']],
  ['sockets', ['-a']],
  ['biotop', ['-C', '1']],
  ['biolatency', ['1']],
  ['fsslower', ['-t', 'ext4', '0']],
  ['ext4slower', ['0']],
  ['profile', ['-d', '1']],
  ['trace', []],
  ['execsnoop', []],
  ['threadsnoop', []],
  ['exitsnoop', []],
  ['opensnoop', []],
  ['tcplife', []],
  ['diagnose', ['-d', '1']],
];
/** HARM_TOOLS=a,b runs the checks for those tools only (while working on them). */
const ONLY = process.env.HARM_TOOLS?.split(',');
const TOOLS = ONLY ? ALL_TOOLS.filter(([t]) => ONLY.includes(t)) : ALL_TOOLS;

// A steady mix of what the tools see: execs and exits, opens, file writes on ext4 (/tmp),
// threads, and loopback TCP connections.
const WORKLOAD = `
import os, socket, subprocess, threading, time, sys
stop = time.time() + float(sys.argv[1])
def execs():
    while time.time() < stop: subprocess.run(['/bin/true'])
def files():
    p = '/tmp/bpfkit-harm-%d' % os.getpid()
    while time.time() < stop:
        with open(p, 'w') as f: f.write('x' * 100)
        time.sleep(0.002)
    os.unlink(p)
def threads():
    while time.time() < stop:
        t = threading.Thread(target=lambda: None); t.start(); t.join(); time.sleep(0.002)
def tcp():
    srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen(64)
    port = srv.getsockname()[1]
    def accept():
        while True:
            c, _ = srv.accept(); c.recv(10); c.close()
    threading.Thread(target=accept, daemon=True).start()
    while time.time() < stop:
        c = socket.create_connection(('127.0.0.1', port)); c.send(b'hello'); c.close(); time.sleep(0.005)
ts = [threading.Thread(target=f) for f in (execs, files, threads, tcp)]
for t in ts: t.start()
for t in ts: t.join()
`;

let workload: ChildProcess | undefined;
before(() => {
  if (process.getuid?.() !== 0) return;
  const file = join(tmpdir(), `bpfkit-harm-workload-${process.pid}.py`);
  writeFileSync(file, WORKLOAD);
  workload = spawn('python3', [file, '600'], { stdio: 'ignore' });
});
after(() => { workload?.kill('SIGKILL'); });

interface Exit { code: number | null; signal: string | null; stderr: string; ms: number }

function waitExit(proc: ChildProcess, getStderr: () => string, timeoutMs: number): Promise<Exit> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stderr: getStderr(), ms: Date.now() - t0 });
    });
  });
}

test('| head -1: every tool ends quietly with status 0 and leaves nothing loaded', kernelTest(), async () => {
  for (const [tool, args] of TOOLS) {
    const proc = spawn(process.execPath, [BPFKIT, tool, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    proc.stderr!.on('data', (d) => { stderr += d; });
    const exited = waitExit(proc, () => stderr, 20_000);
    // Read the first line, then close the pipe as head does.
    let got = '';
    await new Promise<void>((resolve) => {
      proc.stdout!.on('data', (d) => {
        got += d;
        if (got.includes('\n')) { proc.stdout!.destroy(); resolve(); }
      });
      proc.on('close', () => resolve());
    });
    const r = await exited;
    assert.ok(got.includes('\n'), `${tool}: printed nothing (${r.stderr})`);
    assert.equal(r.signal, null, `${tool}: killed (${r.stderr})`);
    assert.equal(r.code, 0, `${tool} ${args.join(' ')}: status ${r.code}\n${r.stderr}`);
    assert.doesNotMatch(r.stderr, /internal error|\n\s+at /, `${tool}: ${r.stderr}`);
    assertNothingLoaded(tool);
  }
});

test('> /dev/full: every tool says so in one line, status 1, nothing loaded', kernelTest(), async () => {
  for (const [tool, args] of TOOLS) {
    const fd = openSync('/dev/full', 'w');
    const proc = spawn(process.execPath, [BPFKIT, tool, ...args], { stdio: ['ignore', fd, 'pipe'] });
    closeSync(fd);
    let stderr = '';
    proc.stderr!.on('data', (d) => { stderr += d; });
    const r = await waitExit(proc, () => stderr, 20_000);
    assert.equal(r.code, 1, `${tool} ${args.join(' ')}: status ${r.code}\n${r.stderr}`);
    const lines = r.stderr.trimEnd().split('\n').filter((l) => !/events, \d+ lost in/.test(l));
    assert.deepEqual(lines, [`bpfkit ${tool === 'ext4slower' ? 'fsslower' : tool}: cannot write output: ENOSPC (no space left on device)`], `${tool}: ${r.stderr}`);
    assertNothingLoaded(tool);
  }
});

/**
 * Run `bpfkit TOOL ARGS` (stdout to a file), start the flood once it is ready, send SIGINT 3 s
 * later and time SIGINT-to-exit. The flood runs in its own process group, killed whole after.
 */
async function stopUnderFlood(tool: string, args: string[], flood: [string, string[]]): Promise<{ r: Exit; stopMs: number; text: string }> {
  const out = join(tmpdir(), `bpfkit-flood-${process.pid}.out`);
  const fd = openSync(out, 'w');
  const proc = spawn(process.execPath, [BPFKIT, tool, ...args], { stdio: ['ignore', fd, 'pipe'], env: { ...process.env, BPFKIT_READY: '1' } });
  closeSync(fd);
  let stderr = '';
  proc.stderr!.on('data', (d) => { stderr += d; });
  const exited = waitExit(proc, () => stderr, 60_000);
  while (!stderr.includes('BPFKIT_READY') && proc.exitCode === null) await sleep(50);
  const load = spawn(flood[0], flood[1], { stdio: 'ignore', detached: true });
  await sleep(3000);
  const t0 = Date.now();
  proc.kill('SIGINT');
  const r = await exited;
  const stopMs = Date.now() - t0;
  try { process.kill(-load.pid!, 'SIGKILL'); } catch { /* already gone */ }
  const text = readFileSync(out, 'utf8');
  rmSync(out, { force: true });
  return { r, stopMs, text };
}

// MODE open: opens of the missing file PATH; MODE read: 1-byte preads of the file PATH (on ext4
// for fsslower). Four threads, as fast as they go, for SECONDS; prints the calls made and seconds.
const FLOOD = `
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
static const char *path;
static double seconds;
static int reads;
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
static void *run(void *arg) {
  double end = now() + seconds;
  long *n = arg;
  char c;
  int fd = reads ? open(path, O_RDONLY) : -1;
  while (now() < end) for (int i = 0; i < 1000; i++) { if (reads) pread(fd, &c, 1, 0); else open(path, O_RDONLY); (*n)++; }
  return 0;
}
int main(int argc, char **argv) {
  reads = strcmp(argv[1], "read") == 0; seconds = atof(argv[2]); path = argv[3];
  pthread_t t[4]; long n[4] = {0}, total = 0;
  double t0 = now();
  for (int i = 0; i < 4; i++) pthread_create(&t[i], 0, run, &n[i]);
  for (int i = 0; i < 4; i++) { pthread_join(t[i], 0); total += n[i]; }
  printf("%ld %.3f\\n", total, now() - t0);
  return 0;
}
`;

test('under a flood of >= 200k events/s, SIGINT stops opensnoop, trace and ext4slower within 1 s, summary printed', kernelTest(), async () => {
  const bin = compileC(FLOOD, ['-pthread']);
  const file = join(tmpdir(), `bpfkit-flood-read-${process.pid}`);
  writeFileSync(file, 'x'.repeat(4096));
  const cases: Array<[string, string[], string[]]> = [
    ['opensnoop', ['-x'], ['open', '6', '/nonexistent-bpfkit-flood']],
    ['trace', ['-e', 'openat'], ['open', '6', '/nonexistent-bpfkit-flood']],
    ['opensnoop', ['-x', '--json'], ['open', '6', '/nonexistent-bpfkit-flood']],
    ['fsslower', ['-t', 'ext4', '0'], ['read', '6', file]],
    ['fsslower', ['-t', 'ext4', '0', '--json'], ['read', '6', file]],
  ];
  try {
    for (const [tool, args, flood] of cases.filter(([t]) => !ONLY || ONLY.includes(t))) {
      const { r, stopMs, text } = await stopUnderFlood(tool, args, [bin, flood]);
      console.log(`${tool} ${args.join(' ')}: SIGINT to exit ${stopMs} ms, output ${(text.length / 1e6).toFixed(1)} MB`);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(stopMs < 1000, `${tool}: ${stopMs} ms from SIGINT to exit`);
      const summary = args.includes('--json')
        ? text.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>).find((x) => x.type === 'summary')
        : /events, \d+ lost in/.exec(r.stderr);
      assert.ok(summary, `${tool}: no summary\n${r.stderr}`);
      assertNothingLoaded(tool);
    }
  } finally {
    rmSync(file, { force: true });
  }
});

test('the floods reach 200k events/s on this machine (else the test above proves less)', kernelTest(), () => {
  const bin = compileC(FLOOD, ['-pthread']);
  const file = join(tmpdir(), `bpfkit-flood-rate-${process.pid}`);
  writeFileSync(file, 'x'.repeat(4096));
  try {
    for (const flood of [['open', '2', '/nonexistent-bpfkit-flood'], ['read', '2', file]]) {
      const r = spawnSync(bin, flood, { encoding: 'utf8' });
      const [calls, secs] = r.stdout.trim().split(' ').map(Number) as [number, number];
      console.log(`flood ${flood[0]}: ${Math.round(calls / secs)} calls/s`);
      assert.ok(calls / secs >= 200_000, `flood ${flood[0]}: ${Math.round(calls / secs)} calls/s`);
    }
  } finally {
    rmSync(file, { force: true });
  }
});

// What the process and connection snoopers see, as fast as it comes: MODE exec (K processes
// each spawning /bin/true in a loop: execs and exits), thread (K threads creating and joining
// threads: thread creations and exits) or tcp (K threads connecting to a loopback listener and
// closing with RST, so that no TIME_WAIT exhausts the ports). Runs for SECONDS.
const SNOOP_FLOOD = `
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
extern char **environ;
static double end;
static struct sockaddr_in addr;
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
static void *nothing(void *a) { return a; }
static void *threads(void *a) {
  while (now() < end) for (int i = 0; i < 100; i++) { pthread_t t; if (pthread_create(&t, 0, nothing, 0) == 0) pthread_join(t, 0); }
  return a;
}
static void *acceptor(void *a) {
  int l = *(int *)a;
  for (;;) { int c = accept(l, 0, 0); if (c >= 0) close(c); }
  return 0;
}
static void *connector(void *a) {
  struct linger lg = { 1, 0 };
  while (now() < end) for (int i = 0; i < 100; i++) {
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (c < 0) continue;
    if (connect(c, (void *)&addr, sizeof addr) == 0) setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(c);
  }
  return a;
}
int main(int argc, char **argv) {
  end = now() + atof(argv[2]);
  int k = atoi(argv[3]);
  if (!strcmp(argv[1], "exec")) {
    for (int i = 0; i < k; i++) if (fork() == 0) {
      char *av[] = { "/bin/true", 0 };
      while (now() < end) { pid_t p; if (posix_spawn(&p, av[0], 0, 0, av, environ) == 0) waitpid(p, 0, 0); }
      _exit(0);
    }
    while (wait(0) > 0);
    return 0;
  }
  pthread_t t[16];
  if (!strcmp(argv[1], "tcp")) {
    int l = socket(AF_INET, SOCK_STREAM, 0);
    socklen_t len = sizeof addr;
    addr.sin_family = AF_INET; addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (l < 0 || bind(l, (void *)&addr, sizeof addr) || listen(l, 1024) || getsockname(l, (void *)&addr, &len)) return 2;
    pthread_t a; pthread_create(&a, 0, acceptor, &l);
    for (int i = 0; i < k; i++) pthread_create(&t[i], 0, connector, 0);
  } else {
    for (int i = 0; i < k; i++) pthread_create(&t[i], 0, threads, 0);
  }
  for (int i = 0; i < k; i++) pthread_join(t[i], 0);
  return 0;
}
`;

test('under a flood of execs, exits, threads and connections, SIGINT stops the process snoopers and tcplife within 1 s, summary printed', kernelTest(), async () => {
  const bin = compileC(SNOOP_FLOOD, ['-pthread']);
  const runs: Array<[string, string[], string, number]> = [
    ['execsnoop', [], 'exec', 4],
    ['exitsnoop', ['--json'], 'exec', 4],
    ['threadsnoop', [], 'thread', 4],
    ['threadsnoop', ['--json'], 'thread', 4],
    ['exitsnoop', ['--per-thread'], 'thread', 4],
    ['tcplife', [], 'tcp', 4],
  ];
  for (const [tool, args, mode, k] of runs.filter(([t]) => !ONLY || ONLY.includes(t))) {
    const { r, stopMs, text } = await stopUnderFlood(tool, args, [bin, [mode, '8', String(k)]]);
    assert.equal(r.code, 0, r.stderr);
    let events: number;
    if (args.includes('--json')) {
      const recs = text.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      const summary = recs.at(-1)!;
      assert.equal(summary.type, 'summary', `${tool}: no summary\n${r.stderr}`);
      events = summary.events as number;
      assert.equal(recs.filter((x) => x.type === undefined).length, events, `${tool}: one record per event`);
    } else {
      const m = new RegExp(`^bpfkit ${tool}: (\\d+) events, (\\d+) lost in`, 'm').exec(r.stderr);
      assert.ok(m, `${tool}: no summary\n${r.stderr}`);
      events = Number(m[1]);
      assert.equal(text.trimEnd().split('\n').length - 1, events, `${tool}: one line per event`);
    }
    console.log(`${tool} ${args.join(' ')} (${mode} flood): SIGINT to exit ${stopMs} ms, ${events} events (${Math.round(events / 3)}/s)`);
    // A real flood (exec floods reach only a few hundred per second on a loaded 2-core machine).
    assert.ok(events > 300, `${tool}: saw only ${events} events of the flood`);
    assert.ok(stopMs < 1000, `${tool}: ${stopMs} ms from SIGINT to exit`);
    assertNothingLoaded(tool);
  }
});

// A process named "ESC[2J<newline>FAKE 1 2" creates a thread, forks a child that fails to exec a
// path with ESC and newlines in its argv (and exits 3), then execs /bin/true through a symlink
// whose name holds ESC and a newline, with such argv. Nothing of it may reach a terminal raw.
const HOSTILE = `
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
static void *work(void *a) { usleep(1000); return a; }
int main(int argc, char **argv) {
  char buf[8];
  if (read(0, buf, sizeof buf) <= 0) return 1;
  prctl(PR_SET_NAME, "\\x1b[2J\\nFAKE 1 2");
  pthread_t t;
  if (pthread_create(&t, 0, work, 0) || pthread_join(t, 0)) return 2;
  pid_t p = fork();
  if (p == 0) {
    char *av[] = { "/nonexistent-bpfkit\\x1b[31m\\nFAKE 3 3", "\\x1b]0;title\\x07", "x\\nFAKE 4 4 4", 0 };
    execv(av[0], av);
    _exit(3);
  }
  waitpid(p, 0, 0);
  char *av[] = { argv[1], "\\x1b[2J", "y\\nFAKE 5 5 5", 0 };
  execv(argv[1], av);
  return 4;
}
`;

test('hostile names and argv (ESC, newline): execsnoop, exitsnoop and threadsnoop print no raw ESC and no forged line', kernelTest(), async () => {
  const snoopers = ['execsnoop', 'exitsnoop', 'threadsnoop'].filter((t) => !ONLY || ONLY.includes(t));
  if (snoopers.length === 0) return;
  const bin = compileC(HOSTILE, ['-pthread']);
  const dir = join(tmpdir(), `bpfkit-hostile-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const link = join(dir, '\x1b[2J\nFAKE 7 7');
  rmSync(link, { force: true });
  symlinkSync('/bin/true', link);
  try {
    const tools = snoopers.map((t) => startTool([t]));
    await Promise.all(tools.map((t) => t.ready));
    const child = startGatedChild(bin, [link]);
    child.go();
    assert.equal(await child.exited, 0, 'the hostile process ran /bin/true');
    await sleep(500);
    const runs = await Promise.all(tools.map((t) => t.stop('SIGINT')));
    const pid = child.proc.pid!;
    // The escaped forms each tool must show, so that the test cannot pass by seeing nothing.
    const comm = '\\x1b[2J\\x0aFAKE 1 2';
    const linkComm = '\\x1b[2J\\x0aFAKE 7 7';
    const re = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const expected: Record<string, RegExp[]> = {
      execsnoop: [
        // this test starting the hostile program (its argv names the symlink)
        new RegExp(`^${re(bin.replace(/^.*\//, '').slice(0, 15))} +${pid} +${process.pid} +0 ${re(`${bin} ${dir}/${linkComm}`)}$`),
        // the failed exec: the caller's name, its argv
        new RegExp(`^${re(comm)} +\\d+ +${pid} +ENOENT ${re('/nonexistent-bpfkit\\x1b[31m\\x0aFAKE 3 3 \\x1b]0;title\\x07 x\\x0aFAKE 4 4 4')}$`),
        // the exec through the symlink: its name, the new image's argv
        new RegExp(`^${re(linkComm)} +${pid} +\\d+ +0 ${re(`${dir}/${linkComm} \\x1b[2J y\\x0aFAKE 5 5 5`)}$`),
      ],
      exitsnoop: [
        new RegExp(`^${re(comm)} +\\d+ +${pid} +\\d+ +[\\d.]+ code 3$`),
        new RegExp(`^${re(linkComm)} +${pid} +\\d+ +${pid} +[\\d.]+ 0$`),
      ],
      threadsnoop: [
        new RegExp(`^\\d+ +NEW +${pid} +\\d+ +${pid} +${re(comm)} *$`),
        new RegExp(`^\\d+ +EXIT +${pid} +\\d+ +${re(comm)} +[\\d.]+$`),
      ],
    };
    snoopers.forEach((tool, i) => {
      const run = runs[i]!;
      assert.equal(run.code, 0, `${tool}: ${run.stderr}`);
      for (const stream of [run.stdout, run.stderr]) {
        assert.ok(!stream.includes('\x1b'), `${tool}: a raw ESC in the output`);
        assert.ok(!stream.includes('\x07'), `${tool}: a raw BEL in the output`);
      }
      const lines = run.stdout.split('\n');
      assert.deepEqual(lines.filter((l) => l.startsWith('FAKE') || /^[xy]?FAKE /.test(l)), [], `${tool}: forged lines`);
      const hostile = lines.filter((l) => l.includes('FAKE'));
      for (const e of expected[tool]!) assert.equal(hostile.filter((l) => e.test(l)).length, 1, `${tool}: ${e} once in\n${hostile.join('\n')}`);
      assert.equal(hostile.length, expected[tool]!.length, `${tool}: ${hostile.join('\n')}`);
    });
    for (const t of snoopers) assertNothingLoaded(t);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Tools that follow a process given with -p (profile and diagnose take lists, the same flag). */
const FOLLOWERS: Array<[string, string[]]> = [
  ['syscount', []], ['tcptop', ['-C']], ['biotop', ['-C']], ['fsslower', ['-t', 'ext4', '0']],
  ['profile', []], ['trace', []], ['threadsnoop', []], ['exitsnoop', []], ['opensnoop', []],
  ['tcplife', []], ['diagnose', ['-d', '60']],
];

test('-p: a process that exits stops every tool with a notice; a thread id is named as such', kernelTest(), async () => {
  for (const [tool, args] of FOLLOWERS.filter(([t]) => !ONLY || ONLY.includes(t))) {
    const target = spawn('sleep', ['3'], { stdio: 'ignore' });
    const run = startTool([tool, ...args, '-p', String(target.pid)], { timeoutMs: 30_000 });
    await run.ready;
    const t0 = Date.now();
    const r = await run.done;
    const ms = Date.now() - t0;
    assert.equal(r.code, 0, `${tool}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`^bpfkit ${tool}: process ${target.pid} exited$`, 'm'), tool);
    assert.ok(ms < 10_000, `${tool} ran ${ms} ms after ready, for a 3 s target`);
    assertNothingLoaded(tool);
  }
  // A thread of this very process (node has several): named, exit 2, one line.
  const tid = Number(readdirSync(`/proc/${process.pid}/task`).find((t) => Number(t) !== process.pid));
  for (const [tool, args] of FOLLOWERS.filter(([t]) => !ONLY || ONLY.includes(t))) {
    const r = await runTool([tool, ...args, '-p', String(tid)]);
    assert.equal(r.code, 2, `${tool}: ${r.stderr}`);
    assert.match(r.stderr.trimEnd(), new RegExp(`^bpfkit ${tool}: ${tid} is a thread of process ${process.pid}, not a process: use -p ${process.pid}`), tool);
    assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
  }
});

test('nothing of bpfkit is loaded at the end of the suite', kernelTest(), () => {
  const names = loadedProgramNames();
  for (const p of PREFIXES) assert.deepEqual(names.filter((n) => n.startsWith(p)), [], p);
});
