// UDP over the host kernel (node:dgram). One socket per listened port (dual-stack when no
// address is pinned); writes without a listened source port go out of one ephemeral socket per
// family.
import * as dgram from "node:dgram";
import { source } from "oasis/logs";
import { IpError, NetError } from "../../devices/errors.ts";
import type { Datagram, Udp } from "../../devices/udp.ts";
import { canonicalAddress, familyOf, isUnspecified, type Family } from "./address.ts";
import type { SocketConfig } from "./config.ts";

const log = source("socket-udp", "UDP over host kernel sockets");

const DEFAULT_TTL = 64;

function checkPort(port: number, what: string): void {
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`${what}: port ${port} is not an integer from 0 to 65535`);
}

interface Bound {
  socket: dgram.Socket;
  family: Family | "dual";
  ready: Promise<void>;
}

export class SocketUdp implements Udp {
  readonly #config: SocketConfig;
  readonly #listeners = new Map<number, Bound[]>();
  readonly #senders = new Map<string, Bound>();

  constructor(config: SocketConfig) {
    this.#config = config;
  }

  listen(port: number, handler: (datagram: Datagram) => void): void {
    checkPort(port, "UDP listen");
    // Port 0 asks the kernel for a fresh port each time, so it never clashes.
    if (port !== 0 && this.#listeners.has(port)) throw new NetError("unavailable", `UDP port ${port} is already in use by another listener in this stack; unlisten(${port}) first or choose another port`);
    this.unlisten(port);
    const v4 = this.#config.ipv4.address;
    const v6 = this.#config.ipv6.address;
    const wanted: Array<{ family: Family | "dual"; host: string }> = this.#config.ipv4Only
      ? [{ family: "ipv4", host: v4 }]
      : this.#config.ipv6Only
        ? [{ family: "ipv6", host: v6 }]
        : isUnspecified(v4) && isUnspecified(v6)
          ? [{ family: "dual", host: "::" }]
          : [
              { family: "ipv4", host: v4 },
              { family: "ipv6", host: v6 },
            ];
    const bound = wanted.map(({ family, host }) => {
      const b = this.#open(family, host, port);
      b.socket.on("message", (msg, rinfo) => {
        const local = b.socket.address();
        const src = canonicalAddress(rinfo.address);
        // Without IP_PKTINFO the kernel does not say which local address was hit.
        const dst = isUnspecified(local.address) ? (familyOf(src) === "ipv4" ? "0.0.0.0" : "::") : canonicalAddress(local.address);
        const datagram: Datagram = {
          src,
          dst,
          srcPort: rinfo.port,
          dstPort: local.port,
          data: msg,
        };
        try {
          handler(datagram);
        } catch (e) {
          log.warn(`handler for UDP port ${port} failed: ${e instanceof Error ? e.message : String(e)}`);
        }
      });
      b.ready.catch((e: Error) => log.error(`UDP listen on ${host} port ${port}: ${e.message}`));
      return b;
    });
    this.#listeners.set(port, bound);
  }

  /** The port actually bound by `listen(port)` (useful with 0); rejects when binding failed. */
  async listening(port: number): Promise<number> {
    const bound = this.#listeners.get(port);
    if (!bound) throw new NetError("unavailable", `UDP port ${port}: nothing listens there`);
    await Promise.all(bound.map((b) => b.ready));
    return bound[0]!.socket.address().port;
  }

  unlisten(port: number): void {
    const bound = this.#listeners.get(port);
    if (!bound) return;
    this.#listeners.delete(port);
    for (const b of bound) closeQuietly(b.socket);
  }

  #open(family: Family | "dual", host: string, port: number): Bound {
    const socket = dgram.createSocket({ type: family === "ipv4" ? "udp4" : "udp6", ipv6Only: family === "ipv6", reuseAddr: false });
    const ready = new Promise<void>((resolve, reject) => {
      const fail = (e: NodeJS.ErrnoException) => {
        if (family === "dual" && (e.code === "EAFNOSUPPORT" || e.code === "EADDRNOTAVAIL")) {
          reject(new NetError("unavailable", "IPv6 is not available on this host; run with --ipv4-only", { cause: e }));
        } else if (e.code === "EADDRINUSE") {
          reject(new NetError("unavailable", `UDP port ${port} on ${host} is already in use; choose another port`, { cause: e }));
        } else if (e.code === "EADDRNOTAVAIL") {
          reject(new NetError("unavailable", `${host} is not an address of this host; check --ipv4/--ipv6`, { cause: e }));
        } else reject(new NetError("unavailable", `UDP bind on ${host} port ${port}: ${e.message}`, { cause: e }));
      };
      socket.once("error", fail);
      socket.bind({ port, address: host, exclusive: true }, () => {
        socket.removeListener("error", fail);
        socket.on("error", (e) => log.warn(`UDP socket on ${host} port ${port}: ${e.message}`));
        resolve();
      });
    });
    return { socket, family, ready };
  }

