// ARP for IPv4 (RFC 826) with address conflict detection and announcements (RFC 5227).
// The cache is bounded (least recently used dynamic entry evicted first); static entries win
// over anything learnt from the wire and are never evicted. Packets for an address being
// resolved wait in a bounded queue and are dropped (and counted) if resolution times out.
import type { Arp } from "../../devices/arp.ts";
import type { Ethernet } from "../../devices/ethernet.ts";
import { ETHERTYPE_ARP } from "../../devices/ethernet.ts";
import type { MacAddr, TxOffload } from "../../devices/net.ts";
import { ArpError, IpError } from "../../devices/errors.ts";
import { source } from "oasis/logs";
import { ARP_REPLY, ARP_REQUEST, emitArp, parseArp, type ArpRepr } from "../wire/arp.ts";
import { BROADCAST_MAC, formatIpv4Address, formatMac, ipv4Number, macEquals, ZERO_MAC } from "../wire/address.ts";
import { Counters, WireError } from "../wire/error.ts";
import { systemClock, type Clock } from "../stack/clock.ts";
import { EthernetLayer } from "../ethernet/ethernet.ts";

const log = source("arp", "IPv4 address resolution");

export interface ArpOptions {
  clock?: Clock;
  /** Dynamic cache entries kept (default 1024). */
  cacheSize?: number;
  /** Lifetime of a learnt entry (default 5 minutes). */
  entryTimeoutMs?: number;
  /** Requests sent per resolution before it fails (default 3). */
  requests?: number;
  /** Time between requests (default 1 s). */
  requestIntervalMs?: number;
  /** Packets waiting per address being resolved (default 32). */
  queueLimit?: number;
  /** Addresses being resolved at once (default 256). */
  pendingLimit?: number;
  /** RFC 5227 timings, shortened in tests. */
  probeWaitMs?: number;
  probeMinMs?: number;
  probeMaxMs?: number;
  probes?: number;
  announcements?: number;
  announceIntervalMs?: number;
  /** Random integer in [0, max): used for probe jitter. */
  randomInt?: (max: number) => number;
}

interface Entry {
  mac: MacAddr;
  expiresAt: number;
  isStatic: boolean;
  usedAt: number;
  /** When a refresh request was last sent (0: never). */
  refreshedAt: number;
}

interface Queued {
  ethertype: number;
  packet: Uint8Array;
  offload: TxOffload | undefined;
}

interface Pending {
  queue: Queued[];
  waiters: Array<{ resolve: (mac: MacAddr) => void; reject: (e: Error) => void }>;
  sent: number;
  cancel: () => void;
}

interface Probe {
  conflict: boolean;
}

export class ArpLayer implements Arp {
  /** Events by reason: malformed input, drops, conflicts. */
  readonly counters = new Counters();
  private readonly clock: Clock;
  private readonly cache = new Map<number, Entry>();
  private dynamicCount = 0;
  private useTick = 0;
  private readonly pending = new Map<number, Pending>();
  private readonly probing = new Map<number, Probe>();
  private readonly announceTimers = new Set<() => void>();
  private ips: number[] = [];
  private readonly opt: Required<Omit<ArpOptions, "clock">>;
  private readonly txRepr: ArpRepr;
  private closed = false;
  private lastDefence = -Infinity;
  /** Time before expiry when a used entry is re-validated: the time all requests of a query take. */
  private readonly refreshWindow: number;

