// Tunables of one TCP instance, with the defaults a user of the stack gets.
import type { CongestionAlgorithm } from "./congestion.ts";
import type { TcpClock } from "./timers.ts";

export interface TcpConfig {
  /** Clock and timers; by default oasis/mtime and oasis/sleep. */
  clock?: TcpClock;
  /** Entropy for ISN keys and ephemeral ports; by default oasis/random. */
  random?: { fillRandom(buf: Uint8Array): Uint8Array; randomInt(max: number): number };
  congestionControl?: CongestionAlgorithm;
  /** Bytes the application may queue before write() waits. */
  sendBufferSize?: number;
  /**
   * Bytes received and not yet read before the window closes. The window starts at 64 KiB and
   * grows to twice what has arrived, up to this (an advertised window reserves memory, see
   * `memoryLimit`).
   */
  receiveBufferSize?: number;
  /**
   * Bytes all connections of this instance may hold together: data in send buffers, data in
   * receive buffers (in order and out of order) and receive windows advertised and not yet
   * filled (a window is a promise the peer may use at any moment). Default 64 MiB.
   *
   * Under pressure: the window a connection advertises shrinks to what the budget still allows
   * (an advertised right edge is never taken back; a connection whose window was held back is
   * sent a window update once memory frees); out-of-order segments are dropped rather than
   * queued when holding them would pass the limit (drop reason `memory-out-of-order`); a
   * write() waits until memory frees instead of buffering (and queues at most twice the peer's
   * window meanwhile); while connections wait, none grows past an equal share of the limit.
   * Each connection may always hold two segments (2·MSS) in each direction whatever the budget,
   * so a connection alone with the whole budget cannot deadlock and new connections are still
   * accepted (with small windows): memory in use stays below `memoryLimit` + connections · 4·MSS.
   */
  memoryLimit?: number;
  /** Maximum segment lifetime; TIME_WAIT lasts 2·MSL unless `timeWaitMs` says otherwise. */
  mslMs?: number;
  timeWaitMs?: number;
  initialRtoMs?: number;
  minRtoMs?: number;
  maxRtoMs?: number;
  /** Retransmissions of one segment before the connection gives up with FlowError("timeout"). */
  maxRetransmits?: number;
  /** SYN (or SYN-ACK) retransmissions before connect fails. */
  synRetries?: number;
  delayedAckMs?: number;
  /** How long FIN_WAIT_2 waits for the peer's FIN after close(). */
  finWait2TimeoutMs?: number;
  /** Half-open connections per listener when listen() gives no backlog. */
  defaultBacklog?: number;
  /** Challenge ACKs (RFC 5961) sent per second, for the whole instance. */
  challengeAckLimit?: number;
  sack?: boolean;
  timestamps?: boolean;
  /**
   * Use the device's offloads when it has them (Ip.offload): transport checksums finished by the
   * device, and sends of up to 64 KB cut into segments by it (TSO). Default true.
   */
  offload?: boolean;
  windowScaling?: boolean;
  ephemeralPorts?: [number, number];
}

export type ResolvedConfig = Required<Omit<TcpConfig, "clock" | "random">>;

export function resolveConfig(c: TcpConfig): ResolvedConfig {
  const msl = c.mslMs ?? 1000;
  const r: ResolvedConfig = {
    congestionControl: c.congestionControl ?? "cubic",
    sendBufferSize: c.sendBufferSize ?? 256 * 1024,
    receiveBufferSize: c.receiveBufferSize ?? 1024 * 1024,
    // 64 MiB: about 50 connections with full default buffers (1 MiB + 256 KiB) moving bulk data
    // at once, or a thousand idle ones at the 64 KiB initial window, while a unikernel of a few
    // hundred MiB keeps most of its memory for the application (Linux's tcp_mem pressure
    // threshold is of this order for such a machine: a few percent to a tenth of RAM).
    memoryLimit: c.memoryLimit ?? 64 * 1024 * 1024,
    mslMs: msl,
    timeWaitMs: c.timeWaitMs ?? 2 * msl,
    initialRtoMs: c.initialRtoMs ?? 1000,
    minRtoMs: c.minRtoMs ?? 200,
    maxRtoMs: c.maxRtoMs ?? 60_000,
    maxRetransmits: c.maxRetransmits ?? 12,
    synRetries: c.synRetries ?? 5,
    delayedAckMs: c.delayedAckMs ?? 40,
    finWait2TimeoutMs: c.finWait2TimeoutMs ?? 60_000,
    defaultBacklog: c.defaultBacklog ?? 128,
    challengeAckLimit: c.challengeAckLimit ?? 1000,
    sack: c.sack ?? true,
    offload: c.offload ?? true,
    timestamps: c.timestamps ?? true,
    windowScaling: c.windowScaling ?? true,
    ephemeralPorts: c.ephemeralPorts ?? [49152, 65535],
  };
  const positive = ["sendBufferSize", "receiveBufferSize", "memoryLimit", "initialRtoMs", "minRtoMs", "maxRtoMs", "defaultBacklog"] as const;
  for (const k of positive) {
    if (!(Number.isFinite(r[k]) && r[k] > 0)) throw new RangeError(`TCP option ${k} must be a positive number, got ${r[k]}`);
  }
  if (!(r.receiveBufferSize <= 0x3fffffff)) throw new RangeError(`TCP option receiveBufferSize must be at most 1 GiB, got ${r.receiveBufferSize}`);
  const [lo, hi] = r.ephemeralPorts;
  if (!(Number.isInteger(lo) && Number.isInteger(hi) && lo >= 1 && hi <= 65535 && lo <= hi)) {
    throw new RangeError(`TCP option ephemeralPorts must be [low, high] within 1..65535, got [${lo}, ${hi}]`);
  }
  return r;
}
