// The neighbour cache of RFC 4861 §7.3: INCOMPLETE → REACHABLE → STALE → DELAY → PROBE, with
// address resolution by multicast solicitation, unreachability detection by unicast probes,
// a bounded table (least recently used resolved entry evicted first) and a bounded queue of
// packets per address being resolved.
import type { MacAddr, TxOffload } from "../../devices/net.ts";
import { formatMac, macEquals } from "../wire/address.ts";
import { Counters } from "../wire/error.ts";
import { ipv6Text } from "../wire/ipv6.ts";
import type { Clock } from "../stack/clock.ts";

export type NeighbourState = "incomplete" | "reachable" | "stale" | "delay" | "probe";

export interface NeighbourOptions {
  /** Entries kept (default 512). */
  cacheSize?: number;
  /** Packets waiting per address being resolved (default 16). */
  queueLimit?: number;
  /** MAX_MULTICAST_SOLICIT (default 3). */
  multicastSolicits?: number;
  /** MAX_UNICAST_SOLICIT (default 3). */
  unicastSolicits?: number;
  /** DELAY_FIRST_PROBE_TIME (default 5 s). */
  delayFirstProbeMs?: number;
}

/** What the cache needs from the IPv6 layer. */
export interface NeighbourLink {
  /** Sends a neighbour solicitation for `target`: multicast when `mac` is null, else unicast to it. */
  solicit(target: Uint8Array, mac: MacAddr | null): void;
  /** Sends a complete IPv6 packet in a frame to `mac`, with the device offload requested for it. */
  transmit(mac: MacAddr, packet: Uint8Array, offload?: TxOffload): void;
  /** Current ReachableTime and RetransTimer (they change with router advertisements). */
  reachableTimeMs(): number;
  retransTimerMs(): number;
}

interface Neighbour {
  address: Uint8Array;
  state: NeighbourState;
  mac: MacAddr | null;
  isRouter: boolean;
  /** REACHABLE until then (then STALE, checked lazily). */
  reachableUntil: number;
  solicits: number;
  cancel: () => void;
  queue: Array<{ packet: Uint8Array; offload: TxOffload | undefined }>;
}

export interface NeighbourEntry {
  address: string;
  state: NeighbourState;
  mac: string | null;
  isRouter: boolean;
}

const NO_TIMER = () => {};

export class NeighbourCache {
  private readonly entries = new Map<string, Neighbour>();
  private readonly opt: Required<NeighbourOptions>;

  constructor(
    private readonly clock: Clock,
    private readonly counters: Counters,
    private readonly link: NeighbourLink,
    options: NeighbourOptions = {},
  ) {
    this.opt = {
      cacheSize: options.cacheSize ?? 512,
      queueLimit: options.queueLimit ?? 16,
      multicastSolicits: options.multicastSolicits ?? 3,
      unicastSolicits: options.unicastSolicits ?? 3,
      delayFirstProbeMs: options.delayFirstProbeMs ?? 5000,
    };
    if (!(this.opt.cacheSize >= 1)) throw new RangeError(`neighbour cacheSize must be at least 1, got ${this.opt.cacheSize}`);
  }

  /** The entry's state now (REACHABLE entries past their time read as STALE). */
  state(address: Uint8Array): NeighbourState | undefined {
    const n = this.entries.get(key(address));
    return n && this.current(n);
  }

  snapshot(): NeighbourEntry[] {
    return [...this.entries.values()].map((n) => ({ address: ipv6Text(n.address), state: this.current(n), mac: n.mac && formatMac(n.mac), isRouter: n.isRouter }));
  }

  /**
   * The link address to send to `address` now, if known; using a STALE entry starts NUD
   * (STALE → DELAY). Undefined: call `enqueue`.
   */
  lookupForSend(address: Uint8Array): MacAddr | undefined {
    const k = key(address);
    const n = this.entries.get(k);
    if (n === undefined || n.mac === null) return undefined;
    this.touch(k, n);
    if (this.current(n) === "stale") {
      n.state = "delay";
      this.setTimer(n, this.opt.delayFirstProbeMs, () => this.startProbe(n));
    }
    return n.mac;
  }

  /**
   * Queues `packet` (owned by the cache from now on) until `address` resolves; `offload`
   * (copied) goes with it to the device.
   */
  enqueue(address: Uint8Array, packet: Uint8Array, offload?: TxOffload): void {
    const k = key(address);
    let n = this.entries.get(k);
    if (n !== undefined && n.mac !== null) {
      this.lookupForSend(address);
      this.link.transmit(n.mac, packet, offload);
      return;
    }
    if (n === undefined) {
      n = this.create(k, address, "incomplete", null);
      if (n === undefined) return this.counters.add("neighbour-cache-full");
      n.solicits = 1;
      this.link.solicit(address, null);
      this.setTimer(n, this.link.retransTimerMs(), () => this.retryResolution(n!));
    }
    if (n.queue.length >= this.opt.queueLimit) {
      n.queue.shift();
      this.counters.add("neighbour-queue-full");
    }
    n.queue.push({ packet, offload: offload && { ...offload } });
  }

  /**
   * A solicitation, router solicitation or advertisement with a source link-layer address
   * (RFC 4861 §7.2.3, §6.3.4): creates or refreshes the entry as STALE when the address is new.
   */
  learn(address: Uint8Array, mac: MacAddr, options: { isRouter?: boolean } = {}): void {
    const k = key(address);
    const n = this.entries.get(k);
    if (n === undefined) {
      const created = this.create(k, address, "stale", mac);
      if (created && options.isRouter) created.isRouter = true;
      return;
    }
    if (options.isRouter !== undefined) n.isRouter = options.isRouter;
    if (n.mac === null) {
      n.mac = mac.slice(0, 6);
      n.state = "stale";
      this.stopTimer(n);
      this.flush(n);
    } else if (!macEquals(n.mac, mac)) {
      n.mac = mac.slice(0, 6);
      n.state = "stale";
      this.stopTimer(n);
    }
  }

