// IPv6 for the direct stack (RFC 8200, 4861, 4862, 4443): addresses with duplicate address
// detection (link-local from the MAC or random, static, SLAAC from router advertisements with
// preferred/valid lifetimes), neighbour discovery, default routers and on-link prefixes, path MTU
// from Packet Too Big, fragmentation on send, bounded reassembly, ICMPv6 echo and errors, and
// dispatch to the upper protocols.
import type { Ethernet } from "../../devices/ethernet.ts";
import { ETHERTYPE_IPV6 } from "../../devices/ethernet.ts";
import type { Icmp, IpErrorKind, IpErrorReport, IpHandler, IpOffload, IpWriteOptions, Ipv6, Prefix } from "../../devices/ip.ts";
import { PROTO_ICMPV6, PROTO_UDP } from "../../devices/ip.ts";
import type { MacAddr, TxOffload } from "../../devices/net.ts";
import { IpError } from "../../devices/errors.ts";
import { source } from "oasis/logs";
import { randomInt } from "oasis/random";
import { formatMac } from "../wire/address.ts";
import { Counters, WireError } from "../wire/error.ts";
import { finishPartialChecksum } from "../wire/gso.ts";
import { checkOffloadRequest, ipOffload } from "../offload.ts";
import {
  eui64InterfaceId,
  commonPrefixLength,
  IPV6_ALL_NODES,
  IPV6_ALL_ROUTERS,
  IPV6_FRAGMENT_HEADER_LENGTH,
  IPV6_HEADER_LENGTH,
  IPV6_MIN_MTU,
  IPV6_UNSPECIFIED,
  ipv6Bytes,
  ipv6Equal,
  ipv6MulticastMac,
  ipv6PrefixMatch,
  ipv6PrefixOf,
  ipv6PseudoSum,
  ipv6Text,
  isIpv6LinkLocal,
  isIpv6Loopback,
  isIpv6Multicast,
  isIpv6Unspecified,
  linkLocalAddress,
  multicastScope,
  NEXT_FRAGMENT,
  NEXT_NO_NEXT_HEADER,
  Ipv6ParameterError,
  parseIpv6,
  parseIpv6Cidr,
  solicitedNodeAddress,
  walkIpv6Headers,
  withInterfaceId,
  writeFragmentHeader,
  writeIpv6Header,
  writeRouterAlertHeader,
  NEXT_HOP_BY_HOP,
} from "../wire/ipv6.ts";
import {
  fillIcmpv6Checksum,
  ICMPV6_DEST_UNREACHABLE,
  ICMPV6_ECHO_REPLY,
  ICMPV6_ECHO_REQUEST,
  ICMPV6_ERROR_QUOTE_LIMIT,
  ICMPV6_HEADER_LENGTH,
  ICMPV6_NEIGHBOR_ADVERTISEMENT,
  ICMPV6_NEIGHBOR_SOLICITATION,
  ICMPV6_PACKET_TOO_BIG,
  ICMPV6_PARAMETER_PROBLEM,
  ICMPV6_REDIRECT,
  ICMPV6_ROUTER_ADVERTISEMENT,
  ICMPV6_ROUTER_SOLICITATION,
  ICMPV6_TIME_EXCEEDED,
  isIcmpv6Error,
  parseIcmpv6,
  PARAMETER_HEADER_FIELD,
  PARAMETER_UNKNOWN_NEXT_HEADER,
  TIME_EXCEEDED_REASSEMBLY,
  UNREACHABLE_PORT,
  emitMldv2Report,
  ICMPV6_MLD_QUERY,
  MLDV2_ROUTERS,
  mldv2ReportLength,
  type MldRecord,
} from "../wire/icmpv6.ts";
import { emitNdp, isNdpType, ndpLength, NDP_INFINITE_LIFETIME, parseNdp, type NdpRepr, type PrefixInformation, type Redirect, type RouterAdvertisement } from "../wire/ndp.ts";
import { systemClock, type Clock } from "../stack/clock.ts";
import { EthernetLayer } from "../ethernet/ethernet.ts";
import { NeighbourCache, type NeighbourOptions } from "./neighbours.ts";
import { Ipv6Reassembler, type Ipv6ReassemblyOptions } from "./reassembly.ts";
import { MulticastListener } from "./mld.ts";
import { isReservedInterfaceId, stableInterfaceId } from "./interface-id.ts";

const log = source("ipv6", "IPv6 layer");

export type AddressState = "tentative" | "preferred" | "deprecated" | "duplicate";
export type AddressOrigin = "link-local" | "static" | "slaac";

export interface Ipv6AddressInfo {
  address: string;
  prefixLength: number;
  origin: AddressOrigin;
  state: AddressState;
  /** Milliseconds of the clock; Infinity when it does not expire. */
  preferredUntil: number;
  validUntil: number;
}

export interface Ipv6IcmpOptions {
  /** Error messages per second (token bucket refill, default 100). */
  errorsPerSecond?: number;
  /** Error burst (bucket size, default 20). */
  errorBurst?: number;
  /** Answer echo requests (default true). */
  echoReplies?: boolean;
}

export type InterfaceIdKind = "eui64" | "stable" | "random";

export interface Ipv6Options {
  /** Static address and prefix, "2001:db8::2/64"; null or absent: link-local and SLAAC only. */
  cidr?: string | null;
  /** Static default router (link-local or inside `cidr`). */
  gateway?: string | null;
  /** Router solicitation, SLAAC, default routers and MTU from router advertisements (default true). */
  acceptRouterAdvertisements?: boolean;
  /**
   * Interface identifier of the link-local and SLAAC addresses: the modified EUI-64 of the MAC
   * (default), "stable" (RFC 7217: per prefix, from `secretKey`, not revealing the MAC), or
   * "random" (new at each start).
   */
  interfaceId?: InterfaceIdKind;
  /** 16 bytes for "stable" identifiers; the same key gives the same addresses at every start (default: random). */
  secretKey?: Uint8Array;
  /** Announce our multicast groups with MLDv2 reports and answer queries (default true). */
  mld?: boolean;
  /** Hop limit of packets we originate (default 64; a router advertisement may change it). */
  hopLimit?: number;
  clock?: Clock;
  /** Random integer in [0, max): timer jitter and random interface identifiers. */
  randomInt?: (max: number) => number;
  /** DupAddrDetectTransmits (default 1; 0 turns duplicate address detection off). */
  dadTransmits?: number;
  /** MAX_RTR_SOLICITATION_DELAY: random delay before the first DAD probe and router solicitation (default 1 s). */
  maxSolicitationDelayMs?: number;
  /** MAX_RTR_SOLICITATIONS (default 3) and RTR_SOLICITATION_INTERVAL (default 4 s). */
  routerSolicitations?: number;
  routerSolicitationIntervalMs?: number;
  /** RetransTimer until a router says otherwise (default 1 s). */
  retransTimerMs?: number;
  /** BaseReachableTime until a router says otherwise (default 30 s). */
  reachableTimeMs?: number;
  neighbours?: NeighbourOptions;
  reassembly?: Ipv6ReassemblyOptions;
  icmp?: Ipv6IcmpOptions;
}

interface OwnAddress {
  address: Uint8Array;
  text: string;
  prefixLength: number;
  origin: AddressOrigin;
  state: AddressState;
  preferredUntil: number;
  validUntil: number;
  /** Cancel the duplicate address detection timers. */
  dadTimers: Array<() => void>;
  /** Cancel the lifetime timers. */
  timers: Array<() => void>;
  /** DAD attempts of a random interface identifier. */
  attempt: number;
}

interface Router {
  address: Uint8Array;
  validUntil: number;
  cancel: () => void;
}

interface OnLinkPrefix {
  prefix: Uint8Array;
  length: number;
  validUntil: number;
  cancel: () => void;
}

type Observer = (src: string, dst: string, message: Uint8Array) => void;

