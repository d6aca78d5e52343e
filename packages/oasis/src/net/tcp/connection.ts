// One TCP connection: the RFC 9293 state machine with RFC 7323 (window scale, timestamps, PAWS),
// RFC 2018/6675 (SACK and SACK-based recovery), RFC 6582 (NewReno recovery without SACK),
// RFC 6298 (RTO), RFC 5961 (challenge ACKs) and the Flow a user reads and writes.
//
// Positions: both directions count bytes as unbounded numbers from the ISN (position 0 is the
// SYN, data starts at 1), converted to 32-bit sequence numbers only at the wire.
import { FlowError } from "../../devices/errors.ts";
import type { Endpoint } from "../../devices/flow.ts";
import type { IpErrorReport, IpOffload } from "../../devices/ip.ts";
import { foldSum } from "../wire/checksum.ts";
import type { Keepalive, TcpFlow } from "../../devices/tcp.ts";
import { readableFromFlow, writableFromFlow } from "../../flow/streams.ts";
import { ACK, FIN, PSH, RST, SYN, emitTcpHeader, emptyTcpRepr, setTcpChecksum, tcpHeaderLength, type TcpHeaderFields, type TcpRepr } from "../wire/tcp.ts";
import { ReceiveBuffer, SendBuffer, type MemoryBudget } from "./buffers.ts";
import type { ResolvedConfig } from "./config.ts";
import { createCongestionControl, type CongestionControl } from "./congestion.ts";
import { seqDiff, seqLt } from "./seq.ts";
import { countDrop, type TcpCounters, type TcpState } from "./stats.ts";
import type { TcpClock, Timed, TimerQueue } from "./timers.ts";

/** What a connection needs from its TCP instance. */
export interface ConnectionHost {
  readonly config: ResolvedConfig;
  readonly clock: TcpClock;
  readonly timers: TimerQueue;
  readonly counters: TcpCounters;
  /** The instance's memory budget, shared by all its connections. */
  readonly memory: MemoryBudget;
  /**
   * The most one connection should hold while others wait for memory: an equal share of the
   * limit (Infinity when nobody else waits), so one busy connection cannot take every byte
   * freed while a held-back one waits on.
   */
  memoryShare(conn: Connection): number;
  /** Calls `memoryFreed` once the budget has room again (until then the connection waits). */
  waitForMemory(conn: Connection): void;
  /**
   * Device offloads in use: segments then carry only the pseudo-header sum in their checksum, and
   * may be up to `maxSegmented` bytes, cut by the device.
   */
  readonly offload: IpOffload | undefined;
  /**
   * Hands a segment to IP (with `offload`, its checksum partial; `segmentSize` > 0: cut into
   * segments of that many data bytes); returns the error if IP refused it.
   */
  transmit(conn: Connection, parts: Uint8Array[], segmentSize: number): Error | null;
  /** RFC 5961 §7: one budget of challenge ACKs for the whole instance. */
  allowChallengeAck(now: number): boolean;
  /** Sends a bare RST (or RST+ACK) with the given sequence numbers. */
  sendReset(local: Endpoint, remote: Endpoint, pseudoBase: number, seq: number, ack: number, withAck: boolean): void;
  /** Calls `flushAck` once the current batch of input is processed. */
  ackSoon(conn: Connection): void;
  /** A passive connection reached ESTABLISHED. */
  established(conn: Connection): void;
  /** The connection left the table (state CLOSED). */
  closed(conn: Connection, from: TcpState): void;
  /** The connection entered `to` (for per-state counters). */
  transition(conn: Connection, from: TcpState, to: TcpState): void;
}

interface WriteRequest {
  data: Uint8Array;
  offset: number;
  resolve: () => void;
  reject: (e: unknown) => void;
}

interface Waiter<T> {
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
}

/** Largest SACK blocks per segment: 3 fit beside timestamps in 40 option bytes. */
const MAX_SACK_BLOCKS_TS = 3;
const MAX_SACK_BLOCKS = 4;
const DUP_THRESH = 3;
const TS_OPTION_BYTES = 12;
/**
 * The receive window starts at 64 KiB and grows to twice what has arrived (up to the buffer),
 * like the receive window of Linux: a window is memory promised to the peer, and idle or
 * request-sized connections must not each hold a whole receive buffer of the budget.
 */
const INITIAL_WINDOW = 64 * 1024;
/**
 * Segments each connection may always hold in each direction whatever the memory budget: two,
 * so a receiver's window update is worth sending (receiver SWS avoidance wants 2·MSS) and a
 * sender keeps two segments in flight (the peer acknowledges every second one at once).
 */
const MEMORY_FLOOR_SEGMENTS = 2;
/** RFC 7323 §5.5: TS.Recent older than 24 days is not trusted for PAWS. */
const PAWS_IDLE_MS = 24 * 24 * 3600 * 1000;

export class Connection implements TcpFlow, Timed {
  state: TcpState;
  readonly local: Endpoint;
  readonly remote: Endpoint;
  /** Table key, set by the instance. */
  key = "";
  /** Unfolded pseudo-header sum (addresses and protocol, length excluded). */
  pseudoBase = 0;
  timerAt = Infinity;

  // Send side (positions).
  private iss = 0;
  private sndUna = 0;
  private sndNxt = 0;
  private sndMax = 0;
  private sndWnd = 0;
  private maxSndWnd = 0;
  private sndWl1 = 0;
  private sndWl2 = 0;
  private sndWScale = 0;
  private sndBuf: SendBuffer;
  private finQueued = false;
  private writes: WriteRequest[] = [];
  private finAfterWrites: Waiter<void>[] | null = null;
  private noDelay = false;
  /** Path MSS (min of ours and the peer's) and the payload that fits with our options. */
  private pathMss = 536;
  mss = 536;
  private ourMss: number;

  // Receive side (positions).
  private irs = 0;
  private rcvNxt = 0;
  private rcvAdv = 0;
  private rcvWScale = 0;
  private recv: ReceiveBuffer;
  /** This connection's part of the budget's `reserved`: window advertised, not yet filled. */
  private windowReserved = 0;
  /** The last window advertised was cut by the budget (counted once until it no longer is). */
  private windowHeldBack = false;
  /** A write waits for the budget (counted once until writes flow again). */
  private writeHeldBack = false;
  /** In the instance's set of connections waiting for memory. */
  private waitingForMemory = false;
  private peerFinPos = -1;
  private finReceived = false;
  private readShut = false;
  private readers: Waiter<Uint8Array | null>[] = [];
  private unackedSegments = 0;
  private ackNow = false;
  private lastAckSent = 0;

  // Options negotiated.
  private offerWs: boolean;
  private offerSack: boolean;
  private offerTs: boolean;
  private tsOk = false;
  private sackOk = false;
  private wsOk = false;
  private tsRecent = 0;
  private tsRecentAt = 0;
  private tsOffset: number;

  // RTT / RTO.
  private srtt = -1;
  private rttvar = 0;
  rto: number;
  private rttPos = -1;
  private rttStart = 0;
  private retransmits = 0;
  /** The last ICMP error that did not end the connection: named if it times out (RFC 1122 §4.2.3.9). */
  private softError = "";

  // Congestion control and recovery.
  private cc: CongestionControl;
  private dupAcks = 0;
  /** Limited Transmit (RFC 3042): new segments the first two duplicate ACKs still allow. */
  private limitedTransmits = 0;
  private inRecovery = false;
  private recoveryPoint = 0;
  private highRxt = 0;
  private forcedLostEnd = 0;
  /** Retransmissions in this recovery: [start, end, sndMax when sent] triplets. */
  private rxtLog: number[] = [];
  /** PRR (RFC 6937) during SACK recovery: bytes delivered and sent since it began, flight then. */
  private prrDelivered = 0;
  private prrOut = 0;
  private recoverFs = 0;
  /** SACK scoreboard: merged [start, end) pairs above sndUna, sorted. */
  private sacked: number[] = [];

  // Timers (absolute ms, Infinity when off).
  private rtoAt = Infinity;
  /** Tail loss probe (RFC 8985 §7): one probe per flight, well before the RTO. */
  private tlpAt = Infinity;
  private tlpSent = false;
  private delAckAt = Infinity;
  private keepAt = Infinity;
  private closeAt = Infinity;
  private keepalive: Keepalive | null;
  private keepProbes = 0;
  private lastHeard: number;

  private error: FlowError | null = null;
  private closeWaiters: Waiter<void>[] = [];
  private appClosed = false;
  /** Settles an active open. */
  openWaiter: Waiter<Connection> | null = null;
  /** The listener a passive connection counts against while half-open. */
  listenerPort = -1;
  /** Opened by a listener (not by connect). */
  passive = false;

  private readonly host: ConnectionHost;
  private readonly hdr: TcpHeaderFields;
  private sackScratch: number[] = [];
  private _readable: ReadableStream<Uint8Array> | null = null;
  private _writable: WritableStream<Uint8Array> | null = null;

