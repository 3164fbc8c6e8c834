// exitsnoop's kernel side: bpf/exitsnoop.bpf.o on tp_btf/sched_process_exit.
import { RingSource, openRingSource } from '../../toolkit/stream.js';

export interface ExitsnoopFilters {
  tgid?: number;
  perThread?: boolean;
  failedOnly?: boolean;
}

export interface ExitRecord {
  tsNs: bigint;
  /** The task's cgroup2 id (its container, resolvable after it exited). */
  cgroupId?: number;
  pid: number;
  tid: number;
  ppid: number;
  comm: string;
  ageNs: number;
  /** task->exit_code: (status << 8) | (core dumped ? 0x80 : 0) | signal. */
  exitCode: number;
}

export function openExitsnoop(f: ExitsnoopFilters, bufferMb: number): RingSource {
  return openRingSource({
    object: 'exitsnoop',
    programs: [{ name: 'exitsnoop_exit', tracepoint: 'sched_process_exit' }],
    bufferMb,
    constants: { filter_tgid: f.tgid ?? 0, per_thread: f.perThread ?? false, failed_only: f.failedOnly ?? false },
  });
}

export function exitDecoder(s: RingSource): (b: Buffer) => ExitRecord {
  const v = s.struct('exit_event');
  return (b) => ({
    tsNs: v.u64(b, 'ts_ns'),
    cgroupId: Number(v.u64(b, 'cgroup_id')),
    pid: v.uint(b, 'pid'),
    tid: v.uint(b, 'tid'),
    ppid: v.uint(b, 'ppid'),
    comm: v.str(b, 'comm'),
    ageNs: v.uint(b, 'age_ns'),
    exitCode: v.int(b, 'exit_code'),
  });
}

const SIGNALS = ['', 'HUP', 'INT', 'QUIT', 'ILL', 'TRAP', 'ABRT', 'BUS', 'FPE', 'KILL', 'USR1', 'SEGV', 'USR2', 'PIPE',
  'ALRM', 'TERM', 'STKFLT', 'CHLD', 'CONT', 'STOP', 'TSTP', 'TTIN', 'TTOU', 'URG', 'XCPU', 'XFSZ', 'VTALRM', 'PROF',
  'WINCH', 'IO', 'PWR', 'SYS'];

export function signalName(n: number): string {
  return SIGNALS[n] ? `SIG${SIGNALS[n]}` : n >= 34 && n <= 64 ? `SIGRTMIN+${n - 34}` : `signal ${n}`;
}

export interface DecodedExit { code?: number; signal?: number; signalName?: string; coreDumped: boolean }

export function decodeExitCode(x: number): DecodedExit {
  const sig = x & 0x7f;
  if (sig === 0) return { code: (x >> 8) & 0xff, coreDumped: false };
  return { signal: sig, signalName: signalName(sig), coreDumped: (x & 0x80) !== 0 };
}

/** As BCC's exitsnoop prints it: "0", "code 3", "signal 9 (KILL)", "signal 11 (SEGV), core dumped". */
export function exitCodeText(x: number): string {
  const d = decodeExitCode(x);
  if (d.signal === undefined) return d.code === 0 ? '0' : `code ${d.code}`;
  return `signal ${d.signal} (${d.signalName!.replace(/^SIG/, '')})${d.coreDumped ? ', core dumped' : ''}`;
}
