// BPF ring buffer consumed on Node's event loop: libbpf's epoll fd is watched with koffi's poll
// and drained with ring_buffer__consume, so no thread blocks and events arrive in order.
import { native, registerSample, unregister, view, isNull, lastErrno, pollFd, type Ptr } from './libbpf.js';
import { BpfkitError } from './errors.js';
import type { BpfMap } from './maps.js';

export class RingBufferReader {
  private rb: Ptr;
  private cb: unknown;
  private poller: { close(): void } | undefined;

  /** `onEvent` gets a view valid only during the call: copy what you keep. */
  constructor(map: BpfMap, onEvent: (data: Buffer) => void) {
    this.cb = registerSample((_ctx: Ptr, data: Ptr, size: number) => {
      onEvent(Buffer.from(view(data, size)));
      return 0;
    });
    this.rb = native.ring_buffer__new(map.fd, this.cb, null, null);
    if (isNull(this.rb)) {
      unregister(this.cb);
      throw new BpfkitError('LIBBPF', `cannot open ring buffer ${map.name} (errno ${lastErrno()})`);
    }
    const fd = native.ring_buffer__epoll_fd(this.rb) as number;
    this.poller = pollReadable(fd, () => this.consume());
  }

  /** Drain everything available now (also call before reading final results). */
  consume(): number {
    if (this.rb === null) return 0;
    return native.ring_buffer__consume(this.rb) as number;
  }

  close(): void {
    this.poller?.close();
    this.poller = undefined;
    if (this.rb !== null) {
      this.consume();
      native.ring_buffer__free(this.rb);
      this.rb = null;
      unregister(this.cb);
    }
  }
}

function pollReadable(fd: number, cb: () => void): { close(): void } {
  const h = pollFd(fd, cb);
  return { close: () => h.close() };
}