  constructor(
    host: ConnectionHost,
    local: Endpoint,
    remote: Endpoint,
    init: { state: TcpState; iss: number; ourMss: number; keepalive?: Keepalive | undefined; noDelay?: boolean | undefined; tsOffset: number },
  ) {
    this.host = host;
    this.local = local;
    this.remote = remote;
    this.state = init.state;
    this.iss = init.iss;
    this.ourMss = init.ourMss;
    this.noDelay = init.noDelay ?? false;
    this.keepalive = init.keepalive ?? null;
    this.tsOffset = init.tsOffset;
    this.sndBuf = new SendBuffer(1, host.memory);
    this.recv = new ReceiveBuffer(host.memory);
    const cfg = host.config;
    this.offerWs = cfg.windowScaling;
    this.offerSack = cfg.sack;
    this.offerTs = cfg.timestamps;
    this.rto = cfg.initialRtoMs;
    let shift = 0;
    while (shift < 14 && cfg.receiveBufferSize >> shift > 0xffff) shift++;
    this.rcvWScale = this.offerWs ? shift : 0;
    this.cc = createCongestionControl(cfg.congestionControl, this.mss);
    this.lastHeard = host.clock.nowMs();
    // One header record reused for every segment this connection sends (no per-segment object).
    const { payload: _unused, ...fields } = emptyTcpRepr();
    this.hdr = { ...fields, srcPort: local.port, dstPort: remote.port };
  }

  // ---- opening ------------------------------------------------------------------------------

  /** Active open: sends the SYN. */
  startActive(): Error | null {
    const now = this.host.clock.nowMs();
    this.synSentAt = now;
    const err = this.sendSegment(0, 0, SYN);
    if (err) return err;
    this.sndNxt = this.sndMax = 1;
    this.armRto(this.host.clock.nowMs());
    return null;
  }

  /** Passive open from a SYN `r` (already validated by the listener). */
  startPassive(r: TcpRepr, now: number): Error | null {
    this.irs = r.seq;
    this.rcvNxt = 1;
    this.negotiate(r, now);
    this.sndWnd = r.window; // unscaled in a SYN
    this.maxSndWnd = this.sndWnd;
    // The edge accepted may pass the unscaled 65535 of the SYN-ACK by the byte it cannot say;
    // windowField reserves it in the budget as it sends the SYN-ACK.
    this.rcvAdv = this.rcvNxt + this.freeSpace();
    const err = this.sendSegment(0, 0, SYN | ACK);
    if (err) return err;
    this.sndNxt = this.sndMax = 1;
    this.armRto(now);
    return null;
  }

  private negotiate(r: TcpRepr, now: number): void {
    this.wsOk = this.offerWs && r.windowScale >= 0;
    if (this.wsOk) this.sndWScale = r.windowScale;
    else this.rcvWScale = this.sndWScale = 0;
    this.sackOk = this.offerSack && r.sackPermitted;
    this.tsOk = this.offerTs && r.hasTimestamp;
    if (this.tsOk) {
      this.tsRecent = r.tsVal;
      this.tsRecentAt = now;
    }
    const peerMss = r.mss > 0 ? r.mss : 536;
    this.pathMss = Math.max(64, Math.min(peerMss, this.ourMss));
    this.mss = this.pathMss - (this.tsOk ? TS_OPTION_BYTES : 0);
    this.cc = createCongestionControl(this.host.config.congestionControl, this.mss);
  }

  // ---- input --------------------------------------------------------------------------------

  /** Processes one segment addressed to this connection. */
  input(r: TcpRepr, now: number): void {
    const st = this.state;
    if (st === "CLOSED") return;
    if (st === "SYN_SENT") {
      this.inputSynSent(r, now);
      return;
    }
    const flags = r.flags;
    const plen = r.payload.length;
    const segPos = this.rcvNxt + seqDiff(r.seq, (this.irs + this.rcvNxt) >>> 0);
    const segLen = plen + (flags & SYN ? 1 : 0) + (flags & FIN ? 1 : 0);
    const counters = this.host.counters;

    if (st === "SYN_RECEIVED" && flags & SYN && !(flags & RST) && segPos === this.rcvNxt - 1) {
      if (!(flags & ACK)) {
        // The peer repeats its SYN: our SYN-ACK was lost.
        this.sendSegment(0, 0, SYN | ACK);
        return;
      }
      // Simultaneous open (RFC 9293 figure 8): the peer's SYN-ACK completes the handshake.
      this.inputSynReceivedAck(r, segPos + 1, now);
      return;
    }

    // PAWS (RFC 7323 §5).
    if (this.tsOk && r.hasTimestamp && !(flags & RST) && seqLt(r.tsVal, this.tsRecent)) {
      if (now - this.tsRecentAt <= PAWS_IDLE_MS) {
        countDrop(counters, "paws");
        this.dupAckForInvalid(segLen, now);
        return;
      }
    }

    // Acceptability (RFC 9293 §3.10.7.4).
    const wnd = Math.max(0, this.rcvAdv - this.rcvNxt);
    let acceptable: boolean;
    if (segLen === 0) acceptable = wnd === 0 ? segPos === this.rcvNxt : segPos >= this.rcvNxt && segPos < this.rcvNxt + wnd;
    else
      acceptable =
        wnd > 0 &&
        ((segPos >= this.rcvNxt && segPos < this.rcvNxt + wnd) || (segPos + segLen - 1 >= this.rcvNxt && segPos + segLen - 1 < this.rcvNxt + wnd));
    // A zero window still takes ACKs and FINs at exactly rcvNxt, and the data is trimmed below.
    if (!acceptable && wnd === 0 && segPos === this.rcvNxt) acceptable = true;
    if (!acceptable) {
      if (flags & RST) {
        countDrop(counters, "rst-out-of-window");
        return;
      }
      countDrop(counters, st === "TIME_WAIT" ? "time-wait-segment" : "out-of-window");
      if (st === "TIME_WAIT" && flags & FIN) this.closeAt = now + this.host.config.timeWaitMs;
      this.dupAckForInvalid(segLen, now);
      return;
    }

    // RST (RFC 5961 §3): only an exact match resets; in-window gets a challenge ACK.
    if (flags & RST) {
      if (segPos !== this.rcvNxt) {
        this.challengeAck(now);
        return;
      }
      if (st === "TIME_WAIT") {
        // RFC 1337: a RST must not cut TIME_WAIT short (old duplicates could then be accepted).
        countDrop(counters, "rst-in-time-wait");
        return;
      }
      counters.resetsReceived++;
      if (st === "SYN_RECEIVED" && this.passive) {
        this.terminate(null);
        return;
      }
      this.terminate(st === "LAST_ACK" || st === "CLOSING" ? null : new FlowError("reset", `connection to ${this.remote.address}:${this.remote.port} reset by peer`));
      return;
    }

    // SYN in a synchronized state (RFC 5961 §4): challenge ACK.
    if (flags & SYN) {
      this.challengeAck(now);
      return;
    }

    if (!(flags & ACK)) {
      countDrop(counters, "no-ack-flag");
      return;
    }

    this.lastHeard = now;
    this.keepProbes = 0;

    const ackPos = this.sndUna + seqDiff(r.ack, (this.iss + this.sndUna) >>> 0);
    if (st === "SYN_RECEIVED" && !this.inputSynReceivedAck(r, segPos, now)) return;

    // Timestamp bookkeeping (RFC 7323 §4.3).
    if (this.tsOk && r.hasTimestamp && segPos <= this.lastAckSent && !seqLt(r.tsVal, this.tsRecent)) {
      this.tsRecent = r.tsVal;
      this.tsRecentAt = now;
    }

    if (!this.processAck(r, segPos, ackPos, now)) return;
    if (this.state === "CLOSED") return;

    if (plen > 0 || flags & FIN) this.receiveData(r, segPos, now);
    this.output(now);
  }

  private inputSynSent(r: TcpRepr, now: number): void {
    const flags = r.flags;
    const counters = this.host.counters;
    let ackOk = false;
    if (flags & ACK) {
      const ackPos = seqDiff(r.ack, this.iss);
      if (ackPos <= 0 || ackPos > this.sndMax) {
        if (!(flags & RST)) this.sendReset(r.ack, 0, false);
        countDrop(counters, "syn-sent-bad-ack");
        return;
      }
      ackOk = true;
    }
    if (flags & RST) {
      if (ackOk) {
        counters.resetsReceived++;
        this.terminate(new FlowError("refused", `connection to ${this.remote.address}:${this.remote.port} refused`));
      } else countDrop(counters, "syn-sent-rst-without-ack");
      return;
    }
    if (!(flags & SYN)) {
      countDrop(counters, "syn-sent-no-syn");
      return;
    }
    this.irs = r.seq;
    this.rcvNxt = 1;
    this.negotiate(r, now);
    this.lastHeard = now;
    this.rcvAdv = Math.max(this.rcvAdv, this.rcvNxt + this.freeSpace());
    if (ackOk) {
      this.sndUna = 1;
      this.sndWnd = r.window << this.sndWScale;
      this.maxSndWnd = this.sndWnd;
      this.sndWl1 = 0;
      this.sndWl2 = 1;
      this.rtoAt = Infinity;
      this.retransmits = 0;
      if (!this.tsOk && this.retransmitsOfSyn === 0) this.rttSample(now - this.synSentAt);
      else if (this.tsOk && r.tsEcr !== 0) this.rttSample(this.tsNow(now) - r.tsEcr);
      this.setState("ESTABLISHED");
      this.ackNow = true;
      this.output(now);
      const w = this.openWaiter;
      this.openWaiter = null;
      w?.resolve(this);
      return;
    }
    // Simultaneous open (RFC 9293 §3.5, figure 8).
    this.sndWnd = r.window;
    this.maxSndWnd = this.sndWnd;
    this.setState("SYN_RECEIVED");
    this.sendSegment(0, 0, SYN | ACK);
    this.armRto(now);
  }

