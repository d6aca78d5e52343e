// `ipv4OfDhcp` in the DSL: an IPv4 layer whose address comes from a DHCP lease.
import type { Ethernet } from "../../devices/ethernet.ts";
import type { Net } from "../../devices/net.ts";
import type { Ipv4 } from "../../devices/ip.ts";
import { source } from "oasis/logs";
import { runtimeArg } from "../../runtime/args.ts";
import { argName, defineDevice } from "../../runtime/device.ts";
import { atExit } from "../../runtime/hooks.ts";
import { ArpLayer } from "../arp/arp.ts";
import { Ipv4Layer } from "../ipv4/ipv4.ts";
import { DhcpClient } from "./client.ts";

const log = source("dhcp");

export const dhcpIpv4Device = defineDevice({
  declare(_options: Record<string, never>, ctx) {
    const hostname = runtimeArg.string({
      name: argName(ctx, "dhcp-hostname"),
      doc: "Host name sent to the DHCP server (option 12)",
      docv: "NAME",
      section: "network",
    });
    const probe = runtimeArg.bool({
      name: argName(ctx, "dhcp-probe"),
      doc: "Check with ARP probes (RFC 5227) that the offered address is free before using it; adds a few seconds",
      section: "network",
    });
    return async ({ net, ethernet, arp }: { net: Net; ethernet: Ethernet; arp: unknown }): Promise<Ipv4> => {
      if (!(arp instanceof ArpLayer)) throw new Error("the DHCP IPv4 device needs Oasis's ARP layer (arpDevice) as its 'arp' dependency");
      const ipv4 = new Ipv4Layer(ethernet, arp);
      const client = new DhcpClient(ipv4, net.mac, { hostname: hostname(), probe: probe() ? (a) => arp.probe(a) : undefined });
      log.info("waiting for a DHCP lease");
      const lease = await client.start();
      log.info(`configured from DHCP: ${lease.address}/${lease.prefixLength}`);
      atExit(() => client.release());
      return ipv4;
    };
  },
});
