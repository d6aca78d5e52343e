// One error value for "this input is malformed". Not an Error subclass: decoders return it on
// hot paths, and capturing a stack trace per bad packet would make a flood of them expensive.

export class WireError {
  constructor(
    /** Machine-readable reason, used as a counter key: "truncated", "bad-checksum", … */
    readonly reason: string,
    /** Human-readable detail for logs. */
    readonly detail: string = reason,
  ) {}
  toString(): string {
    return `malformed packet: ${this.detail}`;
  }
}

/** Counts events by reason; a snapshot is a plain object for logs and tests. */
export class Counters {
  private readonly counts = new Map<string, number>();
  add(reason: string, n = 1): void {
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + n);
  }
  get(reason: string): number {
    return this.counts.get(reason) ?? 0;
  }
  snapshot(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }
  reset(): void {
    this.counts.clear();
  }
}
