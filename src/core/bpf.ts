// Typed wrappers around libbpf objects: open, set constants, choose programs, load, attach, close.
// Every object opened is tracked so that the CLI can release all of it on exit and on signals.
import { BpfkitError } from './errors.js';
import { native, lastErrno, isNull, encodeBytes, type Ptr } from './libbpf.js';
import { captureLog, note } from './log.js';
import { datasecVars, enumValues, structLayout, StructView } from './btf.js';
import { BpfMap } from './maps.js';
import { ensureTracefs } from './tracefs.js';

const openObjects = new Set<BpfObject>();

/** Every loaded program of every open object, with its fd (self-cost accounting reads fdinfo). */
export function openPrograms(): Array<{ object: string; name: string; fd: number }> {
  const out: Array<{ object: string; name: string; fd: number }> = [];
  for (const o of openObjects) {
    if (!o.isLoaded) continue;
    for (const p of o.programs()) if (p.autoload && p.fd >= 0) out.push({ object: o.name, name: p.name, fd: p.fd });
  }
  return out;
}

/** Release every BPF object still open (links destroyed first, then programs and maps). */
export function closeAll(): void {
  for (const o of [...openObjects]) o.close();
}

function errnoText(e: number): string {
  const names: Record<number, string> = { 4: 'EINTR', 11: 'EAGAIN', 1: 'EPERM', 2: 'ENOENT', 13: 'EACCES', 22: 'EINVAL', 95: 'EOPNOTSUPP', 524: 'ENOTSUPP', 7: 'E2BIG', 12: 'ENOMEM', 16: 'EBUSY', 19: 'ENODEV' };
  return names[e] ?? `errno ${e}`;
}

export class Link {
  constructor(private ptr: Ptr, readonly hook: string) {}
  destroy(): void {
    if (this.ptr !== null) native.bpf_link__destroy(this.ptr);
    this.ptr = null;
  }
}

export class BpfProgram {
  constructor(readonly obj: BpfObject, readonly ptr: Ptr) {}
  get name(): string { return native.bpf_program__name(this.ptr) as string; }
  get section(): string { return native.bpf_program__section_name(this.ptr) as string; }
  get fd(): number { return native.bpf_program__fd(this.ptr) as number; }
  set autoload(on: boolean) { native.bpf_program__set_autoload(this.ptr, on); }
  get autoload(): boolean { return native.bpf_program__autoload(this.ptr) as boolean; }

  /** Attach by section (tp_btf/, raw_tp/, tracepoint/, kprobe/, fentry/ ...). */
  attach(): Link {
    if (/^(tracepoint|tp)\//.test(this.section)) ensureTracefs();
    return this.obj.track(this.check(native.bpf_program__attach(this.ptr), this.section));
  }
  attachPerfEvent(pfd: number): Link {
    return this.obj.track(this.check(native.bpf_program__attach_perf_event(this.ptr, pfd), `perf event fd ${pfd}`));
  }
  attachKprobe(func: string, ret = false): Link {
    return this.obj.track(this.check(native.bpf_program__attach_kprobe(this.ptr, ret, func), `${ret ? 'kretprobe' : 'kprobe'}:${func}`));
  }
  attachRawTracepoint(name: string): Link {
    return this.obj.track(this.check(native.bpf_program__attach_raw_tracepoint(this.ptr, name), `raw_tp:${name}`));
  }
  private check(link: Ptr, hook: string): Link {
    if (isNull(link)) {
      const e = lastErrno();
      throw new BpfkitError('ATTACH', `cannot attach ${this.name} to ${hook}: ${errnoText(e)}`);
    }
    return new Link(link, hook);
  }
}

export interface OpenOptions { name?: string }

/** The .rodata constant of bpf/include/self.bpf.h: programs leave this tgid out, in the kernel. */
export const SELF_TGID_CONSTANT = 'bpfkit_self_tgid';

/** The constant and map of bpf/include/cgroup.bpf.h (-c and --container, checked in the kernel). */
const CGROUP_FILTER_CONSTANT = 'bpfkit_filter_cgroups';
const CGROUP_FILTER_MAP = 'bpfkit_cgroups';
/** BPFKIT_INLINE_CGROUPS: this many ids are compared inline, more are looked up in the map. */
const CGROUP_INLINE = 8;
let cgroupScope: bigint[] | undefined;

/**
 * Observe only tasks in these cgroup2 ids, in every object loaded from now on that includes
 * cgroup.bpf.h (the runner sets it once from -c or --container). undefined: no filter.
 */
export function setCgroupScope(ids: bigint[] | undefined): void {
  cgroupScope = ids;
}

export class BpfObject {
  private ptr: Ptr;
  private links: Link[] = [];
  private loaded = false;
  /** Set explicitly by the caller (load() then leaves it alone). */
  private selfTgidSet = false;
  readonly name: string;

