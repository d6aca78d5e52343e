// IP address text ↔ bytes for DNS (A/AAAA data, reverse names, nameserver lists). Pure code: the
// client runs on every target, so node:net is not available here.
import { parseIpv4Address } from "../wire/address.ts";

/** 4 bytes for a dotted quad, else null. */
export function ipv4Bytes(text: string): Uint8Array | null {
  const n = parseIpv4Address(text);
  if (n === null) return null;
  return new Uint8Array([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
}

export function formatIpv4Bytes(b: Uint8Array): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

/** 16 bytes for an IPv6 address in any RFC 4291 text form (with an optional embedded IPv4), else null. */
export function ipv6Bytes(text: string): Uint8Array | null {
  if (!/^[0-9a-fA-F:.]+$/.test(text) || text.length > 45) return null;
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groupsOf = (part: string): number[] | null => {
    if (part === "") return [];
    const out: number[] = [];
    const pieces = part.split(":");
    for (let i = 0; i < pieces.length; i++) {
      const p = pieces[i]!;
      if (i === pieces.length - 1 && p.includes(".")) {
        const v4 = ipv4Bytes(p);
        if (!v4) return null;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return null;
        out.push(parseInt(p, 16));
      }
    }
    return out;
  };
  const head = groupsOf(halves[0]!);
  const tail = halves.length === 2 ? groupsOf(halves[1]!) : [];
  if (!head || !tail) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const groups = [...head, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail];
  const b = new Uint8Array(16);
  groups.forEach((g, i) => {
    b[2 * i] = g >> 8;
    b[2 * i + 1] = g & 255;
  });
  return b;
}

/** RFC 5952 canonical text: lower case, longest run (≥ 2) of zero groups compressed. */
export function formatIpv6Bytes(b: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push((b[2 * i]! << 8) | b[2 * i + 1]!);
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (gs: number[]) => gs.map((g) => g.toString(16)).join(":");
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLength))}`;
}

/** The canonical form of an IPv4 or IPv6 address (as the stacks report peers), or null. */
export function canonicalIp(text: string): string | null {
  if (ipv4Bytes(text)) return text;
  const v6 = ipv6Bytes(text);
  if (!v6) return null;
  // IPv4-mapped addresses name the IPv4 peer, as the socket stack reports it.
  if (v6.subarray(0, 10).every((x) => x === 0) && v6[10] === 0xff && v6[11] === 0xff) return formatIpv4Bytes(v6.subarray(12));
  return formatIpv6Bytes(v6);
}

/** The PTR name of an address: 7.2.0.192.in-addr.arpa, or the nibbles under ip6.arpa. Null if not an address. */
export function reverseName(ip: string): string | null {
  const v4 = ipv4Bytes(ip);
  if (v4) return `${[...v4].reverse().join(".")}.in-addr.arpa`;
  const v6 = ipv6Bytes(ip);
  if (!v6) return null;
  const nibbles: string[] = [];
  for (let i = 15; i >= 0; i--) nibbles.push((v6[i]! & 15).toString(16), (v6[i]! >> 4).toString(16));
  return `${nibbles.join(".")}.ip6.arpa`;
}
