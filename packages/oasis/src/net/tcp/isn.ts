// Initial sequence numbers per RFC 6528: ISN = M + F(4-tuple, secret), M a 4 µs clock and F a
// keyed hash (a SipHash-style ARX permutation over 32-bit words, HalfSipHash-2-4 rounds), so
// sequence numbers of one 4-tuple increase over time while other tuples' are unpredictable.

function rotl(x: number, b: number): number {
  return (x << b) | (x >>> (32 - b));
}

export class IsnGenerator {
  private readonly k0: number;
  private readonly k1: number;

  constructor(key: Uint8Array) {
    if (key.length < 8) throw new RangeError("ISN key needs 8 bytes");
    this.k0 = (key[0]! | (key[1]! << 8) | (key[2]! << 16) | (key[3]! << 24)) >>> 0;
    this.k1 = (key[4]! | (key[5]! << 8) | (key[6]! << 16) | (key[7]! << 24)) >>> 0;
  }

  /** The keyed hash of `text` (the 4-tuple spelled out), 32 bits. */
  hash(text: string): number {
    let v0 = this.k0 | 0;
    let v1 = this.k1 | 0;
    let v2 = (0x6c796765 ^ this.k0) | 0;
    let v3 = (0x74656462 ^ this.k1) | 0;
    const round = (): void => {
      v0 = (v0 + v1) | 0;
      v1 = rotl(v1, 5) ^ v0;
      v0 = rotl(v0, 16);
      v2 = (v2 + v3) | 0;
      v3 = rotl(v3, 8) ^ v2;
      v0 = (v0 + v3) | 0;
      v3 = rotl(v3, 7) ^ v0;
      v2 = (v2 + v1) | 0;
      v1 = rotl(v1, 13) ^ v2;
      v2 = rotl(v2, 16);
    };
    const n = text.length;
    for (let i = 0; i < n; i += 2) {
      const m = text.charCodeAt(i) | ((i + 1 < n ? text.charCodeAt(i + 1) : 0) << 16);
      v3 ^= m;
      round();
      round();
      v0 ^= m;
    }
    const last = (n & 0xff) << 24;
    v3 ^= last;
    round();
    round();
    v0 ^= last;
    v2 ^= 0xff;
    round();
    round();
    round();
    round();
    return (v1 ^ v3) >>> 0;
  }

  isn(localAddr: string, localPort: number, remoteAddr: string, remotePort: number, nowMs: number): number {
    const f = this.hash(`${localAddr} ${localPort} ${remoteAddr} ${remotePort}`);
    return (f + Math.floor(nowMs * 250)) >>> 0;
  }
}
