export interface Datagram {
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  /** Valid only during the callback: copy what you keep. */
  data: Uint8Array;
}

export interface Udp {
  /** Receives datagrams to `port` (0–65535; RangeError otherwise). Replaces an earlier listener. */
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
