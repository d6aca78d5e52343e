// DNS: a stub resolver over any Stack (oasis/dns) and its wire codec.
export { DnsClient, DnsError, createDnsClient, type DnsAnswer, type DnsClientOptions, type DnsErrorCode } from "./client.ts";
export { dnsClientDevice, type DnsClientDeviceOptions } from "./device.ts";
export { parseNameserver, parseNameservers, formatNameserver, type Nameserver } from "./nameserver.ts";
export { canonicalIp, reverseName } from "./address.ts";
export * from "./wire.ts";
