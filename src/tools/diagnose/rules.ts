// diagnose's verdicts as a table of rules. Each rule is a pure function of the model (built
// from the snapshot alone), with its thresholds and the reason for each next to it
// (docs/tools/diagnose.md lists them). Rules run in table order and see the verdicts of the
// rules before them: a slow stage that is already explained (say CPU-bound) is not named again
// as the cause of its upstream's backpressure; the evidence is added instead.
import type { Model, Service, Verdict } from './analyze.js';
import { fmtBytes, fmtRate, label, pct } from './analyze.js';

export type VerdictKind =
  | 'pull-limited consumer' | 'cpu-saturated' | 'cpu-throttled' | 'runqueue-saturated' | 'host-cpu-saturated'
  | 'disk-bound' | 'lock-contention' | 'backpressure' | 'slow-dependency' | 'gc-bound';

export interface Threshold { value: number; why: string }

export interface Rule {
  kind: VerdictKind;
  about: string;
  thresholds: Record<string, Threshold>;
  evaluate(m: Model, earlier: readonly Verdict[]): { verdicts: Verdict[]; notes?: string[] };
}

const clamp01 = (x: number) => Math.max(0, Math.min(1, x));
/** Confidence from how far a measure is past its threshold towards `full`. */
const past = (x: number, threshold: number, full: number) => clamp01(0.5 + 0.5 * (x - threshold) / Math.max(full - threshold, 1e-9));
const isLocal = (x: number | string): x is number => typeof x === 'number';
const waitingForData = (s: Service) => s.share.wait.input + s.share.wait.read;
const describeTime = (s: Service) =>
  `${s.comm}'s time: ${pct(s.share.cpu)} on CPU, ${pct(s.share.runq)} waiting for a CPU, ${pct(s.sleepShare)} in timed sleeps, ` +
  `${pct(waitingForData(s))} waiting for input, ${pct(s.share.wait.write)} blocked writing, ${pct(s.share.wait.sync)} in fsync, ${pct(s.share.wait.lock)} on locks (${s.threads} threads)`;

const PULL: Rule = {
  kind: 'pull-limited consumer',
  about: 'a consumer pulls from an upstream service in request/response round trips while that upstream receives much more than it hands over',
  thresholds: {
    roundTrip: { value: 0.2, why: 'requests and replies within 5x of each other in count: a request/response exchange, not a stream' },
    backlog: { value: 2, why: 'the upstream takes in at least twice what the consumer pulls: data accumulates there' },
    inflow: { value: 10_000, why: 'at least 10 KB/s into the upstream: a trickle is no backlog' },
    upstreamBusy: { value: 0.8, why: 'an upstream whose busiest thread is on CPU 80% of the time is itself the limit' },
  },
  evaluate(m) {
    const t = this.thresholds;
    const verdicts: Verdict[] = [];
    for (const c of m.services) {
      for (const down of m.edges.filter((e) => e.to === c.id && isLocal(e.from))) {
        const p = m.svc.get(down.from as number);
        if (!p) continue;
        const up = m.edge(c.id, p.id);
        if (!up || up.msgsPerS <= 0 || down.msgsPerS <= 0) continue;
        const roundTrip = Math.min(up.msgsPerS, down.msgsPerS) / Math.max(up.msgsPerS, down.msgsPerS) >= t.roundTrip!.value;
        const feeders = m.edges.filter((e) => e.to === p.id && e.from !== c.id);
        const inflow = feeders.reduce((s, e) => s + e.bytesPerS, 0);
        const ratio = inflow / Math.max(down.bytesPerS, 1);
        if (!roundTrip || ratio < t.backlog!.value || inflow < t.inflow!.value || p.busiestThreadCpu >= t.upstreamBusy!.value) continue;
        const feederNames = feeders.map((e) => (isLocal(e.from) ? label(m.svc.get(e.from)!) : e.from)).join(', ');
        const downstream = m.edges.filter((e) => e.from === c.id && e.to !== p.id).map((e) => m.svc.get(e.to as number)).filter((s): s is Service => !!s);
        verdicts.push({
          service: c.id, comm: c.comm, rule: this.kind, score: Math.min(10, ratio), confidence: past(ratio, t.backlog!.value, 10),
          summary: `${label(c)} does not keep up with ${p.comm}: it pulls data in small request/response batches while ${p.comm}'s input piles up`,
          evidence: [
            `${label(p)} receives ${fmtRate(inflow)} from ${feederNames} but sends only ${fmtRate(down.bytesPerS)} to ${label(c)} (${ratio.toFixed(1)}x less): data accumulates upstream of ${c.comm}`,
            `${c.comm} <-> ${p.comm} is request/response: ${up.msgsPerS.toFixed(0)} requests/s of ${(up.bytesPerS / up.msgsPerS).toFixed(0)} B, ${down.msgsPerS.toFixed(0)} replies/s of ${(down.bytesPerS / down.msgsPerS).toFixed(0)} B on average: small batches per round trip`,
            `${c.comm}'s time: ${pct(c.share.cpu)} on CPU, ${pct(c.sleepShare)} in timed sleeps, ${pct(c.share.wait.input + c.share.wait.read)} waiting for input/replies, ${pct(c.share.wait.lock)} on locks (${c.threads} threads seen)`,
            `${p.comm} is not saturated: its busiest thread is on CPU ${pct(p.busiestThreadCpu)} of the time`,
            ...downstream.map((d) => `downstream ${label(d)} receives ${fmtRate(m.edge(c.id, d.id)?.bytesPerS ?? 0)} and spends ${pct(d.share.wait.input + d.sleepShare)} of its time waiting for input`),
          ],
          next: [`bpfkit trace -p ${c.id} -e sendto,recvfrom,write,read`, `bpfkit syscount -L -p ${c.id}`, `bpfkit tcptop -p ${c.id} -i 10`],
        });
      }
    }
    return { verdicts };
  },
};

