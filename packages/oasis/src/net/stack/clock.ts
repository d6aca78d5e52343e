// Time for protocol state machines. Layers take a Clock so tests can drive timeouts and
// retransmissions deterministically; production uses the oasis/mtime and oasis/sleep variants.
import { nowMs } from "oasis/mtime";
import { setTimer } from "oasis/sleep";

export interface Clock {
  /** Monotonic milliseconds. */
  nowMs(): number;
  /** Runs `fn` after `ms`; the returned function cancels it. */
  setTimer(ms: number, fn: () => void): () => void;
}

export const systemClock: Clock = { nowMs, setTimer };

/** Virtual time that moves only when a test calls `advance`, firing due timers in order. */
export class ManualClock implements Clock {
  private now = 0;
  private seq = 0;
  private timers: Array<{ at: number; seq: number; fn: () => void; live: boolean }> = [];
  nowMs(): number {
    return this.now;
  }
  setTimer(ms: number, fn: () => void): () => void {
    const t = { at: this.now + Math.max(0, ms), seq: this.seq++, fn, live: true };
    this.timers.push(t);
    return () => {
      t.live = false;
    };
  }
  /** Moves time forward by `ms`, running every timer that falls due (including ones they set). */
  advance(ms: number): void {
    const end = this.now + ms;
    for (;;) {
      this.timers = this.timers.filter((t) => t.live);
      let next: (typeof this.timers)[number] | undefined;
      for (const t of this.timers) if (t.at <= end && (!next || t.at < next.at || (t.at === next.at && t.seq < next.seq))) next = t;
      if (!next) break;
      next.live = false;
      this.now = Math.max(this.now, next.at);
      next.fn();
    }
    this.now = end;
  }
  pendingTimers(): number {
    return this.timers.filter((t) => t.live).length;
  }
}
