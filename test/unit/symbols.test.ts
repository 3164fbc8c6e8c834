// Symbolization against real binaries built here with gcc: non-PIE, PIE, a shared library, a stripped
// PIE, an exited process, a deleted binary, a JIT perf map, kallsyms (real when readable, synthetic
// always) and the vDSO. No root needed (the deleted-binary case needs /proc/PID/map_files: root only).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { chownSync, closeSync, copyFileSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import {
  canDemangle, demangleAll, demangleStacks, isMangled,
  ElfFile, KernelSymbols, PerfMap, Symbolizer, buildStack, frameLabel, parseMaps, readMaps, SymbolTable,
} from '../../src/core/symbols/index.js';

const LIB_C = `
#include <stdio.h>
__attribute__((noinline)) int lib_hot_function(int x) { return x * 7 + 3; }
void lib_report(void) {
  printf("lib_hot_function %p\\n", (void *)&lib_hot_function);
  printf("lib_value %d\\n", lib_hot_function(1));
}
`;

const PROG_C = `
#include <stdio.h>
#include <unistd.h>
#include <execinfo.h>
void lib_report(void);
__attribute__((noinline)) void level3(void) {
  void *b[32];
  int n = backtrace(b, 32);
  printf("stack");
  for (int i = 0; i < n; i++) printf(" %p", b[i]);
  printf("\\n");
}
__attribute__((noinline)) void level2(void) { level3(); __asm__ volatile(""); }
__attribute__((noinline)) void level1(void) { level2(); __asm__ volatile(""); }
__attribute__((noinline)) int alpha_function(int x) { return x * 3 + 1; }
__attribute__((noinline)) static int beta_static(int x) { return x ^ 0x55; }
__attribute__((noinline)) int gamma_function(int x) { int s = 0; for (int i = 0; i < x; i++) s += alpha_function(i); return s; }
int main(void) {
  printf("alpha_function %p\\n", (void *)&alpha_function);
  printf("beta_static %p\\n", (void *)&beta_static);
  printf("gamma_function %p\\n", (void *)&gamma_function);
  printf("main %p\\n", (void *)&main);
  lib_report();
  printf("value %d\\n", gamma_function(3) + beta_static(2));
  level1();
  printf("ready\\n");
  fflush(stdout);
  sleep(120);
  return 0;
}
`;

let dir = '';
const children: ChildProcess[] = [];

interface Running {
  child: ChildProcess;
  pid: number;
  addrs: Map<string, bigint>;
  /** A real leaf-first stack of return addresses (backtrace() in level3). */
  stack: bigint[];
}

async function run(path: string): Promise<Running> {
  const child = spawn(path, [], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const addrs = new Map<string, bigint>();
  let stack: bigint[] = [];
  const rl = createInterface({ input: child.stdout! });
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`${path} exited early (${code})`)));
    rl.on('line', (line) => {
      const m = /^(\w+) (0x[0-9a-f]+)$/.exec(line);
      if (m) addrs.set(m[1]!, BigInt(m[2]!));
      if (line.startsWith('stack ')) stack = line.slice(6).split(' ').map((x) => BigInt(x));
      if (line === 'ready') resolve();
    });
  });
  child.removeAllListeners('exit');
  return { child, pid: child.pid!, addrs, stack };
}

async function stop(r: Running): Promise<void> {
  if (r.child.exitCode !== null || r.child.signalCode !== null) return;
  const exited = new Promise((resolve) => r.child.once('exit', resolve));
  r.child.kill('SIGKILL');
  await exited;
}

function nmAddress(path: string, name: string): number {
  const out = execFileSync('nm', [path], { encoding: 'utf8' });
  const line = out.split('\n').find((l) => l.endsWith(` ${name}`));
  assert.ok(line, `nm finds ${name} in ${path}`);
  return parseInt(line.split(' ')[0]!, 16);
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'bpfkit-sym-'));
  writeFileSync(join(dir, 'lib.c'), LIB_C);
  writeFileSync(join(dir, 'prog.c'), PROG_C);
  const gcc = (...args: string[]) => execFileSync('gcc', args, { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
  gcc('-O1', '-g0', '-shared', '-fPIC', '-o', 'libhot.so', 'lib.c');
  const link = ['-L.', '-lhot', `-Wl,-rpath,${dir}`];
  gcc('-O1', '-g0', '-fno-pie', '-no-pie', '-o', 'prog_nopie', 'prog.c', ...link);
  gcc('-O1', '-g0', '-fPIE', '-pie', '-o', 'prog_pie', 'prog.c', ...link);
  copyFileSync(join(dir, 'prog_pie'), join(dir, 'prog_stripped'));
  execFileSync('strip', ['-s', join(dir, 'prog_stripped')]);
});

