// Message bodies read from a FlowReader: Content-Length, chunked (with trailers) or until the
// peer closes. Exposed as an async iterator, a Web ReadableStream, or collected bytes/text.
import { HttpError } from "./errors.ts";
import type { Framing } from "./parse.ts";
import type { FlowReader } from "./reader.ts";

const CR = 13;
const LF = 10;
const MAX_CHUNK_LINE = 4096;
const MAX_CHUNK = 64 * 1024;

export interface BodyOptions {
  maxBodyBytes: number;
  /** Longest wait for the next piece of body. */
  timeoutMs: number;
  onTimeout: () => void;
  /** Largest trailer section. */
  maxTrailerBytes: number;
}

/** Pulls decoded body chunks (views of received buffers, never overwritten). */
export class BodyReader {
  #state: "data" | "chunk-size" | "chunk-data" | "chunk-end" | "done";
  #remaining: number;
  #total = 0;
  readonly #reader: FlowReader;
  readonly #framing: Framing;
  readonly #options: BodyOptions;
  #started = false;
  #failed: unknown = null;

  readonly #beforeFirstRead: (() => Promise<void>) | undefined;

  /** `beforeFirstRead` runs before the body is first read (to send 100 Continue). */
  constructor(reader: FlowReader, framing: Framing, options: BodyOptions, beforeFirstRead?: () => Promise<void>) {
    this.#reader = reader;
    this.#framing = framing;
    this.#options = options;
    this.#beforeFirstRead = beforeFirstRead;
    this.#remaining = framing.kind === "length" ? framing.length : 0;
    this.#state = framing.kind === "none" ? "done" : framing.kind === "chunked" ? "chunk-size" : "data";
  }

  get started(): boolean {
    return this.#started;
  }

  get done(): boolean {
    return this.#state === "done";
  }

  /** Whether the framing was broken (the connection cannot be reused). */
  get failed(): boolean {
    return this.#failed !== null;
  }

  async #fill(): Promise<void> {
    if (!(await this.#reader.fill(this.#options.timeoutMs, this.#options.onTimeout))) {
      throw new HttpError(400, "body-truncated", "the peer closed the connection in the middle of the body");
    }
  }

