// sockets: pure unit tests (no kernel, no root), moved from test/sockets.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseHexEndpoint, parseIPv4Hex, parseIPv6Hex, parseInetTable, parseSocketLink, parseUnixTable } from '../../src/core/sockets.js';
import { formatEndpoint, formatIPv6 } from '../../src/core/net.js';

test('IPv4 hex, both host byte orders', () => {
  assert.equal(parseIPv4Hex('0100007F', true), '127.0.0.1');
  assert.equal(parseIPv4Hex('7F000001', false), '127.0.0.1');
  assert.equal(parseIPv4Hex('0F02000A', true), '10.0.2.15');
  assert.deepEqual(parseHexEndpoint('0100007F:1F90', true), { addr: '127.0.0.1', port: 8080 });
  assert.deepEqual(parseHexEndpoint('00000000:0000', true), { addr: '0.0.0.0', port: 0 });
});

test('IPv6 hex: words in host order, compression, IPv4-mapped', () => {
  assert.equal(parseIPv6Hex('00000000000000000000000001000000', true), '::1');
  assert.equal(parseIPv6Hex('00000000000000000000000000000001', false), '::1');
  assert.equal(parseIPv6Hex('00000000000000000000000000000000', true), '::');
  assert.equal(parseIPv6Hex('0000000000000000FFFF00000100007F', true), '::ffff:127.0.0.1');
  assert.equal(parseIPv6Hex('B80D0120000000000000000001000000', true), '2001:db8::1');
  assert.equal(parseIPv6Hex('000080FE00000000FF0E0A02010C4BFE', true), 'fe80::20a:eff:fe4b:c01');
  assert.equal(formatIPv6([0x20, 1, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]), '2001:db8:0:1::1');
  assert.equal(formatIPv6([0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1]), '2001:db8::1:0:0:1');
  assert.deepEqual(parseHexEndpoint('00000000000000000000000001000000:01BB', true), { addr: '::1', port: 443 });
});

test('endpoint display', () => {
  assert.equal(formatEndpoint('0.0.0.0', 0), '*:*');
  assert.equal(formatEndpoint('0.0.0.0', 22), '*:22');
  assert.equal(formatEndpoint('::', 22), '*:22');
  assert.equal(formatEndpoint('::1', 443), '[::1]:443');
  assert.equal(formatEndpoint('127.0.0.1', 80), '127.0.0.1:80');
});

test('parseInetTable: tcp rows, LISTEN backlog, orphans dropped', () => {
  const text = [
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 0100007F:1F90 00000000:0000 0A 00000000:00000003 00:00000000 00000000     0        0 7185 1 0000000000000000 100 0 0 10 0',
    '   1: 0100007F:D5D6 0100007F:1F90 01 000000DC:00000010 01:00000014 00000000  1000        0 8212 1 0000000000000000 20 4 30 10 -1',
    '   2: 0100007F:E3FE 0100007F:DE5B 06 00000000:00000000 03:000014BD 00000000     0        0 0 3 0000000000000000',
  ].join('\n');
  const rows = parseInetTable(text, 'tcp', true);
  assert.equal(rows.length, 2);
  assert.deepEqual(rows[0], {
    proto: 'tcp', type: 'stream', localAddr: '127.0.0.1', localPort: 8080, remoteAddr: '0.0.0.0', remotePort: 0,
    state: 'LISTEN', sendQ: 0, recvQ: 3, inode: 7185,
  });
  assert.equal(rows[1]!.state, 'ESTABLISHED');
  assert.equal(rows[1]!.sendQ, 220);
  assert.equal(rows[1]!.recvQ, 16);
  assert.equal(rows[1]!.remotePort, 8080);
  assert.equal(parseInetTable(text, 'tcp', true, true)[2]!.state, 'TIME_WAIT');
});

test('parseInetTable: udp states', () => {
  const text = [
    '   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops',
    '  123: 0100007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 555 2 0000000000000000 0',
    '  124: 0100007F:9C40 0100007F:0035 01 00000000:00000200 00:00000000 00000000     0        0 556 2 0000000000000000 0',
  ].join('\n');
  const rows = parseInetTable(text, 'udp', true);
  assert.deepEqual(rows.map((r) => [r.state, r.localPort, r.recvQ, r.type]), [['UNCONN', 53, 0, 'dgram'], ['ESTABLISHED', 40000, 512, 'dgram']]);
});

