// DHCPv4 client (RFC 2131): DORA with exponential retransmission backoff, renewal at T1
// (unicast to the server), rebinding at T2 (broadcast), expiry, NAK handling and release.
// Each lease configures the IPv4 layer; losing it unconfigures the layer and starts over.
import { PROTO_UDP } from "../../devices/ip.ts";
import type { MacAddr } from "../../devices/net.ts";
import { source } from "oasis/logs";
import { randomUint32 } from "oasis/random";
import { formatIpv4Address, ipv4Number, IPV4_BROADCAST } from "../wire/address.ts";
import { ipv4PseudoSum } from "../wire/checksum.ts";
import { Counters, WireError } from "../wire/error.ts";
import {
  BOOTREPLY,
  BOOTREQUEST,
  DHCP_CLIENT_PORT,
  DHCP_SERVER_PORT,
  DHCPACK,
  DHCPDECLINE,
  DHCPDISCOVER,
  DHCPNAK,
  DHCPOFFER,
  DHCPRELEASE,
  DHCPREQUEST,
  dhcpLength,
  emitDhcp,
  OPT_DNS,
  OPT_LEASE_TIME,
  OPT_REBINDING_TIME,
  OPT_RENEWAL_TIME,
  OPT_ROUTER,
  OPT_SUBNET_MASK,
  parseDhcp,
  type DhcpOptions,
  type DhcpRepr,
} from "../wire/dhcp.ts";
import { emitUdpHeader, parseUdp, UDP_HEADER_LENGTH } from "../wire/udp.ts";
import type { Ipv4Layer } from "../ipv4/ipv4.ts";
import { systemClock, type Clock } from "../stack/clock.ts";

const log = source("dhcp", "DHCPv4 client");

export interface Lease {
  address: string;
  prefixLength: number;
  gateway: string | null;
  dnsServers: string[];
  server: string;
  /** Seconds; Infinity for an infinite lease. */
  leaseSeconds: number;
  renewSeconds: number;
  rebindSeconds: number;
}

export interface DhcpClientOptions {
  clock?: Clock;
  random?: () => number;
  /** First retransmission timeout (RFC 2131 §4.1: 4 s), doubling up to `maxTimeoutMs` (64 s). */
  initialTimeoutMs?: number;
  maxTimeoutMs?: number;
  /** Lower bound of the retransmission interval while renewing or rebinding (RFC: 60 s). */
  minRenewRetryMs?: number;
  /** REQUESTs sent for an offer before starting over (default 4). */
  requestAttempts?: number;
  hostname?: string;
  /** Checks the offered address with ARP probes before using it (RFC 2131 §4.4.1; slower). */
  probe?: (address: string) => Promise<boolean>;
}

export type DhcpState = "init" | "selecting" | "requesting" | "bound" | "renewing" | "rebinding" | "stopped";

export class DhcpClient {
  readonly counters = new Counters();
  private stateName: DhcpState = "init";
  private xid = 0;
  private startedAt = 0;
  private attempts = 0;
  private cancelTimer: () => void = () => {};
  private leaseTimers: Array<() => void> = [];
  private offer: DhcpRepr | null = null;
  private current: Lease | null = null;
  private boundAt = 0;
  private probing = false;
  private readonly waiters: Array<(l: Lease) => void> = [];
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly o: Required<Omit<DhcpClientOptions, "clock" | "random" | "hostname" | "probe">>;

  constructor(
    private readonly ipv4: Ipv4Layer,
    private readonly mac: MacAddr,
    private readonly options: DhcpClientOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? randomUint32;
    this.o = {
      initialTimeoutMs: options.initialTimeoutMs ?? 4000,
      maxTimeoutMs: options.maxTimeoutMs ?? 64000,
      minRenewRetryMs: options.minRenewRetryMs ?? 60000,
      requestAttempts: options.requestAttempts ?? 4,
    };
    ipv4.interceptUdp(DHCP_CLIENT_PORT, (src, dst, payload) => this.input(src, dst, payload));
  }

  get state(): DhcpState {
    return this.stateName;
  }
  get lease(): Lease | null {
    return this.current;
  }

  /** Starts DORA; resolves with the first lease (later leases are applied silently). */
  start(): Promise<Lease> {
    const p = new Promise<Lease>((resolve) => this.waiters.push(resolve));
    if (this.stateName === "init") this.discover();
    return p;
  }