const NO_CHUNKS: readonly Uint8Array[] = [];
/** Per-destination state (path MTUs from Packet Too Big, RFC 8201; redirects): entries kept, and for how long. */
const DESTINATION_ENTRIES = 256;
const DESTINATION_LIFETIME_MS = 10 * 60_000;
/** RFC 4862 §5.5.3 e): remaining valid lifetime an unauthenticated RA cannot shorten below. */
const TWO_HOURS_MS = 2 * 3600_000;
/** What router advertisements may fill, so a flood of them cannot (RFC 6980 spirit). */
const MAX_ROUTERS = 16;
const MAX_PREFIXES = 64;
const MAX_SLAAC_ADDRESSES = 16;
/** RFC 7217 IDGEN_RETRIES: new identifiers tried after a duplicate. */
const IDGEN_RETRIES = 3;
const LINK_LOCAL_PREFIX = linkLocalAddress(new Uint8Array(8));
/** Timers longer than this are not set (a far expiry is re-armed when it comes closer). */
const MAX_TIMER_MS = 0x7fffffff;

export class Ipv6Layer implements Ipv6 {
  readonly family = "ipv6" as const;
  /** Drops and events by reason. */
  readonly counters = new Counters();
  /** ICMPv6 as a device: send messages, observe what arrives. */
  readonly icmp: Icmp;
  readonly mac: MacAddr;
  readonly neighbours: NeighbourCache;
  readonly offload: IpOffload | undefined;
  private readonly errorHandlers = new Map<number, (report: IpErrorReport) => void>();
  private readonly txOffload: TxOffload = { checksumStart: IPV6_HEADER_LENGTH, checksumOffset: 0, segmentSize: 0 };
  private readonly clock: Clock;
  private readonly random: (max: number) => number;
  private readonly linkMtu: number;
  private currentLinkMtu: number;
  private hopLimit: number;
  private retransTimer: number;
  private baseReachableTime: number;
  private reachableTime: number;
  private readonly acceptRa: boolean;
  private readonly dadTransmits: number;
  private readonly maxDelay: number;
  private readonly interfaceIdKind: InterfaceIdKind;
  private readonly secretKey: Uint8Array;
  /** The identifier of "random" addresses (replaced when DAD finds it in use). */
  private randomId: Uint8Array;
  private readonly addresses: OwnAddress[] = [];
  private readonly routers: Router[] = [];
  private readonly prefixes: OnLinkPrefix[] = [];
  private gateway: Uint8Array | null = null;
  private readonly pmtu = new Map<string, { mtu: number; until: number }>();
  /** MLDv2 for our groups; null when turned off. */
  private readonly mld: MulticastListener | null;
  /** Better first hops learnt from redirects, by destination. */
  private readonly redirects = new Map<string, { target: Uint8Array; until: number }>();
  private readonly handlers: Array<IpHandler | undefined> = new Array(256).fill(undefined);
  private observer: Observer | null = null;
  private readonly reassembler: Ipv6Reassembler;
  private readonly echoReplies: boolean;
  private tokens: number;
  private lastRefill: number;
  private readonly errorRate: number;
  private readonly errorBurst: number;
  private rsCancel: () => void = () => {};
  private rsStarted = false;
  private rsSent = 0;
  private raSeen = false;
  private readonly rsCount: number;
  private readonly rsInterval: number;
  private closed = false;
  private readonly settleWaiters: Array<() => void> = [];

  // The packet being dispatched, for ICMPv6 errors from the upper layers.
  private rxPacket: Uint8Array | null = null;
  private rxDstIsUs = false;

  constructor(
    private readonly ethernet: Ethernet,
    options: Ipv6Options = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.random = options.randomInt ?? randomInt;
    this.mac = ethernet.mac.slice(0, 6);
    this.linkMtu = ethernet.mtu;
    if (this.linkMtu < IPV6_MIN_MTU) throw new RangeError(`IPv6 needs a link MTU of at least ${IPV6_MIN_MTU} bytes; this link has ${this.linkMtu}`);
    this.currentLinkMtu = this.linkMtu;
    this.offload = ipOffload(ethernet.offload, IPV6_HEADER_LENGTH, 0xffff);
    this.hopLimit = options.hopLimit ?? 64;
    this.retransTimer = options.retransTimerMs ?? 1000;
    this.baseReachableTime = options.reachableTimeMs ?? 30_000;
    this.reachableTime = this.randomReachableTime();
    this.acceptRa = options.acceptRouterAdvertisements ?? true;
    this.dadTransmits = options.dadTransmits ?? 1;
    this.maxDelay = options.maxSolicitationDelayMs ?? 1000;
    this.rsCount = options.routerSolicitations ?? 3;
    this.rsInterval = options.routerSolicitationIntervalMs ?? 4000;
    this.interfaceIdKind = options.interfaceId ?? "eui64";
    if (options.secretKey !== undefined && options.secretKey.length !== 16) throw new RangeError(`the IPv6 secret key has 16 bytes (32 hex digits), got ${options.secretKey.length}`);
    this.secretKey = options.secretKey?.slice() ?? Uint8Array.from({ length: 16 }, () => this.random(256));
    this.randomId = this.interfaceIdKind === "random" ? this.randomInterfaceId() : new Uint8Array(8);
    this.echoReplies = options.icmp?.echoReplies ?? true;
    this.errorRate = options.icmp?.errorsPerSecond ?? 100;
    this.errorBurst = options.icmp?.errorBurst ?? 20;
    this.tokens = this.errorBurst;
    this.lastRefill = this.clock.nowMs();
    this.neighbours = new NeighbourCache(
      this.clock,
      this.counters,
      {
        solicit: (target, mac) => this.sendNeighbourSolicitation(target, mac),
        transmit: (mac, packet, offload) => this.ethernet.write(mac, ETHERTYPE_IPV6, (buf) => (buf.set(packet), packet.length), offload),
        reachableTimeMs: () => this.reachableTime,
        retransTimerMs: () => this.retransTimer,
      },
      options.neighbours,
    );
    this.mld = (options.mld ?? true) ? new MulticastListener(this.clock, this.counters, this.random, (records) => this.sendMld(records)) : null;
    this.reassembler = new Ipv6Reassembler(
      this.clock,
      this.counters,
      options.reassembly,
      (first) => this.sendError(ICMPV6_TIME_EXCEEDED, TIME_EXCEEDED_REASSEMBLY, 0, first),
      (fragment, pointer) => this.sendError(ICMPV6_PARAMETER_PROBLEM, PARAMETER_HEADER_FIELD, pointer, fragment),
    );
    this.icmp = {
      write: (dst, message, o) => this.writeIcmp(dst, message, o),
      listen: (handler) => {
        this.observer = handler;
      },
    };

    let staticAddress: { address: Uint8Array; prefixLength: number } | null = null;
    if (options.cidr) {
      const c = parseIpv6Cidr(options.cidr);
      if (isIpv6Multicast(c.address) || isIpv6Unspecified(c.address)) throw new RangeError(`--ipv6 ${options.cidr}: a unicast address is needed (not multicast or ::)`);
      staticAddress = c;
    }
    if (options.gateway) {
      const g = ipv6Bytes(options.gateway);
      if (g === null) throw new RangeError(`IPv6 gateway '${options.gateway}' is not an IPv6 address (expected e.g. fe80::1 or 2001:db8::1)`);
      if (isIpv6Multicast(g) || isIpv6Unspecified(g)) throw new RangeError(`IPv6 gateway ${options.gateway} must be a unicast address`);
      if (!isIpv6LinkLocal(g) && !(staticAddress && ipv6PrefixMatch(g, staticAddress.address, staticAddress.prefixLength))) {
        throw new RangeError(`IPv6 gateway ${options.gateway} is neither link-local nor inside ${options.cidr ?? "the --ipv6 prefix (none given)"}: a gateway must be on the local link`);
      }
      this.gateway = g.slice();
    }

    if (ethernet instanceof EthernetLayer) ethernet.listenPayload(ETHERTYPE_IPV6, (frame, offset, checksumOk) => this.input(frame.subarray(offset), checksumOk));
    else ethernet.listen(ETHERTYPE_IPV6, (_src, payload, _dst, checksumOk) => this.input(payload, checksumOk));

    this.addAddress(linkLocalAddress(this.interfaceIdFor(LINK_LOCAL_PREFIX, 0)), 64, "link-local", Infinity, Infinity);
    if (staticAddress) this.addAddress(staticAddress.address, staticAddress.prefixLength, "static", Infinity, Infinity);
  }

