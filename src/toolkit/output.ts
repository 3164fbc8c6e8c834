// stdout as the runner sees it: bounded (a slow reader makes the tool drop events and count
// them, never buffer without end), and ended cleanly when the reader goes away (`| head -1`:
// status 0) or a write fails (`> /dev/full`, disk full, file size limit: one line, status 1).

/** Bytes queued for a slow reader (a pipe) before events are dropped rather than buffered. */
export const OUTPUT_QUEUE_LIMIT = 8 << 20;

export type OutputEnd = { kind: 'closed' } | { kind: 'failed'; error: NodeJS.ErrnoException };

export class Output {
  /** Set once the output can take no more: the reader closed it, or a write failed. */
  ended: OutputEnd | undefined;
  private listeners: Array<(end: OutputEnd) => void> = [];

  constructor(private stream: NodeJS.WritableStream & { writableLength?: number }) {
    stream.on('error', (error: NodeJS.ErrnoException) => this.end(
      error.code === 'EPIPE' || error.code === 'ERR_STREAM_DESTROYED' ? { kind: 'closed' } : { kind: 'failed', error },
    ));
  }

  /**
   * Write text (whole lines), or their bytes (UTF-8; the Buffer must not be changed afterwards:
   * a slow reader's queue keeps it). Dropped silently once the output ended.
   */
  write(text: string | Uint8Array): void {
    if (this.ended || text.length === 0) return;
    try {
      this.stream.write(text);
    } catch (error) {
      this.end({ kind: 'failed', error: error as NodeJS.ErrnoException });
    }
  }

  /** Events should be counted as lost, not queued: the reader is this far behind, or gone. */
  get congested(): boolean {
    return this.ended !== undefined || (this.stream.writableLength ?? 0) > OUTPUT_QUEUE_LIMIT;
  }

  onEnd(fn: (end: OutputEnd) => void): void {
    this.listeners.push(fn);
  }

  /** Resolves when everything written so far reached the OS (or the output ended). */
  flush(): Promise<void> {
    if (this.ended) return Promise.resolve();
    return new Promise((resolve) => {
      try {
        this.stream.write('', () => resolve());
      } catch {
        resolve();
      }
      this.onEnd(() => resolve());
    });
  }

  private end(end: OutputEnd): void {
    if (this.ended) return;
    this.ended = end;
    for (const fn of this.listeners) fn(end);
  }
}

/** "ENOSPC (no space left on device)" for an output error. */
export function describeWriteError(e: NodeJS.ErrnoException): string {
  const why: Record<string, string> = {
    ENOSPC: 'no space left on device', EFBIG: 'file too large', EIO: 'input/output error',
    EDQUOT: 'disk quota exceeded', EBADF: 'bad file descriptor', EACCES: 'permission denied',
  };
  return e.code ? `${e.code}${why[e.code] ? ` (${why[e.code]})` : ''}` : e.message;
}