  /** A neighbour advertisement for `target` (RFC 4861 §7.2.5). */
  advertised(target: Uint8Array, mac: MacAddr | undefined, flags: { solicited: boolean; override: boolean; router: boolean }): void {
    const n = this.entries.get(key(target));
    if (n === undefined) return; // unsolicited news about a stranger: no entry is created
    if (n.mac === null) {
      if (mac === undefined) return this.counters.add("na-without-link-address");
      n.mac = mac.slice(0, 6);
      n.isRouter = flags.router;
      if (flags.solicited) this.reachable(n);
      else {
        n.state = "stale";
        this.stopTimer(n);
      }
      return this.flush(n);
    }
    const differs = mac !== undefined && !macEquals(n.mac, mac);
    if (!flags.override && differs) {
      // Keep the address we have; a REACHABLE entry only becomes suspect.
      if (this.current(n) === "reachable") {
        n.state = "stale";
        this.stopTimer(n);
      }
      return;
    }
    if (mac !== undefined && differs) n.mac = mac.slice(0, 6);
    n.isRouter = flags.router;
    if (flags.solicited) this.reachable(n);
    else if (differs) {
      n.state = "stale";
      this.stopTimer(n);
    }
  }

  /** Forward progress from above (e.g. TCP acknowledgements): the neighbour is reachable. */
  confirm(address: Uint8Array): void {
    const n = this.entries.get(key(address));
    if (n !== undefined && n.mac !== null) this.reachable(n);
  }

  isRouter(address: Uint8Array): boolean {
    return this.entries.get(key(address))?.isRouter ?? false;
  }

  remove(address: Uint8Array): void {
    const n = this.entries.get(key(address));
    if (n) this.delete(n, false);
  }

  clear(): void {
    for (const n of [...this.entries.values()]) this.delete(n, false);
  }

  // ---- internals ------------------------------------------------------------------------------
  private current(n: Neighbour): NeighbourState {
    if (n.state === "reachable" && this.clock.nowMs() >= n.reachableUntil) n.state = "stale";
    return n.state;
  }

  private reachable(n: Neighbour): void {
    n.state = "reachable";
    n.reachableUntil = this.clock.nowMs() + this.link.reachableTimeMs();
    this.stopTimer(n);
  }

  private startProbe(n: Neighbour): void {
    if (n.state !== "delay") return;
    n.state = "probe";
    n.solicits = 1;
    this.link.solicit(n.address, n.mac);
    this.setTimer(n, this.link.retransTimerMs(), () => this.retryProbe(n));
  }

  private retryProbe(n: Neighbour): void {
    if (n.state !== "probe") return;
    if (n.solicits >= this.opt.unicastSolicits) {
      this.counters.add("neighbour-unreachable");
      return this.delete(n, true);
    }
    n.solicits++;
    this.link.solicit(n.address, n.mac);
    this.setTimer(n, this.link.retransTimerMs(), () => this.retryProbe(n));
  }

  private retryResolution(n: Neighbour): void {
    if (n.state !== "incomplete") return;
    if (n.solicits >= this.opt.multicastSolicits) {
      this.counters.add("resolution-failed");
      return this.delete(n, true);
    }
    n.solicits++;
    this.link.solicit(n.address, null);
    this.setTimer(n, this.link.retransTimerMs(), () => this.retryResolution(n));
  }

  private flush(n: Neighbour): void {
    const q = n.queue;
    n.queue = [];
    for (const p of q) this.link.transmit(n.mac!, p.packet, p.offload);
  }

  private create(k: string, address: Uint8Array, state: NeighbourState, mac: MacAddr | null): Neighbour | undefined {
    if (this.entries.size >= this.opt.cacheSize) {
      // Evict the least recently used resolved entry; pending resolutions are kept.
      let victim: Neighbour | undefined;
      for (const e of this.entries.values()) {
        if (e.state !== "incomplete") {
          victim = e;
          break;
        }
      }
      if (victim === undefined) return undefined;
      this.delete(victim, false);
      this.counters.add("neighbour-evicted");
    }
    const n: Neighbour = { address: address.slice(0, 16), state, mac: mac && mac.slice(0, 6), isRouter: false, reachableUntil: 0, solicits: 0, cancel: NO_TIMER, queue: [] };
    this.entries.set(k, n);
    return n;
  }

  private touch(k: string, n: Neighbour): void {
    // Map order is the LRU order: move to the end.
    this.entries.delete(k);
    this.entries.set(k, n);
  }

  private delete(n: Neighbour, failed: boolean): void {
    this.stopTimer(n);
    const k = key(n.address);
    if (this.entries.get(k) === n) this.entries.delete(k);
    if (n.queue.length) {
      if (failed) this.counters.add("unresolved-dropped", n.queue.length);
      n.queue = [];
    }
  }

  private setTimer(n: Neighbour, ms: number, fn: () => void): void {
    n.cancel();
    n.cancel = this.clock.setTimer(ms, fn);
  }

  private stopTimer(n: Neighbour): void {
    n.cancel();
    n.cancel = NO_TIMER;
  }
}

function key(address: Uint8Array): string {
  let s = "";
  for (let i = 0; i < 16; i++) s += String.fromCharCode(address[i]!);
  return s;
}
