// BCC's log2 histogram layout ("usecs : count distribution" with a bar of stars).
// Slot i holds values in [2^i, 2^(i+1)), slot 0 also holds 0: it prints as "0 -> 1".

const STARS_MAX = 40;

/** The bar: floor(width * count / max) stars, at most width. */
export function stars(count: number, max: number, width: number): string {
  if (max <= 0) return '';
  const n = Math.min(width, Math.floor((width * count) / max));
  return '*'.repeat(n);
}

/** Range of slot i: [low, high]. */
export function slotRange(i: number): { low: bigint; high: bigint } {
  let low = (1n << BigInt(i + 1)) >> 1n;
  const high = (1n << BigInt(i + 1)) - 1n;
  if (low === high) low -= 1n;
  return { low, high };
}

/**
 * Render a log2 histogram as BCC's print_log2_hist does: a header line, then one line per slot
 * up to the highest non-empty one. Empty string when every slot is empty.
 */
export function log2Histogram(slots: ArrayLike<number>, unit: string): string {
  let idxMax = -1;
  let valMax = 0;
  for (let i = 0; i < slots.length; i++) {
    const v = slots[i]!;
    if (v > 0) idxMax = i;
    if (v > valMax) valMax = v;
  }
  if (idxMax < 0) return '';
  // BCC counts slots from 1 (its slot 1 is our slot 0); past 32 it switches to wide columns.
  const wide = idxMax + 1 > 32;
  const width = wide ? STARS_MAX / 2 : STARS_MAX;
  const lines: string[] = [];
  lines.push(wide ? `               ${unit.padEnd(29)} : count     distribution` : `     ${unit.padEnd(19)} : count     distribution`);
  const w = wide ? 20 : 10;
  for (let i = 0; i <= idxMax; i++) {
    const { low, high } = slotRange(i);
    const v = slots[i]!;
    lines.push(`${String(low).padStart(w)} -> ${String(high).padEnd(w)} : ${String(v).padEnd(8)} |${stars(v, valMax, width).padEnd(width)}|`);
  }
  return lines.join('\n') + '\n';
}

/** Buckets for JSON output: only the non-empty slots. */
export function log2Buckets(slots: ArrayLike<number>): Array<{ low: number; high: number; count: number }> {
  const out: Array<{ low: number; high: number; count: number }> = [];
  for (let i = 0; i < slots.length; i++) {
    const v = slots[i]!;
    if (v > 0) {
      const { low, high } = slotRange(i);
      out.push({ low: Number(low), high: Number(high), count: v });
    }
  }
  return out;
}
