// A minimal ELF64 little-endian reader (x86_64, aarch64 and other LE machines): headers, PT_LOAD segments,
// build id, and function symbols from .symtab and .dynsym. Only the parts needed are read (pread), so a
// 100 MB binary costs the size of its symbol and string tables, not its size.

import { isAscii } from 'node:buffer';
import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import { SymbolCollector, SymbolTable } from './symtab.js';
import { escapeControl } from '../sanitize.js';

export const EM_X86_64 = 62;
export const EM_AARCH64 = 183;

const PT_LOAD = 1;
const PT_NOTE = 4;
const SHT_SYMTAB = 2;
const SHT_NOTE = 7;
const SHT_NOBITS = 8;
const SHT_DYNSYM = 11;
const SHF_EXECINSTR = 0x4;
const SHN_UNDEF = 0;
const SHN_LORESERVE = 0xff00;
const STT_NOTYPE = 0;
const STT_FUNC = 2;
const STT_GNU_IFUNC = 10;
const NT_GNU_BUILD_ID = 3;

export class ElfError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ElfError';
  }
}

/** Random access to the bytes of an ELF image (a file descriptor or a buffer). */
export interface ByteSource {
  read(offset: number, length: number): Buffer;
  close?(): void;
}

export function bufferSource(buf: Buffer): ByteSource {
  return {
    read(offset, length) {
      if (offset < 0 || offset + length > buf.length) throw new ElfError('read past end of image');
      return buf.subarray(offset, offset + length);
    },
  };
}

/** Reads through a file descriptor. `ownFd` closes it on close(). */
export function fdSource(fd: number, ownFd = true): ByteSource {
  return {
    read(offset, length) {
      const buf = Buffer.allocUnsafe(length);
      let done = 0;
      while (done < length) {
        const n = readSync(fd, buf, done, length - done, offset + done);
        if (n <= 0) throw new ElfError('short read');
        done += n;
      }
      return buf;
    },
    close() {
      if (ownFd) closeSync(fd);
    },
  };
}

export interface Segment {
  type: number;
  flags: number;
  offset: number;
  vaddr: number;
  filesz: number;
  memsz: number;
}

export interface Section {
  name: string;
  type: number;
  flags: number;
  addr: number;
  offset: number;
  size: number;
  link: number;
  entsize: number;
}

export interface ElfOptions {
  /** Look for a separate debug file under /usr/lib/debug/.build-id when .symtab is missing. Default true. */
  debugLookup?: boolean;
  /** Root directory for the debug lookup (a container's /proc/PID/root). Default ''. */
  debugRoot?: string;
}

export class ElfFile {
  /** e_type: 2 = ET_EXEC, 3 = ET_DYN (shared library or PIE). */
  readonly type: number;
  readonly machine: number;
  readonly segments: Segment[];
  readonly loads: Segment[];
  readonly sections: Section[];
  readonly buildId?: string;
  /** Function symbols keyed by ELF virtual address. */
  readonly symbols: SymbolTable;
  /** Where the symbols came from: which tables, and the debug file if one was used. */
  readonly symbolSource: string;

