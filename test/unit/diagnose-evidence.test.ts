// Parsers behind diagnose's evidence (no kernel, no root): cgroup CPU and I/O files (v1 and v2),
// /proc/PID/cgroup and mounts, /proc/diskstats deltas, socket queue sampling, futex aggregation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { endianness, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  cfsQuotaCores, cgroupAncestors, cpuCgroupDir, parseCgroupMounts, parseCpuMax, parseCpuStat, parseIoMax,
  parseProcCgroup, parseThrottleDevice,
} from '../../src/core/cgroups.js';
import { diskDeltas, parseDiskstats } from '../../src/core/diskstats.js';
import { TcpQueueSampler } from '../../src/core/tcpqueues.js';
import { aggregateFutexes } from '../../src/tools/diagnose/collect.js';

test('cpu.stat v1: throttled_time in ns', () => {
  const text = 'nr_periods 1200\nnr_throttled 300\nthrottled_time 4500000000\nnr_bursts 0\nburst_time 0\n';
  assert.deepEqual(parseCpuStat(text), { periods: 1200, throttledPeriods: 300, throttledNs: 4_500_000_000 });
});

test('cpu.stat v2: throttled_usec converted to ns; usage-only cpu.stat has no bandwidth counters', () => {
  const v2 = 'usage_usec 9000000\nuser_usec 8000000\nsystem_usec 1000000\nnr_periods 50\nnr_throttled 20\nthrottled_usec 1500000\nnr_bursts 0\nburst_usec 0\n';
  assert.deepEqual(parseCpuStat(v2), { periods: 50, throttledPeriods: 20, throttledNs: 1_500_000_000 });
  // cgroup2 without the cpu controller enabled (hybrid hosts): usage only.
  assert.equal(parseCpuStat('usage_usec 12\nuser_usec 10\nsystem_usec 2\n'), undefined);
});

test('quota: cpu.max and cfs_quota_us/cfs_period_us in cores, no limit is undefined', () => {
  assert.equal(parseCpuMax('50000 100000\n'), 0.5);
  assert.equal(parseCpuMax('max 100000\n'), undefined);
  assert.equal(parseCpuMax('150000 100000'), 1.5);
  assert.equal(cfsQuotaCores('20000\n', '100000\n'), 0.2);
  assert.equal(cfsQuotaCores('-1\n', '100000\n'), undefined);
});

test('/proc/PID/cgroup: v1 controllers (joined ones too) and the v2 path', () => {
  const cg = parseProcCgroup('12:cpu,cpuacct:/docker/abc\n7:blkio:/docker/abc\n1:name=systemd:/init.scope\n0::/system.slice/x.service\n');
  assert.equal(cg.v1.get('cpu'), '/docker/abc');
  assert.equal(cg.v1.get('cpuacct'), '/docker/abc');
  assert.equal(cg.v1.get('blkio'), '/docker/abc');
  assert.equal(cg.v2, '/system.slice/x.service');
  const pure = parseProcCgroup('0::/user.slice/a\n');
  assert.equal(pure.v1.size, 0);
  assert.equal(pure.v2, '/user.slice/a');
});

test('cgroup mounts: hybrid (v1 cpu beside cgroup2) and pure v2; the cpu directory chosen', () => {
  const hybrid = parseCgroupMounts([
    'tmpfs /sys/fs/cgroup tmpfs rw 0 0',
    'cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,nosuid,cpu,cpuacct 0 0',
    'cgroup /sys/fs/cgroup/blkio cgroup rw,blkio 0 0',
    'cgroup /sys/fs/cgroup/systemd cgroup rw,name=systemd 0 0',
    'cgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0',
  ].join('\n'));
  assert.equal(hybrid.v1.get('cpu'), '/sys/fs/cgroup/cpu,cpuacct');
  assert.equal(hybrid.v1.get('blkio'), '/sys/fs/cgroup/blkio');
  assert.equal(hybrid.v2, '/sys/fs/cgroup/unified');
  const cg = parseProcCgroup('3:cpu,cpuacct:/lab\n0::/\n');
  assert.deepEqual(cpuCgroupDir(cg, hybrid), { id: 'v1:/lab', dir: '/sys/fs/cgroup/cpu,cpuacct/lab', v: 1 });
  const v2 = parseCgroupMounts('cgroup2 /sys/fs/cgroup cgroup2 rw,nsdelegate 0 0\n');
  assert.deepEqual(cpuCgroupDir(parseProcCgroup('0::/lab/stage\n'), v2), { id: 'v2:/lab/stage', dir: '/sys/fs/cgroup/lab/stage', v: 2 });
  assert.deepEqual(cgroupAncestors('/lab/stage/'), ['/lab/stage', '/lab']);
  assert.deepEqual(cgroupAncestors('/'), []);
});