  constructor(
    private readonly ethernet: Ethernet,
    options: ArpOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.opt = {
      cacheSize: options.cacheSize ?? 1024,
      entryTimeoutMs: options.entryTimeoutMs ?? 300_000,
      requests: options.requests ?? 3,
      requestIntervalMs: options.requestIntervalMs ?? 1000,
      queueLimit: options.queueLimit ?? 32,
      pendingLimit: options.pendingLimit ?? 256,
      probeWaitMs: options.probeWaitMs ?? 1000,
      probeMinMs: options.probeMinMs ?? 1000,
      probeMaxMs: options.probeMaxMs ?? 2000,
      probes: options.probes ?? 3,
      announcements: options.announcements ?? 2,
      announceIntervalMs: options.announceIntervalMs ?? 2000,
      randomInt: options.randomInt ?? ((max) => Math.floor(Math.random() * max)),
    };
    this.refreshWindow = Math.min(this.opt.entryTimeoutMs / 2, this.opt.requests * this.opt.requestIntervalMs);
    if (!(this.opt.cacheSize >= 1)) throw new RangeError(`ARP cacheSize must be at least 1, got ${this.opt.cacheSize}`);
    this.txRepr = { op: ARP_REQUEST, senderMac: ethernet.mac, senderIp: 0, targetMac: ZERO_MAC, targetIp: 0 };
    if (ethernet instanceof EthernetLayer) ethernet.listenPayload(ETHERTYPE_ARP, (frame, offset) => this.input(frame.subarray(offset)));
    else ethernet.listen(ETHERTYPE_ARP, (_src, payload) => this.input(payload));
  }

  // ---- Arp interface ------------------------------------------------------------------------
  query(ip: string): Promise<MacAddr> {
    const n = this.addr(ip);
    const hit = this.lookup(n);
    if (hit) return Promise.resolve(hit);
    return new Promise((resolve, reject) => {
      const p = this.startResolution(n);
      if (!p) return reject(new ArpError("timeout", `ARP: too many addresses being resolved at once (${this.opt.pendingLimit}); ${ip} not queried`));
      p.waiters.push({ resolve, reject });
    });
  }

  setIps(ips: string[]): void {
    const next = ips.map((ip) => this.addr(ip));
    this.ips = [...new Set(next)];
    for (const ip of this.ips) this.announce(ip);
  }
  addIp(ip: string): void {
    const n = this.addr(ip);
    if (!this.ips.includes(n)) this.ips.push(n);
    this.announce(n);
  }
  removeIp(ip: string): void {
    const n = this.addr(ip);
    this.ips = this.ips.filter((x) => x !== n);
  }
  getIps(): string[] {
    return this.ips.map(formatIpv4Address);
  }
  addStatic(ip: string, mac: MacAddr): void {
    const n = this.addr(ip);
    if (mac.length !== 6) throw new RangeError(`ARP static entry for ${ip}: a MAC address has 6 bytes, got ${mac.length}`);
    const old = this.cache.get(n);
    if (old && !old.isStatic) this.dynamicCount--;
    this.cache.set(n, { mac: mac.slice(0, 6), expiresAt: Infinity, isStatic: true, usedAt: 0, refreshedAt: 0 });
    this.resolved(n, mac);
  }

  async disconnect(): Promise<void> {
    this.closed = true;
    for (const [ip, p] of this.pending) this.fail(ip, p, "ARP layer disconnected");
    for (const cancel of this.announceTimers) cancel();
    this.announceTimers.clear();
  }

  // ---- used by the IPv4 layer ---------------------------------------------------------------
  /** The cached MAC of an on-link address, if known and fresh. */
  lookup(ip: number): MacAddr | undefined {
    const e = this.cache.get(ip);
    if (e === undefined) return undefined;
    if (!e.isStatic) {
      const now = this.clock.nowMs();
      if (now >= e.expiresAt) {
        this.cache.delete(ip);
        this.dynamicCount--;
        return undefined;
      }
      e.usedAt = ++this.useTick;
      // An entry in use near the end of its life is re-validated by a unicast request (as Linux
      // does), so a busy flow never stalls on a fresh broadcast resolution.
      if (now >= e.expiresAt - this.refreshWindow && now - e.refreshedAt >= this.opt.requestIntervalMs) {
        e.refreshedAt = now;
        this.counters.add("refresh");
        this.send(ARP_REQUEST, e.mac, this.sourceFor(ip), ZERO_MAC, ip);
      }
    }
    return e.mac;
  }

