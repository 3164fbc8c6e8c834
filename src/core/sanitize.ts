// Names that come from files other users control (JIT maps, ELF symbol tables, a process's comm)
// end up on a terminal: control characters in them are shown as escapes, never emitted raw.

// C0 controls, DEL and C1 controls (U+0080..U+009F; U+009B is a one-byte CSI on some terminals).
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;
// eslint-disable-next-line no-control-regex
const HAS_CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** `s` with every control character (C0, DEL, C1, so ESC, CR and LF too) replaced by `\xNN`. */
export function escapeControl(s: string): string {
  if (!HAS_CONTROL.test(s)) return s;
  return s.replace(CONTROL, (c) => '\\x' + c.charCodeAt(0).toString(16).padStart(2, '0'));
}
