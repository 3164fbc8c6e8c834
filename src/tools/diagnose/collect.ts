// diagnose's kernel side: load every program of bpf/diagnose.bpf.o for the whole host, wait,
// and read the per-thread and per-connection counters into plain records.
import { readdirSync, readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { BpfObject, bpfObjectPath } from '../../core/bpf.js';
import { BpfkitError } from '../../core/errors.js';
import { hasBtfTracepoint, hasFentry, hasKernelFunc, hasTaskStorage } from '../../core/features.js';
import { note } from '../../core/log.js';
import { syscallNumber } from '../../core/syscalls/index.js';
import { listSockets } from '../sockets/sockets.js';

/** Wait kinds, in the order of enum diag_wait in bpf/diagnose.h. */
export const WAIT_KINDS = ['other', 'input', 'sleep', 'select_sleep', 'read', 'write', 'sync', 'lock'] as const;
export type WaitKind = (typeof WAIT_KINDS)[number];
const SELECT_LIKE = 9;
const POLL_LIKE = 10;

/** Which syscalls block on what (by name; numbers come from the generated table). */
const SYSCALL_KINDS: Record<string, number> = {
  epoll_wait: 1, epoll_pwait: 1, epoll_pwait2: 1, accept: 1, accept4: 1,
  select: SELECT_LIKE, pselect6: SELECT_LIKE, poll: POLL_LIKE, ppoll: POLL_LIKE,
  nanosleep: 2, clock_nanosleep: 2,
  read: 4, readv: 4, pread64: 4, preadv: 4, preadv2: 4, recvfrom: 4, recvmsg: 4, recvmmsg: 4,
  write: 5, writev: 5, pwrite64: 5, pwritev: 5, pwritev2: 5, sendto: 5, sendmsg: 5, sendmmsg: 5,
  fsync: 6, fdatasync: 6, sync_file_range: 6, syncfs: 6, msync: 6,
  futex: 7, futex_waitv: 7,
};

export interface ThreadStat {
  tid: number; tgid: number; comm: string;
  oncpuNs: number; runqNs: number; syscalls: number; ioBytes: number; ioCount: number;
  waitNs: Record<WaitKind, number>; waitCount: Record<WaitKind, number>;
}

export interface FlowStat {
  tgid: number; family: 4 | 6;
  laddr: string; lport: number; raddr: string; rport: number;
  txBytes: number; rxBytes: number; txCalls: number; rxCalls: number;
}

export interface ProcInfo { pid: number; comm: string; ppid: number; cgroup: string; cmdline: string }

export interface Snapshot {
  windowS: number;
  cpus: number;
  threads: ThreadStat[];
  flows: FlowStat[];
  procs: Map<number, ProcInfo>;
  /** Local TCP endpoint "addr port" -> owning pid, from /proc (for peers that moved no data). */
  endpoints: Map<string, number>;
  localAddrs: Set<string>;
  selfPid: number;
}

export function readProcs(into = new Map<number, ProcInfo>()): Map<number, ProcInfo> {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const ppid = Number(stat.slice(close + 2).split(' ')[1]);
      const cg = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.startsWith('0::'))?.slice(3) ?? '';
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+$/, '').replace(/\0/g, ' ');
      into.set(pid, { pid, comm, ppid, cgroup: cg, cmdline });
    } catch {
      // exited while we looked
    }
  }
  return into;
}

