export interface Datagram {
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  /** Valid only during the callback: copy what you keep. */
  data: Uint8Array;
}

export interface Udp {
  /**
   * Receives datagrams to `port` (0–65535; RangeError otherwise). Throws NetError("unavailable")
   * when the port already has a listener in this stack (unlisten it first), so two parts of a
   * unikernel never silently take each other's traffic.
   */
  listen(port: number, handler: (datagram: Datagram) => void): void;
  unlisten(port: number): void;
  /** Sends one datagram. `srcPort` defaults to an ephemeral port. */
  write(
    dst: string,
    dstPort: number,
    data: Uint8Array,
    options?: { src?: string; srcPort?: number; ttl?: number },
  ): Promise<void>;
}
