// IPv4 headers (RFC 791). Options are validated (well-formed TLVs inside the header) and skipped.
import { readU16, readU32, writeU16, writeU32 } from "./address.ts";
import { internetChecksum, onesSum } from "./checksum.ts";
import { WireError } from "./error.ts";

export const IPV4_MIN_HEADER_LENGTH = 20;
export const IPV4_MAX_DATAGRAM = 65535;

const FLAG_DF = 0x4000;
const FLAG_MF = 0x2000;

/** A view over an IPv4 datagram. */
export class Ipv4Packet {
  constructor(readonly buffer: Uint8Array) {}
  get version(): number {
    return this.buffer[0]! >>> 4;
  }
  get headerLength(): number {
    return (this.buffer[0]! & 0x0f) * 4;
  }
  get tos(): number {
    return this.buffer[1]!;
  }
  get totalLength(): number {
    return readU16(this.buffer, 2);
  }
  get id(): number {
    return readU16(this.buffer, 4);
  }
  get dontFragment(): boolean {
    return (readU16(this.buffer, 6) & FLAG_DF) !== 0;
  }
  get moreFragments(): boolean {
    return (readU16(this.buffer, 6) & FLAG_MF) !== 0;
  }
  /** In bytes (the field counts 8-byte units). */
  get fragmentOffset(): number {
    return (readU16(this.buffer, 6) & 0x1fff) * 8;
  }
  get ttl(): number {
    return this.buffer[8]!;
  }
  set ttl(v: number) {
    this.buffer[8] = v;
  }
  get protocol(): number {
    return this.buffer[9]!;
  }
  get checksum(): number {
    return readU16(this.buffer, 10);
  }
  get src(): number {
    return readU32(this.buffer, 12);
  }
  get dst(): number {
    return readU32(this.buffer, 16);
  }
  get payload(): Uint8Array {
    return this.buffer.subarray(this.headerLength, this.totalLength);
  }
  /** Recomputes the header checksum in place. */
  fillChecksum(): void {
    writeU16(this.buffer, 10, 0);
    writeU16(this.buffer, 10, internetChecksum(this.buffer, 0, this.headerLength));
  }
}

export interface Ipv4Repr {
  src: number;
  dst: number;
  protocol: number;
  ttl: number;
  id: number;
  tos: number;
  dontFragment: boolean;
  moreFragments: boolean;
  /** Bytes, a multiple of 8. */
  fragmentOffset: number;
  /** Length of the payload that follows the header. */
  payloadLength: number;
}

export interface Ipv4Parsed extends Ipv4Repr {
  headerLength: number;
  /** View of the payload (trailing link padding removed). */
  payload: Uint8Array;
}

function validateOptions(b: Uint8Array, end: number): WireError | null {
  let i = IPV4_MIN_HEADER_LENGTH;
  while (i < end) {
    const type = b[i]!;
    if (type === 0) return null; // end of option list
    if (type === 1) {
      i++;
      continue;
    }
    if (i + 1 >= end) return new WireError("bad-option", `IPv4 option ${type} at byte ${i} has no length byte`);
    const len = b[i + 1]!;
    if (len < 2 || i + len > end) return new WireError("bad-option", `IPv4 option ${type} at byte ${i} has length ${len} outside the header`);
    i += len;
  }
  return null;
}

/**
 * The same validation as parseIpv4 without building anything: null when the header is valid,
 * else the reason. For the receive path, which then reads fields straight from the buffer.
 */
export function checkIpv4(b: Uint8Array, at = 0): string | null {
  const n = b.length - at;
  if (n < IPV4_MIN_HEADER_LENGTH) return "truncated";
  const v = b[at]!;
  if (v >>> 4 !== 4) return "bad-version";
  const headerLength = (v & 0x0f) * 4;
  if (headerLength < IPV4_MIN_HEADER_LENGTH) return "bad-ihl";
  if (headerLength > n) return "truncated";
  const totalLength = (b[at + 2]! << 8) | b[at + 3]!;
  if (totalLength < headerLength) return "bad-length";
  if (totalLength > n) return "truncated";
  if (onesSum(b, at, at + headerLength) % 0xffff !== 0) return "bad-checksum";
  if ((((b[at + 6]! << 8) | b[at + 7]!) & 0x1fff) * 8 + totalLength > IPV4_MAX_DATAGRAM) return "too-large";
  if (headerLength > IPV4_MIN_HEADER_LENGTH) return validateOptions(b.subarray(at), headerLength)?.reason ?? null;
  return null;
}