  private constructor(ptr: Ptr, name: string) {
    this.ptr = ptr;
    this.name = name;
    openObjects.add(this);
  }

  static openFile(path: string): BpfObject {
    const log = captureLog();
    const ptr = native.bpf_object__open_file(path, null);
    if (isNull(ptr)) {
      throw new BpfkitError('LIBBPF', `cannot open BPF object ${path}: ${errnoText(lastErrno())}`, { detail: log().join('\n') });
    }
    note(`arch ${process.arch}: BPF object ${path}`);
    return new BpfObject(ptr, path.replace(/^.*\//, '').replace(/\.bpf\.o$/, ''));
  }

  static openBuffer(buf: Buffer, name: string): BpfObject {
    const log = captureLog();
    const ptr = native.bpf_object__open_mem(buf, buf.length, null);
    if (isNull(ptr)) throw new BpfkitError('LIBBPF', `cannot open BPF object ${name}: ${errnoText(lastErrno())}`, { detail: log().join('\n') });
    return new BpfObject(ptr, name);
  }

  get isLoaded(): boolean { return this.loaded && this.ptr !== null; }

  private get live(): Ptr {
    if (this.ptr === null) throw new Error(`BPF object ${this.name} is closed`);
    return this.ptr;
  }

  programs(): BpfProgram[] {
    const out: BpfProgram[] = [];
    for (let p = native.bpf_object__next_program(this.live, null); !isNull(p); p = native.bpf_object__next_program(this.live, p)) {
      out.push(new BpfProgram(this, p));
    }
    return out;
  }

  program(name: string): BpfProgram {
    const p = native.bpf_object__find_program_by_name(this.live, name);
    if (isNull(p)) throw new Error(`BPF object ${this.name} has no program ${name}`);
    return new BpfProgram(this, p);
  }

  /** Load only these programs (by name); the others are not loaded. */
  selectPrograms(names: Iterable<string>): void {
    const want = new Set(names);
    for (const p of this.programs()) p.autoload = want.has(p.name);
  }

  map(name: string): BpfMap {
    const m = native.bpf_object__find_map_by_name(this.live, name);
    if (isNull(m)) throw new Error(`BPF object ${this.name} has no map ${name}`);
    return new BpfMap(m, name);
  }

  /** A struct shared with the BPF side, laid out as the object's BTF says. */
  struct(name: string): StructView {
    const layout = structLayout(native.bpf_object__btf(this.live), name);
    if (!layout) throw new Error(`BPF object ${this.name} has no BTF for struct ${name} (is it used in the C code?)`);
    return new StructView(layout);
  }

  /** The constants of a C enum (name -> value), as the object's BTF has them. */
  enumValues(name: string): Record<string, number> {
    const values = enumValues(native.bpf_object__btf(this.live), name);
    if (!values) throw new Error(`BPF object ${this.name} has no BTF for enum ${name} (is it used in the C code?)`);
    return values;
  }

  /**
   * Set read-only constants (`const volatile` globals in .rodata) before load: filters the
   * programs check in the kernel. Values: number/bigint/boolean, or a Buffer for arrays.
   */
  setConstants(values: Record<string, number | bigint | boolean | Buffer>): void {
    if (this.loaded) throw new Error('constants must be set before load');
    const vars = this.rodataVars();
    let rodata: Ptr = null;
    for (let m = native.bpf_object__next_map(this.live, null); !isNull(m); m = native.bpf_object__next_map(this.live, m)) {
      if ((native.bpf_map__name(m) as string).endsWith('.rodata')) rodata = m;
    }
    if (rodata === null) throw new Error(`BPF object ${this.name} has no .rodata`);
    const sizeOut = [0];
    const mem = native.bpf_map__initial_value(rodata, sizeOut);
    for (const [key, value] of Object.entries(values)) {
      const v = vars[key];
      if (!v) throw new Error(`BPF object ${this.name} has no constant ${key}`);
      let bytes: Buffer;
      if (Buffer.isBuffer(value)) {
        if (value.length > v.size) throw new Error(`constant ${key}: ${value.length} bytes > ${v.size}`);
        bytes = value;
      } else {
        bytes = Buffer.alloc(v.size);
        const n = typeof value === 'boolean' ? BigInt(value ? 1 : 0) : BigInt(value);
        if (v.size === 8) bytes.writeBigUInt64LE(BigInt.asUintN(64, n));
        else if (v.size === 4) bytes.writeUInt32LE(Number(BigInt.asUintN(32, n)));
        else if (v.size === 2) bytes.writeUInt16LE(Number(BigInt.asUintN(16, n)));
        else if (v.size === 1) bytes.writeUInt8(Number(BigInt.asUintN(8, n)));
        else throw new Error(`constant ${key} has size ${v.size}: pass a Buffer`);
      }
      encodeBytes(mem, v.offset, bytes);
      if (key === SELF_TGID_CONSTANT) this.selfTgidSet = true;
    }
  }

  private rodata: ReturnType<typeof datasecVars> | undefined;
  /** The .rodata variables, read from BTF once (setConstants and load both need them). */
  private rodataVars(): ReturnType<typeof datasecVars> {
    return (this.rodata ??= datasecVars(native.bpf_object__btf(this.live), '.rodata'));
  }

  /**
   * Load the programs into the kernel. An object built with bpf/include/self.bpf.h gets
   * bpfkit's own pid in `bpfkit_self_tgid` (unless the caller set it): bpfkit never observes
   * itself, whatever the tool.
   */
  load(): void {
    if (!this.selfTgidSet && !this.loaded && SELF_TGID_CONSTANT in this.rodataVars()) {
      this.setConstants({ [SELF_TGID_CONSTANT]: process.pid });
    }
    const scoped = CGROUP_FILTER_CONSTANT in this.rodataVars();
    const inline = (cgroupScope?.length ?? 0) <= CGROUP_INLINE;
    if (scoped) {
      const ids = Buffer.alloc(8 * CGROUP_INLINE);
      if (cgroupScope && inline) cgroupScope.forEach((id, i) => ids.writeBigUInt64LE(id, 8 * i));
      this.setConstants({ [CGROUP_FILTER_CONSTANT]: cgroupScope !== undefined, bpfkit_ncgroups: cgroupScope?.length ?? 0, bpfkit_cgroup_ids: ids });
      this.map(CGROUP_FILTER_MAP).setMaxEntries(inline ? 1 : cgroupScope!.length);
    }
    const log = captureLog();
    const rc = native.bpf_object__load(this.live) as number;
    if (rc !== 0) {
      const lines = log();
      const e = -rc;
      if (e === 1 || e === 13) {
        if (process.getuid?.() !== 0) throw new BpfkitError('NOT_ROOT', 'loading BPF programs needs root (or CAP_BPF and CAP_PERFMON)');
      }
      if (e === 11 || e === 4) {
        // A signal (e.g. a profiler's timer) interrupted the verifier: not a rejection.
        throw new BpfkitError('LIBBPF', `loading ${this.name} was interrupted (${errnoText(e)}); run it again`, { detail: lines.join('\n') });
      }
      const verifier = lines.some((l) => /BEGIN PROG LOAD LOG|processed \d+ insns/.test(l));
      if (verifier) {
        const summary = summarizeVerifier(lines);
        throw new BpfkitError('VERIFIER', `the kernel's verifier rejected ${this.name}: ${summary} (run with --verbose for the full log)`, { detail: lines.join('\n') });
      }
      throw new BpfkitError('LIBBPF', `cannot load ${this.name}: ${errnoText(e)}${lines.length ? ` (${lines.at(-1)})` : ''}`, { detail: lines.join('\n') });
    }
    this.loaded = true;
    if (scoped && cgroupScope && !inline) {
      const map = this.map(CGROUP_FILTER_MAP);
      const key = Buffer.alloc(8);
      for (const id of cgroupScope) {
        key.writeBigUInt64LE(id);
        map.update(key, Buffer.from([1]));
      }
    }
  }

  /** Attach every loaded program by its section. */
  attachAll(): void {
    for (const p of this.programs()) if (p.autoload) p.attach();
  }

  track(link: Link): Link {
    this.links.push(link);
    return link;
  }

  /**
   * Destroy the links (the programs stop producing) but keep programs and maps open: what the
   * programs left in maps and ring buffers stays readable until close(). Idempotent.
   */
  detach(): void {
    for (const l of this.links.reverse()) l.destroy();
    this.links = [];
  }

  close(): void {
    this.detach();
    if (this.ptr !== null) native.bpf_object__close(this.ptr);
    this.ptr = null;
    openObjects.delete(this);
  }
}

function summarizeVerifier(lines: string[]): string {
  const start = lines.findIndex((l) => /BEGIN PROG LOAD LOG/.test(l));
  const body = lines.slice(start + 1).filter((l) => !/END PROG LOAD LOG/.test(l));
  const processed = body.findIndex((l) => /processed \d+ insns/.test(l));
  const before = processed > 0 ? body[processed - 1] : body.at(-1);
  return (before ?? 'unknown reason').trim();
}

/**
 * The committed BPF object `name` for this machine's architecture: bpf/NAME.bpf.o (x86_64) or
 * bpf/arm64/NAME.bpf.o (arm64), each built against its architecture's vmlinux.h and pt_regs.
 */
export function bpfObjectPath(name: string, arch: string = process.arch): string {
  const dirs: Record<string, string> = { x64: '', arm64: 'arm64/' };
  const dir = dirs[arch];
  if (dir === undefined) throw new BpfkitError('NOT_SUPPORTED', `bpfkit's BPF programs are built for x86_64 and arm64, not ${arch}`);
  return new URL(`../../../bpf/${dir}${name}.bpf.o`, import.meta.url).pathname;
}

