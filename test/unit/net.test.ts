// One address formatter for every tool (src/core/net.ts), no kernel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatAddr, formatEndpoint, formatHostPort, formatIPv4, formatIPv6, unmapIPv4 } from '../../src/core/net.js';

const v6 = (hex: string) => formatIPv6(Buffer.from(hex.replace(/[^0-9a-f]/g, ''), 'hex'));

test('IPv6 addresses print as inet_ntop prints them', () => {
  assert.equal(v6('0000 0000 0000 0000 0000 0000 0000 0001'), '::1');
  assert.equal(v6('0000 0000 0000 0000 0000 0000 0000 0000'), '::');
  assert.equal(v6('2001 0db8 0000 0000 0001 0000 0000 0001'), '2001:db8::1:0:0:1');
  assert.equal(v6('2001 0db8 0000 0001 0000 0000 0000 0001'), '2001:db8:0:1::1');
  assert.equal(v6('2001 0db8 0001 0000 0000 0000 0000 0001'), '2001:db8:1::1');
  assert.equal(v6('2001 0db8 0000 0001 0001 0001 0001 0001'), '2001:db8:0:1:1:1:1:1');
  assert.equal(v6('fe80 0000 0000 0000 0202 b3ff fe1e 8329'), 'fe80::202:b3ff:fe1e:8329');
  assert.equal(v6('0000 0000 0000 0000 0000 0000 0000 0002'), '::2');
  assert.equal(v6('0001 0000 0000 0002 0000 0000 0000 0003'), '1:0:0:2::3');
  // IPv4-compatible, as inet_ntop prints it
  assert.equal(v6('0000 0000 0000 0000 0000 0000 0102 0304'), '::1.2.3.4');
  // plain number arrays work too
  assert.equal(formatIPv6([0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1]), '2001:db8::1:0:0:1');
  assert.throws(() => formatIPv6([1, 2, 3]));
});

test('IPv4-mapped IPv6 prints one way everywhere: ::ffff:a.b.c.d', () => {
  assert.equal(v6('0000 0000 0000 0000 0000 ffff 7f00 0001'), '::ffff:127.0.0.1');
  assert.equal(formatAddr(10, Buffer.from('00000000000000000000ffff0a000001', 'hex')), '::ffff:10.0.0.1');
  assert.equal(unmapIPv4('::ffff:10.0.0.1'), '10.0.0.1');
  assert.equal(unmapIPv4('::ffff:a00:1'), '::ffff:a00:1'); // not dotted: not the mapped form we print
  assert.equal(unmapIPv4('::1'), '::1');
  assert.equal(unmapIPv4('10.0.0.1'), '10.0.0.1');
});

test('formatAddr by family (4/AF_INET, 6/AF_INET6), endpoints', () => {
  const addr16 = Buffer.from('7f000001000000000000000000000000', 'hex');
  assert.equal(formatAddr(4, addr16), '127.0.0.1');
  assert.equal(formatAddr(2, addr16), '127.0.0.1');
  assert.equal(formatAddr(6, Buffer.from('00000000000000000000000000000001', 'hex')), '::1');
  assert.throws(() => formatAddr(1, addr16));
  assert.equal(formatIPv4([10, 0, 2, 15]), '10.0.2.15');
  assert.equal(formatHostPort('10.0.0.1', 80), '10.0.0.1:80');
  assert.equal(formatHostPort('::1', 443), '[::1]:443');
  assert.equal(formatEndpoint('0.0.0.0', 0), '*:*');
  assert.equal(formatEndpoint('::', 22), '*:22');
  assert.equal(formatEndpoint('::ffff:127.0.0.1', 80), '[::ffff:127.0.0.1]:80');
});