const GC: Rule = {
  kind: 'gc-bound',
  about: 'a JVM spends most of its CPU collecting garbage: the heap is too small for what it allocates and keeps, and its application threads wait for the collector',
  thresholds: {
    gcShare: { value: 0.5, why: 'GC threads use half of the JVM\'s CPU time or more: collecting, not the application\'s work, is what it does' },
    gcCores: { value: 0.2, why: 'at least 0.2 cores in GC threads: an idle JVM\'s periodic collection is no bottleneck' },
  },
  evaluate(m) {
    const t = this.thresholds;
    const verdicts: Verdict[] = [];
    for (const s of m.services) {
      const j = s.jvm;
      if (!j || j.gcShare < t.gcShare!.value || j.gcCores < t.gcCores!.value) continue;
      const appCores = Math.max(0, s.cpuCores - j.gcCores - j.jitCores - j.vmCores);
      verdicts.push({
        service: s.id, comm: s.comm, rule: this.kind, score: 3 + 4 * j.gcShare, confidence: past(j.gcShare, t.gcShare!.value, 0.9),
        summary: `${label(s)} is GC-bound: its garbage collector uses ${pct(j.gcShare)} of its CPU (${j.gcCores.toFixed(2)} cores)`,
        evidence: [
          `${s.comm}'s CPU: ${s.cpuCores.toFixed(2)} cores, of which GC threads ${j.gcCores.toFixed(2)} (${pct(j.gcShare)}), JIT compilers ${j.jitCores.toFixed(2)}, other JVM threads ${j.vmCores.toFixed(2)}, application threads ${appCores.toFixed(2)} (${s.threads} threads)`,
          ...(j.busiestGc ? [`the busiest GC thread, ${j.busiestGc.comm} (${j.busiestGc.tid}), is on CPU ${pct(j.busiestGc.cpu)} of the time`] : []),
          'a larger heap (-Xmx), or allocating less, gives the application its CPU back',
        ],
        next: [`jstat -gcutil ${s.id} 1000`, `jcmd ${s.id} GC.heap_info`, `bpfkit profile -p ${s.id} -F 99 10`],
      });
    }
    return { verdicts };
  },
};

