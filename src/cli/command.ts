// The contract between the CLI and a tool. A tool parses its own flags (with src/cli/args.ts),
// runs until `ctx.signal` aborts (Ctrl-C, SIGTERM, -d elapsed), and writes only through `ctx.out`.
export interface ToolContext {
  /** Write text to stdout (the CLI owns the stream). */
  out: (text: string) => void;
  /** Diagnostics for --verbose (stderr); a no-op otherwise. */
  verbose: (text: string) => void;
  /** Aborted on SIGINT/SIGTERM; tools must stop, print what they have, and release everything. */
  signal: AbortSignal;
  /** stdout is a terminal (decides screen clearing). */
  isTTY: boolean;
  /** Call once the kernel programs are attached (tests and benchmarks wait for it). */
  ready: () => void;
}

export interface ToolCommand {
  name: string;
  /** One line for `bpfkit --help`. */
  summary: string;
  /** Full text for `bpfkit <tool> --help`. */
  help: string;
  /** Parse argv (without the tool name) and run; throw BpfkitError for expected failures. */
  run(argv: string[], ctx: ToolContext): Promise<void>;
}
