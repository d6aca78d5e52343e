// TCP header and options (RFC 9293 §3.1, RFC 7323, RFC 2018): a view over bytes for the hot path,
// a representation with parse (validates) and emit (writes header, options and checksum).
import { finishChecksum, onesSum, onesSumChunks } from "./checksum.ts";
import { WireError } from "./error.ts";

export const TCP_HEADER_LENGTH = 20;
export const TCP_MAX_OPTIONS_LENGTH = 40;

export const FIN = 0x01;
export const SYN = 0x02;
export const RST = 0x04;
export const PSH = 0x08;
export const ACK = 0x10;
export const URG = 0x20;
export const ECE = 0x40;
export const CWR = 0x80;

const OPT_END = 0;
const OPT_NOP = 1;
const OPT_MSS = 2;
const OPT_WINDOW_SCALE = 3;
const OPT_SACK_PERMITTED = 4;
const OPT_SACK = 5;
const OPT_TIMESTAMP = 8;

/** Why a segment was judged malformed; used as a drop-counter key. */
export type TcpMalformedReason =
  | "truncated-header"
  | "bad-data-offset"
  | "bad-checksum"
  | "bad-option-length"
  | "bad-option-value"
  | "zero-port";


/** Field access over the bytes of one segment; no copying, no validation beyond bounds. */
export class TcpView {
  constructor(readonly bytes: Uint8Array) {}
  get srcPort(): number {
    return (this.bytes[0]! << 8) | this.bytes[1]!;
  }
  get dstPort(): number {
    return (this.bytes[2]! << 8) | this.bytes[3]!;
  }
  get seq(): number {
    return readU32(this.bytes, 4);
  }
  get ack(): number {
    return readU32(this.bytes, 8);
  }
  /** Header length in bytes (data offset × 4). */
  get headerLength(): number {
    return (this.bytes[12]! >> 4) * 4;
  }
  get flags(): number {
    return this.bytes[13]!;
  }
  get window(): number {
    return (this.bytes[14]! << 8) | this.bytes[15]!;
  }
  get checksum(): number {
    return (this.bytes[16]! << 8) | this.bytes[17]!;
  }
  get urgent(): number {
    return (this.bytes[18]! << 8) | this.bytes[19]!;
  }
  get options(): Uint8Array {
    return this.bytes.subarray(TCP_HEADER_LENGTH, this.headerLength);
  }
  get payload(): Uint8Array {
    return this.bytes.subarray(this.headerLength);
  }
}

export function readU32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

function writeU32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = v >>> 16;
  b[o + 2] = v >>> 8;
  b[o + 3] = v;
}

/** The meaningful fields of a segment. Absent options are undefined / -1 / false. */
export interface TcpRepr {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  urgent: number;
  /** Maximum segment size option, or -1. */
  mss: number;
  /** Window scale shift (clamped to 14 per RFC 7323), or -1. */
  windowScale: number;
  sackPermitted: boolean;
  /** SACK blocks as [left0, right0, left1, right1, …]; `sackCount` of them are valid. */
  sack: Uint32Array;
  sackCount: number;
  hasTimestamp: boolean;
  tsVal: number;
  tsEcr: number;
  /** View of the payload inside the parsed bytes. */
  payload: Uint8Array;
}

const EMPTY = new Uint8Array(0);

export function emptyTcpRepr(): TcpRepr {
  return {
    srcPort: 0,
    dstPort: 0,
    seq: 0,
    ack: 0,
    flags: 0,
    window: 0,
    urgent: 0,
    mss: -1,
    windowScale: -1,
    sackPermitted: false,
    sack: new Uint32Array(8),
    sackCount: 0,
    hasTimestamp: false,
    tsVal: 0,
    tsEcr: 0,
    payload: EMPTY,
  };
}

/**
 * Validates `bytes` and fills `out` (reused across segments so the receive path allocates
 * nothing). `pseudoSum` is the unfolded pseudo-header sum; pass null to skip the checksum.
 * Returns null on success, else why the segment is malformed.
 */
