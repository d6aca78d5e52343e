// Neighbour discovery messages (RFC 4861 §4) and their options (§4.6): router solicitation and
// advertisement (with prefix information and MTU), neighbour solicitation and advertisement (with
// source/target link-layer addresses). Parsing works on a whole ICMPv6 message whose checksum was
// verified; emitting produces a message whose checksum the sender fills (fillIcmpv6Checksum).
import type { MacAddr } from "../../devices/net.ts";
import { readU16, readU32, writeU16, writeU32 } from "./address.ts";
import { WireError } from "./error.ts";
import { isIpv6Multicast } from "./ipv6.ts";
import {
  ICMPV6_NEIGHBOR_ADVERTISEMENT,
  ICMPV6_NEIGHBOR_SOLICITATION,
  ICMPV6_REDIRECT,
  ICMPV6_ROUTER_ADVERTISEMENT,
  ICMPV6_ROUTER_SOLICITATION,
} from "./icmpv6.ts";

export const NDP_OPTION_SOURCE_LINK_ADDRESS = 1;
export const NDP_OPTION_TARGET_LINK_ADDRESS = 2;
export const NDP_OPTION_PREFIX_INFORMATION = 3;
export const NDP_OPTION_REDIRECTED_HEADER = 4;
export const NDP_OPTION_MTU = 5;

/** Lifetimes of 0xffffffff seconds mean "forever". */
export const NDP_INFINITE_LIFETIME = 0xffffffff;

/** Options kept per message; more is hostile (every option is at least 8 bytes anyway). */
export const MAX_PREFIX_OPTIONS = 16;

export interface PrefixInformation {
  prefixLength: number;
  onLink: boolean;
  autonomous: boolean;
  /** Seconds; NDP_INFINITE_LIFETIME for ever. */
  validLifetime: number;
  preferredLifetime: number;
  prefix: Uint8Array;
}

export interface NdpOptions {
  sourceLinkAddress?: MacAddr;
  targetLinkAddress?: MacAddr;
  prefixes: PrefixInformation[];
  mtu?: number;
}

export interface RouterSolicitation {
  type: typeof ICMPV6_ROUTER_SOLICITATION;
  sourceLinkAddress?: MacAddr;
}

export interface RouterAdvertisement {
  type: typeof ICMPV6_ROUTER_ADVERTISEMENT;
  /** 0: unspecified by this router. */
  curHopLimit: number;
  managed: boolean;
  other: boolean;
  /** Seconds; 0: not a default router. */
  routerLifetime: number;
  /** Milliseconds; 0: unspecified. */
  reachableTime: number;
  /** Milliseconds; 0: unspecified. */
  retransTimer: number;
  sourceLinkAddress?: MacAddr;
  mtu?: number;
  prefixes: PrefixInformation[];
}

export interface NeighborSolicitation {
  type: typeof ICMPV6_NEIGHBOR_SOLICITATION;
  target: Uint8Array;
  sourceLinkAddress?: MacAddr;
}

export interface NeighborAdvertisement {
  type: typeof ICMPV6_NEIGHBOR_ADVERTISEMENT;
  router: boolean;
  solicited: boolean;
  override: boolean;
  target: Uint8Array;
  targetLinkAddress?: MacAddr;
}

export interface Redirect {
  type: typeof ICMPV6_REDIRECT;
  target: Uint8Array;
  destination: Uint8Array;
  targetLinkAddress?: MacAddr;
}

export type NdpRepr = RouterSolicitation | RouterAdvertisement | NeighborSolicitation | NeighborAdvertisement | Redirect;

export function isNdpType(type: number): boolean {
  return type >= ICMPV6_ROUTER_SOLICITATION && type <= ICMPV6_REDIRECT;
}

