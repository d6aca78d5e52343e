// Counters of one TCP instance. Drops are keyed by reason so tests and operators see why.

export type TcpState =
  | "SYN_SENT"
  | "SYN_RECEIVED"
  | "ESTABLISHED"
  | "FIN_WAIT_1"
  | "FIN_WAIT_2"
  | "CLOSE_WAIT"
  | "CLOSING"
  | "LAST_ACK"
  | "TIME_WAIT"
  | "CLOSED";

export const TCP_STATES: readonly TcpState[] = [
  "SYN_SENT",
  "SYN_RECEIVED",
  "ESTABLISHED",
  "FIN_WAIT_1",
  "FIN_WAIT_2",
  "CLOSE_WAIT",
  "CLOSING",
  "LAST_ACK",
  "TIME_WAIT",
];

export interface TcpCounters {
  segmentsIn: number;
  segmentsOut: number;
  bytesIn: number;
  bytesOut: number;
  /** Segments sent again (RTO, fast retransmit, SACK recovery). */
  retransmits: number;
  /** Retransmission timer expiries. */
  rtoExpiries: number;
  fastRecoveries: number;
  /** Tail loss probes sent (RFC 8985), each saving a likely RTO. */
  tailLossProbes: number;
  /** Retransmissions found lost again during SACK recovery (and resent without waiting for the RTO). */
  lostRetransmits: number;
  /** Segments that arrived ahead of a gap and were queued (not dropped). */
  outOfOrder: number;
  challengeAcks: number;
  /** Segments sent advertising a zero window (a slow reader). */
  zeroWindowsSent: number;
  /** ACKs sent because the application read and the window reopened. */
  windowUpdates: number;
  /** Connections that went through CLOSING: both FINs crossed. */
  simultaneousCloses: number;
  resetsSent: number;
  resetsReceived: number;
  activeOpens: number;
  passiveOpens: number;
  /** Connections that gave up (retransmissions, keepalive, SYN retries). */
  timeouts: number;
  /** ICMP errors matched to a connection and in its window (RFC 5927), and MSS reductions from them. */
  icmpErrors: number;
  pathMtuReductions: number;
  /** Times a connection's receive window was held back by the memory budget (once per episode). */
  memoryLimitedWindows: number;
  /** Times a write waited for the memory budget rather than its own send buffer (once per episode). */
  memoryDelayedWrites: number;
  drops: Record<string, number>;
}

export interface TcpStats extends TcpCounters {
  /** Live connections by state (LISTEN is not a connection). */
  connections: Record<Exclude<TcpState, "CLOSED">, number>;
  /** Sum of `connections`. */
  connectionCount: number;
  listeners: number;
  /** Entries in the timer heap (live or stale); bounded by connections. */
  timerEntries: number;
  /** Bytes held in all send and receive buffers now (TcpConfig.memoryLimit). */
  memoryUsed: number;
  /** Receive windows advertised and not yet filled: counted against the limit with memoryUsed. */
  memoryReserved: number;
  /** Highest memoryUsed so far. */
  memoryPeak: number;
  memoryLimit: number;
}

export function newCounters(): TcpCounters {
  return {
    segmentsIn: 0,
    segmentsOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    retransmits: 0,
    rtoExpiries: 0,
    fastRecoveries: 0,
    tailLossProbes: 0,
    lostRetransmits: 0,
    outOfOrder: 0,
    challengeAcks: 0,
    zeroWindowsSent: 0,
    windowUpdates: 0,
    simultaneousCloses: 0,
    resetsSent: 0,
    resetsReceived: 0,
    activeOpens: 0,
    passiveOpens: 0,
    timeouts: 0,
    icmpErrors: 0,
    pathMtuReductions: 0,
    memoryLimitedWindows: 0,
    memoryDelayedWrites: 0,
    drops: {},
  };
}

export function countDrop(c: TcpCounters, reason: string): void {
  c.drops[reason] = (c.drops[reason] ?? 0) + 1;
}