  /** The ACK that completes a handshake in SYN_RECEIVED; false if the segment is done with. */
  private inputSynReceivedAck(r: TcpRepr, segPos: number, now: number): boolean {
    const ackPos = this.sndUna + seqDiff(r.ack, (this.iss + this.sndUna) >>> 0);
    if (!(r.flags & ACK)) return false;
    if (ackPos < 1 || ackPos > this.sndMax) {
      this.sendReset(r.ack, 0, false);
      return false;
    }
    this.sndUna = Math.max(this.sndUna, 1);
    this.sndWnd = r.window << this.sndWScale;
    this.maxSndWnd = Math.max(this.maxSndWnd, this.sndWnd);
    this.sndWl1 = segPos;
    this.sndWl2 = ackPos;
    this.retransmits = 0;
    this.rtoAt = Infinity;
    this.lastHeard = now;
    if (this.tsOk && r.hasTimestamp && r.tsEcr !== 0) this.rttSample(this.tsNow(now) - r.tsEcr);
    this.setState("ESTABLISHED");
    if (this.passive) {
      this.host.established(this);
    } else {
      this.ackNow = true;
      this.output(now);
      const w = this.openWaiter;
      this.openWaiter = null;
      w?.resolve(this);
    }
    return this.state === "ESTABLISHED";
  }

  /**
   * Answers an unacceptable segment with an ACK. Answers to bare ACKs are limited to one per
   * 500 ms, so two ends that disagree cannot ping-pong ACKs forever (as Linux does).
   */
  private dupAckForInvalid(segLen: number, now: number): void {
    if (segLen === 0) {
      if (now - this.lastInvalidAck < 500) {
        countDrop(this.host.counters, "invalid-ack-limited");
        return;
      }
      this.lastInvalidAck = now;
    }
    this.ackNow = true;
    this.output(now);
  }

  private lastInvalidAck = -Infinity;
  private retransmitsOfSyn = 0;
  /** A half-open passive connection whose SYN-ACK went unanswered and was sent again. */
  get synAckRetransmitted(): boolean {
    return this.state === "SYN_RECEIVED" && this.retransmitsOfSyn > 0;
  }
  private synSentAt = 0;

  /** Returns false when the segment must be dropped. */
  private processAck(r: TcpRepr, segPos: number, ackPos: number, now: number): boolean {
    const counters = this.host.counters;
    if (ackPos > this.sndMax) {
      countDrop(counters, "ack-of-unsent");
      this.ackNow = true;
      this.output(now);
      return false;
    }
    if (ackPos < this.sndUna - Math.max(this.maxSndWnd, 65535)) {
      // RFC 5961 §5: an ACK far below SND.UNA is a blind-injection attempt.
      this.challengeAck(now);
      return false;
    }
    this.retransmits = 0;
    const oldWnd = this.sndWnd;
    const newWnd = r.window << this.sndWScale;
    if (this.sndWl1 < segPos || (this.sndWl1 === segPos && this.sndWl2 <= ackPos)) {
      this.sndWnd = newWnd;
      this.maxSndWnd = Math.max(this.maxSndWnd, newWnd);
      this.sndWl1 = segPos;
      this.sndWl2 = ackPos;
    }
    const unaBefore = this.sndUna;
    const sackedBefore = this.inRecovery && this.sackOk ? this.sackedBytes(this.sndUna, this.sndMax) : 0;
    let newlySacked = 0;
    if (this.sackOk && r.sackCount > 0) newlySacked = this.updateScoreboard(r);

    if (ackPos > this.sndUna) {
      const acked = ackPos - this.sndUna;
      const dataEnd = this.sndBuf.endPos;
      this.sndBuf.release(Math.min(ackPos, dataEnd));
      this.sndUna = ackPos;
      if (this.sndNxt < ackPos) this.sndNxt = ackPos;
      this.trimScoreboard();
      // RTT: timestamps give a sample per ACK; otherwise one timed segment (Karn's rule).
      if (this.tsOk && r.hasTimestamp && r.tsEcr !== 0) this.rttSample(this.tsNow(now) - r.tsEcr);
      else if (this.rttPos >= 0 && ackPos >= this.rttPos) {
        this.rttSample(now - this.rttStart);
        this.rttPos = -1;
      }
      if (this.inRecovery) {
        if (ackPos >= this.recoveryPoint) {
          this.inRecovery = false;
          this.rxtLog.length = 0;
          // RFC 6582 §3.2 step 3 (full ACK): min(ssthresh, max(FlightSize, SMSS) + SMSS), so
          // at least two segments even when the full ACK leaves nothing outstanding.
          this.cc.cwnd = this.sackOk ? this.cc.ssthresh : Math.min(this.cc.ssthresh, Math.max(this.sndMax - this.sndUna, this.mss) + this.mss);
        } else if (!this.sackOk) {
          // RFC 6582 partial ACK: resend the next hole, deflate by what was acknowledged.
          this.retransmitAt(this.sndUna, now);
          this.cc.cwnd = Math.max(this.cc.cwnd - acked + this.mss, this.mss);
        }
      } else if (2 * (this.sndMax - this.sndUna + acked) >= this.cc.cwnd) {
        // Grow only when the window was the limit, not the application (RFC 7661): an idle or
        // buffer-limited sender must not build a huge unvalidated cwnd.
        this.cc.onAck(acked, now, this.srtt < 0 ? 0 : this.srtt);
      }
      this.dupAcks = 0;
      this.limitedTransmits = 0;
      this.rtoAt = this.sndUna < this.sndMax ? now + this.rto : Infinity;
      this.tlpAt = Infinity;
      this.tlpSent = false;
      this.afterAcked(now);
      if (this.state === "CLOSED") return false;
      this.pumpWrites();
    } else if (
      ackPos === this.sndUna &&
      this.sndMax > this.sndUna &&
      r.payload.length === 0 &&
      !(r.flags & (SYN | FIN)) &&
      (newWnd === oldWnd || newlySacked > 0)
    ) {
      this.dupAcks++;
      if (!this.inRecovery && this.dupAcks < DUP_THRESH) this.limitedTransmits++;
      if (this.inRecovery && !this.sackOk) this.cc.cwnd += this.mss;
    }
    if (this.inRecovery && this.sackOk) {
      this.detectLostRetransmissions();
      this.prrOnAck(this.sndUna - unaBefore + this.sackedBytes(this.sndUna, this.sndMax) - sackedBefore);
    }
    if (!this.inRecovery && this.sndUna >= this.recoveryPoint && this.sndMax > this.sndUna) {
      if (this.dupAcks >= DUP_THRESH || (this.sackOk && this.sackLostEnd() > this.sndUna)) this.enterRecovery(now);
    }
    return true;
  }

  /** State changes that follow our FIN being acknowledged. */
  private afterAcked(now: number): void {
    if (!this.finQueued) return;
    const finAcked = this.sndUna > this.sndBuf.endPos;
    if (!finAcked) return;
    switch (this.state) {
      case "FIN_WAIT_1":
        this.setState("FIN_WAIT_2");
        if (this.appClosed) this.closeAt = now + this.host.config.finWait2TimeoutMs;
        break;
      case "CLOSING":
        this.enterTimeWait(now);
        break;
      case "LAST_ACK":
        this.terminate(null);
        break;
    }
  }