  /** Gives the lease back (DHCPRELEASE) and stops; the IPv4 layer is unconfigured. */
  async release(): Promise<void> {
    const lease = this.current;
    const wasBound = this.stateName === "bound" || this.stateName === "renewing" || this.stateName === "rebinding";
    if (lease && wasBound) {
      const server = ipv4Number(lease.server)!;
      try {
        this.send(DHCPRELEASE, { serverId: server }, ipv4Number(lease.address)!, server);
        log.info(`released ${lease.address} to ${lease.server}`);
      } catch (e) {
        log.warn(`could not send DHCPRELEASE: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    this.stop();
    if (lease) this.ipv4.configure(null, null);
  }

  stop(): void {
    this.stateName = "stopped";
    this.cancelTimer();
    this.clearLeaseTimers();
    this.ipv4.interceptUdp(DHCP_CLIENT_PORT, null);
  }

  // ---- states ---------------------------------------------------------------------------------
  private discover(): void {
    this.stateName = "selecting";
    this.xid = this.random() >>> 0;
    this.startedAt = this.clock.nowMs();
    this.attempts = 0;
    this.offer = null;
    this.retransmit(() => {
      this.send(DHCPDISCOVER, this.requestOptions(), 0, IPV4_BROADCAST);
      if (this.attempts > 1) log.info(`no DHCP offer yet; DHCPDISCOVER #${this.attempts}`);
    });
  }

  private request(offer: DhcpRepr): void {
    this.stateName = "requesting";
    this.offer = offer;
    this.attempts = 0;
    this.retransmit(() => {
      if (this.attempts > this.o.requestAttempts) {
        log.warn(`no answer to DHCPREQUEST for ${formatIpv4Address(offer.yiaddr)}; starting over`);
        return this.discover();
      }
      this.send(DHCPREQUEST, { ...this.requestOptions(), requestedIp: offer.yiaddr, serverId: offer.options.serverId }, 0, IPV4_BROADCAST);
    });
  }

  /** Sends now, then again after 4, 8, 16, … s (±1 s, RFC 2131 §4.1) while the state lasts. */
  private retransmit(sendOnce: () => void): void {
    this.cancelTimer();
    const state = this.stateName;
    const tick = () => {
      if (this.stateName !== state) return;
      this.attempts++;
      try {
        sendOnce();
      } catch (e) {
        this.counters.add("send-failed");
        log.debug(() => `DHCP send failed: ${e instanceof Error ? e.message : String(e)}`);
      }
      if (this.stateName !== state) return;
      const base = Math.min(this.o.maxTimeoutMs, this.o.initialTimeoutMs * 2 ** Math.min(this.attempts - 1, 20));
      const jitter = ((this.random() % 2001) - 1000) * (this.o.initialTimeoutMs / 4000);
      this.cancelTimer = this.clock.setTimer(Math.max(1, base + jitter), tick);
    };
    tick();
  }

  private async bind(ack: DhcpRepr): Promise<void> {
    const o = ack.options;
    const address = formatIpv4Address(ack.yiaddr);
    const mask = o.subnetMask ?? classfulMask(ack.yiaddr);
    const prefixLength = maskLength(mask);
    if (prefixLength < 0) {
      this.counters.add("bad-subnet-mask");
      log.warn(`server offered a non-contiguous subnet mask ${formatIpv4Address(mask)}; declining`);
      return this.decline(ack);
    }
    if (this.options.probe && this.stateName === "requesting") {
      if (this.probing) return; // a retransmitted ACK while the probe runs
      this.probing = true;
      this.cancelTimer();
      const free = await this.options.probe(address).finally(() => (this.probing = false));
      if (this.stateName !== "requesting") return; // stopped meanwhile
      if (!free) {
        log.warn(`offered address ${address} is already in use on the link; declining it`);
        return this.decline(ack);
      }
    }
    const router = o.routers?.find((r) => ((r ^ ack.yiaddr) & mask) === 0) ?? null;
    const leaseSeconds = o.leaseTime === undefined || o.leaseTime === 0xffffffff ? Infinity : o.leaseTime;
    const lease: Lease = {
      address,
      prefixLength,
      gateway: router === null ? null : formatIpv4Address(router),
      dnsServers: (o.dnsServers ?? []).map(formatIpv4Address),
      server: formatIpv4Address(o.serverId ?? 0),
      leaseSeconds,
      renewSeconds: 0,
      rebindSeconds: 0,
    };
    // Servers may send T1/T2 that make no sense; keep T1 ≤ T2 ≤ lease (RFC 2131 4.4.5 defaults otherwise).
    lease.rebindSeconds = Math.min(o.rebindingTime ?? leaseSeconds * 0.875, leaseSeconds);
    lease.renewSeconds = Math.min(o.renewalTime ?? leaseSeconds * 0.5, lease.rebindSeconds);
    const prev = this.current;
    this.current = lease;
    this.stateName = "bound";
    this.cancelTimer();
    this.boundAt = this.clock.nowMs();
    if (!prev || prev.address !== lease.address || prev.prefixLength !== lease.prefixLength || prev.gateway !== lease.gateway) {
      this.ipv4.configure(`${address}/${prefixLength}`, lease.gateway);
    }
    log.info(`lease ${address}/${prefixLength} from ${lease.server} for ${leaseSeconds === Infinity ? "ever" : `${leaseSeconds} s`}${lease.gateway ? `, gateway ${lease.gateway}` : ""}`);
    this.scheduleLeaseTimers(lease);
    for (const w of this.waiters.splice(0)) w(lease);
  }

  private decline(ack: DhcpRepr): void {
    try {
      this.send(DHCPDECLINE, { requestedIp: ack.yiaddr, serverId: ack.options.serverId }, 0, IPV4_BROADCAST);
    } catch {
      this.counters.add("send-failed");
    }
    this.counters.add("declined");
    // RFC 2131 §3.1: wait at least 10 s before restarting after a DECLINE.
    this.stateName = "init";
    this.cancelTimer = this.clock.setTimer(10_000, () => this.discover());
  }

  private scheduleLeaseTimers(lease: Lease): void {
    this.clearLeaseTimers();
    if (lease.leaseSeconds === Infinity) return;
    const at = (s: number, f: () => void) => this.leaseTimers.push(this.clock.setTimer(Math.max(0, s * 1000 - (this.clock.nowMs() - this.boundAt)), f));
    at(lease.renewSeconds, () => this.renewOrRebind("renewing"));
    at(lease.rebindSeconds, () => this.renewOrRebind("rebinding"));
    at(lease.leaseSeconds, () => this.expire());
  }

  private clearLeaseTimers(): void {
    for (const c of this.leaseTimers) c();
    this.leaseTimers = [];
  }

  private renewOrRebind(state: "renewing" | "rebinding"): void {
    const lease = this.current;
    if (!lease) return;
    this.stateName = state;
    this.xid = this.random() >>> 0;
    this.attempts = 0;
    this.cancelTimer();
    log.info(`${state === "renewing" ? "renewing" : "rebinding"} lease ${lease.address}`);
    const ours = ipv4Number(lease.address)!;
    const deadline = this.boundAt + (state === "renewing" ? lease.rebindSeconds : lease.leaseSeconds) * 1000;
    const tick = () => {
      if (this.stateName !== state) return;
      this.attempts++;
      try {
        if (state === "renewing") this.send(DHCPREQUEST, this.requestOptions(), ours, ipv4Number(lease.server)!);
        else this.send(DHCPREQUEST, this.requestOptions(), ours, IPV4_BROADCAST);
      } catch (e) {
        this.counters.add("send-failed");
      }
      // RFC 2131 §4.4.5: retry after half the time left until T2 (or expiry), at least 60 s.
      const wait = Math.max(this.o.minRenewRetryMs, (deadline - this.clock.nowMs()) / 2);
      this.cancelTimer = this.clock.setTimer(wait, tick);
    };
    tick();
  }

  private expire(): void {
    log.warn(`lease ${this.current?.address} expired without renewal; unconfiguring and starting over`);
    this.counters.add("expired");
    this.lose();
  }

  private lose(afterNak = false): void {
    this.current = null;
    this.clearLeaseTimers();
    this.cancelTimer();
    this.ipv4.configure(null, null);
    if (afterNak) this.restartLater();
    else this.discover();
  }

  /** After a NAK: pause one retransmission interval, so a server that always refuses is not flooded. */
  private restartLater(): void {
    this.stateName = "init";
    this.cancelTimer();
    this.cancelTimer = this.clock.setTimer(this.o.initialTimeoutMs, () => {
      if (this.stateName === "init") this.discover();
    });
  }

  // ---- wire -----------------------------------------------------------------------------------
  private requestOptions(): DhcpOptions {
    const o: DhcpOptions = {
      parameterRequestList: [OPT_SUBNET_MASK, OPT_ROUTER, OPT_DNS, OPT_LEASE_TIME, OPT_RENEWAL_TIME, OPT_REBINDING_TIME],
      maxMessageSize: 1500,
      clientId: new Uint8Array([1, ...this.mac]),
    };
    if (this.options.hostname) o.hostname = this.options.hostname;
    return o;
  }

  private send(type: number, options: DhcpOptions, ciaddr: number, dst: number): void {
    const repr: DhcpRepr = {
      op: BOOTREQUEST,
      xid: this.xid,
      secs: Math.min(0xffff, Math.floor((this.clock.nowMs() - this.startedAt) / 1000)),
      broadcast: false,
      ciaddr,
      yiaddr: 0,
      siaddr: 0,
      giaddr: 0,
      chaddr: this.mac.slice(0, 6),
      options: { messageType: type, ...options },
    };
    if (type === DHCPRELEASE || type === DHCPDECLINE) {
      delete repr.options.parameterRequestList;
      delete repr.options.maxMessageSize;
    }
    const body = new Uint8Array(dhcpLength(repr));
    const n = emitDhcp(repr, body);
    const message = body.subarray(0, n);
    const header = new Uint8Array(UDP_HEADER_LENGTH);
    const src = ciaddr;
    emitUdpHeader(header, 0, DHCP_CLIENT_PORT, DHCP_SERVER_PORT, message, ipv4PseudoSum(src, dst, PROTO_UDP, UDP_HEADER_LENGTH + n));
    this.ipv4.write(formatIpv4Address(dst), PROTO_UDP, [header, message], { src: formatIpv4Address(src), ttl: 64 });
    this.counters.add(`sent-${type}`);
  }

  input(src: string, dst: string, payload: Uint8Array): void {
    const s = ipv4Number(src);
    const d = ipv4Number(dst);
    const udp = parseUdp(payload, s === null || d === null ? null : ipv4PseudoSum(s, d, PROTO_UDP, payload.length >= 6 ? (payload[4]! << 8) | payload[5]! : 0));
    if (udp instanceof WireError) return this.counters.add(`udp-${udp.reason}`);
    if (udp.srcPort !== DHCP_SERVER_PORT) return this.counters.add("not-from-server-port");
    const m = parseDhcp(udp.payload);
    if (m instanceof WireError) return this.counters.add(m.reason);
    if (m.op !== BOOTREPLY || m.xid !== this.xid || m.chaddr.length !== 6 || !m.chaddr.every((b, i) => b === this.mac[i])) return this.counters.add("not-ours");
    const type = m.options.messageType;
    this.counters.add(`received-${type}`);
    switch (this.stateName) {
      case "selecting":
        if (type === DHCPOFFER && m.yiaddr !== 0 && m.options.serverId !== undefined) {
          log.info(`offer of ${formatIpv4Address(m.yiaddr)} from ${formatIpv4Address(m.options.serverId)}`);
          this.request(m);
        }
        break;
      case "requesting":
        if (type === DHCPACK && m.yiaddr === this.offer?.yiaddr) void this.bind(m);
        else if (type === DHCPNAK) {
          log.warn(`server refused our request${m.options.message ? `: ${m.options.message}` : ""}; starting over`);
          this.restartLater();
        }
        break;
      case "renewing":
      case "rebinding":
        if (type === DHCPACK && m.yiaddr !== 0) void this.bind(m);
        else if (type === DHCPNAK) {
          log.warn(`server refused to extend lease ${this.current?.address}${m.options.message ? `: ${m.options.message}` : ""}`);
          this.lose(true);
        }
        break;
      default:
        this.counters.add("unexpected");
    }
  }
}

function maskLength(mask: number): number {
  const inv = ~mask >>> 0;
  if ((inv & (inv + 1)) !== 0) return -1; // not of the form 1…10…0
  return 32 - Math.log2(inv + 1);
}

function classfulMask(address: number): number {
  const first = address >>> 24;
  return first < 128 ? 0xff000000 : first < 192 ? 0xffff0000 : 0xffffff00;
}
