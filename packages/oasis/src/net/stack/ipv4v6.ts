// One Ip for both families: dispatches on the address family. With no IPv6 layer, IPv6
// destinations get IpError("no-route").
import type { Ip, IpErrorReport, IpHandler, IpOffload, IpWriteOptions, Prefix } from "../../devices/ip.ts";
import { IpError } from "../../devices/errors.ts";

type WithErrors = Ip & { sendPortUnreachable?: () => void };

export class Ipv4v6Layer implements Ip {
  readonly family = "ipv4v6" as const;
  private lastFromV6 = false;
  /** What both families offer (they share one device, so normally all of it). */
  readonly offload: IpOffload | undefined;

  constructor(
    private readonly v4: WithErrors,
    private readonly v6: WithErrors | null = null,
  ) {
    const a = v4.offload;
    const b = v6 === null ? a : v6.offload;
    this.offload = a && b ? { checksum: a.checksum && b.checksum, segmentation: a.segmentation && b.segmentation, maxSegmented: Math.min(a.maxSegmented, b.maxSegmented) } : undefined;
  }

  /** The IPv4 layer underneath. */
  get ipv4(): Ip {
    return this.v4;
  }

  /** The IPv6 layer underneath, if any. */
  get ipv6(): Ip | null {
    return this.v6;
  }

  private pick(addr: string): WithErrors {
    if (!addr.includes(":")) return this.v4;
    if (this.v6) return this.v6;
    throw new IpError("no-route", `no route to ${addr}: IPv6 is not configured in this stack (IPv4 only)`);
  }

  listen(proto: number, handler: IpHandler): void {
    if (this.v6 === null) {
      // One family: the handler goes straight to IPv4, no wrapper call per datagram.
      this.v4.listen(proto, handler);
      return;
    }
    this.v4.listen(proto, (src, dst, payload, checksumOk) => {
      this.lastFromV6 = false;
      handler(src, dst, payload, checksumOk);
    });
    this.v6.listen(proto, (src, dst, payload, checksumOk) => {
      this.lastFromV6 = true;
      handler(src, dst, payload, checksumOk);
    });
  }

  listenErrors(proto: number, handler: (report: IpErrorReport) => void): void {
    this.v4.listenErrors?.(proto, handler);
    this.v6?.listenErrors?.(proto, handler);
  }

  write(dst: string, proto: number, payload: Uint8Array | readonly Uint8Array[], options?: IpWriteOptions): void {
    this.pick(dst).write(dst, proto, payload, options);
  }

  pseudoheaderSum(src: string, dst: string, proto: number, length: number): number {
    // Once per datagram on both paths; IPv4 alone rejects a v6 address itself.
    if (this.v6 === null) return this.v4.pseudoheaderSum(src, dst, proto, length);
    return this.pick(dst).pseudoheaderSum(src, dst, proto, length);
  }

  source(dst: string): string {
    return this.pick(dst).source(dst);
  }

  configuredAddresses(): Prefix[] {
    return [...this.v4.configuredAddresses(), ...(this.v6?.configuredAddresses() ?? [])];
  }

  mtu(dst: string): number {
    return this.pick(dst).mtu(dst);
  }

  /** For UDP: reports the datagram being dispatched, on whichever family it came. */
  sendPortUnreachable(): void {
    (this.lastFromV6 ? this.v6 : this.v4)?.sendPortUnreachable?.();
  }

  async disconnect(): Promise<void> {
    await this.v4.disconnect();
    await this.v6?.disconnect();
  }
}
