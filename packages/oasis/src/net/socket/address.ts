// Address helpers for the socket stack: canonical strings (as the rest of Oasis uses) and the
// --ipv4/--ipv6 prefixes. Node is available here: this backend only exists on unix.
import { isIPv4, isIPv6 } from "node:net";
import type { Prefix } from "../../devices/ip.ts";

export type Family = "ipv4" | "ipv6";

/** Canonical form: IPv4 dotted quad, IPv6 compressed lower case; IPv4-mapped IPv6 becomes IPv4. */
export function canonicalAddress(address: string): string {
  if (isIPv4(address)) return address;
  const lower = address.toLowerCase();
  if (lower.startsWith("::ffff:") && isIPv4(lower.slice(7))) return lower.slice(7);
  if (!isIPv6(lower)) return address;
  // The URL parser serialises IPv6 hosts in the RFC 5952 canonical form.
  return new URL(`http://[${lower}]/`).hostname.slice(1, -1);
}

export function familyOf(address: string): Family | null {
  if (isIPv4(address)) return "ipv4";
  if (isIPv6(address)) return "ipv6";
  return null;
}

export function isUnspecified(address: string): boolean {
  return address === "0.0.0.0" || address === "::";
}

/** Parses "192.0.2.2/24" (or a bare address, meaning a host prefix) of the given family. */
export function parsePrefix(text: string, family: Family): Prefix {
  const slash = text.indexOf("/");
  const address = slash < 0 ? text : text.slice(0, slash);
  const max = family === "ipv4" ? 32 : 128;
  const lengthText = slash < 0 ? String(max) : text.slice(slash + 1);
  if (familyOf(address) !== family) {
    throw new Error(`'${address}' is not an ${family === "ipv4" ? "IPv4" : "IPv6"} address`);
  }
  if (!/^\d{1,3}$/.test(lengthText) || Number(lengthText) > max) {
    throw new Error(`prefix length '${lengthText}' must be a number from 0 to ${max}`);
  }
  return { address: canonicalAddress(address), prefixLength: Number(lengthText) };
}

export function formatPrefix(p: Prefix): string {
  return `${p.address}/${p.prefixLength}`;
}
