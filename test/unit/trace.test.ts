// trace: pure unit tests (no kernel, no root), moved from test/trace.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatCall, planFor, quote, sockaddr, type TraceRecord } from '../../src/tools/trace/decode.js';
import { syscallNumber } from '../../src/core/syscalls/index.js';

test('decoders: sockaddr, quoting, poll/select results (no kernel)', () => {
  const v4 = Buffer.from([2, 0, 0x1f, 0x90, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
  assert.equal(sockaddr(v4), '{sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr("10.0.0.1")}');
  const v6 = Buffer.alloc(28);
  v6.writeUInt16LE(10, 0); v6.writeUInt16BE(443, 2); v6[23] = 1;
  assert.equal(sockaddr(v6), '{sa_family=AF_INET6, sin6_port=htons(443), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::1", &sin6_addr), sin6_scope_id=0}');
  const un = Buffer.concat([Buffer.from([1, 0]), Buffer.from('/run/x.sock\0')]);
  assert.equal(sockaddr(un), '{sa_family=AF_UNIX, sun_path="/run/x.sock"}');
  assert.equal(quote(Buffer.from('a"b\\\n\x01'), true), '"a\\"b\\\\\\n\\1"...');

  const nr = syscallNumber('poll');
  assert.ok(nr !== undefined);
  const plan = planFor(nr, 'poll', 32);
  const fds = Buffer.alloc(16);
  fds.writeInt32LE(3, 0); fds.writeUInt16LE(1, 4); fds.writeUInt16LE(1, 6);
  fds.writeInt32LE(4, 8); fds.writeUInt16LE(4, 12); fds.writeUInt16LE(0, 14);
  const rec: TraceRecord = { tsNs: 0n, durNs: 0, ret: 1n, args: [0x1000n, 2n, 500n, 0n, 0n, 0n], tgid: 1, tid: 1, nr, comm: 'x', noReturn: false, chunks: [fds] };
  assert.equal(formatCall(rec, plan), 'poll([{fd=3, events=POLLIN}, {fd=4, events=POLLOUT}], 2, 500) = 1 ([{fd=3, revents=POLLIN}])');

  const snr = syscallNumber('select')!;
  const splan = planFor(snr, 'select', 32);
  const inSet = Buffer.from([0b00011000]); const outSet = Buffer.from([0b00010000]);
  const tv = Buffer.alloc(16); tv.writeBigInt64LE(2n, 0); tv.writeBigInt64LE(0n, 8);
  // ops: entry readfds, entry timeval, exit readfds (NULL write/except sets are not copied)
  const chunks: TraceRecord['chunks'] = new Array(splan.ops.length).fill(null);
  chunks[splan.entryOp[1]!] = inSet; chunks[splan.entryOp[4]!] = tv; chunks[splan.exitOp[1]!] = outSet;
  const srec: TraceRecord = { ...rec, nr: snr, ret: 1n, args: [5n, 0x2000n, 0n, 0n, 0x3000n, 0n], chunks };
  assert.equal(formatCall(srec, splan), 'select(5, [3 4], NULL, NULL, {tv_sec=2, tv_usec=0}) = 1 (in [4])');
  const fnr = syscallNumber('futex')!;
  const fplan = planFor(fnr, 'futex', 32);
  const wake: TraceRecord = { ...rec, nr: fnr, ret: 1n, args: [0x5000n, 129n, 1n, 0n, 0x6000n, 7n], chunks: new Array(fplan.ops.length).fill(null) };
  assert.equal(formatCall(wake, fplan), 'futex(0x5000, FUTEX_WAKE_PRIVATE, 1) = 1');
  const fail: TraceRecord = { ...srec, ret: -4n };
  assert.equal(formatCall(fail, splan), 'select(5, [3 4], NULL, NULL, {tv_sec=2, tv_usec=0}) = -1 EINTR');
});

test('quote: escapes as strace 6.1 prints them (octal padded before an octal digit)', () => {
  // the bytes strace 6.1 prints as "\0017\18\t\v\f\177\3779" (checked with strace -e read cat)
  const b = Buffer.from([0x01, 0x37, 0x01, 0x38, 0x09, 0x0b, 0x0c, 0x7f, 0xff, 0x39]);
  assert.equal(quote(b, false), '"\\0017\\18\\t\\v\\f\\177\\3779"');
  assert.equal(quote(Buffer.from([0x0f]), false), '"\\17"');
  assert.equal(quote(Buffer.from([0, 0x30, 0x0a, 0x0d, 0]), false), '"\\0000\\n\\r\\0"');
});

test('trace command line: -e lists (strace\'s trace=), -p/-t, --comm, -s, --min-ms (no kernel)', async () => {
  const { command } = await import('../../src/tools/trace/index.js');
  const o = command.parse(['-p', '42', '-e', 'trace=select,poll', '-e', 'select', '-x', '-T', '-s', '64', '--min-ms', '2.5', '--buffer-mb', '16']) as import('../../src/tools/trace/index.js').TraceOptions;
  assert.deepEqual(o.filters, { strsize: 64, failedOnly: true, tgid: 42, tid: undefined, bufferMb: 16, syscalls: [syscallNumber('select'), syscallNumber('poll')], minMs: 2.5 });
  assert.equal(o.timestamps, true);
  assert.throws(() => command.parse(['-e', 'selct']), /unknown syscall 'selct' \(did you mean .*select/);
  assert.throws(() => command.parse(['--comm', 'a-name-longer-than-15']), /--comm: a command name of 1 to 15/);
  assert.throws(() => command.parse(['-s', '0']), /-s SIZE/);
  assert.throws(() => command.parse(['ls']), /unexpected argument 'ls'/);
  assert.throws(() => command.parse(['--buffer-mb', '3']), /not a power of two/);
});

test('fsslower command line: -t required, MIN_MS positional or -m, --csv xor --json (no kernel)', async () => {
  const { command } = await import('../../src/tools/fsslower/index.js');
  type O = import('../../src/tools/fsslower/index.js').FsslowerOptions;
  assert.deepEqual((command.parse(['-t', 'ext4']) as O).filters.minMs, 10);
  assert.deepEqual((command.parse(['-t', 'ext4', '0']) as O).filters, { fstype: 'ext4', minMs: 0, tgid: undefined, bufferMb: 8 });
  assert.equal((command.parse(['-t', 'ext4', '-m', '2.5', '-p', '7', '-j']) as O).csv, true);
  assert.throws(() => command.parse([]), /-t FSTYPE is required/);
  assert.throws(() => command.parse(['-t', 'nosuchfs']), /unknown file system type 'nosuchfs'/);
  assert.throws(() => command.parse(['-t', 'ext4', '-1']), /MIN_MS: must be >= 0, got -1/);
  assert.throws(() => command.parse(['-t', 'ext4', '--csv', '--json']), /only one of --csv and --json/);
  assert.throws(() => command.parse(['-t', 'ext4', '1', '2']), /unexpected argument '2'/);
});