/** Parses the options in b[at, end). Unknown options are skipped (RFC 4861 §4.6). */
export function parseNdpOptions(b: Uint8Array, at: number, end = b.length): NdpOptions | WireError {
  const out: NdpOptions = { prefixes: [] };
  let i = at;
  while (i < end) {
    if (i + 2 > end) return new WireError("bad-ndp-option", `NDP option at byte ${i} is cut short`);
    const type = b[i]!;
    const length = b[i + 1]! * 8;
    if (length === 0) return new WireError("bad-ndp-option", `NDP option ${type} at byte ${i} has length 0`);
    if (i + length > end) return new WireError("bad-ndp-option", `NDP option ${type} of ${length} bytes at byte ${i} runs past the message`);
    switch (type) {
      case NDP_OPTION_SOURCE_LINK_ADDRESS:
      case NDP_OPTION_TARGET_LINK_ADDRESS: {
        // Ethernet: 6 address bytes in an 8-byte option (RFC 2464 §6).
        if (length !== 8) return new WireError("bad-ndp-option", `link-layer address option of ${length} bytes (8 expected on Ethernet)`);
        const mac = b.slice(i + 2, i + 8);
        if (type === NDP_OPTION_SOURCE_LINK_ADDRESS) out.sourceLinkAddress = mac;
        else out.targetLinkAddress = mac;
        break;
      }
      case NDP_OPTION_PREFIX_INFORMATION: {
        if (length !== 32) return new WireError("bad-ndp-option", `prefix information option of ${length} bytes (32 expected)`);
        const prefixLength = b[i + 2]!;
        if (prefixLength > 128) return new WireError("bad-ndp-option", `prefix information with prefix length ${prefixLength}`);
        if (out.prefixes.length >= MAX_PREFIX_OPTIONS) return new WireError("too-many-prefixes", `more than ${MAX_PREFIX_OPTIONS} prefix options in one message`);
        out.prefixes.push({
          prefixLength,
          onLink: (b[i + 3]! & 0x80) !== 0,
          autonomous: (b[i + 3]! & 0x40) !== 0,
          validLifetime: readU32(b, i + 4),
          preferredLifetime: readU32(b, i + 8),
          prefix: b.slice(i + 16, i + 32),
        });
        break;
      }
      case NDP_OPTION_MTU:
        if (length !== 8) return new WireError("bad-ndp-option", `MTU option of ${length} bytes (8 expected)`);
        out.mtu = readU32(b, i + 4);
        break;
      default:
        break;
    }
    i += length;
  }
  return out;
}

const FIXED_LENGTH: Record<number, number> = {
  [ICMPV6_ROUTER_SOLICITATION]: 8,
  [ICMPV6_ROUTER_ADVERTISEMENT]: 16,
  [ICMPV6_NEIGHBOR_SOLICITATION]: 24,
  [ICMPV6_NEIGHBOR_ADVERTISEMENT]: 24,
  [ICMPV6_REDIRECT]: 40,
};

/**
 * Decodes a neighbour discovery message (the whole ICMPv6 message, checksum already verified).
 * Checks what RFC 4861 asks of the message itself; the IP-level checks (hop limit 255, source
 * and destination rules) are the caller's, which has the IP header.
 */
export function parseNdp(b: Uint8Array): NdpRepr | WireError {
  if (b.length < 4) return new WireError("truncated", `ICMPv6 message of ${b.length} bytes`);
  const type = b[0]!;
  const fixed = FIXED_LENGTH[type];
  if (fixed === undefined) return new WireError("not-ndp", `ICMPv6 type ${type} is not neighbour discovery`);
  if (b[1] !== 0) return new WireError("bad-ndp-code", `NDP message type ${type} with code ${b[1]}`);
  if (b.length < fixed) return new WireError("truncated", `NDP message type ${type} of ${b.length} bytes (at least ${fixed} expected)`);
  const o = parseNdpOptions(b, fixed);
  if (o instanceof WireError) return o;
  switch (type) {
    case ICMPV6_ROUTER_SOLICITATION:
      return { type, ...(o.sourceLinkAddress ? { sourceLinkAddress: o.sourceLinkAddress } : {}) };
    case ICMPV6_ROUTER_ADVERTISEMENT:
      return {
        type,
        curHopLimit: b[4]!,
        managed: (b[5]! & 0x80) !== 0,
        other: (b[5]! & 0x40) !== 0,
        routerLifetime: readU16(b, 6),
        reachableTime: readU32(b, 8),
        retransTimer: readU32(b, 12),
        prefixes: o.prefixes,
        ...(o.sourceLinkAddress ? { sourceLinkAddress: o.sourceLinkAddress } : {}),
        ...(o.mtu !== undefined ? { mtu: o.mtu } : {}),
      };
    case ICMPV6_NEIGHBOR_SOLICITATION: {
      const target = b.slice(8, 24);
      if (isIpv6Multicast(target)) return new WireError("bad-ndp-target", "neighbour solicitation for a multicast address");
      return { type, target, ...(o.sourceLinkAddress ? { sourceLinkAddress: o.sourceLinkAddress } : {}) };
    }
    case ICMPV6_NEIGHBOR_ADVERTISEMENT: {
      const target = b.slice(8, 24);
      if (isIpv6Multicast(target)) return new WireError("bad-ndp-target", "neighbour advertisement for a multicast address");
      return {
        type,
        router: (b[4]! & 0x80) !== 0,
        solicited: (b[4]! & 0x40) !== 0,
        override: (b[4]! & 0x20) !== 0,
        target,
        ...(o.targetLinkAddress ? { targetLinkAddress: o.targetLinkAddress } : {}),
      };
    }
    default:
      return {
        type: ICMPV6_REDIRECT,
        target: b.slice(8, 24),
        destination: b.slice(24, 40),
        ...(o.targetLinkAddress ? { targetLinkAddress: o.targetLinkAddress } : {}),
      };
  }
}