test('I/O limits: blkio.throttle.*_device lines and io.max', () => {
  assert.deepEqual([...parseThrottleDevice('8:0 1048576\n7:3 2097152\n')], [['8:0', 1048576], ['7:3', 2097152]]);
  assert.deepEqual([...parseThrottleDevice('')], []);
  assert.deepEqual(parseIoMax('7:0 rbps=max wbps=1048576 riops=max wiops=100\n8:0 rbps=max wbps=max riops=max wiops=max\n'), [
    { device: '7:0', writeBps: 1048576, writeIops: 100 },
  ]);
});

test('diskstats: deltas in bytes, average latency, busy share; idle devices left out', () => {
  const before = parseDiskstats([
    ' 254       0 vda 1000 10 80000 500 2000 20 160000 4000 0 3000 4500 0 0 0 0 100 50',
    '   7       0 loop0 5 0 40 1 0 0 0 0 0 2 1 0 0 0 0 0 0',
  ].join('\n'));
  const after = parseDiskstats([
    ' 254       0 vda 1010 10 80080 520 2100 20 168000 4500 1 4000 5100 0 0 0 0 100 50',
    '   7       0 loop0 5 0 40 1 0 0 0 0 0 2 1 0 0 0 0 0 0',
  ].join('\n'));
  assert.deepEqual(diskDeltas(before, after, 2000), [{
    name: 'vda', reads: 10, writes: 100, readBytes: 80 * 512, writeBytes: 8000 * 512,
    readMsAvg: 2, writeMsAvg: 5, busy: 0.5,
  }]);
  // A device that appeared during the window has no start: left out.
  assert.deepEqual(diskDeltas(new Map(), after, 2000), []);
});

test('socket queues: max and average per connection over samples, LISTEN skipped, bounded', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bpfkit-q-'));
  try {
    const le = endianness() === 'LE';
    const lo = le ? '0100007F' : '7F000001';
    const port = (p: number) => p.toString(16).toUpperCase().padStart(4, '0');
    const row = (i: number, lp: number, rp: number, st: string, tx: number, rx: number, inode: number) =>
      `   ${i}: ${lo}:${port(lp)} ${rp ? lo : '00000000'}:${port(rp)} ${st} ${tx.toString(16).padStart(8, '0')}:${rx.toString(16).padStart(8, '0')} 00:00000000 00000000     0        0 ${inode} 1 0000000000000000 20 4 30 10 -1`;
    const header = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';
    const sampler = new TcpQueueSampler(2, dir);
    writeFileSync(join(dir, 'tcp'), header + [row(0, 8080, 0, '0A', 0, 0, 100), row(1, 8080, 40000, '01', 0, 1000, 101), row(2, 40000, 8080, '01', 300, 0, 102)].join('\n') + '\n');
    sampler.sample();
    writeFileSync(join(dir, 'tcp'), header + [row(0, 8080, 0, '0A', 0, 0, 100), row(1, 8080, 40000, '01', 0, 3000, 101), row(2, 40000, 8080, '01', 100, 0, 102), row(3, 9, 41000, '01', 5, 5, 103)].join('\n') + '\n');
    sampler.sample(); // no tcp6 file: IPv4 only
    assert.equal(sampler.samples, 2);
    assert.equal(sampler.tracks.size, 2);
    assert.equal(sampler.untracked, 1);
    assert.deepEqual(sampler.tracks.get(101), { inode: 101, laddr: '127.0.0.1', lport: 8080, raddr: '127.0.0.1', rport: 40000, sendQMax: 0, sendQSum: 0, recvQMax: 3000, recvQSum: 4000, samples: 2 });
    const t = sampler.tracks.get(102)!;
    assert.equal(t.sendQMax, 300);
    assert.equal(t.sendQSum / t.samples, 200);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('futexes: per process and word, waiters are distinct threads, heaviest first', () => {
  const out = aggregateFutexes([
    { tgid: 10, tid: 11, uaddr: 0x1000n, ns: 100, count: 2 },
    { tgid: 10, tid: 12, uaddr: 0x1000n, ns: 300, count: 1 },
    { tgid: 10, tid: 13, uaddr: 0x1000n, ns: 50, count: 5 },
    { tgid: 10, tid: 11, uaddr: 0x2000n, ns: 1000, count: 1 },
    { tgid: 20, tid: 21, uaddr: 0x1000n, ns: 10, count: 1 },
  ]);
  assert.deepEqual(out, [
    { tgid: 10, uaddr: '0x2000', waitNs: 1000, waits: 1, waiters: 1 },
    { tgid: 10, uaddr: '0x1000', waitNs: 450, waits: 8, waiters: 3 },
    { tgid: 20, uaddr: '0x1000', waitNs: 10, waits: 1, waiters: 1 },
  ]);
});
