// `bpfkit fsslower -t FSTYPE` (and `bpfkit ext4slower`): file system operations slower than a
// threshold, with BCC's ext4slower columns.
import { COMMON, parseNumber } from '../../toolkit/flags.js';
import { defineTool } from '../../toolkit/runner.js';
import { streamEvents } from '../../toolkit/stream.js';
import { badArgs } from '../../core/errors.js';
import { clockTime, monoToDate } from '../../core/clock.js';
import { padL, padR } from '../../render/text.js';
import { FsslowerSession, knownFilesystems, type FsEvent, type FsslowerFilters } from './fsslower.js';

export interface FsslowerOptions {
  filters: FsslowerFilters;
  csv: boolean;
}

/** Text (or CSV) header; none for JSON. */
export function header(opts: FsslowerOptions): string {
  if (opts.csv) return 'ENDTIME_us,TASK,PID,TYPE,BYTES,OFFSET_b,LATENCY_us,FILE\n';
  const f = opts.filters;
  const what = f.minMs > 0 ? `Tracing ${f.fstype} operations slower than ${f.minMs} ms` : `Tracing ${f.fstype} operations`;
  return `${what}\n${padR('TIME', 8)} ${padR('COMM', 14)} ${padR('PID', 6)} T ${padR('BYTES', 7)} ${padR('OFF_KB', 8)} ${padL('LAT(ms)', 7)} FILENAME\n`;
}

const endTime = (e: FsEvent): Date => monoToDate(BigInt(e.endUs) * 1000n);

export function renderText(e: FsEvent, opts: FsslowerOptions): string {
  if (opts.csv) return `${e.endUs},${e.comm},${e.pid},${e.type},${e.bytes},${e.offset},${Math.floor(e.latencyUs)},${e.file}\n`;
  return `${padR(clockTime(endTime(e)), 8)} ${padR(e.comm.slice(0, 14), 14)} ${padR(e.pid, 6)} ${e.type} ${padR(e.bytes, 7)} ${padR(Math.floor(e.offset / 1024), 8)} ${padL((e.latencyUs / 1000).toFixed(2), 7)} ${e.file}\n`;
}

/** JSON keys are the column names (lower case; LAT(ms) -> lat_ms), plus what the columns leave out. */
export function renderJson(e: FsEvent): string {
  return JSON.stringify({
    time: endTime(e).toISOString(), comm: e.comm, pid: e.pid, t: e.type, bytes: e.bytes,
    off_kb: Math.floor(e.offset / 1024), lat_ms: Math.round(e.latencyUs) / 1000, filename: e.file,
    tid: e.tid, offset: e.offset, latency_us: Math.round(e.latencyUs * 1000) / 1000, end_us: e.endUs,
  }) + '\n';
}

export const command = defineTool<FsslowerOptions>({
  name: 'fsslower',
  summary: 'file system operations slower than a threshold (ext4slower = fsslower -t ext4)',
  usage: `-t FSTYPE [options] [MIN_MS]
       bpfkit ext4slower [options] [MIN_MS]     (fsslower -t ext4)`,
  about: `Trace file system reads, writes, opens and fsyncs slower than MIN_MS milliseconds
(default 10; 0 traces all of them) on one file system type. bpfkit's own operations (its
output written to that file system, for one) are never shown.`,
  flags: [
    { key: 'type', short: 't', long: 'type', arg: 'FSTYPE', help: 'file system type: ext4, xfs, btrfs, ... (as in /proc/filesystems)' },
    { key: 'min', short: 'm', long: 'min', arg: 'MIN_MS', help: 'threshold in milliseconds (same as the positional MIN_MS)' },
    COMMON.pid,
    COMMON.duration,
    { key: 'csv', short: 'j', long: 'csv', help: 'comma-separated output (BCC\'s -j): ENDTIME_us,TASK,PID,TYPE,BYTES,OFFSET_b,LATENCY_us,FILE' },
    COMMON.bufferMb,
    COMMON.cgroup,
    COMMON.container,
    COMMON.containers,
    COMMON.json,
  ],
  maxPositionals: 1,
  more: `Columns: TIME COMM PID T BYTES OFF_KB LAT(ms) FILENAME, T = R(ead) W(rite) O(pen) S(ync).
The latency is that of the whole syscall (read/pread/readv, write/pwrite/writev,
open/openat/openat2, fsync/fdatasync) on a file of that file system (with kprobes: of the file
system's own function).

Examples:
  bpfkit ext4slower             # ext4 operations slower than 10 ms
  bpfkit ext4slower 1           # slower than 1 ms
  bpfkit fsslower -t xfs -p 1234 0   # every xfs operation of PID 1234`,
  parse(a, c) {
    const fstype = a.get('type');
    if (fstype === undefined) throw badArgs('-t FSTYPE is required (e.g. -t ext4), or use ext4slower');
    if (!/^[\w.-]{1,15}$/.test(fstype) || !knownFilesystems().includes(fstype)) {
      throw badArgs(`unknown file system type '${fstype}' (not in /proc/filesystems)`);
    }
    const minText = a.get('min') ?? a.positionals[0];
    if (a.has('csv') && c.json) throw badArgs('use only one of --csv and --json');
    return {
      filters: {
        fstype,
        minMs: minText !== undefined ? parseNumber(minText, 'MIN_MS', true) : 10,
        tgid: c.pid,
        bufferMb: c.bufferMb,
      },
      csv: a.has('csv'),
    };
  },
  async run(o, rt) {
    const session = rt.use(FsslowerSession.open(o.filters));
    if (!rt.json) rt.write(o.csv ? header(o) : rt.containerHeader(header(o)));
    await streamEvents(rt, session, {
      decode: (b) => session.decode(b),
      // CSV keeps BCC's columns: no CONTAINER column there.
      pid: o.csv && !rt.json ? undefined : (e) => e.pid,
      text: (e) => renderText(e, o),
      json: (e) => renderJson(e),
    });
  },
});