function linkAddressOption(b: Uint8Array, at: number, type: number, mac: MacAddr): number {
  b[at] = type;
  b[at + 1] = 1;
  b.set(mac.subarray(0, 6), at + 2);
  return 8;
}

/** Bytes `emitNdp` writes for `repr`. */
export function ndpLength(repr: NdpRepr): number {
  let n = FIXED_LENGTH[repr.type]!;
  if ("sourceLinkAddress" in repr && repr.sourceLinkAddress) n += 8;
  if ("targetLinkAddress" in repr && repr.targetLinkAddress) n += 8;
  if (repr.type === ICMPV6_ROUTER_ADVERTISEMENT) {
    if (repr.mtu !== undefined) n += 8;
    n += 32 * repr.prefixes.length;
  }
  return n;
}

/** Writes the message (checksum field zero) into `b`; returns its length. */
export function emitNdp(repr: NdpRepr, b: Uint8Array): number {
  const fixed = FIXED_LENGTH[repr.type]!;
  b.fill(0, 0, fixed);
  b[0] = repr.type;
  let at = fixed;
  switch (repr.type) {
    case ICMPV6_ROUTER_SOLICITATION:
      if (repr.sourceLinkAddress) at += linkAddressOption(b, at, NDP_OPTION_SOURCE_LINK_ADDRESS, repr.sourceLinkAddress);
      break;
    case ICMPV6_ROUTER_ADVERTISEMENT:
      b[4] = repr.curHopLimit;
      b[5] = (repr.managed ? 0x80 : 0) | (repr.other ? 0x40 : 0);
      writeU16(b, 6, repr.routerLifetime);
      writeU32(b, 8, repr.reachableTime);
      writeU32(b, 12, repr.retransTimer);
      if (repr.sourceLinkAddress) at += linkAddressOption(b, at, NDP_OPTION_SOURCE_LINK_ADDRESS, repr.sourceLinkAddress);
      if (repr.mtu !== undefined) {
        b[at] = NDP_OPTION_MTU;
        b[at + 1] = 1;
        writeU16(b, at + 2, 0);
        writeU32(b, at + 4, repr.mtu);
        at += 8;
      }
      for (const p of repr.prefixes) {
        b.fill(0, at, at + 32);
        b[at] = NDP_OPTION_PREFIX_INFORMATION;
        b[at + 1] = 4;
        b[at + 2] = p.prefixLength;
        b[at + 3] = (p.onLink ? 0x80 : 0) | (p.autonomous ? 0x40 : 0);
        writeU32(b, at + 4, p.validLifetime);
        writeU32(b, at + 8, p.preferredLifetime);
        b.set(p.prefix.subarray(0, 16), at + 16);
        at += 32;
      }
      break;
    case ICMPV6_NEIGHBOR_SOLICITATION:
      b.set(repr.target.subarray(0, 16), 8);
      if (repr.sourceLinkAddress) at += linkAddressOption(b, at, NDP_OPTION_SOURCE_LINK_ADDRESS, repr.sourceLinkAddress);
      break;
    case ICMPV6_NEIGHBOR_ADVERTISEMENT:
      b[4] = (repr.router ? 0x80 : 0) | (repr.solicited ? 0x40 : 0) | (repr.override ? 0x20 : 0);
      b.set(repr.target.subarray(0, 16), 8);
      if (repr.targetLinkAddress) at += linkAddressOption(b, at, NDP_OPTION_TARGET_LINK_ADDRESS, repr.targetLinkAddress);
      break;
    case ICMPV6_REDIRECT:
      b.set(repr.target.subarray(0, 16), 8);
      b.set(repr.destination.subarray(0, 16), 24);
      if (repr.targetLinkAddress) at += linkAddressOption(b, at, NDP_OPTION_TARGET_LINK_ADDRESS, repr.targetLinkAddress);
      break;
  }
  return at;
}
