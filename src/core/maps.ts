// BPF maps through their fds: lookup, update, delete, iterate, batch lookup(-and-delete).
// Per-CPU maps return one value slot per possible CPU (each rounded up to 8 bytes).
import { native, lastErrno, type Ptr } from './libbpf.js';
import { BpfkitError } from './errors.js';

const PERCPU_TYPES = new Set([5, 6, 10, 21]); // PERCPU_HASH, PERCPU_ARRAY, LRU_PERCPU_HASH, PERCPU_CGROUP_STORAGE
const ENOENT = 2;

let cpus: number | undefined;
export function possibleCpus(): number {
  cpus ??= native.libbpf_num_possible_cpus() as number;
  return cpus;
}

export class BpfMap {
  readonly keySize: number;
  readonly valueSize: number;
  readonly percpu: boolean;
  constructor(readonly ptr: Ptr, readonly name: string) {
    this.keySize = native.bpf_map__key_size(ptr) as number;
    this.valueSize = native.bpf_map__value_size(ptr) as number;
    this.percpu = PERCPU_TYPES.has(native.bpf_map__type(ptr) as number);
  }
  get fd(): number { return native.bpf_map__fd(this.ptr) as number; }
  get maxEntries(): number { return native.bpf_map__max_entries(this.ptr) as number; }
  /** Before load only. */
  setMaxEntries(n: number): void { native.bpf_map__set_max_entries(this.ptr, n); }

  /** Bytes of one value as user space sees it (all CPUs for per-CPU maps). */
  get slotSize(): number { return this.percpu ? Math.ceil(this.valueSize / 8) * 8 : this.valueSize; }
  get fullValueSize(): number { return this.percpu ? this.slotSize * possibleCpus() : this.valueSize; }

  lookup(key: Buffer): Buffer | undefined {
    const value = Buffer.alloc(this.fullValueSize);
    const rc = native.bpf_map_lookup_elem(this.fd, key, value) as number;
    if (rc === 0) return value;
    if (lastErrno() === ENOENT) return undefined;
    throw this.fail('lookup');
  }

  update(key: Buffer, value: Buffer, flags = 0): void {
    if ((native.bpf_map_update_elem(this.fd, key, value, flags) as number) !== 0) throw this.fail('update');
  }

  delete(key: Buffer): boolean {
    if ((native.bpf_map_delete_elem(this.fd, key) as number) === 0) return true;
    if (lastErrno() === ENOENT) return false;
    throw this.fail('delete');
  }

  *keys(): Generator<Buffer> {
    let prev: Buffer | null = null;
    for (;;) {
      const next = Buffer.alloc(this.keySize);
      if ((native.bpf_map_get_next_key(this.fd, prev, next) as number) !== 0) return;
      yield next;
      prev = next;
    }
  }

  /** All entries, read with batch lookup where the kernel has it, else key by key. */
  entries(): Array<[Buffer, Buffer]> {
    return this.batch(false) ?? [...this.keys()].flatMap((k) => {
      const v = this.lookup(k);
      return v ? [[k, v] as [Buffer, Buffer]] : [];
    });
  }

  /** Read and delete all entries atomically per entry (hash maps); falls back to read+delete. */
  drain(): Array<[Buffer, Buffer]> {
    const got = this.batch(true);
    if (got) return got;
    const out: Array<[Buffer, Buffer]> = [];
    for (const k of [...this.keys()]) {
      const v = this.lookup(k);
      if (v && this.delete(k)) out.push([k, v]);
    }
    return out;
  }

  private batch(andDelete: boolean): Array<[Buffer, Buffer]> | undefined {
    const chunk = Math.max(1, Math.min(this.maxEntries, 4096));
    const keys = Buffer.alloc(chunk * this.keySize);
    const values = Buffer.alloc(chunk * this.fullValueSize);
    const out: Array<[Buffer, Buffer]> = [];
    let inBatch: Buffer | null = null;
    const outBatch = Buffer.alloc(Math.max(8, this.keySize));
    const fn = andDelete ? native.bpf_map_lookup_and_delete_batch : native.bpf_map_lookup_batch;
    for (;;) {
      const count = [chunk];
      const rc = fn(this.fd, inBatch, outBatch, keys, values, count, null) as number;
      const err = rc === 0 ? 0 : lastErrno();
      if (rc !== 0 && err !== ENOENT) {
        if (out.length === 0 && inBatch === null) return undefined; // not supported for this map type
        throw this.fail(andDelete ? 'lookup_and_delete_batch' : 'lookup_batch');
      }
      const n = count[0]!;
      for (let i = 0; i < n; i++) {
        out.push([
          Buffer.from(keys.subarray(i * this.keySize, (i + 1) * this.keySize)),
          Buffer.from(values.subarray(i * this.fullValueSize, (i + 1) * this.fullValueSize)),
        ]);
      }
      if (err === ENOENT) return out;
      inBatch = Buffer.from(outBatch);
    }
  }

  private fail(op: string): BpfkitError {
    return new BpfkitError('LIBBPF', `map ${this.name}: ${op} failed (errno ${lastErrno()})`);
  }
}

/** Sum a u64 field over the CPU slots of a per-CPU value. */
export function sumPercpuU64(map: BpfMap, value: Buffer, offset: number): bigint {
  let total = 0n;
  for (let c = 0; c < possibleCpus(); c++) total += value.readBigUInt64LE(c * map.slotSize + offset);
  return total;
}
