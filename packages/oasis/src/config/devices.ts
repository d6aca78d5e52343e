// The device catalogue: types and implementations users combine in config.ts. Names follow
// MirageOS's DSL in camelCase. Each implementation points at a runtime module that exports a
// DeviceModule (see runtime/device.ts).
import { blockKey, dhcpKey, grouped, isUnix, kvRoKey, netKey, type Key, type Value } from "./key.ts";
import { ifImpl, impl, matchImpl, typ, type AnyImpl, type Impl } from "./impl.ts";

// ---- device types ----------------------------------------------------------------------------
export const job = typ("job", "A task to run: the unikernel's start function.");
export const network = typ("network", "A raw Ethernet device (Net).");
export const ethernet = typ("ethernet", "Ethernet II framing (Ethernet).");
export const arpv4 = typ("arpv4", "IPv4 address resolution (Arp).");
export const ipv4 = typ("ipv4", "An IPv4 layer (Ipv4).");
export const ipv6 = typ("ipv6", "An IPv6 layer (Ipv6).");
export const ipv4v6 = typ("ipv4v6", "A dual IPv4/IPv6 layer (Ip).");
export const udp = typ("udp", "UDP (Udp).");
export const tcp = typ("tcp", "TCP (Tcp).");
export const stackv4v6 = typ("stackv4v6", "A TCP/IP stack (Stack).");
export const block = typ("block", "A block device (Block).");
export const partitionTable = typ("partitionTable", "The partitions of a block device (MBR or GPT).");
export const kvRo = typ("kvRo", "A read-only key-value store (KvRo).");
export const kvRw = typ("kvRw", "A read-write key-value store (KvRw).");
export const dnsClient = typ("dnsClient", "A DNS stub resolver (DnsClient from oasis/dns).");
export const monitor = typ("monitor", "Metrics pushed to a collector, and a control port (Monitoring from oasis/metrics).");

const UNIX = ["unix"] as const;

// ---- network ---------------------------------------------------------------------------------
/** A TAP interface on the host (unix). The name can be changed at boot with --interface. */
export function netif(name: string, options: { group?: string } = {}): Impl<"network"> {
  return impl({
    typ: network,
    name,
    description: `network interface ${name}`,
    module: "oasis/net/phy",
    export: "tapDevice",
    options: { name },
    group: options.group ?? "",
    targets: UNIX,
  });
}

/** The target's default network interface: tap0 on unix. */
export const defaultNetwork: Impl<"network"> = netif("tap0");

export function ethif(net: Impl<"network">): Impl<"ethernet"> {
  return impl({ typ: ethernet, name: "ethernet", description: "Ethernet layer", module: "oasis/net", export: "ethernetDevice", deps: { net } });
}

export function arp(eth: Impl<"ethernet">): Impl<"arpv4"> {
  return impl({ typ: arpv4, name: "arp", description: "ARP (IPv4 address resolution)", module: "oasis/net", export: "arpDevice", deps: { ethernet: eth } });
}

export interface Ipv4Config {
  /** Default address, e.g. "192.0.2.2/24"; --ipv4 overrides it at boot. */
  cidr?: string;
  gateway?: string;
}

/** Static IPv4 (--ipv4=CIDR, --ipv4-gateway=IP at boot). */
export function createIpv4(eth: Impl<"ethernet">, arpImpl: Impl<"arpv4">, options: { group?: string; config?: Ipv4Config } = {}): Impl<"ipv4"> {
  const config = options.config ?? {};
  return impl({
    typ: ipv4,
    name: "ipv4",
    description: `static IPv4 ${config.cidr ?? "(from --ipv4)"}`,
    module: "oasis/net",
    export: "ipv4Device",
    options: { cidr: config.cidr ?? null, gateway: config.gateway ?? null },
    deps: { ethernet: eth, arp: arpImpl },
    group: options.group ?? "",
  });
}

/** IPv4 configured by a DHCP client (DORA, renewals, release on shutdown). */
export function ipv4OfDhcp(net: Impl<"network">, eth: Impl<"ethernet">, arpImpl: Impl<"arpv4">, options: { group?: string } = {}): Impl<"ipv4"> {
  return impl({
    typ: ipv4,
    name: "ipv4-dhcp",
    description: "IPv4 from DHCP",
    module: "oasis/net",
    export: "dhcpIpv4Device",
    deps: { net, ethernet: eth, arp: arpImpl },
    group: options.group ?? "",
  });
}

export interface Ipv6Config {
  cidr?: string;
  gateway?: string;
}