const CPU: Rule = {
  kind: 'cpu-saturated',
  about: 'one thread of the service is on CPU (or waiting for one) nearly all the time: that work cannot go faster',
  thresholds: {
    busiest: { value: 0.85, why: 'a thread on CPU 85% of the window has no idle time left to absorb more work (the rest is scheduling noise and our own overhead)' },
    demand: { value: 0.9, why: 'on a host busy with other work a thread that never blocks gets less CPU: on CPU or runnable 90% of the window, it is still CPU-bound' },
    demandCpu: { value: 0.5, why: 'with demand alone, it must also run half the window: a thread that mostly waits in the run queue is run-queue saturation, not its own work' },
  },
  evaluate(m) {
    const t = this.thresholds;
    const verdicts: Verdict[] = [];
    for (const s of m.services) {
      const h = s.hungriestThread;
      const byDemand = !!h && h.demand >= t.demand!.value && h.cpu >= t.demandCpu!.value;
      if (s.busiestThreadCpu < t.busiest!.value && !byDemand) continue;
      const [tid, comm, cpu] = s.busiestThreadCpu >= t.busiest!.value || !h
        ? [s.busiestThread?.tid, s.busiestThread?.comm, s.busiestThreadCpu]
        : [h.tid, h.comm, h.cpu];
      const runq = h && h.tid === tid ? h.demand - h.cpu : 0;
      const downstream = m.edges.filter((e) => e.from === s.id).map((e) => m.svc.get(e.to as number)).filter((d): d is Service => !!d);
      verdicts.push({
        service: s.id, comm: s.comm, rule: this.kind, score: 2 + 3 * Math.max(s.busiestThreadCpu, byDemand ? h!.demand : 0),
        confidence: Math.max(past(s.busiestThreadCpu, t.busiest!.value, 1), byDemand ? past(h!.demand, t.demand!.value, 1) : 0),
        summary: `${label(s)} is CPU-bound: thread ${comm} (${tid}) is on CPU ${pct(cpu)} of the time${runq > 0.05 ? ` and waiting for a CPU ${pct(runq)}` : ''}`,
        evidence: [
          `${s.comm} uses ${s.cpuCores.toFixed(2)} cores; time: ${pct(s.share.cpu)} on CPU, ${pct(s.share.runq)} waiting for a CPU`,
          ...(runq > 0.05 ? [`the host is busy (${m.busyCores.toFixed(2)} of ${m.cpus} CPUs in use): thread ${tid} never blocks, it runs or waits for a CPU ${pct(cpu + runq)} of the window`] : []),
          ...downstream.map((d) => `downstream ${label(d)} spends ${pct(waitingForData(d) + d.sleepShare)} of its time waiting for input`),
        ],
        next: [`bpfkit profile -p ${s.id} -F 99 10 --svg ${s.comm}.svg`],
      });
    }
    return { verdicts };
  },
};

const THROTTLED: Rule = {
  kind: 'cpu-throttled',
  about: 'the service runs in a cgroup with a CPU quota and is held back by it: runnable, but throttled',
  thresholds: {
    throttled: { value: 0.2, why: 'throttled in at least 1 of 5 enforcement periods: the quota, not the work, sets the pace' },
    used: { value: 0.7, why: 'uses at least 70% of its quota: a service far below its quota is not limited by it' },
  },
  evaluate(m) {
    const t = this.thresholds;
    const verdicts: Verdict[] = [];
    for (const s of m.services) {
      for (const cg of m.cgroupCpuOf(s)) {
        if (cg.quotaCores === undefined || cg.periods <= 0) continue;
        const ratio = cg.throttledPeriods / cg.periods;
        if (ratio < t.throttled!.value || s.cpuCores < t.used!.value * cg.quotaCores) continue;
        verdicts.push({
          service: s.id, comm: s.comm, rule: this.kind, score: 4 + 4 * ratio, confidence: past(ratio, t.throttled!.value, 0.8),
          summary: `${label(s)} is throttled by its CPU quota: ${cg.quotaCores.toFixed(2)} cores allowed, ${s.cpuCores.toFixed(2)} used, throttled in ${pct(ratio)} of periods`,
          evidence: [
            `cgroup ${cg.path}: quota ${cg.quotaCores.toFixed(2)} cores; throttled ${cg.throttledPeriods} of ${cg.periods} periods, ${(cg.throttledNs / 1e9 / m.W).toFixed(2)} s held back per second`,
            `${s.comm} is runnable but not running ${pct(s.share.runq)} of its time (${s.runqCores.toFixed(2)} threads waiting on average) while the host uses ${m.busyCores.toFixed(2)} of ${m.cpus} CPUs: the quota, not the host, holds it back`,
          ],
          next: [`cat /sys/fs/cgroup/cpu${cg.path}/cpu.stat`, `bpfkit profile -p ${s.id} -F 99 10`],
        });
        break;
      }
    }
    return { verdicts };
  },
};

