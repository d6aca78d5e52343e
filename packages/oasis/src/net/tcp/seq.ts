// 32-bit sequence-number arithmetic (RFC 9293 §3.4). Inside a connection we count in unbounded
// stream positions (plain numbers from the ISN); these helpers convert at the wire.

/** a − b as a signed 32-bit distance. */
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}

export function seqLt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}
