// arm64 without a kernel: both object sets exist and match, the loader picks by architecture,
// arm64's syscall set has trace decoders, and the leaf-caller frame fix-up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bpfObjectPath } from '../../src/core/bpf.js';
import { BpfkitError } from '../../src/core/errors.js';
import { syscallNumber } from '../../src/core/syscalls/index.js';
import { dropSelfCaller, type Frame } from '../../src/core/symbols/index.js';
import { specFor } from '../../src/tools/trace/kinds.js';
import { signatures } from '../../src/core/syscalls/signatures.generated.js';
import { allSyscalls } from '../../src/core/syscalls/index.js';
import { REPO } from '../helpers.js';

test('every BPF object exists for x86_64 and arm64, each an ELF for BPF built for its own pt_regs', () => {
  const x86 = readdirSync(join(REPO, 'bpf')).filter((f) => f.endsWith('.bpf.o')).sort();
  const arm = readdirSync(join(REPO, 'bpf', 'arm64')).filter((f) => f.endsWith('.bpf.o')).sort();
  assert.ok(x86.length >= 10);
  assert.deepEqual(arm, x86);
  for (const f of x86) {
    const name = f.replace(/\.bpf\.o$/, '');
    assert.equal(bpfObjectPath(name, 'x64'), join(REPO, 'bpf', f));
    assert.equal(bpfObjectPath(name, 'arm64'), join(REPO, 'bpf', 'arm64', f));
    for (const p of [bpfObjectPath(name, 'x64'), bpfObjectPath(name, 'arm64')]) {
      const b = readFileSync(p);
      assert.equal(b.readUInt32BE(0), 0x7f454c46, p);
      assert.equal(b.readUInt16LE(18), 247, `${p}: e_machine EM_BPF`);
    }
  }
  // The BTF names the fields each set reads: x86's orig_ax, arm64's syscallno.
  const syscount = (arch: string) => readFileSync(bpfObjectPath('syscount', arch)).toString('latin1');
  assert.ok(syscount('x64').includes('orig_ax') && !syscount('x64').includes('syscallno'));
  assert.ok(syscount('arm64').includes('syscallno') && !syscount('arm64').includes('orig_ax'));
});

test('the loader refuses an architecture it has no objects for, in one line', () => {
  assert.throws(() => bpfObjectPath('syscount', 'riscv64'), (e: unknown) => e instanceof BpfkitError && e.code === 'NOT_SUPPORTED' && /x86_64 and arm64, not riscv64/.test(e.message));
  assert.ok(existsSync(bpfObjectPath('syscount')), `object for this machine (${process.arch})`);
});

test("trace decodes arm64's replacements of the legacy x86_64 syscalls", () => {
  const arm = (n: string) => syscallNumber(n, 'arm64');
  // arm64 has no open, stat, select ...: their *at / p* forms must be decoded instead.
  const replaced: Record<string, string> = { open: 'openat', creat: 'openat', stat: 'newfstatat', lstat: 'newfstatat', access: 'faccessat', unlink: 'unlinkat', mkdir: 'mkdirat', dup2: 'dup3', select: 'pselect6', poll: 'ppoll', epoll_wait: 'epoll_pwait', fork: 'clone', vfork: 'clone' };
  for (const name of Object.keys(signatures)) {
    if (arm(name) !== undefined || !replaced[name]) continue;
    const instead = replaced[name]!;
    assert.ok(arm(instead) !== undefined && specFor(instead), `${name} -> ${instead} decoded on arm64`);
  }
  // Signatures are read from the x86_64 kernel's tracepoints, by name: every arm64 syscall has one
  // but those the build kernel has no tracepoint for (modules, kexec, long-gone ones).
  const undecoded = allSyscalls('arm64').filter((x) => !specFor(x.name)).map((x) => x.name).sort();
  assert.deepEqual(undecoded, ['delete_module', 'finit_module', 'init_module', 'kexec_file_load', 'kexec_load', 'lookup_dcookie', 'nfsservctl']);
  for (const name of ['openat', 'newfstatat', 'pselect6', 'ppoll', 'mkdirat', 'fchmodat', 'getdents64', 'faccessat', 'unlinkat', 'dup3', 'epoll_pwait', 'clone']) {
    assert.ok(specFor(name)!.args.some((k) => k !== 'ptr' && k !== 'hex'), `${name}: decoded, not raw registers`);
  }
  assert.equal(arm('openat'), 56);
  assert.equal(arm('newfstatat'), 79);
  assert.equal(arm('pselect6'), 72);
  assert.equal(arm('getppid'), 173);
});

test('a recovered leaf caller in the leaf\'s own function is dropped (arm64 link register inside a framed function)', () => {
  const u = (name: string, module = '/bin/w'): Frame => ({ name, module, kind: 'user' });
  assert.deepEqual(dropSelfCaller([u('work'), u('work'), u('main')]), [u('work'), u('main')]);
  assert.deepEqual(dropSelfCaller([u('leaf'), u('middle'), u('main')]), [u('leaf'), u('middle'), u('main')]);
  assert.deepEqual(dropSelfCaller([u('f', '/lib/a.so'), u('f', '/bin/w')]), [u('f', '/lib/a.so'), u('f', '/bin/w')]);
});
