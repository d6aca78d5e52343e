/** IP protocol numbers used by the stack. */
export const PROTO_ICMP = 1;
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;
export const PROTO_ICMPV6 = 58;

/** A configured address: "192.0.2.2/24", "2001:db8::2/64". */
export interface Prefix {
  address: string;
  prefixLength: number;
}

/**
 * Receives one upper-layer payload. Addresses are canonical strings ("192.0.2.1", "2001:db8::1");
 * `payload` is a view valid only during the call.
 */
export type IpHandler = (src: string, dst: string, payload: Uint8Array, checksumOk?: boolean) => void;

export interface IpWriteOptions {
  /** Source address; by default the one `source(dst)` picks. */
  src?: string;
  ttl?: number;
  /** Allow fragmentation of a datagram larger than the path MTU (default true for IPv4). */
  fragment?: boolean;
  /**
   * Offset of the transport checksum field in the payload (16 for TCP, 6 for UDP), when it holds
   * only the folded pseudo-header sum: the device finishes the checksum, or the IP layer does when
   * the datagram cannot go to the device directly. Only with `offload.checksum`.
   */
  partialChecksumAt?: number;
  /**
   * The payload is one TCP segment to be cut into segments of this many data bytes (TSO), up to
   * `offload.maxSegmented` bytes in all; needs `partialChecksumAt`. Only with `offload.segmentation`.
   */
  segmentSize?: number;
}

/**
 * Why a datagram we sent did not arrive, from an ICMP error (RFC 1122 §3.2.2.1, RFC 4443 §3):
 * "unreachable" (no route, host or network unreachable), "prohibited" (administratively, by a
 * filter),
 * "port-unreachable", "protocol-unreachable", "too-big" (fragmentation needed / packet too big:
 * see `mtu`), "time-exceeded", "parameter-problem".
 */
export type IpErrorKind = "unreachable" | "prohibited" | "port-unreachable" | "protocol-unreachable" | "too-big" | "time-exceeded" | "parameter-problem";

/** An ICMP error about one of our datagrams, for the transport protocol that sent it. */
export interface IpErrorReport {
  kind: IpErrorKind;
  /** The ICMP type and code as received. */
  type: number;
  code: number;
  /** Who sent the ICMP message: a router on the path, or the destination itself. */
  reporter: string;
  /** The addresses of the datagram we sent (ours first). */
  src: string;
  dst: string;
  /** The quoted start of our transport header (at least 8 bytes: the ports and, for TCP, the sequence number). */
  quote: Uint8Array;
  /** With "too-big": the largest datagram (IP header included) the next hop takes; 0 if not said. */
  mtu: number;
}

/** What the device under an IP layer takes off the transport protocols (see Net.offload). */
export interface IpOffload {
  readonly checksum: boolean;
  readonly segmentation: boolean;
  /** Largest payload (transport header included) of a write with `segmentSize`. */
  readonly maxSegmented: number;
}

/**
 * One IP layer (v4, v6, or both). Addresses are strings in canonical form; a v4v6 layer
 * dispatches on the address family.
 */
export interface Ip {
  readonly family: "ipv4" | "ipv6" | "ipv4v6";
  /** Present when the device underneath has offloads the transport layers may use. */
  readonly offload?: IpOffload | undefined;
  /**
   * Sets the handler of one upper-layer protocol; replaces any earlier one. The handler's
   * `checksumOk` says the device vouched for the transport checksum, so it need not be verified.
   */
  listen(proto: number, handler: IpHandler): void;
  /**
   * Receives the ICMP errors about datagrams of protocol `proto` that this layer sent (already
   * checked to quote one of our addresses as the source); replaces any earlier handler.
   */
  listenErrors?(proto: number, handler: (report: IpErrorReport) => void): void;
  /**
   * Sends the concatenation of `payload` chunks to `dst`. Synchronous: the datagram is queued
   * (possibly behind address resolution). Throws IpError("no-route") when `dst` is not
   * reachable, IpError("would-fragment") when too large and `fragment` is false.
   */
  write(dst: string, proto: number, payload: Uint8Array | readonly Uint8Array[], options?: IpWriteOptions): void;
  /**
   * The one's-complement sum (not yet folded or inverted) of the pseudo-header for a transport
   * checksum: src, dst, protocol and length.
   */
  pseudoheaderSum(src: string, dst: string, proto: number, length: number): number;
  /** Source address the layer would use to reach `dst`. */
  source(dst: string): string;
  configuredAddresses(): Prefix[];
  /** Largest transport payload (IP header excluded) that goes to `dst` without fragmenting. */
  mtu(dst: string): number;
  disconnect(): Promise<void>;
}

/** ICMP for one IP family: echo replies are answered by the layer itself. */
export interface Icmp {
  /** Sends an ICMP message (type, code, checksum space and body in `message`; checksum filled in). */
  write(dst: string, message: Uint8Array, options?: { src?: string; ttl?: number }): void;
  /** Observes every valid ICMP message received (after the layer has answered echoes). */
  listen(handler: (src: string, dst: string, message: Uint8Array) => void): void;
}

export interface Ipv4 extends Ip {
  readonly family: "ipv4";
}
export interface Ipv6 extends Ip {
  readonly family: "ipv6";
}