function addrText(bytes: Buffer, family: number): string {
  if (family === 2) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push(bytes.readUInt16BE(i).toString(16));
  const v6 = words.join(':').replace(/\b(?:0:){2,}/, '::').replace(/:{3,}/, '::');
  const mapped = /^::ffff:([0-9a-f]+):([0-9a-f]+)$/.exec(v6);
  if (mapped) return `${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  return v6;
}

export class DiagnoseSession {
  private constructor(private obj: BpfObject, private started: number, private procsAtStart: Map<number, ProcInfo>) {}

  static start(): DiagnoseSession {
    const missing = ['sys_enter', 'sys_exit', 'sched_switch', 'sched_wakeup'].filter((tp) => !hasBtfTracepoint(tp));
    if (missing.length) throw new BpfkitError('NOT_SUPPORTED', `diagnose needs BTF tracepoints ${missing.join(', ')} (Linux 5.5+ with BTF)`);
    if (!hasTaskStorage()) throw new BpfkitError('NOT_SUPPORTED', 'diagnose needs BPF task storage (Linux 5.11+)');
    const procsAtStart = readProcs();
    const obj = BpfObject.openFile(bpfObjectPath('diagnose'));
    try {
      const kinds = Buffer.alloc(1024);
      for (const [name, kind] of Object.entries(SYSCALL_KINDS)) {
        const nr = syscallNumber(name);
        if (nr !== undefined && nr < kinds.length) kinds[nr] = kind;
      }
      obj.setConstants({ wait_kind: kinds }); // bpfkit_self_tgid: set by load()
      const programs = ['diagnose_sys_enter', 'diagnose_sys_exit', 'diagnose_switch', 'diagnose_wakeup', 'diagnose_wakeup_new'];
      if (hasBtfTracepoint('sock_send_length') && hasBtfTracepoint('sock_recv_length')) {
        programs.push('diagnose_send', 'diagnose_recv');
        note('diagnose: TCP bytes from tp_btf/sock_send_length + sock_recv_length');
      } else if (hasKernelFunc('tcp_sendmsg') && hasKernelFunc('tcp_recvmsg') && hasFentry()) {
        programs.push('diagnose_fx_send', 'diagnose_fx_recv');
        note('diagnose: no sock_*_length tracepoints: TCP bytes from fexit/tcp_sendmsg + fexit/tcp_recvmsg');
      } else {
        note('diagnose: neither sock_*_length tracepoints nor fexit on tcp_sendmsg/tcp_recvmsg: TCP flows are not measured on this kernel');
      }
      if (hasBtfTracepoint('block_rq_issue')) programs.push('diagnose_block');
      obj.selectPrograms(programs);
      obj.load();
      obj.attachAll();
      note(`diagnose: attached ${programs.map((p) => p.replace('diagnose_', '')).join(', ')}`);
    } catch (err) {
      obj.close();
      throw err;
    }
    return new DiagnoseSession(obj, Date.now(), procsAtStart);
  }

  /** Read everything measured since start. */
  snapshot(): Snapshot {
    const windowS = (Date.now() - this.started) / 1000;
    const tv = this.obj.struct('diag_thread');
    const threads: ThreadStat[] = [];
    const waitOff = tv.field('wait_ns').offset;
    const countOff = tv.field('wait_count').offset;
    for (const [k, v] of this.obj.map('threads').entries()) {
      const waitNs = {} as Record<WaitKind, number>;
      const waitCount = {} as Record<WaitKind, number>;
      WAIT_KINDS.forEach((kind, i) => {
        waitNs[kind] = Number(v.readBigUInt64LE(waitOff + i * 8));
        waitCount[kind] = Number(v.readBigUInt64LE(countOff + i * 8));
      });
      threads.push({
        tid: k.readUInt32LE(0), tgid: tv.uint(v, 'tgid'), comm: tv.str(v, 'comm'),
        oncpuNs: tv.uint(v, 'oncpu_ns'), runqNs: tv.uint(v, 'runq_ns'), syscalls: tv.uint(v, 'syscalls'),
        ioBytes: tv.uint(v, 'io_bytes'), ioCount: tv.uint(v, 'io_count'), waitNs, waitCount,
      });
    }
    const kv = this.obj.struct('diag_flow_key');
    const fv = this.obj.struct('diag_flow');
    const flows: FlowStat[] = [];
    for (const [k, v] of this.obj.map('flows').entries()) {
      const fam = kv.uint(k, 'family');
      flows.push({
        tgid: kv.uint(k, 'tgid'), family: fam === 2 ? 4 : 6,
        laddr: addrText(kv.bytes(k, 'laddr'), fam), lport: kv.uint(k, 'lport'),
        raddr: addrText(kv.bytes(k, 'raddr'), fam), rport: kv.uint(k, 'rport'),
        txBytes: fv.uint(v, 'tx_bytes'), rxBytes: fv.uint(v, 'rx_bytes'), txCalls: fv.uint(v, 'tx_calls'), rxCalls: fv.uint(v, 'rx_calls'),
      });
    }
    const procs = readProcs(new Map(this.procsAtStart));
    const endpoints = new Map<string, number>();
    try {
      for (const s of listSockets({ all: true })) {
        if ((s.proto === 'tcp' || s.proto === 'tcp6') && s.localAddr !== null && s.localPort !== null) {
          endpoints.set(`${s.localAddr.replace(/^::ffff:/, '')} ${s.localPort}`, s.pid);
        }
      }
    } catch {
      // best effort: flows seen in the kernel already name both ends in most cases
    }
    const localAddrs = new Set<string>(['127.0.0.1', '::1']);
    for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) localAddrs.add(a.address);
    return { windowS, cpus: cpuCount(), threads, flows, procs, endpoints, localAddrs, selfPid: process.pid };
  }

  close(): void {
    this.obj.close();
  }
}

function cpuCount(): number {
  try {
    return readFileSync('/proc/stat', 'utf8').split('\n').filter((l) => /^cpu\d+ /.test(l)).length || 1;
  } catch {
    return 1;
  }
}