export function parseTcpInto(bytes: Uint8Array, pseudoSum: number | null, out: TcpRepr): TcpMalformedReason | null {
  if (bytes.length < TCP_HEADER_LENGTH) return "truncated-header";
  const hlen = (bytes[12]! >> 4) * 4;
  if (hlen < TCP_HEADER_LENGTH || hlen > bytes.length) return "bad-data-offset";
  if (pseudoSum !== null && finishChecksum(onesSum(bytes, 0, bytes.length, pseudoSum)) !== 0) return "bad-checksum";
  out.srcPort = (bytes[0]! << 8) | bytes[1]!;
  out.dstPort = (bytes[2]! << 8) | bytes[3]!;
  if (out.srcPort === 0 || out.dstPort === 0) return "zero-port";
  out.seq = readU32(bytes, 4);
  out.ack = readU32(bytes, 8);
  out.flags = bytes[13]!;
  out.window = (bytes[14]! << 8) | bytes[15]!;
  out.urgent = (bytes[18]! << 8) | bytes[19]!;
  out.mss = -1;
  out.windowScale = -1;
  out.sackPermitted = false;
  out.sackCount = 0;
  out.hasTimestamp = false;
  out.tsVal = 0;
  out.tsEcr = 0;
  let i = TCP_HEADER_LENGTH;
  while (i < hlen) {
    const kind = bytes[i]!;
    if (kind === OPT_END) break;
    if (kind === OPT_NOP) {
      i++;
      continue;
    }
    if (i + 1 >= hlen) return "bad-option-length";
    const len = bytes[i + 1]!;
    if (len < 2 || i + len > hlen) return "bad-option-length";
    switch (kind) {
      case OPT_MSS:
        if (len !== 4) return "bad-option-length";
        out.mss = (bytes[i + 2]! << 8) | bytes[i + 3]!;
        break;
      case OPT_WINDOW_SCALE:
        if (len !== 3) return "bad-option-length";
        // RFC 7323 §2.3: a shift above 14 is used as 14.
        out.windowScale = Math.min(14, bytes[i + 2]!);
        break;
      case OPT_SACK_PERMITTED:
        if (len !== 2) return "bad-option-length";
        out.sackPermitted = true;
        break;
      case OPT_SACK: {
        if ((len - 2) % 8 !== 0 || len === 2) return "bad-option-length";
        const n = Math.min(4, (len - 2) / 8);
        for (let b = 0; b < n; b++) {
          out.sack[2 * b] = readU32(bytes, i + 2 + 8 * b);
          out.sack[2 * b + 1] = readU32(bytes, i + 6 + 8 * b);
        }
        out.sackCount = n;
        break;
      }
      case OPT_TIMESTAMP:
        if (len !== 10) return "bad-option-length";
        out.hasTimestamp = true;
        out.tsVal = readU32(bytes, i + 2);
        out.tsEcr = readU32(bytes, i + 6);
        break;
      default:
        // Unknown options are skipped (RFC 9293 §3.1: must be ignored).
        break;
    }
    i += len;
  }
  out.payload = bytes.subarray(hlen);
  return null;
}

export function parseTcp(bytes: Uint8Array, pseudoSum: number | null = null): TcpRepr | WireError {
  const out = emptyTcpRepr();
  const reason = parseTcpInto(bytes, pseudoSum, out);
  return reason === null ? out : new WireError(reason, `malformed TCP segment: ${reason}`);
}

/** What emit writes: the fields of TcpRepr except the payload, which travels separately. */
export type TcpHeaderFields = Omit<TcpRepr, "payload">;

/** Bytes the header of `r` takes, options padded to 32 bits. */
export function tcpHeaderLength(r: TcpHeaderFields): number {
  let n = 0;
  if (r.mss >= 0) n += 4;
  if (r.windowScale >= 0) n += 4; // NOP + 3
  if (r.sackPermitted) n += r.hasTimestamp ? 2 : 4; // shares a word with the timestamp's NOPs
  if (r.hasTimestamp) n += r.sackPermitted ? 10 : 12;
  if (r.sackCount > 0) n += 4 + 8 * r.sackCount; // NOP NOP kind len
  return TCP_HEADER_LENGTH + ((n + 3) & ~3);
}

