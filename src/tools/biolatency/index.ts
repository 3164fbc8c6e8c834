// `bpfkit biolatency`: block I/O latency as a log2 histogram (BCC's flags and layout).
import { COMMON, parseIntArg, parseInterval, type ParsedArgs } from '../../toolkit/flags.js';
import { defineTool, type Common } from '../../toolkit/runner.js';
import { badArgs } from '../../core/errors.js';
import { clockTime } from '../../core/clock.js';
import { log2Buckets, log2Histogram } from '../../render/histogram.js';
import { safe } from '../../render/text.js';
import { BiolatencySession, type BiolatencyOptions, type Histogram } from './biolatency.js';

const FLAGS = [
  { key: 'timestamp', short: 'T', long: 'timestamp', help: 'include a timestamp on output' },
  { key: 'queued', short: 'Q', long: 'queued', help: 'include OS queued time in I/O time' },
  { key: 'ms', short: 'm', long: 'milliseconds', help: 'histogram in milliseconds (default microseconds)' },
  { key: 'disks', short: 'D', long: 'disks', help: 'one histogram per disk' },
  { key: 'flags', short: 'F', long: 'flags', help: 'one histogram per I/O operation and flags (Read, Sync-Write, ...)' },
  { key: 'disk', short: 'd', long: 'disk', arg: 'DISK', help: 'trace this disk only (e.g. sda, loop0)' },
  // BCC's -d is the disk: the duration is --duration only.
  { ...COMMON.duration, short: undefined },
  COMMON.cgroup,
  COMMON.container,
  COMMON.json,
];

export interface BiolatencyCli {
  session: BiolatencyOptions;
  /** Undefined: one report when the run stops. */
  intervalS?: number;
  /** 0 = until stopped. */
  count: number;
  timestamp: boolean;
}

export function parseBiolatencyOptions(a: ParsedArgs, _c: Common): BiolatencyCli {
  if (a.has('disks') && a.has('flags')) throw badArgs('can only use one of -D and -F');
  const disk = a.get('disk');
  if (disk === '') throw badArgs('-d: empty disk name');
  const [interval, count] = a.positionals;
  return {
    session: {
      perDisk: a.has('disks'),
      perFlag: a.has('flags'),
      ms: a.has('ms'),
      queued: a.has('queued'),
      disk,
    },
    intervalS: interval !== undefined ? parseInterval(interval, 'interval') : undefined,
    count: count !== undefined ? parseIntArg(count, 'count', 1) : 0,
    timestamp: a.has('timestamp'),
  };
}

export const command = defineTool<BiolatencyCli>({
  name: 'biolatency',
  summary: 'block I/O latency as a log2 histogram',
  usage: '[options] [interval [count]]',
  about: `Summarize block device I/O latency as a histogram. By default the latency is device time
(request issued to the driver until completion); -Q adds the time queued in the OS.
Prints on Ctrl-C (or at the end of --duration), or every interval seconds (count times).`,
  flags: FLAGS,
  maxPositionals: 2,
  more: `JSON: one record per report: {time, interval_s, unit, histograms: [{disk?, major?, minor?,
flags?, total, buckets: [{low, high, count}]}]}.

Examples:
  bpfkit biolatency            # histogram on Ctrl-C
  bpfkit biolatency -mT 1 5    # milliseconds, timestamps, every second, 5 times
  bpfkit biolatency -D         # per disk
  bpfkit biolatency -F         # per operation and flags
  bpfkit biolatency -d sda --duration 10s --json`,
  parse: parseBiolatencyOptions,
  async run(opts, rt) {
    const session = rt.use(BiolatencySession.start(opts.session));
    rt.ready();
    if (!rt.json) rt.write('Tracing block device I/O... Hit Ctrl-C to end.\n');
    await rt.intervals((_final, elapsedS) => {
      const hists = session.read();
      rt.write(rt.json ? renderJson(hists, opts, elapsedS) : renderText(hists, opts));
    }, { intervalS: opts.intervalS, count: opts.count });
  },
});

export function renderText(hists: Histogram[], opts: BiolatencyCli): string {
  const unit = opts.session.ms ? 'msecs' : 'usecs';
  let out = '\n';
  if (opts.timestamp) out += `${clockTime()}\n`;
  for (const h of hists) {
    if (opts.session.perDisk) out += `\ndisk = ${safe(h.disk ?? '')}\n`;
    else if (opts.session.perFlag) out += `\nflags = ${h.flags}\n`;
    out += log2Histogram(h.slots, unit);
  }
  return out;
}

export function renderJson(hists: Histogram[], opts: BiolatencyCli, intervalS: number): string {
  return JSON.stringify({
    time: new Date().toISOString(),
    interval_s: Math.round(intervalS * 1000) / 1000,
    unit: opts.session.ms ? 'msecs' : 'usecs',
    histograms: hists.map((h) => ({
      ...(h.disk !== undefined ? { disk: h.disk, major: h.major, minor: h.minor } : {}),
      ...(h.flags !== undefined ? { flags: h.flags } : {}),
      total: h.slots.reduce((a, b) => a + b, 0),
      buckets: log2Buckets(h.slots),
    })),
  }) + '\n';
}
