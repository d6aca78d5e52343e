// IPv6 (RFC 8200): addresses (text forms per RFC 4291 §2.2 and RFC 5952), the fixed header, the
// extension-header chain (hop-by-hop, routing, fragment, destination options) and the
// pseudo-header sum for upper-layer checksums (§8.1). Addresses are 16-byte arrays inside the stack.
import type { MacAddr } from "../../devices/net.ts";
import { readU16, readU32, writeU16, writeU32 } from "./address.ts";
import { WireError } from "./error.ts";

export const IPV6_HEADER_LENGTH = 40;
export const IPV6_MIN_MTU = 1280;
export const IPV6_FRAGMENT_HEADER_LENGTH = 8;

export const NEXT_HOP_BY_HOP = 0;
export const NEXT_ROUTING = 43;
export const NEXT_FRAGMENT = 44;
export const NEXT_NO_NEXT_HEADER = 59;
export const NEXT_DESTINATION_OPTIONS = 60;

/** Extension headers walked before the upper layer; a longer chain is refused. */
export const MAX_EXTENSION_HEADERS = 8;

// ---- addresses --------------------------------------------------------------------------------

const HEX_GROUP = /^[0-9a-f]{1,4}$/i;
const DOTTED_TAIL = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

export const IPV6_UNSPECIFIED = new Uint8Array(16);
export const IPV6_ALL_NODES = parseIpv6AddressOrThrow("ff02::1");
export const IPV6_ALL_ROUTERS = parseIpv6AddressOrThrow("ff02::2");

function parseIpv6AddressOrThrow(text: string): Uint8Array {
  const a = parseIpv6Address(text);
  if (a === null) throw new Error(`bad built-in address ${text}`);
  return a;
}

/** Parses "2001:db8::1" (also "::ffff:192.0.2.1"); null if it is not an IPv6 address. No zones. */
export function parseIpv6Address(text: string): Uint8Array | null {
  if (text.length < 2 || text.length > 45) return null;
  const out = new Uint8Array(16);
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groups = (part: string): number[] | null => {
    if (part === "") return [];
    const words: number[] = [];
    const pieces = part.split(":");
    for (let i = 0; i < pieces.length; i++) {
      const p = pieces[i]!;
      if (i === pieces.length - 1 && p.includes(".")) {
        const m = DOTTED_TAIL.exec(p);
        if (!m) return null;
        const bytes = m.slice(1, 5).map((x) => (x.length > 1 && x[0] === "0" ? 256 : Number(x)));
        if (bytes.some((b) => b > 255)) return null;
        words.push((bytes[0]! << 8) | bytes[1]!, (bytes[2]! << 8) | bytes[3]!);
      } else {
        if (!HEX_GROUP.test(p)) return null;
        words.push(parseInt(p, 16));
      }
    }
    return words;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (head === null || tail === null) return null;
  if (halves.length === 1 ? head.length !== 8 : head.length + tail.length > 7) return null;
  head.forEach((w, i) => writeU16(out, i * 2, w));
  tail.forEach((w, i) => writeU16(out, 16 - (tail.length - i) * 2, w));
  return out;
}

/** The canonical text form (RFC 5952): lowercase, no leading zeros, longest zero run as "::". */
export function formatIpv6Address(b: Uint8Array, at = 0): string {
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push((b[at + i * 2]! << 8) | b[at + i * 2 + 1]!);
  // IPv4-mapped addresses are written with the dotted tail (RFC 5952 §5).
  if (w[0] === 0 && w[1] === 0 && w[2] === 0 && w[3] === 0 && w[4] === 0 && w[5] === 0xffff) {
    return `::ffff:${b[at + 12]}.${b[at + 13]}.${b[at + 14]}.${b[at + 15]}`;
  }
  let bestStart = -1;
  let bestLength = 1; // a single zero group is not compressed
  for (let i = 0; i < 8; ) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (ws: number[]) => ws.map((x) => x.toString(16)).join(":");
  if (bestStart < 0) return hex(w);
  return `${hex(w.slice(0, bestStart))}::${hex(w.slice(bestStart + bestLength))}`;
}

const textCache = new Map<string, string>();
const bytesCache = new Map<string, Uint8Array>();
const CACHE_LIMIT = 4096;

/** formatIpv6Address with a cache keyed by the bytes (the receive path names every peer). */
export function ipv6Text(b: Uint8Array, at = 0): string {
  let key = "";
  for (let i = 0; i < 16; i++) key += String.fromCharCode(b[at + i]!);
  let s = textCache.get(key);
  if (s === undefined) {
    s = formatIpv6Address(b, at);
    if (textCache.size >= CACHE_LIMIT) textCache.clear();
    textCache.set(key, s);
  }
  return s;
}

/** parseIpv6Address with a cache; the returned bytes are shared: never modify them. Null if invalid. */
export function ipv6Bytes(text: string): Uint8Array | null {
  let b = bytesCache.get(text);
  if (b === undefined) {
    const p = parseIpv6Address(text);
    if (p === null) return null;
    b = p;
    if (bytesCache.size >= CACHE_LIMIT) bytesCache.clear();
    bytesCache.set(text, b);
  }
  return b;
}

export interface Ipv6Cidr {
  address: Uint8Array;
  prefixLength: number;
}

/** Parses "2001:db8::2/64"; throws a RangeError that says what is wrong. */
export function parseIpv6Cidr(text: string): Ipv6Cidr {
  const slash = text.indexOf("/");
  if (slash < 0) throw new RangeError(`'${text}' is not an IPv6 prefix: write ADDRESS/LENGTH, e.g. 2001:db8::2/64`);
  const address = parseIpv6Address(text.slice(0, slash));
  if (address === null) throw new RangeError(`'${text}': '${text.slice(0, slash)}' is not an IPv6 address (expected e.g. 2001:db8::2)`);
  const plen = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(plen) || Number(plen) > 128) throw new RangeError(`'${text}': prefix length '${plen}' must be a number from 0 to 128`);
  return { address, prefixLength: Number(plen) };
}

