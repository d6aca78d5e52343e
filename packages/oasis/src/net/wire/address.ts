// Addresses: IPv4 as unsigned 32-bit numbers inside the stack, dotted-quad strings at the API;
// MAC addresses as 6-byte arrays. Conversions used on every packet are cached.
import type { MacAddr } from "../../devices/net.ts";

export const BROADCAST_MAC: MacAddr = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
export const ZERO_MAC: MacAddr = new Uint8Array(6);
export const IPV4_BROADCAST = 0xffffffff;
export const IPV4_ANY = 0;

const DOTTED = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** Parses "192.0.2.1" into a 32-bit number; null if it is not a dotted quad. */
export function parseIpv4Address(text: string): number | null {
  const m = DOTTED.exec(text);
  if (!m) return null;
  let n = 0;
  for (let i = 1; i <= 4; i++) {
    const part = m[i]!;
    if (part.length > 1 && part[0] === "0") return null; // "01" is ambiguous (octal in some tools)
    const b = Number(part);
    if (b > 255) return null;
    n = n * 256 + b;
  }
  return n;
}

const textCache = new Map<number, string>();
const numberCache = new Map<string, number>();
const CACHE_LIMIT = 4096;

/** Formats a 32-bit address; cached, as the receive path names the peers of every datagram. */
export function formatIpv4Address(n: number): string {
  let s = textCache.get(n);
  if (s === undefined) {
    s = `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
    if (textCache.size >= CACHE_LIMIT) textCache.clear();
    textCache.set(n, s);
  }
  return s;
}

/** parseIpv4 with a cache, for addresses given on every write; null if invalid. */
export function ipv4Number(text: string): number | null {
  let n = numberCache.get(text);
  if (n === undefined) {
    const p = parseIpv4Address(text);
    if (p === null) return null;
    n = p;
    if (numberCache.size >= CACHE_LIMIT) numberCache.clear();
    numberCache.set(text, n);
  }
  return n;
}

export interface Ipv4Cidr {
  address: number;
  prefixLength: number;
}

/** Parses "192.0.2.2/24"; throws a RangeError that says what is wrong. */
export function parseIpv4Cidr(text: string): Ipv4Cidr {
  const slash = text.indexOf("/");
  if (slash < 0) throw new RangeError(`'${text}' is not an IPv4 CIDR: write ADDRESS/PREFIX, e.g. 192.0.2.2/24`);
  const address = parseIpv4Address(text.slice(0, slash));
  const plen = text.slice(slash + 1);
  if (address === null) throw new RangeError(`'${text}': '${text.slice(0, slash)}' is not an IPv4 address (expected four numbers 0-255, e.g. 192.0.2.2)`);
  if (!/^\d{1,2}$/.test(plen) || Number(plen) > 32) throw new RangeError(`'${text}': prefix length '${plen}' must be a number from 0 to 32`);
  return { address, prefixLength: Number(plen) };
}

export function netmask(prefixLength: number): number {
  return prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
}

export function isIpv4Multicast(n: number): boolean {
  return n >>> 28 === 0xe;
}

export function formatMac(mac: Uint8Array): string {
  let s = "";
  for (let i = 0; i < 6; i++) s += (i ? ":" : "") + (mac[i] ?? 0).toString(16).padStart(2, "0");
  return s;
}

/** Parses "aa:bb:cc:dd:ee:ff" (or with '-'); null if invalid. */
export function parseMac(text: string): MacAddr | null {
  const parts = text.split(/[:-]/);
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-f]{1,2}$/i.test(p))) return null;
  return new Uint8Array(parts.map((p) => parseInt(p, 16)));
}

export function macEquals(a: Uint8Array, b: Uint8Array): boolean {
  return a[0] === b[0] && a[1] === b[1] && a[2] === b[2] && a[3] === b[3] && a[4] === b[4] && a[5] === b[5];
}

/** RFC 1112: 01:00:5e followed by the low 23 bits of the group address. */
export function ipv4MulticastMac(group: number): MacAddr {
  return new Uint8Array([0x01, 0x00, 0x5e, (group >>> 16) & 0x7f, (group >>> 8) & 0xff, group & 0xff]);
}

export function readU32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}
export function writeU32(b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 24;
  b[at + 1] = v >>> 16;
  b[at + 2] = v >>> 8;
  b[at + 3] = v;
}
export function readU16(b: Uint8Array, at: number): number {
  return (b[at]! << 8) | b[at + 1]!;
}
export function writeU16(b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 8;
  b[at + 1] = v;
}
