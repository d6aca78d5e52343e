// UDP over any Ip: per-port listeners, checksums with the pseudo-header, ephemeral source ports,
// and ICMP port unreachable for datagrams to closed ports (when the IP layer can send it).
import type { Datagram, Udp } from "../../devices/udp.ts";
import type { Ip } from "../../devices/ip.ts";
import { PROTO_UDP } from "../../devices/ip.ts";
import { NetError } from "../../devices/errors.ts";
import { source } from "oasis/logs";
import { randomInt } from "oasis/random";
import { Counters } from "../wire/error.ts";
import { emitUdpHeader, UDP_HEADER_LENGTH } from "../wire/udp.ts";
import { onesSum } from "../wire/checksum.ts";

const log = source("udp", "UDP");

const EPHEMERAL_FIRST = 49152;
const EPHEMERAL_COUNT = 65536 - EPHEMERAL_FIRST;
const DONE: Promise<void> = Promise.resolve();

/** An Ip that can also report closed ports (our IPv4 layer and the v4v6 wrapper do). */
type IpWithErrors = Ip & { sendPortUnreachable?: () => void };

export class UdpLayer implements Udp {
  readonly counters = new Counters();
  private readonly handlers: Array<((d: Datagram) => void) | undefined> = new Array(65536).fill(undefined);
  private readonly header = new Uint8Array(UDP_HEADER_LENGTH);
  private readonly chunks: Uint8Array[] = [this.header, this.header];

  constructor(private readonly ip: IpWithErrors) {
    ip.listen(PROTO_UDP, (src, dst, payload, checksumOk) => this.input(src, dst, payload, checksumOk === true));
  }

  listen(port: number, handler: (datagram: Datagram) => void): void {
    checkPort(port, "listen");
    if (this.handlers[port] !== undefined) throw new NetError("unavailable", `UDP port ${port} is already in use by another listener in this stack; unlisten(${port}) first or choose another port`);
    this.handlers[port] = handler;
  }

  unlisten(port: number): void {
    checkPort(port, "unlisten");
    this.handlers[port] = undefined;
  }

  write(dst: string, dstPort: number, data: Uint8Array, options?: { src?: string; srcPort?: number; ttl?: number }): Promise<void> {
    try {
      checkPort(dstPort, "write (destination port)");
      const srcPort = options?.srcPort ?? this.ephemeralPort();
      checkPort(srcPort, "write (source port)");
      const length = UDP_HEADER_LENGTH + data.length;
      if (length > 0xffff) throw new RangeError(`UDP datagram of ${data.length} bytes exceeds the 65507-byte maximum`);
      const src = options?.src ?? this.ip.source(dst);
      emitUdpHeader(this.header, 0, srcPort, dstPort, data, this.ip.pseudoheaderSum(src, dst, PROTO_UDP, length));
      this.chunks[1] = data;
      this.ip.write(dst, PROTO_UDP, this.chunks, options?.src !== undefined || options?.ttl !== undefined ? { src, ttl: options?.ttl } : undefined);
      return DONE;
    } catch (e) {
      return Promise.reject(e);
    } finally {
      this.chunks[1] = this.header;
    }
  }

  /** One datagram from IP; `checksumOk`: the device vouched for the checksum. */
  input(src: string, dst: string, payload: Uint8Array, checksumOk = false): void {
    // parseUdp's checks, inline: this runs once per datagram.
    const n = payload.length;
    if (n < UDP_HEADER_LENGTH) return this.counters.add("truncated");
    const length = (payload[4]! << 8) | payload[5]!;
    if (length < UDP_HEADER_LENGTH || length > n) return this.counters.add("bad-length");
    if ((payload[6]! | payload[7]!) === 0) {
      // "No checksum" exists only in IPv4; over IPv6 the checksum is mandatory (RFC 8200 8.1).
      if (src.includes(":")) return this.counters.add("missing-checksum");
    } else if (!checksumOk && onesSum(payload, 0, length, this.ip.pseudoheaderSum(src, dst, PROTO_UDP, length)) % 0xffff !== 0) {
      return this.counters.add("bad-checksum");
    }
    const dstPort = (payload[2]! << 8) | payload[3]!;
    const h = this.handlers[dstPort];
    if (h === undefined) {
      this.counters.add("closed-port");
      this.ip.sendPortUnreachable?.();
      return;
    }
    try {
      // A fresh object: handlers may keep the addresses after returning (only `data` is borrowed).
      h({ src, dst, srcPort: (payload[0]! << 8) | payload[1]!, dstPort, data: payload.subarray(UDP_HEADER_LENGTH, length) });
    } catch (e) {
      this.counters.add("handler-error");
      log.error(() => `listener on port ${dstPort} threw: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    }
  }

  private ephemeralPort(): number {
    for (let i = 0; i < 8; i++) {
      const p = EPHEMERAL_FIRST + randomInt(EPHEMERAL_COUNT);
      if (this.handlers[p] === undefined) return p;
    }
    return EPHEMERAL_FIRST + randomInt(EPHEMERAL_COUNT);
  }
}

function checkPort(port: number, what: string): void {
  if (!(Number.isInteger(port) && port >= 0 && port <= 65535)) throw new RangeError(`UDP ${what}: port must be an integer 0..65535, got ${port}`);
}
