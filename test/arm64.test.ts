// The arm64 suite: the tools under Debian's arm64 6.1 kernel on an emulated 64-bit ARM machine
// (scripts/run-in-arm64), with the same exact ground truth as on x86_64: syscount's and trace's
// counts, opensnoop's opens, tcptop's bytes, profile's hot function (and the leaf's caller from
// the link register). One VM boot runs every check; the assertions run here on the host.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileArm64, kernelTest, runInArm64 } from './helpers.js';

const N_GETPPID = 1234;
const N_ENOENT = 7;
const N_OPEN_OK = 3;

// Waits for a line on stdin (the tools attach first), then makes exactly N getppid, M failing
// and K successful openat calls, then lingers S seconds.
const SYSCALLS_C = `
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/syscall.h>
int main(int argc, char **argv) {
  int n = atoi(argv[1]), bad = atoi(argv[2]), good = atoi(argv[3]);
  char line[8];
  if (!fgets(line, sizeof line, stdin)) return 1;
  for (int i = 0; i < n; i++) syscall(SYS_getppid);
  for (int i = 0; i < bad; i++) openat(AT_FDCWD, "/nonexistent-bpfkit-arm64", O_RDONLY);
  for (int i = 0; i < good; i++) close(openat(AT_FDCWD, "/etc/hostname", O_RDONLY));
  printf("done\\n");
  fflush(stdout);
  sleep(atoi(argv[4])); /* trace keeps up live (emulated node is slow); its final drain is time-bounded */
  return 0;
}`;

// One TCP transfer of exactly BYTES over 127.0.0.1: a forked client sends, the server receives.
const TCP_C = `
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
int main(int argc, char **argv) {
  long bytes = atol(argv[1]);
  int l = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  socklen_t al = sizeof a;
  if (bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 1) || getsockname(l, (struct sockaddr *)&a, &al)) return 1;
  pid_t c = fork();
  if (c == 0) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(s, (struct sockaddr *)&a, sizeof a)) _exit(1);
    static char buf[65536];
    memset(buf, 'x', sizeof buf);
    for (long left = bytes; left > 0;) { long w = write(s, buf, left < (long)sizeof buf ? left : (long)sizeof buf); if (w <= 0) _exit(1); left -= w; }
    close(s);
    _exit(0);
  }
  int s = accept(l, 0, 0);
  static char buf[65536];
  long got = 0;
  for (long r; (r = read(s, buf, sizeof buf)) > 0;) got += r;
  int st;
  waitpid(c, &st, 0);
  printf("{\\"server\\":%d,\\"client\\":%d,\\"port\\":%d,\\"received\\":%ld}\\n", getpid(), c, ntohs(a.sin_port), got);
  return 0;
}`;

// A hot leaf under a framed caller: gcc gives the leaf no frame record on AArch64, so the
// frame-pointer walk skips bpfkit_middle; profile recovers it from the link register.
const PROFILE_C = `
volatile unsigned long sink;
__attribute__((noinline)) void bpfkit_hot_leaf(void) { for (unsigned long i = 0; i < 100000000UL; i++) sink += i * 7; }
__attribute__((noinline)) void bpfkit_middle(void) { bpfkit_hot_leaf(); sink++; }
int main(void) { for (;;) bpfkit_middle(); return 0; }`;

/** The arm64 toolchain and emulator: in CI missing ones are a failure, elsewhere a skip. */
function arm64Test(): { skip: string | false } {
  const k = kernelTest();
  if (k.skip) return k;
  const missing = ['aarch64-linux-gnu-gcc', 'qemu-system-aarch64'].filter((c) => spawnSync('sh', ['-c', `command -v ${c}`]).status !== 0);
  if (missing.length === 0) return { skip: false };
  if (process.env.CI === 'true') throw new Error(`the arm64 suite needs ${missing.join(', ')} (bash scripts/install-deps.sh)`);
  return { skip: `no ${missing.join(', ')}` };
}

