// IPv4 (RFC 791, RFC 1122): routing (on-link through ARP, default gateway, broadcast, multicast),
// fragmentation on send, bounded reassembly, and dispatch to the upper protocols.
import type { Ethernet } from "../../devices/ethernet.ts";
import { ETHERTYPE_IPV4 } from "../../devices/ethernet.ts";
import type { IpErrorKind, IpErrorReport, IpHandler, IpOffload, IpWriteOptions, Ipv4, Prefix } from "../../devices/ip.ts";
import type { TxOffload } from "../../devices/net.ts";
import { PROTO_ICMP, PROTO_UDP } from "../../devices/ip.ts";
import type { MacAddr } from "../../devices/net.ts";
import { IpError } from "../../devices/errors.ts";
import { source } from "oasis/logs";
import { BROADCAST_MAC, formatIpv4Address, ipv4MulticastMac, ipv4Number, isIpv4Multicast, netmask, parseIpv4Cidr, parseIpv4Address } from "../wire/address.ts";
import { ipv4PseudoSum } from "../wire/checksum.ts";
import { Counters, WireError } from "../wire/error.ts";
import { finishPartialChecksum } from "../wire/gso.ts";
import { checkOffloadRequest, ipOffload } from "../offload.ts";
import { checkIpv4, IPV4_FLAG_DF, IPV4_FLAG_MF, IPV4_MIN_HEADER_LENGTH, parseIpv4, writeIpv4Header } from "../wire/ipv4.ts";
import { ICMP_DEST_UNREACHABLE, ICMP_PARAMETER_PROBLEM, ICMP_TIME_EXCEEDED, UNREACHABLE_FRAGMENTATION_NEEDED, UNREACHABLE_PORT, UNREACHABLE_PROTOCOL } from "../wire/icmpv4.ts";
import type { ArpLayer } from "../arp/arp.ts";
import { Icmpv4Layer, type IcmpOptions } from "../icmp/icmpv4.ts";
import { systemClock, type Clock } from "../stack/clock.ts";
import { Reassembler, type ReassemblyOptions } from "./reassembly.ts";
import { EthernetLayer } from "../ethernet/ethernet.ts";

const log = source("ipv4", "IPv4 layer");

export interface Ipv4Options {
  /** "192.0.2.2/24"; null or absent: unconfigured (e.g. until DHCP gives a lease). */
  cidr?: string | null;
  gateway?: string | null;
  /** Default TTL of datagrams we originate (64, as Linux). */
  ttl?: number;
  clock?: Clock;
  reassembly?: ReassemblyOptions;
  icmp?: IcmpOptions;
}

/** The ARP operations IPv4 relies on. */
export type Resolver = Pick<ArpLayer, "lookup" | "sendWhenResolved" | "setIps">;

const NO_CHUNKS: readonly Uint8Array[] = [];

export class Ipv4Layer implements Ipv4 {
  readonly family = "ipv4" as const;
  /** Drops and events by reason. */
  readonly counters = new Counters();
  readonly icmp: Icmpv4Layer;
  readonly offload: IpOffload | undefined;
  private readonly txOffload: TxOffload = { checksumStart: IPV4_MIN_HEADER_LENGTH, checksumOffset: 0, segmentSize: 0 };
  private address = 0;
  private prefixLength = 0;
  private mask = 0;
  private network = 0;
  private subnetBroadcast = 0xffffffff;
  private gateway: number | null = null;
  private addressText = "0.0.0.0";
  private readonly ttl: number;
  private readonly linkMtu: number;
  private readonly handlers: Array<IpHandler | undefined> = new Array(256).fill(undefined);
  private readonly errorHandlers = new Map<number, (report: IpErrorReport) => void>();
  private readonly reassembler: Reassembler;
  private nextId: number;
  private closed = false;
  private readonly clock: Clock;
  /** Observers of configuration changes (the DHCP client, the stack's logs). */
  private readonly onConfigure: Array<() => void> = [];
  /** A local handler for DHCP client traffic while unconfigured (see `interceptUdp`). */
  private udpInterceptPort = -1;
  private udpIntercept: IpHandler | null = null;

