// The one module that talks to native code: libbpf.so.1 and a few libc calls, through koffi.
// Everything else in bpfkit goes through the typed wrappers in this folder.
import koffi from 'koffi';
import { BpfkitError } from './errors.js';

function loadLibbpf(): ReturnType<typeof koffi.load> {
  try {
    return koffi.load('libbpf.so.1');
  } catch (err) {
    throw new BpfkitError('NOT_SUPPORTED', 'libbpf.so.1 not found: install the libbpf1 package (apt-get install libbpf1)', { cause: err });
  }
}

const lib = loadLibbpf();
const libc = koffi.load('libc.so.6');

export type Ptr = unknown; // an opaque native pointer (koffi External), or null
export type Mem = Buffer | Uint8Array | null;

const printFn = koffi.proto('int bpfkit_libbpf_print(int level, void *fmt, void *args)');
const sampleFn = koffi.proto('int bpfkit_ringbuf_sample(void *ctx, void *data, size_t size)');

export const native = {
  // libbpf: logging, objects
  libbpf_set_print: lib.func('void *libbpf_set_print(bpfkit_libbpf_print *fn)'),
  bpf_object__open_file: lib.func('void *bpf_object__open_file(const char *path, void *opts)'),
  bpf_object__open_mem: lib.func('void *bpf_object__open_mem(const void *buf, size_t size, void *opts)'),
  bpf_object__load: lib.func('int bpf_object__load(void *obj)'),
  bpf_object__close: lib.func('void bpf_object__close(void *obj)'),
  bpf_object__btf: lib.func('void *bpf_object__btf(void *obj)'),
  bpf_object__next_program: lib.func('void *bpf_object__next_program(void *obj, void *prev)'),
  bpf_object__next_map: lib.func('void *bpf_object__next_map(void *obj, void *prev)'),
  bpf_object__find_program_by_name: lib.func('void *bpf_object__find_program_by_name(void *obj, const char *name)'),
  bpf_object__find_map_by_name: lib.func('void *bpf_object__find_map_by_name(void *obj, const char *name)'),
  // programs and links
  bpf_program__name: lib.func('const char *bpf_program__name(void *prog)'),
  bpf_program__section_name: lib.func('const char *bpf_program__section_name(void *prog)'),
  bpf_program__set_autoload: lib.func('int bpf_program__set_autoload(void *prog, bool autoload)'),
  bpf_program__autoload: lib.func('bool bpf_program__autoload(void *prog)'),
  bpf_program__fd: lib.func('int bpf_program__fd(void *prog)'),
  bpf_program__attach: lib.func('void *bpf_program__attach(void *prog)'),
  bpf_program__attach_perf_event: lib.func('void *bpf_program__attach_perf_event(void *prog, int pfd)'),
  bpf_program__attach_tracepoint: lib.func('void *bpf_program__attach_tracepoint(void *prog, const char *cat, const char *name)'),
  bpf_program__attach_raw_tracepoint: lib.func('void *bpf_program__attach_raw_tracepoint(void *prog, const char *name)'),
  bpf_program__attach_kprobe: lib.func('void *bpf_program__attach_kprobe(void *prog, bool retprobe, const char *func)'),
  bpf_program__attach_uprobe: lib.func('void *bpf_program__attach_uprobe(void *prog, bool retprobe, int pid, const char *path, size_t offset)'),
  bpf_link__destroy: lib.func('int bpf_link__destroy(void *link)'),
  // maps
  bpf_map__name: lib.func('const char *bpf_map__name(void *map)'),
  bpf_map__fd: lib.func('int bpf_map__fd(void *map)'),
  bpf_map__type: lib.func('int bpf_map__type(void *map)'),
  bpf_map__key_size: lib.func('uint32 bpf_map__key_size(void *map)'),
  bpf_map__value_size: lib.func('uint32 bpf_map__value_size(void *map)'),
  bpf_map__max_entries: lib.func('uint32 bpf_map__max_entries(void *map)'),
  bpf_map__set_max_entries: lib.func('int bpf_map__set_max_entries(void *map, uint32 n)'),
  bpf_map__initial_value: lib.func('void *bpf_map__initial_value(void *map, _Out_ size_t *size)'),
  bpf_map_lookup_elem: lib.func('int bpf_map_lookup_elem(int fd, const void *key, void *value)'),
  bpf_map_update_elem: lib.func('int bpf_map_update_elem(int fd, const void *key, const void *value, uint64 flags)'),
  bpf_map_delete_elem: lib.func('int bpf_map_delete_elem(int fd, const void *key)'),
  bpf_map_get_next_key: lib.func('int bpf_map_get_next_key(int fd, const void *key, void *next)'),
  bpf_map_lookup_batch: lib.func('int bpf_map_lookup_batch(int fd, void *in_batch, void *out_batch, void *keys, void *values, _Inout_ uint32 *count, void *opts)'),
  bpf_map_lookup_and_delete_batch: lib.func('int bpf_map_lookup_and_delete_batch(int fd, void *in_batch, void *out_batch, void *keys, void *values, _Inout_ uint32 *count, void *opts)'),
  // ring buffer
  ring_buffer__new: lib.func('void *ring_buffer__new(int fd, bpfkit_ringbuf_sample *cb, void *ctx, void *opts)'),
  ring_buffer__consume: lib.func('int ring_buffer__consume(void *rb)'),
  ring_buffer__epoll_fd: lib.func('int ring_buffer__epoll_fd(void *rb)'),
  ring_buffer__free: lib.func('void ring_buffer__free(void *rb)'),
  // feature probes, BTF
  libbpf_probe_bpf_prog_type: lib.func('int libbpf_probe_bpf_prog_type(int type, void *opts)'),
  libbpf_probe_bpf_map_type: lib.func('int libbpf_probe_bpf_map_type(int type, void *opts)'),
  libbpf_num_possible_cpus: lib.func('int libbpf_num_possible_cpus(void)'),
  bpf_enable_stats: lib.func('int bpf_enable_stats(int type)'), // BPF_STATS_RUN_TIME = 0: on while the fd is open
  btf__load_vmlinux_btf: lib.func('void *btf__load_vmlinux_btf(void)'),
  btf__free: lib.func('void btf__free(void *btf)'),
  btf__parse: lib.func('void *btf__parse(const char *path, void *btf_ext)'),
  btf__find_by_name_kind: lib.func('int btf__find_by_name_kind(void *btf, const char *name, uint32 kind)'),
  btf__type_by_id: lib.func('void *btf__type_by_id(void *btf, uint32 id)'),
  btf__name_by_offset: lib.func('const char *btf__name_by_offset(void *btf, uint32 off)'),
  btf__resolve_size: lib.func('int64 btf__resolve_size(void *btf, uint32 id)'),
  // libc
  vsnprintf: libc.func('int vsnprintf(_Out_ uint8 *buf, size_t n, void *fmt, void *args)'),
  syscall6: libc.func('long syscall(long nr, void *a, int b, int c, int d, unsigned long e)'),
  close: libc.func('int close(int fd)'),
  ioctl: libc.func('int ioctl(int fd, unsigned long req, unsigned long arg)'),
  mount: libc.func('int mount(const char *src, const char *target, const char *fstype, unsigned long flags, const void *data)'),
  // ring buffer pages mapped into JS (src/core/ringbuf.ts)
  mmap: libc.func('void *mmap(void *addr, size_t len, int prot, int flags, int fd, intptr_t off)'),
  munmap: libc.func('int munmap(void *addr, size_t len)'),
  getpagesize: libc.func('int getpagesize(void)'),
};