after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('ELF reader', () => {
  test('headers, PT_LOAD and symbols match nm', () => {
    for (const name of ['prog_nopie', 'prog_pie', 'libhot.so']) {
      const path = join(dir, name);
      const elf = ElfFile.open(path);
      assert.equal(elf.machine, 62);
      assert.equal(elf.type, name === 'prog_nopie' ? 2 : 3);
      assert.ok(elf.loads.length >= 2);
      assert.match(elf.buildId ?? '', /^[0-9a-f]{40}$/);
      const fn = name === 'libhot.so' ? 'lib_hot_function' : 'alpha_function';
      const addr = nmAddress(path, fn);
      assert.equal(elf.symbols.addressOf(fn), addr);
      assert.equal(elf.lookup(addr)?.name, fn);
      assert.equal(elf.lookup(addr + 2)?.offset, 2);
      const off = elf.vaddrToFileOffset(addr)!;
      assert.equal(elf.fileOffsetToVaddr(off), addr);
    }
  });

  test('local (static) functions come from .symtab; stripped files keep only .dynsym', () => {
    const elf = ElfFile.open(join(dir, 'prog_pie'));
    assert.ok(elf.symbols.addressOf('beta_static') !== undefined);
    assert.match(elf.symbolSource, /\.symtab/);
    const stripped = ElfFile.open(join(dir, 'prog_stripped'));
    assert.equal(stripped.symbols.addressOf('beta_static'), undefined);
    assert.doesNotMatch(stripped.symbolSource, /\.symtab/);
  });

  test('rejects what is not ELF64 LE', () => {
    assert.throws(() => ElfFile.fromBuffer(Buffer.from('#!/bin/sh\n'.padEnd(64, ' '))), /not an ELF/);
  });
});

describe('SymbolTable', () => {
  test('size-0 symbols extend to the next symbol, sized ones do not', () => {
    const t = new SymbolTable([
      { addr: 0x2000, size: 0x10, name: 'b' },
      { addr: 0x1000, size: 0, name: 'a' },
      { addr: 0x3000, size: 0, name: 'c', bound: 0x3100 },
    ]);
    assert.equal(t.lookup(0x1fff)?.name, 'a');
    assert.equal(t.lookup(0x2008)?.name, 'b');
    assert.equal(t.lookup(0x2010), undefined);
    assert.equal(t.lookup(0x30ff)?.name, 'c');
    assert.equal(t.lookup(0x3100), undefined);
    assert.equal(t.lookup(0xfff), undefined);
  });

  test('sorting and lookups match a reference on random tables (addresses up to 2^52)', () => {
    let seed = 99;
    const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    for (const span of [2 ** 20, 2 ** 36, 2 ** 52]) {
      const syms = [];
      for (let i = 0; i < 5000; i++) {
        const addr = Math.floor(rnd() * span) + 1;
        syms.push({ addr, size: 1 + Math.floor(rnd() * 64), name: `s${i}`, rank: Math.floor(rnd() * 3) });
        if (i % 50 === 0) syms.push({ addr, size: 8, name: `dup${i}`, rank: 5 }); // loses to any rank < 5
      }
      const t = new SymbolTable(syms.map((x) => ({ ...x })));
      for (let i = 1; i < t.size; i++) assert.ok(t.starts[i - 1]! < t.starts[i]!);
      const ref = [...syms].sort((a, b) => a.addr - b.addr || a.rank - b.rank || b.size - a.size);
      const firstAt = new Map<number, (typeof syms)[number]>();
      for (const x of ref) if (!firstAt.has(x.addr)) firstAt.set(x.addr, x);
      assert.equal(t.size, firstAt.size);
      for (let k = 0; k < 300; k++) {
        const x = ref[Math.floor(rnd() * ref.length)]!;
        const want = firstAt.get(x.addr)!;
        assert.equal(t.lookup(x.addr)?.name, want.name);
      }
    }
  });

  test('nested symbols: an address after an inner symbol resolves to the outer one', () => {
    const t = new SymbolTable([
      { addr: 0x1000, size: 0x100, name: 'outer' },
      { addr: 0x1010, size: 0x10, name: 'inner' },
    ]);
    assert.equal(t.lookup(0x1015)?.name, 'inner');
    assert.equal(t.lookup(0x1050)?.name, 'outer');
  });
});

