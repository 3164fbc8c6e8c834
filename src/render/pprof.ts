// pprof's profile.proto (gzipped), the format of Go's /debug/pprof/profile that Parca, Grafana
// Alloy/Pyroscope and `go tool pprof` read. Encoded with the pprof-format package. One location
// per distinct frame (function + module), leaf first in each sample; pid and comm as labels.
import { gzipSync } from 'node:zlib';
import { Function as PFunction, Label, Line, Location, Mapping, Profile, Sample, StringTable, ValueType } from 'pprof-format';
import type { Frame } from '../core/symbols/index.js';

export interface PprofStack {
  pid: number;
  comm: string;
  count: number;
  /** Leaf first. */
  user: Frame[] | null;
  kernel: Frame[] | null;
}

export interface PprofOptions {
  /** Sampling period in nanoseconds (1e9 / frequency). */
  periodNs: number;
  durationNs: number;
  startMs?: number;
}

export function encodePprof(stacks: Iterable<PprofStack>, o: PprofOptions): Uint8Array {
  const st = new StringTable();
  const mappings = new Map<string, Mapping>();
  const functions = new Map<string, PFunction>();
  const locations = new Map<string, Location>();
  const mappingOf = (module: string): Mapping => {
    let m = mappings.get(module);
    if (!m) {
      m = new Mapping({ id: mappings.size + 1, filename: st.dedup(module), hasFunctions: true });
      mappings.set(module, m);
    }
    return m;
  };
  const locationOf = (f: Frame): number => {
    const module = f.kind === 'kernel' ? '[kernel.kallsyms]' : f.module || '[unknown]';
    const key = `${f.name}\0${module}`;
    let loc = locations.get(key);
    if (!loc) {
      let fn = functions.get(key);
      if (!fn) {
        fn = new PFunction({ id: functions.size + 1, name: st.dedup(f.name), systemName: st.dedup(f.name), filename: st.dedup(module) });
        functions.set(key, fn);
      }
      loc = new Location({ id: locations.size + 1, mappingId: mappingOf(module).id, line: [new Line({ functionId: fn.id })] });
      locations.set(key, loc);
    }
    return loc.id as number;
  };
  const samples: Sample[] = [];
  const pidKey = st.dedup('pid');
  const commKey = st.dedup('comm');
  for (const s of stacks) {
    const ids = [...(s.kernel ?? []), ...(s.user ?? [])].map(locationOf);
    if (ids.length === 0) ids.push(locationOf({ name: s.comm || '[unknown]', module: '[unknown]' }));
    samples.push(new Sample({
      locationId: ids,
      value: [s.count, s.count * o.periodNs],
      label: [new Label({ key: pidKey, num: s.pid }), new Label({ key: commKey, str: st.dedup(s.comm) })],
    }));
  }
  const periodType = new ValueType({ type: st.dedup('cpu'), unit: st.dedup('nanoseconds') });
  const profile = new Profile({
    sampleType: [new ValueType({ type: st.dedup('samples'), unit: st.dedup('count') }), periodType],
    sample: samples,
    mapping: [...mappings.values()],
    location: [...locations.values()],
    function: [...functions.values()],
    stringTable: st,
    timeNanos: BigInt(o.startMs ?? Date.now()) * 1_000_000n,
    durationNanos: o.durationNs,
    periodType,
    period: o.periodNs,
  });
  return gzipSync(profile.encode());
}