/** IPv6 with neighbour discovery and SLAAC (--ipv6, --ipv6-gateway, --accept-router-advertisements). */
export function createIpv6(net: Impl<"network">, eth: Impl<"ethernet">, options: { group?: string; config?: Ipv6Config } = {}): Impl<"ipv6"> {
  const config = options.config ?? {};
  return impl({
    typ: ipv6,
    name: "ipv6",
    description: "IPv6",
    module: "oasis/net",
    export: "ipv6Device",
    options: { cidr: config.cidr ?? null, gateway: config.gateway ?? null },
    deps: { net, ethernet: eth },
    group: options.group ?? "",
  });
}

/** Both families behind one Ip (--ipv4-only, --ipv6-only at boot). */
export function createIpv4v6(ip4: Impl<"ipv4">, ip6: Impl<"ipv6"> | null, options: { group?: string } = {}): Impl<"ipv4v6"> {
  const deps: { [k: string]: AnyImpl } = { ipv4: ip4 };
  if (ip6) deps.ipv6 = ip6;
  return impl({ typ: ipv4v6, name: "ip", description: ip6 ? "IPv4 and IPv6" : "IPv4", module: "oasis/net", export: "ipv4v6Device", deps, group: options.group ?? "" });
}

export function directUdp(ip: Impl<"ipv4v6">): Impl<"udp"> {
  return impl({ typ: udp, name: "udp", description: "UDP", module: "oasis/net", export: "udpDevice", deps: { ip } });
}

export function directTcp(ip: Impl<"ipv4v6">): Impl<"tcp"> {
  return impl({ typ: tcp, name: "tcp", description: "TCP", module: "oasis/tcp", export: "tcpDevice", deps: { ip } });
}

/** Oasis's TypeScript stack over a network device. */
export function directStackv4v6(
  net: Impl<"network">,
  eth: Impl<"ethernet">,
  arpImpl: Impl<"arpv4">,
  ip: Impl<"ipv4v6">,
  options: { group?: string; tcp?: Impl<"tcp">; udp?: Impl<"udp"> } = {},
): Impl<"stackv4v6"> {
  return impl({
    typ: stackv4v6,
    name: "stack",
    description: "Oasis TCP/IP stack",
    module: "oasis/net",
    export: "directStackDevice",
    deps: { net, ethernet: eth, arp: arpImpl, ip, udp: options.udp ?? directUdp(ip), tcp: options.tcp ?? directTcp(ip) },
    group: options.group ?? "",
  });
}

/** The host kernel's TCP/IP through Node sockets (unix); --ipv4/--ipv6 choose bind addresses. */
export function socketStackv4v6(options: { group?: string } = {}): Impl<"stackv4v6"> {
  return impl({
    typ: stackv4v6,
    name: "socket-stack",
    description: "host kernel sockets",
    module: "oasis/net/socket",
    export: "socketStackDevice",
    group: options.group ?? "",
    targets: UNIX,
  });
}

export function socketUdpv4v6(options: { group?: string } = {}): Impl<"udp"> {
  return impl({ typ: udp, name: "socket-udp", description: "host UDP sockets", module: "oasis/net/socket", export: "socketUdpDevice", group: options.group ?? "", targets: UNIX });
}

export function socketTcpv4v6(options: { group?: string } = {}): Impl<"tcp"> {
  return impl({ typ: tcp, name: "socket-tcp", description: "host TCP sockets", module: "oasis/net/socket", export: "socketTcpDevice", group: options.group ?? "", targets: UNIX });
}

/** A DNS client over `stack`; --dns-servers (default `nameservers`, e.g. ["udp:192.0.2.1"]), --dns-timeout, --dns-cache-size at boot. */
export function genericDnsClient(stack: Impl<"stackv4v6">, options: { nameservers?: readonly string[]; group?: string } = {}): Impl<"dnsClient"> {
  return impl({
    typ: dnsClient,
    name: "dns-client",
    description: "DNS client",
    module: "oasis/dns",
    export: "dnsClientDevice",
    options: { nameservers: options.nameservers ? [...options.nameservers] : null },
    deps: { stack },
    group: options.group ?? "",
  });
}

/**
 * Mirage's `monitoring ?group stack`: every --monitor-interval seconds (default 10) the enabled
 * metric sources (memory, tcp, net…) go as Influx line protocol to --monitor=[tcp:|udp:]IP[:PORT]
 * (Telegraf's socket_listener over TCP, port 8094 by default; or UDP datagrams), tagged
 * vm=--monitor-hostname; --monitor-control-port (default 2323, 0: off) takes L/l/M/m commands.
 * Pass it to main like any device: `main("./unikernel.ts", { stack: stackv4v6, monitoring: monitor })`.
 * The control port should not be reachable from the public network: give monitoring a stack of
 * its own (with a group) where that matters.
 */
export function monitoring(stack: Impl<"stackv4v6">, options: { group?: string } = {}): Impl<"monitor"> {
  return impl({
    typ: monitor,
    name: "monitoring",
    description: "metrics and control port",
    module: "oasis/metrics",
    export: "monitoringDevice",
    deps: { stack },
    group: options.group ?? "",
  });
}

