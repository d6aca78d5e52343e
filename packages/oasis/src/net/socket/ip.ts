// The IP layer of the socket stack: the kernel owns IP, so only the questions a socket user can
// ask make sense here (addresses, source choice, MTU). Raw IP access needs --net=direct.
import { IpError } from "../../devices/errors.ts";
import type { Ip, IpHandler, IpWriteOptions, Prefix } from "../../devices/ip.ts";
import { familyOf } from "./address.ts";
import type { SocketConfig } from "./config.ts";

/** Ethernet-sized links; the kernel fragments or does path MTU discovery beyond that. */
const LINK_MTU = 1500;

export class SocketIp implements Ip {
  readonly family: "ipv4" | "ipv6" | "ipv4v6";
  readonly #config: SocketConfig;

  constructor(config: SocketConfig) {
    this.#config = config;
    this.family = config.ipv4Only ? "ipv4" : config.ipv6Only ? "ipv6" : "ipv4v6";
  }

  #unsupported(what: string): never {
    throw new Error(`ip.${what} is not available on the socket stack: the host kernel owns the IP layer. Configure with --net=direct to use Oasis's own stack`);
  }

  listen(_proto: number, _handler: IpHandler): void {
    this.#unsupported("listen");
  }

  write(_dst: string, _proto: number, _payload: Uint8Array | readonly Uint8Array[], _options?: IpWriteOptions): void {
    this.#unsupported("write");
  }

  pseudoheaderSum(_src: string, _dst: string, _proto: number, _length: number): number {
    this.#unsupported("pseudoheaderSum (the kernel computes transport checksums)");
  }

  source(dst: string): string {
    const family = familyOf(dst);
    if (!family) throw new IpError("invalid-address", `ip.source: '${dst}' is not an IP address`);
    if ((family === "ipv4" && this.#config.ipv6Only) || (family === "ipv6" && this.#config.ipv4Only)) {
      throw new IpError("no-route", `ip.source: no ${family === "ipv4" ? "IPv4" : "IPv6"} on this stack (--${family === "ipv4" ? "ipv6" : "ipv4"}-only)`);
    }
    // The configured (bind) address; "0.0.0.0"/"::" means the kernel picks per route.
    return family === "ipv4" ? this.#config.ipv4.address : this.#config.ipv6.address;
  }

  configuredAddresses(): Prefix[] {
    const out: Prefix[] = [];
    if (!this.#config.ipv6Only) out.push({ ...this.#config.ipv4 });
    if (!this.#config.ipv4Only) out.push({ ...this.#config.ipv6 });
    return out;
  }

  mtu(dst: string): number {
    const family = familyOf(dst);
    if (!family) throw new IpError("invalid-address", `ip.mtu: '${dst}' is not an IP address`);
    return LINK_MTU - (family === "ipv4" ? 20 : 40);
  }

  async disconnect(): Promise<void> {}
}