  private receiveData(r: TcpRepr, segPos: number, now: number): void {
    const st = this.state;
    const plen = r.payload.length;
    if (st === "TIME_WAIT") {
      // A retransmitted FIN: acknowledge it again and restart 2·MSL.
      if (r.flags & FIN) {
        this.ackNow = true;
        this.closeAt = now + this.host.config.timeWaitMs;
      }
      return;
    }
    if (st !== "ESTABLISHED" && st !== "FIN_WAIT_1" && st !== "FIN_WAIT_2") {
      // Data after the peer's FIN: nothing to do but acknowledge.
      if (plen > 0 || r.flags & FIN) this.ackNow = true;
      return;
    }
    let start = segPos;
    let data = r.payload;
    if (start < this.rcvNxt) {
      data = data.subarray(Math.min(plen, this.rcvNxt - start));
      start = this.rcvNxt;
    }
    let finFits = (r.flags & FIN) !== 0;
    if (start + data.length > this.rcvAdv) {
      data = data.subarray(0, Math.max(0, this.rcvAdv - start));
      finFits = false;
      countDrop(this.host.counters, "beyond-window");
    }
    if (finFits) this.peerFinPos = segPos + plen;
    this.host.counters.bytesIn += data.length;
    if (data.length > 0) {
      if (start === this.rcvNxt) {
        if (!this.readShut) this.recv.pushReady(data);
        this.rcvNxt += data.length;
        if (this.recv.pending.length > 0) {
          this.rcvNxt = this.recv.drainPending(this.rcvNxt);
          if (this.readShut) this.recv.discardReady();
          this.ackNow = true; // a filled hole is reported at once (RFC 5681 §4.2)
        }
        // Every second segment is acknowledged at the end of the batch of frames being
        // processed: one ACK covers all segments of a batch (what GRO gives a kernel).
        // A stretch ACK is capped at 16 segments so the sender's ACK clock keeps ticking.
        // A segment merged by the device (GRO) counts as the segments it holds.
        const before = this.unackedSegments;
        this.unackedSegments += data.length > this.mss ? Math.ceil(data.length / this.mss) : 1;
        if (this.unackedSegments >= 16) this.ackNow = true;
        else if (before < 2 && this.unackedSegments >= 2) this.host.ackSoon(this);
        else if (this.delAckAt === Infinity) this.delAckAt = now + this.host.config.delayedAckMs;
      } else if (this.host.memory.used + data.length > this.host.memory.limit) {
        // Over the budget, out-of-order data goes first: it is not acknowledged, the sender
        // still has it, and the memory stays for in-order data readers can take. The duplicate
        // ACK (without a SACK block for it) tells the sender where the hole is.
        countDrop(this.host.counters, "memory-out-of-order");
        this.ackNow = true;
      } else {
        this.recv.insertPending(start, data);
        this.ackNow = true; // out of order: duplicate ACK with SACK now
        this.host.counters.outOfOrder++;
      }
    } else if (plen > 0) {
      this.ackNow = true;
    }
    if (this.peerFinPos >= 0 && this.rcvNxt === this.peerFinPos && !this.finReceived) {
      this.rcvNxt++;
      this.finReceived = true;
      this.ackNow = true;
      if (this.state === "ESTABLISHED") this.setState("CLOSE_WAIT");
      else if (this.state === "FIN_WAIT_1") {
        this.host.counters.simultaneousCloses++;
        this.setState("CLOSING");
      }
      else if (this.state === "FIN_WAIT_2") this.enterTimeWait(now);
    }
    this.syncWindowReserved();
    this.wakeReaders();
  }

  // ---- SACK scoreboard and recovery ---------------------------------------------------------

  private updateScoreboard(r: TcpRepr): number {
    const base = (this.iss + this.sndUna) >>> 0;
    let added = 0;
    for (let b = 0; b < r.sackCount; b++) {
      let s = this.sndUna + seqDiff(r.sack[2 * b]!, base);
      let e = this.sndUna + seqDiff(r.sack[2 * b + 1]!, base);
      if (s < this.sndUna) s = this.sndUna;
      if (e > this.sndMax) e = this.sndMax;
      if (e <= s) {
        countDrop(this.host.counters, "sack-block-stale");
        continue;
      }
      added += this.addSacked(s, e);
    }
    return added;
  }

  /** Merges [s, e) into the scoreboard; returns bytes newly covered. */
  private addSacked(s: number, e: number): number {
    const a = this.sacked;
    let before = 0;
    for (let i = 0; i < a.length; i += 2) before += a[i + 1]! - a[i]!;
    let i = 0;
    while (i < a.length && a[i + 1]! < s) i += 2;
    let j = i;
    let ns = s;
    let ne = e;
    while (j < a.length && a[j]! <= ne) {
      ns = Math.min(ns, a[j]!);
      ne = Math.max(ne, a[j + 1]!);
      j += 2;
    }
    a.splice(i, j - i, ns, ne);
    let after = 0;
    for (let k = 0; k < a.length; k += 2) after += a[k + 1]! - a[k]!;
    return after - before;
  }

  private trimScoreboard(): void {
    const a = this.sacked;
    let n = 0;
    while (n < a.length && a[n + 1]! <= this.sndUna) n += 2;
    if (n > 0) a.splice(0, n);
    if (a.length > 0 && a[0]! < this.sndUna) a[0] = this.sndUna;
  }

  private sackedBytes(from: number, to: number): number {
    const a = this.sacked;
    let n = 0;
    for (let i = 0; i < a.length; i += 2) {
      const s = Math.max(a[i]!, from);
      const e = Math.min(a[i + 1]!, to);
      if (e > s) n += e - s;
    }
    return n;
  }

  /** Everything unSACKed below this is deemed lost (RFC 6675 IsLost, counted in bytes). */
  private sackLostEnd(): number {
    const a = this.sacked;
    let above = 0;
    let end = this.sndUna;
    for (let i = a.length - 2; i >= 0; i -= 2) {
      above += a[i + 1]! - a[i]!;
      if (above > (DUP_THRESH - 1) * this.mss) {
        end = a[i]!;
        break;
      }
    }
    return Math.max(end, Math.min(this.forcedLostEnd, this.sndMax));
  }

  private pipe(): number {
    const lostEnd = this.sackLostEnd();
    const from = Math.max(this.highRxt, this.sndUna);
    const lostNotResent = from < lostEnd ? lostEnd - from - this.sackedBytes(from, lostEnd) : 0;
    return this.sndMax - this.sndUna - this.sackedBytes(this.sndUna, this.sndMax) - lostNotResent;
  }

  private enterRecovery(now: number): void {
    const flight = this.sndMax - this.sndUna;
    this.inRecovery = true;
    this.rxtLog.length = 0;
    this.recoveryPoint = this.sndMax;
    this.limitedTransmits = 0;
    this.highRxt = this.sndUna;
    this.forcedLostEnd = this.sndUna + 1;
    this.host.counters.fastRecoveries++;
    this.cc.onCongestion(flight, now);
    this.prrDelivered = 0;
    this.prrOut = 0;
    this.recoverFs = flight;
    this.rttPos = -1;
    this.retransmitAt(this.sndUna, now);
    if (!this.sackOk) this.cc.cwnd = this.cc.ssthresh + DUP_THRESH * this.mss;
  }

  /**
   * Proportional Rate Reduction (RFC 6937, PRR-SSRB): what this ACK lets recovery send, as
   * cwnd = pipe + sndcnt. While pipe exceeds ssthresh, sending follows delivery in the ratio
   * ssthresh / RecoverFS, so the reduction is spread over the round trip and the ACK clock
   * keeps ticking (instead of silence until pipe falls below cwnd, then a burst); below
   * ssthresh, it grows back no faster than slow start.
   */
  private prrOnAck(delivered: number): void {
    if (delivered <= 0) return;
    this.prrDelivered += delivered;
    const pipe = this.pipe();
    const ssthresh = this.cc.ssthresh;
    let sndcnt: number;
    if (pipe > ssthresh) {
      sndcnt = Math.ceil((this.prrDelivered * ssthresh) / Math.max(this.recoverFs, 1)) - this.prrOut;
    } else {
      const limit = Math.max(this.prrDelivered - this.prrOut, delivered) + this.mss;
      sndcnt = Math.min(ssthresh - pipe, limit);
    }
    this.cc.cwnd = pipe + Math.max(0, sndcnt);
  }

  /** Resends the segment at `pos` (one MSS at most, up to the next SACKed byte). */
  private retransmitAt(pos: number, now: number): void {
    let end = Math.min(pos + this.segmentRoom(), this.sndMax);
    const a = this.sacked;
    for (let i = 0; i < a.length; i += 2) {
      if (a[i]! > pos) {
        end = Math.min(end, a[i]!);
        break;
      }
    }
    const sent = this.transmitRange(pos, end - pos);
    if (sent > 0) {
      this.host.counters.retransmits++;
      if (pos + sent > this.highRxt) this.highRxt = pos + sent;
      if (this.inRecovery && this.sackOk) this.rxtLog.push(pos, pos + sent, this.sndMax);
      if (this.rtoAt === Infinity) this.rtoAt = now + this.rto;
    }
  }

  /**
   * Payload that fits one segment: the MSS less the SACK blocks we owe the peer, so data
   * segments carry SACK information too (needed when both sides send).
   */
  private segmentRoom(): number {
    const n = this.recv.pending.length;
    if (!this.sackOk || n === 0) return this.mss;
    return this.mss - 4 - 8 * Math.min(n, this.tsOk ? MAX_SACK_BLOCKS_TS : MAX_SACK_BLOCKS);
  }

  /**
   * A retransmission is lost too when data first sent after it has been SACKed while it has
   * not (the idea of RACK, by send order instead of time): mark its range for sending again.
   */
  private detectLostRetransmissions(): void {
    const log = this.rxtLog;
    if (log.length === 0) return;
    const a = this.sacked;
    const highestSacked = a.length > 0 ? a[a.length - 1]! : this.sndUna;
    let w = 0;
    for (let i = 0; i < log.length; i += 3) {
      const start = log[i]!;
      const end = log[i + 1]!;
      const sentMax = log[i + 2]!;
      if (end <= this.sndUna || this.sackedBytes(start, end) === end - start) continue;
      if (highestSacked > sentMax + this.mss) {
        if (start < this.highRxt) this.highRxt = Math.max(this.sndUna, start);
        this.host.counters.lostRetransmits++;
        continue;
      }
      log[w++] = start;
      log[w++] = end;
      log[w++] = sentMax;
    }
    log.length = w;
  }