  #senderFor(family: Family, srcPort: number | undefined, src: string | undefined): Bound {
    // A listened port sends from its own socket, so replies come from the port asked.
    if (srcPort !== undefined && src === undefined) {
      for (const [port, bound] of this.#listeners) {
        const match = bound.find((b) => (b.family === "dual" || b.family === family) && (port === srcPort || boundPort(b.socket) === srcPort));
        if (match) return match;
      }
    }
    const configured = family === "ipv4" ? this.#config.ipv4.address : this.#config.ipv6.address;
    const host = src ?? configured;
    const key = `${family}|${host}|${srcPort ?? 0}`;
    let sender = this.#senders.get(key);
    if (!sender) {
      sender = this.#open(family, host, srcPort ?? 0);
      this.#senders.set(key, sender);
      sender.ready.catch(() => this.#senders.delete(key));
    }
    return sender;
  }

  async write(dst: string, dstPort: number, data: Uint8Array, options: { src?: string; srcPort?: number; ttl?: number } = {}): Promise<void> {
    const family = familyOf(dst);
    if (!family) throw new IpError("invalid-address", `UDP write: '${dst}' is not an IP address`);
    checkPort(dstPort, `UDP write to ${dst}`);
    if (options.srcPort !== undefined) checkPort(options.srcPort, `UDP write to ${dst}`);
    if (options.src !== undefined && familyOf(options.src) !== family) {
      throw new IpError("invalid-address", `UDP write to ${dst}: source '${options.src}' is not of the same family`);
    }
    if ((family === "ipv4" && this.#config.ipv6Only) || (family === "ipv6" && this.#config.ipv4Only)) {
      throw new IpError("no-route", `UDP write to ${dst}: the stack is ${this.#config.ipv4Only ? "IPv4" : "IPv6"}-only`);
    }
    const sender = this.#senderFor(family, options.srcPort, options.src);
    await sender.ready;
    const socket = sender.socket;
    // A dual-stack socket reaches IPv4 peers through mapped addresses.
    const target = sender.family === "dual" && family === "ipv4" ? `::ffff:${dst}` : dst;
    if (options.ttl !== undefined) socket.setTTL(options.ttl);
    try {
      await new Promise<void>((resolve, reject) => socket.send(data, dstPort, target, (e) => (e ? reject(e) : resolve())));
    } catch (e) {
      const errno = (e as NodeJS.ErrnoException).code;
      const where = `UDP write to ${dst}:${dstPort}`;
      if (errno === "EMSGSIZE") throw new IpError("would-fragment", `${where}: ${data.length} bytes is too large for one datagram`, { cause: e });
      if (errno === "EHOSTUNREACH" || errno === "ENETUNREACH" || errno === "EADDRNOTAVAIL") throw new IpError("no-route", `${where}: no route to the destination`, { cause: e });
      throw new NetError("unavailable", `${where}: ${(e as Error).message}`, { cause: e });
    } finally {
      if (options.ttl !== undefined) socket.setTTL(DEFAULT_TTL);
    }
  }

  async disconnect(): Promise<void> {
    for (const port of [...this.#listeners.keys()]) this.unlisten(port);
    for (const s of this.#senders.values()) closeQuietly(s.socket);
    this.#senders.clear();
  }
}

function boundPort(socket: dgram.Socket): number | null {
  try {
    return socket.address().port;
  } catch {
    return null; // not bound yet
  }
}

function closeQuietly(socket: dgram.Socket): void {
  try {
    socket.close();
  } catch {
    // already closed (its bind failed)
  }
}
