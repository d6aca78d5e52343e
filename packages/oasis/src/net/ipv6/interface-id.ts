// Interface identifiers (the low 64 bits of link-local and SLAAC addresses): the modified EUI-64
// of the MAC (RFC 4291), random ones, or RFC 7217 "stable, semantically opaque" ones, which are
// stable per prefix for a given secret key but reveal neither the MAC nor a link to the
// identifiers used under other prefixes. The pseudo-random function is SipHash-2-4 (a keyed
// 64-bit PRF, exactly an identifier's size).
const MASK = (1n << 64n) - 1n;

function rotl(x: bigint, b: bigint): bigint {
  return ((x << b) | (x >> (64n - b))) & MASK;
}

function le64(b: Uint8Array, at: number): bigint {
  let v = 0n;
  for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(b[at + i] ?? 0);
  return v;
}

/** SipHash-2-4 of `message` under a 16-byte key; 8 bytes, little-endian as in the reference. */
export function sipHash24(key: Uint8Array, message: Uint8Array): Uint8Array {
  if (key.length !== 16) throw new RangeError(`SipHash needs a 16-byte key, got ${key.length} bytes`);
  const k0 = le64(key, 0);
  const k1 = le64(key, 8);
  let v0 = k0 ^ 0x736f6d6570736575n;
  let v1 = k1 ^ 0x646f72616e646f6dn;
  let v2 = k0 ^ 0x6c7967656e657261n;
  let v3 = k1 ^ 0x7465646279746573n;
  const round = () => {
    v0 = (v0 + v1) & MASK;
    v1 = rotl(v1, 13n) ^ v0;
    v0 = rotl(v0, 32n);
    v2 = (v2 + v3) & MASK;
    v3 = rotl(v3, 16n) ^ v2;
    v0 = (v0 + v3) & MASK;
    v3 = rotl(v3, 21n) ^ v0;
    v2 = (v2 + v1) & MASK;
    v1 = rotl(v1, 17n) ^ v2;
    v2 = rotl(v2, 32n);
  };
  const full = message.length - (message.length % 8);
  for (let at = 0; at < full; at += 8) {
    const m = le64(message, at);
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }
  // The last block: the remaining bytes, and the length's low byte on top.
  let last = BigInt(message.length & 0xff) << 56n;
  for (let i = message.length - 1; i >= full; i--) last |= BigInt(message[i]!) << BigInt((i - full) * 8);
  v3 ^= last;
  round();
  round();
  v0 ^= last;
  v2 ^= 0xffn;
  for (let i = 0; i < 4; i++) round();
  const out = new Uint8Array(8);
  let h = v0 ^ v1 ^ v2 ^ v3;
  for (let i = 0; i < 8; i++) {
    out[i] = Number(h & 0xffn);
    h >>= 8n;
  }
  return out;
}

/** Identifiers no address may use (RFC 5453): subnet-router anycast, reserved subnet anycast, proxy mobile IPv6. */
export function isReservedInterfaceId(id: Uint8Array): boolean {
  if (id.every((b) => b === 0)) return true;
  if (id[0] === 0xfd && id[1] === 0xff && id[2] === 0xff && id[3] === 0xff && id[4] === 0xff && id[5] === 0xff && id[6] === 0xff && id[7]! >= 0x80) return true;
  return id[0] === 0x02 && id[1] === 0x00 && id[2] === 0x5e && id[3] === 0xff && id[4] === 0xfe && ((id[5]! << 16) | (id[6]! << 8) | id[7]!) <= 0x005212;
}

/**
 * RFC 7217 §5: F(Prefix, Net_Iface, Network_ID, DAD_Counter, secret_key) with no network
 * identifier. `netIface` is optional: a unikernel's MAC may be new at every start, and the
 * identifiers must not follow it; unikernels sharing a link need different keys (DAD catches
 * the rest). A reserved result moves on to the next counter.
 */
export function stableInterfaceId(prefix: Uint8Array, dadCounter: number, secret: Uint8Array, netIface: Uint8Array = new Uint8Array(0)): Uint8Array {
  for (let counter = dadCounter; ; counter++) {
    const message = new Uint8Array(8 + netIface.length + 1);
    message.set(prefix.subarray(0, 8), 0);
    message.set(netIface, 8);
    message[8 + netIface.length] = counter & 0xff;
    const id = sipHash24(secret, message);
    if (!isReservedInterfaceId(id)) return id;
  }
}
