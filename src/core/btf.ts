// Layouts from BTF: the offsets of a struct shared by C and TS and of read-only constants come
// from the object's own BTF, never from hand-copied numbers.
import { native, decodeU32, isNull, type Ptr } from './libbpf.js';

const KIND_ARRAY = 3;
const KIND_STRUCT = 4;
const KIND_UNION = 5;
const KIND_ENUM = 6;
const KIND_TYPEDEF = 8;
const KIND_VOLATILE = 9;
const KIND_CONST = 10;
const KIND_RESTRICT = 11;
const KIND_DATASEC = 15;
const KIND_TYPE_TAG = 18;
const KIND_ENUM64 = 19;
const MODIFIERS = new Set([KIND_TYPEDEF, KIND_VOLATILE, KIND_CONST, KIND_RESTRICT, KIND_TYPE_TAG]);

export interface Field {
  offset: number;
  size: number;
  /** Number of elements when the field is an array (`__u64 wait_ns[DIAG_WAIT_KINDS]` -> 8). */
  count?: number;
}
export interface Layout { name: string; size: number; fields: Record<string, Field> }

const kindOf = (info: number) => (info >>> 24) & 0x1f;
const vlenOf = (info: number) => info & 0xffff;
const kflagOf = (info: number) => info >>> 31;

/** Elements of the array type `id` (through typedefs and qualifiers); undefined if not an array. */
function arrayCount(btf: Ptr, id: number): number | undefined {
  for (let depth = 0; depth < 32; depth++) {
    const t = native.btf__type_by_id(btf, id);
    if (isNull(t)) return undefined;
    const kind = kindOf(decodeU32(t, 4));
    if (kind === KIND_ARRAY) return decodeU32(t, 20); // struct btf_array { type, index_type, nelems }
    if (!MODIFIERS.has(kind)) return undefined;
    id = decodeU32(t, 8);
  }
  return undefined;
}

/**
 * The constants of `enum name` in `btf`, name -> value; undefined when BTF has no such enum
 * (clang keeps an enum in BTF only if a type or variable the object keeps refers to it).
 */
export function enumValues(btf: Ptr, name: string): Record<string, number> | undefined {
  let id = native.btf__find_by_name_kind(btf, name, KIND_ENUM) as number;
  if (id < 0) id = native.btf__find_by_name_kind(btf, name, KIND_ENUM64) as number;
  if (id < 0) return undefined;
  const t = native.btf__type_by_id(btf, id);
  const info = decodeU32(t, 4);
  const is64 = kindOf(info) === KIND_ENUM64;
  const signed = kflagOf(info) === 1;
  const out: Record<string, number> = {};
  for (let i = 0; i < vlenOf(info); i++) {
    const base = 12 + i * (is64 ? 12 : 8); // btf_enum { name_off, val } / btf_enum64 { name_off, lo32, hi32 }
    const ename = native.btf__name_by_offset(btf, decodeU32(t, base)) as string;
    const lo = decodeU32(t, base + 4);
    if (!is64) out[ename] = signed ? lo | 0 : lo;
    else {
      const hi = decodeU32(t, base + 8);
      out[ename] = Number(signed ? BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo)) : (BigInt(hi) << 32n) | BigInt(lo));
    }
  }
  return out;
}

/**
 * The constants of `enum name` in the BTF of an object file, read without opening the object
 * (for code that holds no BpfObject); undefined when the file or the enum is missing.
 */
export function fileEnumValues(path: string, name: string): Record<string, number> | undefined {
  const btf = native.btf__parse(path, null);
  if (isNull(btf)) return undefined;
  try {
    return enumValues(btf, name);
  } finally {
    native.btf__free(btf);
  }
}

/**
 * The variables of a data section (".rodata", ...) in the BTF of an object file, read without
 * opening the object (e.g. the size of a constant array, to check a flag before loading).
 */
export function fileDatasecVars(path: string, section: string): Record<string, Field> {
  const btf = native.btf__parse(path, null);
  if (isNull(btf)) return {};
  try {
    return datasecVars(btf, section);
  } finally {
    native.btf__free(btf);
  }
}

