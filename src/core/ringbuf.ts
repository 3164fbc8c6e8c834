// BPF ring buffer consumed on Node's event loop. The ring's pages are mapped into this process
// (consumer page read-write, producer page and data read-only, data mapped twice back to back
// so that a record never wraps) and records are read straight from that memory in JS: no native
// call and no FFI callback per record, which is what kept libbpf's ring_buffer__consume path
// below ~150k records/s. The map's fd is watched with koffi's poll (level-triggered: readable
// while the producer is ahead), so no thread blocks and records arrive in order.
// Signals and timers are served within a slice at any event rate: the poll callback delivers at
// most SLICE_RECORDS records or SLICE_MS of wall time, then yields to the event loop (the next slice is a setImmediate),
// and close() never drains. To stop cleanly: detach the producers (BpfObject.detach), drain()
// what they had committed (bounded by the ring's size), then close().
import { native, view, addressOf, pollFd, lastErrno, type Ptr } from './libbpf.js';
import { BpfkitError } from './errors.js';
import type { BpfMap } from './maps.js';

const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_SHARED = 1;
const MAP_FAILED = (1n << 64n) - 1n;
const BUSY = 0x80000000;
const DISCARD = 0x40000000;
const HDR = 8;
/** Publish the consumer position at least every this many records (frees room for the producer). */
const PUBLISH_EVERY = 256;
/** Records one poll callback delivers before yielding to the event loop. */
export const SLICE_RECORDS = 16384;
/**
 * Wall time one slice may take before it yields, whatever its record count: a process starved of
 * CPU (a fork or thread-creation flood gets the scheduler's favour) would otherwise spend seconds
 * of wall time on a slice of SLICE_RECORDS, and serve a signal only after it.
 */
export const SLICE_MS = 20;

function mapOrThrow(len: number, prot: number, fd: number, offset: number, what: string): Ptr {
  const p = native.mmap(null, len, prot, MAP_SHARED, fd, offset);
  if (addressOf(p) === MAP_FAILED || addressOf(p) === 0n) {
    throw new BpfkitError('LIBBPF', `cannot map ring buffer ${what} (errno ${lastErrno()})`);
  }
  return p;
}

/** A record at data[offset, offset + length), valid only during the call. */
export type RecordAt = (data: Buffer, offset: number, length: number) => void;

export class RingBufferReader {
  private consPtr: Ptr = null;
  private prodPtr: Ptr = null;
  private readonly page: number;
  private readonly size: number;
  private readonly mask: number;
  private cons!: BigInt64Array;       // [consumer_pos]
  private prod!: BigInt64Array;       // [producer_pos]
  private hdr!: Int32Array;           // record headers (the data area, as 32-bit words)
  private data!: Buffer;              // the data area, twice
  private poller: { close(): void } | undefined;
  private closed = false;
  private consuming = false;
  private sliceScheduled = false;

  private onRecord: RecordAt;

  /**
   * `onEvent` gets a view valid only during the call: copy what you keep. With `{ at: true }`
   * it is called as onEvent(data, offset, length) instead, the record being data[offset,
   * offset + length) of one Buffer shared by every record (the mapped ring): no Buffer object is
   * made per record. Records start 8-byte aligned in it (data.byteOffset is page aligned).
   */
  constructor(map: BpfMap, onEvent: (data: Buffer) => void);
  constructor(map: BpfMap, onEvent: RecordAt, opts: { at: true });
  constructor(map: BpfMap, onEvent: ((data: Buffer) => void) | RecordAt, opts?: { at: true }) {
    this.onRecord = opts?.at ? (onEvent as RecordAt) : (b, o, l) => (onEvent as (data: Buffer) => void)(b.subarray(o, o + l));
    const fd = map.fd;
    this.page = native.getpagesize() as number;
    this.size = map.maxEntries;
    if (this.size <= 0 || (this.size & (this.size - 1)) !== 0) throw new BpfkitError('LIBBPF', `ring buffer ${map.name}: size ${this.size} is not a power of two`);
    this.mask = this.size - 1;
    try {
      this.consPtr = mapOrThrow(this.page, PROT_READ | PROT_WRITE, fd, 0, `${map.name} consumer page`);
      this.prodPtr = mapOrThrow(this.page + 2 * this.size, PROT_READ, fd, this.page, `${map.name} data`);
    } catch (err) {
      this.unmap();
      throw err;
    }
    this.cons = new BigInt64Array(view(this.consPtr, 8));
    const all = view(this.prodPtr, this.page + 2 * this.size);
    this.prod = new BigInt64Array(all, 0, 1);
    this.hdr = new Int32Array(all, this.page, (2 * this.size) / 4);
    this.data = Buffer.from(all, this.page, 2 * this.size);
    const h = pollFd(fd, () => this.slice());
    this.poller = { close: () => h.close() };
  }

