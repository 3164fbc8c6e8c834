// NUL-terminated strings read straight out of a record buffer (a BPF ring buffer's pages), for
// renderers on the hot path of a stream: one scan of the bytes, no copy of the record, and for
// the common case (printable ASCII) a Latin-1 slice instead of UTF-8 decoding and JSON escaping.

/** Where the string at data[at, end) stops: its NUL, or `end`. */
export function cStringEnd(data: Buffer, at: number, end: number): number {
  let i = at;
  while (i < end && data[i] !== 0) i++;
  return i;
}

/**
 * The NUL-terminated string at data[at, end) (all of it when there is no NUL), decoded as UTF-8
 * (invalid sequences as U+FFFD): exactly what `data.toString('utf8', at, stop)` gives.
 */
export function cString(data: Buffer, at: number, end: number): string {
  let i = at;
  let ascii = true;
  for (; i < end; i++) {
    const c = data[i]!;
    if (c === 0) break;
    if (c > 0x7f) ascii = false;
  }
  return ascii ? data.latin1Slice(at, i) : data.utf8Slice(at, i);
}

/**
 * The same string as a JSON string literal, quotes included: exactly what
 * `JSON.stringify(cString(data, at, end))` gives, without escaping work for printable ASCII.
 */
export function cStringJson(data: Buffer, at: number, end: number): string {
  let i = at;
  let plain = true;
  for (; i < end; i++) {
    const c = data[i]!;
    if (c === 0) break;
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) plain = false;
  }
  return plain ? '"' + data.latin1Slice(at, i) + '"' : JSON.stringify(data.utf8Slice(at, i));
}

declare global {
  // Node's Buffer has these (what toString('latin1' | 'utf8', ...) calls), without the checks.
  interface Buffer {
    latin1Slice(start: number, end: number): string;
    utf8Slice(start: number, end: number): string;
  }
}
