// The direct stack: Oasis's own TCP/IP over a Net (MirageOS's tcpip.stack-direct).
import type { Net } from "../../devices/net.ts";
import type { Ip } from "../../devices/ip.ts";
import type { Stack } from "../../devices/stack.ts";
import type { Tcp } from "../../devices/tcp.ts";
import type { Udp } from "../../devices/udp.ts";
import type { Ethernet } from "../../devices/ethernet.ts";
import type { Arp } from "../../devices/arp.ts";
import { EthernetLayer } from "../ethernet/ethernet.ts";
import { ArpLayer, type ArpOptions } from "../arp/arp.ts";
import { Ipv4Layer, type Ipv4Options } from "../ipv4/ipv4.ts";
import { UdpLayer } from "../udp/udp.ts";
import { Ipv4v6Layer } from "./ipv4v6.ts";
import { FlowError } from "../../devices/errors.ts";
import { Counters } from "../wire/error.ts";

export class DirectStack implements Stack {
  private stopped!: () => void;
  private readonly done = new Promise<void>((resolve) => (this.stopped = resolve));
  private closed = false;

  constructor(
    readonly net: Net,
    readonly ethernet: Ethernet,
    readonly arp: Arp,
    readonly ip: Ip,
    readonly udp: Udp,
    readonly tcp: Tcp,
  ) {}

  /**
   * Every layer's counters by layer and reason (drops of malformed input, ARP timeouts, ICMP
   * rate limiting, …), for logs and monitoring. Layers from elsewhere without counters are omitted.
   */
  counters(): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {};
    const add = (name: string, layer: unknown, field: "counters" | "drops") => {
      const c = (layer as Record<string, unknown> | null)?.[field];
      if (c instanceof Counters) out[name] = c.snapshot();
    };
    add("ethernet", this.ethernet, "drops");
    add("arp", this.arp, "counters");
    const v4 = this.ip instanceof Ipv4v6Layer ? this.ip.ipv4 : this.ip;
    add("ipv4", v4, "counters");
    add("icmpv4", (v4 as { icmp?: unknown }).icmp, "counters");
    if (this.ip instanceof Ipv4v6Layer && this.ip.ipv6) add("ipv6", this.ip.ipv6, "counters");
    add("udp", this.udp, "counters");
    return out;
  }

  /** Frames flow from the moment the layers are connected; this resolves on disconnect. */
  listen(): Promise<void> {
    return this.done;
  }

  async disconnect(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.ip.disconnect();
    await this.arp.disconnect();
    await this.ethernet.disconnect();
    await this.net.disconnect();
    this.stopped();
  }
}

/** Stands in for TCP in a stack built without one: every operation says so. */
export const noTcp: Tcp = {
  listen() {
    throw new FlowError("refused", "this stack was built without TCP");
  },
  unlisten() {},
  connect() {
    return Promise.reject(new FlowError("refused", "this stack was built without TCP"));
  },
};

export interface Ipv4StackLayers {
  ethernet: EthernetLayer;
  arp: ArpLayer;
  ipv4: Ipv4Layer;
  ip: Ipv4v6Layer;
  udp: UdpLayer;
  stack: DirectStack;
}

/** Builds Ethernet, ARP, IPv4 (+ICMP), UDP and the stack over `net` in one call (tests, tools). */
export function ipv4Stack(net: Net, options: Ipv4Options & { arp?: ArpOptions; tcp?: (ip: Ip) => Tcp } = {}): Ipv4StackLayers {
  const ethernet = new EthernetLayer(net);
  const arp = new ArpLayer(ethernet, { clock: options.clock, ...options.arp });
  const ipv4 = new Ipv4Layer(ethernet, arp, options);
  const ip = new Ipv4v6Layer(ipv4);
  const udp = new UdpLayer(ip);
  const tcp = options.tcp ? options.tcp(ip) : noTcp;
  return { ethernet, arp, ipv4, ip, udp, stack: new DirectStack(net, ethernet, arp, ip, udp, tcp) };
}