  /** One bounded slice from the poll callback; while the producer is still ahead, the next
   * slice runs from setImmediate, after timers, I/O and signal handlers had their turn. */
  private slice(): void {
    if (this.closed) return;
    this.consume(SLICE_RECORDS);
    if (this.sliceScheduled || this.closed || !this.pending()) return;
    this.sliceScheduled = true;
    setImmediate(() => {
      this.sliceScheduled = false;
      this.slice();
    });
  }

  /**
   * Deliver at most `maxRecords` committed records (never more than were committed when the
   * call started), then return the count. A producer that never pauses cannot keep the caller
   * here: call again (after yielding to the event loop) while pending(). Also stops once
   * `budgetMs` (default SLICE_MS) has passed, checked every 64 records.
   */
  consume(maxRecords = SLICE_RECORDS, budgetMs = SLICE_MS): number {
    return this.consumeUntil(Number(Atomics.load(this.prod, 0)), maxRecords, performance.now() + budgetMs);
  }

  /** The producer is ahead of the consumer (records committed or being written are unread). */
  pending(): boolean {
    if (this.closed) return false;
    return Atomics.load(this.prod, 0) > Atomics.load(this.cons, 0);
  }

  /**
   * Deliver what was committed when the call starts, and nothing newer: bounded by the ring's
   * size even while producers run. Meant for after the producers were detached.
   */
  drain(): number {
    return this.consumeUntil(Number(Atomics.load(this.prod, 0)), Infinity, Infinity);
  }

  /**
   * Skip every committed record without delivering it; returns how many were skipped (the
   * headers are walked, the records not read). For a reader that must stop now but still count
   * what it leaves behind.
   */
  discard(): number {
    if (this.closed || this.consuming) return 0;
    const prod = Number(Atomics.load(this.prod, 0));
    let cons = Number(Atomics.load(this.cons, 0));
    let n = 0;
    while (cons < prod) {
      const word = Atomics.load(this.hdr, (cons & this.mask) >> 2) >>> 0;
      if (word & BUSY) break;
      if (!(word & DISCARD)) n++;
      cons += ((word & ~(BUSY | DISCARD) >>> 0) + HDR + 7) & ~7;
    }
    Atomics.store(this.cons, 0, BigInt(cons));
    return n;
  }

  /** Records up to position `prod`, at most `maxRecords`, until `deadline` (performance.now()). */
  private consumeUntil(prod: number, maxRecords: number, deadline: number): number {
    if (this.closed || this.consuming || maxRecords <= 0) return 0;
    this.consuming = true;
    let n = 0;
    const onRecord = this.onRecord;
    const data = this.data;
    const hdr = this.hdr;
    const mask = this.mask;
    try {
      // Positions stay below 2^53 for years of traffic: plain numbers are exact.
      let cons = Number(Atomics.load(this.cons, 0));
      let unpublished = 0;
      while (cons < prod && n < maxRecords) {
        const off = cons & mask;
        const word = Atomics.load(hdr, off >> 2) >>> 0;
        if (word & BUSY) break; // reserved, not committed yet
        const len = word & ~(BUSY | DISCARD) >>> 0;
        if (!(word & DISCARD)) {
          n++;
          onRecord(data, off + HDR, len);
        }
        cons += (len + HDR + 7) & ~7;
        if (++unpublished >= PUBLISH_EVERY) {
          Atomics.store(this.cons, 0, BigInt(cons));
          unpublished = 0;
        }
        if ((n & 63) === 0 && deadline !== Infinity && performance.now() >= deadline) break;
      }
      Atomics.store(this.cons, 0, BigInt(cons));
    } finally {
      this.consuming = false;
    }
    return n;
  }

  /** Stop polling and unmap. Never drains: what is unread is dropped (drain() first if needed). */
  close(): void {
    if (this.closed) return;
    this.poller?.close();
    this.poller = undefined;
    this.closed = true;
    this.unmap();
  }

  private unmap(): void {
    // drop the views before the memory goes away
    this.cons = new BigInt64Array(1);
    this.prod = new BigInt64Array(1);
    this.hdr = new Int32Array(2);
    this.data = Buffer.alloc(0);
    if (this.consPtr !== null) native.munmap(this.consPtr, this.page);
    if (this.prodPtr !== null) native.munmap(this.prodPtr, this.page + 2 * this.size);
    this.consPtr = null;
    this.prodPtr = null;
  }
}
