// TCP over the host kernel (node:net). Backpressure both ways: the socket stays in paused mode
// and the kernel only receives more once `read` drained Node's bounded buffer; `write` resolves
// once the kernel took the bytes, so a slow peer slows the writer instead of growing a queue.
import * as net from "node:net";
import { once } from "node:events";
import { source } from "oasis/logs";
import { setTimer } from "oasis/sleep";
import { FlowError } from "../../devices/errors.ts";
import type { Endpoint } from "../../devices/flow.ts";
import type { Tcp, TcpConnectOptions, TcpFlow, TcpListenOptions } from "../../devices/tcp.ts";
import { readableFromFlow, writableFromFlow } from "../../flow/streams.ts";
import { canonicalAddress, familyOf, isUnspecified } from "./address.ts";
import type { SocketConfig } from "./config.ts";
import { toFlowError } from "./errors.ts";

const log = source("socket-tcp", "TCP over host kernel sockets");

/** Unread input at which the socket stops reading from the kernel (the TCP window then closes). */
const PAUSE_AT = 64 * 1024;

const RESOLVED = Promise.resolve();

/** How long `close` lets the peer finish before the socket is torn down. */
const LINGER_MS = 2000;

export class SocketTcpFlow implements TcpFlow {
  readonly local: Endpoint;
  readonly remote: Endpoint;
  readonly #socket: net.Socket;
  readonly #name: string;
  #eof = false;
  #readShut = false;
  #writeShut = false;
  #closed = false;
  #error: FlowError | null = null;
  #wake: (() => void) | null = null;
  #closing: Promise<void> | null = null;
  #readable: ReadableStream<Uint8Array> | null = null;
  #writable: WritableStream<Uint8Array> | null = null;
  /** Received and not yet read; the socket is paused while this holds PAUSE_AT bytes or more. */
  readonly #queue: Buffer[] = [];
  #queued = 0;