test('parseUnixTable: listen, connected, abstract, unnamed', () => {
  const text = [
    'Num       RefCount Protocol Flags    Type St Inode Path',
    '0000000000000000: 00000002 00000000 00010000 0001 01  7186 /tmp/x/.s.PGSQL.5432',
    '0000000000000000: 00000003 00000000 00000000 0001 03  1517',
    '0000000000000000: 00000002 00000000 00000000 0002 01 99999 @/org/kernel/udev',
    '0000000000000000: 00000002 00000000 00000000 0005 03  1234 /run/with space.sock',
  ].join('\n');
  const rows = parseUnixTable(text);
  assert.deepEqual(rows.map((r) => [r.state, r.type, r.localAddr, r.inode]), [
    ['LISTEN', 'stream', '/tmp/x/.s.PGSQL.5432', 7186],
    ['CONNECTED', 'stream', null, 1517],
    ['UNCONN', 'dgram', '@/org/kernel/udev', 99999],
    ['CONNECTED', 'seqpacket', '/run/with space.sock', 1234],
  ]);
  assert.equal(rows[0]!.sendQ, null);
});

test('parseUnixTable: a path with a newline stays one path; a forged line cannot claim a path', () => {
  const text = [
    'Num       RefCount Protocol Flags    Type St Inode Path',
    '0000000000000000: 00000002 00000000 00010000 0001 01  7186 /tmp/evil',
    'x\x1b[2J',
    '0000000000000000: 00000002 00000000 00010000 0001 01  5555 /tmp/evil2',
    '0000000000000000: 00000002 00000000 00010000 0001 01  7186 /run/fake.sock',
    '0000000000000000: 00000002 00000000 00000000 0001 01  5556 /run/ok',
    '',
  ].join('\n');
  const rows = parseUnixTable(text);
  assert.deepEqual(rows.map((r) => [r.inode, r.localAddr]), [[7186, '?'], [5555, '/tmp/evil2'], [7186, '?'], [5556, '/run/ok']]);
  const one = parseUnixTable(text.split('\n').slice(0, 3).join('\n'));
  assert.deepEqual(one.map((r) => r.localAddr), ['/tmp/evil\nx\x1b[2J']);
});

test('parseSocketLink', () => {
  assert.equal(parseSocketLink('socket:[12345]'), 12345);
  assert.equal(parseSocketLink('pipe:[12345]'), undefined);
  assert.equal(parseSocketLink('/dev/null'), undefined);
});

// ---- the command's flags and renderers (no /proc of a live process)

import { command, renderJson, renderText, type SocketsOptions, type SocketRecord } from '../../src/tools/sockets/index.js';

test('sockets flags: -p lists (repeatable), -a, -l; bad combinations', () => {
  const p = command.parse(['-p', '3,1', '-p', '2', '-l']) as SocketsOptions;
  assert.deepEqual(p, { pids: [3, 1, 2], all: false, listening: true });
  assert.deepEqual(command.parse(['-a', '--json']), { pids: [], all: true, listening: false });
  const bad = (argv: string[], re: RegExp) => assert.throws(() => command.parse(argv), (e: Error & { code?: string }) => e.code === 'BAD_ARGS' && re.test(e.message), argv.join(' '));
  bad([], /^give -p PID or -a/);
  bad(['-p', '1', '-a'], /^-p and -a cannot be used together$/);
  bad(['-p', '1,x'], /^-p PID: 'x' is not an integer/);
  bad(['-p', '0'], /^-p PID: 0 is out of range/);
  bad(['-a', 'x'], /^unexpected argument 'x'/);
});

test('sockets renderers: control characters escaped in text, exact in JSON; keys as the columns', () => {
  const r: SocketRecord = {
    pid: 5, comm: 'a\x1b[2J\nb', fd: 3, proto: 'unix', type: 'stream', localAddr: '/tmp/\x1b]0;x\x07', localPort: null,
    remoteAddr: null, remotePort: null, state: 'LISTEN', sendQ: null, recvQ: null, inode: 77, local: '/tmp/\x1b]0;x\x07', remote: '',
  };
  const text = renderText([r]);
  assert.doesNotMatch(text, /[\x00-\x09\x0b-\x1f]/);
  assert.equal(text.split('\n').length, 3);
  assert.match(text, /^ +5 +a\\x1b\[2J\\x0ab +3 +unix +\/tmp\/\\x1b\]0;x\\x07 +- +LISTEN +- +- +77$/m);
  const o = JSON.parse(renderJson([r])) as Record<string, unknown>;
  assert.deepEqual(o, { pid: 5, comm: r.comm, fd: 3, proto: 'unix', local: r.local, remote: '', state: 'LISTEN', send_q: null, recv_q: null, inode: 77, type: 'stream', local_addr: r.localAddr, local_port: null, remote_addr: null, remote_port: null });
});
