// The Internet checksum (RFC 1071): one's-complement sum of big-endian 16-bit words. Sums are
// kept unfolded in a double (exact up to 2^53) so chunks can be added and folded once at the end.

/**
 * Adds the bytes of `buf[start, end)` to `sum`, as big-endian 16-bit words starting at an even
 * position of the checksummed stream. An odd trailing byte counts as its high half.
 */
export function onesSum(buf: Uint8Array, start = 0, end = buf.length, sum = 0): number {
  let i = start;
  // 32-bit words: half the loop iterations of the 16-bit version. Each term < 2^32, and a
  // datagram has < 2^14 of them, so the double never loses precision.
  const end4 = end - 3;
  let acc = 0;
  for (; i < end4; i += 4) {
    acc += buf[i]! * 0x1000000 + ((buf[i + 1]! << 16) | (buf[i + 2]! << 8) | buf[i + 3]!);
  }
  if (i + 1 < end) {
    acc += (buf[i]! << 8) | buf[i + 1]!;
    i += 2;
  }
  if (i < end) acc += buf[i]! << 8;
  // A 32-bit word sum folds to the same 16-bit result as the sum of its halves.
  return sum + (acc % 0x10000) + Math.floor(acc / 0x10000);
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