export function ipv6Equal(a: Uint8Array, b: Uint8Array, bAt = 0): boolean {
  for (let i = 0; i < 16; i++) if (a[i] !== b[bAt + i]) return false;
  return true;
}

/** Whether the first `length` bits of `a` and `b` agree. */
export function ipv6PrefixMatch(a: Uint8Array, b: Uint8Array, length: number): boolean {
  const full = length >>> 3;
  for (let i = 0; i < full; i++) if (a[i] !== b[i]) return false;
  const rest = length & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (a[full]! & mask) === (b[full]! & mask);
}

/** Number of leading bits `a` and `b` share (RFC 6724 CommonPrefixLen). */
export function commonPrefixLength(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < 16; i++) {
    const x = a[i]! ^ b[i]!;
    if (x !== 0) return i * 8 + Math.clz32(x) - 24;
  }
  return 128;
}

export function isIpv6Multicast(b: Uint8Array, at = 0): boolean {
  return b[at] === 0xff;
}
export function isIpv6Unspecified(b: Uint8Array, at = 0): boolean {
  for (let i = 0; i < 16; i++) if (b[at + i] !== 0) return false;
  return true;
}
export function isIpv6LinkLocal(b: Uint8Array, at = 0): boolean {
  return b[at] === 0xfe && (b[at + 1]! & 0xc0) === 0x80;
}
export function isIpv6Loopback(b: Uint8Array, at = 0): boolean {
  for (let i = 0; i < 15; i++) if (b[at + i] !== 0) return false;
  return b[at + 15] === 1;
}
/** Scope of a multicast address (RFC 4291 §2.7): 1 interface, 2 link, 5 site, 14 global. */
export function multicastScope(b: Uint8Array): number {
  return b[1]! & 0x0f;
}

/** ff02::1:ffXX:XXXX, the solicited-node group of an address (RFC 4291 §2.7.1). */
export function solicitedNodeAddress(addr: Uint8Array): Uint8Array {
  const out = new Uint8Array(16);
  out[0] = 0xff;
  out[1] = 0x02;
  out[11] = 0x01;
  out[12] = 0xff;
  out[13] = addr[13]!;
  out[14] = addr[14]!;
  out[15] = addr[15]!;
  return out;
}

/** 33:33 followed by the low 32 bits of the group (RFC 2464 §7). */
export function ipv6MulticastMac(group: Uint8Array, at = 0): MacAddr {
  return new Uint8Array([0x33, 0x33, group[at + 12]!, group[at + 13]!, group[at + 14]!, group[at + 15]!]);
}

