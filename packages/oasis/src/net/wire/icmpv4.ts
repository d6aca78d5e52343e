// ICMPv4 messages (RFC 792): type, code, checksum, 4 bytes of "rest of header", data.
import { readU16, readU32, writeU16, writeU32 } from "./address.ts";
import { internetChecksum, onesSum } from "./checksum.ts";
import { WireError } from "./error.ts";

export const ICMP_ECHO_REPLY = 0;
export const ICMP_DEST_UNREACHABLE = 3;
export const ICMP_ECHO_REQUEST = 8;
export const ICMP_TIME_EXCEEDED = 11;
export const ICMP_PARAMETER_PROBLEM = 12;
export const ICMP_HEADER_LENGTH = 8;

export const UNREACHABLE_PROTOCOL = 2;
export const UNREACHABLE_PORT = 3;
export const UNREACHABLE_FRAGMENTATION_NEEDED = 4;

export interface IcmpRepr {
  type: number;
  code: number;
  /** Bytes 4–7: identifier and sequence for echoes, unused/next-hop MTU for errors. */
  rest: number;
  data: Uint8Array;
}

export function parseIcmpv4(b: Uint8Array): IcmpRepr | WireError {
  if (b.length < ICMP_HEADER_LENGTH) return new WireError("truncated", `ICMP message of ${b.length} bytes is shorter than its 8-byte header`);
  if (onesSum(b) % 0xffff !== 0) return new WireError("bad-checksum", `ICMP checksum 0x${readU16(b, 2).toString(16)} is wrong`);
  return { type: b[0]!, code: b[1]!, rest: readU32(b, 4), data: b.subarray(ICMP_HEADER_LENGTH) };
}

/** Writes header and data with the checksum; returns the message length. */
export function emitIcmpv4(repr: IcmpRepr, b: Uint8Array): number {
  const length = ICMP_HEADER_LENGTH + repr.data.length;
  b[0] = repr.type;
  b[1] = repr.code;
  writeU16(b, 2, 0);
  writeU32(b, 4, repr.rest);
  b.set(repr.data, ICMP_HEADER_LENGTH);
  writeU16(b, 2, internetChecksum(b, 0, length));
  return length;
}

export function echoIdentifier(repr: IcmpRepr): number {
  return repr.rest >>> 16;
}
export function echoSequence(repr: IcmpRepr): number {
  return repr.rest & 0xffff;
}
