// Send and receive buffers, indexed by stream position (bytes from the start of the stream, no
// 32-bit wrap). Data is copied once on the way in; segments are sent as views into the buffer.

const BLOCK = 64 * 1024;

/**
 * The memory of one TCP instance: bytes held in its buffers (`used`, charged by the buffers as
 * they change, so keeping it costs O(1) per change) and receive windows advertised but not yet
 * filled (`reserved`, kept by each connection), against one `limit`. A window is a promise: the
 * peer may send that much at any time, so it is counted before the data comes.
 */
export class MemoryBudget {
  used = 0;
  reserved = 0;
  /** Highest `used` seen: tests check the bound at every instant, not only when they look. */
  peak = 0;

  constructor(
    readonly limit: number,
    /** Called when bytes are given back (the instance wakes connections waiting for memory). */
    private readonly onFreed: () => void = () => {},
  ) {}

  /** What may still be promised or buffered without passing the limit (negative when over). */
  get free(): number {
    return this.limit - this.used - this.reserved;
  }

  charge(n: number): void {
    this.used += n;
    if (this.used > this.peak) this.peak = this.used;
  }

  uncharge(n: number): void {
    if (n === 0) return;
    this.used -= n;
    this.onFreed();
  }

  /**
   * A connection's window promise changed from `from` to `to` bytes; `released`: given back
   * (the connection stopped receiving) rather than filled by data now counted in `used`.
   */
  reserve(from: number, to: number, released: boolean): void {
    this.reserved += to - from;
    if (released && to < from) this.onFreed();
  }
}

/** For buffers used on their own (tests): accounts, limits nothing. */
const UNBOUNDED = (): MemoryBudget => new MemoryBudget(Infinity);

/**
 * Send blocks whose bytes were all acknowledged, for the next append of any connection: a bulk
 * sender otherwise allocates (and zero-fills) a block for every 64 KiB it sends and leaves the
 * garbage collector the rest. Nothing outside a SendBuffer keeps a view of its blocks past the
 * call that sends them (IP copies the payload into the frame), so a released block is free.
 */
const spareBlocks: Uint8Array[] = [];
/** At most this many spare blocks are kept (4 MiB), whatever the number of connections. */
const SPARE_BLOCKS_MAX = 64;

/** Bytes written by the application and not yet acknowledged by the peer. */
export class SendBuffer {
  private chunks: Uint8Array[] = [];
  /** Stream position of chunks[0][0]. */
  private startPos: number;
  private total = 0;
  /** Spare room at the end of the last chunk (a block we allocated). */
  private tail: Uint8Array | null = null;
  private tailFill = 0;

  constructor(
    firstPos: number,
    private readonly mem: MemoryBudget = UNBOUNDED(),
  ) {
    this.startPos = firstPos;
  }

  get length(): number {
    return this.total;
  }

  /** Position just after the last byte written. */
  get endPos(): number {
    return this.startPos + this.total;
  }

  /** Copies `data[from, from+n)` in. */
  append(data: Uint8Array, from: number, n: number): void {
    let off = from;
    let left = n;
    while (left > 0) {
      if (this.tail === null || this.tailFill === this.tail.length) {
        this.tail = spareBlocks.pop() ?? new Uint8Array(BLOCK);
        this.tailFill = 0;
        this.chunks.push(this.tail.subarray(0, 0));
      }
      const k = Math.min(left, this.tail.length - this.tailFill);
      this.tail.set(data.subarray(off, off + k), this.tailFill);
      this.tailFill += k;
      const last = this.chunks.length - 1;
      const cur = this.chunks[last]!;
      this.chunks[last] = new Uint8Array(cur.buffer, cur.byteOffset, cur.length + k);
      off += k;
      left -= k;
      this.total += k;
    }
    this.mem.charge(n);
  }

  /** Pushes views of [pos, pos+len) onto `out`. */
  gather(pos: number, len: number, out: Uint8Array[]): void {
    let skip = pos - this.startPos;
    let left = len;
    for (let i = 0; i < this.chunks.length && left > 0; i++) {
      const c = this.chunks[i]!;
      if (skip >= c.length) {
        skip -= c.length;
        continue;
      }
      const k = Math.min(left, c.length - skip);
      out.push(c.subarray(skip, skip + k));
      skip = 0;
      left -= k;
    }
    if (left > 0) throw new RangeError(`send buffer has no bytes at ${pos}+${len}`);
  }

  /** Drops everything before `pos` (acknowledged). */
  release(pos: number): void {
    let n = Math.min(pos - this.startPos, this.total);
    if (n <= 0) return;
    this.startPos += n;
    this.total -= n;
    this.mem.uncharge(n);
    while (n > 0) {
      const c = this.chunks[0]!;
      if (c.length <= n) {
        n -= c.length;
        this.chunks.shift();
        // A chunk is one block from its start: once it is gone whole, and nothing more will be
        // appended to it (it is full, or it was the tail), the block can serve again.
        const full = c.byteOffset + c.length === c.buffer.byteLength;
        if (this.chunks.length === 0) {
          if (this.tail !== null) recycle(this.tail);
          this.tail = null;
        } else if (full) recycle(new Uint8Array(c.buffer));
      } else {
        this.chunks[0] = c.subarray(n);
        n = 0;
      }
    }
  }
}

function recycle(block: Uint8Array): void {
  if (block.length === BLOCK && spareBlocks.length < SPARE_BLOCKS_MAX) spareBlocks.push(block);
}

interface Pending {
  start: number;
  end: number;
  data: Uint8Array;
}

