// Core: feature probes on this kernel and on the second kernel (Debian 6.1), syscount there too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { compileC, kernelTest, REPO, runInKernel } from './helpers.js';

const features = () => {
  const r = spawnSync(process.execPath, ['scripts/features.mjs'], { cwd: REPO, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Record<string, boolean>;
};

test('feature probes on this kernel: tp_btf, ring buffer, task storage; no kprobes, no fentry', kernelTest(), () => {
  const f = features();
  // design.md: this kernel (6.18) has CONFIG_KPROBES off and refuses fentry with EPERM.
  assert.deepEqual(f, { tp_btf: true, fentry: false, kprobes: false, ringbuf: true, taskStorage: true, sock_send_length: true, block_io_start: true, sys_enter: true });
});

test('second kernel (6.1): kprobes and fentry probe as present, newest tracepoints absent; syscount exact there', kernelTest(), async () => {
  const bin = compileC(`
#include <sys/syscall.h>
#include <unistd.h>
int main(void) { char b[4]; if (read(0, b, 1) != 1) return 1; for (int i = 0; i < 777; i++) syscall(SYS_getppid); return 0; }
`);
  // The workload waits on a FIFO until syscount is attached (BPFKIT_READY on its stderr).
  const { code, output } = await runInKernel(`
node scripts/features.mjs
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
  const f = JSON.parse(output.split('\n').find((l) => l.startsWith('{"tp_btf"'))!) as Record<string, boolean>;
  assert.deepEqual(f, { tp_btf: true, fentry: true, kprobes: true, ringbuf: true, taskStorage: true, sock_send_length: false, block_io_start: false, sys_enter: true });
  assert.match(output, /tool-exit=0/);
  const rows = output.split('\n').filter((l) => l.startsWith('{"time"')).flatMap((l) => (JSON.parse(l) as { rows: Array<{ syscall: string; count: number }> }).rows);
  assert.equal(rows.filter((r) => r.syscall === 'getppid').reduce((s, r) => s + r.count, 0), 777, output);
});
