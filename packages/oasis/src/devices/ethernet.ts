import type { MacAddr, NetOffload, TxOffload } from "./net.ts";

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_IPV6 = 0x86dd;

/** Ethernet II framing over a Net. */
export interface Ethernet {
  readonly mac: MacAddr;
  readonly mtu: number;
  /** The device's offloads, when it has any (see Net.offload). */
  readonly offload?: NetOffload | undefined;
  /**
   * Builds a frame to `dst`: `fill` writes the payload into the given buffer (at most mtu bytes)
   * and returns how many bytes it wrote. No copy of the payload is made beyond `fill`'s own.
   * `offload` passes a checksum or segmentation request to a device that has offloads; its
   * offsets count from the start of the payload.
   */
  write(dst: MacAddr, ethertype: number, fill: (payload: Uint8Array) => number, offload?: TxOffload): void;
  /**
   * Registers the receiver of one ethertype. `src` and `payload` are views valid during the call;
   * `checksumOk` says the device vouched for the transport checksum.
   */
  listen(ethertype: number, handler: (src: MacAddr, payload: Uint8Array, dst: MacAddr, checksumOk: boolean) => void): void;
  disconnect(): Promise<void>;
}
