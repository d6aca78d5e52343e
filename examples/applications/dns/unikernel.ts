import type { DnsClient } from "oasis/dns";
import { DnsError } from "oasis/dns";
import { runtimeArg } from "oasis/runtime";
import { source } from "oasis/logs";

const log = source("dns-example", "resolves --domain-name");

const domainName = runtimeArg.string({ name: "domain-name", docv: "NAME", doc: "The domain name to resolve", default: "robur.coop" });

// Resolves the name to its IPv4 and IPv6 addresses (as Mirage's applications/dns does) and logs
// them; a failed lookup is logged with its reason and makes the unikernel exit with status 1.
export async function start({ dns }: { dns: DnsClient }): Promise<void> {
  const name = domainName();
  let found = 0;
  let lastError: DnsError | null = null;
  for (const [family, lookup] of [
    ["IPv4", (n: string) => dns.getHostByName(n)],
    ["IPv6", (n: string) => dns.getHostByName6(n)],
  ] as const) {
    try {
      const addresses = await lookup(name);
      found += addresses.length;
      log.info(`${name} has ${family} address${addresses.length === 1 ? "" : "es"} ${addresses.join(", ")}`);
    } catch (e) {
      if (!(e instanceof DnsError)) throw e;
      lastError = e;
      const level = e.code === "nodata" ? "info" : "warn";
      log[level](`${name} (${family}): ${e.message}`);
    }
  }
  if (found === 0) throw new Error(`could not resolve ${name}: ${lastError?.message ?? "no address"}`);
}
