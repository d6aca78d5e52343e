// UDP headers (RFC 768) with the checksum over the IPv4/IPv6 pseudo-header.
import { readU16, writeU16 } from "./address.ts";
import { foldSum, onesSum } from "./checksum.ts";
import { WireError } from "./error.ts";

export const UDP_HEADER_LENGTH = 8;

/** A view over a UDP datagram. */
export class UdpPacket {
  constructor(readonly buffer: Uint8Array) {}
  get srcPort(): number {
    return readU16(this.buffer, 0);
  }
  get dstPort(): number {
    return readU16(this.buffer, 2);
  }
  get length(): number {
    return readU16(this.buffer, 4);
  }
  get checksum(): number {
    return readU16(this.buffer, 6);
  }
  get payload(): Uint8Array {
    return this.buffer.subarray(UDP_HEADER_LENGTH, this.length);
  }
}

export interface UdpRepr {
  srcPort: number;
  dstPort: number;
  payload: Uint8Array;
}

/**
 * Validates length and (when `pseudoSum` is given and the field is not 0, which means "no
 * checksum" over IPv4) the checksum. `pseudoSum` is the unfolded pseudo-header sum.
 */
export function parseUdp(b: Uint8Array, pseudoSum: number | null): UdpRepr | WireError {
  if (b.length < UDP_HEADER_LENGTH) return new WireError("truncated", `UDP datagram of ${b.length} bytes is shorter than its 8-byte header`);
  const length = readU16(b, 4);
  if (length < UDP_HEADER_LENGTH) return new WireError("bad-length", `UDP length field ${length} is below 8`);
  if (length > b.length) return new WireError("bad-length", `UDP length field ${length} exceeds the ${b.length} bytes of the IP payload`);
  if (pseudoSum !== null && (b[6] !== 0 || b[7] !== 0) && onesSum(b, 0, length, pseudoSum) % 0xffff !== 0) {
    return new WireError("bad-checksum", `UDP checksum 0x${readU16(b, 6).toString(16)} is wrong`);
  }
  return { srcPort: readU16(b, 0), dstPort: readU16(b, 2), payload: b.subarray(UDP_HEADER_LENGTH, length) };
}

/**
 * Writes the 8-byte header for `payloadLength` bytes of payload. With `pseudoSum`, the checksum is
 * computed over the header and `payload` (which must be the bytes that follow); 0 becomes 0xffff.
 */
export function emitUdpHeader(b: Uint8Array, at: number, srcPort: number, dstPort: number, payload: Uint8Array, pseudoSum: number | null): void {
  const length = UDP_HEADER_LENGTH + payload.length;
  writeU16(b, at, srcPort);
  writeU16(b, at + 2, dstPort);
  writeU16(b, at + 4, length);
  b[at + 6] = 0;
  b[at + 7] = 0;
  if (pseudoSum === null) return;
  const sum = onesSum(payload, 0, payload.length, pseudoSum + srcPort + dstPort + length);
  const c = ~foldSum(sum) & 0xffff;
  writeU16(b, at + 6, c === 0 ? 0xffff : c);
}

export function emitUdp(repr: UdpRepr, b: Uint8Array, pseudoSum: number | null): number {
  emitUdpHeader(b, 0, repr.srcPort, repr.dstPort, repr.payload, pseudoSum);
  b.set(repr.payload, UDP_HEADER_LENGTH);
  return UDP_HEADER_LENGTH + repr.payload.length;
}
