// MAC helpers local to the physical layer (the full address toolkit lives in oasis/net, which
// sits above us and must not be imported from here).
import { randomBytes } from "oasis/random";
import type { MacAddr } from "../../devices/net.ts";

/** A random locally administered unicast address (02:xx:…, as a hypervisor would assign). */
export function randomMac(): MacAddr {
  const mac = randomBytes(6);
  mac[0] = (mac[0]! & 0xfc) | 0x02;
  return mac;
}

/** Accepts 6 bytes or "aa:bb:cc:dd:ee:ff" (also '-' separated); returns a fresh copy. */
export function toMac(value: MacAddr | string, where: string): MacAddr {
  if (typeof value !== "string") {
    if (value.length !== 6) throw new RangeError(`${where}: a MAC address has 6 bytes, got ${value.length}`);
    return Uint8Array.from(value);
  }
  const parts = value.split(/[:-]/);
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-f]{1,2}$/i.test(p))) {
    throw new RangeError(`${where}: '${value}' is not a MAC address; write six hex bytes like 02:00:00:00:00:01`);
  }
  return Uint8Array.from(parts.map((p) => parseInt(p, 16)));
}

export function macToString(mac: Uint8Array): string {
  return Array.from(mac.subarray(0, 6), (b) => b.toString(16).padStart(2, "0")).join(":");
}

export function sameMac(a: Uint8Array, aOffset: number, b: Uint8Array): boolean {
  return a[aOffset] === b[0] && a[aOffset + 1] === b[1] && a[aOffset + 2] === b[2] && a[aOffset + 3] === b[3] && a[aOffset + 4] === b[4] && a[aOffset + 5] === b[5];
}
