// IPv6 for the direct stack, and `createIpv6` of the DSL: a static address from --ipv6 (and
// --ipv6-gateway), a link-local address always, SLAAC and default routers from router
// advertisements unless --accept-router-advertisements=false.
import type { Ethernet } from "../../devices/ethernet.ts";
import type { Ipv6 } from "../../devices/ip.ts";
import type { Net } from "../../devices/net.ts";
import { source } from "oasis/logs";
import { runtimeArg } from "../../runtime/args.ts";
import { argName, defineDevice } from "../../runtime/device.ts";
import { parseIpv6Address, parseIpv6Cidr } from "../wire/ipv6.ts";
import { Ipv6Layer, type InterfaceIdKind } from "./ipv6.ts";

export { Ipv6Layer, type Ipv6Options, type Ipv6AddressInfo, type AddressState, type AddressOrigin, type Ipv6IcmpOptions, type InterfaceIdKind } from "./ipv6.ts";
export { stableInterfaceId, sipHash24 } from "./interface-id.ts";
export { NeighbourCache, type NeighbourOptions, type NeighbourState, type NeighbourEntry } from "./neighbours.ts";
export { Ipv6Reassembler, type Ipv6ReassemblyOptions } from "./reassembly.ts";
export { formatIpv6Address, parseIpv6Address, parseIpv6Cidr } from "../wire/ipv6.ts";
export { PROTO_ICMPV6 } from "../../devices/ip.ts";

const log = source("ipv6", "IPv6 layer");

/** How long connect waits for duplicate address detection before going on (addresses keep being tested). */
const SETTLE_TIMEOUT_MS = 5000;

function checkedCidr(text: string): string {
  parseIpv6Cidr(text);
  return text;
}

function parseSecret(text: string): Uint8Array {
  if (!/^[0-9a-f]{32}$/i.test(text)) throw new Error(`'${text}' is not 32 hexadecimal digits`);
  return Uint8Array.from({ length: 16 }, (_, i) => parseInt(text.slice(i * 2, i * 2 + 2), 16));
}

function checkedAddress(text: string): string {
  if (parseIpv6Address(text) === null) throw new Error(`'${text}' is not an IPv6 address`);
  return text;
}

export const ipv6Device = defineDevice({
  declare(options: { cidr: string | null; gateway: string | null }, ctx) {
    const cidr = runtimeArg.custom({
      name: argName(ctx, "ipv6"),
      doc: "Static IPv6 address and prefix of this unikernel (a link-local address is always configured; SLAAC adds more)",
      docv: "CIDR",
      section: "network",
      expected: "an IPv6 address with prefix length, like 2001:db8::2/64",
      ...(options.cidr ? { default: options.cidr } : {}),
      parse: checkedCidr,
      format: (v: string) => v,
    });
    const gateway = runtimeArg.custom({
      name: argName(ctx, "ipv6-gateway"),
      doc: "IPv6 default router (link-local, or inside the --ipv6 prefix); routers may also advertise themselves",
      docv: "IP",
      section: "network",
      expected: "an IPv6 address like fe80::1 or 2001:db8::1",
      ...(options.gateway ? { default: options.gateway } : {}),
      parse: checkedAddress,
      format: (v: string) => v,
    });
    const acceptRa = runtimeArg.bool({
      name: argName(ctx, "accept-router-advertisements"),
      doc: "Solicit and accept router advertisements: SLAAC addresses, default routers, link MTU",
      section: "network",
      default: true,
    });
    const interfaceId = runtimeArg.enum({
      name: argName(ctx, "ipv6-interface-id"),
      values: ["eui64", "stable", "random"] as const,
      default: "eui64",
      doc: "How the link-local and SLAAC addresses end: the MAC (modified EUI-64), stable per prefix without showing the MAC (RFC 7217, keyed by --ipv6-secret), or random at each start",
      section: "network",
    });
    const secret = runtimeArg.custom({
      name: argName(ctx, "ipv6-secret"),
      doc: "Secret key of stable interface identifiers: the same key gives the same addresses at every start (without it they change at each start)",
      docv: "HEX",
      section: "network",
      expected: "32 hexadecimal digits (16 bytes), e.g. from `openssl rand -hex 16`",
      parse: parseSecret,
      format: (v: Uint8Array) => Array.from(v, (b) => b.toString(16).padStart(2, "0")).join(""),
    });
    return async ({ ethernet }: { net: Net; ethernet: Ethernet }): Promise<Ipv6> => {
      const key = secret();
      if (interfaceId() === "stable" && key === undefined) log.warn("stable interface identifiers without --ipv6-secret: the addresses change at each start");
      // RangeError from the layer names the bad flag value and what is expected.
      const ipv6 = new Ipv6Layer(ethernet, {
        cidr: cidr() ?? null,
        gateway: gateway() ?? null,
        acceptRouterAdvertisements: acceptRa(),
        interfaceId: interfaceId() as InterfaceIdKind,
        ...(key ? { secretKey: key } : {}),
      });
      await ipv6.settled(SETTLE_TIMEOUT_MS);
      const ready = ipv6.configuredAddresses().map((p) => `${p.address}/${p.prefixLength}`);
      log.info(`IPv6 addresses: ${ready.join(", ") || "none yet"}`);
      return ipv6;
    };
  },
});
