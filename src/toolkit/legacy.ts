// TEMPORARY, removed when every tool is on defineTool: runs a tool written against the old
// `run(argv, ctx)` contract under the new runner (signals, output, cleanup).
import { defineTool, type ToolCommand } from './runner.js';

export interface LegacyContext {
  out: (text: string) => void;
  verbose: (text: string) => void;
  signal: AbortSignal;
  isTTY: boolean;
  ready: () => void;
}

export interface LegacyCommand {
  name: string;
  summary: string;
  help: string;
  run(argv: string[], ctx: LegacyContext): Promise<void>;
}

export function legacyTool(cmd: LegacyCommand): ToolCommand {
  const tool = defineTool<string[]>({
    name: cmd.name, summary: cmd.summary, about: '', flags: [], raw: true, bpf: false, snapshot: true,
    parse: (a) => a.positionals,
    run: (argv, rt) => cmd.run(argv, { out: (t) => rt.write(t), verbose: rt.verbose, signal: rt.signal, isTTY: rt.isTTY, ready: () => rt.ready() }),
  });
  return { ...tool, help: cmd.help };
}