  /**
   * Sends `packet` (owned by the ARP layer from now on) to `ip` once resolved; dropped and
   * counted if the queue is full or resolution times out. `offload` (copied) travels with it to
   * the device, so a 64 KB segment waits as one packet, not as the 45 it will become.
   */
  sendWhenResolved(ip: number, ethertype: number, packet: Uint8Array, offload?: TxOffload): void {
    const mac = this.lookup(ip);
    if (mac) {
      this.ethernet.write(mac, ethertype, (buf) => (buf.set(packet), packet.length), offload);
      return;
    }
    const p = this.startResolution(ip);
    if (!p) return this.counters.add("pending-full");
    if (p.queue.length >= this.opt.queueLimit) return this.counters.add("queue-full");
    p.queue.push({ ethertype, packet, offload: offload && { ...offload } });
  }

  /** Whether `ip` is one this layer answers for. */
  isOurs(ip: number): boolean {
    return this.ips.includes(ip);
  }

  /**
   * RFC 5227 probe: resolves true if nobody else uses `ip` (no reply and no competing probe
   * during PROBE_NUM probes), false on a conflict.
   */
  probe(ip: string): Promise<boolean> {
    const n = this.addr(ip);
    const state: Probe = { conflict: false };
    this.probing.set(n, state);
    const o = this.opt;
    return new Promise((resolve) => {
      let sent = 0;
      const step = () => {
        this.announceTimers.delete(cancel);
        if (state.conflict || this.closed) return done();
        if (sent === o.probes) return done();
        sent++;
        // A probe: sender address 0.0.0.0 so no cache is polluted if the address is taken.
        this.send(ARP_REQUEST, BROADCAST_MAC, 0, ZERO_MAC, n);
        const wait = sent === o.probes ? o.probeMaxMs : o.probeMinMs + o.randomInt(Math.max(1, o.probeMaxMs - o.probeMinMs));
        cancel = this.clock.setTimer(wait, step);
        this.announceTimers.add(cancel);
      };
      const done = () => {
        this.probing.delete(n);
        resolve(!state.conflict);
      };
      let cancel = this.clock.setTimer(o.randomInt(Math.max(1, o.probeWaitMs)), step);
      this.announceTimers.add(cancel);
    });
  }

  cacheSize(): number {
    return this.cache.size;
  }

  // ---- input ----------------------------------------------------------------------------------
  input(payload: Uint8Array): void {
    const r = parseArp(payload);
    if (r instanceof WireError) return this.counters.add(r.reason);
    const { senderIp, senderMac, targetIp } = r;
    if (macEquals(senderMac, this.ethernet.mac)) return; // our own broadcast echoed back
    const probe = this.probing.get(senderIp === 0 ? targetIp : senderIp);
    if (probe && (senderIp !== 0 || r.op === ARP_REQUEST)) {
      probe.conflict = true;
      this.counters.add("probe-conflict");
      log.warn(`address ${formatIpv4Address(senderIp || targetIp)} is in use by ${formatMac(senderMac)}`);
    }
    if (senderIp !== 0 && this.isOurs(senderIp)) {
      this.counters.add("address-conflict");
      // Defend at most once per DEFEND_INTERVAL (10 s), so two hosts cannot ping-pong forever.
      const now = this.clock.nowMs();
      if (now - this.lastDefence >= 10_000) {
        this.lastDefence = now;
        log.warn(`${formatMac(senderMac)} claims our address ${formatIpv4Address(senderIp)}; announcing ours again`);
        this.send(ARP_REQUEST, BROADCAST_MAC, senderIp, ZERO_MAC, senderIp);
      }
      return;
    }
    const forUs = this.isOurs(targetIp);
    // RFC 826 merge: refresh a known sender; learn a new one only if the packet is for us.
    if (senderIp !== 0 && (forUs || this.cache.has(senderIp) || this.pending.has(senderIp))) this.learn(senderIp, senderMac);
    if (r.op === ARP_REQUEST && forUs) this.send(ARP_REPLY, senderMac, targetIp, senderMac, senderIp);
  }

  // ---- internals ------------------------------------------------------------------------------
  private addr(ip: string): number {
    const n = ipv4Number(ip);
    if (n === null) throw new IpError("invalid-address", `ARP: '${ip}' is not an IPv4 address (expected a dotted quad like 192.0.2.1)`);
    return n;
  }