const RUNQUEUE: Rule = {
  kind: 'runqueue-saturated',
  about: 'more threads want to run than there are CPUs: the service waits in the run queue more than it runs',
  thresholds: {
    hostBusy: { value: 0.85, why: 'the CPUs are 85% busy or more: the run queue is the host\'s, not a quota\'s' },
    runqShare: { value: 0.25, why: 'a quarter of the service\'s time runnable but not running' },
    runqThreads: { value: 0.5, why: 'on average half a thread or more waiting for a CPU: a queue, not a blip' },
  },
  evaluate(m, earlier) {
    const t = this.thresholds;
    if (m.busyCores < t.hostBusy!.value * m.cpus) return { verdicts: [] };
    const verdicts: Verdict[] = [];
    const runnable = m.services.reduce((sum, s) => sum + s.cpuCores + s.runqCores, 0);
    for (const s of m.services) {
      if (s.share.runq < t.runqShare!.value || s.runqCores < t.runqThreads!.value) continue;
      if (earlier.some((v) => v.service === s.id && v.rule === 'cpu-throttled')) continue;
      verdicts.push({
        service: s.id, comm: s.comm, rule: this.kind, score: 3 + 4 * s.share.runq, confidence: past(s.share.runq, t.runqShare!.value, 0.75),
        summary: `${label(s)} has more runnable threads than the host has CPUs: ${(s.cpuCores + s.runqCores).toFixed(1)} want to run on average, ${s.runqCores.toFixed(1)} of them waiting`,
        evidence: [
          `the host's ${m.cpus} CPUs are ${pct(Math.min(1, m.busyCores / m.cpus))} busy; ${runnable.toFixed(1)} threads are runnable on average host-wide`,
          `${s.comm}: ${s.pids.length} processes, ${s.threads} threads; ${pct(s.share.cpu)} of their time on CPU, ${pct(s.share.runq)} waiting for one; the busiest thread is on CPU ${pct(s.busiestThreadCpu)}`,
          `fewer workers (or more CPUs) would not lose throughput: the CPUs, not the workers, are the limit`,
        ],
        next: [`bpfkit profile -p ${s.id} -F 49 10`, 'cat /proc/loadavg'],
      });
    }
    return { verdicts };
  },
};

const HOST_CPU: Rule = {
  kind: 'host-cpu-saturated',
  about: 'the host\'s CPUs are all busy though no single thread is (many threads or short-lived processes): the biggest users are named',
  thresholds: {
    hostBusy: { value: 0.85, why: 'the CPUs are 85% busy or more' },
    fairShare: { value: 0.5, why: 'a service using half of one CPU\'s fair share of the load (at least 0.2 cores) is among its causes' },
  },
  evaluate(m, earlier) {
    const t = this.thresholds;
    if (m.busyCores < t.hostBusy!.value * m.cpus) return { verdicts: [] };
    const verdicts: Verdict[] = [];
    let named = 0;
    for (const s of [...m.services].sort((a, b) => b.cpuCores - a.cpuCores)) {
      if (s.cpuCores < Math.max(0.2, (t.fairShare!.value * m.busyCores) / m.cpus) || named >= 8) break;
      named++;
      if (earlier.some((v) => v.service === s.id)) continue;
      const evidence = [
        `the host's ${m.cpus} CPUs are ${pct(Math.min(1, m.busyCores / m.cpus))} busy (${m.busyCores.toFixed(2)} cores in use); ${s.comm} uses ${s.cpuCores.toFixed(2)} of them (${pct(s.cpuCores / m.busyCores)})`,
        `no single thread of ${s.comm} is saturated (busiest on CPU ${pct(s.busiestThreadCpu)} of the time): the load comes from many threads or processes`,
      ];
      if (s.exitedCpuCores > 0.01) evidence.push(`${s.exitedCpuCores.toFixed(2)} cores were used by threads or child processes of ${s.comm} that exited during the window (short-lived processes)`);
      verdicts.push({
        service: s.id, comm: s.comm, rule: this.kind, score: 1.5 + 3 * Math.min(1, s.cpuCores / m.cpus), confidence: past(m.busyCores / m.cpus, t.hostBusy!.value, 1),
        summary: `the CPUs are saturated and ${label(s)} uses ${s.cpuCores.toFixed(2)} cores of ${m.cpus}${s.exitedCpuCores > 0.01 ? `, ${s.exitedCpuCores.toFixed(2)} of them in processes that exited` : ''}`,
        evidence,
        next: ['bpfkit execsnoop', 'bpfkit profile -F 49 10'],
      });
    }
    return { verdicts };
  },
};