  // ---- state for callers and tests -------------------------------------------------------------
  /** Every address with its state and lifetimes. */
  addressInfo(): Ipv6AddressInfo[] {
    return this.addresses.map((a) => ({ address: a.text, prefixLength: a.prefixLength, origin: a.origin, state: a.state, preferredUntil: a.preferredUntil, validUntil: a.validUntil }));
  }

  /** Default routers learnt from advertisements (and the static gateway). */
  defaultRouters(): string[] {
    return [...(this.gateway ? [ipv6Text(this.gateway)] : []), ...this.routers.map((r) => ipv6Text(r.address))];
  }

  /** On-link prefixes learnt from advertisements. */
  onLinkPrefixes(): Prefix[] {
    return this.prefixes.map((p) => ({ address: ipv6Text(p.prefix), prefixLength: p.length }));
  }

  /** The link MTU in use (a router advertisement may lower it). */
  get currentMtu(): number {
    return this.currentLinkMtu;
  }

  /** Resolves once no address is tentative any more (DAD finished), or after `timeoutMs`. */
  settled(timeoutMs = Infinity): Promise<void> {
    if (!this.addresses.some((a) => a.state === "tentative")) return Promise.resolve();
    return new Promise((resolve) => {
      let cancel = () => {};
      const done = () => {
        cancel();
        resolve();
      };
      this.settleWaiters.push(done);
      if (timeoutMs !== Infinity) cancel = this.clock.setTimer(timeoutMs, done);
    });
  }

  reassemblyState(): { datagrams: number; bytes: number } {
    return { datagrams: this.reassembler.pendingDatagrams, bytes: this.reassembler.heldBytes };
  }

  // ---- Ip interface ---------------------------------------------------------------------------
  listen(proto: number, handler: IpHandler): void {
    if (!(Number.isInteger(proto) && proto >= 0 && proto <= 255)) throw new RangeError(`IP protocol number must be 0..255, got ${proto}`);
    if (proto === PROTO_ICMPV6) this.observer = handler;
    else this.handlers[proto] = handler;
  }

  write(dst: string, proto: number, payload: Uint8Array | readonly Uint8Array[], options?: IpWriteOptions): void {
    if (this.closed) throw new IpError("no-route", `IPv6 layer is disconnected; cannot send to ${dst}`);
    const d = ipv6Bytes(dst);
    if (d === null) {
      if (!dst.includes(":")) throw new IpError("no-route", `no route to IPv4 address ${dst}: this IP layer is IPv6 only`);
      throw new IpError("invalid-address", `'${dst}' is not an IPv6 address (expected e.g. 2001:db8::1)`);
    }
    if (isIpv6Unspecified(d) || isIpv6Loopback(d)) throw new IpError("invalid-address", `cannot send to ${dst}: the unspecified and loopback addresses are not destinations on a link`);
    let src: Uint8Array;
    if (options?.src !== undefined) {
      const s = ipv6Bytes(options.src);
      if (s === null) throw new IpError("invalid-address", `source '${options.src}' is not an IPv6 address`);
      src = s;
    } else {
      const s = this.selectSource(d);
      if (s === null) throw new IpError("no-route", `no route to ${dst}: no usable IPv6 source address yet (duplicate address detection still running, or no --ipv6 and no router advertisement)`);
      src = s.address;
    }
    let one: Uint8Array | null = null;
    let chunks: readonly Uint8Array[] = NO_CHUNKS;
    let length = 0;
    if (payload instanceof Uint8Array) {
      one = payload;
      length = one.length;
    } else if (payload.length === 1) {
      one = payload[0]!;
      length = one.length;
    } else {
      chunks = payload;
      for (const c of payload) length += c.length;
    }
    if (length > 0xffff) throw new RangeError(`IPv6 payload of ${length} bytes exceeds 65535 (jumbograms are not supported)`);
    const partialAt = options?.partialChecksumAt ?? -1;
    let segmentSize = options?.segmentSize ?? 0;
    if (partialAt >= 0 || segmentSize > 0) checkOffloadRequest("IPv6", this.offload, partialAt, segmentSize, length);
    const multicast = isIpv6Multicast(d);
    const hopLimit = options?.ttl ?? (multicast ? 1 : this.hopLimit);
    if (!multicast && this.ownAddress(d) !== undefined) return this.loopback(src, d, proto, hopLimit, one ?? concat(chunks, length), partialAt);
    const nextHop = multicast ? d : this.nextHop(d, dst);
    const pathMtu = this.pathMtu(d);
    const oversize = IPV6_HEADER_LENGTH + length > pathMtu;
    // A segment that fits one frame goes as a plain one; segmentation is for the rest. Segments
    // are cut to the link MTU: a smaller path MTU (from a Packet Too Big) must shrink the MSS.
    if (!oversize) segmentSize = 0;
    if (oversize && segmentSize === 0 && partialAt >= 0) {
      one = concat(one ? [one] : chunks, length);
      chunks = NO_CHUNKS;
      finishPartialChecksum(one, 0, partialAt);
    }
    if (oversize && segmentSize === 0) {
      if (options?.fragment === false) {
        this.counters.add("would-fragment");
        throw new IpError("would-fragment", `datagram of ${length} bytes to ${dst} exceeds the path MTU (${pathMtu - IPV6_HEADER_LENGTH} bytes of payload) and fragmentation is off`);
      }
      return this.sendFragments(src, d, nextHop, multicast, proto, hopLimit, one ?? concat(chunks, length), pathMtu);
    }
    const mac = multicast ? ipv6MulticastMac(d) : this.neighbours.lookupForSend(nextHop);
    const fill = (buf: Uint8Array): number => {
      writeIpv6Header(buf, 0, src, d, proto, hopLimit, length);
      if (one !== null) buf.set(one, IPV6_HEADER_LENGTH);
      else {
        let at = IPV6_HEADER_LENGTH;
        for (const c of chunks) {
          buf.set(c, at);
          at += c.length;
        }
      }
      return IPV6_HEADER_LENGTH + length;
    };
    if (mac !== undefined) {
      if (partialAt < 0) this.ethernet.write(mac, ETHERTYPE_IPV6, fill);
      else {
        this.txOffload.checksumOffset = partialAt;
        this.txOffload.segmentSize = segmentSize;
        this.ethernet.write(mac, ETHERTYPE_IPV6, fill, this.txOffload);
      }
    } else {
      // Waiting for neighbour discovery: the packet waits whole, its offload request with it.
      const packet = new Uint8Array(IPV6_HEADER_LENGTH + length);
      fill(packet);
      if (partialAt < 0) this.neighbours.enqueue(nextHop, packet);
      else {
        this.txOffload.checksumOffset = partialAt;
        this.txOffload.segmentSize = segmentSize;
        this.neighbours.enqueue(nextHop, packet, this.txOffload);
      }
    }
  }

  pseudoheaderSum(src: string, dst: string, proto: number, length: number): number {
    const s = ipv6Bytes(src);
    const d = ipv6Bytes(dst);
    if (s === null || d === null) throw new IpError("invalid-address", `pseudo-header needs IPv6 addresses, got ${src} and ${dst}`);
    return ipv6PseudoSum(s, d, proto, length);
  }