/** Modified EUI-64 interface identifier of a MAC (RFC 4291 appendix A): 8 bytes. */
export function eui64InterfaceId(mac: MacAddr): Uint8Array {
  return new Uint8Array([mac[0]! ^ 0x02, mac[1]!, mac[2]!, 0xff, 0xfe, mac[3]!, mac[4]!, mac[5]!]);
}

/** The first 64 bits of `prefix` followed by the 8-byte interface identifier. */
export function withInterfaceId(prefix: Uint8Array, interfaceId: Uint8Array): Uint8Array {
  const out = new Uint8Array(16);
  out.set(prefix.subarray(0, 8));
  out.set(interfaceId.subarray(0, 8), 8);
  return out;
}

/** fe80::/64 with the interface identifier. */
export function linkLocalAddress(interfaceId: Uint8Array): Uint8Array {
  const out = new Uint8Array(16);
  out[0] = 0xfe;
  out[1] = 0x80;
  out.set(interfaceId.subarray(0, 8), 8);
  return out;
}

/** The address with every bit after `length` cleared. */
export function ipv6PrefixOf(addr: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) {
    const bits = Math.max(0, Math.min(8, length - i * 8));
    out[i] = addr[i]! & ((0xff << (8 - bits)) & 0xff);
  }
  return out;
}

/** The IPv6 pseudo-header sum (RFC 8200 §8.1), unfolded: addresses, 32-bit length, next header. */
export function ipv6PseudoSum(src: Uint8Array, dst: Uint8Array, proto: number, length: number, srcAt = 0, dstAt = 0): number {
  let sum = proto + (length >>> 16) + (length & 0xffff);
  for (let i = 0; i < 16; i += 2) sum += ((src[srcAt + i]! << 8) | src[srcAt + i + 1]!) + ((dst[dstAt + i]! << 8) | dst[dstAt + i + 1]!);
  return sum;
}

// ---- the fixed header -------------------------------------------------------------------------

/** A view over an IPv6 packet's fixed header. */
export class Ipv6Packet {
  constructor(readonly buffer: Uint8Array) {}
  get version(): number {
    return this.buffer[0]! >>> 4;
  }
  get trafficClass(): number {
    return ((this.buffer[0]! & 0x0f) << 4) | (this.buffer[1]! >>> 4);
  }
  get flowLabel(): number {
    return ((this.buffer[1]! & 0x0f) << 16) | readU16(this.buffer, 2);
  }
  get payloadLength(): number {
    return readU16(this.buffer, 4);
  }
  get nextHeader(): number {
    return this.buffer[6]!;
  }
  get hopLimit(): number {
    return this.buffer[7]!;
  }
  set hopLimit(v: number) {
    this.buffer[7] = v;
  }
  get src(): Uint8Array {
    return this.buffer.subarray(8, 24);
  }
  get dst(): Uint8Array {
    return this.buffer.subarray(24, 40);
  }
  get payload(): Uint8Array {
    return this.buffer.subarray(IPV6_HEADER_LENGTH, IPV6_HEADER_LENGTH + this.payloadLength);
  }
}

export interface Ipv6Repr {
  src: Uint8Array;
  dst: Uint8Array;
  /** Next header of the fixed header (the first extension header, or the upper layer). */
  nextHeader: number;
  hopLimit: number;
  trafficClass: number;
  flowLabel: number;
  /** Bytes after the fixed header (extension headers included). */
  payloadLength: number;
}

/** A fragment header found in the chain. */
export interface Ipv6Fragment {
  /** Protocol of the fragmentable part. */
  nextHeader: number;
  /** Bytes, a multiple of 8. */
  offset: number;
  more: boolean;
  id: number;
  /** Where the fragment header starts (from the start of the packet). */
  headerAt: number;
}

export interface Ipv6Parsed extends Ipv6Repr {
  /** The upper-layer protocol (or NEXT_FRAGMENT when `fragment` is set: the rest is fragment data). */
  protocol: number;
  /** Offset of the upper-layer payload (or of the fragment data) in the packet. */
  payloadAt: number;
  /** End of the packet inside the buffer (link-layer padding excluded). */
  end: number;
  fragment: Ipv6Fragment | null;
  /** Offset of the next-header field that names `protocol` (6 for the fixed header): for Parameter Problem pointers. */
  protocolFieldAt: number;
}