  private constructor(src: ByteSource, opts: ElfOptions) {
    const eh = src.read(0, 64);
    if (eh.readUInt32BE(0) !== 0x7f454c46) throw new ElfError('not an ELF file');
    if (eh[4] !== 2) throw new ElfError('not ELF64');
    if (eh[5] !== 1) throw new ElfError('not little-endian');
    this.type = eh.readUInt16LE(16);
    this.machine = eh.readUInt16LE(18);
    const phoff = num(eh.readBigUInt64LE(32));
    const shoff = num(eh.readBigUInt64LE(40));
    const phentsize = eh.readUInt16LE(54);
    const phnum = eh.readUInt16LE(56);
    const shentsize = eh.readUInt16LE(58);
    let shnum = eh.readUInt16LE(60);
    let shstrndx = eh.readUInt16LE(62);

    this.segments = [];
    if (phoff && phnum && phentsize >= 56) {
      const ph = src.read(phoff, phnum * phentsize);
      for (let i = 0; i < phnum; i++) {
        const o = i * phentsize;
        this.segments.push({
          type: ph.readUInt32LE(o),
          flags: ph.readUInt32LE(o + 4),
          offset: num(ph.readBigUInt64LE(o + 8)),
          vaddr: num(ph.readBigUInt64LE(o + 16)),
          filesz: num(ph.readBigUInt64LE(o + 32)),
          memsz: num(ph.readBigUInt64LE(o + 40)),
        });
      }
    }
    this.loads = this.segments.filter((s) => s.type === PT_LOAD);

    this.sections = [];
    if (shoff && shentsize >= 64) {
      if (shnum === 0) {
        const s0 = src.read(shoff, 64);
        shnum = num(s0.readBigUInt64LE(32));
        if (shstrndx === 0xffff) shstrndx = s0.readUInt32LE(40);
      }
      if (shnum > 0 && shnum < 1 << 16) {
        const sh = src.read(shoff, shnum * shentsize);
        const raw: (Section & { nameOff: number })[] = [];
        for (let i = 0; i < shnum; i++) {
          const o = i * shentsize;
          raw.push({
            name: '',
            nameOff: sh.readUInt32LE(o),
            type: sh.readUInt32LE(o + 4),
            flags: num(sh.readBigUInt64LE(o + 8)),
            addr: num(sh.readBigUInt64LE(o + 16)),
            offset: num(sh.readBigUInt64LE(o + 24)),
            size: num(sh.readBigUInt64LE(o + 32)),
            link: sh.readUInt32LE(o + 40),
            entsize: num(sh.readBigUInt64LE(o + 56)),
          });
        }
        const strSec = raw[shstrndx];
        const names = strSec && strSec.type !== SHT_NOBITS ? src.read(strSec.offset, strSec.size) : undefined;
        for (const s of raw) {
          const { nameOff, ...sec } = s;
          if (names) sec.name = cstr(names, nameOff);
          this.sections.push(sec);
        }
      }
    }

    this.buildId = this.readBuildId(src);

    const syms = new SymbolCollector();
    const used: string[] = [];
    const hasSymtab = this.sections.some((s) => s.type === SHT_SYMTAB && s.size > 0);
    for (const sec of this.sections) {
      if ((sec.type === SHT_SYMTAB || sec.type === SHT_DYNSYM) && sec.size > 0) {
        collectSymbols(src, this.sections, sec, syms);
        used.push(sec.name || (sec.type === SHT_SYMTAB ? '.symtab' : '.dynsym'));
      }
    }
    let source = used.join('+') || 'none';
    if (!hasSymtab && (opts.debugLookup ?? true) && this.buildId && this.buildId.length > 2) {
      const dbg = `${opts.debugRoot ?? ''}/usr/lib/debug/.build-id/${this.buildId.slice(0, 2)}/${this.buildId.slice(2)}.debug`;
      if (existsSync(dbg)) {
        try {
          const d = ElfFile.open(dbg, { debugLookup: false });
          syms.addTable(d.symbols, 1);
          source += `+${dbg}`;
        } catch {
          // A broken debug file is ignored.
        }
      }
    }
    this.symbolSource = source;
    this.symbols = new SymbolTable(syms);
  }

  static open(path: string, opts: ElfOptions = {}): ElfFile {
    return ElfFile.fromSource(fdSource(openSync(path, 'r')), opts);
  }

  static fromFd(fd: number, opts: ElfOptions = {}): ElfFile {
    return ElfFile.fromSource(fdSource(fd, false), opts);
  }

  static fromBuffer(buf: Buffer, opts: ElfOptions = {}): ElfFile {
    return ElfFile.fromSource(bufferSource(buf), opts);
  }

  static fromSource(src: ByteSource, opts: ElfOptions = {}): ElfFile {
    try {
      return new ElfFile(src, opts);
    } finally {
      src.close?.();
    }
  }

  /** Maps a file offset (from /proc/PID/maps: addr - start + pgoff) to an ELF virtual address. */
  fileOffsetToVaddr(off: number): number | undefined {
    for (const l of this.loads) {
      if (off >= l.offset && off < l.offset + Math.max(l.filesz, 1)) return off - l.offset + l.vaddr;
    }
    return undefined;
  }

  /** Maps an ELF virtual address back to a file offset. */
  vaddrToFileOffset(vaddr: number): number | undefined {
    for (const l of this.loads) {
      if (vaddr >= l.vaddr && vaddr < l.vaddr + l.filesz) return vaddr - l.vaddr + l.offset;
    }
    return undefined;
  }

