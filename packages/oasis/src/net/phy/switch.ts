// An in-memory Ethernet switch: many Net ports in one process (MirageOS's vnetif). A frame written
// on a port is copied, queued, and delivered later (never inside the sender's write) to the port
// whose MAC matches, or to every other port for broadcast/multicast. Promiscuous ports see every
// frame; attached uplinks (any Net, e.g. a TAP) receive unknown unicast and bridge it out.
import { NetError } from "../../devices/errors.ts";
import type { MacAddr, Net, NetStats } from "../../devices/net.ts";
import { source } from "oasis/logs";
import { macToString, randomMac, sameMac, toMac } from "./mac.ts";

const log = source("net.switch", "in-memory Ethernet switch");

export interface SwitchOptions {
  /** MTU of every port unless a port says otherwise (default 1500). */
  mtu?: number;
  /** Frames waiting for delivery across the whole switch; beyond it writes are dropped (default 4096). */
  queueLimit?: number;
  /**
   * When queued frames are delivered: "macrotask" (default; setImmediate, so timers and I/O run
   * between batches and a chatty protocol cannot starve the event loop) or "microtask".
   */
  schedule?: "macrotask" | "microtask";
}

export interface PortOptions {
  /** Six bytes or "02:00:00:00:00:01"; a random locally administered address when absent. */
  mac?: MacAddr | string;
  mtu?: number;
  /** Receive every frame on the switch, whatever its destination (like a sniffer). */
  promiscuous?: boolean;
  /** A name for logs and errors (default "portN"). */
  name?: string;
}

export interface SwitchStats {
  /** Frames accepted from ports and uplinks. */
  frames: number;
  /** Copies handed to receivers. */
  deliveries: number;
  /** Unicast frames no port or uplink could take. */
  unknownDestination: number;
  /** Writes refused because the delivery queue was full. */
  queueFull: number;
  /** Exceptions thrown by listen handlers (logged at error level, then ignored). */
  handlerErrors: number;
}

/** A switch port: a Net with a stable id and name. */
export interface SwitchPort extends Net {
  readonly id: number;
  readonly name: string;
}

interface Endpoint {
  id: number;
  name: string;
  mac: MacAddr | null;
  promiscuous: boolean;
  uplink: boolean;
  connected: boolean;
  deliver(frame: Uint8Array): void;
}

interface Pending {
  from: Endpoint;
  frame: Uint8Array;
}

function emptyStats(): NetStats {
  return { rxBytes: 0, rxPackets: 0, txBytes: 0, txPackets: 0, rxDropped: 0, txDropped: 0 };
}

export class MemorySwitch {
  private readonly endpoints: Endpoint[] = [];
  private queue: Pending[] = [];
  private scheduled = false;
  private nextId = 1;
  private readonly mtu: number;
  private readonly queueLimit: number;
  private readonly schedule: (fn: () => void) => void;
  private readonly counters: SwitchStats = { frames: 0, deliveries: 0, unknownDestination: 0, queueFull: 0, handlerErrors: 0 };

  constructor(options: SwitchOptions = {}) {
    this.mtu = options.mtu ?? 1500;
    this.queueLimit = options.queueLimit ?? 4096;
    if (!(Number.isInteger(this.mtu) && this.mtu >= 46)) throw new RangeError(`MemorySwitch: mtu must be an integer ≥ 46, got ${options.mtu}`);
    if (!(Number.isInteger(this.queueLimit) && this.queueLimit > 0)) throw new RangeError(`MemorySwitch: queueLimit must be a positive integer, got ${options.queueLimit}`);
    const immediate = globalThis.setImmediate as ((fn: () => void) => unknown) | undefined;
    this.schedule = options.schedule === "microtask" || !immediate ? queueMicrotask : (fn) => void immediate(fn);
  }

