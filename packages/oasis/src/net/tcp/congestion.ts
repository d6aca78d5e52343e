// Congestion control: the window arithmetic only. Loss detection and recovery (RFC 6675 /
// RFC 6582) live in the connection, which calls these on ACKs, congestion events and RTOs.

export type CongestionAlgorithm = "cubic" | "newreno";

export interface CongestionControl {
  readonly name: CongestionAlgorithm;
  /** Bytes. */
  cwnd: number;
  ssthresh: number;
  /** New data acknowledged outside loss recovery. */
  onAck(acked: number, nowMs: number, srttMs: number): void;
  /** Loss detected by duplicate ACKs or SACK: sets ssthresh and cwnd = ssthresh. */
  onCongestion(flight: number, nowMs: number): void;
  /**
   * Retransmission timeout: cwnd falls to one segment. `keepSsthresh` when the timeout strikes
   * a window of data already answered by a reduction (a repeated timeout, or one during a
   * recovery): RFC 5681 §3.1 holds ssthresh constant then, one reduction per window of data.
   */
  onTimeout(flight: number, keepSsthresh?: boolean): void;
}

/** RFC 6928 initial window. */
export function initialWindow(mss: number): number {
  return Math.min(10 * mss, Math.max(2 * mss, 14600));
}

export class NewReno implements CongestionControl {
  readonly name = "newreno";
  cwnd: number;
  ssthresh = Infinity;
  private acc = 0;
  constructor(private readonly mss: number) {
    this.cwnd = initialWindow(mss);
  }
  onAck(acked: number): void {
    if (this.cwnd < this.ssthresh) {
      // Byte counting (RFC 3465) without the per-ACK limit: receivers that batch ACKs (GRO,
      // ours) acknowledge many segments at once.
      this.cwnd = Math.min(this.cwnd + acked, Math.max(this.ssthresh, this.cwnd));
      return;
    }
    this.acc += acked;
    if (this.acc >= this.cwnd) {
      this.acc -= this.cwnd;
      this.cwnd += this.mss;
    }
  }
  onCongestion(flight: number): void {
    this.ssthresh = Math.max(flight / 2, 2 * this.mss);
    this.cwnd = this.ssthresh;
    this.acc = 0;
  }
  onTimeout(flight: number, keepSsthresh = false): void {
    if (!keepSsthresh) this.ssthresh = Math.max(flight / 2, 2 * this.mss);
    this.cwnd = this.mss;
    this.acc = 0;
  }
}

const CUBIC_C = 0.4;
const CUBIC_BETA = 0.7;
const CUBIC_ALPHA = (3 * (1 - CUBIC_BETA)) / (1 + CUBIC_BETA);

/** CUBIC per RFC 9438, in segments internally. */
export class Cubic implements CongestionControl {
  readonly name = "cubic";
  cwnd: number;
  ssthresh = Infinity;
  private wMax = 0;
  private k = 0;
  private epochStart = -1;
  private wEst = 0;
  constructor(private readonly mss: number) {
    this.cwnd = initialWindow(mss);
  }
  private wCubic(tSec: number): number {
    const d = tSec - this.k;
    return CUBIC_C * d * d * d + this.wMax;
  }
  onAck(acked: number, nowMs: number, srttMs: number): void {
    const mss = this.mss;
    if (this.cwnd < this.ssthresh) {
      this.cwnd = Math.min(this.cwnd + acked, Math.max(this.ssthresh, this.cwnd));
      return;
    }
    const cwndSeg = this.cwnd / mss;
    if (this.epochStart < 0) {
      this.epochStart = nowMs;
      if (cwndSeg < this.wMax) {
        this.k = Math.cbrt((this.wMax - cwndSeg) / CUBIC_C);
      } else {
        this.k = 0;
        this.wMax = cwndSeg;
      }
      this.wEst = cwndSeg;
    }
    const ackedSeg = acked / mss;
    const alpha = this.wEst >= this.wMax ? 1 : CUBIC_ALPHA;
    this.wEst += (alpha * ackedSeg) / cwndSeg;
    const t = (nowMs - this.epochStart) / 1000;
    const cubicNow = this.wCubic(t);
    if (cubicNow < this.wEst) {
      this.cwnd = Math.max(this.cwnd, this.wEst * mss);
      return;
    }
    const target = Math.min(Math.max(this.wCubic(t + srttMs / 1000), cwndSeg), 1.5 * cwndSeg);
    this.cwnd += ((target - cwndSeg) / cwndSeg) * ackedSeg * mss;
  }
  private reduce(): void {
    const cwndSeg = this.cwnd / this.mss;
    // Fast convergence: give up bandwidth sooner when the available share shrank.
    this.wMax = cwndSeg < this.wMax ? (cwndSeg * (1 + CUBIC_BETA)) / 2 : cwndSeg;
    this.epochStart = -1;
    this.ssthresh = Math.max(this.cwnd * CUBIC_BETA, 2 * this.mss);
  }
  onCongestion(): void {
    this.reduce();
    this.cwnd = this.ssthresh;
  }
  onTimeout(_flight: number, keepSsthresh = false): void {
    if (keepSsthresh) this.epochStart = -1;
    else this.reduce();
    this.cwnd = this.mss;
  }
}

export function createCongestionControl(name: CongestionAlgorithm, mss: number): CongestionControl {
  return name === "newreno" ? new NewReno(mss) : new Cubic(mss);
}