  private send(op: number, dstMac: MacAddr, senderIp: number, targetMac: MacAddr, targetIp: number): void {
    if (this.closed) return;
    const r = this.txRepr;
    r.op = op;
    r.senderIp = senderIp;
    r.targetMac = targetMac;
    r.targetIp = targetIp;
    try {
      this.ethernet.write(dstMac, ETHERTYPE_ARP, (buf) => emitArp(r, buf));
    } catch (e) {
      this.counters.add("send-failed");
      log.debug(() => `ARP send failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private learn(ip: number, mac: MacAddr): void {
    const old = this.cache.get(ip);
    if (old?.isStatic) return;
    if (old) {
      old.mac = mac.slice(0, 6);
      old.expiresAt = this.clock.nowMs() + this.opt.entryTimeoutMs;
      old.usedAt = ++this.useTick;
    } else {
      if (this.dynamicCount >= this.opt.cacheSize) this.evictOne();
      this.cache.set(ip, { mac: mac.slice(0, 6), expiresAt: this.clock.nowMs() + this.opt.entryTimeoutMs, isStatic: false, usedAt: ++this.useTick, refreshedAt: 0 });
      this.dynamicCount++;
    }
    this.resolved(ip, mac);
  }

  private evictOne(): void {
    let victim: number | undefined;
    let oldest = Infinity;
    for (const [ip, e] of this.cache) {
      if (!e.isStatic && e.usedAt < oldest) {
        oldest = e.usedAt;
        victim = ip;
      }
    }
    if (victim !== undefined) {
      this.cache.delete(victim);
      this.dynamicCount--;
      this.counters.add("evicted");
    }
  }

  private resolved(ip: number, mac: MacAddr): void {
    const p = this.pending.get(ip);
    if (!p) return;
    this.pending.delete(ip);
    p.cancel();
    const m = mac.slice(0, 6);
    for (const q of p.queue) {
      try {
        this.ethernet.write(m, q.ethertype, (buf) => (buf.set(q.packet), q.packet.length), q.offload);
      } catch (e) {
        this.counters.add("send-failed");
      }
    }
    for (const w of p.waiters) w.resolve(m);
  }

  private startResolution(ip: number): Pending | null {
    let p = this.pending.get(ip);
    if (p) return p;
    if (this.closed || this.pending.size >= this.opt.pendingLimit) return null;
    const entry: Pending = { queue: [], waiters: [], sent: 0, cancel: () => {} };
    p = entry;
    this.pending.set(ip, entry);
    const tick = () => {
      if (this.pending.get(ip) !== entry) return;
      if (entry.sent >= this.opt.requests) return this.fail(ip, entry, `no ARP reply from ${formatIpv4Address(ip)} after ${entry.sent} requests`);
      entry.sent++;
      this.send(ARP_REQUEST, BROADCAST_MAC, this.sourceFor(ip), ZERO_MAC, ip);
      entry.cancel = this.clock.setTimer(this.opt.requestIntervalMs, tick);
    };
    tick();
    return entry;
  }

  /** The sender address of our requests: one of ours, preferring the same subnet is left to IPv4. */
  private sourceFor(_target: number): number {
    return this.ips[0] ?? 0;
  }

  private fail(ip: number, p: Pending, why: string): void {
    this.pending.delete(ip);
    p.cancel();
    if (p.queue.length) this.counters.add("resolution-timeout", p.queue.length);
    const err = new ArpError("timeout", `${why}; is the host up and on this link?`);
    for (const w of p.waiters) w.reject(err);
  }

  private announce(ip: number): void {
    // RFC 5227 announcements: ARP requests with sender and target both set to our address.
    let left = this.opt.announcements;
    const step = () => {
      this.announceTimers.delete(cancel);
      if (!this.isOurs(ip) || left <= 0) return;
      left--;
      this.send(ARP_REQUEST, BROADCAST_MAC, ip, ZERO_MAC, ip);
      if (left > 0) {
        cancel = this.clock.setTimer(this.opt.announceIntervalMs, step);
        this.announceTimers.add(cancel);
      }
    };
    let cancel = () => {};
    step();
  }
}
