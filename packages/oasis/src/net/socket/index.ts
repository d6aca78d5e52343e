// The socket stack (--net=socket, the default on unix): Oasis's Stack signature over the host
// kernel's TCP/IP through node:net and node:dgram.
import { defineDevice } from "../../runtime/device.ts";
import type { Stack } from "../../devices/stack.ts";
import type { Tcp } from "../../devices/tcp.ts";
import type { Udp } from "../../devices/udp.ts";
import { declareSocketConfig, DEFAULT_SOCKET_CONFIG, type SocketConfig } from "./config.ts";
import { SocketIp } from "./ip.ts";
import { SocketTcp, SocketTcpFlow } from "./tcp.ts";
import { SocketUdp } from "./udp.ts";

export { SocketIp, SocketTcp, SocketTcpFlow, SocketUdp, DEFAULT_SOCKET_CONFIG, type SocketConfig };
export { canonicalAddress, parsePrefix } from "./address.ts";

export class SocketStack implements Stack {
  readonly udp: SocketUdp;
  readonly tcp: SocketTcp;
  readonly ip: SocketIp;
  #disconnected: Promise<void>;
  #markDisconnected!: () => void;
  #fail!: (error: Error) => void;

  constructor(config: SocketConfig = DEFAULT_SOCKET_CONFIG) {
    this.udp = new SocketUdp(config);
    this.tcp = new SocketTcp(config);
    this.ip = new SocketIp(config);
    this.#disconnected = new Promise((resolve, reject) => {
      this.#markDisconnected = resolve;
      this.#fail = reject;
    });
    this.#disconnected.catch(() => {}); // observed by whoever awaits listen()
    // A port that cannot be bound is fatal for a unikernel awaiting listen(), as in Mirage.
    this.tcp.onListenError = (e) => this.#fail(e);
  }

  /** Resolves when the stack is disconnected; rejects if a TCP listener could not bind. */
  listen(): Promise<void> {
    return this.#disconnected;
  }

  async disconnect(): Promise<void> {
    await Promise.all([this.tcp.disconnect(), this.udp.disconnect(), this.ip.disconnect()]);
    this.#markDisconnected();
  }
}

export const socketStackDevice = defineDevice<Record<string, never>, Record<string, never>, Stack>({
  declare(_options, context) {
    const config = declareSocketConfig(context);
    return async () => new SocketStack(config());
  },
});

export const socketTcpDevice = defineDevice<Record<string, never>, Record<string, never>, Tcp>({
  declare(_options, context) {
    const config = declareSocketConfig(context);
    return async () => new SocketTcp(config());
  },
});

export const socketUdpDevice = defineDevice<Record<string, never>, Record<string, never>, Udp>({
  declare(_options, context) {
    const config = declareSocketConfig(context);
    return async () => new SocketUdp(config());
  },
});