const DISK: Rule = {
  kind: 'disk-bound',
  about: 'the service spends most of its time waiting for the disk (fsync/fdatasync, or writes that issue block I/O)',
  thresholds: {
    sync: { value: 0.5, why: 'half of the service\'s time in fsync/fdatasync: the disk sets its pace' },
    writeIo: { value: 0.5, why: 'half of its time blocked in writes while it issues block I/O and sends less over TCP than it writes to disk (O_DSYNC/O_DIRECT writers)' },
  },
  evaluate(m) {
    const t = this.thresholds;
    const verdicts: Verdict[] = [];
    for (const s of m.services) {
      const sync = s.share.wait.sync;
      const directWrites = s.share.wait.write >= t.writeIo!.value && s.ioPerS >= 10 && s.ioBytesPerS > s.outBytesPerS;
      if (sync < t.sync!.value && !directWrites) continue;
      const waitShare = Math.max(sync, directWrites ? s.share.wait.write : 0);
      const how = sync >= t.sync!.value ? 'fsync/fdatasync' : 'synchronous writes';
      const calls = sync >= t.sync!.value ? s.callsPerS.sync : s.callsPerS.write;
      const perCall = calls > 0 ? (sync >= t.sync!.value ? s.waitPerS.sync : s.waitPerS.write) / calls : 0;
      const evidence = [
        `${s.comm} waits in ${how} ${pct(waitShare)} of its time: ${calls.toFixed(0)} calls/s, ${(perCall * 1000).toFixed(1)} ms each on average`,
        `block I/O issued by ${s.comm}: ${s.ioPerS.toFixed(0)} requests/s, ${fmtRate(s.ioBytesPerS)}`,
      ];
      for (const d of (m.snap.disks ?? []).filter((x) => x.writes + x.reads > 0).sort((a, b) => b.writes + b.reads - a.writes - a.reads).slice(0, 2)) {
        evidence.push(`disk ${d.name}: ${(d.writes / m.W).toFixed(0)} writes/s (${fmtRate(d.writeBytes / m.W)}), ${d.writeMsAvg.toFixed(2)} ms per write, busy ${pct(d.busy)}`);
      }
      for (const l of m.ioLimitsOf(s)) {
        const lim = [l.writeIops && `${l.writeIops} writes/s`, l.writeBps && `${fmtRate(l.writeBps)} written`, l.readIops && `${l.readIops} reads/s`, l.readBps && `${fmtRate(l.readBps)} read`].filter(Boolean).join(', ');
        evidence.push(`cgroup ${l.path} limits its I/O on ${l.device} to ${lim}`);
      }
      verdicts.push({
        service: s.id, comm: s.comm, rule: this.kind, score: 1 + 4 * waitShare, confidence: past(waitShare, t.sync!.value, 0.95),
        summary: `${label(s)} waits for the disk: ${pct(waitShare)} of its time in ${how}`,
        evidence,
        next: [`bpfkit ext4slower -p ${s.id} 1`, 'bpfkit biotop', 'bpfkit biolatency -D'],
      });
    }
    return { verdicts };
  },
};