  /** Adds a port. Its `disconnect` removes it from the switch. */
  port(options: PortOptions = {}): SwitchPort {
    const id = this.nextId++;
    const name = options.name ?? `port${id}`;
    const mac = options.mac === undefined ? randomMac() : toMac(options.mac, `switch port ${name}`);
    const mtu = options.mtu ?? this.mtu;
    const stats = emptyStats();
    let handler: ((frame: Uint8Array) => void) | null = null;
    const endpoint: Endpoint = {
      id,
      name,
      mac,
      promiscuous: options.promiscuous ?? false,
      uplink: false,
      connected: true,
      deliver: (frame) => {
        if (!handler) {
          stats.rxDropped++;
          return;
        }
        stats.rxPackets++;
        stats.rxBytes += frame.length;
        try {
          handler(frame);
        } catch (e) {
          this.counters.handlerErrors++;
          log.error(() => `listener of ${name} (${macToString(mac)}) threw: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
        }
      },
    };
    this.endpoints.push(endpoint);
    const sw = this;
    return {
      id,
      name,
      mac,
      mtu,
      write(frame: Uint8Array): void {
        if (!endpoint.connected) throw new NetError("disconnected", `switch port ${name} is disconnected; frames can no longer be written to it`);
        if (frame.length < 14 || frame.length > mtu + 14) {
          throw new NetError("invalid-length", `switch port ${name}: a frame must be 14..${mtu + 14} bytes (Ethernet header + MTU ${mtu}), got ${frame.length}`);
        }
        if (sw.enqueue(endpoint, frame)) {
          stats.txPackets++;
          stats.txBytes += frame.length;
        } else stats.txDropped++;
      },
      listen(h: (frame: Uint8Array) => void): void {
        handler = h;
      },
      stats: () => ({ ...stats }),
      resetStats: () => void Object.assign(stats, emptyStats()),
      async disconnect(): Promise<void> {
        endpoint.connected = false;
        handler = null;
        sw.remove(endpoint);
      },
    };
  }

  /**
   * Bridges an external Net into the switch: frames it receives enter the switch; frames for MACs
   * no port owns (and broadcast/multicast) leave through it. Returns a function that detaches it
   * (the Net itself is not disconnected).
   */
  attach(net: Net, name = "uplink"): () => void {
    const endpoint: Endpoint = {
      id: this.nextId++,
      name,
      mac: null,
      promiscuous: false,
      uplink: true,
      connected: true,
      deliver: (frame) => {
        try {
          net.write(frame);
        } catch (e) {
          // An oversize frame for the uplink or a disconnected uplink: the frame is lost, as on a wire.
          log.debug(() => `uplink ${name} refused a ${frame.length}-byte frame: ${e instanceof Error ? e.message : String(e)}`);
        }
      },
    };
    this.endpoints.push(endpoint);
    net.listen((frame) => {
      if (endpoint.connected) this.enqueue(endpoint, frame);
    });
    return () => {
      endpoint.connected = false;
      net.listen(() => {});
      this.remove(endpoint);
    };
  }

  stats(): SwitchStats {
    return { ...this.counters };
  }

  /** Connected ports and uplinks. */
  get size(): number {
    return this.endpoints.length;
  }

  /** Resolves once every frame queued so far (and any replies they caused, up to `rounds`) has been delivered. */
  async settle(rounds = 100): Promise<void> {
    for (let i = 0; i < rounds && (this.queue.length > 0 || this.scheduled); i++) {
      await new Promise<void>((resolve) => this.schedule(resolve));
    }
  }

  private remove(endpoint: Endpoint): void {
    const i = this.endpoints.indexOf(endpoint);
    if (i >= 0) this.endpoints.splice(i, 1);
  }

  private enqueue(from: Endpoint, frame: Uint8Array): boolean {
    if (this.queue.length >= this.queueLimit) {
      this.counters.queueFull++;
      return false;
    }
    this.counters.frames++;
    this.queue.push({ from, frame: frame.slice() });
    if (!this.scheduled) {
      this.scheduled = true;
      this.schedule(() => this.flush());
    }
    return true;
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    const targets: Endpoint[] = [];
    for (const { from, frame } of batch) {
      if (!from.connected) continue;
      targets.length = 0;
      const group = (frame[0]! & 1) === 1;
      // A frame to the sender's own MAC has a known owner: a switch filters it, it is not flooded.
      let owner = !group && from.mac !== null && sameMac(frame, 0, from.mac);
      for (const e of this.endpoints) {
        if (e === from || !e.connected) continue;
        const mine = !group && e.mac !== null && sameMac(frame, 0, e.mac);
        if (mine) owner = true;
        if (group || mine || e.promiscuous) targets.push(e);
      }
      if (!group && !owner) {
        let viaUplink = false;
        for (const e of this.endpoints) {
          if (e.uplink && e !== from && e.connected) {
            targets.push(e);
            viaUplink = true;
          }
        }
        if (!viaUplink) this.counters.unknownDestination++;
      }
      // Each receiver gets its own bytes: a stack may rewrite a received frame in place.
      for (let i = 0; i < targets.length; i++) {
        this.counters.deliveries++;
        targets[i]!.deliver(i === targets.length - 1 ? frame : frame.slice());
      }
    }
  }
}
