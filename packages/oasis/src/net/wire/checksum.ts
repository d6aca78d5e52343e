// The Internet checksum (RFC 1071): one's-complement sum of big-endian 16-bit words. Sums are
// kept unfolded in a double (exact up to 2^53) so chunks can be added and folded once at the end.

/**
 * Adds the bytes of `buf[start, end)` to `sum`, as big-endian 16-bit words starting at an even
 * position of the checksummed stream. An odd trailing byte counts as its high half.
 */
export function onesSum(buf: Uint8Array, start = 0, end = buf.length, sum = 0): number {
  const len = end - start;
  let i = 0;
  let s = 0;
  if (len >= 64) {
    // Native (little-endian) 32-bit reads: each 16-bit half is a byte-swapped word, and the
    // one's-complement sum of swapped words is the swapped sum (RFC 1071 §2(B)), so one swap at
    // the end. Each term < 2^32 and a datagram has < 2^14 of them: the double stays exact.
    const view = new DataView(buf.buffer, buf.byteOffset + start, len);
    const end16 = len - 15;
    let acc = 0;
    for (; i < end16; i += 16) acc += view.getUint32(i, true) + view.getUint32(i + 4, true) + view.getUint32(i + 8, true) + view.getUint32(i + 12, true);
    const end4 = len - 3;
    for (; i < end4; i += 4) acc += view.getUint32(i, true);
    let folded = foldSum((acc % 0x10000) + Math.floor(acc / 0x10000));
    folded = ((folded & 0xff) << 8) | (folded >>> 8);
    s = folded;
  } else {
    const end4 = len - 3;
    let acc = 0;
    for (; i < end4; i += 4) {
      const j = start + i;
      acc += buf[j]! * 0x1000000 + ((buf[j + 1]! << 16) | (buf[j + 2]! << 8) | buf[j + 3]!);
    }
    // A 32-bit word sum folds to the same 16-bit result as the sum of its halves.
    s = (acc % 0x10000) + Math.floor(acc / 0x10000);
  }
  if (i + 1 < len) {
    s += (buf[start + i]! << 8) | buf[start + i + 1]!;
    i += 2;
  }
  if (i < len) s += buf[start + i]! << 8;
  return sum + s;
}

/** Folds an unfolded sum into 16 bits (end-around carry), not inverted. */
export function foldSum(sum: number): number {
  while (sum > 0xffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  return sum;
}

/** The checksum field value: the inverted folded sum. */
export function finishChecksum(sum: number): number {
  return ~foldSum(sum) & 0xffff;
}

/** Checksum of a whole buffer (or a range), ready to store in a header. */
export function internetChecksum(buf: Uint8Array, start = 0, end = buf.length, initial = 0): number {
  return finishChecksum(onesSum(buf, start, end, initial));
}

/** The IPv4 pseudo-header sum for TCP/UDP: addresses as 32-bit numbers. */
export function ipv4PseudoSum(src: number, dst: number, proto: number, length: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + proto + length;
}

/** Sum of a sequence of chunks as one stream: a chunk after an odd-length total is byte-swapped. */
export function onesSumChunks(chunks: readonly Uint8Array[], sum = 0): number {
  let odd = false;
  for (const c of chunks) {
    const s = foldSum(onesSum(c));
    // A chunk starting at an odd position has its bytes in the other halves of the words.
    sum += odd ? ((s & 0xff) << 8) | (s >>> 8) : s;
    if (c.length & 1) odd = !odd;
  }
  return sum;
}
