// Ethernet II frames: 6-byte destination, 6-byte source, 16-bit ethertype, payload.
import type { MacAddr } from "../../devices/net.ts";
import { readU16, writeU16 } from "./address.ts";
import { WireError } from "./error.ts";

export const ETHERNET_HEADER_LENGTH = 14;

/** A view over a frame: field accessors, no copy and no validation beyond what the getter reads. */
export class EthernetFrame {
  constructor(readonly buffer: Uint8Array) {}
  get dst(): MacAddr {
    return this.buffer.subarray(0, 6);
  }
  get src(): MacAddr {
    return this.buffer.subarray(6, 12);
  }
  get ethertype(): number {
    return readU16(this.buffer, 12);
  }
  set ethertype(v: number) {
    writeU16(this.buffer, 12, v);
  }
  get payload(): Uint8Array {
    return this.buffer.subarray(ETHERNET_HEADER_LENGTH);
  }
}

export interface EthernetRepr {
  dst: MacAddr;
  src: MacAddr;
  ethertype: number;
}

export function parseEthernet(frame: Uint8Array): EthernetRepr | WireError {
  if (frame.length < ETHERNET_HEADER_LENGTH) return new WireError("truncated", `Ethernet frame of ${frame.length} bytes is shorter than its 14-byte header`);
  const ethertype = readU16(frame, 12);
  // Values ≤ 1500 are 802.3 lengths, not Ethernet II types: we do not speak LLC.
  if (ethertype < 0x0600) return new WireError("not-ethernet-ii", `802.3 length field ${ethertype} instead of an ethertype`);
  return { dst: frame.subarray(0, 6), src: frame.subarray(6, 12), ethertype };
}

/** Writes the header; returns its length. */
export function emitEthernet(repr: EthernetRepr, frame: Uint8Array): number {
  frame.set(repr.dst.subarray(0, 6), 0);
  frame.set(repr.src.subarray(0, 6), 6);
  writeU16(frame, 12, repr.ethertype);
  return ETHERNET_HEADER_LENGTH;
}
