// execsnoop's kernel side: bpf/execsnoop.bpf.o on tp_btf/sys_exit (execve, execveat), one record
// per exec with its result and argv.
import { bpfObjectPath } from '../../core/bpf.js';
import { fileEnumValues } from '../../core/btf.js';
import { syscallNumber } from '../../core/syscalls/index.js';
import { RingSource, openRingSource } from '../../toolkit/stream.js';

export interface ExecsnoopFilters {
  failedOnly?: boolean;
  ppid?: number;
  uid?: number;
  maxArgs: number;
}

export interface ExecRecord {
  tsNs: bigint;
  /** The task's cgroup2 id (its container, resolvable after it exited). */
  cgroupId?: number;
  pid: number;
  tid: number;
  ppid: number;
  uid: number;
  comm: string;
  ret: number;
  argv: string[];
  /** More arguments (or bytes) existed than were copied. */
  truncated: boolean;
}

export function openExecsnoop(f: ExecsnoopFilters, bufferMb: number): RingSource {
  return openRingSource({
    object: 'execsnoop',
    programs: [{ name: 'execsnoop_exit', tracepoint: 'sys_exit' }],
    bufferMb,
    constants: {
      nr_execve: syscallNumber('execve') ?? -1,
      nr_execveat: syscallNumber('execveat') ?? -1,
      failed_only: f.failedOnly ?? false,
      filter_ppid: f.ppid ?? 0,
      filter_uid: f.uid ?? 0xffffffff,
      max_args: f.maxArgs,
    },
  });
}

let limits: { argLen: number; maxArgs: number } | undefined;
/**
 * enum exec_limits of bpf/snoop.h (EXEC_ARG_LEN, EXEC_MAX_ARGS), from the object's BTF: read
 * from the file, so that --max-args is checked before anything is loaded.
 */
export function execLimits(): { argLen: number; maxArgs: number } {
  if (limits) return limits;
  const e = fileEnumValues(bpfObjectPath('execsnoop'), 'exec_limits');
  if (e?.EXEC_ARG_LEN === undefined || e.EXEC_MAX_ARGS === undefined) throw new Error('bpf/execsnoop.bpf.o has no BTF for enum exec_limits (rebuild with bpf/build.sh)');
  limits = { argLen: e.EXEC_ARG_LEN, maxArgs: e.EXEC_MAX_ARGS };
  return limits;
}

export function execDecoder(s: RingSource, maxArgs: number): (b: Buffer) => ExecRecord {
  const v = s.struct('exec_event');
  const ARG_LEN = execLimits().argLen;
  const argsAt = v.field('args').offset;
  return (b) => {
    const size = v.uint(b, 'args_size');
    let truncated = v.uint(b, 'truncated') === 1;
    const raw = b.subarray(argsAt, argsAt + size);
    let argv = raw.toString('utf8').split('\0');
    // The arg area ends with a NUL (split leaves a last empty string); a cut area does not.
    if (argv.length && argv[argv.length - 1] === '') argv.pop();
    // A failed exec's arguments are read one by one, each cut at ARG_LEN - 1 bytes: one that
    // long was (most likely) cut. (Marked here: a check in the BPF loop defeats 6.1's verifier.)
    if (v.uint(b, 'from_mm') === 0 && argv.some((a) => Buffer.byteLength(a) >= ARG_LEN - 1)) truncated = true;
    if (argv.length > maxArgs) {
      argv = argv.slice(0, maxArgs);
      truncated = true;
    }
    return {
      tsNs: v.u64(b, 'ts_ns'),
      cgroupId: Number(v.u64(b, 'cgroup_id')),
      pid: v.uint(b, 'pid'),
      tid: v.uint(b, 'tid'),
      ppid: v.uint(b, 'ppid'),
      uid: v.uint(b, 'uid'),
      comm: v.str(b, 'comm'),
      ret: v.int(b, 'ret'),
      argv,
      truncated,
    };
  };
}