const LOCK: Rule = {
  kind: 'lock-contention',
  about: 'threads of one process take turns on one lock: they wait on the same futex, often, and most of their time',
  thresholds: {
    waiters: { value: 3, why: 'three or more threads waiting on one futex word: contention, not a hand-off between two' },
    waitRate: { value: 100, why: 'at least 100 waits per second: the lock changes hands constantly (idle pools park once and stay)' },
    waitThreads: { value: 0.5, why: 'at least half a thread waiting on it at any moment on average' },
    lockShare: { value: 0.3, why: 'the process\'s threads spend 30% of their time on locks or more' },
  },
  evaluate(m) {
    const t = this.thresholds;
    const verdicts: Verdict[] = [];
    for (const s of m.services) {
      if (s.share.wait.lock < t.lockShare!.value) continue;
      const hot = m.futexesOf(s).filter((f) => f.waiters >= t.waiters!.value && f.waits / m.W >= t.waitRate!.value && f.waitNs / 1e9 / m.W >= t.waitThreads!.value)
        .sort((a, b) => b.waitNs - a.waitNs);
      const f = hot[0];
      // Without per-futex records (older collection), the per-thread futex counters alone.
      const fallback = !m.snap.futexes && s.threads >= t.waiters!.value && s.callsPerS.lock >= t.waitRate!.value && s.waitPerS.lock >= t.waitThreads!.value;
      if (!f && !fallback) continue;
      const evidence = f
        ? [`${f.waiters} threads wait on the futex at ${f.uaddr}: ${(f.waits / m.W).toFixed(0)} waits/s, ${((f.waitNs / Math.max(f.waits, 1)) / 1000).toFixed(0)} us each; ${(f.waitNs / 1e9 / m.W).toFixed(2)} threads waiting on it on average`]
        : [`${s.threads} threads: ${s.callsPerS.lock.toFixed(0)} futex waits/s, ${s.waitPerS.lock.toFixed(2)} threads waiting on locks on average`];
      evidence.push(
        `${s.comm}'s threads spend ${pct(s.share.wait.lock)} of their time waiting on locks and ${pct(s.share.cpu)} on CPU: ${s.cpuCores.toFixed(2)} cores for ${s.threads} threads; the busiest thread is on CPU ${pct(s.busiestThreadCpu)}`,
        `the lock serializes the work: more threads will not go faster`,
      );
      verdicts.push({
        service: s.id, comm: s.comm, rule: this.kind, score: 3 + 4 * s.share.wait.lock, confidence: f ? past(s.share.wait.lock, t.lockShare!.value, 0.9) : 0.4,
        summary: `${label(s)} is limited by lock contention: its threads wait ${pct(s.share.wait.lock)} of their time on ${f ? `one lock (${f.uaddr})` : 'futexes'}`,
        evidence,
        next: [`bpfkit profile -p ${s.id} -F 99 10`, `bpfkit trace -p ${s.id} -e futex`],
      });
    }
    return { verdicts };
  },
};

/** The local service a service writes to the most over TCP, or the remote peer. */
function mainDownstream(m: Model, s: Service): { local?: Service; remote?: string; bytesPerS: number } | undefined {
  const out = m.edges.filter((e) => e.from === s.id).sort((a, b) => b.bytesPerS - a.bytesPerS)[0];
  if (!out) return undefined;
  return isLocal(out.to) ? { local: m.svc.get(out.to), bytesPerS: out.bytesPerS } : { remote: out.to, bytesPerS: out.bytesPerS };
}

