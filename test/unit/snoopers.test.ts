// snoopers: pure unit tests (no kernel, no root), moved from test/snoopers.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeExitCode, exitCodeText } from '../../src/tools/exitsnoop/exitsnoop.js';
import { formatIPv6 } from '../../src/core/net.js';
import { openFlagNames } from '../../src/tools/opensnoop/opensnoop.js';
import { parseRingbufMb } from '../../src/tools/execsnoop/snoop.js';
import { parseTcplifeArgs } from '../../src/tools/tcplife/index.js';
import { argsText, parseExecsnoopArgs } from '../../src/tools/execsnoop/index.js';

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
  assert.throws(() => parseRingbufMb('3'), /power of two/);
  assert.equal(parseRingbufMb(undefined), 8);
  assert.throws(() => parseTcplifeArgs(['-4', '-6']), /exclude/);
  assert.throws(() => parseTcplifeArgs(['-L', '1,2,3,4,5,6,7,8,9']), /at most 8/);
  assert.deepEqual(parseTcplifeArgs(['-L', '80,443', '-p', '1']).filters, { tgid: 1, localPorts: [80, 443] });
  assert.throws(() => parseExecsnoopArgs(['--max-args', '0']), /out of range/);
  assert.equal(argsText({ argv: ['a', 'b c'], truncated: true } as never, true), '"a" "b c" ...');
});
