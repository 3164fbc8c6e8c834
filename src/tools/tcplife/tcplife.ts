// tcplife's kernel side: bpf/tcplife.bpf.o on tp_btf/inet_sock_set_state; one record per TCP
// connection when it reaches CLOSE, with duration and bytes.
import { bpfObjectPath } from '../../core/bpf.js';
import { fileDatasecVars } from '../../core/btf.js';
import { formatAddr } from '../../core/net.js';
import { RingSource, openRingSource } from '../../toolkit/stream.js';

let maxPorts_: number | undefined;
/** Ports per -L/-D list: the size of the constant arrays lports/rports (object's BTF). */
export function maxPorts(): number {
  if (maxPorts_ !== undefined) return maxPorts_;
  const vars = fileDatasecVars(bpfObjectPath('tcplife'), '.rodata');
  const n = vars.lports?.count;
  if (n === undefined || vars.rports?.count !== n) throw new Error('bpf/tcplife.bpf.o has no BTF for the lports/rports arrays (rebuild with bpf/build.sh)');
  maxPorts_ = n;
  return n;
}

export interface TcplifeFilters {
  tgid?: number;
  family?: 4 | 6;
  localPorts?: number[];
  remotePorts?: number[];
}

export interface TcplifeRecord {
  tsNs: bigint;
  /** The task's cgroup2 id (its container, resolvable after it exited). */
  cgroupId?: number;
  pid: number;
  comm: string;
  family: 4 | 6;
  laddr: string;
  lport: number;
  raddr: string;
  rport: number;
  /** Bytes sent and acknowledged by the peer (tcp_sock.bytes_acked). */
  txBytes: number;
  /** Bytes received (tcp_sock.bytes_received). */
  rxBytes: number;
  spanNs: number;
}

function ports(list: number[] | undefined): Buffer {
  const b = Buffer.alloc(2 * maxPorts());
  (list ?? []).forEach((p, i) => b.writeUInt16LE(p, 2 * i));
  return b;
}

export function openTcplife(f: TcplifeFilters, bufferMb: number): RingSource {
  return openRingSource({
    object: 'tcplife',
    programs: [{ name: 'tcplife_state', tracepoint: 'inet_sock_set_state' }],
    bufferMb,
    constants: {
      filter_tgid: f.tgid ?? 0,
      filter_family: f.family === 4 ? 2 : f.family === 6 ? 10 : 0,
      n_lports: f.localPorts?.length ?? 0,
      lports: ports(f.localPorts),
      n_rports: f.remotePorts?.length ?? 0,
      rports: ports(f.remotePorts),
    },
  });
}

export function tcplifeDecoder(s: RingSource): (b: Buffer) => TcplifeRecord {
  const v = s.struct('tcplife_event');
  return (b) => {
    const family = v.uint(b, 'family') === 2 ? 4 : 6;
    const sa = v.bytes(b, 'saddr');
    const da = v.bytes(b, 'daddr');
    return {
      tsNs: v.u64(b, 'ts_ns'),
      cgroupId: Number(v.u64(b, 'cgroup_id')),
      pid: v.uint(b, 'pid'),
      comm: v.str(b, 'comm'),
      family,
      laddr: formatAddr(family, sa),
      lport: v.uint(b, 'lport'),
      raddr: formatAddr(family, da),
      rport: v.uint(b, 'rport'),
      txBytes: v.uint(b, 'tx_bytes'),
      rxBytes: v.uint(b, 'rx_bytes'),
      spanNs: v.uint(b, 'span_ns'),
    };
  };
}
