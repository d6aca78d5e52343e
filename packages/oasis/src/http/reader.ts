// Buffered reading over a Flow: the HTTP parser looks at bytes already received and asks for
// more only when it must. Every wait for the peer has a deadline (slow clients).
import { setTimer } from "oasis/sleep";
import type { Flow } from "../devices/flow.ts";

const EMPTY = new Uint8Array(0);

export class FlowReader {
  /** Unconsumed input is buf[pos, buf.length). */
  buf: Uint8Array = EMPTY;
  pos = 0;
  eof = false;
  readonly flow: Flow;

  constructor(flow: Flow) {
    this.flow = flow;
  }

  get available(): number {
    return this.buf.length - this.pos;
  }

  /**
   * Appends one more chunk from the flow; false at end of stream. `onTimeout` runs if nothing
   * arrives within `timeoutMs` (it should close the flow, which ends the pending read).
   */
  async fill(timeoutMs: number, onTimeout: () => void): Promise<boolean> {
    if (this.eof) return false;
    const cancel = timeoutMs > 0 && Number.isFinite(timeoutMs) ? setTimer(timeoutMs, onTimeout) : null;
    let chunk: Uint8Array | null;
    try {
      chunk = await this.flow.read();
    } finally {
      cancel?.();
    }
    if (chunk === null) {
      this.eof = true;
      return false;
    }
    if (this.pos === this.buf.length) {
      this.buf = chunk;
    } else {
      const rest = this.buf.length - this.pos;
      const joined = new Uint8Array(rest + chunk.length);
      joined.set(this.buf.subarray(this.pos), 0);
      joined.set(chunk, rest);
      this.buf = joined;
    }
    this.pos = 0;
    return true;
  }

  /** Takes up to `max` buffered bytes (no copy). */
  take(max: number): Uint8Array {
    const n = Math.min(max, this.available);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}

/** Latin-1 view of bytes (HTTP heads are ASCII with optional obs-text). */
export function latin1(bytes: Uint8Array, start: number, end: number): string {
  let out = "";
  for (let i = start; i < end; i += 8192) {
    out += String.fromCharCode.apply(null, bytes.subarray(i, Math.min(end, i + 8192)) as unknown as number[]);
  }
  return out;
}