  /** RFC 6675 NextSeg rule 1: the first lost, not yet resent, unSACKed range. */
  private nextLostHole(): number {
    const lostEnd = this.sackLostEnd();
    let pos = Math.max(this.highRxt, this.sndUna);
    const a = this.sacked;
    for (let i = 0; i < a.length; i += 2) {
      if (pos >= a[i]! && pos < a[i + 1]!) pos = a[i + 1]!;
    }
    return pos < lostEnd ? pos : -1;
  }

  // ---- output -------------------------------------------------------------------------------

  /** The end of an input batch: send the ACK owed unless one went out meanwhile. */
  flushAck(now: number): void {
    if (this.unackedSegments >= 2 && this.state !== "CLOSED") {
      this.ackNow = true;
      this.output(now);
    }
  }

  /** Sends what windows, Nagle and SWS avoidance allow, and any ACK owed. */
  output(now: number): void {
    const st = this.state;
    if (st === "CLOSED" || st === "SYN_SENT" || st === "SYN_RECEIVED") return;
    if (st !== "TIME_WAIT" && st !== "FIN_WAIT_2") {
      if (this.inRecovery && this.sackOk) this.sackRecoveryOutput(now);
      this.sendNewData(now);
    }
    // A bare ACK carries the highest sequence sent, not a rewound SND.NXT: after an RTO both
    // sides may be resending old data, and ACKs that look old to the peer would be discarded
    // there, leaving each side retransmitting into the other's duplicate filter.
    if (this.ackNow) this.sendSegment(this.sndMax, 0, ACK);
    this.armTimers(now);
  }

  private sendNewData(now: number): void {
    const dataEnd = this.sndBuf.endPos;
    const finPos = this.finQueued ? dataEnd : -1;
    for (;;) {
      let pos = this.sndNxt;
      // After an RTO, skip what the peer already holds.
      if (this.sacked.length > 0 && pos < this.sndMax) {
        const a = this.sacked;
        for (let i = 0; i < a.length; i += 2) if (pos >= a[i]! && pos < a[i + 1]!) pos = a[i + 1]!;
        this.sndNxt = pos;
      }
      if (finPos >= 0 ? pos > finPos : pos >= dataEnd) return;
      const flight = this.inRecovery && this.sackOk ? this.pipe() : pos - this.sndUna;
      let cwndRoom = this.cc.cwnd - flight;
      // Limited Transmit (RFC 3042, part of RFC 6675): each of the first two duplicate ACKs
      // sends one new segment cwnd does not allow, as long as no more than cwnd + 2·SMSS is
      // outstanding, so a loss in a small window still brings the DupThresh duplicate ACKs
      // (or SACKed bytes) that start fast recovery instead of an RTO.
      const limited = this.limitedTransmits > 0 && !this.inRecovery && pos >= this.sndMax && cwndRoom < this.segmentRoom();
      if (limited) cwndRoom = Math.min(this.segmentRoom(), this.cc.cwnd + (DUP_THRESH - 1) * this.mss - flight);
      const wndRoom = this.sndUna + this.sndWnd - pos;
      const avail = dataEnd - pos;
      const room = this.segmentRoom();
      let len = Math.min(avail, this.sendGoal(room), wndRoom, Math.max(0, Math.floor(cwndRoom)));
      if (len < 0) len = 0;
      let segmentSize = 0;
      if (len > room) {
        // Several segments in one write for the device to cut (TSO). A short last one rides
        // along only at the end of the data, and only where Nagle would let it go alone.
        segmentSize = room;
        const tail = len % room;
        if (tail !== 0 && !(len === avail && (this.noDelay || this.sndMax === this.sndUna))) len -= tail;
      }
      const fin = finPos >= 0 && len === avail && (cwndRoom > 0 || pos < this.sndMax);
      if (len === 0 && !fin) return;
      if (len < room && !fin && pos >= this.sndMax) {
        const nothingUnacked = this.sndMax === this.sndUna;
        const nagleOk = this.noDelay || nothingUnacked;
        const all = len === avail;
        // Nagle (RFC 896) and sender SWS avoidance (RFC 9293 §3.8.6.2.1).
        if (!((all && nagleOk) || (nothingUnacked && len >= this.maxSndWnd / 2))) return;
      }
      const sent = this.transmitRange(pos, len + (fin ? 1 : 0), segmentSize);
      if (sent === 0) return;
      if (limited) this.limitedTransmits--;
      if (pos < this.sndMax) this.host.counters.retransmits++;
      else if (this.rttPos < 0 && !this.tsOk) {
        this.rttPos = pos + sent;
        this.rttStart = now;
      }
      this.sndNxt = pos + sent;
      if (this.sndNxt > this.sndMax) this.sndMax = this.sndNxt;
      if (this.rtoAt === Infinity) this.rtoAt = now + this.rto;
    }
  }

  private sackRecoveryOutput(now: number): void {
    for (let guard = 0; guard < 1000; guard++) {
      if (this.cc.cwnd - this.pipe() < this.mss) return;
      const hole = this.nextLostHole();
      if (hole < 0) return;
      this.retransmitAt(hole, now);
      if (this.highRxt <= hole) return;
    }
  }

  /**
   * The most new data one write may carry: a segment, or with device segmentation as many whole
   * segments as fit its largest frame (the TCP header can grow to 60 bytes).
   */
  private sendGoal(room: number): number {
    const o = this.host.offload;
    if (o === undefined || !o.segmentation) return room;
    return Math.max(room, Math.floor((o.maxSegmented - 60) / room) * room);
  }

  /**
   * Sends positions [pos, pos+n) as one segment (or, with `segmentSize`, as one write the device
   * cuts into segments of that size): data from the send buffer, and the FIN if the range
   * reaches it. Returns the positions consumed (0 if nothing was sent).
   */
  private transmitRange(pos: number, n: number, segmentSize = 0): number {
    const dataEnd = this.sndBuf.endPos;
    const dataLen = Math.max(0, Math.min(n, dataEnd - pos));
    const fin = this.finQueued && pos + dataLen === dataEnd && n > dataLen;
    if (dataLen === 0 && !fin) return 0;
    let flags = ACK;
    if (fin) flags |= FIN;
    if (dataLen > 0 && pos + dataLen === dataEnd) flags |= PSH;
    const err = this.sendSegment(pos, dataLen, flags, dataLen > segmentSize ? segmentSize : 0);
    if (err) return 0;
    if (this.inRecovery) this.prrOut += dataLen;
    return dataLen + (fin ? 1 : 0);
  }

  private tsNow(now: number): number {
    return (Math.floor(now) + this.tsOffset) >>> 0;
  }

  /**
   * Builds and sends one segment at position `pos` with `len` data bytes; `segmentSize` > 0: the
   * device cuts the data into segments of that size, each with a copy of this header.
   */
  private sendSegment(pos: number, len: number, flags: number, segmentSize = 0): Error | null {
    const h = this.hdr;
    const now = this.host.clock.nowMs();
    const syn = (flags & SYN) !== 0;
    h.seq = (this.iss + pos) >>> 0;
    h.flags = flags;
    h.ack = flags & ACK ? (this.irs + this.rcvNxt) >>> 0 : 0;
    h.window = this.windowField(syn);
    if (syn) {
      h.mss = this.ourMss;
      h.windowScale = (flags & ACK ? this.wsOk : this.offerWs) ? this.rcvWScale : -1;
      h.sackPermitted = flags & ACK ? this.sackOk : this.offerSack;
      h.hasTimestamp = flags & ACK ? this.tsOk : this.offerTs;
    } else {
      h.mss = -1;
      h.windowScale = -1;
      h.sackPermitted = false;
      h.hasTimestamp = this.tsOk;
    }
    if (h.hasTimestamp) {
      h.tsVal = this.tsNow(now);
      h.tsEcr = flags & ACK ? this.tsRecent : 0;
    }
    h.sackCount = 0;
    if (this.sackOk && !syn && flags & ACK && this.recv.pending.length > 0) {
      const max = this.tsOk ? MAX_SACK_BLOCKS_TS : MAX_SACK_BLOCKS;
      // Data segments keep their size: only the blocks that still fit in the path MSS.
      const perSegment = segmentSize > 0 ? segmentSize : len;
      const room = len > 0 ? Math.floor((this.pathMss - (this.tsOk ? TS_OPTION_BYTES : 0) - perSegment - 4) / 8) : max;
      const n = this.recv.sackBlocks(this.sackScratch, Math.min(max, Math.max(0, room)));
      const base = this.irs;
      for (let b = 0; b < n; b++) {
        h.sack[2 * b] = (base + this.sackScratch[2 * b]!) >>> 0;
        h.sack[2 * b + 1] = (base + this.sackScratch[2 * b + 1]!) >>> 0;
      }
      h.sackCount = n;
    }
    const hlen = tcpHeaderLength(h);
    const header = new Uint8Array(hlen);
    emitTcpHeader(h, header);
    const parts: Uint8Array[] = [header];
    if (len > 0) this.sndBuf.gather(pos, len, parts);
    if (this.host.offload === undefined) setTcpChecksum(header, hlen, parts, this.pseudoBase + hlen + len, 1);
    else {
      // The device sums header and data; the field starts as the pseudo-header sum.
      const partial = foldSum(this.pseudoBase + hlen + len);
      header[16] = partial >>> 8;
      header[17] = partial;
    }
    const err = this.host.transmit(this, parts, segmentSize);
    if (err) return err;
    const c = this.host.counters;
    c.segmentsOut += segmentSize > 0 ? Math.ceil(len / segmentSize) : 1;
    c.bytesOut += len;
    if (flags & ACK) {
      this.lastAckSent = this.rcvNxt;
      this.ackNow = false;
      this.unackedSegments = 0;
      this.delAckAt = Infinity;
    }
    return null;
  }

