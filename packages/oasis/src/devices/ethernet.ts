import type { MacAddr } from "./net.ts";

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_IPV6 = 0x86dd;

/** Ethernet II framing over a Net. */
export interface Ethernet {
  readonly mac: MacAddr;
  readonly mtu: number;
  /**
   * Builds a frame to `dst`: `fill` writes the payload into the given buffer (at most mtu bytes)
   * and returns how many bytes it wrote. No copy of the payload is made beyond `fill`'s own.
   */
  write(dst: MacAddr, ethertype: number, fill: (payload: Uint8Array) => number): void;
  /** Registers the receiver of one ethertype. `src` and `payload` are views valid during the call. */
  listen(ethertype: number, handler: (src: MacAddr, payload: Uint8Array, dst: MacAddr) => void): void;
  disconnect(): Promise<void>;
}
