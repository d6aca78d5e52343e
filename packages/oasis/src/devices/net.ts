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
 * Work a device can take off the stack, as virtio-net and Linux TAPs do. A device without it
 * (most middlewares, the in-memory switch) sends and delivers plain, MTU-sized frames only.
 */
export interface NetOffload {
  /** write finishes a transport checksum left partial (TxOffload.checksumStart). */
  readonly checksum: boolean;
  /** write cuts one large TCP frame into segments (TxOffload.segmentSize): TSO/GSO. */
  readonly segmentation: boolean;
  /** Largest frame, Ethernet header included, that write accepts with a segmentation request and listen may deliver. */
  readonly maxFrame: number;
}

/** Requests that travel with one frame to write. Callers reuse one object; it is read before write returns. */
export interface TxOffload {
  /** Offset in the frame where the transport checksum's coverage starts; 0: the checksum is complete. */
  checksumStart: number;
  /** Offset of the checksum field from checksumStart (16 for TCP, 6 for UDP); the field holds the pseudo-header sum. */
  checksumOffset: number;
  /** Cut the TCP payload into segments of this many bytes, headers copied to each; 0: send as one frame. */
  segmentSize: number;
}

/** Facts about one received frame, from a device with offloads; valid only during the call. */
export interface RxOffload {
  /** The transport checksum is known to be good (the host made the frame and vouches for it). */
  checksumOk: boolean;
  /** The frame holds TCP segments of this size merged into one (GRO/GSO); 0: a single segment. */
  segmentSize: number;
}

/**
 * A raw Ethernet device (TAP, in-memory switch port, solo5 net). Frames include the 14-byte
 * Ethernet header. Middlewares (pcap, fault injection) are functions Net → Net.
 */
export interface Net {
  readonly mac: MacAddr;
  /** Largest payload after the Ethernet header (1500 on a standard link). */
  readonly mtu: number;
  /** Present when the device takes checksums or segmentation off the stack. */
  readonly offload?: NetOffload;
  /**
   * Queues one frame for sending; the frame is copied or sent before this returns, so the caller
   * may reuse the buffer. Throws NetError("invalid-length") when longer than mtu + 14 (or, with
   * a segmentation request, than offload.maxFrame), and NetError("disconnected") after
   * disconnect. A full device queue drops the frame (counted in txDropped), as a real NIC would.
   * `offload` is only for devices that declare `offload`.
   */
  write(frame: Uint8Array, offload?: TxOffload): void;
  /**
   * Sets the receiver. Each frame is a view valid only during the call (it may be a slice of a
   * batch buffer): copy what you keep. Devices with `offload` pass what they know about the
   * frame, and may deliver frames up to offload.maxFrame bytes.
   */
  listen(handler: (frame: Uint8Array, offload?: RxOffload) => void): void;
  stats(): NetStats;
  resetStats(): void;
  disconnect(): Promise<void>;
}
