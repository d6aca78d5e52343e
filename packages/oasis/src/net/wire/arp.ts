// ARP for IPv4 over Ethernet (RFC 826): fixed 28-byte packets.
import type { MacAddr } from "../../devices/net.ts";
import { readU16, readU32, writeU16, writeU32 } from "./address.ts";
import { WireError } from "./error.ts";

export const ARP_PACKET_LENGTH = 28;
export const ARP_REQUEST = 1;
export const ARP_REPLY = 2;

export interface ArpRepr {
  op: number;
  senderMac: MacAddr;
  senderIp: number;
  targetMac: MacAddr;
  targetIp: number;
}

export function parseArp(packet: Uint8Array): ArpRepr | WireError {
  if (packet.length < ARP_PACKET_LENGTH) return new WireError("truncated", `ARP packet of ${packet.length} bytes, need 28`);
  if (readU16(packet, 0) !== 1) return new WireError("unsupported-hardware", `ARP hardware type ${readU16(packet, 0)} is not Ethernet (1)`);
  if (readU16(packet, 2) !== 0x0800) return new WireError("unsupported-protocol", `ARP protocol type 0x${readU16(packet, 2).toString(16)} is not IPv4`);
  if (packet[4] !== 6 || packet[5] !== 4) return new WireError("bad-length", `ARP address lengths ${packet[4]}/${packet[5]}, expected 6/4`);
  const op = readU16(packet, 6);
  if (op !== ARP_REQUEST && op !== ARP_REPLY) return new WireError("bad-operation", `ARP operation ${op} is neither request (1) nor reply (2)`);
  return {
    op,
    senderMac: packet.slice(8, 14),
    senderIp: readU32(packet, 14),
    targetMac: packet.slice(18, 24),
    targetIp: readU32(packet, 24),
  };
}

export function emitArp(repr: ArpRepr, packet: Uint8Array): number {
  writeU16(packet, 0, 1);
  writeU16(packet, 2, 0x0800);
  packet[4] = 6;
  packet[5] = 4;
  writeU16(packet, 6, repr.op);
  packet.set(repr.senderMac.subarray(0, 6), 8);
  writeU32(packet, 14, repr.senderIp);
  packet.set(repr.targetMac.subarray(0, 6), 18);
  writeU32(packet, 24, repr.targetIp);
  return ARP_PACKET_LENGTH;
}
