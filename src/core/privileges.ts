// Root or the capabilities BPF tracing needs (CAP_BPF + CAP_PERFMON, or CAP_SYS_ADMIN).
import { BpfkitError } from './errors.js';
import { readStatus } from './proc.js';

const CAP_SYS_ADMIN = 21n;
const CAP_PERFMON = 38n;
const CAP_BPF = 39n;

export function effectiveCaps(): bigint {
  const capEff = readStatus('self')?.get('CapEff');
  return capEff ? BigInt('0x' + capEff) : 0n;
}

export function requireBpfPrivileges(): void {
  const caps = effectiveCaps();
  const has = (c: bigint) => (caps >> c) & 1n;
  if (has(CAP_SYS_ADMIN) || (has(CAP_BPF) && has(CAP_PERFMON))) return;
  throw new BpfkitError('NOT_ROOT', 'this tool loads eBPF programs: run it as root (or with CAP_BPF and CAP_PERFMON)');
}
