// The DNS client as a device of the generated main (Mirage's generic_dns_client): runtime
// arguments --dns-servers, --dns-timeout and --dns-cache-size (prefixed by the device's group).
import { source } from "oasis/logs";
import { runtimeArg } from "../../runtime/args.ts";
import { atExit } from "../../runtime/hooks.ts";
import { argName, defineDevice } from "../../runtime/device.ts";
import type { Stack } from "../../devices/stack.ts";
import { DnsClient } from "./client.ts";
import { formatNameserver, parseNameservers, type Nameserver } from "./nameserver.ts";

const log = source("dns", "DNS client");

export interface DnsClientDeviceOptions {
  /** Default servers from config.ts ("udp:192.0.2.1,tcp:192.0.2.1:53" or a list); --dns-servers overrides them. */
  nameservers?: string | readonly string[] | null;
}

export const dnsClientDevice = defineDevice<DnsClientDeviceOptions, { stack: Stack }, DnsClient>({
  declare(options, context) {
    const serversName = argName(context, "dns-servers");
    let defaults: Nameserver[] | undefined;
    const configured = options.nameservers;
    if (configured != null && configured.length > 0) {
      const text = typeof configured === "string" ? configured : configured.join(",");
      try {
        defaults = parseNameservers(text);
      } catch (e) {
        throw new Error(`DNS client '${context.name}': the nameservers given in config.ts are invalid: ${(e as Error).message}`);
      }
    }
    const servers = runtimeArg.custom<Nameserver[]>({
      name: serversName,
      section: "network",
      docv: "SERVERS",
      doc: "Recursive DNS servers to ask, in order (comma-separated; udp: falls back to TCP for long answers)",
      expected: "a list like udp:192.0.2.1,tcp:192.0.2.1:53 (IPv6 with a port in brackets: udp:[2001:db8::1]:53)",
      parse: parseNameservers,
      format: (list) => list.map(formatNameserver).join(","),
      ...(defaults ? { default: defaults } : {}),
    });
    const timeout = runtimeArg.int({ name: argName(context, "dns-timeout"), section: "network", docv: "MS", doc: "How long to wait for one server to answer one query, in milliseconds", default: 2000, min: 1 });
    const cacheSize = runtimeArg.int({ name: argName(context, "dns-cache-size"), section: "network", docv: "N", doc: "DNS answers kept in the cache (0 disables it)", default: 32, min: 0 });
    return async ({ stack }) => {
      const nameservers = servers();
      if (!nameservers || nameservers.length === 0) {
        throw new Error(`no DNS server configured: pass --${serversName}=udp:IP (e.g. udp:192.0.2.1), or give nameservers to genericDnsClient in config.ts`);
      }
      const client = new DnsClient(stack, { nameservers, timeoutMs: timeout(), cacheSize: cacheSize() });
      atExit(() => {
        const counts = client.counters.snapshot();
        const report = Object.entries(counts).map(([k, v]) => `${k}=${v}`).join(" ");
        // Dropped or failed answers are worth a line; cache hits and TCP retries alone are not.
        const notable = Object.keys(counts).some((k) => k !== "cache-hit" && k !== "truncated-retry-tcp");
        if (notable) log.info(`counters: ${report}`);
        else if (report) log.debug(`counters: ${report}`);
      });
      return client;
    };
  },
});