  source(dst: string): string {
    const d = ipv6Bytes(dst);
    const s = d && this.selectSource(d);
    return s ? s.text : "::";
  }

  configuredAddresses(): Prefix[] {
    return this.addresses.filter((a) => a.state === "preferred" || a.state === "deprecated").map((a) => ({ address: a.text, prefixLength: a.prefixLength }));
  }

  mtu(dst: string): number {
    const d = ipv6Bytes(dst);
    return (d ? this.pathMtu(d) : this.currentLinkMtu) - IPV6_HEADER_LENGTH;
  }

  async disconnect(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.rsCancel();
    this.mld?.stop();
    for (const a of this.addresses) for (const t of [...a.timers, ...a.dadTimers]) t();
    for (const r of this.routers) r.cancel();
    for (const p of this.prefixes) p.cancel();
    this.reassembler.clear();
    this.neighbours.clear();
    for (const w of this.settleWaiters.splice(0)) w();
  }

  /**
   * Reports the packet being dispatched as sent to a closed port (called by UDP from inside its
   * handler). Never for multicast destinations.
   */
  sendPortUnreachable(): void {
    if (this.rxPacket !== null && this.rxDstIsUs) this.sendError(ICMPV6_DEST_UNREACHABLE, UNREACHABLE_PORT, 0, this.rxPacket);
  }

  // ---- addresses ------------------------------------------------------------------------------
  private ownAddress(a: Uint8Array, at = 0): OwnAddress | undefined {
    for (const o of this.addresses) if (ipv6Equal(o.address, a, at)) return o;
    return undefined;
  }

  private usable(o: OwnAddress): boolean {
    return o.state === "preferred" || o.state === "deprecated";
  }

  /** RFC 6724, simplified for one interface: same scope, preferred over deprecated, longest match. */
  private selectSource(dst: Uint8Array): OwnAddress | null {
    const linkScope = isIpv6LinkLocal(dst) || (isIpv6Multicast(dst) && multicastScope(dst) <= 2);
    let best: OwnAddress | null = null;
    let bestScore = -1;
    for (const o of this.addresses) {
      if (!this.usable(o)) continue;
      const ll = o.origin === "link-local";
      let score = (ll === linkScope ? 1000 : 0) + (o.state === "preferred" ? 500 : 0);
      if (!linkScope) score += commonPrefixLength(o.address, dst);
      if (score > bestScore) {
        best = o;
        bestScore = score;
      }
    }
    return best;
  }

  private addAddress(address: Uint8Array, prefixLength: number, origin: AddressOrigin, preferredUntil: number, validUntil: number, attempt = 0): OwnAddress {
    const o: OwnAddress = { address, text: ipv6Text(address), prefixLength, origin, state: "tentative", preferredUntil, validUntil, dadTimers: [], timers: [], attempt };
    this.addresses.push(o);
    this.armLifetimes(o);
    // RFC 4862 §5.4.2: join the solicited-node group before probing it.
    this.syncGroups();
    this.startDad(o);
    return o;
  }

  private startDad(o: OwnAddress): void {
    if (this.dadTransmits <= 0) return queueMicrotask(() => this.dadSucceeded(o));
    let sent = 0;
    const probe = () => {
      if (o.state !== "tentative" || this.closed) return;
      if (sent >= this.dadTransmits) return this.dadSucceeded(o);
      sent++;
      const sn = solicitedNodeAddress(o.address);
      this.sendNdp(IPV6_UNSPECIFIED, sn, { type: ICMPV6_NEIGHBOR_SOLICITATION, target: o.address }, ipv6MulticastMac(sn));
      this.counters.add("dad-probe");
      o.dadTimers.push(this.clock.setTimer(this.retransTimer, probe));
    };
    o.dadTimers.push(this.clock.setTimer(this.maxDelay > 0 ? this.random(this.maxDelay) : 0, probe));
  }

  private dadSucceeded(o: OwnAddress): void {
    if (o.state !== "tentative" || this.closed) return;
    o.state = this.clock.nowMs() >= o.preferredUntil ? "deprecated" : "preferred";
    log.info(`address ${o.text}/${o.prefixLength} (${o.origin}) is ready`);
    if (o.origin === "link-local" && this.acceptRa) this.startRouterSolicitation();
    this.checkSettled();
  }

  private dadFailed(o: OwnAddress, from: string): void {
    if (o.state !== "tentative") return;
    o.state = "duplicate";
    this.counters.add("dad-failed");
    this.removeAddress(o);
    if (o.origin !== "static" && this.interfaceIdKind !== "eui64" && o.attempt < IDGEN_RETRIES) {
      // RFC 7217 §6: the next DAD counter gives another identifier, tested again.
      log.warn(`address ${o.text} is in use by ${from}; trying another ${this.interfaceIdKind} interface identifier`);
      if (this.interfaceIdKind === "random") this.randomId = this.randomInterfaceId();
      this.addAddress(withInterfaceId(o.address, this.interfaceIdFor(o.address, o.attempt + 1)), o.prefixLength, o.origin, o.preferredUntil, o.validUntil, o.attempt + 1);
    } else {
      log.error(
        `duplicate address: ${o.text} (${o.origin}) is already used by ${from}; it is not used.` +
          (o.origin === "static" ? " Choose another --ipv6 address." : " Give this unikernel another MAC address, or use stable or random interface identifiers (--ipv6-interface-id)."),
      );
    }
    this.checkSettled();
  }

  private checkSettled(): void {
    if (this.addresses.some((a) => a.state === "tentative")) return;
    for (const w of this.settleWaiters.splice(0)) w();
  }

  private removeAddress(o: OwnAddress): void {
    for (const t of o.timers.splice(0)) t();
    for (const t of o.dadTimers.splice(0)) t();
    const i = this.addresses.indexOf(o);
    if (i >= 0) this.addresses.splice(i, 1);
    this.syncGroups();
  }

  // ---- multicast listener discovery ------------------------------------------------------------
  /** Our groups: the solicited-node groups of every address, tentative ones included (DAD listens there). */
  private syncGroups(): void {
    if (this.closed) return;
    this.mld?.set(this.addresses.map((o) => solicitedNodeAddress(o.address)));
  }

