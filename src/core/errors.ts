// One error type for everything a user can cause or meet. `code` is stable (scripts match on it);
// the CLI prints `bpfkit: <message>` without a stack trace and exits with `exitCode`.
export type ErrorCode =
  | 'BAD_ARGS'        // wrong flag, bad value, unknown syscall: exit 2
  | 'NO_SUCH_PROCESS' // -p PID that does not exist: exit 2
  | 'NOT_ROOT'        // missing root / CAP_BPF / CAP_PERFMON: exit 2
  | 'NOT_SUPPORTED'   // kernel lacks a feature (message names it)
  | 'VERIFIER'        // the kernel's verifier rejected a program
  | 'ATTACH'          // a hook could not be attached (message names it)
  | 'LIBBPF'          // another libbpf failure
  | 'IO';             // a file or /proc read failed

export class BpfkitError extends Error {
  readonly code: ErrorCode;
  /** Longer text shown only with --verbose (verifier log, libbpf log). */
  readonly detail?: string;
  constructor(code: ErrorCode, message: string, opts: { cause?: unknown; detail?: string } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'BpfkitError';
    this.code = code;
    this.detail = opts.detail;
  }
  get exitCode(): number {
    return this.code === 'BAD_ARGS' || this.code === 'NO_SUCH_PROCESS' || this.code === 'NOT_ROOT' ? 2 : 1;
  }
}

export function badArgs(message: string): BpfkitError {
  return new BpfkitError('BAD_ARGS', message);
}
