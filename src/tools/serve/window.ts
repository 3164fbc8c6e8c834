// The rolling diagnose window of `bpfkit serve`: a DiagnoseSession runs for one interval, is read
// and analyzed with diagnose's own code (collect.ts, analyze.ts), closed, and a fresh one starts.
// Restarting bounds the maps (threads and connections of one window only) for a run of days.
import { note } from '../../core/log.js';
import { analyze, type Report } from '../diagnose/analyze.js';
import { DiagnoseSession } from '../diagnose/collect.js';

export class DiagnoseWindow {
  private session: DiagnoseSession | undefined;
  private timer: NodeJS.Timeout | undefined;
  last: Report | undefined;
  lastAt = 0;
  windows = 0;

  constructor(intervalS: number, private readonly onReport: (r: Report) => void) {
    // Off-CPU stacks cost a stack walk at every block: the window keeps the on-CPU samples only.
    this.session = DiagnoseSession.start({ offcpuStacks: false });
    this.timer = setInterval(() => this.roll(), intervalS * 1000);
    this.timer.unref();
  }

  private roll(): void {
    const old = this.session;
    this.session = undefined;
    if (!old) return this.restart();
    let snap;
    try {
      snap = old.snapshot();
    } catch (e) {
      note(`serve: diagnose window not read: ${(e as Error).message}`);
    } finally {
      old.close();
    }
    this.restart();
    if (!snap) return;
    try {
      this.last = analyze(snap);
      this.lastAt = Date.now();
      this.windows++;
      this.onReport(this.last);
    } catch (e) {
      note(`serve: diagnose window not analyzed: ${(e as Error).message}`);
    }
  }

  private restart(): void {
    try {
      this.session = DiagnoseSession.start({ offcpuStacks: false });
    } catch (e) {
      note(`serve: diagnose window not restarted: ${(e as Error).message}`);
    }
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.session?.close();
    this.session = undefined;
  }
}
