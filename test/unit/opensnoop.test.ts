// opensnoop's fast path (records rendered in place from the ring buffer's memory) against the
// plain path (decode to an object, JSON.stringify it): the same bytes for every kind of record.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { native } from '../../src/core/libbpf.js';
import { StructView, structLayout } from '../../src/core/btf.js';
import { bpfObjectPath } from '../../src/core/bpf.js';
import { openDecoder, openLayout, openRecordAt } from '../../src/tools/opensnoop/opensnoop.js';
import { openJson, openJsonAt, openLine, type OpensnoopOptions } from '../../src/tools/opensnoop/index.js';
import { cString, cStringJson } from '../../src/render/cstring.js';

const btf = native.btf__parse(bpfObjectPath('opensnoop'), null);
const view = new StructView(structLayout(btf, 'open_event')!);
native.btf__free(btf);
const source = { struct: () => view };
const L = openLayout(source);

interface Rec { ts: bigint; flags: bigint; pid: number; tid: number; uid: number; ret: number; dirfd: number; kind: number; mode: number; comm: Buffer; path: Buffer }
function record(r: Rec): Buffer {
  const b = Buffer.alloc(view.size, 0x41); // garbage after the strings' NULs
  b.writeBigUInt64LE(r.ts, L.ts);
  b.writeBigUInt64LE(r.flags, L.flags);
  b.writeUInt32LE(r.pid, L.pid);
  b.writeUInt32LE(r.tid, L.tid);
  b.writeUInt32LE(r.uid, L.uid);
  b.writeInt32LE(r.ret, L.ret);
  b.writeInt32LE(r.dirfd, L.dirfd);
  b.writeUInt32LE(r.kind, L.kind);
  b.writeUInt32LE(r.mode, L.mode);
  r.comm.copy(b, L.comm, 0, Math.min(r.comm.length, L.commLen));
  r.path.copy(b, L.path, 0, Math.min(r.path.length, L.pathLen));
  return b;
}
const z = (s: string | Buffer) => Buffer.concat([Buffer.from(s), Buffer.from([0])]);
const base: Rec = { ts: 123_456_789_012_345n, flags: 0o2000000n, pid: 4242, tid: 4243, uid: 1000, ret: 3, dirfd: -100, kind: 1, mode: 0, comm: z('cat'), path: z('/etc/passwd') };
const cases: Rec[] = [
  base,
  { ...base, ret: -2, kind: 0 },
  { ...base, ret: -13, kind: 2, dirfd: 7, flags: 0o100n | 0o1000n | 1n, mode: 0o644 },
  { ...base, flags: 0o20200000n | 2n, mode: 0o600 },
  { ...base, flags: (1n << 60n) + 12345n, kind: 2 },
  { ...base, ret: -9999, kind: 7 },
  { ...base, comm: z('a"b\\c'), path: z('/tmp/"quoted"\\back') },
  { ...base, comm: z('\x1b[31mred'), path: z('/tmp/line\nbreak\t\x7f') },
  { ...base, comm: z('café'), path: z('/tmp/日本語/ü') },
  { ...base, path: Buffer.from([0x2f, 0xff, 0xfe, 0xc3, 0x00]) }, // invalid UTF-8
  { ...base, comm: Buffer.alloc(16, 0x62), path: Buffer.alloc(256, 0x63) }, // no NUL at all
  { ...base, comm: z(''), path: z('') },
  { ...base, ts: (1n << 62n) + 999n, uid: 0xfffffffe, pid: 0xffffffff },
];

test('opensnoop: jsonAt renders exactly what openJson(decode(record)) does', () => {
  const decode = openDecoder(source);
  const fast = openJsonAt(L, undefined);
  for (const c of cases) {
    const rec = record(c);
    // the record inside a bigger shared buffer, at an 8-aligned offset, as the ring hands it
    const shared = Buffer.alloc(rec.length + 64, 0x5a);
    rec.copy(shared, 24);
    const want = openJson(decode(rec));
    assert.equal(fast(shared, 24, rec.length), want);
    JSON.parse(want);
    assert.deepEqual(openRecordAt(L, shared, 24, rec.length, {} as never), decode(rec));
  }
});

test('opensnoop: the -n filter of the fast path', () => {
  const rec = record(base);
  assert.equal(openJsonAt(L, 'dog')(rec, 0, rec.length), undefined);
  assert.equal(openJsonAt(L, 'at')(rec, 0, rec.length), openJson(openDecoder(source)(rec)));
});

test('opensnoop: text lines from a reused record', () => {
  const o: OpensnoopOptions = { filters: {}, timestamp: true, showUid: true, extended: true, bufferMb: 8 };
  const reused = {} as never;
  for (const c of cases) {
    const rec = record(c);
    assert.equal(openLine(openRecordAt(L, rec, 0, rec.length, reused), o, 5n), openLine(openDecoder(source)(rec), o, 5n));
  }
});

test('C strings: ASCII, UTF-8, escapes, no NUL', () => {
  for (const s of ['', 'abc', 'a"b', 'a\\b', 'tab\there', 'é', '日本', '\x7f', '\x00x']) {
    const b = Buffer.concat([Buffer.from('xx'), Buffer.from(s), Buffer.from([0, 0x41])]);
    const end = b.length;
    const want = b.toString('utf8', 2, b.indexOf(0, 2));
    assert.equal(cString(b, 2, end), want);
    assert.equal(cStringJson(b, 2, end), JSON.stringify(want));
  }
  const b = Buffer.from('abcdef');
  assert.equal(cString(b, 1, 4), 'bcd');
  assert.equal(cStringJson(b, 1, 4), '"bcd"');
});
