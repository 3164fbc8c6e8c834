// `bpfkit threadsnoop`: thread creation and exit with lifetimes, so short-lived threads show.
import { COMMON } from '../../toolkit/flags.js';
import { defineTool } from '../../toolkit/runner.js';
import { streamEvents } from '../../toolkit/stream.js';
import { monoToDate } from '../../core/clock.js';
import { padL, padR } from '../../render/text.js';
import { openThreadsnoop, threadDecoder, type ThreadRecord, type ThreadsnoopFilters } from './threadsnoop.js';

export interface ThreadsnoopOptions {
  filters: ThreadsnoopFilters;
  name?: string;
  bufferMb: number;
}

export const threadHeader = (): string =>
  `${padR('TIME(ms)', 10)} ${padR('EVENT', 6)} ${padR('PID', 7)} ${padR('TID', 7)} ${padR('PTID', 7)} ${padR('COMM', 16)} ${padL('LIFE(ms)', 10)}\n`;

export function threadLine(r: ThreadRecord, startNs: bigint): string {
  const t = Math.max(0, Number(r.tsNs - startNs) / 1e6);
  const life = r.event === 'EXIT' ? (r.lifetimeNs / 1e6).toFixed(3) : '';
  const ptid = r.event !== 'EXIT' ? String(r.ptid) : '';
  return `${padR(t.toFixed(0), 10)} ${padR(r.event, 6)} ${padR(r.pid, 7)} ${padR(r.tid, 7)} ${padR(ptid, 7)} ${padR(r.comm, 16)} ${padL(life, 10)}\n`;
}

/**
 * JSON keys are the column names (lower case: TIME(ms) -> time as an ISO date, LIFE(ms) ->
 * life_ms), plus exit_code; ptid is null for an exit, life_ms and exit_code null for a creation
 * or a rename (whose comm is the new name and ptid the renaming thread).
 */
export function threadJson(r: ThreadRecord): string {
  const isExit = r.event === 'EXIT';
  return JSON.stringify({
    time: monoToDate(r.tsNs).toISOString(),
    event: r.event.toLowerCase(),
    pid: r.pid, tid: r.tid,
    ptid: isExit ? null : r.ptid,
    comm: r.comm,
    life_ms: isExit ? Math.round(r.lifetimeNs / 1e3) / 1e3 : null,
    exit_code: isExit ? r.exitCode : null,
  }) + '\n';
}

export const command = defineTool<ThreadsnoopOptions>({
  name: 'threadsnoop',
  summary: 'trace thread creation and exit, with thread lifetimes',
  about: `Trace thread creation (clone with CLONE_THREAD, e.g. pthread_create) and thread exit, with each
thread's lifetime: a stream of short-lived threads, which thread dumps and top miss, shows up
line by line. A thread that names itself after it starts (Java, pthread_setname_np) shows a
RENAME line with its new name. Processes (fork) are not threads: see execsnoop and exitsnoop.
Hooks: tp_btf/sched_process_fork, tp_btf/sched_process_exit and tp_btf/task_rename (in-kernel filters).`,
  flags: [
    { ...COMMON.pid, help: 'only threads of this process' },
    COMMON.name,
    { key: 'noexits', long: 'no-exits', help: 'report thread creation only' },
    { key: 'norenames', long: 'no-renames', help: 'do not report threads renaming themselves' },
    COMMON.duration,
    COMMON.bufferMb,
    COMMON.cgroup,
    COMMON.container,
    COMMON.containers,
    COMMON.json,
  ],
  more: `Columns: TIME(ms) (since start) EVENT (NEW, RENAME or EXIT) PID TID PTID (NEW: creating
thread; RENAME: renaming thread) COMM (NEW: the creator's name, which a new thread starts with;
RENAME: the new name; names are cut at 15 characters by the kernel) LIFE(ms) (EXIT only:
creation to exit). BCC's threadsnoop (uprobe on pthread_create) prints TIME(ms) TID COMM FUNC;
the start function is not known in the kernel and is not shown.

Examples:
  bpfkit threadsnoop -p 1234       # threads of PID 1234 coming and going
  bpfkit threadsnoop --no-exits    # creations only, system-wide`,
  parse(a, c) {
    return { filters: { tgid: c.pid, exits: !a.has('noexits'), renames: !a.has('norenames') }, name: c.name, bufferMb: c.bufferMb };
  },
  async run(o, rt) {
    const source = rt.use(openThreadsnoop(o.filters, o.bufferMb));
    const decode = threadDecoder(source);
    const startNs = process.hrtime.bigint();
    const wanted = (r: ThreadRecord) => o.name === undefined || r.comm.includes(o.name);
    if (!rt.json) rt.write(rt.containerHeader(threadHeader()));
    await streamEvents(rt, source, {
      decode,
      pid: (r) => r.pid,
      cgroupId: (r) => r.cgroupId,
      text: (r) => (wanted(r) ? threadLine(r, startNs) : undefined),
      json: (r) => (wanted(r) ? threadJson(r) : undefined),
    });
  },
});
