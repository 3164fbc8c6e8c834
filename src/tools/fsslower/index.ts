// `bpfkit fsslower -t FSTYPE` (and `bpfkit ext4slower`): file system operations slower than a
// threshold, with BCC's ext4slower columns.
import type { ToolCommand, ToolContext } from '../../cli/command.js';
import { parseArgs, has, last, parseIntArg, parsePositive, type FlagSpec } from '../../cli/args.js';
import { clockTime, runIntervals } from '../../cli/runtime.js';
import { badArgs } from '../../core/errors.js';
import { requireBpfPrivileges, requireProcess } from '../../core/privileges.js';
import { padL, padR } from '../../render/text.js';
import { FsslowerSession, knownFilesystems, type FsEvent, type FsslowerFilters } from './fsslower.js';

const HELP = `Usage: bpfkit fsslower -t FSTYPE [options] [MIN_MS]
       bpfkit ext4slower [options] [MIN_MS]     (fsslower -t ext4)

Trace file system reads, writes, opens and fsyncs slower than MIN_MS milliseconds
(default 10; 0 traces all of them) on one file system type.

Options:
  -t FSTYPE         file system type: ext4, xfs, btrfs, ... (as in /proc/filesystems)
  -m MIN_MS         threshold in milliseconds (same as the positional MIN_MS)
  -p PID            trace only this process
  -d DURATION       stop after DURATION seconds
  --csv             comma-separated output (BCC's -j): ENDTIME_us,TASK,PID,TYPE,BYTES,OFFSET_b,LATENCY_us,FILE
  --json            one JSON record per operation (NDJSON)
  --verbose         show which kernel hooks are used

Columns: TIME COMM PID T BYTES OFF_KB LAT(ms) FILENAME, T = R(ead) W(rite) O(pen) S(ync).
The latency is that of the whole syscall (read/pread/readv, write/pwrite/writev,
open/openat/openat2, fsync/fdatasync) on a file of that file system.

Examples:
  bpfkit ext4slower             # ext4 operations slower than 10 ms
  bpfkit ext4slower 1           # slower than 1 ms
  bpfkit fsslower -t xfs -p 1234 0   # every xfs operation of PID 1234
`;

const FLAGS: FlagSpec[] = [
  { key: 'type', short: 't', long: 'type', value: true },
  { key: 'min', short: 'm', long: 'min', value: true },
  { key: 'pid', short: 'p', long: 'pid', value: true },
  { key: 'duration', short: 'd', long: 'duration', value: true },
  { key: 'csv', short: 'j', long: 'csv' },
  { key: 'json', long: 'json' },
];

export interface FsslowerOptions {
  filters: FsslowerFilters;
  durationS?: number;
  csv: boolean;
  json: boolean;
}

export function parseFsslowerArgs(argv: string[]): FsslowerOptions {
  const a = parseArgs(argv, FLAGS);
  if (a.positionals.length > 1) throw badArgs(`unexpected argument '${a.positionals[1]}' (usage: fsslower -t FSTYPE [MIN_MS])`);
  const fstype = last(a, 'type');
  if (fstype === undefined) throw badArgs('-t FSTYPE is required (e.g. -t ext4), or use ext4slower');
  if (!/^[\w.-]{1,15}$/.test(fstype) || !knownFilesystems().includes(fstype)) {
    throw badArgs(`unknown file system type '${fstype}' (not in /proc/filesystems)`);
  }
  const minText = last(a, 'min') ?? a.positionals[0];
  const pid = last(a, 'pid');
  const duration = last(a, 'duration');
  if (has(a, 'csv') && has(a, 'json')) throw badArgs('use only one of --csv and --json');
  return {
    filters: {
      fstype,
      minMs: minText !== undefined ? parsePositive(minText, 'MIN_MS', true) : 10,
      tgid: pid !== undefined ? parseIntArg(pid, '-p PID', 1, 4194304) : undefined,
    },
    durationS: duration !== undefined ? parsePositive(duration, '-d DURATION') : undefined,
    csv: has(a, 'csv'),
    json: has(a, 'json'),
  };
}

export function header(opts: FsslowerOptions): string {
  if (opts.json) return '';
  if (opts.csv) return 'ENDTIME_us,TASK,PID,TYPE,BYTES,OFFSET_b,LATENCY_us,FILE\n';
  const f = opts.filters;
  const what = f.minMs > 0 ? `Tracing ${f.fstype} operations slower than ${f.minMs} ms` : `Tracing ${f.fstype} operations`;
  return `${what}\n${padR('TIME', 8)} ${padR('COMM', 14)} ${padR('PID', 6)} T ${padR('BYTES', 7)} ${padR('OFF_KB', 8)} ${padL('LAT(ms)', 7)} FILENAME\n`;
}

export function renderEvent(e: FsEvent, opts: FsslowerOptions): string {
  if (opts.json) {
    return JSON.stringify({
      time: new Date().toISOString(), end_us: e.endUs, comm: e.comm, pid: e.pid, tid: e.tid, type: e.type,
      bytes: e.bytes, offset: e.offset, latency_us: Math.round(e.latencyUs * 1000) / 1000, file: e.file,
    }) + '\n';
  }
  if (opts.csv) return `${e.endUs},${e.comm},${e.pid},${e.type},${e.bytes},${e.offset},${Math.floor(e.latencyUs)},${e.file}\n`;
  return `${padR(clockTime(), 8)} ${padR(e.comm.slice(0, 14), 14)} ${padR(e.pid, 6)} ${e.type} ${padR(e.bytes, 7)} ${padR(Math.floor(e.offset / 1024), 8)} ${padL((e.latencyUs / 1000).toFixed(2), 7)} ${e.file}\n`;
}

export const command: ToolCommand = {
  name: 'fsslower',
  summary: 'file system operations slower than a threshold (ext4slower = fsslower -t ext4)',
  help: HELP,
  async run(argv: string[], ctx: ToolContext): Promise<void> {
    const opts = parseFsslowerArgs(argv);
    if (opts.filters.tgid !== undefined) requireProcess(opts.filters.tgid);
    requireBpfPrivileges();
    const session = FsslowerSession.start(opts.filters, (e) => ctx.out(renderEvent(e, opts)));
    try {
      ctx.out(header(opts));
      ctx.ready();
      let reportedLost = 0;
      await runIntervals({ durationS: opts.durationS, intervalS: 1 }, ctx.signal, () => {
        session.flush();
        const lost = session.lostEvents();
        if (lost > reportedLost) {
          ctx.out(opts.json ? JSON.stringify({ lost: lost - reportedLost, lost_total: lost }) + '\n' : `Lost ${lost - reportedLost} events (ring buffer full; ${lost} in total)\n`);
          reportedLost = lost;
        }
      });
    } finally {
      session.close();
    }
  },
};
