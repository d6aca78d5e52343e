// oasis/net: Oasis's own network stack (Ethernet, ARP, IPv4, ICMPv4, UDP, DHCP client) and the
// device modules the generated main connects.
import type { Arp } from "../devices/arp.ts";
import type { Ethernet } from "../devices/ethernet.ts";
import type { Ip, Ipv4, Ipv6 } from "../devices/ip.ts";
import type { Net } from "../devices/net.ts";
import type { Stack } from "../devices/stack.ts";
import type { Tcp } from "../devices/tcp.ts";
import type { Udp } from "../devices/udp.ts";
import { runtimeArg } from "../runtime/args.ts";
import { atExit } from "../runtime/hooks.ts";
import { source } from "oasis/logs";
import { argName, defineDevice } from "../runtime/device.ts";
import { parseIpv4Address, parseIpv4Cidr } from "./wire/address.ts";
import { EthernetLayer } from "./ethernet/ethernet.ts";
import { ArpLayer } from "./arp/arp.ts";
import { Ipv4Layer } from "./ipv4/ipv4.ts";
import { UdpLayer } from "./udp/udp.ts";
import { Ipv4v6Layer } from "./stack/ipv4v6.ts";
import { DirectStack, noTcp } from "./stack/direct.ts";
import { fieldName, metricsSource } from "../metrics/registry.ts";

export { EthernetLayer } from "./ethernet/ethernet.ts";
export { ArpLayer, type ArpOptions } from "./arp/arp.ts";
export { Ipv4Layer, type Ipv4Options } from "./ipv4/ipv4.ts";
export { Reassembler, type ReassemblyOptions } from "./ipv4/reassembly.ts";
export { Icmpv4Layer, type IcmpOptions } from "./icmp/icmpv4.ts";
export { UdpLayer } from "./udp/udp.ts";
export { Ipv4v6Layer } from "./stack/ipv4v6.ts";
export { DirectStack, ipv4Stack, noTcp, type Ipv4StackLayers } from "./stack/direct.ts";
export { systemClock, ManualClock, type Clock } from "./stack/clock.ts";
export { DhcpClient, type DhcpClientOptions, type DhcpState, type Lease } from "./dhcp/client.ts";
export { dhcpIpv4Device } from "./dhcp/device.ts";
export { formatMac, parseMac, formatIpv4Address, parseIpv4Address, parseIpv4Cidr } from "./wire/address.ts";
export { Counters, WireError } from "./wire/error.ts";
export { PROTO_ICMP, PROTO_TCP, PROTO_UDP } from "../devices/ip.ts";
export { ipv6Device, Ipv6Layer, type Ipv6Options, PROTO_ICMPV6, formatIpv6Address, parseIpv6Address, parseIpv6Cidr } from "./ipv6/index.ts";

const log = source("net", "Oasis network stack");

export const ethernetDevice = defineDevice({
  declare() {
    return async ({ net }: { net: Net }): Promise<Ethernet> => new EthernetLayer(net);
  },
});

export const arpDevice = defineDevice({
  declare() {
    return async ({ ethernet }: { ethernet: Ethernet }): Promise<Arp> => new ArpLayer(ethernet);
  },
});

function checkedCidr(text: string): string {
  parseIpv4Cidr(text);
  return text;
}

function checkedAddress(text: string): string {
  if (parseIpv4Address(text) === null) throw new Error(`'${text}' is not an IPv4 address`);
  return text;
}

/** Static IPv4: --ipv4=CIDR and --ipv4-gateway=IP (under the device's group). */
export const ipv4Device = defineDevice({
  declare(options: { cidr: string | null; gateway: string | null }, ctx) {
    const cidr = runtimeArg.custom({
      name: argName(ctx, "ipv4"),
      doc: "IPv4 address and prefix of this unikernel",
      docv: "CIDR",
      section: "network",
      expected: "an IPv4 address with prefix length, like 192.0.2.2/24",
      default: options.cidr ?? "10.0.0.2/24",
      parse: checkedCidr,
      format: (v: string) => v,
    });
    const gateway = runtimeArg.custom({
      name: argName(ctx, "ipv4-gateway"),
      doc: "IPv4 default gateway (must be inside the --ipv4 network)",
      docv: "IP",
      section: "network",
      expected: "an IPv4 address like 192.0.2.1",
      ...(options.gateway ? { default: options.gateway } : {}),
      parse: checkedAddress,
      format: (v: string) => v,
    });
    return async ({ ethernet, arp }: { ethernet: Ethernet; arp: Arp }): Promise<Ipv4> => {
      if (!(arp instanceof ArpLayer)) throw new Error("the IPv4 device needs Oasis's ARP layer (arpDevice) as its 'arp' dependency");
      // RangeError from configure names the bad flag value and what is expected.
      return new Ipv4Layer(ethernet, arp, { cidr: cidr(), gateway: gateway() ?? null });
    };
  },
});