/**
 * A malformed or unsupported extension header that RFC 8200 answers with an ICMPv6 Parameter
 * Problem: `code` (0 header field, 2 unrecognised option) and `pointer` (offset in the packet).
 * `evenToMulticast`: the option type asks for the error even when the packet went to a group.
 */
export class Ipv6ParameterError extends WireError {
  constructor(
    reason: string,
    detail: string,
    readonly code: number,
    readonly pointer: number,
    readonly evenToMulticast: boolean,
  ) {
    super(reason, detail);
  }
}

/** Whether `n` names an extension header this parser walks. */
export function isExtensionHeader(n: number): boolean {
  return n === NEXT_HOP_BY_HOP || n === NEXT_ROUTING || n === NEXT_FRAGMENT || n === NEXT_DESTINATION_OPTIONS;
}

/**
 * Validates the TLV options of a hop-by-hop or destination options header in b[start, end).
 * Unknown options whose type says "discard" (top bits ≠ 00) make the packet invalid (RFC 8200 §4.2).
 */
function checkOptions(b: Uint8Array, start: number, end: number): WireError | null {
  let i = start;
  while (i < end) {
    const type = b[i]!;
    if (type === 0) {
      i++;
      continue;
    }
    if (i + 1 >= end) return new WireError("bad-option", `IPv6 option ${type} at byte ${i} has no length byte`);
    const len = b[i + 1]!;
    if (i + 2 + len > end) return new WireError("bad-option", `IPv6 option ${type} at byte ${i} runs past its header`);
    // Known: PadN (1), Router Alert (5). Others are skipped or refused as their top two bits say.
    if (type !== 1 && type !== 5) {
      const action = type >>> 6;
      if (action === 1) return new WireError("unknown-option", `IPv6 option type ${type} says discard when not understood`);
      if (action >= 2) return new Ipv6ParameterError("unknown-option", `IPv6 option type ${type} must be understood and is not`, 2, i, action === 2);
    }
    i += 2 + len;
  }
  return null;
}

/**
 * Walks the extension headers from `nextHeader` at `at` up to the upper layer or a fragment
 * header. `fieldAt` is where the `nextHeader` value was read from.
 */
export function walkIpv6Headers(b: Uint8Array, nextHeader: number, at: number, end: number, fieldAt = 6): Pick<Ipv6Parsed, "protocol" | "payloadAt" | "fragment" | "protocolFieldAt"> | WireError {
  let next = nextHeader;
  let i = at;
  let field = fieldAt;
  for (let count = 0; isExtensionHeader(next); count++) {
    if (count >= MAX_EXTENSION_HEADERS) return new WireError("too-many-headers", `more than ${MAX_EXTENSION_HEADERS} IPv6 extension headers`);
    if (next === NEXT_HOP_BY_HOP && i !== IPV6_HEADER_LENGTH) return new WireError("bad-hop-by-hop", `IPv6 hop-by-hop header at byte ${i}: it may only follow the fixed header`);
    if (i + 8 > end) return new WireError("truncated", `IPv6 extension header ${next} at byte ${i} runs past the packet`);
    if (next === NEXT_FRAGMENT) {
      const word = readU16(b, i + 2);
      const fragment: Ipv6Fragment = { nextHeader: b[i]!, offset: word & 0xfff8, more: (word & 1) !== 0, id: readU32(b, i + 4), headerAt: i };
      return { protocol: NEXT_FRAGMENT, payloadAt: i + IPV6_FRAGMENT_HEADER_LENGTH, fragment, protocolFieldAt: field };
    }
    const length = (b[i + 1]! + 1) * 8;
    if (i + length > end) return new WireError("truncated", `IPv6 extension header ${next} of ${length} bytes at byte ${i} runs past the packet`);
    if (next === NEXT_ROUTING) {
      // A host only accepts routing headers with nothing left to route (RFC 8200 §4.4); type 0 is deprecated (RFC 5095).
      const type = b[i + 2]!;
      const segmentsLeft = b[i + 3]!;
      if (segmentsLeft !== 0) {
        return new Ipv6ParameterError(type === 0 ? "routing-type-0" : "routing-segments-left", `IPv6 routing header type ${type} with ${segmentsLeft} segments left: this host does not forward`, 0, i + 2, false);
      }
    } else {
      const bad = checkOptions(b, i + 2, i + length);
      if (bad) return bad;
    }
    field = i;
    next = b[i]!;
    i += length;
  }
  return { protocol: next, payloadAt: i, fragment: null, protocolFieldAt: field };
}

