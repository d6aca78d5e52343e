// Helpers for IPv6 tests: nodes on an in-memory switch with virtual time, and a raw port that
// builds and decodes frames the way another host on the link would.
import type { MacAddr } from "../../devices/net.ts";
import { ETHERTYPE_IPV6 } from "../../devices/ethernet.ts";
import { PROTO_ICMPV6 } from "../../devices/ip.ts";
import { MemorySwitch, type SwitchPort } from "../phy/switch.ts";
import { EthernetLayer } from "../ethernet/ethernet.ts";
import { ManualClock } from "../stack/clock.ts";
import { parseMac } from "../wire/address.ts";
import { emitEthernet, ETHERNET_HEADER_LENGTH } from "../wire/ethernet.ts";
import { WireError } from "../wire/error.ts";
import { IPV6_HEADER_LENGTH, ipv6Bytes, ipv6Equal, isIpv6Unspecified, ipv6MulticastMac, isIpv6Multicast, parseIpv6, writeIpv6Header, type Ipv6Parsed } from "../wire/ipv6.ts";
import { fillIcmpv6Checksum, parseIcmpv6, ICMPV6_NEIGHBOR_ADVERTISEMENT, ICMPV6_NEIGHBOR_SOLICITATION, type Icmpv6Repr } from "../wire/icmpv6.ts";
import { emitNdp, isNdpType, ndpLength, parseNdp, type NdpRepr } from "../wire/ndp.ts";
import { Ipv6Layer, type Ipv6Options } from "./ipv6.ts";

export function addr(text: string): Uint8Array {
  const a = ipv6Bytes(text);
  if (a === null) throw new Error(`bad test address ${text}`);
  return a.slice();
}

export function mac(text: string): MacAddr {
  return parseMac(text)!;
}

/** Deterministic "random" numbers: always the smallest value, so timers fire at their earliest. */
export const noJitter = (_max: number) => 0;

export interface Node {
  port: SwitchPort;
  ethernet: EthernetLayer;
  ipv6: Ipv6Layer;
}

export function node(sw: MemorySwitch, clock: ManualClock, macText: string, options: Ipv6Options = {}): Node {
  const port = sw.port({ mac: macText, name: macText });
  const ethernet = new EthernetLayer(port);
  const ipv6 = new Ipv6Layer(ethernet, { clock, randomInt: noJitter, ...options });
  return { port, ethernet, ipv6 };
}

/** Moves virtual time forward in steps, delivering frames in between (timers then replies). */
export async function advance(sw: MemorySwitch, clock: ManualClock, ms: number, step = 100): Promise<void> {
  await sw.settle();
  for (let done = 0; done < ms; done += step) {
    clock.advance(Math.min(step, ms - done));
    await sw.settle();
  }
}

export interface Decoded {
  dstMac: MacAddr;
  srcMac: MacAddr;
  ip: Ipv6Parsed;
  src: Uint8Array;
  dst: Uint8Array;
  icmp: Icmpv6Repr | null;
  ndp: NdpRepr | null;
  frame: Uint8Array;
}

/** Decodes an IPv6 frame (null for anything else or malformed). */
export function decode(frame: Uint8Array): Decoded | null {
  if (frame.length < ETHERNET_HEADER_LENGTH || ((frame[12]! << 8) | frame[13]!) !== ETHERTYPE_IPV6) return null;
  const packet = frame.subarray(ETHERNET_HEADER_LENGTH);
  const ip = parseIpv6(packet);
  if (ip instanceof WireError) return null;
  let icmp: Icmpv6Repr | null = null;
  let ndp: NdpRepr | null = null;
  if (ip.protocol === PROTO_ICMPV6) {
    const m = packet.subarray(ip.payloadAt, ip.end);
    const r = parseIcmpv6(m, ip.src, ip.dst);
    if (!(r instanceof WireError)) {
      icmp = r;
      if (isNdpType(r.type)) {
        const n = parseNdp(m);
        if (!(n instanceof WireError)) ndp = n;
      }
    }
  }
  return { dstMac: frame.subarray(0, 6), srcMac: frame.subarray(6, 12), ip, src: ip.src, dst: ip.dst, icmp, ndp, frame };
}

/** A raw host on the switch: records what it receives, sends hand-made packets. */
export class RawHost {
  readonly port: SwitchPort;
  readonly seen: Decoded[] = [];
  constructor(
    sw: MemorySwitch,
    readonly mac: MacAddr,
    readonly address: Uint8Array,
  ) {
    this.port = sw.port({ mac, name: "raw" });
    this.port.listen((f) => {
      const d = decode(f.slice());
      if (!d) return;
      this.seen.push(d);
      // Answers for its own address, as any host on the link would.
      if (d.ndp?.type === ICMPV6_NEIGHBOR_SOLICITATION && ipv6Equal(d.ndp.target, address) && !isIpv6Unspecified(d.src)) {
        this.sendNdp(d.srcMac, address, d.src, { type: ICMPV6_NEIGHBOR_ADVERTISEMENT, router: false, solicited: true, override: true, target: address, targetLinkAddress: mac });
      }
    });
  }

  ndp(type: number): Decoded[] {
    return this.seen.filter((d) => d.ndp?.type === type);
  }

  /** Sends an IPv6 packet with `payload` (checksum of ICMPv6 filled when proto is 58). */
  send(dstMac: MacAddr, src: Uint8Array, dst: Uint8Array, proto: number, payload: Uint8Array, hopLimit = 64): void {
    const frame = new Uint8Array(ETHERNET_HEADER_LENGTH + IPV6_HEADER_LENGTH + payload.length);
    emitEthernet({ dst: dstMac, src: this.mac, ethertype: ETHERTYPE_IPV6 }, frame);
    writeIpv6Header(frame, ETHERNET_HEADER_LENGTH, src, dst, proto, hopLimit, payload.length);
    const body = frame.subarray(ETHERNET_HEADER_LENGTH + IPV6_HEADER_LENGTH);
    body.set(payload);
    if (proto === PROTO_ICMPV6) fillIcmpv6Checksum(body, src, dst);
    this.port.write(frame);
  }

  /** Sends a neighbour discovery message (hop limit 255 unless told). */
  sendNdp(dstMac: MacAddr | null, src: Uint8Array, dst: Uint8Array, repr: NdpRepr, hopLimit = 255): void {
    const m = new Uint8Array(ndpLength(repr));
    emitNdp(repr, m);
    this.send(dstMac ?? (isIpv6Multicast(dst) ? ipv6MulticastMac(dst) : new Uint8Array(6)), src, dst, PROTO_ICMPV6, m, hopLimit);
  }
}