  /** Set by freeSpace: the memory budget, not the buffer or window growth, decided the window. */
  private budgetLimitsWindow = false;

  /**
   * The window we may offer from rcvNxt: room in our buffer, within the window grown so far, and
   * within what the instance's budget allows (what is free, plus our own reservation and
   * out-of-order bytes, which are counted already), never below our floor.
   */
  private freeSpace(): number {
    const r = this.recv;
    const own = Math.min(this.host.config.receiveBufferSize - r.readyBytes - r.pendingBytes, Math.max(INITIAL_WINDOW, 2 * this.rcvNxt));
    const budget = Math.max(this.memoryTakeable() + this.windowReserved + r.pendingBytes, MEMORY_FLOOR_SEGMENTS * this.mss - r.readyBytes);
    this.budgetLimitsWindow = budget < own;
    return Math.max(0, Math.min(own, budget));
  }

  /** Bytes of the budget this connection may take now: what is free, up to its fair share. */
  private memoryTakeable(): number {
    const free = this.host.memory.free;
    const share = this.host.memoryShare(this);
    if (share === Infinity) return free;
    const holding = this.recv.readyBytes + this.recv.pendingBytes + this.windowReserved + this.sndBuf.length;
    return Math.min(free, share - holding);
  }

  /**
   * Keeps our reservation equal to the window advertised and not yet filled. Nothing is reserved
   * once no more data can come (FIN received, reading shut, closing or closed).
   */
  private syncWindowReserved(): void {
    const st = this.state;
    const open = !this.finReceived && !this.readShut && st !== "CLOSED" && st !== "CLOSE_WAIT" && st !== "LAST_ACK" && st !== "CLOSING" && st !== "TIME_WAIT";
    const w = open ? Math.max(0, this.rcvAdv - Math.max(this.rcvNxt, 1) - this.recv.pendingBytes) : 0;
    if (w !== this.windowReserved) {
      this.host.memory.reserve(this.windowReserved, w, !open);
      this.windowReserved = w;
    }
  }

  /**
   * Synchronized and still taking data: a window held back by the budget is worth reopening
   * (a half-open connection, possibly a SYN flood's, waits for no memory; its ACK brings it here).
   */
  private receiving(): boolean {
    const st = this.state;
    return (st === "ESTABLISHED" || st === "FIN_WAIT_1" || st === "FIN_WAIT_2") && !this.finReceived && !this.readShut;
  }

  /** The window field to advertise; never shrinks the right edge, avoids silly small openings. */
  private windowField(syn: boolean): number {
    let field: number;
    if (syn) {
      field = Math.min(this.freeSpace(), 0xffff);
      // Data starts at position 1 (the SYN is 0), also before the peer's SYN set rcvNxt.
      const adv = Math.max(this.rcvNxt, 1) + field;
      if (adv > this.rcvAdv) this.rcvAdv = adv;
    } else {
      let right = this.rcvNxt + this.freeSpace();
      const threshold = Math.min(this.host.config.receiveBufferSize / 2, this.mss);
      if (right < this.rcvAdv || right - this.rcvAdv < threshold) right = Math.max(this.rcvAdv, this.rcvNxt);
      field = Math.min((right - this.rcvNxt) >> this.rcvWScale, 0xffff);
      if (field === 0) this.host.counters.zeroWindowsSent++;
      const adv = this.rcvNxt + field * 2 ** this.rcvWScale;
      if (adv > this.rcvAdv) this.rcvAdv = adv;
    }
    this.syncWindowReserved();
    if (this.budgetLimitsWindow && this.receiving()) {
      if (!this.windowHeldBack) {
        this.windowHeldBack = true;
        this.host.counters.memoryLimitedWindows++;
      }
      this.waitForMemory();
    } else this.windowHeldBack = false;
    return field;
  }

  private challengeAck(now: number): void {
    const c = this.host.counters;
    if (!this.host.allowChallengeAck(now)) {
      countDrop(c, "challenge-ack-limited");
      return;
    }
    c.challengeAcks++;
    this.sendSegment(this.sndMax, 0, ACK);
  }

  private sendReset(seq: number, ack: number, withAck: boolean): void {
    this.host.sendReset(this.local, this.remote, this.pseudoBase, seq, ack, withAck);
  }

  /** Aborts with a RST to the peer (RFC 9293 ABORT). */
  private abortWithReset(err: FlowError | null): void {
    if (this.state !== "CLOSED" && this.state !== "SYN_SENT" && this.state !== "TIME_WAIT") {
      this.sendReset((this.iss + this.sndNxt) >>> 0, (this.irs + this.rcvNxt) >>> 0, true);
    }
    this.terminate(err);
  }

  // ---- timers -------------------------------------------------------------------------------

  private armRto(now: number): void {
    this.rtoAt = now + this.rto;
    this.armTimers(now);
  }

  private armTimers(now: number): void {
    if (this.state === "CLOSED") return;
    // Persist: data waits, nothing in flight, no RTO running (zero or tiny window).
    if (this.rtoAt === Infinity && this.sndNxt === this.sndUna && this.sndBuf.endPos > this.sndNxt && this.state !== "TIME_WAIT") {
      this.rtoAt = now + this.rto;
    }
    if (this.keepalive && this.keepAt === Infinity && (this.state === "ESTABLISHED" || this.state === "CLOSE_WAIT")) {
      this.keepAt = this.lastHeard + this.keepalive.afterMs;
    }
    if (this.tlpAt === Infinity && !this.tlpSent && this.sackOk && !this.inRecovery && this.srtt >= 0 && this.sndMax > this.sndUna && this.rtoAt < Infinity) {
      const st = this.state;
      if (st === "ESTABLISHED" || st === "CLOSE_WAIT" || st === "FIN_WAIT_1" || st === "LAST_ACK" || st === "CLOSING") {
        // PTO: two RTTs, plus room for a delayed ACK when only one segment is out.
        const pto = Math.max(2 * this.srtt, 10) + (this.sndMax - this.sndUna <= this.mss ? 200 : 0);
        if (now + pto < this.rtoAt) this.tlpAt = now + pto;
      }
    }
    const at = Math.min(this.rtoAt, this.tlpAt, this.delAckAt, this.keepAt, this.closeAt);
    if (at < Infinity) this.host.timers.schedule(this, at);
  }

  /** Read through a method so the compiler does not narrow it across calls that change it. */
  isClosed(): boolean {
    return this.state === "CLOSED";
  }

  onTimer(now: number): void {
    if (this.state === "CLOSED") return;
    if (this.closeAt <= now) {
      this.closeAt = Infinity;
      if (this.state === "TIME_WAIT" || this.state === "FIN_WAIT_2") {
        if (this.state === "FIN_WAIT_2") countDrop(this.host.counters, "fin-wait-2-timeout");
        this.terminate(null);
        return;
      }
    }
    if (this.rtoAt <= now) {
      this.rtoAt = Infinity;
      this.onRto(now);
      if (this.isClosed()) return;
    }
    if (this.tlpAt <= now) {
      this.tlpAt = Infinity;
      this.onTailLossProbe(now);
    }
    if (this.delAckAt <= now) {
      this.delAckAt = Infinity;
      this.ackNow = true;
      this.output(now);
    }
    if (this.keepAt <= now) {
      this.keepAt = Infinity;
      this.onKeepalive(now);
      if (this.isClosed()) return;
    }
    this.armTimers(now);
  }

  /**
   * The last segments of a flight were maybe lost and no ACK will say so: send one segment
   * (new data if the windows allow, else the last one again) so the peer's SACK reveals the
   * loss and recovery starts without waiting for the RTO.
   */
  private onTailLossProbe(now: number): void {
    if (this.inRecovery || this.sndMax <= this.sndUna || this.sndNxt !== this.sndMax) return;
    this.tlpSent = true;
    const dataEnd = this.sndBuf.endPos;
    const room = Math.min(this.sndUna + this.sndWnd - this.sndMax, this.segmentRoom());
    let sent = 0;
    if (dataEnd > this.sndMax && room > 0) {
      sent = this.transmitRange(this.sndMax, Math.min(room, dataEnd - this.sndMax));
      this.sndNxt = this.sndMax = this.sndMax + sent;
    } else {
      const start = Math.max(this.sndUna, this.sndMax - this.segmentRoom());
      sent = this.transmitRange(start, this.sndMax - start);
      if (sent > 0) this.host.counters.retransmits++;
    }
    if (sent > 0) {
      this.host.counters.tailLossProbes++;
      this.rtoAt = now + this.rto;
    }
  }

