// Core: feature probes agree with what loading real programs does, on any kernel (this one and
// the second kernel, Debian 6.1); syscount exact there too. No test names a kernel's feature set.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileC, kernelTest, runInKernel } from './helpers.js';
import { checkFeatures, checkTracepointNames, TRACEPOINT_NAMES, type FeatureCheck } from './featurecheck.js';

/** Every probe's answer equals the outcome of loading (and attaching) a tool program needing it. */
function assertConsistent(checks: FeatureCheck[], names: Array<{ name: string; scan: boolean; libbpf: boolean }>): void {
  for (const c of checks) assert.equal(c.probed, c.actual, `${c.feature}: probe says ${c.probed}, a real load ${c.actual ? 'works' : 'fails'}`);
  const byName = Object.fromEntries(checks.map((c) => [c.feature, c.probed]));
  // Any kernel bpfkit can run on has tp_btf, and then the syscall tracepoints are in its BTF.
  assert.equal(byName.tp_btf, true);
  assert.equal(byName['tp_btf:sys_enter'], true);
  for (const n of names) assert.equal(n.scan, n.libbpf, `tracepoint ${n.name}: BTF scan ${n.scan}, libbpf ${n.libbpf}`);
  const found = Object.fromEntries(names.map((n) => [n.name, n.scan]));
  for (const n of ['sys_enter', 'sys_exit', 'sched_process_fork', 'sched_switch']) assert.equal(found[n], true, n);
  assert.equal(found.bpfkit_no_such_tracepoint, false);
  assert.equal(found.sys_ente, false, 'a prefix of a real name is not a name');
}

test('feature probes agree with real loads on this kernel; tp_btf names found, made-up ones not', kernelTest(), () => {
  assertConsistent(checkFeatures(), checkTracepointNames(TRACEPOINT_NAMES));
});

test('second kernel (6.1): feature probes agree with real loads there too; syscount exact there', kernelTest(), async () => {
  const bin = compileC(`
#include <sys/syscall.h>
#include <unistd.h>
int main(void) { char b[4]; if (read(0, b, 1) != 1) return 1; for (int i = 0; i < 777; i++) syscall(SYS_getppid); return 0; }
`);
  // The workload waits on a FIFO until syscount is attached (BPFKIT_READY on its stderr).
  const { code, output } = await runInKernel(`
node dist/test/featurecheck.js
mkfifo /tmp/go
${bin} < /tmp/go &
child=$!
BPFKIT_READY=1 node dist/src/cli/main.js syscount -p $child --json 2>/tmp/err > /tmp/out &
tool=$!
for i in $(seq 1 1200); do grep -q BPFKIT_READY /tmp/err && break; sleep 0.1; done
echo x > /tmp/go
wait $child; echo "child-exit=$?"
kill -INT $tool; wait $tool; echo "tool-exit=$?"
cat /tmp/err
cat /tmp/out
`, 600);
  assert.equal(code, 0, output);
  const f = JSON.parse(output.split('\n').find((l) => l.startsWith('{"checks"'))!) as { checks: FeatureCheck[]; names: Array<{ name: string; scan: boolean; libbpf: boolean }> };
  assertConsistent(f.checks, f.names);
  assert.match(output, /tool-exit=0/);
  const rows = output.split('\n').filter((l) => l.startsWith('{"time"')).flatMap((l) => (JSON.parse(l) as { rows: Array<{ syscall: string; count: number }> }).rows);
  assert.equal(rows.filter((r) => r.syscall === 'getppid').reduce((s, r) => s + r.count, 0), 777, output);
});
