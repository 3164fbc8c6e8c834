// threadsnoop's kernel side: bpf/threadsnoop.bpf.o on tp_btf/sched_process_fork (new threads)
// and tp_btf/sched_process_exit (thread exits, lifetime from task->start_time), plus
// tp_btf/task_rename: runtimes name a thread after creating it (HotSpot names every thread,
// GC and compiler ones included, right after clone), so NEW shows the creator's name and RENAME
// the thread's own.
import { hasBtfTracepoint } from '../../core/features.js';
import { note } from '../../core/log.js';
import { RingSource, openRingSource } from '../../toolkit/stream.js';

export interface ThreadsnoopFilters {
  tgid?: number;
  /** Also report thread exits with their lifetime (default true). */
  exits: boolean;
  /** Also report threads renaming themselves (default true; needs the task_rename tracepoint). */
  renames?: boolean;
}

export interface ThreadRecord {
  tsNs: bigint;
  /** The task's cgroup2 id (its container, resolvable after it exited). */
  cgroupId?: number;
  event: 'NEW' | 'EXIT' | 'RENAME';
  pid: number;
  tid: number;
  /** NEW: the thread that created it; RENAME: the thread that renamed it. */
  ptid: number;
  /** NEW: the creator's name (a new thread starts with it); RENAME: the new name. */
  comm: string;
  /** EXIT: nanoseconds from creation to exit. */
  lifetimeNs: number;
  /** EXIT: task->exit_code. */
  exitCode: number;
}

export function openThreadsnoop(f: ThreadsnoopFilters, bufferMb: number): RingSource {
  const programs = [{ name: 'threadsnoop_fork', tracepoint: 'sched_process_fork' }];
  if (f.exits) programs.push({ name: 'threadsnoop_exit', tracepoint: 'sched_process_exit' });
  if (f.renames ?? true) {
    if (hasBtfTracepoint('task_rename')) programs.push({ name: 'threadsnoop_rename', tracepoint: 'task_rename' });
    else note('threadsnoop: no task_rename tracepoint on this kernel: thread names show at exit only');
  }
  return openRingSource({
    object: 'threadsnoop',
    programs,
    bufferMb,
    constants: { filter_tgid: f.tgid ?? 0, trace_exits: f.exits },
  });
}

export function threadDecoder(s: RingSource): (b: Buffer) => ThreadRecord {
  const v = s.struct('thread_event');
  const { THREAD_NEW, THREAD_RENAME } = s.obj.enumValues('thread_kind');
  return (b) => ({
    tsNs: v.u64(b, 'ts_ns'),
    cgroupId: Number(v.u64(b, 'cgroup_id')),
    event: v.uint(b, 'kind') === THREAD_NEW ? 'NEW' : v.uint(b, 'kind') === THREAD_RENAME ? 'RENAME' : 'EXIT',
    pid: v.uint(b, 'pid'),
    tid: v.uint(b, 'tid'),
    ptid: v.uint(b, 'ptid'),
    comm: v.str(b, 'comm'),
    lifetimeNs: v.uint(b, 'lifetime_ns'),
    exitCode: v.int(b, 'exit_code'),
  });
}
