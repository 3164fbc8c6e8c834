// trace -- CMD: the command is spawned by bpfkit itself, with the kernel side told to adopt the
// next child of bpfkit's main thread (the fork hook puts it in the traced set, waiting for its
// execve): it is traced from that execve on, with no shell in between to change its
// environment, and no race with a short-lived command.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants as fsc, existsSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { badArgs } from '../../core/errors.js';

/**
 * [path, argv]: the program found as execvp would. strace resolves it before its execve too,
 * so the trace starts with one execve of the full path, not one per PATH entry tried.
 */
export function resolveCommand(argv: string[]): { path: string; argv: string[] } {
  const name = argv[0]!;
  const ok = (p: string) => { try { accessSync(p, fsc.X_OK); return statSync(p).isFile(); } catch { return false; } };
  if (name.includes('/')) {
    if (!existsSync(name)) throw badArgs(`cannot run '${name}': no such file`);
    if (!ok(name)) throw badArgs(`cannot run '${name}': not an executable file`);
    return { path: name, argv };
  }
  for (const dir of (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(delimiter)) {
    const p = join(dir || '.', name);
    if (ok(p)) return { path: p, argv };
  }
  throw badArgs(`cannot run '${name}': not found in PATH`);
}

/** Spawn the command (stdio and environment are bpfkit's), between adopt() and done(). */
export function spawnAdopted(path: string, argv: string[], adopt: () => void, done: () => void): ChildProcess {
  adopt();
  try {
    const proc = spawn(path, argv.slice(1), { argv0: argv[0], stdio: 'inherit' });
    if (proc.pid === undefined) throw badArgs(`cannot start ${path}`);
    return proc;
  } finally {
    done();
  }
}