/** Both families behind one Ip; IPv6 is optional (absent: v6 destinations have no route). */
export const ipv4v6Device = defineDevice({
  declare() {
    return async ({ ipv4, ipv6 }: { ipv4: Ipv4; ipv6?: Ipv6 }): Promise<Ip> => new Ipv4v6Layer(ipv4, ipv6 ?? null);
  },
});

export const udpDevice = defineDevice({
  declare() {
    return async ({ ip }: { ip: Ip }): Promise<Udp> => new UdpLayer(ip);
  },
});

// Tags of the "tcp" metrics source: the stack's group, numbered when ungrouped stacks share it.
const stackTagsSeen = new Map<string, number>();

export const directStackDevice = defineDevice({
  declare(_options: Record<string, never>, ctx) {
    return async ({ net, ethernet, arp, ip, udp, tcp }: { net: Net; ethernet: Ethernet; arp: Arp; ip: Ip; udp: Udp; tcp?: Tcp }): Promise<Stack> => {
      const stack = new DirectStack(net, ethernet, arp, ip, udp, tcp ?? noTcp);
      const tcpMetrics = tcpMetricsCollector(tcp);
      if (tcpMetrics) {
        const base = ctx.group || "default";
        const n = (stackTagsSeen.get(base) ?? 0) + 1;
        stackTagsSeen.set(base, n);
        const metrics = metricsSource("tcp", {
          doc: "TCP counters: segments, bytes, retransmissions, connections by state, drops by reason, buffer memory",
          tags: { stack: n === 1 ? base : `${base}-${n}` },
          collect: tcpMetrics,
        });
        atExit(() => metrics.remove());
      }
      // No disconnect here: the DHCP release (registered earlier, run later) must still find the
      // link up, and the network device closes itself last. Only a report of what was dropped.
      atExit(() => {
        const counters = { ...stack.counters(), ...tcpCounters(tcp) };
        const report = Object.entries(counters)
          .filter(([, c]) => Object.keys(c).length > 0)
          .map(([layer, c]) => `${layer} ${Object.entries(c).map(([k, v]) => `${k}=${v}`).join(" ")}`);
        if (report.length) log.info(`counters: ${report.join("; ")}`);
      });
      return stack;
    };
  },
});

/**
 * The exit report's TCP line, for a Tcp with a `stats()` like oasis/tcp's: live connections by
 * state, retransmits and drops by reason (non-zero only). Any other Tcp adds nothing.
 */
function tcpCounters(tcp: Tcp | undefined): Record<string, Record<string, number>> {
  const stats = (tcp as { stats?: unknown } | undefined)?.stats;
  if (typeof stats !== "function") return {};
  const s = stats.call(tcp) as { connections?: Record<string, number>; retransmits?: number; drops?: Record<string, number> } | null;
  const out: Record<string, number> = {};
  for (const [state, n] of Object.entries(s?.connections ?? {})) if (n > 0) out[state] = n;
  if (s?.retransmits) out.retransmits = s.retransmits;
  for (const [reason, n] of Object.entries(s?.drops ?? {})) if (n > 0) out[`drop-${reason}`] = n;
  return Object.keys(out).length ? { tcp: out } : {};
}

/**
 * The "tcp" metrics of a Tcp with a `stats()` like oasis/tcp's: every numeric counter, live
 * connections as conn_<state>, drops as drop_<reason>. Null for any other Tcp.
 */
function tcpMetricsCollector(tcp: Tcp | undefined): (() => Record<string, number>) | null {
  const stats = (tcp as { stats?: unknown } | undefined)?.stats;
  if (typeof stats !== "function") return null;
  return () => {
    const s = stats.call(tcp) as Record<string, unknown>;
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(s)) {
      if (typeof v === "number") out[fieldName(k)] = v;
      else if (k === "connections" && v && typeof v === "object") {
        for (const [state, n] of Object.entries(v)) if (typeof n === "number") out[`conn_${fieldName(state)}`] = n;
      } else if (k === "drops" && v && typeof v === "object") {
        for (const [reason, n] of Object.entries(v)) if (typeof n === "number") out[`drop_${fieldName(reason)}`] = n;
      }
    }
    return out;
  };
}