for (const variant of ['prog_nopie', 'prog_pie'] as const) {
  describe(`user symbolization: ${variant}`, () => {
    test('runtime addresses of known functions resolve, in the executable and in the shared library', async () => {
      const r = await run(join(dir, variant));
      try {
        const sym = new Symbolizer({ returnAddresses: false });
        assert.equal(sym.snapshotProcess(r.pid), true);
        const names = ['alpha_function', 'beta_static', 'gamma_function', 'main', 'lib_hot_function'];
        const addrs = names.map((n) => r.addrs.get(n)!);
        const frames = sym.symbolizeUser(r.pid, addrs);
        assert.deepEqual(frames.map((f) => f.name), names);
        assert.ok(frames.every((f) => f.offset === 0 && f.kind === 'user'));
        assert.equal(frames[0]!.module, join(dir, variant));
        assert.equal(frames[4]!.module, join(dir, 'libhot.so'));
        // A real stack of return addresses, leaf first.
        const real = new Symbolizer().symbolizeUser(r.pid, r.stack).map((f) => f.name);
        assert.deepEqual(real.slice(0, 4), ['level3', 'level2', 'level1', 'main'], real.join(' < '));
        assert.ok(real.slice(4).some((n) => /libc_start/.test(n)), real.join(' < '));
        // Labels for the renderers: root first, kernel frames suffixed.
        const k = KernelSymbols.parse('ffffffff81000000 T _stext\nffffffff81000100 T do_work\n');
        const labels = new Symbolizer({ kernel: k }).stackLabels({
          pid: r.pid, comm: 'prog', user: [r.addrs.get('alpha_function')! + 1n, r.addrs.get('gamma_function')! + 5n],
          kernel: [0xffffffff81000104n, 0xffffffff81000010n, 0n, 0n],
        });
        assert.deepEqual(labels, ['prog', 'gamma_function', 'alpha_function', '_stext_[k]', 'do_work_[k]']);
        // Memoized frames are the same answers.
        assert.deepEqual(sym.symbolizeUser(r.pid, addrs).map((f) => f.name), names);
        // Inside a function: offset from its start.
        const [mid] = sym.symbolizeUser(r.pid, [r.addrs.get('gamma_function')! + 3n]);
        assert.equal(mid!.name, 'gamma_function');
        assert.equal(mid!.offset, 3);
        // A libc function resolves through libc's symbols.
        const libc = readMaps(r.pid).find((m) => /libc[.-]/.test(m.path) && m.perms.includes('x'));
        if (libc) {
          const [f] = sym.symbolizeUser(r.pid, [BigInt(libc.start + 0x100)]);
          assert.equal(f!.module, libc.path);
          assert.notEqual(f!.name, '[unknown]');
        }
      } finally {
        await stop(r);
      }
    });
  });
}