const BACKPRESSURE: Rule = {
  kind: 'backpressure',
  about: 'writers are blocked on full socket buffers towards a consumer that reads slowly: the consumer is the bottleneck, not the writers',
  thresholds: {
    blocked: { value: 0.4, why: 'the writer is blocked sending 40% of its time or more' },
    sendQ: { value: 32 * 1024, why: 'a send queue of 32 KiB or more waiting for the receiver: the buffer is full, not just busy' },
  },
  evaluate(m, earlier) {
    const t = this.thresholds;
    const verdicts: Verdict[] = [];
    const notes: string[] = [];
    const bySink = new Map<number, Array<{ w: Service; sendQMax: number }>>();
    for (const w of m.services) {
      if (w.share.wait.write < t.blocked!.value || w.outBytesPerS <= 0) continue;
      const down = mainDownstream(m, w);
      if (!down) continue;
      const queues = m.queuesOf(w).filter((q) => !down.local || m.peerOf(q) === down.local.id);
      const sendQMax = Math.max(0, ...queues.map((q) => q.sendQMax));
      if (queues.length && sendQMax < t.sendQ!.value) continue; // measured, and not full: blocked elsewhere
      if (down.remote) {
        notes.push(`${label(w)} is blocked sending ${pct(w.share.wait.write)} of its time to ${down.remote}, on another host: the slow consumer is there, where diagnose cannot see (measure it on that host)`);
        continue;
      }
      if (!down.local) continue;
      (bySink.get(down.local.id) ?? bySink.set(down.local.id, []).get(down.local.id)!).push({ w, sendQMax });
    }
    for (const [sinkId, writers] of bySink) {
      const sink = m.svc.get(sinkId)!;
      const lines = writers.map(({ w, sendQMax }) => `${label(w)} is blocked sending to it ${pct(w.share.wait.write)} of its time${sendQMax > 0 ? `, with up to ${fmtBytes(sendQMax)} queued on the socket` : ''}`);
      const explained = earlier.find((v) => v.service === sinkId);
      if (explained) {
        explained.evidence.push(...lines.map((l) => `upstream: ${l}`));
        continue;
      }
      const blocked = Math.max(...writers.map(({ w }) => w.share.wait.write));
      const recvQ = Math.max(0, ...m.queuesOf(sink).map((q) => q.recvQMax));
      verdicts.push({
        service: sink.id, comm: sink.comm, rule: this.kind, score: 2 + 4 * blocked,
        confidence: past(blocked, t.blocked!.value, 0.95) * (writers.some((x) => x.sendQMax > 0) ? 1 : 0.6),
        summary: `${label(sink)} reads too slowly: its writers are blocked on full socket buffers (backpressure)`,
        evidence: [
          ...lines,
          `${sink.comm} takes in ${fmtRate(sink.inBytesPerS)}${recvQ > 0 ? ` and leaves up to ${fmtBytes(recvQ)} unread in its receive queue` : ''}`,
          describeTime(sink),
        ],
        next: [`bpfkit trace -p ${sink.id}`, `bpfkit syscount -L -p ${sink.id}`, `bpfkit sockets -p ${sink.id}`],
      });
    }
    return { verdicts, notes };
  },
};

const SLOW_DEPENDENCY: Rule = {
  kind: 'slow-dependency',
  about: 'a client makes request/response calls to a server and spends most of its time waiting for the replies; the server is slow to answer, though not saturated',
  thresholds: {
    roundTrip: { value: 0.5, why: 'replies and requests within 2x of each other in count: calls, not a stream' },
    waiting: { value: 0.5, why: 'the client waits for replies half of its time or more: the calls set its pace' },
    serverBusy: { value: 0.85, why: 'a server with a thread on CPU 85% of the time is CPU-bound (that rule names it)' },
  },
  evaluate(m, earlier) {
    const t = this.thresholds;
    const verdicts: Verdict[] = [];
    const notes: string[] = [];
    for (const c of m.services) {
      const waiting = waitingForData(c);
      if (waiting < t.waiting!.value) continue;
      if (earlier.some((v) => v.service === c.id && v.rule === 'pull-limited consumer')) continue;
      const calls = m.edges.filter((e) => e.from === c.id).map((up) => ({ up, down: m.edge(up.to, c.id) }))
        .filter((x): x is { up: typeof x.up; down: NonNullable<typeof x.down> } => !!x.down && x.up.msgsPerS > 0 && x.down.msgsPerS > 0
          && Math.min(x.up.msgsPerS, x.down.msgsPerS) / Math.max(x.up.msgsPerS, x.down.msgsPerS) >= t.roundTrip!.value)
        .filter((x) => (isLocal(x.up.to) ? m.isClientOf(c, m.svc.get(x.up.to)!) : m.isClientOfRemote(c, x.up.to)) !== false)
        .sort((a, b) => b.up.msgsPerS - a.up.msgsPerS);
      const call = calls[0];
      if (!call) continue;
      const waitedPerCall = (c.waitPerS.input + c.waitPerS.read) / call.up.msgsPerS;
      if (!isLocal(call.up.to)) {
        notes.push(`${label(c)} waits for replies from ${call.up.to} ${pct(waiting)} of its time (${call.up.msgsPerS.toFixed(0)} calls/s, ${(waitedPerCall * 1000).toFixed(1)} ms each): that server is on another host, where diagnose cannot see; measure it there`);
        continue;
      }
      const s = m.svc.get(call.up.to);
      if (!s || s.busiestThreadCpu >= t.serverBusy!.value || m.isClientOf(c, s) === false) continue;
      if (earlier.some((v) => v.service === s.id && v.rule !== 'backpressure')) continue;
      verdicts.push({
        service: s.id, comm: s.comm, rule: this.kind, score: 2 + 4 * waiting, confidence: past(waiting, t.waiting!.value, 0.95),
        summary: `${label(s)} answers slowly: ${label(c)} waits for its replies ${pct(waiting)} of its time, ${(waitedPerCall * 1000).toFixed(1)} ms per call`,
        evidence: [
          `${c.comm} -> ${s.comm} is request/response: ${call.up.msgsPerS.toFixed(0)} requests/s, ${call.down.msgsPerS.toFixed(0)} replies/s (${fmtRate(call.up.bytesPerS)} / ${fmtRate(call.down.bytesPerS)})`,
          `${c.comm} waits ${(waitedPerCall * 1000).toFixed(1)} ms per call on average (${pct(waiting)} of its time): its throughput is 1 / round trip`,
          `${s.comm} is not CPU-bound (busiest thread on CPU ${pct(s.busiestThreadCpu)}); ${describeTime(s)}`,
        ],
        next: [`bpfkit trace -p ${s.id}`, `bpfkit syscount -L -p ${s.id}`],
      });
    }
    return { verdicts, notes };
  },
};

