// Offloads done in software: finishing a transport checksum left partial, and cutting a TCP
// packet larger than the MTU into MTU-sized segments (what a NIC's TSO or Linux's GSO does).
// Used where a large or partially checksummed packet cannot go to a device that would do it
// itself: a packet queued behind address resolution, a loopback delivery, a middleware that
// works on wire-sized frames. Packets start at the IP header (version 4 or 6).
import { finishChecksum, onesSum } from "./checksum.ts";

const TCP_FIN = 0x01;
const TCP_PSH = 0x08;
const TCP_CWR = 0x80;

/**
 * Completes the transport checksum of `packet`: coverage starts at `transportStart` and the field
 * at `transportStart + checksumOffset` holds the pseudo-header sum (folded, not inverted).
 */
export function finishPartialChecksum(packet: Uint8Array, transportStart: number, checksumOffset: number): void {
  const at = transportStart + checksumOffset;
  let c = finishChecksum(onesSum(packet, transportStart, packet.length, 0));
  // UDP (checksum at offset 6) sends a computed zero as all ones: zero there means "no checksum".
  if (c === 0 && checksumOffset === 6) c = 0xffff;
  packet[at] = c >>> 8;
  packet[at + 1] = c;
}

/** Where the TCP header of a TCP/IPv4 or TCP/IPv6 packet starts, or -1 if it is not one we can segment. */
function tcpStart(packet: Uint8Array): number {
  const version = packet[0]! >> 4;
  if (version === 4 && packet.length >= 20 && packet[9] === 6) return (packet[0]! & 0x0f) * 4;
  if (version === 6 && packet.length >= 40 && packet[6] === 6) return 40; // no extension headers
  return -1;
}

/**
 * Cuts the TCP payload of `packet` into segments of `segmentSize` bytes and hands each to
 * `emit` as a new, complete packet: IP length (and IPv4 ID and header checksum), sequence
 * number and TCP checksum fixed; FIN and PSH only on the last segment, CWR only on the first.
 * A packet that needs no cutting, or is not TCP over IPv4/IPv6 without extension headers, is
 * emitted whole with its checksum finished. The input's TCP checksum may be partial or complete.
 */
export function segmentTcpPacket(packet: Uint8Array, segmentSize: number, emit: (segment: Uint8Array) => void): void {
  const ipLength = tcpStart(packet);
  const v4 = packet[0]! >> 4 === 4;
  const end = v4 ? Math.min(packet.length, (packet[2]! << 8) | packet[3]!) : Math.min(packet.length, 40 + ((packet[4]! << 8) | packet[5]!));
  const tcpLength = ipLength < 0 || ipLength + 20 > end ? -1 : (packet[ipLength + 12]! >> 4) * 4;
  if (tcpLength < 20 || ipLength + tcpLength > end || !(Number.isInteger(segmentSize) && segmentSize > 0)) {
    const whole = packet.slice(0, end > 0 ? end : packet.length);
    if (tcpLength >= 20) setTcpChecksum(whole, ipLength, v4);
    emit(whole);
    return;
  }
  const headers = ipLength + tcpLength;
  const payload = end - headers;
  const seq0 = ((packet[ipLength + 4]! << 24) | (packet[ipLength + 5]! << 16) | (packet[ipLength + 6]! << 8) | packet[ipLength + 7]!) >>> 0;
  const flags = packet[ipLength + 13]!;
  const id0 = v4 ? (packet[4]! << 8) | packet[5]! : 0;
  const count = Math.max(1, Math.ceil(payload / segmentSize));
  for (let i = 0; i < count; i++) {
    const from = headers + i * segmentSize;
    const n = Math.min(segmentSize, end - from);
    const seg = new Uint8Array(headers + n);
    seg.set(packet.subarray(0, headers));
    seg.set(packet.subarray(from, from + n), headers);
    if (v4) {
      const total = headers + n;
      seg[2] = total >>> 8;
      seg[3] = total;
      const id = (id0 + i) & 0xffff;
      seg[4] = id >>> 8;
      seg[5] = id;
      seg[10] = 0;
      seg[11] = 0;
      const c = finishChecksum(onesSum(seg, 0, ipLength, 0));
      seg[10] = c >>> 8;
      seg[11] = c;
    } else {
      const length = tcpLength + n;
      seg[4] = length >>> 8;
      seg[5] = length;
    }
    const seq = (seq0 + i * segmentSize) >>> 0;
    seg[ipLength + 4] = seq >>> 24;
    seg[ipLength + 5] = seq >>> 16;
    seg[ipLength + 6] = seq >>> 8;
    seg[ipLength + 7] = seq;
    let f = flags;
    if (i < count - 1) f &= ~(TCP_FIN | TCP_PSH);
    if (i > 0) f &= ~TCP_CWR;
    seg[ipLength + 13] = f;
    setTcpChecksum(seg, ipLength, v4);
    emit(seg);
  }
}

/** Computes the full TCP checksum of a packet whose TCP header starts at `at`. */
function setTcpChecksum(packet: Uint8Array, at: number, v4: boolean): void {
  const length = packet.length - at;
  packet[at + 16] = 0;
  packet[at + 17] = 0;
  // Pseudo-header: both addresses, the protocol and the TCP length.
  let sum = v4 ? onesSum(packet, 12, 20, 0) : onesSum(packet, 8, 40, 0);
  sum += 6 + length;
  const c = finishChecksum(onesSum(packet, at, packet.length, sum));
  packet[at + 16] = c >>> 8;
  packet[at + 17] = c;
}