describe('user symbolization: edge cases', () => {
  test('return addresses: entries after the first are looked up at addr-1', async () => {
    const r = await run(join(dir, 'prog_pie'));
    try {
      const sym = new Symbolizer();
      const beta = r.addrs.get('beta_static')!;
      const gamma = r.addrs.get('gamma_function')!;
      // [leaf exactly at gamma's start, return address just past a function start]
      const frames = sym.symbolizeUser(r.pid, [gamma, beta + 1n]);
      assert.equal(frames[0]!.name, 'gamma_function');
      assert.equal(frames[1]!.name, 'beta_static');
      assert.equal(frames[1]!.offset, 1);
    } finally {
      await stop(r);
    }
  });

  test('stripped PIE: unknown function becomes module+0xVADDR, never dropped; unmapped is [unknown]', async () => {
    const r = await run(join(dir, 'prog_stripped'));
    try {
      const sym = new Symbolizer({ returnAddresses: false });
      const frames = sym.symbolizeUser(r.pid, [r.addrs.get('beta_static')!, 0x10n, r.addrs.get('lib_hot_function')!]);
      assert.equal(frames.length, 3);
      const vaddr = nmAddress(join(dir, 'prog_pie'), 'beta_static');
      assert.equal(frames[0]!.name, `prog_stripped+0x${vaddr.toString(16)}`);
      assert.equal(frames[0]!.offset, vaddr);
      assert.equal(frames[0]!.kind, 'unknown');
      assert.equal(frames[1]!.name, '[unknown]');
      assert.equal(frames[2]!.name, 'lib_hot_function');
    } finally {
      await stop(r);
    }
  });

  test('a process that exited after its snapshot still resolves', async () => {
    const r = await run(join(dir, 'prog_pie'));
    const sym = new Symbolizer({ returnAddresses: false });
    assert.equal(sym.snapshotProcess(r.pid), true);
    await stop(r);
    const frames = sym.symbolizeUser(r.pid, [r.addrs.get('alpha_function')!, r.addrs.get('lib_hot_function')!]);
    assert.deepEqual(frames.map((f) => f.name), ['alpha_function', 'lib_hot_function']);
    // Without a snapshot, the exited process resolves to [unknown] frames, one per address.
    const fresh = new Symbolizer();
    assert.deepEqual(fresh.symbolizeUser(r.pid, [1n, 2n]).map((f) => f.name), ['[unknown]', '[unknown]']);
  });

  test('a deleted binary resolves (snapshot reads it through /proc/PID/map_files)', async (t) => {
    if (process.getuid?.() !== 0) {
      t.skip('map_files needs root');
      return;
    }
    const path = join(dir, 'prog_deleted');
    copyFileSync(join(dir, 'prog_pie'), path);
    const r = await run(path);
    unlinkSync(path);
    const sym = new Symbolizer({ returnAddresses: false });
    assert.equal(sym.snapshotProcess(r.pid), true);
    assert.ok(sym.snapshot(r.pid)!.maps.some((m) => m.deleted && m.path === path));
    await stop(r);
    const [f] = sym.symbolizeUser(r.pid, [r.addrs.get('alpha_function')!]);
    assert.equal(f!.name, 'alpha_function');
    assert.equal(f!.module, path);
  });

  test('JIT perf map: /tmp/perf-PID.map resolves addresses outside file mappings', async () => {
    const r = await run(join(dir, 'prog_pie'));
    const mapPath = `/tmp/perf-${r.pid}.map`;
    try {
      writeFileSync(mapPath, '7e0000001000 100 LazyCompile:*hot_js_function /app/x.js:10\n0x7e0000001100 0x40 Builtin:Stub\n7e0000001008 10 LazyCompile:~newer\n');
      const sym = new Symbolizer({ returnAddresses: false });
      sym.snapshotProcess(r.pid);
      const frames = sym.symbolizeUser(r.pid, [0x7e0000001050n, 0x7e0000001120n, 0x7e0000001010n, 0x7e0000002000n, r.addrs.get('main')!]);
      assert.deepEqual(frames.map((f) => f.name), ['LazyCompile:*hot_js_function /app/x.js:10', 'Builtin:Stub', 'LazyCompile:~newer', '[unknown]', 'main']);
      assert.equal(frames[0]!.kind, 'jit');
      assert.equal(frames[0]!.offset, 0x50);
      assert.equal(frames[0]!.module, `perf-${r.pid}.map`);
    } finally {
      rmSync(mapPath, { force: true });
      await stop(r);
    }
  });

  test('JIT map written after the snapshot is picked up; a JIT map outlives its process', async () => {
    const r = await run(join(dir, 'prog_pie'));
    const mapPath = `/tmp/perf-${r.pid}.map`;
    try {
      const sym = new Symbolizer({ returnAddresses: false });
      sym.snapshotProcess(r.pid);
      writeFileSync(mapPath, '7e0000001000 100 late_jit_function\n');
      assert.equal(sym.symbolizeUser(r.pid, [0x7e0000001010n])[0]!.name, 'late_jit_function');
      await stop(r);
      // Never snapshotted, already gone: only the JIT map on disk remains, and it is used.
      const fresh = new Symbolizer({ returnAddresses: false });
      assert.deepEqual(fresh.symbolizeUser(r.pid, [0x7e0000001010n, 0x1000n]).map((f) => f.name), ['late_jit_function', '[unknown]']);
    } finally {
      rmSync(mapPath, { force: true });
      await stop(r);
    }
  });

  test('real JIT code: node --perf-basic-prof functions resolve through its perf map', async () => {
    const child = spawn(process.execPath, ['--perf-basic-prof', '-e',
      'function hotLoop(n){let s=0;for(let i=0;i<n;i++)s+=Math.sqrt(i);return s}' +
      'for(let k=0;k<300;k++)hotLoop(1e5);console.log("ready");setTimeout(()=>{},60000)'], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    const mapPath = `/tmp/perf-${child.pid}.map`;
    try {
      await new Promise((resolve) => child.stdout!.once('data', resolve));
      // node writes its perf map through a buffer: wait for the lines to land.
      let lines: string[] = [];
      for (let i = 0; i < 100 && lines.length === 0; i++) {
        try {
          lines = readFileSync(mapPath, 'utf8').split('\n').filter((l) => /hotLoop/.test(l));
        } catch {
          // not created yet
        }
        if (lines.length === 0) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.ok(lines.length > 0, 'hotLoop in the perf map');
      const addrs = lines.map((l) => BigInt('0x' + l.split(' ')[0]) + 1n);
      const frames = new Symbolizer({ returnAddresses: false }).symbolizeUser(child.pid!, addrs);
      for (const f of frames) {
        assert.match(f.name, /hotLoop/);
        assert.equal(f.kind, 'jit');
        assert.equal(f.offset, 1);
      }
      // Through a thread id of the same process: the JIT map is found by the tgid.
      const tid = readdirSync(`/proc/${child.pid}/task`).map(Number).find((t) => t !== child.pid);
      assert.ok(tid);
      const viaThread = new Symbolizer({ returnAddresses: false }).symbolizeUser(tid, addrs);
      assert.deepEqual(viaThread.map((f) => f.name), frames.map((f) => f.name));
    } finally {
      child.kill('SIGKILL');
      rmSync(mapPath, { force: true });
    }
  });

  test('separate debug files (/usr/lib/debug/.build-id) supply local symbols', (t) => {
    const libc = readMaps('self').find((m) => /\/libc\.so\.6$/.test(m.path))?.path;
    if (!libc) return t.skip('no libc.so.6 mapped');
    const plain = ElfFile.open(libc, { debugLookup: false });
    const full = ElfFile.open(libc);
    if (!/\.debug$/.test(full.symbolSource)) return t.skip('no debug file for libc installed');
    assert.ok(full.symbols.size > plain.symbols.size);
    assert.equal(full.buildId, plain.buildId);
  });

  test('vDSO functions resolve', () => {
    const m = readMaps('self').find((x) => x.path === '[vdso]');
    assert.ok(m, 'this process has no [vdso] mapping');
    const buf = Buffer.alloc(m.end - m.start);
    const fd = openSync('/proc/self/mem', 'r');
    readSync(fd, buf, 0, buf.length, m.start);
    closeSync(fd);
    const vdso = ElfFile.fromBuffer(buf);
    const name = vdso.symbols.names.find((n) => /clock_gettime/.test(n));
    assert.ok(name, `no clock_gettime in the vDSO's symbols (${vdso.symbols.names.join(', ')})`);
    const vaddr = vdso.symbols.addressOf(name)!;
    const addr = BigInt(m.start + vdso.vaddrToFileOffset(vaddr)! + 4);
    const [f] = new Symbolizer().symbolizeUser(process.pid, [addr]);
    assert.equal(f!.name, name);
    assert.equal(f!.module, '[vdso]');
    assert.equal(f!.offset, 4);
  });
});

describe('PerfMap and maps parsing', () => {
  test('perf map lines with and without 0x, a later line at the same start replaces the earlier one', () => {
    const pm = PerfMap.parse('1000 10 first\n0x1000 0x8 second\nbogus line\n2000 0 zero-size\n3000 4 name with spaces\n');
    assert.equal(pm.lookup(0x1004)?.name, 'second');
    assert.equal(pm.lookup(0x100c), undefined);
    assert.equal(pm.lookup(0x2000), undefined);
    assert.equal(pm.lookup(0x3002)?.name, 'name with spaces');
  });

  test('perf map names: control characters (ESC, CR, DEL, C1) are escaped, never returned raw', () => {
    const pm = PerfMap.parse('1000 10 evil\x1b[31mred\x07\x7f\u009b2J\n2000 10 cr\rforged 99\n');
    assert.equal(pm.lookup(0x1000)?.name, 'evil\\x1b[31mred\\x07\\x7f\\x9b2J');
    // A CR inside a name makes the line invalid (it is dropped, not half-used).
    assert.equal(pm.lookup(0x2000), undefined);
  });

  test('PerfMap.load refuses symlinks, FIFOs and other users\' files, and reads at most maxBytes', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'bpfkit-perfmap-'));
    try {
      const good = join(dir, 'good.map');
      writeFileSync(good, '1000 10 one\n2000 10 two\n3000 10 three\n');
      assert.equal(PerfMap.load(good).lookup(0x2004)?.name, 'two');
      // Bounded read: the partial last line is dropped, complete lines are kept.
      const cut = PerfMap.load(good, { maxBytes: 20 });
      assert.equal(cut.lookup(0x1004)?.name, 'one');
      assert.equal(cut.lookup(0x2004), undefined);
      const link = join(dir, 'link.map');
      symlinkSync(good, link);
      assert.throws(() => PerfMap.load(link), /ELOOP/);
      symlinkSync('/dev/zero', join(dir, 'zero.map'));
      assert.throws(() => PerfMap.load(join(dir, 'zero.map')), /ELOOP/);
      const fifo = join(dir, 'fifo.map');
      execFileSync('mkfifo', [fifo]);
      assert.throws(() => PerfMap.load(fifo), /not a regular file/); // promptly: O_NONBLOCK
      if (process.geteuid?.() === 0) {
        chownSync(good, 65534, 65534);
        assert.throws(() => PerfMap.load(good), /owned by uid 65534/);
        assert.equal(PerfMap.load(good, { owners: [65534] }).lookup(0x3004)?.name, 'three');
      } else t.diagnostic('not root: the owner check against another uid is not exercised');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('/proc/PID/maps lines, deleted files, pseudo paths', () => {
    const maps = parseMaps([
      '55d0c0a00000-55d0c0a01000 r-xp 00001000 fd:01 1234 /usr/bin/x (deleted)',
      '7ffd1000-7ffd3000 r-xp 00000000 00:00 0 [vdso]',
      '7f0000000000-7f0000001000 rwxp 00000000 00:00 0 ',
    ].join('\n'));
    assert.equal(maps.length, 3);
    assert.equal(maps[0]!.path, '[vdso]');
    const x = maps.find((m) => m.inode === 1234)!;
    assert.equal(x.deleted, true);
    assert.equal(x.path, '/usr/bin/x');
    assert.equal(x.offset, 0x1000);
    assert.equal(maps[2]!.path, '');
  });
});

describe('kernel symbols', () => {
  const text = [
    'ffffffff81000000 T _stext',
    'ffffffff81000100 t helper_one',
    'ffffffff81000200 T do_work',
    'ffffffff81000300 D some_data',
    'ffffffff81000400 W weak_fn',
    'ffffffffc0001000 t ext4_thing\t[ext4]',
    'ffffffffc0001100 T ext4_other\t[ext4]',
    'ffffffffc0002000 t bpf_prog_abc_handler\t[bpf]',
  ].join('\n');

  test('synthetic kallsyms: lookup, offsets, modules, data symbols skipped', () => {
    const k = KernelSymbols.parse(text);
    assert.equal(k.available, true);
    assert.deepEqual(k.lookup(0xffffffff81000210n), { name: 'do_work', module: 'kernel', address: 0xffffffff81000200n, offset: 0x10 });
    assert.equal(k.lookup(0xffffffff81000350n)?.name, 'do_work'); // data symbol is not a boundary
    assert.equal(k.lookup(0xffffffff81000400n)?.name, 'weak_fn');
    assert.deepEqual(k.lookup(0xffffffffc0001104n), { name: 'ext4_other', module: 'ext4', address: 0xffffffffc0001100n, offset: 4 });
    assert.equal(k.lookup(0xffffffffc0002008n)?.module, 'bpf');
    assert.equal(k.lookup(0xffffffff80000000n), undefined);
    assert.equal(k.lookup(0xffffffff81000400n + 0x200000n), undefined); // far past the last core symbol
    const sym = new Symbolizer({ kernel: k, addresses: true });
    const frames = sym.symbolizeKernel([0xffffffff81000200n, 0xffffffff81000200n, 0x1234n]);
    assert.equal(frames[0]!.name, 'do_work');
    assert.equal(frames[1]!.name, 'helper_one'); // return address: looked up at addr-1
    assert.equal(frames[1]!.offset, 0x100);
    assert.deepEqual(frames[2], { name: '[unknown]', module: 'kernel', kind: 'kernel', addr: '0x1234' });
  });

  test('zeroed kallsyms (not root / kptr_restrict): nothing resolves, nothing throws', () => {
    const k = KernelSymbols.parse('0000000000000000 T _stext\n0000000000000000 T do_work\n');
    assert.equal(k.available, false);
    assert.equal(new Symbolizer({ kernel: k }).symbolizeKernel([0xffffffff81000000n])[0]!.name, '[unknown]');
  });

  test('real /proc/kallsyms: a known symbol resolves to itself', (t) => {
    const k = KernelSymbols.load();
    if (!k.available) {
      t.skip('kallsyms addresses hidden');
      return;
    }
    const raw = readFileSync('/proc/kallsyms', 'latin1');
    let checked = 0;
    for (const name of ['schedule', 'do_sys_openat2', 'vfs_read']) {
      const m = new RegExp(`^([0-9a-f]+) [tT] ${name}$`, 'm').exec(raw);
      if (!m) continue;
      checked++;
      const addr = BigInt('0x' + m[1]);
      const s = k.lookup(addr + 4n)!;
      assert.equal(s.name, name);
      assert.equal(s.module, 'kernel');
      assert.equal(s.offset, 4);
      assert.equal(k.addressOf(name), addr);
    }
    // schedule and vfs_read are in every kernel: at least one must have been checked.
    assert.ok(checked > 0, 'none of schedule, do_sys_openat2, vfs_read found in /proc/kallsyms');
  });
});

describe('frame labels and stacks', () => {
  test('root-first stacks with kind suffixes', () => {
    const user = [
      { name: 'leaf_fn', module: '/bin/x', offset: 1, kind: 'user' as const },
      { name: 'main', module: '/bin/x', offset: 2, kind: 'user' as const },
    ];
    const kernel = [{ name: 'do_work', module: 'kernel', offset: 3, kind: 'kernel' as const }];
    assert.deepEqual(buildStack('x;y', user, kernel), ['x:y', 'main', 'leaf_fn', 'do_work_[k]']);
    assert.equal(frameLabel({ name: 'f', module: '/lib/libc.so.6', offset: 16, kind: 'user' }, { module: true, offset: true }), 'f+0x10 (libc.so.6)');
    assert.equal(frameLabel({ name: 'js', module: 'perf-1.map', kind: 'jit' }), 'js_[j]');
  });
});

describe('demangling', () => {
  test('C++ names through c++filt, batch, with suffixes kept', (t) => {
    assert.equal(isMangled('_ZN3foo3barEv'), true);
    assert.equal(isMangled('main'), false);
    assert.equal(isMangled('_start'), false);
    if (!canDemangle()) return t.skip('c++filt not installed');
    const m = demangleAll(['_ZN3foo3barEv', 'main', '_ZN3foo3barEv']);
    assert.equal(m.get('_ZN3foo3barEv'), 'foo::bar()');
    assert.equal(m.get('main'), 'main');
    const out = demangleStacks([{ stack: ['app', '_ZN3foo3barEi_[j]', '_ZNSt6vectorIiSaIiEE9push_backERKi+0x10 (libx.so)', 'do_work_[k]'], count: 3 }]);
    assert.deepEqual(out[0]!.stack, ['app', 'foo::bar(int)_[j]', 'std::vector<int, std::allocator<int> >::push_back(int const&)+0x10 (libx.so)', 'do_work_[k]']);
    assert.equal(out[0]!.count, 3);
  });
});