test('arm64 (6.1, emulated): syscount, trace, opensnoop exact counts; tcptop exact bytes; profile hot leaf and its caller', arm64Test(), async () => {
  const sys = compileArm64(SYSCALLS_C);
  const tcp = compileArm64(TCP_C);
  const hot = compileArm64(PROFILE_C, ['-fno-omit-frame-pointer']);
  const bytes = randomInt(300_000, 900_000);
  const B = 'node dist/src/cli/main.js';
  // Helpers in the guest: wait until every listed stderr file says BPFKIT_READY (or a tool died).
  const script = `
uname -rm
t0=$(cut -d' ' -f1 /proc/uptime)
ready() { for i in $(seq 1 600); do ok=1; for f in "$@"; do grep -q BPFKIT_READY $f 2>/dev/null || ok=0; done; [ $ok = 1 ] && return 0; sleep 0.1; done; echo "not ready: $*"; cat "$@"; return 1; }
left() { for i in $(seq 1 30); do n=$(bpftool prog show | grep -c " name $1" || true); [ "$n" = 0 ] && break; sleep 0.2; done; echo "$n"; }
mark() { echo "== $1 (t=$(cut -d' ' -f1 /proc/uptime))"; }

# 1. syscount, trace and opensnoop at once on one gated workload
# (the gate is a FIFO opened read-write here, so the workload's own redirections happen at once,
# before the tools attach: from then on its only syscalls are the counted ones and exit)
mkfifo /tmp/gate; exec 3<>/tmp/gate
${sys} ${N_GETPPID} ${N_ENOENT} ${N_OPEN_OK} 3 <&3 3<&- > /tmp/sys.out &
W=$!
BPFKIT_READY=1 ${B} syscount --verbose -p $W --json > /tmp/sc.out 2> /tmp/sc.err & SC=$!
BPFKIT_READY=1 ${B} trace -p $W -e getppid,openat --json > /tmp/tr.out 2> /tmp/tr.err & TR=$!
BPFKIT_READY=1 ${B} opensnoop --verbose -p $W --json > /tmp/os.out 2> /tmp/os.err & OS=$!
ready /tmp/sc.err /tmp/tr.err /tmp/os.err
mark attached
echo go >&3
wait $W
sleep 0.5
kill -INT $SC $OS; wait $SC || echo "syscount exit $?"; wait $OS || echo "opensnoop exit $?"; wait $TR || echo "trace exit $?"
mark "syscount verbose"; grep -v '^libbpf' /tmp/sc.err || true
mark "opensnoop verbose"; grep -v '^libbpf' /tmp/os.err || true
mark syscount; cat /tmp/sc.out
mark trace; echo "getppid=$(grep -c '"syscall":"getppid"' /tmp/tr.out || true) enoent=$(grep '"errno":"ENOENT"' /tmp/tr.out | grep -c nonexistent-bpfkit-arm64 || true) hostname=$(grep '"syscall":"openat"' /tmp/tr.out | grep -v ENOENT | grep -c /etc/hostname || true)"; grep '"type":"summary"' /tmp/tr.out || true
mark opensnoop; cat /tmp/os.out
mark "left 1"; left syscount_; left trace_; left opensnoop_

# 2. tcptop: one transfer of exact bytes
BPFKIT_READY=1 ${B} tcptop --verbose -C --json -r 1000 600 > /tmp/tt.out 2> /tmp/tt.err & TT=$!
ready /tmp/tt.err
mark pair
${tcp} ${bytes}
sleep 0.3
kill -INT $TT; wait $TT || echo "tcptop exit $?"
mark "tcptop verbose"; grep -v '^libbpf' /tmp/tt.err || true
mark tcptop; cat /tmp/tt.out
mark "left 2"; left tcptop_

# 3. profile, with and without the leaf-caller recovery, on the same process at once
${hot} & H=$!
BPFKIT_READY=1 ${B} profile --verbose -p $H -F 99 -f 3 > /tmp/pf.out 2> /tmp/pf.err & P1=$!
BPFKIT_READY=1 ${B} profile --no-leaf-caller -p $H -F 99 -f 3 > /tmp/pf0.out 2> /tmp/pf0.err & P2=$!
wait $P1 || echo "profile exit $?"; wait $P2 || echo "profile --no-leaf-caller exit $?"
kill $H
mark "profile verbose"; grep -v '^libbpf' /tmp/pf.err || true
mark profile; cat /tmp/pf.out
mark "profile noleaf"; cat /tmp/pf0.out
mark "left 3"; left profile_
mark end`;
  const started = Date.now();
  const r = await runInArm64(script, 500);
  const out = r.output.replace(/\r/g, '');
  writeFileSync(join(tmpdir(), 'bpfkit-arm64-suite.out'), out); // the whole guest output, for a failure's details
  console.log(`arm64 suite: ${((Date.now() - started) / 1000).toFixed(1)} s on the host; ${out.split('\n').filter((l) => /^(== |RIA-T-)/.test(l)).join('; ')}`);
  assert.equal(r.code, 0, out);
  assert.match(out, /^6\.1\.\S+ aarch64$/m, 'ran under the arm64 6.1 kernel');
  const section = (name: string): string => {
    const m = new RegExp(`== ${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(t=[\\d.]+\\)\\n([\\s\\S]*?)(?=\\n== )`).exec(out);
    assert.ok(m, `no section ${name} in:\n${out}`);
    return m[1]!;
  };
  const jsonLines = (s: string) => s.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);

  // The objects for arm64 were the ones loaded.
  assert.match(section('syscount verbose'), /arch arm64: BPF object \S+\/bpf\/arm64\/syscount\.bpf\.o/);
  assert.match(section('opensnoop verbose'), /arch arm64: BPF object \S+\/bpf\/arm64\/opensnoop\.bpf\.o/);

  // syscount: exact counts by syscall name (arm64 numbers: getppid 173, openat 56).
  const sc = jsonLines(section('syscount'));
  const rows = sc.flatMap((rec) => rec.rows as { syscall: string; nr: number; count: number }[]);
  const count = (name: string) => rows.filter((x) => x.syscall === name).reduce((s, x) => s + x.count, 0);
  assert.equal(count('getppid'), N_GETPPID, section('syscount'));
  assert.equal(count('openat'), N_ENOENT + N_OPEN_OK, section('syscount'));
  assert.equal(rows.find((x) => x.syscall === 'getppid')!.nr, 173);

  // trace: every call, decoded (the path of openat), nothing lost.
  const tr = section('trace');
  assert.match(tr, new RegExp(`getppid=${N_GETPPID} enoent=${N_ENOENT} hostname=${N_OPEN_OK}`), tr);
  assert.match(tr, /"type":"summary".*"lost":0,/, tr);

  // opensnoop: exactly the workload's opens, with errors and flags.
  const os = jsonLines(section('opensnoop')).filter((e) => e.type === undefined);
  assert.match(section('opensnoop'), new RegExp(`"type":"summary","events":${N_ENOENT + N_OPEN_OK},"lost":0,`), section('opensnoop'));
  assert.equal(os.length, N_ENOENT + N_OPEN_OK, section('opensnoop'));
  assert.equal(os.filter((e) => e.path === '/nonexistent-bpfkit-arm64' && e.err === 'ENOENT' && e.syscall === 'openat').length, N_ENOENT, section('opensnoop'));
  assert.equal(os.filter((e) => e.path === '/etc/hostname' && e.err === null && e.flag_names === 'O_RDONLY').length, N_OPEN_OK, section('opensnoop'));
  assert.deepEqual(section('left 1').trim().split('\n'), ['0', '0', '0'], 'programs left loaded after syscount, trace, opensnoop');

  // tcptop: exact bytes per process and connection.
  const pair = jsonLines(section('pair'))[0] as { server: number; client: number; port: number; received: number };
  assert.equal(pair.received, bytes);
  const tt = jsonLines(section('tcptop')).flatMap((rec) => rec.rows as { pid: number; lport: number; rport: number; rx_bytes: number; tx_bytes: number }[]);
  const sum = (pid: number, k: 'rx_bytes' | 'tx_bytes') => tt.filter((x) => x.pid === pid).reduce((s, x) => s + x[k], 0);
  assert.equal(sum(pair.client, 'tx_bytes'), bytes, section('tcptop'));
  assert.equal(sum(pair.client, 'rx_bytes'), 0, section('tcptop'));
  assert.equal(sum(pair.server, 'rx_bytes'), bytes, section('tcptop'));
  assert.equal(sum(pair.server, 'tx_bytes'), 0, section('tcptop'));
  assert.ok(tt.some((x) => x.pid === pair.client && x.rport === pair.port), section('tcptop'));
  assert.equal(section('left 2').trim(), '0', 'programs left loaded after tcptop');

  // profile: the hot leaf has >= 80% of the samples, under its caller recovered from the link
  // register; without the recovery the frame-pointer walk skips that caller.
  const folded = (s: string) => s.split('\n').map((l) => /^(.*) (\d+)$/.exec(l)).filter((m) => m !== null).map((m) => ({ stack: m![1]!, n: Number(m![2]) }));
  const total = (f: { n: number }[]) => f.reduce((s, x) => s + x.n, 0);
  const pf = folded(section('profile'));
  assert.ok(total(pf) >= 20, section('profile'));
  assert.ok(total(pf.filter((x) => x.stack.includes('main;bpfkit_middle;bpfkit_hot_leaf'))) >= 0.8 * total(pf), section('profile'));
  assert.match(section('profile verbose'), /leaf callers recovered from the link register/);
  const pf0 = folded(section('profile noleaf'));
  assert.ok(total(pf0) >= 20, section('profile noleaf'));
  assert.ok(total(pf0.filter((x) => x.stack.includes('main;bpfkit_hot_leaf'))) >= 0.8 * total(pf0), section('profile noleaf'));
  assert.equal(section('left 3').trim(), '0', 'programs left loaded after profile');
});
