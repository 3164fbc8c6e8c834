import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  allSyscalls, errnoName, errnoNumber, isKnownArch, suggestSyscalls, syscallName, syscallNumber,
} from '../../src/core/syscalls/index.js';
import { syscallTables } from '../../src/core/syscalls/table.generated.js';

test('x86_64 numbers', () => {
  assert.equal(syscallName(110, 'x64'), 'getppid');
  assert.equal(syscallName(257, 'x64'), 'openat');
  assert.equal(syscallName(0, 'x86_64'), 'read');
  assert.equal(syscallNumber('getppid', 'x64'), 110);
  assert.equal(syscallNumber('openat', 'x64'), 257);
  assert.equal(syscallNumber('sys_openat', 'x64'), 257);
});

test('arm64 numbers, including __NR3264 indirections and the 64-bit view', () => {
  assert.equal(syscallName(173, 'arm64'), 'getppid');
  assert.equal(syscallName(56, 'arm64'), 'openat');
  assert.equal(syscallNumber('getppid', 'arm64'), 173);
  assert.equal(syscallNumber('openat', 'arm64'), 56);
  assert.equal(syscallNumber('fstat', 'arm64'), 80);
  assert.equal(syscallNumber('newfstatat', 'arm64'), 79);
  assert.equal(syscallNumber('mmap', 'arm64'), 222);
  assert.equal(syscallNumber('lseek', 'arm64'), 62);
  assert.equal(syscallNumber('fcntl', 'arm64'), 25);
  assert.equal(syscallNumber('renameat', 'arm64'), 38);
  assert.equal(syscallNumber('clone3', 'arm64'), 435);
  // 32-bit-only names must not appear in the 64-bit view
  for (const n of ['fcntl64', 'fstat64', 'mmap2', 'llseek', 'clock_gettime64', 'sync_file_range2']) {
    assert.equal(syscallNumber(n, 'arm64'), undefined, n);
  }
  assert.equal(syscallNumber('open', 'arm64'), undefined); // arm64 has only openat
  assert.equal(syscallName(172, 'aarch64'), 'getpid');
});

test('unknown numbers and names', () => {
  assert.equal(syscallName(100000, 'x64'), 'syscall_100000');
  assert.equal(syscallName(400, 'x64'), 'syscall_400'); // a hole in the x86_64 table
  assert.equal(syscallName(-1, 'x64'), 'syscall_-1');
  assert.equal(syscallNumber('getpid2', 'x64'), undefined);
  assert.equal(syscallNumber('syscall_400', 'x64'), 400);
  assert.equal(isKnownArch('x64'), true);
  assert.equal(isKnownArch('ppc64'), false);
  assert.equal(syscallName(0, 'ppc64'), 'syscall_0'); // no table: never a wrong name
  assert.equal(syscallNumber('read', 'ppc64'), undefined);
  assert.deepEqual(allSyscalls('ppc64'), []);
});

test('this machine: getppid via process.arch', () => {
  const expected = process.arch === 'arm64' ? 173 : 110;
  assert.equal(syscallNumber('getppid'), expected);
  assert.equal(syscallName(expected), 'getppid');
});

test('allSyscalls is ordered and complete', () => {
  const list = allSyscalls('x64');
  assert.equal(list[0]!.name, 'read');
  assert.equal(list.length, syscallTables.x86_64.filter(Boolean).length);
  for (let i = 1; i < list.length; i++) assert.ok(list[i]!.nr > list[i - 1]!.nr);
  assert.ok(list.some((s) => s.name === 'io_uring_setup' && s.nr === 425));
});

test('suggestSyscalls', () => {
  assert.ok(suggestSyscalls('getpid2', 'x64').includes('getpid'));
  assert.ok(suggestSyscalls('opneat', 'x64').includes('openat'));
  assert.ok(suggestSyscalls('epoll_wiat', 'x64').includes('epoll_wait'));
  assert.ok(suggestSyscalls('clone', 'x64').includes('clone3'));
  assert.ok(suggestSyscalls('getpid2', 'x64').length <= 3);
  assert.deepEqual(suggestSyscalls('zzzzzzzzzz', 'x64'), []);
});

test('errno names', () => {
  assert.equal(errnoName(2), 'ENOENT');
  assert.equal(errnoName(-2), 'ENOENT');
  assert.equal(errnoNumber('ENOENT'), 2);
  assert.equal(errnoNumber('enoent'), 2);
  assert.equal(errnoName(11), 'EAGAIN');
  assert.equal(errnoNumber('EWOULDBLOCK'), 11);
  assert.equal(errnoNumber('EDEADLOCK'), 35);
  assert.equal(errnoName(111), 'ECONNREFUSED');
  assert.equal(errnoName(9999), 'E9999');
  assert.equal(errnoNumber('ENOTANERRNO'), undefined);
  assert.equal(errnoNumber(''), undefined);
});

test('generated table is up to date with the headers', { skip: !existsSync('/usr/include/asm-generic/unistd.h') && !process.env.CI }, () => {
  // runs the generator in check mode; fails if someone edited the table by hand
  // dist/test/unit/ -> repo root
  const script = fileURLToPath(new URL('../../../scripts/gen-syscalls.mjs', import.meta.url));
  execFileSync(process.execPath, [script, '--check'], { stdio: 'pipe' });
});
