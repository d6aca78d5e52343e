import type { Ip } from "./ip.ts";
import type { Tcp } from "./tcp.ts";
import type { Udp } from "./udp.ts";

/** A dual-stack TCP/IP stack: kernel sockets on the host, or Oasis's own stack over a Net. */
export interface Stack {
  readonly udp: Udp;
  readonly tcp: Tcp;
  /** The IP layer; on the socket stack only `source`, `configuredAddresses` and `mtu` are meaningful. */
  readonly ip: Ip;
  /** Resolves when the stack is disconnected. */
  listen(): Promise<void>;
  disconnect(): Promise<void>;
}
