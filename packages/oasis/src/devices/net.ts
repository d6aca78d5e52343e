/** Six bytes. Printed as "aa:bb:cc:dd:ee:ff" by `formatMac` in `oasis/net`. */
export type MacAddr = Uint8Array;

export interface NetStats {
  rxBytes: number;
  rxPackets: number;
  txBytes: number;
  txPackets: number;
  /** Frames dropped because a queue was full or the frame was malformed. */
  rxDropped: number;
  txDropped: number;
}

/**
 * A raw Ethernet device (TAP, in-memory switch port, solo5 net). Frames include the 14-byte
 * Ethernet header. Middlewares (pcap, fault injection) are functions Net → Net.
 */
export interface Net {
  readonly mac: MacAddr;
  /** Largest payload after the Ethernet header (1500 on a standard link). */
  readonly mtu: number;
  /**
   * Queues one frame for sending; the frame is copied or sent before this returns, so the caller
   * may reuse the buffer. Throws NetError("invalid-length") when longer than mtu + 14, and
   * NetError("disconnected") after disconnect. A full device queue drops the frame (counted in
   * txDropped), as a real NIC would.
   */
  write(frame: Uint8Array): void;
  /**
   * Sets the receiver. Each frame is a view valid only during the call (it may be a slice of a
   * batch buffer): copy what you keep.
   */
  listen(handler: (frame: Uint8Array) => void): void;
  stats(): NetStats;
  resetStats(): void;
  disconnect(): Promise<void>;
}
