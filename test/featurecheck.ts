// Feature probes checked against what a load actually does, on whatever kernel this runs on:
// each probe's answer must equal the outcome of loading and attaching a real tool program that
// needs that feature. Imported by core.test.ts; run as a script (node dist/test/featurecheck.js)
// it prints the comparisons as JSON (used inside the second kernel's VM).
import { BpfObject, bpfObjectPath } from '../src/core/bpf.js';
import { kernelHasType } from '../src/core/btf.js';
import { hasBtfTracepoint, hasFentry, hasKprobes, hasRingbuf, hasTaskStorage, hasTpBtf } from '../src/core/features.js';

export interface FeatureCheck { feature: string; probed: boolean; actual: boolean }

/** Load (and attach, unless attach is false) one program of a committed object; true if it worked. */
function works(object: string, program: string, attach = true): boolean {
  let obj: BpfObject | undefined;
  try {
    obj = BpfObject.openFile(bpfObjectPath(object));
    obj.selectPrograms([program]);
    obj.load();
    if (attach) obj.program(program).attach();
    return true;
  } catch {
    return false;
  } finally {
    obj?.close();
  }
}

export function checkFeatures(): FeatureCheck[] {
  const tp = (name: string, object: string, program: string): FeatureCheck =>
    ({ feature: `tp_btf:${name}`, probed: hasBtfTracepoint(name), actual: works(object, program) });
  return [
    // tp_btf/sys_exit of execsnoop: a tp_btf program (probe_tp_btf uses sched_process_fork).
    { feature: 'tp_btf', probed: hasTpBtf(), actual: works('execsnoop', 'execsnoop_exit') },
    { feature: 'fentry', probed: hasFentry(), actual: works('tcptop', 'tcptop_fx_send') },
    { feature: 'kprobes', probed: hasKprobes(), actual: works('tcptop', 'tcptop_kp_send') },
    // opensnoop's only map besides `lost` is its ring buffer; syscount's entry program uses task storage.
    { feature: 'ringbuf', probed: hasRingbuf(), actual: works('opensnoop', 'opensnoop_exit', false) },
    { feature: 'taskStorage', probed: hasTaskStorage(), actual: works('syscount', 'syscount_enter', false) },
    tp('sock_send_length', 'tcptop', 'tcptop_send'),
    tp('block_io_start', 'biotop', 'biotop_io_start'),
    tp('sys_enter', 'syscount', 'syscount_enter'),
  ];
}

/** The fast scan of the kernel's BTF strings against libbpf's own lookup of the typedef. */
export function checkTracepointNames(names: string[]): Array<{ name: string; scan: boolean; libbpf: boolean }> {
  return names.map((name) => ({ name, scan: hasBtfTracepoint(name), libbpf: kernelHasType(`btf_trace_${name}`, 8) }));
}

export const TRACEPOINT_NAMES = ['sys_enter', 'sys_exit', 'sched_process_fork', 'sched_switch', 'sock_send_length', 'block_io_start', 'block_rq_issue', 'inet_sock_set_state', 'bpfkit_no_such_tracepoint', 'sys_ente'];

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  console.log(JSON.stringify({ checks: checkFeatures(), names: checkTracepointNames(TRACEPOINT_NAMES) }));
}
