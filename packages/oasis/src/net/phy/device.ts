// The `netif(name)` device of the DSL on unix: a TAP, optionally recorded to a pcap file.
import { source } from "oasis/logs";
import type { Net } from "../../devices/net.ts";
import { runtimeArg } from "../../runtime/args.ts";
import { argName, defineDevice } from "../../runtime/device.ts";
import { atExit } from "../../runtime/hooks.ts";
import { fieldName, metricsSource } from "../../metrics/registry.ts";
import { macToString } from "./mac.ts";
import { pcapFileSink, withPcap } from "./pcap.ts";
import { openTap } from "./tap.ts";
import { tracingEnabled, withTracer } from "./tracer.ts";

const log = source("net.tap", "TAP network interfaces");

// Flags are shared by every device of the same group, so among ungrouped TAPs only the first
// reads --interface and --pcap; the others keep the names config.ts gave them.
const ungroupedOwner = new Map<string, string>();

/**
 * `netif("tap0")`: --[GROUP-]interface=NAME picks another TAP at boot, --[GROUP-]pcap=FILE records
 * its traffic, --[GROUP-]offload=false turns the TAP offloads off, and `-l net.trace:debug` logs
 * every frame.
 */
export const tapDevice = defineDevice({
  declare(options: { name: string }, ctx) {
    const owner = ctx.group ? undefined : (ungroupedOwner.get("") ?? (ungroupedOwner.set("", options.name), options.name));
    const readsFlags = ctx.group !== "" || owner === options.name;
    const iface = readsFlags
      ? runtimeArg.string({
          name: argName(ctx, "interface"),
          doc: `TAP interface to attach to${ctx.group ? "" : " (the first network device without a group; give others a group to set theirs)"}`,
          docv: "NAME",
          default: options.name,
          section: "network",
        })
      : () => options.name;
    const pcap = readsFlags
      ? runtimeArg.string({
          name: argName(ctx, "pcap"),
          doc: "Record every Ethernet frame sent and received on this interface to FILE (libpcap format, for tshark or Wireshark)",
          docv: "FILE",
          section: "network",
        })
      : () => undefined;
    const offload = readsFlags
      ? runtimeArg.bool({
          name: argName(ctx, "offload"),
          doc: "Exchange TCP segments of up to 64 KB with the kernel and leave checksums to it (TAP offloads, as a virtio-net guest does); --offload=false sends and receives MTU-sized frames only",
          default: true,
          section: "network",
        })
      : () => true;
    return async (): Promise<Net> => {
      const name = iface();
      const file = pcap();
      // The file first: a bad --pcap must fail before the TAP is taken.
      const sink = file ? pcapFileSink(file) : null;
      const tap = openTap(name, { offload: offload() });
      log.info(`${tap.name}: attached, MAC ${macToString(tap.mac)}, MTU ${tap.mtu}${tap.offload ? ", offloads on" : ""}`);
      let net: Net = sink ? withPcap(tap, sink) : tap;
      if (file) log.info(`${tap.name}: recording frames to ${file}`);
      // Decided once at boot: without -l net.trace:debug the frames pay nothing for tracing.
      if (tracingEnabled()) net = withTracer(net, tap.name);
      atExit(() => net.disconnect());
      // Read only when metrics are collected; removed (newest hook first) before the TAP closes.
      const metrics = metricsSource("net", {
        doc: "TAP interface counters: frames and bytes each way, drops, transmit queue",
        tags: { interface: tap.name },
        collect: () => Object.fromEntries(Object.entries(tap.stats()).map(([k, v]) => [fieldName(k), v])),
      });
      atExit(() => metrics.remove());
      return net;
    };
  },
});
