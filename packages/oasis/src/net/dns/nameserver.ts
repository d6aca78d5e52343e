// Nameserver specifications as Mirage's dns-client writes them: udp:IP(:PORT), tcp:IP(:PORT);
// an IPv6 address with a port goes in brackets (tcp:[2001:db8::1]:53).
import { canonicalIp, ipv4Bytes } from "./address.ts";
import { DNS_PORT } from "./wire.ts";

export interface Nameserver {
  protocol: "udp" | "tcp";
  /** Canonical IP address. */
  address: string;
  port: number;
}

/** Parses one specification; throws an Error saying what is wrong and what a good one looks like. */
export function parseNameserver(text: string): Nameserver {
  const spec = text.trim();
  const example = "expected udp:IP, udp:IP:PORT, tcp:IP or tcp:[IPv6]:PORT, e.g. udp:192.0.2.1 or tcp:192.0.2.1:53";
  const colon = spec.indexOf(":");
  const scheme = colon < 0 ? "" : spec.slice(0, colon);
  if (scheme !== "udp" && scheme !== "tcp") {
    if (scheme === "tls") throw new Error(`nameserver '${spec}': DNS over TLS is not supported; use udp: or tcp:`);
    throw new Error(`nameserver '${spec}' has no protocol: ${example}`);
  }
  const rest = spec.slice(colon + 1);
  let host = rest;
  let portText: string | null = null;
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(rest);
  if (bracketed) {
    host = bracketed[1]!;
    portText = bracketed[2] ?? null;
  } else if (ipv4Bytes(rest.split(":")[0]!) && rest.includes(":")) {
    // IPv4 followed by a port; a bare IPv6 address has colons of its own and no port.
    host = rest.slice(0, rest.indexOf(":"));
    portText = rest.slice(rest.indexOf(":") + 1);
  }
  const address = canonicalIp(host);
  if (!address) throw new Error(`nameserver '${spec}': '${host}' is not an IP address (${example})`);
  let port = DNS_PORT;
  if (portText !== null) {
    if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
      throw new Error(`nameserver '${spec}': port '${portText}' is not a number from 1 to 65535`);
    }
    port = Number(portText);
  }
  return { protocol: scheme, address, port };
}

/** A comma-separated list (the --dns-servers syntax); at least one entry. */
export function parseNameservers(text: string): Nameserver[] {
  const parts = text.split(",").map((s) => s.trim());
  if (parts.some((p) => p === "")) throw new Error(`nameserver list '${text}' has an empty entry: separate servers with single commas`);
  return parts.map(parseNameserver);
}

export function formatNameserver(ns: Nameserver): string {
  const host = ns.address.includes(":") ? `[${ns.address}]` : ns.address;
  return `${ns.protocol}:${host}:${ns.port}`;
}
