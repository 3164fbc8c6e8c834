// Probe a hook type by loading (and attaching) one tiny program from bpf/probe.bpf.o.
import { BpfObject, bpfObjectPath } from './bpf.js';

export function probeProgram(name: string, attach: boolean): boolean {
  let obj: BpfObject | undefined;
  try {
    obj = BpfObject.openFile(bpfObjectPath('probe'));
    obj.selectPrograms([name]);
    obj.load();
    if (attach) obj.program(name).attach();
    return true;
  } catch {
    return false;
  } finally {
    obj?.close();
  }
}
