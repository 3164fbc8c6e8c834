// snoopers: pure unit tests (no kernel, no root), moved from test/snoopers.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeExitCode, exitCodeText } from '../../src/tools/exitsnoop/exitsnoop.js';
import { formatIPv6 } from '../../src/core/net.js';
import { openFlagNames } from '../../src/tools/opensnoop/opensnoop.js';
import { command as tcplife, tcplifeJson, type TcplifeOptions } from '../../src/tools/tcplife/index.js';
import { argsText, command as execsnoop, execJson, execLine, type ExecsnoopOptions } from '../../src/tools/execsnoop/index.js';
import { command as threadsnoop, threadJson, type ThreadsnoopOptions } from '../../src/tools/threadsnoop/index.js';
import { command as exitsnoop, exitJson, type ExitsnoopOptions } from '../../src/tools/exitsnoop/index.js';

test('exit codes decode as BCC prints them', () => {
  assert.equal(exitCodeText(0), '0');
  assert.equal(exitCodeText(7 << 8), 'code 7');
  assert.equal(exitCodeText(9), 'signal 9 (KILL)');
  assert.equal(exitCodeText(11 | 0x80), 'signal 11 (SEGV), core dumped');
  assert.deepEqual(decodeExitCode(15), { signal: 15, signalName: 'SIGTERM', coreDumped: false });
});

test('IPv6 formatting and open flag names', () => {
  const b = (hex: string) => Buffer.from(hex, 'hex');
  assert.equal(formatIPv6(b('00000000000000000000000000000001')), '::1');
  assert.equal(formatIPv6(b('20010db8000000000000000000000001')), '2001:db8::1');
  assert.equal(formatIPv6(b('00000000000000000000ffff7f000001')), '::ffff:127.0.0.1');
  assert.equal(formatIPv6(b('20010db8000100000000000000000001')), '2001:db8:1::1');
  assert.equal(openFlagNames(0), 'O_RDONLY');
  assert.equal(openFlagNames(0o2000000 | 0o100 | 0o1000 | 1), 'O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC');
  assert.equal(openFlagNames(0o20200000 | 2), 'O_RDWR|O_TMPFILE');
});

test('argument parsing: bad values are BAD_ARGS', () => {
  assert.throws(() => execsnoop.parse(['--buffer-mb', '3']), /power of two/);
  assert.equal((execsnoop.parse([]) as ExecsnoopOptions).bufferMb, 8);
  assert.equal((execsnoop.parse(['--ringbuf', '16']) as ExecsnoopOptions).bufferMb, 16);
  assert.throws(() => tcplife.parse(['-4', '-6']), /exclude/);
  assert.equal((tcplife.parse(['-4']) as TcplifeOptions).filters.family, 4);
  assert.equal((tcplife.parse(['-6', '-w']) as TcplifeOptions).filters.family, 6);
  assert.throws(() => tcplife.parse(['-L', '1,2,3,4,5,6,7,8,9']), /at most 8/);
  assert.throws(() => tcplife.parse(['-L', '0']), /out of range/);
  assert.deepEqual((tcplife.parse(['-L', '80,443', '-p', '1']) as TcplifeOptions).filters, { tgid: 1, localPorts: [80, 443] });
  assert.throws(() => execsnoop.parse(['--max-args', '0']), /out of range/);
  assert.throws(() => execsnoop.parse(['--max-args', '65']), /out of range \(1\.\.64\)/);
  assert.equal((execsnoop.parse(['--max-args', '64']) as ExecsnoopOptions).filters.maxArgs, 64);
  assert.equal((execsnoop.parse([]) as ExecsnoopOptions).filters.maxArgs, 20);
  assert.throws(() => execsnoop.parse(['-P', '0']), /out of range/);
  assert.throws(() => execsnoop.parse(['extra']), /unexpected argument 'extra'/);
  assert.throws(() => threadsnoop.parse(['-d', '0']), /more than 0/);
  assert.equal((threadsnoop.parse(['-p', '12', '--no-exits']) as ThreadsnoopOptions).filters.exits, false);
  assert.deepEqual((exitsnoop.parse(['-p', '7', '-x', '--per-thread']) as ExitsnoopOptions).filters, { tgid: 7, perThread: true, failedOnly: true });
  assert.throws(() => exitsnoop.parse(['-n', '']), /empty name/);
  assert.equal(argsText({ argv: ['a', 'b c'], truncated: true }, true), '"a" "b c" ...');
});

test('JSON keys are the text columns (lower case) plus the fields the columns leave out', () => {
  const exec = { tsNs: 1n, pid: 10, tid: 11, ppid: 9, uid: 0, comm: 'true', ret: -2, argv: ['/x', 'y'], truncated: false };
  const o = execsnoop.parse(['-U']) as ExecsnoopOptions;
  assert.match(execLine(exec, o, 0n), /^0 +true +10 +9 +ENOENT \/x y\n$/);
  assert.deepEqual(Object.keys(JSON.parse(execJson(exec))).sort(), ['args', 'errno', 'pcomm', 'pid', 'ppid', 'ret', 'tid', 'time', 'truncated', 'uid']);
  const th = JSON.parse(threadJson({ tsNs: 1n, event: 'EXIT', pid: 1, tid: 2, ptid: 0, comm: 'c', lifetimeNs: 2_500_000, exitCode: 0 }));
  assert.deepEqual(th, { time: th.time, event: 'exit', pid: 1, tid: 2, ptid: null, comm: 'c', life_ms: 2.5, exit_code: 0 });
  const rn = JSON.parse(threadJson({ tsNs: 1n, event: 'RENAME', pid: 1, tid: 2, ptid: 2, comm: 'C2 CompilerThre', lifetimeNs: 0, exitCode: 0 }));
  assert.deepEqual(rn, { time: rn.time, event: 'rename', pid: 1, tid: 2, ptid: 2, comm: 'C2 CompilerThre', life_ms: null, exit_code: null });
  const ex = JSON.parse(exitJson({ tsNs: 1n, pid: 1, tid: 1, ppid: 0, comm: 'c', ageNs: 1.5e9, exitCode: 3 << 8 }));
  assert.deepEqual(Object.keys(ex), ['time', 'pcomm', 'pid', 'ppid', 'tid', 'age_s', 'exit_code', 'signal', 'core_dumped', 'raw_exit_code']);
  assert.equal(ex.exit_code, 3);
  const tcp = JSON.parse(tcplifeJson({ tsNs: 1n, pid: 1, comm: 'c', family: 4, laddr: '127.0.0.1', lport: 1, raddr: '127.0.0.1', rport: 2, txBytes: 4000, rxBytes: 10, spanNs: 1e6 }));
  assert.deepEqual([tcp.tx_kb, tcp.rx_kb, tcp.tx_bytes, tcp.rx_bytes, tcp.ms], [3, 0, 4000, 10, 1]);
});