/** Validates everything about the header; the buffer may carry link-layer padding at the end. */
export function parseIpv4(b: Uint8Array, options: { verifyChecksum?: boolean } = {}): Ipv4Parsed | WireError {
  if (b.length < IPV4_MIN_HEADER_LENGTH) return new WireError("truncated", `IPv4 packet of ${b.length} bytes is shorter than a header`);
  const version = b[0]! >>> 4;
  if (version !== 4) return new WireError("bad-version", `IP version ${version} in an IPv4 packet`);
  const headerLength = (b[0]! & 0x0f) * 4;
  if (headerLength < IPV4_MIN_HEADER_LENGTH) return new WireError("bad-ihl", `IPv4 header length ${headerLength} is below 20`);
  if (headerLength > b.length) return new WireError("truncated", `IPv4 header of ${headerLength} bytes in a ${b.length}-byte packet`);
  const totalLength = readU16(b, 2);
  if (totalLength < headerLength) return new WireError("bad-length", `IPv4 total length ${totalLength} is shorter than the header (${headerLength})`);
  if (totalLength > b.length) return new WireError("truncated", `IPv4 total length ${totalLength} but only ${b.length} bytes received`);
  // A correct header folds to 0xffff: its unfolded sum is a non-zero multiple of 0xffff.
  if (options.verifyChecksum !== false && onesSum(b, 0, headerLength) % 0xffff !== 0) {
    return new WireError("bad-checksum", `IPv4 header checksum 0x${readU16(b, 10).toString(16)} is wrong`);
  }
  const flags = readU16(b, 6);
  const fragmentOffset = (flags & 0x1fff) * 8;
  const payloadLength = totalLength - headerLength;
  if (fragmentOffset + payloadLength > IPV4_MAX_DATAGRAM - headerLength) {
    return new WireError("too-large", `IPv4 fragment at offset ${fragmentOffset} with ${payloadLength} bytes ends beyond 65535`);
  }
  if (headerLength > IPV4_MIN_HEADER_LENGTH) {
    const bad = validateOptions(b, headerLength);
    if (bad) return bad;
  }
  return {
    src: readU32(b, 12),
    dst: readU32(b, 16),
    protocol: b[9]!,
    ttl: b[8]!,
    id: readU16(b, 4),
    tos: b[1]!,
    dontFragment: (flags & FLAG_DF) !== 0,
    moreFragments: (flags & FLAG_MF) !== 0,
    fragmentOffset,
    payloadLength,
    headerLength,
    payload: b.subarray(headerLength, totalLength),
  };
}

/** Writes a 20-byte header (no options) with its checksum; returns 20. */
export function emitIpv4(repr: Ipv4Repr, b: Uint8Array): number {
  b[0] = 0x45;
  b[1] = repr.tos;
  writeU16(b, 2, IPV4_MIN_HEADER_LENGTH + repr.payloadLength);
  writeU16(b, 4, repr.id);
  writeU16(b, 6, (repr.dontFragment ? FLAG_DF : 0) | (repr.moreFragments ? FLAG_MF : 0) | (repr.fragmentOffset >>> 3));
  b[8] = repr.ttl;
  b[9] = repr.protocol;
  b[10] = 0;
  b[11] = 0;
  writeU32(b, 12, repr.src);
  writeU32(b, 16, repr.dst);
  writeU16(b, 10, internetChecksum(b, 0, IPV4_MIN_HEADER_LENGTH));
  return IPV4_MIN_HEADER_LENGTH;
}

/**
 * Hot-path variant of emitIpv4 taking fields as arguments (no representation object): the
 * stack's send path calls it once per datagram.
 */
export function writeIpv4Header(b: Uint8Array, at: number, src: number, dst: number, protocol: number, ttl: number, id: number, flagsAndOffset: number, payloadLength: number): void {
  b[at] = 0x45;
  b[at + 1] = 0;
  const total = IPV4_MIN_HEADER_LENGTH + payloadLength;
  b[at + 2] = total >>> 8;
  b[at + 3] = total;
  b[at + 4] = id >>> 8;
  b[at + 5] = id;
  b[at + 6] = flagsAndOffset >>> 8;
  b[at + 7] = flagsAndOffset;
  b[at + 8] = ttl;
  b[at + 9] = protocol;
  b[at + 10] = 0;
  b[at + 11] = 0;
  writeU32(b, at + 12, src);
  writeU32(b, at + 16, dst);
  // Unrolled sum of the ten header words.
  let sum = 0x4500 + total + id + flagsAndOffset + ((ttl << 8) | protocol) + (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff);
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = (sum & 0xffff) + (sum >>> 16);
  const c = ~sum & 0xffff;
  b[at + 10] = c >>> 8;
  b[at + 11] = c;
}

export const IPV4_FLAG_DF = FLAG_DF;
export const IPV4_FLAG_MF = FLAG_MF;