/** Direct stack with a static IPv4 (and IPv6) configuration. */
export function staticIpv4v6Stack(net: Impl<"network">, options: { group?: string; ipv4Config?: Ipv4Config; ipv6Config?: Ipv6Config; ipv6?: boolean } = {}): Impl<"stackv4v6"> {
  const group = options.group;
  const eth = ethif(net);
  const a = arp(eth);
  const i4 = createIpv4(eth, a, { group, config: options.ipv4Config });
  const i6 = options.ipv6 ? createIpv6(net, eth, { group, config: options.ipv6Config }) : null;
  return directStackv4v6(net, eth, a, createIpv4v6(i4, i6, { group }), { group });
}

/** Direct stack whose IPv4 comes from DHCP. */
export function dhcpIpv4v6Stack(net: Impl<"network">, options: { group?: string; ipv6?: boolean } = {}): Impl<"stackv4v6"> {
  const group = options.group;
  const eth = ethif(net);
  const a = arp(eth);
  const i4 = ipv4OfDhcp(net, eth, a, { group });
  const i6 = options.ipv6 ? createIpv6(net, eth, { group }) : null;
  return directStackv4v6(net, eth, a, createIpv4v6(i4, i6, { group }), { group });
}

/**
 * The usual choice, by configure keys: --net=socket (the default on unix) gives kernel sockets;
 * --net=direct gives Oasis's stack over `net`, with --dhcp or a static --ipv4.
 */
export function genericStackv4v6(
  net: Impl<"network"> = defaultNetwork,
  options: { group?: string; netKey?: Key<"default" | "socket" | "direct">; dhcpKey?: Key<boolean>; ipv4Config?: Ipv4Config; ipv6Config?: Ipv6Config } = {},
): Impl<"stackv4v6"> {
  const nk = options.netKey ?? grouped(netKey, options.group);
  const dk = options.dhcpKey ?? grouped(dhcpKey, options.group);
  const direct = ifImpl(dk, dhcpIpv4v6Stack(net, { group: options.group }), staticIpv4v6Stack(net, options));
  const useSocket: Value<boolean> = nk.map((n) => n === "socket");
  const useDirect: Value<boolean> = nk.map((n) => n === "direct");
  // Default: kernel sockets on unix (as Mirage does), our own stack elsewhere.
  return ifImpl(useSocket, socketStackv4v6({ group: options.group }), ifImpl(useDirect, direct, ifImpl(isUnix, socketStackv4v6({ group: options.group }), direct)));
}

// ---- block devices ---------------------------------------------------------------------------
/** A host file used as a disk (sector size 512 unless given). --block-file (--GROUP-block-file) replaces the path at boot. */
export function blockOfFile(path: string, options: { group?: string; sectorSize?: number; readOnly?: boolean } = {}): Impl<"block"> {
  return impl({
    typ: block,
    name: path,
    description: `block device on file ${path}`,
    module: "oasis/block",
    export: "fileBlockDevice",
    options: { path, sectorSize: options.sectorSize ?? 512, readOnly: options.readOnly ?? false },
    group: options.group ?? "",
    targets: UNIX,
  });
}

/** An in-memory disk of `sizeSectors` sectors (default 32 MiB), empty at every boot. */
export function ramdisk(name: string, options: { sizeSectors?: number; sectorSize?: number; group?: string } = {}): Impl<"block"> {
  return impl({
    typ: block,
    name,
    description: `ramdisk ${name}`,
    module: "oasis/block",
    export: "ramdiskDevice",
    options: { name, sizeSectors: options.sizeSectors ?? 65536, sectorSize: options.sectorSize ?? 512 },
    group: options.group ?? "",
  });
}

/** --block=file|ramdisk chooses. */
export function genericBlock(name: string, options: { group?: string; key?: Key<"file" | "ramdisk"> } = {}): Impl<"block"> {
  const k = options.key ?? grouped(blockKey, options.group);
  return matchImpl(k, [["ramdisk", ramdisk(name, { group: options.group })]], blockOfFile(name, { group: options.group }));
}

/**
 * AES-CCM authenticated encryption of every sector (mirage-block-ccm v2 layout: each logical sector
 * takes two physical ones). The key (hex, 16/24/32 bytes) is read at boot from --ccm-key (or
 * --GROUP-ccm-key); `key` here is only a default, for tests and demos.
 */
export function ccmBlock(disk: Impl<"block">, options: { key?: string; nonceLen?: number; group?: string } = {}): Impl<"block"> {
  return impl({
    typ: block,
    name: "ccm",
    description: "AES-CCM encrypted block",
    module: "oasis/block",
    export: "ccmBlockDevice",
    options: { key: options.key ?? null, nonceLen: options.nonceLen ?? 8 },
    deps: { block: disk },
    group: options.group ?? "",
  });
}

