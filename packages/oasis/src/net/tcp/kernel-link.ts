// Test support (not a test): the thinnest IPv4 over an Ethernet Net (one directly connected
// peer, ARP answered and asked, no options, no fragments) so TCP can face the Linux kernel
// through the namespace harness. It stands in until the stack's own IPv4 layer is committed.
import { IpError } from "../../devices/errors.ts";
import type { Ip, IpHandler, Prefix } from "../../devices/ip.ts";
import type { Net } from "../../devices/net.ts";
import { finishChecksum, ipv4PseudoSum, onesSum } from "../wire/checksum.ts";

function parseAddr(a: string): number {
  const p = a.split(".").map(Number);
  return ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
}

function formatAddr(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

export class KernelLinkIpv4 implements Ip {
  readonly family = "ipv4";
  private handler: IpHandler | null = null;
  private readonly self: number;
  private readonly macs = new Map<number, Uint8Array>();
  private readonly waiting = new Map<number, Uint8Array[]>();
  private id = 1;

  constructor(
    private readonly net: Net,
    readonly address: string,
    /** The peer's address and MAC when known (saves ARP, which this link does not retry). */
    peer?: { address: string; mac: Uint8Array },
  ) {
    this.self = parseAddr(address);
    if (peer) this.macs.set(parseAddr(peer.address), peer.mac);
    net.listen((f) => this.input(f));
  }

  listen(_proto: number, handler: IpHandler): void {
    this.handler = handler;
  }

  private input(f: Uint8Array): void {
    if (f.length < 34) return;
    const type = (f[12]! << 8) | f[13]!;
    if (type === 0x0806 && f.length >= 42) {
      const op = (f[20]! << 8) | f[21]!;
      const spa = ((f[28]! << 24) | (f[29]! << 16) | (f[30]! << 8) | f[31]!) >>> 0;
      const tpa = ((f[38]! << 24) | (f[39]! << 16) | (f[40]! << 8) | f[41]!) >>> 0;
      this.macs.set(spa, f.slice(22, 28));
      const queued = this.waiting.get(spa);
      if (queued) {
        this.waiting.delete(spa);
        for (const q of queued) this.sendFrame(spa, q);
      }
      if (op === 1 && tpa === this.self) this.arp(2, f.slice(22, 28), spa);
      return;
    }
    if (type !== 0x0800) return;
    const ihl = (f[14]! & 15) * 4;
    const total = (f[16]! << 8) | f[17]!;
    if (f[14]! >> 4 !== 4 || total + 14 > f.length || ihl < 20) return;
    const dst = ((f[30]! << 24) | (f[31]! << 16) | (f[32]! << 8) | f[33]!) >>> 0;
    if (dst !== this.self || f[23] !== 6) return;
    const src = ((f[26]! << 24) | (f[27]! << 16) | (f[28]! << 8) | f[29]!) >>> 0;
    this.handler?.(formatAddr(src), this.address, f.subarray(14 + ihl, 14 + total));
  }

  private arp(op: number, targetMac: Uint8Array, targetIp: number): void {
    const f = new Uint8Array(42);
    f.set(op === 1 ? new Uint8Array(6).fill(255) : targetMac, 0);
    f.set(this.net.mac, 6);
    f.set([8, 6, 0, 1, 8, 0, 6, 4, 0, op], 12);
    f.set(this.net.mac, 22);
    writeAddr(f, 28, this.self);
    if (op === 2) f.set(targetMac, 32);
    writeAddr(f, 38, targetIp);
    this.net.write(f);
  }

  write(dst: string, proto: number, payload: Uint8Array | readonly Uint8Array[]): void {
    const parts = payload instanceof Uint8Array ? [payload] : payload;
    let n = 0;
    for (const p of parts) n += p.length;
    if (n + 20 > this.net.mtu) throw new IpError("would-fragment", `datagram of ${n} bytes does not fit the MTU`);
    const d = parseAddr(dst);
    const f = new Uint8Array(34 + n);
    f.set([8, 0], 12);
    f[14] = 0x45;
    f[16] = (n + 20) >> 8;
    f[17] = n + 20;
    f[18] = this.id >> 8;
    f[19] = this.id++;
    f[20] = 0x40; // DF
    f[22] = 64;
    f[23] = proto;
    writeAddr(f, 26, this.self);
    writeAddr(f, 30, d);
    const c = finishChecksum(onesSum(f, 14, 34));
    f[24] = c >> 8;
    f[25] = c;
    let o = 34;
    for (const p of parts) {
      f.set(p, o);
      o += p.length;
    }
    if (this.macs.has(d)) this.sendFrame(d, f);
    else {
      const q = this.waiting.get(d);
      if (q) q.push(f);
      else {
        this.waiting.set(d, [f]);
        this.arp(1, new Uint8Array(6), d);
      }
    }
  }

  private sendFrame(d: number, f: Uint8Array): void {
    f.set(this.macs.get(d)!, 0);
    f.set(this.net.mac, 6);
    this.net.write(f);
  }

  pseudoheaderSum(src: string, dst: string, proto: number, length: number): number {
    return ipv4PseudoSum(parseAddr(src), parseAddr(dst), proto, length);
  }

  source(): string {
    return this.address;
  }

  configuredAddresses(): Prefix[] {
    return [{ address: this.address, prefixLength: 24 }];
  }

  mtu(): number {
    return this.net.mtu - 20;
  }

  async disconnect(): Promise<void> {}
}

function writeAddr(f: Uint8Array, o: number, a: number): void {
  f[o] = a >>> 24;
  f[o + 1] = a >>> 16;
  f[o + 2] = a >>> 8;
  f[o + 3] = a;
}
