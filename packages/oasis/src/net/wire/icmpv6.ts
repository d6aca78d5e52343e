// ICMPv6 messages (RFC 4443): type, code, checksum over the IPv6 pseudo-header, 4 bytes of
// message-specific header, data. Neighbour discovery messages are decoded further in ndp.ts.
import { readU16, readU32, writeU16, writeU32 } from "./address.ts";
import { finishChecksum, onesSum } from "./checksum.ts";
import { WireError } from "./error.ts";
import { ipv6PseudoSum } from "./ipv6.ts";
import { PROTO_ICMPV6 } from "../../devices/ip.ts";

export const ICMPV6_DEST_UNREACHABLE = 1;
export const ICMPV6_PACKET_TOO_BIG = 2;
export const ICMPV6_TIME_EXCEEDED = 3;
export const ICMPV6_PARAMETER_PROBLEM = 4;
export const ICMPV6_ECHO_REQUEST = 128;
export const ICMPV6_ECHO_REPLY = 129;
export const ICMPV6_ROUTER_SOLICITATION = 133;
export const ICMPV6_ROUTER_ADVERTISEMENT = 134;
export const ICMPV6_NEIGHBOR_SOLICITATION = 135;
export const ICMPV6_NEIGHBOR_ADVERTISEMENT = 136;
export const ICMPV6_REDIRECT = 137;

export const ICMPV6_HEADER_LENGTH = 8;

/** Destination unreachable codes. */
export const UNREACHABLE_NO_ROUTE = 0;
export const UNREACHABLE_ADDRESS = 3;
export const UNREACHABLE_PORT = 4;
/** Time exceeded codes. */
export const TIME_EXCEEDED_HOP_LIMIT = 0;
export const TIME_EXCEEDED_REASSEMBLY = 1;
/** Parameter problem codes. */
export const PARAMETER_HEADER_FIELD = 0;
export const PARAMETER_UNKNOWN_NEXT_HEADER = 1;
export const PARAMETER_UNKNOWN_OPTION = 2;

/** An error message quotes as much of the offending packet as fits in the minimum MTU (RFC 4443 §2.4 c). */
export const ICMPV6_ERROR_QUOTE_LIMIT = 1280 - 40 - ICMPV6_HEADER_LENGTH;

export interface Icmpv6Repr {
  type: number;
  code: number;
  /** Bytes 4–7: identifier and sequence for echoes, MTU for packet too big, pointer for parameter problem. */
  rest: number;
  data: Uint8Array;
}

export function isIcmpv6Error(type: number): boolean {
  return type < 128;
}

/** The checksum of `message` (its checksum field counted as is) between `src` and `dst`. */
export function icmpv6Sum(message: Uint8Array, src: Uint8Array, dst: Uint8Array): number {
  return onesSum(message, 0, message.length, ipv6PseudoSum(src, dst, PROTO_ICMPV6, message.length));
}

/** Fills the checksum field of a complete message in place. */
export function fillIcmpv6Checksum(message: Uint8Array, src: Uint8Array, dst: Uint8Array): void {
  message[2] = 0;
  message[3] = 0;
  writeU16(message, 2, finishChecksum(icmpv6Sum(message, src, dst)));
}

/** Validates length and checksum (the pseudo-header needs the addresses of the carrying packet). */
export function parseIcmpv6(b: Uint8Array, src: Uint8Array, dst: Uint8Array): Icmpv6Repr | WireError {
  if (b.length < ICMPV6_HEADER_LENGTH) return new WireError("truncated", `ICMPv6 message of ${b.length} bytes is shorter than its 8-byte header`);
  const sum = icmpv6Sum(b, src, dst);
  if (sum === 0 || sum % 0xffff !== 0) return new WireError("bad-checksum", `ICMPv6 checksum 0x${readU16(b, 2).toString(16)} is wrong`);
  return { type: b[0]!, code: b[1]!, rest: readU32(b, 4), data: b.subarray(ICMPV6_HEADER_LENGTH) };
}

/** Writes the message with its checksum into `b`; returns its length. */
export function emitIcmpv6(repr: Icmpv6Repr, b: Uint8Array, src: Uint8Array, dst: Uint8Array): number {
  const length = ICMPV6_HEADER_LENGTH + repr.data.length;
  b[0] = repr.type;
  b[1] = repr.code;
  writeU32(b, 4, repr.rest);
  b.set(repr.data, ICMPV6_HEADER_LENGTH);
  fillIcmpv6Checksum(b.subarray(0, length), src, dst);
  return length;
}
