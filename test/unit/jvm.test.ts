// HotSpot facts without a JVM: thread kinds by name, Java frame names from perf-map symbols,
// the jcmd command line (user, namespaces), and profile's relabelling of JVM stacks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { javaFrameName, jvmThreadKind, looksLikeJvmThreads, perfMapCommand } from '../../src/core/jvm.js';
import { javaNames } from '../../src/tools/profile/index.js';
import type { ProfileResult } from '../../src/tools/profile/profile.js';

test('JVM thread kinds by their HotSpot names (as the kernel cuts them at 15 characters)', () => {
  for (const c of ['GC Thread#0', 'GC Thread#12', 'G1 Main Marker', 'G1 Conc#0', 'G1 Refine#0', 'G1 Service', 'ZWorker#3', 'Shenandoah Cont']) assert.equal(jvmThreadKind(c), 'gc', c);
  for (const c of ['C2 CompilerThre', 'C1 CompilerThre', 'Sweeper thread']) assert.equal(jvmThreadKind(c), 'jit', c);
  for (const c of ['VM Thread', 'VM Periodic Tas', 'Service Thread', 'Monitor Deflati', 'Signal Dispatch', 'Reference Handl', 'Finalizer', 'Common-Cleaner', 'Notification Th', 'Attach Listener']) assert.equal(jvmThreadKind(c), 'jvm', c);
  for (const c of ['java', 'main', 'xadd-17', 'Thread-0', 'pool-1-thread-1', 'GC', 'Finalizer2']) assert.equal(jvmThreadKind(c), undefined, c);
  assert.ok(looksLikeJvmThreads(['java', 'VM Periodic Tas']));
  assert.ok(!looksLikeJvmThreads(['python3', 'Finalizer', 'GC Thread']));
});

test('Java frame names: Class::method from HotSpot perf-map symbols; the interpreter shown as such', () => {
  assert.equal(javaFrameName('long Hot.alpha(long)'), 'Hot::alpha');
  assert.equal(javaFrameName('void Hot.main(java.lang.String[])'), 'Hot::main');
  assert.equal(javaFrameName('java.lang.Object jdk.internal.misc.Unsafe.getReferenceVolatile(java.lang.Object, long)'), 'jdk.internal.misc.Unsafe::getReferenceVolatile');
  assert.equal(javaFrameName('void java.util.HashMap$Node.<init>(int, java.lang.Object)'), 'java.util.HashMap$Node::<init>');
  assert.equal(javaFrameName('Interpreter'), '[interpreted]');
  for (const stub of ['I2C/C2I adapters', 'SafepointBlob', 'new_instance Runtime1 stub', 'StubRoutines (1)']) assert.equal(javaFrameName(stub), stub);
});

test('jcmd as the JVM\'s user, and inside its namespaces when it runs in a container', () => {
  const exe = '/usr/lib/jvm/java-17-openjdk-amd64/bin/java';
  const me = process.geteuid?.() ?? 0;
  const same = perfMapCommand(1234, { uid: me, gid: 0, nsPid: 1234, foreign: false }, exe, 'jcmd');
  assert.equal(same.slice(-2).join(' '), '1234 Compiler.perfmap');
  assert.ok(!same.includes('setpriv'));
  const other = perfMapCommand(1234, { uid: 1000 + me + 1, gid: 1000, nsPid: 1234, foreign: false }, exe, 'jcmd');
  assert.deepEqual(other.slice(0, 4), ['setpriv', `--reuid=${1000 + me + 1}`, '--regid=1000', '--clear-groups']);
  const boxed = perfMapCommand(1234, { uid: 1000, gid: 1000, nsPid: 7, foreign: true }, exe, 'jcmd');
  assert.deepEqual(boxed, ['nsenter', '-t', '1234', '-m', '-p', '-S', '1000', '-G', '1000', '--', '/usr/lib/jvm/java-17-openjdk-amd64/bin/jcmd', '7', 'Compiler.perfmap']);
});

test('profile: JVM stacks get Java names and the JVM\'s threads a label; other processes untouched', () => {
  const jit = (name: string) => ({ name, module: 'perf-10.map', kind: 'jit' as const });
  const r: ProfileResult = {
    stats: { samples: 3, dropped: 0, userMissed: 0, kernelMissed: 0 },
    stacks: [
      { pid: 10, comm: 'java', count: 1, user: [jit('long Hot.alpha(long)'), jit('Interpreter')], kernel: null, userMissed: false, kernelMissed: false },
      { pid: 10, comm: 'GC Thread#0', count: 1, user: [{ name: 'G1ParScanThreadState::trim_queue', module: 'libjvm.so', kind: 'user' }], kernel: null, userMissed: false, kernelMissed: false },
      { pid: 11, comm: 'GC Thread#0', count: 1, user: [jit('long Hot.alpha(long)')], kernel: null, userMissed: false, kernelMissed: false },
    ],
  };
  const out = javaNames(r, new Set([10]));
  assert.deepEqual(out.stacks[0]!.user!.map((f) => f.name), ['Hot::alpha', '[interpreted]']);
  assert.equal(out.stacks[1]!.comm, 'GC Thread#0 [GC]');
  assert.equal(out.stacks[1]!.user![0]!.name, 'G1ParScanThreadState::trim_queue', 'native frames keep their names');
  assert.equal(out.stacks[2]!.comm, 'GC Thread#0');
  assert.equal(out.stacks[2]!.user![0]!.name, 'long Hot.alpha(long)');
});