  /**
   * An ICMP error quoting our segment with sequence number `seq`. Only one about data in flight
   * counts (RFC 5927 §4.1: a blind attacker must guess it). A smaller path MTU shrinks the MSS
   * and resends what was in flight (RFC 1191); a refusal (port or protocol unreachable, or
   * prohibited) ends a connection still opening; anything else is a soft error, reported only if
   * the connection later times out. In synchronized states even refusals are soft (RFC 5927 §7).
   */
  icmpError(r: IpErrorReport, seq: number, now: number): void {
    const c = this.host.counters;
    const d = seqDiff(seq, (this.iss + this.sndUna) >>> 0);
    if (this.state === "CLOSED" || this.state === "TIME_WAIT" || d < 0 || this.sndUna + d >= Math.max(this.sndMax, this.sndUna + 1)) {
      return countDrop(c, "icmp-out-of-window");
    }
    c.icmpErrors++;
    const what = `${r.reporter} answered with ICMP ${r.kind} (type ${r.type} code ${r.code})`;
    if (r.kind === "too-big") return this.pathMtuReduced(r.mtu, now);
    const opening = this.state === "SYN_SENT" || this.state === "SYN_RECEIVED";
    if (opening && (r.kind === "port-unreachable" || r.kind === "protocol-unreachable" || r.kind === "prohibited")) {
      this.terminate(new FlowError("refused", `connection to ${this.remote.address}:${this.remote.port} refused: ${what}`));
      return;
    }
    this.softError = `; last, ${what}`;
  }

  private pathMtuReduced(mtu: number, now: number): void {
    const v6 = this.remote.address.includes(":");
    // Lowest path MTU we accept: IPv6's minimum link MTU, and Linux's floor for IPv4 (a forged
    // tiny MTU must not make us send 8-byte segments).
    const floor = v6 ? 1280 - 60 : 552 - 40;
    const pathMss = Math.max(floor, mtu - (v6 ? 40 : 20) - 20);
    if (mtu === 0 || pathMss >= this.pathMss) return;
    this.host.counters.pathMtuReductions++;
    this.pathMss = pathMss;
    this.mss = pathMss - (this.tsOk ? TS_OPTION_BYTES : 0);
    // What was in flight was too big for the path: send it again in the new size, without
    // treating the loss as congestion (Linux's tcp_simple_retransmit).
    if (this.state !== "SYN_SENT" && this.state !== "SYN_RECEIVED" && this.sndMax > this.sndUna) {
      this.sndNxt = this.sndUna;
      this.rttPos = -1;
      this.output(now);
    }
  }

  private backoff(): void {
    this.rto = Math.min(this.rto * 2, this.host.config.maxRtoMs);
  }

  private onRto(now: number): void {
    const cfg = this.host.config;
    const c = this.host.counters;
    c.rtoExpiries++;
    if (this.state === "SYN_SENT" || this.state === "SYN_RECEIVED") {
      if (++this.retransmitsOfSyn > cfg.synRetries) {
        c.timeouts++;
        if (this.state === "SYN_RECEIVED") countDrop(c, "syn-received-timeout");
        this.terminate(new FlowError("timeout", `connection to ${this.remote.address}:${this.remote.port} timed out: no answer to ${cfg.synRetries + 1} SYNs${this.softError}`));
        return;
      }
      this.backoff();
      c.retransmits++;
      this.sendSegment(0, 0, this.state === "SYN_SENT" ? SYN : SYN | ACK);
      this.rtoAt = now + this.rto;
      return;
    }
    const flight = this.sndMax - this.sndUna;
    if (flight === 0) {
      // Persist timer: nothing in flight, data waiting behind a closed or tiny window.
      if (this.sndBuf.endPos > this.sndNxt || (this.finQueued && this.sndNxt <= this.sndBuf.endPos)) {
        const room = this.sndUna + this.sndWnd - this.sndNxt;
        const n = room > 0 ? Math.min(room, this.mss) : 1;
        const sent = this.transmitRange(this.sndNxt, n);
        this.sndNxt += sent;
        if (this.sndNxt > this.sndMax) this.sndMax = this.sndNxt;
        this.backoff();
        this.rtoAt = now + this.rto;
      }
      return;
    }
    if (++this.retransmits > cfg.maxRetransmits) {
      c.timeouts++;
      this.abortWithReset(new FlowError("timeout", `connection to ${this.remote.address}:${this.remote.port} timed out after ${cfg.maxRetransmits} retransmissions${this.softError}`));
      return;
    }
    this.rttPos = -1;
    if (this.sndWnd === 0 && flight <= 1) {
      // A zero-window probe went unanswered: probe again, the path is not congested.
      this.transmitRange(this.sndUna, 1);
      this.backoff();
      this.rtoAt = now + this.rto;
      return;
    }
    // No probes during RTO recovery (RFC 8985 §7.2): the next advancing ACK allows them again.
    this.tlpAt = Infinity;
    this.tlpSent = true;
    // One reduction per window of data (RFC 5681 §3.1, RFC 6582, RFC 6675): a timeout while
    // SND.UNA is still below the recovery point of a fast recovery or an earlier timeout (the
    // retransmission timed out again) holds ssthresh; only cwnd falls to one segment.
    this.cc.onTimeout(flight, this.sndUna < this.recoveryPoint);
    this.inRecovery = false;
    this.rxtLog.length = 0;
    this.recoveryPoint = this.sndMax;
    this.dupAcks = 0;
    this.limitedTransmits = 0;
    // A second timeout in a row: the receiver may have dropped what it SACKed (RFC 2018 §8).
    if (this.retransmits > 1) this.sacked.length = 0;
    this.highRxt = this.sndUna;
    this.sndNxt = this.sndUna;
    this.backoff();
    this.rtoAt = now + this.rto;
    this.output(now);
  }

  private onKeepalive(now: number): void {
    const k = this.keepalive;
    if (!k || (this.state !== "ESTABLISHED" && this.state !== "CLOSE_WAIT")) return;
    if (this.keepProbes === 0 && now - this.lastHeard < k.afterMs) {
      this.keepAt = this.lastHeard + k.afterMs;
      return;
    }
    if (this.keepProbes >= k.probes) {
      this.host.counters.timeouts++;
      this.abortWithReset(new FlowError("timeout", `connection to ${this.remote.address}:${this.remote.port} timed out: ${k.probes} keepalive probes unanswered`));
      return;
    }
    this.keepProbes++;
    // Probe with SND.UNA − 1: the peer must answer with an ACK.
    this.sendSegment(this.sndUna - 1, 0, ACK);
    this.keepAt = now + k.intervalMs;
  }

