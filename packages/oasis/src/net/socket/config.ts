// The socket stack's runtime arguments (section "network"), named as Mirage names them:
// --ipv4 / --ipv6 choose the addresses sockets bind to, --ipv4-only / --ipv6-only a family.
import { runtimeArg, type Reader } from "../../runtime/args.ts";
import { argName, type DeviceContext } from "../../runtime/device.ts";
import type { Prefix } from "../../devices/ip.ts";
import { formatPrefix, parsePrefix } from "./address.ts";

export interface SocketConfig {
  ipv4: Prefix;
  ipv6: Prefix;
  ipv4Only: boolean;
  ipv6Only: boolean;
}

export const DEFAULT_SOCKET_CONFIG: SocketConfig = {
  ipv4: { address: "0.0.0.0", prefixLength: 0 },
  ipv6: { address: "::", prefixLength: 0 },
  ipv4Only: false,
  ipv6Only: false,
};

/** Declares the arguments under the device's group; the reader checks they agree. */
export function declareSocketConfig(context: DeviceContext): Reader<SocketConfig> {
  const ipv4 = runtimeArg.custom({
    name: argName(context, "ipv4"),
    section: "network",
    docv: "PREFIX",
    doc: "IPv4 address (and prefix) the socket stack binds to; 0.0.0.0/0 means every address of the host",
    expected: "an IPv4 prefix like 192.0.2.2/24",
    default: DEFAULT_SOCKET_CONFIG.ipv4,
    parse: (text) => parsePrefix(text, "ipv4"),
    format: formatPrefix,
  });
  const ipv6 = runtimeArg.custom({
    name: argName(context, "ipv6"),
    section: "network",
    docv: "PREFIX",
    doc: "IPv6 address (and prefix) the socket stack binds to; ::/0 means every address of the host",
    expected: "an IPv6 prefix like 2001:db8::2/64",
    default: DEFAULT_SOCKET_CONFIG.ipv6,
    parse: (text) => parsePrefix(text, "ipv6"),
    format: formatPrefix,
  });
  const ipv4OnlyName = argName(context, "ipv4-only");
  const ipv6OnlyName = argName(context, "ipv6-only");
  const ipv4Only = runtimeArg.bool({ name: ipv4OnlyName, section: "network", doc: "Use IPv4 only" });
  const ipv6Only = runtimeArg.bool({ name: ipv6OnlyName, section: "network", doc: "Use IPv6 only" });
  return () => {
    const config = { ipv4: ipv4(), ipv6: ipv6(), ipv4Only: ipv4Only(), ipv6Only: ipv6Only() };
    if (config.ipv4Only && config.ipv6Only) {
      throw new Error(`--${ipv4OnlyName} and --${ipv6OnlyName} exclude each other: set at most one`);
    }
    return config;
  };
}