/** errno of the last native call (libbpf 1.x reports errors through errno and negative returns). */
export const lastErrno = (): number => koffi.errno();

export function registerPrint(fn: (level: number, fmt: Ptr, args: Ptr) => number): unknown {
  return koffi.register(fn, koffi.pointer(printFn));
}

export function registerSample(fn: (ctx: Ptr, data: Ptr, size: number) => number): unknown {
  return koffi.register(fn, koffi.pointer(sampleFn));
}

export const unregister = (cb: unknown): void => koffi.unregister(cb as bigint);
/** Zero-copy view of native memory (valid only during the call that handed out the pointer). */
export const view = (ptr: Ptr, len: number): ArrayBuffer => koffi.view(ptr, len);
export const decodeU32 = (ptr: Ptr, offset: number): number => koffi.decode(ptr, offset, 'uint32') as number;
export const encodeBytes = (ptr: Ptr, offset: number, bytes: Uint8Array): void =>
  koffi.encode(ptr, offset, koffi.array('uint8', bytes.length), Array.from(bytes));
export const pollFd = (fd: number, cb: () => void) => koffi.node.poll(fd, { readable: true }, () => cb());
/** The numeric address of a native pointer (mmap's MAP_FAILED is 2^64 - 1). */
export const addressOf = (p: Ptr): bigint => (p === null || p === undefined ? 0n : BigInt(koffi.address(p)));
export const isNull = (p: Ptr): boolean => p === null || p === undefined || koffi.address(p) === 0n;
