// IP addresses and endpoints as text: one formatter for every tool.
//
// IPv6 is printed as glibc's inet_ntop prints it (RFC 5952: lower case, the longest run of two
// or more zero groups as "::", the first on a tie). An IPv4-mapped address (::ffff:0:0/96) is
// printed as `::ffff:a.b.c.d` everywhere (inet_ntop, ss, lsof and strace print it so), and an
// IPv4-compatible one as `::a.b.c.d`, exactly where inet_ntop does. Tools that must match a
// mapped address with the same IPv4 peer compare `unmapIPv4(addr)`, not the text.

/** IPv4 text of 4 bytes in network order. */
export function formatIPv4(b: Uint8Array | readonly number[]): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

/** IPv6 text of 16 bytes in network order (inet_ntop's form, see above). */
export function formatIPv6(b: Uint8Array | readonly number[]): string {
  if (b.length !== 16) throw new Error('IPv6 address needs 16 bytes');
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((b[i]! << 8) | b[i + 1]!);
  if (words.slice(0, 5).every((w) => w === 0) && (words[5] === 0xffff || (words[5] === 0 && words[6] !== 0))) {
    return `::${words[5] === 0xffff ? 'ffff:' : ''}${formatIPv4(Array.from(b).slice(12))}`;
  }
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(':');
  if (bestStart < 0) return hex(words);
  return `${hex(words.slice(0, bestStart))}::${hex(words.slice(bestStart + bestLen))}`;
}

export const AF_INET = 2;
export const AF_INET6 = 10;

/**
 * Address text by family: 4 or AF_INET (2) reads 4 bytes; 6 or AF_INET6 (10) reads 16 (a
 * longer buffer, such as a 16-byte address field holding an IPv4 address, is cut to size).
 */
export function formatAddr(family: number, bytes: Uint8Array): string {
  if (family === 4 || family === AF_INET) return formatIPv4(bytes);
  if (family === 6 || family === AF_INET6) return formatIPv6(bytes.subarray(0, 16));
  throw new Error(`unknown address family ${family}`);
}

/** "1.2.3.4" for "::ffff:1.2.3.4" (the same peer seen from an AF_INET6 socket); others unchanged. */
export function unmapIPv4(addr: string): string {
  return addr.startsWith('::ffff:') && addr.includes('.') ? addr.slice(7) : addr;
}

/** "addr:port", with IPv6 addresses in brackets: "10.0.0.1:80", "[::1]:443". */
export function formatHostPort(addr: string, port: number): string {
  return `${addr.includes(':') ? `[${addr}]` : addr}:${port}`;
}

/** An endpoint as lsof prints it: wildcard address and port 0 as "*": "*:8080", "*:*", "[::1]:443". */
export function formatEndpoint(addr: string, port: number): string {
  const a = addr === '0.0.0.0' || addr === '::' ? '*' : addr.includes(':') ? `[${addr}]` : addr;
  return `${a}:${port === 0 ? '*' : String(port)}`;
}