  private sendMld(records: MldRecord[]): void {
    if (this.closed) return;
    const ll = this.addresses.find((a) => a.origin === "link-local" && this.usable(a));
    // RFC 3590: from the link-local address, or from :: while it is still tentative.
    const src = ll?.address ?? IPV6_UNSPECIFIED;
    const length = mldv2ReportLength(records);
    const packet = new Uint8Array(IPV6_HEADER_LENGTH + 8 + length);
    writeIpv6Header(packet, 0, src, MLDV2_ROUTERS, NEXT_HOP_BY_HOP, 1, 8 + length);
    writeRouterAlertHeader(packet, IPV6_HEADER_LENGTH, PROTO_ICMPV6);
    const message = packet.subarray(IPV6_HEADER_LENGTH + 8);
    emitMldv2Report(records, message);
    fillIcmpv6Checksum(message, src, MLDV2_ROUTERS);
    try {
      this.ethernet.write(ipv6MulticastMac(MLDV2_ROUTERS), ETHERTYPE_IPV6, (buf) => (buf.set(packet), packet.length));
      this.counters.add("mld-report-sent");
    } catch (e) {
      this.counters.add("send-failed");
      log.debug(() => `MLD report not sent: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /** Timers that deprecate the address at `preferredUntil` and remove it at `validUntil`. */
  private armLifetimes(o: OwnAddress): void {
    const now = this.clock.nowMs();
    const at = (when: number, fn: () => void) => {
      if (when === Infinity) return;
      const ms = Math.max(0, when - now);
      // A far expiry: re-arm closer to it (timers cannot be longer than ~24 days).
      if (ms > MAX_TIMER_MS) o.timers.push(this.clock.setTimer(MAX_TIMER_MS, () => at(when, fn)));
      else o.timers.push(this.clock.setTimer(ms, fn));
    };
    at(o.preferredUntil, () => {
      if (o.state === "preferred" && this.clock.nowMs() >= o.preferredUntil) {
        o.state = "deprecated";
        log.info(`address ${o.text} is deprecated (preferred lifetime over)`);
      }
    });
    at(o.validUntil, () => {
      if (this.clock.nowMs() >= o.validUntil) {
        log.info(`address ${o.text} removed (valid lifetime over)`);
        this.counters.add("address-expired");
        this.removeAddress(o);
      }
    });
  }

  /** The identifier for addresses under `prefix` (its first 64 bits), at a DAD attempt. */
  private interfaceIdFor(prefix: Uint8Array, attempt: number): Uint8Array {
    if (this.interfaceIdKind === "eui64") return eui64InterfaceId(this.mac);
    if (this.interfaceIdKind === "random") return this.randomId;
    return stableInterfaceId(prefix, attempt, this.secretKey);
  }

  private randomInterfaceId(): Uint8Array {
    const id = Uint8Array.from({ length: 8 }, () => this.random(256));
    // Reserved identifiers are rare (2^-56): step out of them rather than draw again.
    if (isReservedInterfaceId(id)) id[0] = 0x42;
    return id;
  }

  private randomReachableTime(): number {
    // RFC 4861 §6.3.2: uniformly between 0.5 and 1.5 times BaseReachableTime.
    return Math.floor(this.baseReachableTime * 0.5) + this.random(Math.max(1, this.baseReachableTime));
  }

  // ---- routing --------------------------------------------------------------------------------
  private onLink(d: Uint8Array): boolean {
    if (isIpv6LinkLocal(d)) return true;
    for (const o of this.addresses) if (o.origin === "static" && ipv6PrefixMatch(d, o.address, o.prefixLength)) return true;
    for (const p of this.prefixes) if (ipv6PrefixMatch(d, p.prefix, p.length)) return true;
    return false;
  }

  private nextHop(d: Uint8Array, text: string): Uint8Array {
    if (this.redirects.size > 0) {
      const k = ipv6Text(d);
      const r = this.redirects.get(k);
      if (r !== undefined) {
        if (this.clock.nowMs() < r.until) return r.target;
        this.redirects.delete(k);
      }
    }
    if (this.onLink(d)) return d;
    if (this.gateway !== null) return this.gateway;
    // RFC 4861 §6.3.6: a router not known to be unreachable, in order.
    let fallback: Router | undefined;
    for (const r of this.routers) {
      if (this.neighbours.state(r.address) !== undefined) return r.address;
      fallback ??= r;
    }
    if (fallback) return fallback.address;
    throw new IpError("no-route", `no route to ${text}: it is not on the local link and there is no IPv6 default router (set --ipv6-gateway, or let a router advertise itself)`);
  }

  private pathMtu(d: Uint8Array): number {
    if (this.pmtu.size === 0 || isIpv6Multicast(d)) return this.currentLinkMtu;
    const k = ipv6Text(d);
    const e = this.pmtu.get(k);
    if (e === undefined) return this.currentLinkMtu;
    if (this.clock.nowMs() >= e.until) {
      this.pmtu.delete(k);
      return this.currentLinkMtu;
    }
    return Math.min(e.mtu, this.currentLinkMtu);
  }

  // ---- sending --------------------------------------------------------------------------------
  private sendFragments(src: Uint8Array, d: Uint8Array, nextHop: Uint8Array, multicast: boolean, proto: number, hopLimit: number, data: Uint8Array, pathMtu: number): void {
    const id = this.random(0x100000000);
    const step = (pathMtu - IPV6_HEADER_LENGTH - IPV6_FRAGMENT_HEADER_LENGTH) & ~7;
    const mac = multicast ? ipv6MulticastMac(d) : undefined;
    for (let off = 0; off < data.length; off += step) {
      const n = Math.min(step, data.length - off);
      const more = off + n < data.length;
      const frag = new Uint8Array(IPV6_HEADER_LENGTH + IPV6_FRAGMENT_HEADER_LENGTH + n);
      writeIpv6Header(frag, 0, src, d, NEXT_FRAGMENT, hopLimit, IPV6_FRAGMENT_HEADER_LENGTH + n);
      writeFragmentHeader(frag, IPV6_HEADER_LENGTH, proto, off, more, id >>> 0);
      frag.set(data.subarray(off, off + n), IPV6_HEADER_LENGTH + IPV6_FRAGMENT_HEADER_LENGTH);
      if (mac) this.ethernet.write(mac, ETHERTYPE_IPV6, (buf) => (buf.set(frag), frag.length));
      else this.neighbours.enqueue(nextHop, frag);
      this.counters.add("fragments-sent");
    }
  }

  private loopback(src: Uint8Array, d: Uint8Array, proto: number, hopLimit: number, data: Uint8Array, partialAt: number): void {
    const packet = new Uint8Array(IPV6_HEADER_LENGTH + data.length);
    writeIpv6Header(packet, 0, src, d, proto, hopLimit, data.length);
    packet.set(data, IPV6_HEADER_LENGTH);
    if (partialAt >= 0) finishPartialChecksum(packet, IPV6_HEADER_LENGTH, partialAt);
    // Delivered later, as from the wire: the sender never re-enters its own handler.
    queueMicrotask(() => {
      if (!this.closed) this.input(packet);
    });
  }

  private writeIcmp(dst: string, message: Uint8Array, o?: { src?: string; ttl?: number }): void {
    if (message.length < ICMPV6_HEADER_LENGTH) throw new RangeError(`ICMPv6 message of ${message.length} bytes: it needs at least the 8-byte header`);
    const d = ipv6Bytes(dst);
    if (d === null) throw new IpError("invalid-address", `'${dst}' is not an IPv6 address`);
    const src = o?.src !== undefined ? ipv6Bytes(o.src) : this.selectSource(d)?.address;
    if (!src) throw new IpError("no-route", `no IPv6 source address to send ICMPv6 to ${dst} from (DAD still running?)`);
    fillIcmpv6Checksum(message, src, d);
    this.write(dst, PROTO_ICMPV6, message, { src: ipv6Text(src), ...(o?.ttl !== undefined ? { ttl: o.ttl } : {}) });
  }

  /** Sends a neighbour discovery message with hop limit 255, to `mac` if given, else through the neighbour cache. */
  private sendNdp(src: Uint8Array, dst: Uint8Array, repr: NdpRepr, mac?: MacAddr): void {
    const length = ndpLength(repr);
    const packet = new Uint8Array(IPV6_HEADER_LENGTH + length);
    writeIpv6Header(packet, 0, src, dst, PROTO_ICMPV6, 255, length);
    const message = packet.subarray(IPV6_HEADER_LENGTH);
    emitNdp(repr, message);
    fillIcmpv6Checksum(message, src, dst);
    try {
      if (mac) this.ethernet.write(mac, ETHERTYPE_IPV6, (buf) => (buf.set(packet), packet.length));
      else this.neighbours.enqueue(dst, packet);
      this.counters.add(`ndp-sent-${repr.type}`);
    } catch (e) {
      this.counters.add("send-failed");
      log.debug(() => `NDP message to ${ipv6Text(dst)} not sent: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private sendNeighbourSolicitation(target: Uint8Array, mac: MacAddr | null): void {
    // The source is one of our usable addresses; never the unspecified one outside DAD.
    const src = this.selectSource(target);
    if (src === null) return this.counters.add("no-source-for-solicitation");
    const dst = mac === null ? solicitedNodeAddress(target) : target;
    this.sendNdp(src.address, dst, { type: ICMPV6_NEIGHBOR_SOLICITATION, target, sourceLinkAddress: this.mac }, mac ?? ipv6MulticastMac(dst));
  }

  private startRouterSolicitation(): void {
    if (this.rsStarted || this.closed) return;
    this.rsStarted = true;
    const send = () => {
      if (this.closed || this.raSeen || this.rsSent >= this.rsCount) return;
      this.rsSent++;
      const ll = this.addresses.find((a) => a.origin === "link-local" && this.usable(a));
      // From the unspecified address (and without our link address) when no link-local is usable.
      const src = ll?.address ?? IPV6_UNSPECIFIED;
      this.sendNdp(src, IPV6_ALL_ROUTERS, { type: ICMPV6_ROUTER_SOLICITATION, ...(ll ? { sourceLinkAddress: this.mac } : {}) }, ipv6MulticastMac(IPV6_ALL_ROUTERS));
      if (this.rsSent < this.rsCount) this.rsCancel = this.clock.setTimer(this.rsInterval, send);
    };
    this.rsCancel = this.clock.setTimer(this.maxDelay > 0 ? this.random(this.maxDelay) : 0, send);
  }

  /**
   * An ICMPv6 error about `packet` (the offending IPv6 packet) to its source (RFC 4443 §2.4):
   * never about errors, multicast or unspecified sources; rate limited.
   */
  private sendError(type: number, code: number, rest: number, packet: Uint8Array, evenToMulticast = false): void {
    if (packet.length < IPV6_HEADER_LENGTH) return;
    const origSrc = packet.subarray(8, 24);
    const origDst = packet.subarray(24, 40);
    if (isIpv6Multicast(origSrc) || isIpv6Unspecified(origSrc)) return;
    if (isIpv6Multicast(origDst) && type !== ICMPV6_PACKET_TOO_BIG && !evenToMulticast) return;
    // Never about an ICMPv6 error or redirect (looked up through the header chain).
    const walk = walkIpv6Headers(packet, packet[6]!, IPV6_HEADER_LENGTH, packet.length);
    if (!(walk instanceof WireError) && walk.protocol === PROTO_ICMPV6 && walk.payloadAt < packet.length) {
      const t = packet[walk.payloadAt]!;
      if (isIcmpv6Error(t) || t === ICMPV6_REDIRECT) return;
    }
    const now = this.clock.nowMs();
    this.tokens = Math.min(this.errorBurst, this.tokens + ((now - this.lastRefill) * this.errorRate) / 1000);
    this.lastRefill = now;
    if (this.tokens < 1) return this.counters.add("icmp-error-rate-limited");
    this.tokens -= 1;
    const quote = packet.subarray(0, Math.min(packet.length, ICMPV6_ERROR_QUOTE_LIMIT));
    const m = new Uint8Array(ICMPV6_HEADER_LENGTH + quote.length);
    m[0] = type;
    m[1] = code;
    m[4] = rest >>> 24;
    m[5] = rest >>> 16;
    m[6] = rest >>> 8;
    m[7] = rest;
    m.set(quote, ICMPV6_HEADER_LENGTH);
    const to = ipv6Text(origSrc);
    const from = this.ownAddress(origDst) ? ipv6Text(origDst) : undefined;
    try {
      this.writeIcmp(to, m, from ? { src: from } : undefined);
      this.counters.add(`icmp-error-sent-${type}-${code}`);
    } catch (e) {
      this.counters.add("send-failed");
      log.debug(() => `ICMPv6 error to ${to} not sent: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  // ---- input ----------------------------------------------------------------------------------
  /**
   * One IPv6 packet (the Ethernet payload; trailing padding allowed); `checksumOk`: the device
   * vouched for the transport checksum.
   */
  input(packet: Uint8Array, checksumOk = false): void {
    if (this.closed) return;
    const p = parseIpv6(packet);
    if (p instanceof WireError) {
      this.counters.add(p.reason);
      if (p instanceof Ipv6ParameterError) this.parameterProblem(packet, p);
      return;
    }
    const src = p.src;
    const dst = p.dst;
    if (isIpv6Multicast(src)) return this.counters.add("bad-source");
    let dstIsUs = false;
    if (isIpv6Multicast(dst)) {
      if (!this.joined(dst)) return this.counters.add("multicast-not-joined");
    } else {
      const own = this.ownAddress(dst);
      if (own === undefined) return this.counters.add("not-for-us");
      // A tentative address takes nothing but its own DAD traffic, which comes multicast.
      if (!this.usable(own)) return this.counters.add("to-tentative-address");
      dstIsUs = true;
    }
    if (p.fragment !== null) {
      const f = p.fragment;
      if (f.offset === 0 && !f.more) {
        // An atomic fragment (RFC 6946): process it as it is, outside reassembly.
        this.counters.add("atomic-fragment");
        const walk = walkIpv6Headers(packet, f.nextHeader, p.payloadAt, p.end, f.headerAt);
        if (walk instanceof WireError) return this.counters.add(walk.reason);
        if (walk.fragment !== null) return this.counters.add("nested-fragment");
        return this.dispatch(packet.subarray(0, p.end), walk.protocol, walk.payloadAt, walk.protocolFieldAt, p.hopLimit, dstIsUs);
      }
      const whole = this.reassembler.add(packet, f, p.payloadAt, p.end);
      if (whole === null) return;
      const q = parseIpv6(whole);
      if (q instanceof WireError) return this.counters.add(q.reason);
      if (q.fragment !== null) return this.counters.add("nested-fragment");
      return this.dispatch(whole, q.protocol, q.payloadAt, q.protocolFieldAt, q.hopLimit, dstIsUs);
    }
    this.dispatch(packet.subarray(0, p.end), p.protocol, p.payloadAt, p.protocolFieldAt, p.hopLimit, dstIsUs, checksumOk);
  }

  /** RFC 8200 §4.2, §4.4: a Parameter Problem for what we were asked to understand and do not. */
  private parameterProblem(packet: Uint8Array, e: Ipv6ParameterError): void {
    const dst = packet.subarray(24, 40);
    const multicast = isIpv6Multicast(dst);
    const own = multicast ? undefined : this.ownAddress(dst);
    if (multicast ? !(e.evenToMulticast && this.joined(dst)) : !(own && this.usable(own))) return;
    const end = Math.min(packet.length, IPV6_HEADER_LENGTH + ((packet[4]! << 8) | packet[5]!));
    this.sendError(ICMPV6_PARAMETER_PROBLEM, e.code, e.pointer, packet.subarray(0, end), true);
  }

  /** All-nodes, and the solicited-node groups of our addresses (tentative ones too, for DAD). */
  private joined(group: Uint8Array): boolean {
    if (ipv6Equal(IPV6_ALL_NODES, group)) return true;
    if (group[1] === 0x01 && group[15] === 1 && group.subarray(2, 15).every((b) => b === 0)) return true; // ff01::1
    if (group[0] === 0xff && group[1] === 0x02 && group[11] === 0x01 && group[12] === 0xff) {
      for (const o of this.addresses) if (o.address[13] === group[13] && o.address[14] === group[14] && o.address[15] === group[15]) return true;
    }
    return false;
  }

  private dispatch(packet: Uint8Array, proto: number, at: number, protoFieldAt: number, hopLimit: number, dstIsUs: boolean, checksumOk = false): void {
    const srcText = ipv6Text(packet, 8);
    const dstText = ipv6Text(packet, 24);
    const payload = packet.subarray(at);
    this.rxPacket = packet;
    this.rxDstIsUs = dstIsUs;
    try {
      if (proto === PROTO_ICMPV6) return this.icmpInput(packet, payload, srcText, dstText, hopLimit, dstIsUs);
      if (proto === NEXT_NO_NEXT_HEADER) return this.counters.add("no-next-header");
      if (proto === PROTO_UDP && payload.length >= 8 && (payload[6]! | payload[7]!) === 0) {
        return this.counters.add("udp-zero-checksum"); // mandatory over IPv6 (RFC 8200 §8.1)
      }
      const h = this.handlers[proto];
      if (h === undefined) {
        this.counters.add("unknown-protocol");
        if (dstIsUs) this.sendError(ICMPV6_PARAMETER_PROBLEM, PARAMETER_UNKNOWN_NEXT_HEADER, protoFieldAt, packet);
        return;
      }
      h(srcText, dstText, payload, checksumOk);
    } catch (e) {
      this.counters.add("handler-error");
      log.error(() => `handler of protocol ${proto} threw: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    } finally {
      this.rxPacket = null;
    }
  }

  private icmpInput(packet: Uint8Array, message: Uint8Array, srcText: string, dstText: string, hopLimit: number, dstIsUs: boolean): void {
    const src = packet.subarray(8, 24);
    const dst = packet.subarray(24, 40);
    const r = parseIcmpv6(message, src, dst);
    if (r instanceof WireError) return this.counters.add(`icmp-${r.reason}`);
    const type = r.type;
    if (isNdpType(type)) this.ndpInput(src, dst, message, hopLimit);
    else if (type === ICMPV6_ECHO_REQUEST) {
      this.counters.add("echo-request");
      if (this.echoReplies) {
        const reply = message.slice();
        reply[0] = ICMPV6_ECHO_REPLY;
        // To a multicast request, answer from the address we would use for the asker.
        const from = dstIsUs ? dst : this.selectSource(src)?.address;
        if (from) {
          try {
            fillIcmpv6Checksum(reply, from, src);
            this.write(srcText, PROTO_ICMPV6, reply, { src: ipv6Text(from) });
            this.counters.add("echo-reply");
          } catch (e) {
            this.counters.add("send-failed");
            log.debug(() => `echo reply to ${srcText} not sent: ${e instanceof Error ? e.message : String(e)}`);
          }
        }
      }
    } else if (type === ICMPV6_MLD_QUERY) {
      this.mld?.query(src, message);
    } else if (type === ICMPV6_PACKET_TOO_BIG) {
      this.packetTooBig(r.rest, r.data);
      this.reportError(type, r.code, r.rest, r.data, srcText);
    } else if (isIcmpv6Error(type)) {
      this.counters.add(`icmp-error-received-${type}`);
      log.debug(() => `ICMPv6 type ${type} code ${r.code} from ${srcText}`);
      this.reportError(type, r.code, r.rest, r.data, srcText);
    }
    if (this.observer) {
      try {
        this.observer(srcText, dstText, message);
      } catch (e) {
        this.counters.add("handler-error");
        log.error(() => `ICMPv6 listener threw: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      }
    }
  }

  listenErrors(proto: number, handler: (report: IpErrorReport) => void): void {
    this.errorHandlers.set(proto, handler);
  }

  /** RFC 4443 §2.4 (d): an error quoting one of our packets goes to the protocol that sent it. */
  private reportError(type: number, code: number, rest: number, quote: Uint8Array, reporter: string): void {
    if (quote.length < IPV6_HEADER_LENGTH + 8 || quote[0]! >> 4 !== 6) return this.counters.add("icmp-error-bad-quote");
    if (this.ownAddress(quote, 8) === undefined) return this.counters.add("icmp-error-not-ours");
    const walk = walkIpv6Headers(quote, quote[6]!, IPV6_HEADER_LENGTH, quote.length);
    if (walk instanceof WireError || walk.payloadAt + 8 > quote.length) return this.counters.add("icmp-error-bad-quote");
    // A later fragment carries no transport header to match.
    if (walk.fragment !== null && walk.fragment.offset !== 0) return this.counters.add("icmp-error-about-fragment");
    const handler = this.errorHandlers.get(walk.protocol);
    if (handler === undefined) return;
    let kind: IpErrorKind = "unreachable";
    if (type === ICMPV6_PACKET_TOO_BIG) kind = "too-big";
    else if (type === ICMPV6_TIME_EXCEEDED) kind = "time-exceeded";
    else if (type === ICMPV6_PARAMETER_PROBLEM) kind = code === PARAMETER_UNKNOWN_NEXT_HEADER ? "protocol-unreachable" : "parameter-problem";
    else if (code === UNREACHABLE_PORT) kind = "port-unreachable";
    else if (code === 1 || code === 5 || code === 6) kind = "prohibited"; // administratively, by policy, reject route
    const report: IpErrorReport = {
      kind,
      type,
      code,
      reporter,
      src: ipv6Text(quote, 8),
      dst: ipv6Text(quote, 24),
      quote: quote.subarray(walk.payloadAt),
      mtu: kind === "too-big" ? rest : 0,
    };
    try {
      handler(report);
    } catch (e) {
      this.counters.add("handler-error");
      log.error(() => `ICMPv6 error handler of protocol ${walk.protocol} threw: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    }
  }

  private packetTooBig(mtu: number, quote: Uint8Array): void {
    this.counters.add("packet-too-big");
    if (quote.length < IPV6_HEADER_LENGTH) return this.counters.add("packet-too-big-truncated");
    // Only about packets we sent: the quoted source is ours.
    if (this.ownAddress(quote, 8) === undefined) return this.counters.add("packet-too-big-not-ours");
    const value = Math.max(IPV6_MIN_MTU, Math.min(mtu, this.currentLinkMtu));
    const k = ipv6Text(quote, 24);
    if (this.pmtu.size >= DESTINATION_ENTRIES && !this.pmtu.has(k)) this.pmtu.delete(this.pmtu.keys().next().value!);
    this.pmtu.set(k, { mtu: value, until: this.clock.nowMs() + DESTINATION_LIFETIME_MS });
    log.debug(() => `path MTU to ${k} is ${value}`);
  }

  // ---- neighbour discovery ----------------------------------------------------------------------
  private ndpInput(src: Uint8Array, dst: Uint8Array, message: Uint8Array, hopLimit: number): void {
    // RFC 4861 §6.1, §7.1: only from the link itself.
    if (hopLimit !== 255) return this.counters.add("ndp-bad-hop-limit");
    const m = parseNdp(message);
    if (m instanceof WireError) return this.counters.add(m.reason);
    const fromUnspecified = isIpv6Unspecified(src);
    switch (m.type) {
      case ICMPV6_NEIGHBOR_SOLICITATION: {
        if (fromUnspecified && (m.sourceLinkAddress !== undefined || !(dst[0] === 0xff && dst[11] === 1 && dst[12] === 0xff))) return this.counters.add("ndp-bad-dad-probe");
        const own = this.ownAddress(m.target);
        if (own === undefined) return this.counters.add("ns-not-for-us");
        if (own.state === "tentative") {
          // Another node is testing or using our tentative address (RFC 4862 §5.4.3).
          if (fromUnspecified) this.dadFailed(own, "another node doing duplicate address detection");
          return;
        }
        if (own.state === "duplicate") return;
        if (!fromUnspecified && m.sourceLinkAddress) this.neighbours.learn(src, m.sourceLinkAddress);
        const to = fromUnspecified ? IPV6_ALL_NODES : src;
        const mac = fromUnspecified ? ipv6MulticastMac(IPV6_ALL_NODES) : m.sourceLinkAddress;
        this.sendNdp(own.address, to, { type: ICMPV6_NEIGHBOR_ADVERTISEMENT, router: false, solicited: !fromUnspecified, override: true, target: own.address, targetLinkAddress: this.mac }, mac);
        return;
      }
      case ICMPV6_NEIGHBOR_ADVERTISEMENT: {
        if (isIpv6Multicast(dst) && m.solicited) return this.counters.add("ndp-bad-advertisement");
        const own = this.ownAddress(m.target);
        if (own !== undefined) {
          if (own.state === "tentative") this.dadFailed(own, m.targetLinkAddress ? formatMac(m.targetLinkAddress) : "another node");
          else {
            this.counters.add("address-conflict");
            log.warn(`${own.text} is also claimed by ${m.targetLinkAddress ? formatMac(m.targetLinkAddress) : "another node"} (neighbour advertisement)`);
          }
          return;
        }
        this.neighbours.advertised(m.target, m.targetLinkAddress, m);
        if (!m.router) this.dropRouter(m.target);
        return;
      }
      case ICMPV6_ROUTER_ADVERTISEMENT:
        if (!isIpv6LinkLocal(src)) return this.counters.add("ra-not-link-local");
        if (!this.acceptRa) return this.counters.add("ra-ignored");
        return this.routerAdvertisement(src, m);
      case ICMPV6_ROUTER_SOLICITATION:
        return this.counters.add("rs-ignored"); // we are a host
      default:
        return this.redirect(src, m);
    }
  }

  /** RFC 4861 §8: the router we use for a destination points at a better first hop. */
  private redirect(src: Uint8Array, r: Redirect): void {
    const destinationText = ipv6Text(r.destination);
    let current: Uint8Array | null = null;
    try {
      current = isIpv6Multicast(r.destination) ? null : this.nextHop(r.destination, destinationText);
    } catch {
      current = null;
    }
    const onLinkTarget = ipv6Equal(r.target, r.destination);
    if (!isIpv6LinkLocal(src) || current === null || !ipv6Equal(current, src) || !(isIpv6LinkLocal(r.target) || onLinkTarget)) {
      return this.counters.add("redirect-invalid");
    }
    this.counters.add("redirect");
    if (r.targetLinkAddress) this.neighbours.learn(r.target, r.targetLinkAddress, { isRouter: !onLinkTarget });
    if (this.redirects.size >= DESTINATION_ENTRIES && !this.redirects.has(destinationText)) this.redirects.delete(this.redirects.keys().next().value!);
    this.redirects.set(destinationText, { target: r.target.slice(), until: this.clock.nowMs() + DESTINATION_LIFETIME_MS });
    log.debug(() => `redirect: ${destinationText} via ${ipv6Text(r.target)}`);
  }

  private dropRouter(address: Uint8Array): void {
    const i = this.routers.findIndex((r) => ipv6Equal(r.address, address));
    if (i < 0) return;
    this.routers[i]!.cancel();
    this.routers.splice(i, 1);
  }

  private routerAdvertisement(src: Uint8Array, ra: RouterAdvertisement): void {
    this.counters.add("ra-received");
    this.rsCancel(); // solicited or not, a router answered
    this.raSeen = true;
    const now = this.clock.nowMs();
    if (ra.curHopLimit !== 0) this.hopLimit = ra.curHopLimit;
    if (ra.reachableTime !== 0 && ra.reachableTime !== this.baseReachableTime && ra.reachableTime <= 3_600_000) {
      this.baseReachableTime = ra.reachableTime;
      this.reachableTime = this.randomReachableTime();
    }
    if (ra.retransTimer !== 0) this.retransTimer = Math.min(ra.retransTimer, 60_000);
    if (ra.sourceLinkAddress) this.neighbours.learn(src, ra.sourceLinkAddress, { isRouter: true });
    if (ra.mtu !== undefined) {
      if (ra.mtu >= IPV6_MIN_MTU && ra.mtu <= this.linkMtu) this.currentLinkMtu = ra.mtu;
      else this.counters.add("ra-bad-mtu");
    }
    // Default router list (RFC 4861 §6.3.4).
    const existing = this.routers.find((r) => ipv6Equal(r.address, src));
    if (ra.routerLifetime === 0) {
      if (existing) this.dropRouter(src);
    } else {
      const validUntil = now + ra.routerLifetime * 1000;
      const router: Router = existing ?? { address: src.slice(), validUntil, cancel: () => {} };
      router.validUntil = validUntil;
      router.cancel();
      router.cancel = this.clock.setTimer(ra.routerLifetime * 1000, () => {
        if (this.clock.nowMs() >= router.validUntil) {
          this.dropRouter(router.address);
          log.info(`default router ${ipv6Text(router.address)} expired`);
        }
      });
      if (!existing) {
        if (this.routers.length >= MAX_ROUTERS) {
          router.cancel();
          this.counters.add("router-list-full");
        } else {
          this.routers.push(router);
          log.info(`default router ${ipv6Text(src)}`);
        }
      }
    }
    for (const p of ra.prefixes) this.prefixInformation(p, now);
  }

  private prefixInformation(p: PrefixInformation, now: number): void {
    if (isIpv6LinkLocal(p.prefix)) return this.counters.add("prefix-link-local-ignored");
    if (isIpv6Multicast(p.prefix)) return this.counters.add("prefix-multicast-ignored");
    const prefix = ipv6PrefixOf(p.prefix, p.prefixLength);
    const validMs = p.validLifetime === NDP_INFINITE_LIFETIME ? Infinity : p.validLifetime * 1000;
    const preferredMs = p.preferredLifetime === NDP_INFINITE_LIFETIME ? Infinity : p.preferredLifetime * 1000;
    if (p.onLink) {
      // On-link prefix list (RFC 4861 §6.3.4).
      const i = this.prefixes.findIndex((x) => x.length === p.prefixLength && ipv6Equal(x.prefix, prefix));
      if (validMs === 0) {
        if (i >= 0) {
          this.prefixes[i]!.cancel();
          this.prefixes.splice(i, 1);
        }
      } else if (i < 0 && this.prefixes.length >= MAX_PREFIXES) {
        this.counters.add("prefix-list-full");
      } else {
        const entry = i >= 0 ? this.prefixes[i]! : { prefix, length: p.prefixLength, validUntil: 0, cancel: () => {} };
        entry.validUntil = now + validMs;
        entry.cancel();
        const expire = (): void => {
          const left = entry.validUntil - this.clock.nowMs();
          if (left > 0) {
            entry.cancel = this.clock.setTimer(Math.min(left, MAX_TIMER_MS), expire);
            return;
          }
          const j = this.prefixes.indexOf(entry);
          if (j >= 0) this.prefixes.splice(j, 1);
        };
        entry.cancel = validMs === Infinity ? () => {} : this.clock.setTimer(Math.min(validMs, MAX_TIMER_MS), expire);
        if (i < 0) this.prefixes.push(entry);
      }
    }
    if (!p.autonomous) return;
    // SLAAC (RFC 4862 §5.5.3).
    if (preferredMs > validMs) return this.counters.add("prefix-preferred-above-valid");
    if (p.prefixLength !== 64) return this.counters.add("prefix-length-not-64");
    const existing = this.addresses.find((a) => a.origin === "slaac" && ipv6PrefixMatch(a.address, prefix, 64));
    if (existing === undefined) {
      if (validMs === 0) return;
      const address = withInterfaceId(prefix, this.interfaceIdFor(prefix, 0));
      if (this.ownAddress(address)) return; // the same address configured statically
      if (this.addresses.filter((a) => a.origin === "slaac").length >= MAX_SLAAC_ADDRESSES) return this.counters.add("slaac-address-limit");
      this.counters.add("slaac-address");
      log.info(`SLAAC address ${ipv6Text(address)}/64 from router advertisement`);
      this.addAddress(address, 64, "slaac", now + preferredMs, now + validMs);
      return;
    }
    // Existing address: update lifetimes, with the two-hour rule against short-lifetime attacks.
    const remaining = existing.validUntil - now;
    if (validMs > TWO_HOURS_MS || validMs > remaining) existing.validUntil = now + validMs;
    else if (remaining > TWO_HOURS_MS) existing.validUntil = now + TWO_HOURS_MS;
    existing.preferredUntil = now + preferredMs;
    if (existing.state === "deprecated" && preferredMs > 0) existing.state = "preferred";
    if (existing.state === "preferred" && preferredMs === 0) existing.state = "deprecated";
    const keep = existing.timers.splice(0);
    for (const t of keep) t();
    this.armLifetimes(existing);
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