  /** Next decoded chunk, or null at the end of the body. */
  async next(): Promise<Uint8Array | null> {
    if (this.#failed) throw this.#failed;
    if (this.#state === "done") return null;
    if (!this.#started) {
      this.#started = true;
      await this.#beforeFirstRead?.();
    }
    try {
      return await this.#next();
    } catch (e) {
      this.#failed = e;
      throw e;
    }
  }

  async #next(): Promise<Uint8Array | null> {
    const r = this.#reader;
    for (;;) {
      switch (this.#state) {
        case "done":
          return null;
        case "data": {
          if (this.#framing.kind === "close") {
            if (r.available === 0 && !(await r.fill(this.#options.timeoutMs, this.#options.onTimeout))) {
              this.#state = "done";
              return null;
            }
            return this.#count(r.take(r.available));
          }
          if (r.available === 0) await this.#fill();
          const out = r.take(this.#remaining);
          this.#remaining -= out.length;
          if (this.#remaining === 0) this.#state = "done";
          return out;
        }
        case "chunk-size": {
          const line = await this.#line();
          const m = /^([0-9A-Fa-f]{1,15})[ \t]*(;.*)?$/.exec(line);
          if (!m) throw new HttpError(400, "bad-chunk-size", `invalid chunk size line ${JSON.stringify(line.slice(0, 40))}`);
          const size = parseInt(m[1]!, 16);
          if (this.#total + size > this.#options.maxBodyBytes) {
            throw new HttpError(413, "body-too-large", `chunked body exceeds the limit of ${this.#options.maxBodyBytes} bytes`);
          }
          if (size === 0) {
            await this.#trailers();
            this.#state = "done";
            return null;
          }
          this.#remaining = size;
          this.#state = "chunk-data";
          break;
        }
        case "chunk-data": {
          if (r.available === 0) await this.#fill();
          const out = r.take(Math.min(this.#remaining, MAX_CHUNK));
          this.#remaining -= out.length;
          if (this.#remaining === 0) this.#state = "chunk-end";
          return this.#count(out);
        }
        case "chunk-end": {
          while (r.available < 2) await this.#fill();
          if (r.buf[r.pos] !== CR || r.buf[r.pos + 1] !== LF) throw new HttpError(400, "bad-chunk-end", "chunk data not followed by CRLF");
          r.pos += 2;
          this.#state = "chunk-size";
          break;
        }
      }
    }
  }

  #count(chunk: Uint8Array): Uint8Array {
    this.#total += chunk.length;
    if (this.#total > this.#options.maxBodyBytes) {
      throw new HttpError(413, "body-too-large", `body exceeds the limit of ${this.#options.maxBodyBytes} bytes`);
    }
    return chunk;
  }

  /** One CRLF-terminated line (without the CRLF), bounded in length. */
  async #line(): Promise<string> {
    const r = this.#reader;
    for (;;) {
      const lf = r.buf.indexOf(LF, r.pos);
      if (lf >= 0) {
        if (lf - r.pos > MAX_CHUNK_LINE) break;
        if (lf === r.pos || r.buf[lf - 1] !== CR) throw new HttpError(400, "bare-line-feed", "chunk lines must end with CRLF");
        let s = "";
        for (let i = r.pos; i < lf - 1; i++) s += String.fromCharCode(r.buf[i]!);
        r.pos = lf + 1;
        return s;
      }
      if (r.available > MAX_CHUNK_LINE) break;
      await this.#fill();
    }
    throw new HttpError(400, "chunk-line-too-long", `chunk size line longer than ${MAX_CHUNK_LINE} bytes`);
  }

  async #trailers(): Promise<void> {
    let size = 0;
    for (;;) {
      const line = await this.#line();
      if (line === "") return;
      size += line.length + 2;
      if (size > this.#options.maxTrailerBytes) throw new HttpError(431, "trailers-too-large", "trailer section too large");
    }
  }

  /** Reads and discards the rest, up to `limit` bytes; false if more remained (or it failed). */
  async drain(limit: number): Promise<boolean> {
    let n = 0;
    try {
      for (let c = await this.next(); c !== null; c = await this.next()) {
        n += c.length;
        if (n > limit) return false;
      }
      return true;
    } catch {
      return false;
    }
  }
}

/** A body as the handler sees it: iterate it, stream it, or collect it (once). */
export class HttpBody implements AsyncIterable<Uint8Array> {
  readonly #reader: BodyReader;
  #used = false;
  #stream: ReadableStream<Uint8Array> | null = null;

  constructor(reader: BodyReader) {
    this.#reader = reader;
  }

  get used(): boolean {
    return this.#used;
  }

  #take(): BodyReader {
    if (this.#used) throw new TypeError("the body has already been read (it can be consumed once)");
    this.#used = true;
    return this.#reader;
  }

  /** Chunks are views of received buffers, which are never reused: safe to keep. */
  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    const r = this.#take();
    for (let c = await r.next(); c !== null; c = await r.next()) yield c;
  }

  get stream(): ReadableStream<Uint8Array> {
    if (this.#stream) return this.#stream;
    const r = this.#take();
    this.#stream = new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          const c = await r.next();
          if (c === null) controller.close();
          else controller.enqueue(c);
        },
      },
      { highWaterMark: 0 },
    );
    return this.#stream;
  }

  async bytes(): Promise<Uint8Array> {
    const r = this.#take();
    const parts: Uint8Array[] = [];
    let total = 0;
    for (let c = await r.next(); c !== null; c = await r.next()) {
      parts.push(c);
      total += c.length;
    }
    if (parts.length === 1) return parts[0]!;
    const out = new Uint8Array(total);
    let off = 0;
    for (const p of parts) {
      out.set(p, off);
      off += p.length;
    }
    return out;
  }

  async text(): Promise<string> {
    return new TextDecoder().decode(await this.bytes());
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text());
  }
}