  constructor(socket: net.Socket) {
    this.#socket = socket;
    this.local = { address: canonicalAddress(socket.localAddress ?? ""), port: socket.localPort ?? 0 };
    this.remote = { address: canonicalAddress(socket.remoteAddress ?? ""), port: socket.remotePort ?? 0 };
    this.#name = `TCP ${this.local.address}:${this.local.port} <-> ${this.remote.address}:${this.remote.port}`;
    const wake = () => {
      const w = this.#wake;
      this.#wake = null;
      w?.();
    };
    // Flowing mode with our own queue is cheaper than 'readable'/read(); pausing keeps it bounded.
    socket.on("data", (chunk: Buffer) => {
      if (this.#readShut) return;
      this.#queue.push(chunk);
      this.#queued += chunk.length;
      if (this.#queued >= PAUSE_AT) socket.pause();
      wake();
    });
    socket.on("end", () => {
      this.#eof = true;
      wake();
    });
    socket.on("error", (e) => {
      this.#error ??= toFlowError(e, this.#name);
      wake();
    });
    socket.on("close", () => {
      this.#closed = true;
      wake();
    });
  }

  /** Bytes received and not yet read, here and in Node's socket buffer (bounded). */
  get bufferedBytes(): number {
    return this.#queued + this.#socket.readableLength;
  }

  async read(): Promise<Uint8Array | null> {
    for (;;) {
      if (this.#readShut) return null;
      const chunk = this.#queue.shift();
      if (chunk !== undefined) {
        this.#queued -= chunk.length;
        if (this.#queued < PAUSE_AT && this.#socket.isPaused() && !this.#socket.destroyed) this.#socket.resume();
        return chunk;
      }
      if (this.#error) throw this.#error;
      if (this.#eof || this.#closed) return null;
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  #checkWritable(): FlowError | null {
    if (this.#error) return this.#error;
    if (this.#writeShut || this.#closed || this.#socket.destroyed) {
      return new FlowError("closed", `${this.#name}: write after the flow was shut down or closed`);
    }
    return null;
  }

  write(data: Uint8Array): Promise<void> {
    const refused = this.#checkWritable();
    if (refused) return Promise.reject(refused);
    if (data.length === 0) return Promise.resolve();
    const socket = this.#socket;
    let settle: ((e: Error | null | undefined) => void) | null = null;
    let outcome: Error | null | undefined;
    socket.write(data, (e) => (settle ? settle(e) : (outcome = e ?? null)));
    // Nothing left in Node's buffer: the kernel took every byte (the usual case), so the caller
    // may reuse `data` now, without waiting a tick for the write callback.
    if (outcome === undefined && socket.writableLength === 0 && !socket.destroyed) return RESOLVED;
    if (outcome !== undefined) return outcome ? Promise.reject(this.#error ?? toFlowError(outcome, this.#name)) : RESOLVED;
    return new Promise((resolve, reject) => {
      settle = (e) => (e ? reject(this.#error ?? toFlowError(e, this.#name)) : resolve());
    });
  }

  writev(chunks: readonly Uint8Array[]): Promise<void> {
    const refused = this.#checkWritable();
    if (refused) return Promise.reject(refused);
    const nonEmpty = chunks.filter((c) => c.length > 0);
    if (nonEmpty.length === 0) return Promise.resolve();
    if (nonEmpty.length === 1) return this.write(nonEmpty[0]!);
    const socket = this.#socket;
    const writes: Promise<void>[] = [];
    socket.cork();
    for (const chunk of nonEmpty) {
      writes.push(new Promise((resolve, reject) => socket.write(chunk, (e) => (e ? reject(this.#error ?? toFlowError(e, this.#name)) : resolve()))));
    }
    socket.uncork();
    return Promise.all(writes).then(() => undefined);
  }

  async shutdown(direction: "read" | "write" | "read-write"): Promise<void> {
    if (direction !== "write") this.#shutdownRead();
    if (direction !== "read" && !this.#writeShut) {
      this.#writeShut = true;
      if (this.#closed || this.#socket.destroyed) return;
      await new Promise<void>((resolve) => this.#socket.end(resolve));
    }
  }

  #shutdownRead(): void {
    if (this.#readShut) return;
    this.#readShut = true;
    // The kernel has no half-close for input: keep draining so the peer is not blocked.
    this.#queue.length = 0;
    this.#queued = 0;
    this.#socket.resume();
    this.#wake?.();
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const socket = this.#socket;
    if (this.#closed) return;
    const closed = once(socket, "close").then(
      () => undefined,
      () => undefined,
    );
    this.#shutdownRead();
    if (!this.#writeShut) {
      this.#writeShut = true;
      if (!socket.destroyed) socket.end();
    }
    // Destroy once both directions are done, or after a grace period for a peer that stays open.
    const destroyIfDone = () => {
      if (socket.writableFinished && (this.#eof || socket.readableEnded)) socket.destroy();
    };
    socket.on("end", destroyIfDone);
    socket.on("finish", destroyIfDone);
    destroyIfDone();
    const cancel = setTimer(LINGER_MS, () => socket.destroy());
    await closed;
    cancel();
  }

  /** Tears the connection down at once (RST when data is unread). */
  abort(): void {
    this.#readShut = true;
    this.#writeShut = true;
    this.#socket.destroy();
  }

  setNoDelay(noDelay: boolean): void {
    this.#socket.setNoDelay(noDelay);
  }

  get readable(): ReadableStream<Uint8Array> {
    this.#readable ??= readableFromFlow(this.#io());
    return this.#readable;
  }

  get writable(): WritableStream<Uint8Array> {
    this.#writable ??= writableFromFlow(this.#io());
    return this.#writable;
  }

  #io() {
    return {
      read: () => this.read(),
      write: (d: Uint8Array) => this.write(d),
      shutdownWrite: () => this.shutdown("write"),
      shutdownRead: () => this.shutdown("read"),
      abort: async () => this.abort(),
    };
  }
}

interface Listener {
  servers: net.Server[];
  flows: Set<SocketTcpFlow>;
  /** Settles when every server is bound (or one failed). */
  ready: Promise<Endpoint[]>;
}

/** Where a listener binds, following --ipv4/--ipv6 and the *-only flags. */
function bindAddresses(config: SocketConfig): Array<{ host: string; ipv6Only: boolean }> {
  const v4 = config.ipv4.address;
  const v6 = config.ipv6.address;
  if (config.ipv4Only) return [{ host: v4, ipv6Only: false }];
  if (config.ipv6Only) return [{ host: v6, ipv6Only: true }];
  // One dual-stack socket serves both families when neither address is pinned.
  if (isUnspecified(v4) && isUnspecified(v6)) return [{ host: "::", ipv6Only: false }];
  return [
    { host: v4, ipv6Only: false },
    { host: v6, ipv6Only: true },
  ];
}

export class SocketTcp implements Tcp {
  readonly #config: SocketConfig;
  readonly #listeners = new Map<number, Listener>();
  readonly #outgoing = new Set<SocketTcpFlow>();
  /** Called when a listener cannot bind (the stack makes its `listen()` reject). */
  onListenError: ((error: FlowError) => void) | null = null;

  constructor(config: SocketConfig) {
    this.#config = config;
  }

  listen(port: number, handler: (flow: TcpFlow) => void | Promise<void>, options: TcpListenOptions = {}): void {
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new RangeError(`TCP listen: port ${port} is not an integer from 0 to 65535`);
    }
    this.unlisten(port);
    const flows = new Set<SocketTcpFlow>();
    const onConnection = (socket: net.Socket) => {
      if (options.keepalive) socket.setKeepAlive(true, options.keepalive.afterMs);
      const flow = new SocketTcpFlow(socket);
      flows.add(flow);
      socket.once("close", () => flows.delete(flow));
      let result: void | Promise<void>;
      const failed = (e: unknown) => {
        log.warn(`handler for TCP port ${port} failed on connection from ${flow.remote.address}:${flow.remote.port}: ${e instanceof Error ? e.message : String(e)}`);
        void flow.close();
      };
      try {
        result = handler(flow);
      } catch (e) {
        failed(e);
        return;
      }
      if (result instanceof Promise) result.catch(failed);
    };
    const servers = bindAddresses(this.#config).map(({ host, ipv6Only }) =>
      bind(port, host, ipv6Only, options.backlog, onConnection),
    );
    const ready = Promise.all(servers.map((s) => s.ready)).then((endpoints) => endpoints.flat());
    ready.catch((e: FlowError) => {
      log.error(e.message);
      this.onListenError?.(e);
    });
    this.#listeners.set(port, { servers: servers.map((s) => s.server), flows, ready });
  }

  /**
   * The endpoints a `listen(port)` is bound to, once it is; rejects with FlowError
   * ("address-in-use", "unreachable") when binding failed. Useful with port 0.
   */
  listening(port: number): Promise<Endpoint[]> {
    const l = this.#listeners.get(port);
    if (!l) return Promise.reject(new FlowError("closed", `TCP port ${port}: nothing listens there`));
    return l.ready;
  }

  unlisten(port: number): void {
    const l = this.#listeners.get(port);
    if (!l) return;
    this.#listeners.delete(port);
    for (const s of l.servers) s.close();
  }

  async connect(dst: string, port: number, options: TcpConnectOptions = {}): Promise<TcpFlow> {
    const family = familyOf(dst);
    const where = `TCP connect to ${dst}:${port}`;
    if (!family) throw new FlowError("unreachable", `${where}: '${dst}' is not an IP address (resolve names first)`);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError(`${where}: port must be an integer from 1 to 65535`);
    if (family === "ipv4" && this.#config.ipv6Only) throw new FlowError("unreachable", `${where}: the stack is IPv6-only (--ipv6-only)`);
    if (family === "ipv6" && this.#config.ipv4Only) throw new FlowError("unreachable", `${where}: the stack is IPv4-only (--ipv4-only)`);
    const configured = family === "ipv4" ? this.#config.ipv4.address : this.#config.ipv6.address;
    const localAddress = options.src ?? (isUnspecified(configured) ? undefined : configured);
    const socket = net.connect({ host: dst, port, localAddress, allowHalfOpen: true, noDelay: options.noDelay ?? false });
    try {
      await once(socket, "connect");
    } catch (e) {
      socket.destroy();
      throw toFlowError(e, where);
    }
    if (options.keepalive) socket.setKeepAlive(true, options.keepalive.afterMs);
    const flow = new SocketTcpFlow(socket);
    this.#outgoing.add(flow);
    socket.once("close", () => this.#outgoing.delete(flow));
    return flow;
  }

  /** Stops every listener and tears down every connection. */
  async disconnect(): Promise<void> {
    for (const [port, l] of [...this.#listeners]) {
      this.unlisten(port);
      for (const f of l.flows) f.abort();
    }
    for (const f of this.#outgoing) f.abort();
  }
}

function bind(
  port: number,
  host: string,
  ipv6Only: boolean,
  backlog: number | undefined,
  onConnection: (socket: net.Socket) => void,
): { server: net.Server; ready: Promise<Endpoint[]> } {
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: false }, onConnection);
  const ready = new Promise<Endpoint[]>((resolve, reject) => {
    const fail = (e: NodeJS.ErrnoException) => {
      // A host without IPv6 still serves IPv4 when no address was pinned.
      if (host === "::" && !ipv6Only && (e.code === "EAFNOSUPPORT" || e.code === "EADDRNOTAVAIL")) {
        log.info("IPv6 is not available on this host; listening on IPv4 only");
        server.removeAllListeners("error");
        server.once("error", (e2: NodeJS.ErrnoException) => reject(listenError(e2, port, "0.0.0.0")));
        server.listen({ port, host: "0.0.0.0", backlog }, () => resolve([endpointOf(server)]));
        return;
      }
      reject(listenError(e, port, host));
    };
    server.once("error", fail);
    // Without a host Node binds the dual-stack "::" at once (falling back to IPv4 by itself);
    // a host goes through an asynchronous lookup first, even for an address literal.
    const where = host === "::" && !ipv6Only ? { port, backlog } : { port, host, ipv6Only, backlog };
    server.listen(where, () => {
      server.removeListener("error", fail);
      server.on("error", (e) => log.error(`TCP port ${port} on ${host}: ${e.message}`));
      resolve([endpointOf(server)]);
    });
  });
  return { server, ready };
}

function endpointOf(server: net.Server): Endpoint {
  const a = server.address() as net.AddressInfo;
  return { address: canonicalAddress(a.address), port: a.port };
}

function listenError(e: NodeJS.ErrnoException, port: number, host: string): FlowError {
  const err = toFlowError(e, `TCP listen on ${host} port ${port}`);
  if (err.code === "address-in-use") {
    return new FlowError("address-in-use", `TCP listen on ${host} port ${port}: the port is already in use; choose another port or stop the program using it`, { cause: e });
  }
  if (e.code === "EADDRNOTAVAIL") {
    return new FlowError("unreachable", `TCP listen on ${host} port ${port}: ${host} is not an address of this host; check --ipv4/--ipv6`, { cause: e });
  }
  if (e.code === "EACCES") {
    return new FlowError("closed", `TCP listen on ${host} port ${port}: permission denied (ports below 1024 need privileges)`, { cause: e });
  }
  return err;
}
