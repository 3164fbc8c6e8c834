// `bpfkit execsnoop`: new processes (execve/execveat) with argv, PPID and result (BCC's columns).
import { COMMON, parseIntArg, parsePid } from '../../toolkit/flags.js';
import { defineTool } from '../../toolkit/runner.js';
import { streamEvents } from '../../toolkit/stream.js';
import { clockTime, monoToDate } from '../../core/clock.js';
import { errnoName } from '../../core/syscalls/index.js';
import { padL, padR } from '../../render/text.js';
import { execDecoder, execLimits, openExecsnoop, type ExecsnoopFilters, type ExecRecord } from './execsnoop.js';

export interface ExecsnoopOptions {
  filters: ExecsnoopFilters;
  name?: string;
  line?: string;
  time: boolean;
  timestamp: boolean;
  showUid: boolean;
  quote: boolean;
  bufferMb: number;
}

const DEFAULT_MAX_ARGS = 20;

export function execHeader(o: ExecsnoopOptions): string {
  let h = '';
  if (o.time) h += `${padR('TIME', 9)}`;
  if (o.timestamp) h += `${padR('TIME(s)', 9)}`;
  if (o.showUid) h += `${padR('UID', 6)} `;
  return h + `${padR('PCOMM', 16)} ${padR('PID', 7)} ${padR('PPID', 7)} ${padL('RET', 6)} ARGS\n`;
}

const quoteArg = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

export function argsText(r: Pick<ExecRecord, 'argv' | 'truncated'>, quote: boolean): string {
  const parts = quote ? r.argv.map(quoteArg) : r.argv;
  return parts.join(' ') + (r.truncated ? ' ...' : '');
}

export function execLine(r: ExecRecord, o: ExecsnoopOptions, startNs: bigint): string {
  let s = '';
  if (o.time) s += `${padR(clockTime(monoToDate(r.tsNs)), 9)}`;
  if (o.timestamp) s += `${padR((Number(r.tsNs - startNs) / 1e9).toFixed(3), 9)}`;
  if (o.showUid) s += `${padR(r.uid, 6)} `;
  const ret = r.ret === 0 ? '0' : errnoName(-r.ret);
  return s + `${padR(r.comm, 16)} ${padR(r.pid, 7)} ${padR(r.ppid, 7)} ${padL(ret, 6)} ${argsText(r, o.quote)}\n`;
}

/** JSON keys are the column names (lower case; ARGS as the exact array), plus what the columns leave out. */
export function execJson(r: ExecRecord): string {
  return JSON.stringify({
    time: monoToDate(r.tsNs).toISOString(),
    uid: r.uid, pcomm: r.comm, pid: r.pid, ppid: r.ppid,
    ret: r.ret, args: r.argv,
    tid: r.tid, errno: r.ret < 0 ? errnoName(-r.ret) : null, truncated: r.truncated,
  }) + '\n';
}

export const command = defineTool<ExecsnoopOptions>({
  name: 'execsnoop',
  summary: 'trace new processes (exec) with argv, PPID and result',
  about: `Trace new processes: every execve()/execveat(), with the full argv, the parent PID and the
result (0, or the errno name of a failed exec). One line per exec as it happens, so short-lived
processes that top and ps miss are visible. Hook: tp_btf/sys_exit (in-kernel filters).`,
  flags: [
    { key: 'failed', short: 'x', long: 'fails', help: 'only failed execs' },
    { key: 'time', short: 'T', long: 'time', help: 'include a time column (HH:MM:SS)' },
    { key: 'timestamp', short: 't', long: 'timestamp', help: 'include a timestamp column (seconds since start)' },
    { key: 'showuid', short: 'U', long: 'print-uid', help: 'include a UID column' },
    { key: 'uid', short: 'u', long: 'uid', arg: 'UID', help: 'trace only this user id' },
    { key: 'ppid', short: 'P', long: 'ppid', arg: 'PPID', help: 'trace only children of this parent PID' },
    { ...COMMON.name, help: 'only commands whose name contains NAME' },
    { key: 'line', short: 'l', long: 'line', arg: 'LINE', help: 'only commands whose argument line contains LINE' },
    { key: 'quote', short: 'q', long: 'quote', help: 'quote arguments (double quotes, embedded quotes escaped)' },
    { key: 'maxargs', long: 'max-args', arg: 'N', help: `at most N arguments per exec (default ${DEFAULT_MAX_ARGS})` },
    COMMON.duration,
    COMMON.bufferMb,
    COMMON.cgroup,
    COMMON.container,
    COMMON.containers,
    COMMON.json,
  ],
  more: `Columns: PCOMM PID PPID RET ARGS. PCOMM is the name after a successful exec (before it, for a
failed one); ARGS ends with "..." when arguments were cut.

Examples:
  bpfkit execsnoop           # every exec, system-wide
  bpfkit execsnoop -x -T     # failed execs, with time
  bpfkit execsnoop -P 1234   # what does PID 1234 launch?`,
  parse(a, c) {
    const maxArgs = a.get('maxargs');
    const ppid = a.get('ppid');
    const uid = a.get('uid');
    return {
      filters: {
        failedOnly: a.has('failed'),
        maxArgs: maxArgs !== undefined ? parseIntArg(maxArgs, '--max-args', 1, execLimits().maxArgs) : DEFAULT_MAX_ARGS,
        ppid: ppid !== undefined ? parsePid(ppid, '-P PPID') : undefined,
        uid: uid !== undefined ? parseIntArg(uid, '-u UID', 0, 0xfffffffe) : undefined,
      },
      name: c.name,
      line: a.get('line'),
      time: a.has('time'),
      timestamp: a.has('timestamp'),
      showUid: a.has('showuid'),
      quote: a.has('quote'),
      bufferMb: c.bufferMb,
    };
  },
  async run(o, rt) {
    const source = rt.use(openExecsnoop(o.filters, o.bufferMb));
    const decode = execDecoder(source, o.filters.maxArgs);
    const startNs = process.hrtime.bigint();
    const wanted = (r: ExecRecord) =>
      (o.name === undefined || r.comm.includes(o.name)) && (o.line === undefined || r.argv.join(' ').includes(o.line));
    if (!rt.json) rt.write(rt.containerHeader(execHeader(o)));
    await streamEvents(rt, source, {
      decode,
      pid: (r) => r.pid,
      cgroupId: (r) => r.cgroupId,
      text: (r) => (wanted(r) ? execLine(r, o, startNs) : undefined),
      json: (r) => (wanted(r) ? execJson(r) : undefined),
    });
  },
});
