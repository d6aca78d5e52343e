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

// ---- multicast listener discovery (MLDv2, RFC 3810) --------------------------------------------

export const ICMPV6_MLD_QUERY = 130;
export const ICMPV6_MLDV2_REPORT = 143;
/** Record types of an MLDv2 report. */
export const MLD_MODE_IS_EXCLUDE = 2;
export const MLD_CHANGE_TO_INCLUDE = 3;
export const MLD_CHANGE_TO_EXCLUDE = 4;
/** ff02::16, where MLDv2 reports go. */
export const MLDV2_ROUTERS = new Uint8Array([0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x16]);

export interface MldRecord {
  type: number;
  group: Uint8Array;
  sources: Uint8Array[];
}

export interface MldQuery {
  /** Respond within this many milliseconds. */
  maxResponseMs: number;
  /** :: for a general query. */
  group: Uint8Array;
  /** Sources of a source-specific (v2) query. */
  sources: Uint8Array[];
}

/** Records in one report; more would not fit in a 1280-byte packet. */
export const MAX_MLD_RECORDS = 60;

export function mldv2ReportLength(records: readonly MldRecord[]): number {
  return ICMPV6_HEADER_LENGTH + records.reduce((n, r) => n + 20 + 16 * r.sources.length, 0);
}

/** Writes a report (checksum field zero; fill it with fillIcmpv6Checksum); returns its length. */
export function emitMldv2Report(records: readonly MldRecord[], b: Uint8Array): number {
  b.fill(0, 0, ICMPV6_HEADER_LENGTH);
  b[0] = ICMPV6_MLDV2_REPORT;
  writeU16(b, 6, records.length);
  let at = ICMPV6_HEADER_LENGTH;
  for (const r of records) {
    b[at] = r.type;
    b[at + 1] = 0;
    writeU16(b, at + 2, r.sources.length);
    b.set(r.group.subarray(0, 16), at + 4);
    at += 20;
    for (const s of r.sources) {
      b.set(s.subarray(0, 16), at);
      at += 16;
    }
  }
  return at;
}

/** Parses a whole MLDv2 report message (checksum already verified). */
export function parseMldv2Report(b: Uint8Array): MldRecord[] | WireError {
  if (b.length < ICMPV6_HEADER_LENGTH || b[0] !== ICMPV6_MLDV2_REPORT) return new WireError("not-mld-report", "not an MLDv2 report");
  const count = readU16(b, 6);
  if (count * 20 > b.length - ICMPV6_HEADER_LENGTH) return new WireError("truncated", `MLDv2 report claims ${count} records in ${b.length} bytes`);
  const records: MldRecord[] = [];
  let at = ICMPV6_HEADER_LENGTH;
  for (let i = 0; i < count; i++) {
    if (at + 20 > b.length) return new WireError("truncated", `MLDv2 record ${i} runs past the message`);
    const sourceCount = readU16(b, at + 2);
    const length = 20 + b[at + 1]! * 4 + sourceCount * 16;
    if (at + length > b.length) return new WireError("truncated", `MLDv2 record ${i} of ${length} bytes runs past the message`);
    const sources: Uint8Array[] = [];
    for (let s = 0; s < sourceCount; s++) sources.push(b.slice(at + 20 + s * 16, at + 36 + s * 16));
    records.push({ type: b[at]!, group: b.slice(at + 4, at + 20), sources });
    at += length;
  }
  return records;
}

/** Parses an MLDv1 (24 bytes) or MLDv2 (28 bytes and more) query. */
export function parseMldQuery(b: Uint8Array): MldQuery | WireError {
  if (b.length < 24 || b[0] !== ICMPV6_MLD_QUERY) return new WireError("bad-mld", `MLD query of ${b.length} bytes`);
  const code = readU16(b, 4);
  if (b.length < 28) return { maxResponseMs: code, group: b.slice(8, 24), sources: [] };
  // RFC 3810 §5.1.3: codes from 32768 are a floating-point value.
  const maxResponseMs = code < 32768 ? code : ((code & 0x0fff) | 0x1000) << (((code >>> 12) & 0x7) + 3);
  const sourceCount = readU16(b, 26);
  if (28 + sourceCount * 16 > b.length) return new WireError("truncated", `MLDv2 query with ${sourceCount} sources in ${b.length} bytes`);
  const sources: Uint8Array[] = [];
  for (let s = 0; s < sourceCount; s++) sources.push(b.slice(28 + s * 16, 44 + s * 16));
  return { maxResponseMs, group: b.slice(8, 24), sources };
}