  /** The function symbol containing an ELF virtual address. */
  lookup(vaddr: number): { name: string; start: number; offset: number } | undefined {
    return this.symbols.lookup(vaddr);
  }

  private readBuildId(src: ByteSource): string | undefined {
    const regions: { offset: number; size: number }[] = [];
    for (const s of this.sections) if (s.type === SHT_NOTE && s.size > 0) regions.push({ offset: s.offset, size: s.size });
    if (regions.length === 0) for (const p of this.segments) if (p.type === PT_NOTE) regions.push({ offset: p.offset, size: p.filesz });
    for (const r of regions) {
      if (r.size > 1 << 20) continue;
      let buf: Buffer;
      try {
        buf = src.read(r.offset, r.size);
      } catch {
        continue;
      }
      let o = 0;
      while (o + 12 <= buf.length) {
        const namesz = buf.readUInt32LE(o);
        const descsz = buf.readUInt32LE(o + 4);
        const type = buf.readUInt32LE(o + 8);
        const nameStart = o + 12;
        const descStart = nameStart + align4(namesz);
        if (descStart + descsz > buf.length) break;
        if (type === NT_GNU_BUILD_ID && namesz === 4 && buf.toString('latin1', nameStart, nameStart + 3) === 'GNU') {
          return buf.toString('hex', descStart, descStart + descsz);
        }
        o = descStart + align4(descsz);
      }
    }
    return undefined;
  }
}

function collectSymbols(src: ByteSource, sections: Section[], sec: Section, out: SymbolCollector): void {
  const strSec = sections[sec.link];
  if (!strSec || strSec.type === SHT_NOBITS) return;
  const entsize = sec.entsize >= 24 ? sec.entsize : 24;
  const data = src.read(sec.offset, sec.size);
  const strs = src.read(strSec.offset, strSec.size);
  // Names stay in the string table until a lookup needs one. An all-ASCII table (the usual case) is
  // turned into one string once, and names are cheap slices of it.
  let names: number;
  if (isAscii(strs)) {
    const all = strs.toString('latin1');
    names = out.source((off) => {
      const end = all.indexOf('\0', off);
      return escapeControl(all.slice(off, end < 0 ? all.length : end));
    });
  } else names = out.source((off) => escapeControl(cstr(strs, off)));
  const n = Math.floor(sec.size / entsize);
  out.reserve(n);
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  for (let i = 1; i < n; i++) {
    const o = i * entsize;
    const info = data[o + 4]!;
    const type = info & 0xf;
    if (type !== STT_FUNC && type !== STT_GNU_IFUNC && type !== STT_NOTYPE) continue;
    const shndx = dv.getUint16(o + 6, true);
    if (shndx === SHN_UNDEF) continue;
    // 64-bit fields as two 32-bit halves (exact below 2^53, no BigInt per symbol).
    const value = dv.getUint32(o + 8, true) + dv.getUint32(o + 12, true) * 0x100000000;
    if (value === 0) continue;
    const size = dv.getUint32(o + 16, true) + dv.getUint32(o + 20, true) * 0x100000000;
    if (type === STT_NOTYPE && size === 0) continue;
    let bound = Infinity;
    if (shndx < SHN_LORESERVE) {
      const owner = sections[shndx];
      if (owner) {
        if (type === STT_NOTYPE && (owner.flags & SHF_EXECINSTR) === 0) continue;
        bound = owner.addr + owner.size;
      }
    }
    const nameOff = dv.getUint32(o, true);
    if (nameOff === 0 || nameOff >= strs.length) continue;
    const c0 = strs[nameOff];
    if (c0 === 0 || c0 === 0x24 /* '$': ARM mapping symbols */) continue;
    const bind = info >> 4;
    // Prefer GLOBAL, then WEAK, then LOCAL; typed over untyped.
    const rank = (bind === 1 ? 0 : bind === 2 ? 2 : 4) + (type === STT_NOTYPE ? 1 : 0);
    out.add(value, size, names, nameOff, rank, bound);
  }
}

function cstr(buf: Buffer, off: number): string {
  const end = buf.indexOf(0, off);
  return buf.toString('utf8', off, end < 0 ? buf.length : end);
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

function num(v: bigint): number {
  return Number(v);
}