/** The table, in evaluation order: specific causes before the generic ones that look at their symptoms. */
export const RULES: readonly Rule[] = [PULL, GC, CPU, THROTTLED, RUNQUEUE, HOST_CPU, DISK, LOCK, BACKPRESSURE, SLOW_DEPENDENCY];

/** Notes about the host that are not verdicts: CPU contention, stages pacing themselves on timers. */
export function hostNotes(m: Model, verdicts: readonly Verdict[]): string[] {
  const notes: string[] = [];
  // A throttled service waits for its quota, not for a CPU: its verdict says so.
  const throttled = new Set(verdicts.filter((v) => v.rule === 'cpu-throttled').map((v) => v.service));
  const starved = m.services.filter((s) => s.share.runq >= 0.25 && s.cpuCores > 0.05 && !throttled.has(s.id)).sort((a, b) => b.share.runq - a.share.runq);
  if (starved.length) {
    notes.push(`CPU contention: ${starved.slice(0, 5).map((s) => `${label(s)} waits for a CPU ${pct(s.share.runq)} of its time`).join('; ')} (host has ${m.cpus} CPUs; next: bpfkit profile -F 49 10)`);
  }
  // A JVM's own threads are set apart from its application's: say how much they used.
  for (const s of m.services) {
    const j = s.jvm;
    if (!j || s.cpuCores < 0.01) continue;
    notes.push(`${label(s)} is a JVM: GC ${pct(j.gcShare)} of its CPU (${j.gcCores.toFixed(2)} cores), JIT compilers ${j.jitCores.toFixed(2)} cores, other JVM threads ${j.vmCores.toFixed(2)} cores; its ${j.threads} JVM threads are not counted as application work (${s.threads} application threads)`);
  }
  // A stage that mostly sleeps on a timer paces itself; it is not waiting for I/O (select/poll
  // with no file descriptors is a sleep too).
  for (const s of m.services) {
    if (s.inBytesPerS + s.outBytesPerS === 0 || s.sleepShare < 0.1) continue;
    const how = s.share.wait.select_sleep >= s.share.wait.sleep
      ? 'select/poll with no file descriptors and a timeout, which is a sleep, not waiting for I/O'
      : 'nanosleep/clock_nanosleep, or futex waits with a timeout';
    notes.push(`${label(s)} is sleeping on a timer ${pct(s.sleepShare)} of its time (${how}); ${pct(s.share.wait.input)} waiting for input, ${pct(s.share.cpu)} on CPU; it sends ${fmtRate(s.outBytesPerS)}`);
  }
  return notes;
}
