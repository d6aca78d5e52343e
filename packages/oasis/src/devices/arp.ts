import type { MacAddr } from "./net.ts";

/** IPv4 addresses here are dotted-quad strings. */
export interface Arp {
  /** Resolves an on-link IPv4 address; rejects with ArpError("timeout") after the retries. */
  query(ip: string): Promise<MacAddr>;
  /** Answers for these addresses from now on and announces them (gratuitous ARP). */
  setIps(ips: string[]): void;
  addIp(ip: string): void;
  removeIp(ip: string): void;
  getIps(): string[];
  /** A static entry wins over anything learnt from the wire. */
  addStatic(ip: string, mac: MacAddr): void;
  disconnect(): Promise<void>;
}