/** Validates the fixed header and walks the extension headers. The buffer may carry link padding. */
export function parseIpv6(b: Uint8Array): Ipv6Parsed | WireError {
  if (b.length < IPV6_HEADER_LENGTH) return new WireError("truncated", `IPv6 packet of ${b.length} bytes is shorter than the 40-byte header`);
  const version = b[0]! >>> 4;
  if (version !== 6) return new WireError("bad-version", `IP version ${version} in an IPv6 packet`);
  const payloadLength = readU16(b, 4);
  const end = IPV6_HEADER_LENGTH + payloadLength;
  if (payloadLength === 0 && b[6] === NEXT_HOP_BY_HOP) return new WireError("unknown-option", "IPv6 jumbograms are not supported");
  if (end > b.length) return new WireError("truncated", `IPv6 payload length ${payloadLength} but only ${b.length - IPV6_HEADER_LENGTH} bytes follow the header`);
  const walk = walkIpv6Headers(b, b[6]!, IPV6_HEADER_LENGTH, end);
  if (walk instanceof WireError) return walk;
  return {
    src: b.subarray(8, 24),
    dst: b.subarray(24, 40),
    nextHeader: b[6]!,
    hopLimit: b[7]!,
    trafficClass: ((b[0]! & 0x0f) << 4) | (b[1]! >>> 4),
    flowLabel: ((b[1]! & 0x0f) << 16) | readU16(b, 2),
    payloadLength,
    end,
    ...walk,
  };
}

/** Writes the 40-byte fixed header; returns 40. */
export function emitIpv6(repr: Ipv6Repr, b: Uint8Array, at = 0): number {
  b[at] = 0x60 | (repr.trafficClass >>> 4);
  b[at + 1] = ((repr.trafficClass & 0x0f) << 4) | ((repr.flowLabel >>> 16) & 0x0f);
  writeU16(b, at + 2, repr.flowLabel & 0xffff);
  writeU16(b, at + 4, repr.payloadLength);
  b[at + 6] = repr.nextHeader;
  b[at + 7] = repr.hopLimit;
  b.set(repr.src.subarray(0, 16), at + 8);
  b.set(repr.dst.subarray(0, 16), at + 24);
  return IPV6_HEADER_LENGTH;
}

/** Hot-path header writer (traffic class and flow label 0). */
export function writeIpv6Header(b: Uint8Array, at: number, src: Uint8Array, dst: Uint8Array, nextHeader: number, hopLimit: number, payloadLength: number): void {
  b[at] = 0x60;
  b[at + 1] = 0;
  b[at + 2] = 0;
  b[at + 3] = 0;
  b[at + 4] = payloadLength >>> 8;
  b[at + 5] = payloadLength;
  b[at + 6] = nextHeader;
  b[at + 7] = hopLimit;
  b.set(src, at + 8);
  b.set(dst, at + 24);
}

/** Writes an 8-byte fragment header (RFC 8200 §4.5). */
export function writeFragmentHeader(b: Uint8Array, at: number, nextHeader: number, offset: number, more: boolean, id: number): void {
  b[at] = nextHeader;
  b[at + 1] = 0;
  writeU16(b, at + 2, (offset & 0xfff8) | (more ? 1 : 0));
  writeU32(b, at + 4, id);
}

/** An 8-byte hop-by-hop header holding a Router Alert option (RFC 2711; value 0: MLD). */
export function writeRouterAlertHeader(b: Uint8Array, at: number, nextHeader: number): void {
  b[at] = nextHeader;
  b[at + 1] = 0;
  b[at + 2] = 5; // Router Alert
  b[at + 3] = 2;
  b[at + 4] = 0;
  b[at + 5] = 0;
  b[at + 6] = 1; // PadN of 0 bytes
  b[at + 7] = 0;
}
