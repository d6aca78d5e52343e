import type { Endpoint, Flow } from "./flow.ts";

export interface Keepalive {
  /** Idle time before the first probe. */
  afterMs: number;
  intervalMs: number;
  probes: number;
}

export interface TcpFlow extends Flow {
  readonly local: Endpoint;
  readonly remote: Endpoint;
  /** Disables Nagle's algorithm: small writes go out at once. */
  setNoDelay(noDelay: boolean): void;
}

export interface TcpListenOptions {
  keepalive?: Keepalive;
  /** Connections accepted by the stack but not yet handed to the handler. */
  backlog?: number;
}

export interface TcpConnectOptions {
  keepalive?: Keepalive;
  src?: string;
  noDelay?: boolean;
}

export interface Tcp {
  /**
   * Accepts connections on `port`; `handler` runs once per connection. An exception or rejection
   * of the handler closes that flow and is logged; it does not stop the listener.
   */
  listen(port: number, handler: (flow: TcpFlow) => void | Promise<void>, options?: TcpListenOptions): void;
  unlisten(port: number): void;
  /** Rejects with FlowError("refused" | "timeout" | "unreachable"). */
  connect(dst: string, port: number, options?: TcpConnectOptions): Promise<TcpFlow>;
}
