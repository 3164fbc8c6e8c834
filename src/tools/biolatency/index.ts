// `bpfkit biolatency`: block I/O latency as a log2 histogram (BCC's flags and layout).
import type { ToolCommand, ToolContext } from '../../cli/command.js';
import { parseArgs, has, last, parseIntArg, parsePositive, type FlagSpec } from '../../cli/args.js';
import { clockTime, runIntervals } from '../../cli/runtime.js';
import { badArgs } from '../../core/errors.js';
import { requireBpfPrivileges } from '../../core/privileges.js';
import { log2Buckets, log2Histogram } from '../../render/histogram.js';
import { BiolatencySession, type BiolatencyOptions, type Histogram } from './biolatency.js';

const HELP = `Usage: bpfkit biolatency [options] [interval [count]]

Summarize block device I/O latency as a histogram. By default the latency is device time
(request issued to the driver until completion); -Q adds the time queued in the OS.
Prints on Ctrl-C, or every interval seconds (count times).

Options:
  -T, --timestamp   include a timestamp on output
  -Q, --queued      include OS queued time in I/O time
  -m, --milliseconds  histogram in milliseconds (default microseconds)
  -D, --disks       one histogram per disk
  -F, --flags       one histogram per I/O operation and flags (Read, Sync-Write, ...)
  -d DISK           trace this disk only (e.g. sda, loop0)
  --json            one JSON record per interval (NDJSON)
  --verbose         show which kernel hooks are used

Examples:
  bpfkit biolatency            # histogram on Ctrl-C
  bpfkit biolatency -mT 1 5    # milliseconds, timestamps, every second, 5 times
  bpfkit biolatency -D         # per disk
  bpfkit biolatency -F         # per operation and flags
`;

const FLAGS: FlagSpec[] = [
  { key: 'timestamp', short: 'T', long: 'timestamp' },
  { key: 'queued', short: 'Q', long: 'queued' },
  { key: 'ms', short: 'm', long: 'milliseconds' },
  { key: 'disks', short: 'D', long: 'disks' },
  { key: 'flags', short: 'F', long: 'flags' },
  { key: 'disk', short: 'd', long: 'disk', value: true },
  { key: 'json', long: 'json' },
];

export interface BiolatencyCli {
  session: BiolatencyOptions;
  intervalS?: number;
  count: number;
  timestamp: boolean;
  json: boolean;
}

export function parseBiolatencyArgs(argv: string[]): BiolatencyCli {
  const a = parseArgs(argv, FLAGS);
  if (a.positionals.length > 2) throw badArgs(`unexpected argument '${a.positionals[2]}' (usage: biolatency [interval [count]])`);
  if (has(a, 'disks') && has(a, 'flags')) throw badArgs('can only use one of -D and -F');
  return {
    session: {
      perDisk: has(a, 'disks'),
      perFlag: has(a, 'flags'),
      ms: has(a, 'ms'),
      queued: has(a, 'queued'),
      disk: last(a, 'disk'),
    },
    intervalS: a.positionals[0] !== undefined ? parsePositive(a.positionals[0], 'interval') : undefined,
    count: a.positionals[1] !== undefined ? parseIntArg(a.positionals[1], 'count', 1) : 0,
    timestamp: has(a, 'timestamp'),
    json: has(a, 'json'),
  };
}

export function renderText(hists: Histogram[], opts: BiolatencyCli): string {
  const unit = opts.session.ms ? 'msecs' : 'usecs';
  let out = '\n';
  if (opts.timestamp) out += `${clockTime()}\n`;
  for (const h of hists) {
    if (opts.session.perDisk) out += `\ndisk = ${h.disk}\n`;
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

export const command: ToolCommand = {
  name: 'biolatency',
  summary: 'block I/O latency as a log2 histogram',
  help: HELP,
  async run(argv: string[], ctx: ToolContext): Promise<void> {
    const opts = parseBiolatencyArgs(argv);
    requireBpfPrivileges();
    const session = BiolatencySession.start(opts.session);
    try {
      ctx.ready();
      if (!opts.json) ctx.out('Tracing block device I/O... Hit Ctrl-C to end.\n');
      let lastTime = Date.now();
      await runIntervals({ intervalS: opts.intervalS, count: opts.count }, ctx.signal, () => {
        const now = Date.now();
        const hists = session.read();
        ctx.out(opts.json ? renderJson(hists, opts, (now - lastTime) / 1000) : renderText(hists, opts));
        lastTime = now;
      });
    } finally {
      session.close();
    }
  },
};