  // The datagram being dispatched, for ICMP errors and the pseudo-header fast path.
  private rxFrame: Uint8Array | null = null;
  private rxAt = 0;
  private rxTotal = 0;
  private rxHeaderLength = 0;
  private rxSrc = 0;
  private rxDst = 0;
  private rxSrcText = "";
  private rxDstText = "";
  private lastSrc = -1;
  private lastSrcText = "";

  // The datagram being sent, read by `fill` (one bound function instead of a closure per packet).
  private txSrc = 0;
  private txDst = 0;
  private txProto = 0;
  private txTtl = 0;
  private txId = 0;
  private txFlags = 0;
  private txLength = 0;
  private txOne: Uint8Array | null = null;
  private txChunks: readonly Uint8Array[] = NO_CHUNKS;
  private readonly fill = (buf: Uint8Array): number => {
    writeIpv4Header(buf, 0, this.txSrc, this.txDst, this.txProto, this.txTtl, this.txId, this.txFlags, this.txLength);
    if (this.txOne !== null) buf.set(this.txOne, IPV4_MIN_HEADER_LENGTH);
    else {
      let at = IPV4_MIN_HEADER_LENGTH;
      for (const c of this.txChunks) {
        buf.set(c, at);
        at += c.length;
      }
    }
    return IPV4_MIN_HEADER_LENGTH + this.txLength;
  };

  constructor(
    private readonly ethernet: Ethernet,
    private readonly arp: Resolver,
    options: Ipv4Options = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.ttl = options.ttl ?? 64;
    this.linkMtu = ethernet.mtu;
    this.offload = ipOffload(ethernet.offload, IPV4_MIN_HEADER_LENGTH, 0xffff - IPV4_MIN_HEADER_LENGTH);
    this.nextId = Math.floor(Math.random() * 0x10000);
    this.reassembler = new Reassembler(this.clock, this.counters, options.reassembly);
    // RFC 1122 3.3.2: tell the sender when its fragments could not be reassembled in time.
    this.reassembler.onTimeout = (quote, headerLength) => {
      const src = ((quote[12]! << 24) | (quote[13]! << 16) | (quote[14]! << 8) | quote[15]!) >>> 0;
      const dst = ((quote[16]! << 24) | (quote[17]! << 16) | (quote[18]! << 8) | quote[19]!) >>> 0;
      if (this.closed || dst !== this.address || this.address === 0) return;
      this.icmp.sendError(ICMP_TIME_EXCEEDED, 1, 0, quote, headerLength, formatIpv4Address(src), this.addressText);
    };
    this.icmp = new Icmpv4Layer(this, this.clock, options.icmp);
    if (options.cidr) this.configure(options.cidr, options.gateway ?? null);
    else if (options.gateway) throw new RangeError(`IPv4 gateway ${options.gateway} given without an address: set --ipv4 too`);
    if (ethernet instanceof EthernetLayer) ethernet.listenPayload(ETHERTYPE_IPV4, (frame, offset, checksumOk) => this.inputAt(frame, offset, checksumOk));
    else ethernet.listen(ETHERTYPE_IPV4, (_src, payload, _dst, checksumOk) => this.inputAt(payload, 0, checksumOk));
  }

  // ---- configuration --------------------------------------------------------------------------
  /** Sets (or, with null, removes) the address; announces it through ARP. Throws RangeError on bad input. */
  configure(cidr: string | null, gateway: string | null): void {
    if (cidr === null) {
      this.address = 0;
      this.prefixLength = 0;
      this.mask = 0;
      this.network = 0;
      this.subnetBroadcast = 0xffffffff;
      this.gateway = null;
      this.addressText = "0.0.0.0";
      this.arp.setIps([]);
    } else {
      const c = parseIpv4Cidr(cidr);
      const mask = netmask(c.prefixLength);
      let gw: number | null = null;
      if (gateway) {
        gw = parseIpv4Address(gateway);
        if (gw === null) throw new RangeError(`IPv4 gateway '${gateway}' is not an IPv4 address (expected e.g. 192.0.2.1)`);
        if ((gw & mask) >>> 0 !== (c.address & mask) >>> 0) throw new RangeError(`IPv4 gateway ${gateway} is not inside ${cidr}: a gateway must be on the local network`);
      }
      this.address = c.address;
      this.prefixLength = c.prefixLength;
      this.mask = mask;
      this.network = (c.address & mask) >>> 0;
      this.subnetBroadcast = (this.network | ~mask) >>> 0;
      this.gateway = gw;
      this.addressText = formatIpv4Address(c.address);
      this.arp.setIps([this.addressText]);
    }
    log.info(`address ${cidr ?? "removed"}${gateway ? `, gateway ${gateway}` : ""}`);
    for (const f of this.onConfigure) f();
  }

