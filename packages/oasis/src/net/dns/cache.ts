// A bounded cache whose entries expire: least recently used entries go first when it is full.
// Time comes from the caller (oasis/mtime in the client), so tests need no clock tricks.

interface Entry<V> {
  value: V;
  /** Milliseconds on the caller's monotonic clock. */
  expiresAt: number;
}

export class TtlCache<V> {
  // A Map iterates in insertion order: re-inserting on use keeps the least recent first.
  readonly #entries = new Map<string, Entry<V>>();

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 0) throw new RangeError(`cache capacity must be a non-negative integer, got ${capacity}`);
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The value and its remaining lifetime in seconds (rounded down), or undefined when absent or expired. */
  get(key: string, now: number): { value: V; ttl: number } | undefined {
    const e = this.#entries.get(key);
    if (!e) return undefined;
    this.#entries.delete(key);
    if (e.expiresAt <= now) return undefined;
    this.#entries.set(key, e);
    return { value: e.value, ttl: Math.floor((e.expiresAt - now) / 1000) };
  }

  /** Keeps `value` for `ttlSeconds`; a TTL of 0 is not cached (RFC 1035 §3.2.1: use only for this transaction). */
  set(key: string, value: V, ttlSeconds: number, now: number): void {
    if (this.capacity === 0 || ttlSeconds <= 0) return;
    this.#entries.delete(key);
    // Expired entries are dropped lazily (on get) or as the least recently used: O(1) per set.
    while (this.#entries.size >= this.capacity) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(key, { value, expiresAt: now + ttlSeconds * 1000 });
  }

  clear(): void {
    this.#entries.clear();
  }
}
