// Node's Duplex over any Flow, so Node libraries that speak to sockets (http.Server through
// `server.emit("connection", duplex)`, tls.connect({ socket }), Express, Hono's node adapter)
// run over Oasis flows: kernel sockets today, Oasis's own TCP stack or TLS tomorrow.
import { Duplex } from "node:stream";
import { setTimer } from "oasis/sleep";
import type { Endpoint, Flow } from "../devices/flow.ts";

/** Bytes Node may hold ahead of the consumer before it stops reading the flow. */
const READ_HIGH_WATER = 64 * 1024;

function endpointOf(flow: Flow, which: "local" | "remote"): Endpoint | null {
  const e = (flow as Partial<Record<"local" | "remote", Endpoint>>)[which];
  return e && typeof e.address === "string" ? e : null;
}

function familyOf(address: string | undefined): "IPv4" | "IPv6" | undefined {
  if (!address) return undefined;
  return address.includes(":") ? "IPv6" : "IPv4";
}

/**
 * A Duplex that reads and writes `flow`, shaped enough like net.Socket for http.Server:
 * remote/local address getters, setTimeout (idle timer emitting "timeout"), setNoDelay,
 * setKeepAlive, ref/unref.
 */
export class FlowDuplex extends Duplex {
  readonly flow: Flow;
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  readonly remoteFamily: "IPv4" | "IPv6" | undefined;
  readonly localAddress: string | undefined;
  readonly localPort: number | undefined;
  bytesRead = 0;
  bytesWritten = 0;
  #pumping = false;
  #idleMs = 0;
  #cancelIdle: (() => void) | null = null;

  constructor(flow: Flow) {
    super({ allowHalfOpen: true, readableHighWaterMark: READ_HIGH_WATER, decodeStrings: true });
    this.flow = flow;
    const remote = endpointOf(flow, "remote");
    const local = endpointOf(flow, "local");
    this.remoteAddress = remote?.address;
    this.remotePort = remote?.port;
    this.remoteFamily = familyOf(remote?.address);
    this.localAddress = local?.address;
    this.localPort = local?.port;
  }

  override _read(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    void this.#pump();
  }

  async #pump(): Promise<void> {
    try {
      for (;;) {
        const chunk = await this.flow.read();
        if (this.destroyed) return;
        this.#touch();
        if (chunk === null) {
          this.push(null);
          return;
        }
        this.bytesRead += chunk.length;
        // Stop when Node's buffer is full; _read is called again once it drains.
        if (!this.push(chunk)) return;
      }
    } catch (e) {
      this.destroy(e as Error);
    } finally {
      this.#pumping = false;
    }
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#touch();
    this.flow.write(chunk).then(() => {
      this.bytesWritten += chunk.length;
      callback();
    }, callback);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    this.#touch();
    const list = chunks.map((c) => c.chunk);
    this.flow.writev(list).then(() => {
      for (const c of list) this.bytesWritten += c.length;
      callback();
    }, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.flow.shutdown("write").then(() => callback(), callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#cancelIdle?.();
    this.#cancelIdle = null;
    // Destroyed on an error or a timeout: tear down at once where the flow can (a socket resets).
    const abort = (this.flow as { abort?: () => void }).abort;
    if (error && typeof abort === "function") {
      abort.call(this.flow);
      callback(error);
      return;
    }
    this.flow.close().then(
      () => callback(error),
      () => callback(error),
    );
  }

  /** Emits "timeout" after `ms` without reads or writes (0 disables), as net.Socket does. */
  setTimeout(ms: number, callback?: () => void): this {
    if (callback) {
      if (ms === 0) this.removeListener("timeout", callback);
      else this.once("timeout", callback);
    }
    this.#idleMs = ms;
    this.#touch();
    return this;
  }

  #touch(): void {
    this.#cancelIdle?.();
    this.#cancelIdle = null;
    if (this.#idleMs > 0 && !this.destroyed) {
      this.#cancelIdle = setTimer(this.#idleMs, () => {
        this.#cancelIdle = null;
        this.emit("timeout");
      });
    }
  }

  setNoDelay(noDelay = true): this {
    (this.flow as { setNoDelay?: (v: boolean) => void }).setNoDelay?.(noDelay);
    return this;
  }

  setKeepAlive(): this {
    return this;
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }

  address(): { address: string; port: number; family: string } | Record<string, never> {
    return this.localAddress === undefined ? {} : { address: this.localAddress, port: this.localPort ?? 0, family: familyOf(this.localAddress) ?? "IPv4" };
  }
}

export function toNodeDuplex(flow: Flow): FlowDuplex {
  return new FlowDuplex(flow);
}