  /** Called after every configuration change. */
  watchConfiguration(f: () => void): void {
    this.onConfigure.push(f);
  }

  get configured(): boolean {
    return this.address !== 0;
  }

  /**
   * Delivers UDP datagrams to `port` to `handler` before anyone else, whatever their destination
   * address (a DHCP client must hear offers addressed to the address it does not have yet).
   */
  interceptUdp(port: number, handler: IpHandler | null): void {
    this.udpInterceptPort = handler ? port : -1;
    this.udpIntercept = handler;
  }

  // ---- Ip interface ---------------------------------------------------------------------------
  listen(proto: number, handler: IpHandler): void {
    if (!(Number.isInteger(proto) && proto >= 0 && proto <= 255)) throw new RangeError(`IP protocol number must be 0..255, got ${proto}`);
    if (proto === PROTO_ICMP) this.icmp.listen(handler);
    else this.handlers[proto] = handler;
  }

  listenErrors(proto: number, handler: (report: IpErrorReport) => void): void {
    this.errorHandlers.set(proto, handler);
  }

  /** From ICMP: an error quoting one of our datagrams goes to the protocol that sent it. */
  reportError(type: number, code: number, rest: number, quote: Uint8Array, reporter: string): void {
    // The quote is our IP header and at least 8 bytes of what followed it (RFC 792).
    if (quote.length < IPV4_MIN_HEADER_LENGTH || quote[0]! >> 4 !== 4) return this.counters.add("icmp-error-bad-quote");
    const headerLength = (quote[0]! & 0x0f) * 4;
    if (headerLength < IPV4_MIN_HEADER_LENGTH || quote.length < headerLength + 8) return this.counters.add("icmp-error-bad-quote");
    const src = ((quote[12]! << 24) | (quote[13]! << 16) | (quote[14]! << 8) | quote[15]!) >>> 0;
    // Not about a datagram we sent (or a later fragment, which has no transport header): ignore.
    if (src !== this.address || this.address === 0) return this.counters.add("icmp-error-not-ours");
    if ((((quote[6]! << 8) | quote[7]!) & 0x1fff) !== 0) return this.counters.add("icmp-error-about-fragment");
    const proto = quote[9]!;
    const handler = this.errorHandlers.get(proto);
    if (handler === undefined) return;
    let kind: IpErrorKind = "unreachable";
    if (type === ICMP_TIME_EXCEEDED) kind = "time-exceeded";
    else if (type === ICMP_PARAMETER_PROBLEM) kind = "parameter-problem";
    else if (code === UNREACHABLE_PORT) kind = "port-unreachable";
    else if (code === UNREACHABLE_PROTOCOL) kind = "protocol-unreachable";
    else if (code === UNREACHABLE_FRAGMENTATION_NEEDED) kind = "too-big";
    else if (code === 9 || code === 10 || code === 13) kind = "prohibited"; // RFC 1812 §5.2.7.1
    const dst = ((quote[16]! << 24) | (quote[17]! << 16) | (quote[18]! << 8) | quote[19]!) >>> 0;
    const report: IpErrorReport = {
      kind,
      type,
      code,
      reporter,
      src: this.addressText,
      dst: formatIpv4Address(dst),
      quote: quote.subarray(headerLength),
      // RFC 1191: the next-hop MTU is in the low 16 bits of the "rest" field.
      mtu: kind === "too-big" ? rest & 0xffff : 0,
    };
    try {
      handler(report);
    } catch (e) {
      this.counters.add("handler-error");
      log.error(() => `ICMP error handler of protocol ${proto} threw: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    }
  }

  write(dst: string, proto: number, payload: Uint8Array | readonly Uint8Array[], options?: IpWriteOptions): void {
    if (this.closed) throw new IpError("no-route", `IPv4 layer is disconnected; cannot send to ${dst}`);
    const d = ipv4Number(dst);
    if (d === null) {
      if (dst.includes(":")) throw new IpError("no-route", `no route to IPv6 address ${dst}: this IP layer is IPv4 only`);
      throw new IpError("invalid-address", `'${dst}' is not an IPv4 address (expected a dotted quad like 192.0.2.1)`);
    }
    let src = this.address;
    if (options?.src !== undefined) {
      const s = ipv4Number(options.src);
      if (s === null) throw new IpError("invalid-address", `source '${options.src}' is not an IPv4 address`);
      src = s;
    }
    let length = 0;
    let one: Uint8Array | null = null;
    let chunks: readonly Uint8Array[] = NO_CHUNKS;
    if (payload instanceof Uint8Array) {
      one = payload;
      length = payload.length;
    } else if (payload.length === 1) {
      one = payload[0]!;
      length = one.length;
    } else {
      chunks = payload;
      for (const c of payload) length += c.length;
    }
    if (length > 65535 - IPV4_MIN_HEADER_LENGTH) throw new RangeError(`IPv4 payload of ${length} bytes to ${dst} exceeds the 65515-byte maximum of a datagram`);
    const partialAt = options?.partialChecksumAt ?? -1;
    let segmentSize = options?.segmentSize ?? 0;
    if (partialAt >= 0 || segmentSize > 0) checkOffloadRequest("IPv4", this.offload, partialAt, segmentSize, length);
    if (d === 0) throw new IpError("invalid-address", "0.0.0.0 is not a destination address");
    // Route: where the frame goes on the link.
    let mac: MacAddr | undefined;
    let nextHop = 0;
    if (d === 0xffffffff || d === this.subnetBroadcast) mac = BROADCAST_MAC;
    else if (isIpv4Multicast(d)) mac = ipv4MulticastMac(d);
    else if (d === this.address && d !== 0) return this.loopback(src, proto, one, chunks, length, partialAt);
    else {
      if (this.address === 0) throw new IpError("no-route", `no route to ${dst}: IPv4 is not configured yet (no address; waiting for DHCP or --ipv4)`);
      if (((d & this.mask) >>> 0) === this.network) nextHop = d;
      else if (this.gateway !== null) nextHop = this.gateway;
      else throw new IpError("no-route", `no route to ${dst}: it is outside ${this.addressText}/${this.prefixLength} and no gateway is configured (set --ipv4-gateway)`);
      mac = this.arp.lookup(nextHop);
    }
    const ttl = options?.ttl ?? (isIpv4Multicast(d) ? 1 : this.ttl);
    const oversize = IPV4_MIN_HEADER_LENGTH + length > this.linkMtu;
    // A segment that fits one frame goes as a plain one; segmentation is for the rest.
    if (!oversize) segmentSize = 0;
    if (oversize && segmentSize === 0) {
      if (partialAt >= 0) {
        one = concat(one ? [one] : chunks, length);
        chunks = NO_CHUNKS;
        finishPartialChecksum(one, 0, partialAt);
      }
      if (options?.fragment === false) {
        this.counters.add("would-fragment");
        throw new IpError("would-fragment", `datagram of ${length} bytes to ${dst} exceeds the MTU (${this.linkMtu - IPV4_MIN_HEADER_LENGTH} bytes of payload) and fragmentation is off`);
      }
      return this.sendFragments(d, src, proto, ttl, one, chunks, length, mac, nextHop);
    }
    this.txSrc = src;
    this.txDst = d;
    this.txProto = proto;
    this.txTtl = ttl;
    this.txId = this.nextId & 0xffff;
    // Segments cut from one datagram take consecutive IDs, as Linux gives them.
    this.nextId += segmentSize > 0 ? Math.ceil(length / segmentSize) : 1;
    this.txFlags = options?.fragment === false ? IPV4_FLAG_DF : 0;
    this.txLength = length;
    this.txOne = one;
    this.txChunks = chunks;
    try {
      if (mac !== undefined) {
        if (partialAt < 0) this.ethernet.write(mac, ETHERTYPE_IPV4, this.fill);
        else {
          this.txOffload.checksumOffset = partialAt;
          this.txOffload.segmentSize = segmentSize;
          this.ethernet.write(mac, ETHERTYPE_IPV4, this.fill, this.txOffload);
        }
      } else {
        // Waiting for ARP: the packet waits whole, its offload request with it.
        const packet = new Uint8Array(IPV4_MIN_HEADER_LENGTH + length);
        this.fill(packet);
        if (partialAt < 0) this.arp.sendWhenResolved(nextHop, ETHERTYPE_IPV4, packet);
        else {
          this.txOffload.checksumOffset = partialAt;
          this.txOffload.segmentSize = segmentSize;
          this.arp.sendWhenResolved(nextHop, ETHERTYPE_IPV4, packet, this.txOffload);
        }
      }
    } finally {
      this.txOne = null;
      this.txChunks = NO_CHUNKS;
    }
  }

  pseudoheaderSum(src: string, dst: string, proto: number, length: number): number {
    // On the receive path the addresses are the strings we just handed out: skip parsing them.
    const s = src === this.rxSrcText ? this.rxSrc : ipv4Number(src);
    const d = dst === this.rxDstText ? this.rxDst : ipv4Number(dst);
    if (s === null || d === null) throw new IpError("invalid-address", `pseudo-header needs IPv4 addresses, got ${src} and ${dst}`);
    return ipv4PseudoSum(s, d, proto, length);
  }

  source(_dst: string): string {
    return this.addressText;
  }

  configuredAddresses(): Prefix[] {
    return this.address === 0 ? [] : [{ address: this.addressText, prefixLength: this.prefixLength }];
  }

  mtu(_dst: string): number {
    return this.linkMtu - IPV4_MIN_HEADER_LENGTH;
  }

  async disconnect(): Promise<void> {
    this.closed = true;
    this.reassembler.clear();
  }

  /** Datagrams being reassembled and the bytes they hold. */
  reassemblyState(): { datagrams: number; bytes: number } {
    return { datagrams: this.reassembler.pendingDatagrams, bytes: this.reassembler.heldBytes };
  }

  // ---- input ----------------------------------------------------------------------------------
  input(packet: Uint8Array): void {
    this.inputAt(packet, 0, false);
  }

  /**
   * The datagram starting at `at` in `frame` (the Ethernet layer passes whole frames);
   * `checksumOk`: the device vouched for the transport checksum.
   */
  inputAt(frame: Uint8Array, at: number, checksumOk: boolean): void {
    // Validate in place and read fields from the buffer: no representation object per datagram.
    const bad = checkIpv4(frame, at);
    if (bad !== null) return this.counters.add(bad);
    const dst = ((frame[at + 16]! << 24) | (frame[at + 17]! << 16) | (frame[at + 18]! << 8) | frame[at + 19]!) >>> 0;
    const unicastToUs = dst === this.address && dst !== 0;
    if (!unicastToUs && dst !== 0xffffffff && dst !== this.subnetBroadcast && !isIpv4Multicast(dst) && this.address !== 0) {
      return this.counters.add("not-for-us");
    }
    const src = ((frame[at + 12]! << 24) | (frame[at + 13]! << 16) | (frame[at + 14]! << 8) | frame[at + 15]!) >>> 0;
    if (src === 0xffffffff || isIpv4Multicast(src) || (src === this.subnetBroadcast && this.address !== 0)) return this.counters.add("bad-source");
    const headerLength = (frame[at]! & 0x0f) * 4;
    const total = (frame[at + 2]! << 8) | frame[at + 3]!;
    if ((((frame[at + 6]! << 8) | frame[at + 7]!) & 0x3fff) !== 0) {
      // MF set or a non-zero offset: a fragment (the slow path builds the full representation).
      const packet = frame.subarray(at);
      const p = parseIpv4(packet);
      if (p instanceof WireError) return this.counters.add(p.reason);
      const whole = this.reassembler.add(p, packet);
      if (whole === null) return;
      return this.dispatch(p.protocol, src, dst, whole.datagram, 0, whole.headerLength, whole.datagram.length, unicastToUs, false);
    }
    this.dispatch(frame[at + 9]!, src, dst, frame, at, headerLength, total, unicastToUs, checksumOk);
  }

  private dispatch(proto: number, src: number, dst: number, frame: Uint8Array, at: number, headerLength: number, total: number, unicastToUs: boolean, checksumOk: boolean): void {
    const payload = frame.subarray(at + headerLength, at + total);
    // Consecutive datagrams usually come from the same peer to our address: skip the cache lookups.
    let srcText = this.lastSrcText;
    if (src !== this.lastSrc) {
      srcText = formatIpv4Address(src);
      this.lastSrc = src;
      this.lastSrcText = srcText;
    }
    const dstText = dst === this.address ? this.addressText : formatIpv4Address(dst);
    this.rxFrame = frame;
    this.rxAt = at;
    this.rxTotal = total;
    this.rxHeaderLength = headerLength;
    this.rxSrc = src;
    this.rxDst = dst;
    this.rxSrcText = srcText;
    this.rxDstText = dstText;
    try {
      if (proto === PROTO_UDP && this.udpIntercept !== null && payload.length >= 4 && ((payload[2]! << 8) | payload[3]!) === this.udpInterceptPort) {
        this.udpIntercept(srcText, dstText, payload);
      } else if (proto === PROTO_ICMP) {
        this.icmp.input(srcText, dstText, payload, unicastToUs);
      } else {
        const h = this.handlers[proto];
        if (h === undefined) {
          this.counters.add("unknown-protocol");
          if (unicastToUs) this.icmp.sendError(ICMP_DEST_UNREACHABLE, UNREACHABLE_PROTOCOL, 0, frame.subarray(at, at + total), headerLength, srcText, dstText);
        } else if (this.address === 0 && !unicastToUs && dst !== 0xffffffff) {
          this.counters.add("not-for-us"); // unconfigured: only the DHCP interception takes unicast
        } else h(srcText, dstText, payload, checksumOk);
      }
    } catch (e) {
      this.counters.add("handler-error");
      log.error(() => `handler of protocol ${proto} threw: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    } finally {
      this.rxFrame = null;
    }
  }

  /**
   * Reports the datagram being dispatched as sent to a closed port (called by UDP from inside its
   * handler). Never for broadcast or multicast destinations.
   */
  sendPortUnreachable(): void {
    const f = this.rxFrame;
    if (f === null || this.rxDst !== this.address || this.address === 0) return;
    this.icmp.sendError(ICMP_DEST_UNREACHABLE, UNREACHABLE_PORT, 0, f.subarray(this.rxAt, this.rxAt + this.rxTotal), this.rxHeaderLength, this.rxSrcText, this.rxDstText);
  }

  // ---- internals ------------------------------------------------------------------------------
  private sendFragments(d: number, src: number, proto: number, ttl: number, one: Uint8Array | null, chunks: readonly Uint8Array[], length: number, mac: MacAddr | undefined, nextHop: number): void {
    const data = one ?? concat(chunks, length);
    const id = this.nextId++ & 0xffff;
    const step = (this.linkMtu - IPV4_MIN_HEADER_LENGTH) & ~7;
    for (let off = 0; off < length; off += step) {
      const n = Math.min(step, length - off);
      const last = off + n >= length;
      const frag = new Uint8Array(IPV4_MIN_HEADER_LENGTH + n);
      writeIpv4Header(frag, 0, src, d, proto, ttl, id, (last ? 0 : IPV4_FLAG_MF) | (off >>> 3), n);
      frag.set(data.subarray(off, off + n), IPV4_MIN_HEADER_LENGTH);
      if (mac !== undefined) this.ethernet.write(mac, ETHERTYPE_IPV4, (buf) => (buf.set(frag), frag.length));
      else this.arp.sendWhenResolved(nextHop, ETHERTYPE_IPV4, frag);
      this.counters.add("fragments-sent");
    }
  }

  private loopback(src: number, proto: number, one: Uint8Array | null, chunks: readonly Uint8Array[], length: number, partialAt: number): void {
    const packet = new Uint8Array(IPV4_MIN_HEADER_LENGTH + length);
    writeIpv4Header(packet, 0, src, this.address, proto, this.ttl, this.nextId++ & 0xffff, 0, length);
    packet.set(one ?? concat(chunks, length), IPV4_MIN_HEADER_LENGTH);
    if (partialAt >= 0) finishPartialChecksum(packet, IPV4_MIN_HEADER_LENGTH, partialAt);
    // Delivered later, as from the wire: the sender never re-enters its own handler.
    queueMicrotask(() => {
      if (!this.closed) this.dispatch(proto, src, this.address, packet, 0, IPV4_MIN_HEADER_LENGTH, packet.length, true, false);
    });
  }
}

function concat(chunks: readonly Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