/** The GUID partition table of a disk. */
export function gpt(disk: Impl<"block">): Impl<"partitionTable"> {
  return impl({ typ: partitionTable, name: "gpt", description: "GPT partition table", module: "oasis/block", export: "gptDevice", deps: { block: disk } });
}

/** The MBR partition table of a disk (primary, extended and logical partitions). */
export function mbr(disk: Impl<"block">): Impl<"partitionTable"> {
  return impl({ typ: partitionTable, name: "mbr", description: "MBR partition table", module: "oasis/block", export: "mbrDevice", deps: { block: disk } });
}

/** One partition as a block device, by GPT name, or by number ("1", counting from 1). */
export function partition(table: Impl<"partitionTable">, name: string): Impl<"block"> {
  return impl({ typ: block, name, description: `partition ${name}`, module: "oasis/block", export: "partitionDevice", options: { name }, deps: { table } });
}

// ---- key-value stores ------------------------------------------------------------------------
/** A directory embedded into the bundle at build time (timestamps from SOURCE_DATE_EPOCH when set). */
export function crunch(dir: string): Impl<"kvRo"> {
  return impl({
    typ: kvRo,
    name: dir,
    description: `directory ${dir} embedded at build time`,
    module: "oasis/kv",
    export: "crunchKvDevice",
    options: { dir },
    generated: { data: { generator: "crunch", dir } },
    files: [dir],
  });
}

/** A host directory read at run time (unix). Keys can never leave the directory. */
export function directKvRo(dir: string): Impl<"kvRo"> {
  return impl({ typ: kvRo, name: dir, description: `host directory ${dir} (read-only)`, module: "oasis/kv", export: "directKvRoDevice", options: { dir }, targets: UNIX });
}

/** A host directory, read and written at run time (unix). */
export function directKvRw(dir: string): Impl<"kvRw" | "kvRo"> {
  return impl({ typ: kvRw, alsoProvides: ["kvRo"], name: dir, description: `host directory ${dir}`, module: "oasis/kv", export: "directKvRwDevice", options: { dir }, targets: UNIX });
}

/** --kv-ro=crunch|direct chooses (direct falls back to crunch on targets without a host file system). */
export function genericKvRo(dir: string, options: { group?: string; key?: Key<"crunch" | "direct"> } = {}): Impl<"kvRo"> {
  const k = options.key ?? grouped(kvRoKey, options.group);
  const direct = ifImpl(isUnix, directKvRo(dir), crunch(dir));
  return matchImpl(k, [["direct", direct]], crunch(dir));
}

/** An in-memory store, empty at boot. */
export function kvRwMem(name = "mem"): Impl<"kvRw" | "kvRo"> {
  return impl({ typ: kvRw, alsoProvides: ["kvRo"], name, description: "in-memory store", module: "oasis/kv", export: "memKvDevice", options: { name } });
}

/** A tar archive on a block device, read-only. */
export function tarKvRo(disk: Impl<"block">): Impl<"kvRo"> {
  return impl({ typ: kvRo, name: "tar", description: "tar archive (read-only)", module: "oasis/kv", export: "tarKvRoDevice", deps: { block: disk } });
}

/** A tar archive on a block device, append-only writes (remove and rename are refused). */
export function tarKvRw(disk: Impl<"block">): Impl<"kvRw" | "kvRo"> {
  return impl({ typ: kvRw, alsoProvides: ["kvRo"], name: "tar", description: "tar archive", module: "oasis/kv", export: "tarKvRwDevice", deps: { block: disk } });
}

/** A FAT12/16/32 file system, read-only. */
export function fatKvRo(disk: Impl<"block">): Impl<"kvRo"> {
  return impl({ typ: kvRo, name: "fat", description: "FAT file system (read-only)", module: "oasis/kv", export: "fatKvRoDevice", deps: { block: disk } });
}

/** A FAT12/16/32 file system, read-write. */
export function fatKvRw(disk: Impl<"block">): Impl<"kvRw" | "kvRo"> {
  return impl({ typ: kvRw, alsoProvides: ["kvRo"], name: "fat", description: "FAT file system", module: "oasis/kv", export: "fatKvRwDevice", deps: { block: disk } });
}

/** Composition shorthands matching the Oasis style guide: `fat(ccm(key, partition(gpt(file("disk.img")), "data")))`. */
export const file = blockOfFile;
export const fat = fatKvRw;
export function ccm(key: string | null, disk: Impl<"block">, options: { nonceLen?: number; group?: string } = {}): Impl<"block"> {
  return ccmBlock(disk, { ...options, key: key ?? undefined });
}