/**
 * In-order bytes waiting for the reader, plus out-of-order segments waiting for a gap to fill.
 */
export class ReceiveBuffer {
  /** Null once detached: what is left is no longer counted (see detach). */
  private mem: MemoryBudget | null;
  private ready: Uint8Array[] = [];
  private readyHead = 0;
  private block: Uint8Array | null = null;
  private blockFill = 0;
  /** Bytes in `ready`. */
  readyBytes = 0;
  /** Out-of-order ranges, sorted, non-overlapping. */
  pending: Pending[] = [];
  pendingBytes = 0;
  /** Index in `pending` of the range that grew last (first SACK block, RFC 2018). */
  private lastTouched = -1;

  constructor(mem: MemoryBudget = UNBOUNDED()) {
    this.mem = mem;
  }

  /**
   * Drops the out-of-order data and stops counting the rest against the budget: the connection
   * is closed, and unread data an application may still read (or never will, having dropped the
   * flow without closing it) must not hold the instance's budget forever.
   */
  detach(): void {
    this.pending.length = 0;
    this.pendingBytes = 0;
    this.lastTouched = -1;
    this.mem?.uncharge(this.readyBytes);
    this.mem = null;
  }

  /** Copies an in-order payload in. */
  pushReady(payload: Uint8Array): void {
    const n = payload.length;
    if (n === 0) return;
    if (this.block === null || this.block.length - this.blockFill < n) {
      this.block = new Uint8Array(Math.max(BLOCK, n));
      this.blockFill = 0;
    }
    const block = this.block;
    block.set(payload, this.blockFill);
    const last = this.ready.length - 1;
    const cur = last >= this.readyHead ? this.ready[last]! : null;
    // Extend the last unread view when it ends where we just wrote, else start a new one.
    if (cur !== null && cur.buffer === block.buffer && cur.byteOffset + cur.length === block.byteOffset + this.blockFill) {
      this.ready[last] = new Uint8Array(cur.buffer, cur.byteOffset, cur.length + n);
    } else {
      this.ready.push(block.subarray(this.blockFill, this.blockFill + n));
    }
    this.blockFill += n;
    this.readyBytes += n;
    this.mem?.charge(n);
  }

  /** Takes the oldest ready chunk (often all that is ready), or null. The reader owns it. */
  take(): Uint8Array | null {
    if (this.readyHead >= this.ready.length) return null;
    const c = this.ready[this.readyHead]!;
    this.ready[this.readyHead++] = EMPTY;
    if (this.readyHead === this.ready.length) {
      this.ready.length = 0;
      this.readyHead = 0;
    }
    this.readyBytes -= c.length;
    this.mem?.uncharge(c.length);
    return c;
  }

  discardReady(): void {
    this.mem?.uncharge(this.readyBytes);
    this.ready.length = 0;
    this.readyHead = 0;
    this.readyBytes = 0;
    this.block = null;
  }

  /** Stores an out-of-order payload occupying [start, start+payload.length), trimming overlaps. */
  insertPending(start: number, payload: Uint8Array): void {
    let s = start;
    let end = start + payload.length;
    const p = this.pending;
    let i = 0;
    while (i < p.length && p[i]!.end <= s) i++;
    // Trim against ranges that overlap; the new bytes fill only the gaps between them.
    while (s < end) {
      const next = i < p.length ? p[i]! : null;
      if (next !== null && next.start <= s) {
        s = Math.max(s, next.end);
        i++;
        continue;
      }
      const gapEnd = next === null ? end : Math.min(end, next.start);
      const data = payload.slice(s - start, gapEnd - start);
      p.splice(i, 0, { start: s, end: gapEnd, data });
      this.pendingBytes += gapEnd - s;
      this.mem?.charge(gapEnd - s);
      this.lastTouched = i;
      i++;
      s = gapEnd;
    }
  }

  /** Moves pending data that now continues the stream at `pos`; returns the new in-order end. */
  drainPending(pos: number): number {
    const p = this.pending;
    let n = 0;
    while (n < p.length && p[n]!.start <= pos) {
      const r = p[n]!;
      // Given back before pushReady charges the part that moves, so the bytes are never counted
      // twice; no wake-up for what is only moving.
      this.pendingBytes -= r.end - r.start;
      if (this.mem !== null) this.mem.used -= r.end - r.start;
      if (r.end > pos) {
        this.pushReady(r.data.subarray(pos - r.start));
        pos = r.end;
      }
      n++;
    }
    if (n > 0) {
      p.splice(0, n);
      this.lastTouched = -1;
    }
    return pos;
  }

  /**
   * Writes up to `max` SACK blocks as merged [start, end) position pairs into `out`; the block
   * holding the latest arrival comes first. Returns the count.
   */
  sackBlocks(out: number[], max: number): number {
    out.length = 0;
    const p = this.pending;
    if (p.length === 0) return 0;
    const merged: number[] = [];
    let first = -1;
    for (let i = 0; i < p.length; i++) {
      const r = p[i]!;
      const m = merged.length;
      if (m > 0 && merged[m - 1] === r.start) merged[m - 1] = r.end;
      else merged.push(r.start, r.end);
      if (i === this.lastTouched) first = merged.length / 2 - 1;
    }
    if (first >= 0) out.push(merged[2 * first]!, merged[2 * first + 1]!);
    for (let b = merged.length / 2 - 1; b >= 0 && out.length < 2 * max; b--) {
      if (b !== first) out.push(merged[2 * b]!, merged[2 * b + 1]!);
    }
    return out.length / 2;
  }
}

const EMPTY = new Uint8Array(0);