/**
 * Writes the header of `r` at the start of `buf` and returns its length. The checksum field is
 * left zero; fill it with `setTcpChecksum` once the payload is known.
 */
export function emitTcpHeader(r: TcpHeaderFields, buf: Uint8Array): number {
  const hlen = tcpHeaderLength(r);
  if (hlen > TCP_HEADER_LENGTH + TCP_MAX_OPTIONS_LENGTH) throw new RangeError(`TCP options need ${hlen - TCP_HEADER_LENGTH} bytes, more than 40`);
  buf[0] = r.srcPort >>> 8;
  buf[1] = r.srcPort;
  buf[2] = r.dstPort >>> 8;
  buf[3] = r.dstPort;
  writeU32(buf, 4, r.seq);
  writeU32(buf, 8, r.ack);
  buf[12] = (hlen / 4) << 4;
  buf[13] = r.flags;
  buf[14] = r.window >>> 8;
  buf[15] = r.window;
  buf[16] = 0;
  buf[17] = 0;
  buf[18] = r.urgent >>> 8;
  buf[19] = r.urgent;
  let i = TCP_HEADER_LENGTH;
  if (r.mss >= 0) {
    buf[i] = OPT_MSS;
    buf[i + 1] = 4;
    buf[i + 2] = r.mss >>> 8;
    buf[i + 3] = r.mss;
    i += 4;
  }
  if (r.windowScale >= 0) {
    buf[i] = OPT_NOP;
    buf[i + 1] = OPT_WINDOW_SCALE;
    buf[i + 2] = 3;
    buf[i + 3] = r.windowScale;
    i += 4;
  }
  if (r.sackPermitted && r.hasTimestamp) {
    buf[i] = OPT_SACK_PERMITTED;
    buf[i + 1] = 2;
    i += 2;
  } else if (r.sackPermitted) {
    buf[i] = OPT_NOP;
    buf[i + 1] = OPT_NOP;
    buf[i + 2] = OPT_SACK_PERMITTED;
    buf[i + 3] = 2;
    i += 4;
  }
  if (r.hasTimestamp) {
    if (!r.sackPermitted) {
      buf[i] = OPT_NOP;
      buf[i + 1] = OPT_NOP;
      i += 2;
    }
    buf[i] = OPT_TIMESTAMP;
    buf[i + 1] = 10;
    writeU32(buf, i + 2, r.tsVal);
    writeU32(buf, i + 6, r.tsEcr);
    i += 10;
  }
  if (r.sackCount > 0) {
    buf[i] = OPT_NOP;
    buf[i + 1] = OPT_NOP;
    buf[i + 2] = OPT_SACK;
    buf[i + 3] = 2 + 8 * r.sackCount;
    i += 4;
    for (let b = 0; b < r.sackCount; b++) {
      writeU32(buf, i, r.sack[2 * b]!);
      writeU32(buf, i + 4, r.sack[2 * b + 1]!);
      i += 8;
    }
  }
  while (i < hlen) buf[i++] = OPT_END;
  return hlen;
}

/**
 * Fills the checksum of the header in `header` (length `hlen`, checksum field zero) followed by
 * `payload` chunks (from index `from`); `pseudoSum` is the unfolded pseudo-header sum for the whole
 * segment length.
 */
export function setTcpChecksum(header: Uint8Array, hlen: number, payload: readonly Uint8Array[], pseudoSum: number, from = 0): void {
  // The header length is a multiple of 4, so the payload starts at an even position.
  let sum = onesSum(header, 0, hlen, pseudoSum);
  const n = payload.length - from;
  if (n === 1) sum = onesSum(payload[from]!, 0, payload[from]!.length, sum);
  else if (n > 1) sum = onesSumChunks(from === 0 ? payload : payload.slice(from), sum);
  const c = finishChecksum(sum);
  header[16] = c >>> 8;
  header[17] = c;
}