/** The layout of `struct name` (or union) in `btf`; undefined when BTF has no such type. */
export function structLayout(btf: Ptr, name: string): Layout | undefined {
  let id = native.btf__find_by_name_kind(btf, name, KIND_STRUCT) as number;
  if (id < 0) id = native.btf__find_by_name_kind(btf, name, KIND_UNION) as number;
  if (id < 0) return undefined;
  const t = native.btf__type_by_id(btf, id);
  const info = decodeU32(t, 4);
  const size = decodeU32(t, 8);
  const fields: Record<string, Field> = {};
  for (let i = 0; i < vlenOf(info); i++) {
    const base = 12 + i * 12;
    const fname = native.btf__name_by_offset(btf, decodeU32(t, base)) as string;
    const ftype = decodeU32(t, base + 4);
    const rawOffset = decodeU32(t, base + 8);
    const bitOffset = kflagOf(info) ? rawOffset & 0xffffff : rawOffset;
    const field: Field = { offset: bitOffset / 8, size: Number(native.btf__resolve_size(btf, ftype)) };
    const count = arrayCount(btf, ftype);
    if (count !== undefined) field.count = count;
    fields[fname] = field;
  }
  return { name, size, fields };
}

/** Offsets of the variables of a data section (".rodata", ".bss", ".data"). */
export function datasecVars(btf: Ptr, section: string): Record<string, Field> {
  const vars: Record<string, Field> = {};
  const id = native.btf__find_by_name_kind(btf, section, KIND_DATASEC) as number;
  if (id < 0) return vars;
  const t = native.btf__type_by_id(btf, id);
  if (isNull(t) || kindOf(decodeU32(t, 4)) !== KIND_DATASEC) return vars;
  const vlen = vlenOf(decodeU32(t, 4));
  for (let i = 0; i < vlen; i++) {
    const base = 12 + i * 12;
    const varType = native.btf__type_by_id(btf, decodeU32(t, base));
    const vname = native.btf__name_by_offset(btf, decodeU32(varType, 0)) as string;
    const field: Field = { offset: decodeU32(t, base + 4), size: decodeU32(t, base + 8) };
    const count = arrayCount(btf, decodeU32(varType, 8));
    if (count !== undefined) field.count = count;
    vars[vname] = field;
  }
  return vars;
}

let vmlinux: Ptr | undefined;
/** The running kernel's BTF (loaded once, kept for the process lifetime). */
export function vmlinuxBtf(): Ptr {
  if (vmlinux === undefined) vmlinux = native.btf__load_vmlinux_btf();
  return vmlinux;
}

/** Whether the kernel's BTF has a type of this name and kind (8 = typedef, 12 = func). */
export function kernelHasType(name: string, kind: number): boolean {
  const btf = vmlinuxBtf();
  if (isNull(btf)) return false;
  return (native.btf__find_by_name_kind(btf, name, kind) as number) >= 0;
}

/** Reads fields of records laid out by a Layout (a struct shared with the BPF side). */
export class StructView {
  readonly size: number;
  private readonly fields: Record<string, Field>;
  constructor(readonly layout: Layout) {
    this.size = layout.size;
    this.fields = layout.fields;
  }
  field(name: string): Field {
    const f = this.fields[name];
    if (!f) throw new Error(`BTF struct ${this.layout.name} has no field ${name}`);
    return f;
  }
  /** Elements of an array field (the C array size, from BTF). */
  count(name: string): number {
    const n = this.field(name).count;
    if (n === undefined) throw new Error(`field ${name} of BTF struct ${this.layout.name} is not an array`);
    return n;
  }
  /** Unsigned integer of 1, 2, 4 or 8 bytes as a number (u64 values above 2^53 lose precision). */
  uint(buf: Buffer, name: string, base = 0): number {
    const f = this.field(name);
    const at = base + f.offset;
    switch (f.size) {
      case 1: return buf.readUInt8(at);
      case 2: return buf.readUInt16LE(at);
      case 4: return buf.readUInt32LE(at);
      case 8: return Number(buf.readBigUInt64LE(at));
      default: throw new Error(`field ${name} has size ${f.size}, not an integer`);
    }
  }
  int(buf: Buffer, name: string, base = 0): number {
    const f = this.field(name);
    const at = base + f.offset;
    switch (f.size) {
      case 1: return buf.readInt8(at);
      case 2: return buf.readInt16LE(at);
      case 4: return buf.readInt32LE(at);
      case 8: return Number(buf.readBigInt64LE(at));
      default: throw new Error(`field ${name} has size ${f.size}, not an integer`);
    }
  }
  u64(buf: Buffer, name: string, base = 0): bigint {
    return buf.readBigUInt64LE(base + this.field(name).offset);
  }
  /** A NUL-terminated char array. */
  str(buf: Buffer, name: string, base = 0): string {
    const f = this.field(name);
    const start = base + f.offset;
    const end = buf.indexOf(0, start);
    return buf.toString('utf8', start, end < 0 || end > start + f.size ? start + f.size : end);
  }
  bytes(buf: Buffer, name: string, base = 0): Buffer {
    const f = this.field(name);
    return buf.subarray(base + f.offset, base + f.offset + f.size);
  }
}
