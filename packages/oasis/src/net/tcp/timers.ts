// One timer queue for a whole TCP instance: a binary min-heap of deadlines driving a single
// platform timer. Entries are lazy: a connection whose deadline moved later keeps its old
// entry, which fires early, finds nothing due and reschedules. So per-ACK rearming of the RTO
// costs one store, not a heap push or a platform timer.

export interface TcpClock {
  /** Monotonic milliseconds. */
  nowMs(): number;
  /** Runs `fn` after `ms`; returns a function that cancels it. */
  setTimer(ms: number, fn: () => void): () => void;
}

export interface Timed {
  /** The deadline of this item's live heap entry, or Infinity. Owned by the queue. */
  timerAt: number;
  onTimer(now: number): void;
}

interface Entry {
  at: number;
  item: Timed;
}

export class TimerQueue {
  private heap: Entry[] = [];
  private armedAt = Infinity;
  private cancelArmed: (() => void) | null = null;

  constructor(private readonly clock: TcpClock) {}

  get size(): number {
    return this.heap.length;
  }

  /** Ensures `item.onTimer` runs at or after `at` (or earlier, harmlessly). */
  schedule(item: Timed, at: number): void {
    if (!(at < item.timerAt)) return;
    item.timerAt = at;
    this.push({ at, item });
    if (at < this.armedAt) this.arm(at);
  }

  /** Forgets `item`: its entries become stale. */
  cancel(item: Timed): void {
    item.timerAt = Infinity;
  }

  stop(): void {
    this.cancelArmed?.();
    this.cancelArmed = null;
    this.armedAt = Infinity;
    this.heap.length = 0;
  }

  private arm(at: number): void {
    this.cancelArmed?.();
    this.armedAt = at;
    this.cancelArmed = this.clock.setTimer(Math.max(0, at - this.clock.nowMs()), this.fire);
  }

  private fire = (): void => {
    this.cancelArmed = null;
    this.armedAt = Infinity;
    const now = this.clock.nowMs();
    const heap = this.heap;
    while (heap.length > 0 && heap[0]!.at <= now) {
      const e = this.pop();
      if (e.item.timerAt !== e.at) continue; // stale
      e.item.timerAt = Infinity;
      e.item.onTimer(now);
    }
    // Drop stale entries at the top so an idle stack holds no platform timer.
    while (heap.length > 0 && heap[0]!.item.timerAt !== heap[0]!.at) this.pop();
    if (heap.length > 0) this.arm(heap[0]!.at);
  };

  private push(e: Entry): void {
    const h = this.heap;
    let i = h.length;
    h.push(e);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p]!.at <= e.at) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = e;
  }

  private pop(): Entry {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= h.length) break;
        const r = l + 1;
        const c = r < h.length && h[r]!.at < h[l]!.at ? r : l;
        if (h[c]!.at >= last.at) break;
        h[i] = h[c]!;
        i = c;
      }
      h[i] = last;
    }
    return top;
  }
}