  private rttSample(rtt: number): void {
    const r = Math.max(0, rtt);
    if (this.srtt < 0) {
      this.srtt = r;
      this.rttvar = r / 2;
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - r);
      this.srtt = 0.875 * this.srtt + 0.125 * r;
    }
    const cfg = this.host.config;
    this.rto = Math.min(cfg.maxRtoMs, Math.max(cfg.minRtoMs, this.srtt + Math.max(1, 4 * this.rttvar)));
  }

  // ---- state changes ------------------------------------------------------------------------

  private setState(to: TcpState): void {
    const from = this.state;
    if (from === to) return;
    this.state = to;
    this.host.transition(this, from, to);
    this.syncWindowReserved();
    // close() is done once our FIN is acknowledged; FIN_WAIT_2 and TIME_WAIT run on their own timers.
    if (to === "FIN_WAIT_2" || to === "TIME_WAIT" || to === "CLOSED") this.settleClosers();
  }

  private enterTimeWait(now: number): void {
    this.setState("TIME_WAIT");
    this.rtoAt = Infinity;
    this.delAckAt = Infinity;
    this.keepAt = Infinity;
    this.closeAt = now + this.host.config.timeWaitMs;
    this.sndBuf.release(this.sndBuf.endPos);
    this.wakeReaders();
  }

  /** Frees the connection: every path out of the table comes through here. */
  terminate(err: FlowError | null): void {
    if (this.state === "CLOSED") return;
    const from = this.state;
    this.state = "CLOSED";
    this.host.timers.cancel(this);
    this.rtoAt = this.tlpAt = this.delAckAt = this.keepAt = this.closeAt = Infinity;
    if (err && !this.error) this.error = err;
    this.host.closed(this, from);
    const open = this.openWaiter;
    this.openWaiter = null;
    open?.reject(err ?? new FlowError("closed", `connection to ${this.remote.address}:${this.remote.port} closed while opening`));
    const writeErr = this.error ?? new FlowError("closed", "flow is closed");
    for (const w of this.writes) w.reject(writeErr);
    this.writes.length = 0;
    if (this.finAfterWrites) for (const w of this.finAfterWrites) w.resolve();
    this.finAfterWrites = null;
    this.wakeReaders();
    this.settleClosers();
    this.sndBuf.release(this.sndBuf.endPos);
    this.sacked.length = 0;
    this.recv.detach();
    this.syncWindowReserved();
  }

  private settleClosers(): void {
    const ws = this.closeWaiters;
    this.closeWaiters = [];
    for (const w of ws) w.resolve();
  }

  // ---- the Flow -----------------------------------------------------------------------------

  private wakeReaders(): void {
    while (this.readers.length > 0) {
      const chunk = this.readShut ? null : this.recv.take();
      if (chunk !== null) {
        this.readers.shift()!.resolve(chunk);
        this.afterRead();
        continue;
      }
      if (this.finReceived || this.readShut || this.state === "CLOSED") {
        const w = this.readers.shift()!;
        if (this.error && !this.finReceived && !this.readShut) w.reject(this.error);
        else w.resolve(null);
        continue;
      }
      return;
    }
  }

  /** Window update after the application made room (the fix for mirage-tcpip #340). */
  private afterRead(): void {
    this.offerWindowUpdate();
  }

  /**
   * Sends a window update when the window can open by a worthwhile amount: the application made
   * room, or the memory budget did. Returns whether one was sent.
   */
  private offerWindowUpdate(): boolean {
    const st = this.state;
    if (st !== "ESTABLISHED" && st !== "FIN_WAIT_1" && st !== "FIN_WAIT_2") return false;
    const advertised = this.rcvAdv - this.rcvNxt;
    const possible = this.freeSpace();
    const buf = this.host.config.receiveBufferSize;
    if (advertised < buf / 2 && possible - advertised >= Math.min(buf / 2, 2 * this.mss)) {
      this.host.counters.windowUpdates++;
      this.ackNow = true;
      this.output(this.host.clock.nowMs());
      return true;
    }
    return false;
  }

  /**
   * The budget has room again (called by the instance, this connection's turn among those
   * waiting): queued writes and a held-back window take what they can. Returns false when this
   * connection took nothing and waits on, so the instance can end its pass.
   */
  memoryFreed(): boolean {
    this.waitingForMemory = false;
    if (this.state === "CLOSED") return true;
    const free = this.host.memory.free;
    if (this.writes.length > 0) this.pumpWrites();
    if (this.windowHeldBack && !this.offerWindowUpdate()) {
      // Not worth an update yet: wait on while the budget is what holds the window.
      this.freeSpace();
      if (this.budgetLimitsWindow && this.receiving()) this.waitForMemory();
      else this.windowHeldBack = false;
    }
    return this.host.memory.free < free || !this.waitingForMemory;
  }

  private waitForMemory(): void {
    if (this.waitingForMemory) return;
    this.waitingForMemory = true;
    this.host.waitForMemory(this);
  }

  read(): Promise<Uint8Array | null> {
    const chunk = this.readShut ? null : this.recv.take();
    if (chunk !== null) {
      this.afterRead();
      return Promise.resolve(chunk);
    }
    if (this.finReceived || this.readShut) return Promise.resolve(null);
    if (this.state === "CLOSED") return this.error ? Promise.reject(this.error) : Promise.resolve(null);
    return new Promise((resolve, reject) => this.readers.push({ resolve, reject }));
  }

  write(data: Uint8Array): Promise<void> {
    if (this.error) return Promise.reject(this.error);
    if (this.finQueued || this.finAfterWrites || this.state === "CLOSED" || this.appClosed) {
      return Promise.reject(new FlowError("closed", `write on a flow to ${this.remote.address}:${this.remote.port} after shutdown or close`));
    }
    if (data.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.writes.push({ data, offset: 0, resolve, reject });
      this.pumpWrites();
    });
  }

  async writev(chunks: readonly Uint8Array[]): Promise<void> {
    const ps = chunks.map((c) => this.write(c));
    await Promise.all(ps);
  }

  /** Moves queued writes into the send buffer as room allows, then sends. */
  private pumpWrites(): void {
    const cap = this.host.config.sendBufferSize;
    let moved = false;
    while (this.writes.length > 0) {
      const w = this.writes[0]!;
      // What the budget lets us take, but always a floor of our own so no connection starves.
      // When the budget is what limits us, queue no more than twice what the peer's window
      // takes: more would only wait, holding memory our own receive window (and through it
      // the peer's sending) could use.
      const own = cap - this.sndBuf.length;
      let budget = this.memoryTakeable();
      if (budget < own) budget = Math.min(budget, 2 * this.sndWnd - this.sndBuf.length);
      const room = Math.min(own, Math.max(budget, MEMORY_FLOOR_SEGMENTS * this.mss - this.sndBuf.length));
      if (room <= 0) break;
      const n = Math.min(room, w.data.length - w.offset);
      this.sndBuf.append(w.data, w.offset, n);
      w.offset += n;
      moved = true;
      if (w.offset < w.data.length) break;
      this.writes.shift();
      w.resolve();
    }
    if (this.writes.length > 0 && this.sndBuf.length < cap && this.state !== "CLOSED") {
      // Held by the budget, not by our own buffer. ACKs pump again; the instance wakes us when
      // memory frees, unless it is the peer's window that holds us (memory would not help).
      if (!this.writeHeldBack) {
        this.writeHeldBack = true;
        this.host.counters.memoryDelayedWrites++;
      }
      if (this.memoryTakeable() <= 2 * this.sndWnd - this.sndBuf.length) this.waitForMemory();
    } else this.writeHeldBack = false;
    if (this.writes.length === 0 && this.finAfterWrites) {
      const ws = this.finAfterWrites;
      this.finAfterWrites = null;
      this.queueFin();
      for (const w of ws) w.resolve();
      moved = true;
    }
    if (moved) this.output(this.host.clock.nowMs());
  }

  private queueFin(): void {
    if (this.finQueued) return;
    this.finQueued = true;
    if (this.state === "ESTABLISHED") this.setState("FIN_WAIT_1");
    else if (this.state === "CLOSE_WAIT") this.setState("LAST_ACK");
  }

  setNoDelay(noDelay: boolean): void {
    this.noDelay = noDelay;
    if (noDelay) this.output(this.host.clock.nowMs());
  }

  async shutdown(direction: "read" | "write" | "read-write"): Promise<void> {
    if (direction !== "write") {
      this.readShut = true;
      this.recv.discardReady();
      this.syncWindowReserved();
      this.wakeReaders();
      this.afterRead();
    }
    if (direction !== "read" && !this.finQueued && this.state !== "CLOSED") {
      await new Promise<void>((resolve, reject) => {
        (this.finAfterWrites ??= []).push({ resolve, reject });
        this.pumpWrites();
      });
    }
  }

  async close(): Promise<void> {
    if (this.state === "CLOSED") return;
    this.appClosed = true;
    // Unread data is lost: tell the peer with a RST instead of a FIN (RFC 2525 §2.17).
    if (this.recv.readyBytes > 0 || this.recv.pendingBytes > 0) {
      this.abortWithReset(null);
      return;
    }
    this.readShut = true;
    this.wakeReaders();
    const done = new Promise<void>((resolve, reject) => this.closeWaiters.push({ resolve, reject }));
    if (this.state === "FIN_WAIT_2") this.closeAt = this.host.clock.nowMs() + this.host.config.finWait2TimeoutMs;
    await this.shutdown("write");
    if (this.state === "FIN_WAIT_2") {
      this.closeAt = Math.min(this.closeAt, this.host.clock.nowMs() + this.host.config.finWait2TimeoutMs);
      this.armTimers(this.host.clock.nowMs());
    }
    const st = this.state as TcpState;
    if (st === "FIN_WAIT_2" || st === "TIME_WAIT" || st === "CLOSED") return;
    await done;
  }

  /** Tears the flow down at once with a RST. */
  abort(reason?: unknown): void {
    if (this.state === "CLOSED") return;
    void reason;
    this.abortWithReset(null);
  }

  get readable(): ReadableStream<Uint8Array> {
    return (this._readable ??= readableFromFlow(this.io()));
  }

  get writable(): WritableStream<Uint8Array> {
    return (this._writable ??= writableFromFlow(this.io()));
  }

  private io() {
    return {
      read: () => this.read(),
      write: (d: Uint8Array) => this.write(d),
      shutdownWrite: () => this.shutdown("write"),
      shutdownRead: () => this.shutdown("read"),
      abort: async (reason: unknown) => this.abort(reason),
    };
  }

  /** For tests and diagnostics. */
  debugState(): { sndUna: number; sndNxt: number; sndMax: number; sndWnd: number; rcvNxt: number; rcvWindow: number; cwnd: number; ssthresh: number; rto: number; srtt: number; mss: number; sackOk: boolean; tsOk: boolean; sndWScale: number; rcvWScale: number; congestion: string; buffered: number } {
    return {
      sndUna: this.sndUna,
      sndNxt: this.sndNxt,
      sndMax: this.sndMax,
      sndWnd: this.sndWnd,
      rcvNxt: this.rcvNxt,
      rcvWindow: this.rcvAdv - this.rcvNxt,
      cwnd: this.cc.cwnd,
      ssthresh: this.cc.ssthresh,
      rto: this.rto,
      srtt: this.srtt,
      mss: this.mss,
      sackOk: this.sackOk,
      tsOk: this.tsOk,
      sndWScale: this.sndWScale,
      rcvWScale: this.rcvWScale,
      congestion: this.cc.name,
      buffered: this.recv.readyBytes,
    };
  }

  /** A SYN arrived for this TIME_WAIT connection: may the 4-tuple be reused (RFC 6191)? */
  acceptsReuse(r: TcpRepr): boolean {
    if (this.state !== "TIME_WAIT") return false;
    if (this.tsOk && r.hasTimestamp) return seqLt(this.tsRecent, r.tsVal);
    return seqLt((this.irs + this.rcvNxt) >>> 0, r.seq);
  }

}

