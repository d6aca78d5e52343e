// A TCP instance over one Ip layer: demultiplexing, listeners with a bounded half-open queue,
// active opens with ephemeral ports, RSTs for unknown connections, one timer queue, counters.
import { FlowError, IpError } from "../../devices/errors.ts";
import type { Endpoint } from "../../devices/flow.ts";
import { PROTO_TCP, type Ip, type IpErrorReport, type IpOffload, type IpWriteOptions } from "../../devices/ip.ts";
import type { Tcp, TcpConnectOptions, TcpFlow, TcpListenOptions } from "../../devices/tcp.ts";
import { ACK, RST, SYN, FIN, emitTcpHeader, emptyTcpRepr, parseTcpInto, readU32, setTcpChecksum, tcpHeaderLength, type TcpHeaderFields, type TcpRepr } from "../wire/tcp.ts";
import { resolveConfig, type ResolvedConfig, type TcpConfig } from "./config.ts";
import { MemoryBudget } from "./buffers.ts";
import { Connection, type ConnectionHost } from "./connection.ts";
import { IsnGenerator } from "./isn.ts";
import { countDrop, newCounters, TCP_STATES, type TcpCounters, type TcpState, type TcpStats } from "./stats.ts";
import { TimerQueue, type TcpClock } from "./timers.ts";

export interface TcpLog {
  info(msg: string | (() => string)): void;
  warn(msg: string | (() => string)): void;
  debug(msg: string | (() => string)): void;
}

interface Listener {
  port: number;
  handler: (flow: TcpFlow) => void | Promise<void>;
  options: TcpListenOptions;
  backlog: number;
  /** Half-open (SYN_RECEIVED) connections, oldest first. */
  halfOpen: Set<Connection>;
}

export interface TcpDeps {
  clock: TcpClock;
  random: { fillRandom(buf: Uint8Array): Uint8Array; randomInt(max: number): number };
  log: TcpLog;
}

/** Oasis's TCP: the `Tcp` device plus counters for tests and monitoring. */
export class TcpStack implements Tcp, ConnectionHost {
  readonly config: ResolvedConfig;
  readonly clock: TcpClock;
  readonly timers: TimerQueue;
  readonly counters: TcpCounters = newCounters();
  private readonly conns = new Map<string, Connection>();
  private readonly listeners = new Map<number, Listener>();
  private readonly byState = new Map<TcpState, number>();
  private readonly isn: IsnGenerator;
  private readonly rx: TcpRepr = emptyTcpRepr();
  private readonly random: TcpDeps["random"];
  private readonly log: TcpLog;
  private challengeSecond = -1;
  private challengeCount = 0;
  private readonly rstHeader: TcpHeaderFields = emptyTcpRepr();
  /** The device's offloads when the configuration lets TCP use them. */
  readonly offload: IpOffload | undefined;
  /** Reused for every segment: IP reads it before write returns. */
  private readonly writeOptions: IpWriteOptions = { src: "", fragment: false };
  /** Buffers and windows of all connections against TcpConfig.memoryLimit. */
  readonly memory: MemoryBudget;
  /**
   * Connections held back by the budget (a window kept small, a write waiting), oldest first. A
   * Set: O(1) to join, to leave when closed, and to move to the back after a turn.
   */
  private readonly memoryWaiters = new Set<Connection>();
  private memoryWakeQueued = false;

  constructor(
    readonly ip: Ip,
    config: TcpConfig,
    deps: TcpDeps,
  ) {
    this.config = resolveConfig(config);
    this.memory = new MemoryBudget(this.config.memoryLimit, this.memoryFreed);
    this.clock = deps.clock;
    this.random = deps.random;
    this.log = deps.log;
    this.timers = new TimerQueue(this.clock);
    this.isn = new IsnGenerator(this.random.fillRandom(new Uint8Array(8)));
    this.offload = this.config.offload && ip.offload?.checksum ? ip.offload : undefined;
    ip.listen(PROTO_TCP, (src, dst, payload, checksumOk) => this.input(src, dst, payload, checksumOk === true));
    ip.listenErrors?.(PROTO_TCP, (report) => this.icmpError(report));
  }

  // ---- Tcp ----------------------------------------------------------------------------------

  listen(port: number, handler: (flow: TcpFlow) => void | Promise<void>, options: TcpListenOptions = {}): void {
    checkPort(port, "listen");
    const backlog = options.backlog ?? this.config.defaultBacklog;
    if (!(Number.isInteger(backlog) && backlog > 0)) throw new RangeError(`tcp.listen(${port}): backlog must be a positive integer, got ${backlog}`);
    this.listeners.set(port, { port, handler, options, backlog, halfOpen: new Set() });
  }

  unlisten(port: number): void {
    this.listeners.delete(port);
  }

  connect(dst: string, port: number, options: TcpConnectOptions = {}): Promise<TcpFlow> {
    checkPort(port, "connect");
    let src: string;
    try {
      src = options.src ?? this.ip.source(dst);
    } catch (e) {
      return Promise.reject(unreachable(dst, port, e));
    }
    const localPort = this.ephemeralPort(src, dst, port);
    if (localPort < 0) {
      return Promise.reject(new FlowError("address-in-use", `no free local port to reach ${dst}:${port}: all ${this.config.ephemeralPorts[1] - this.config.ephemeralPorts[0] + 1} ephemeral ports are in use`));
    }
    const now = this.clock.nowMs();
    const conn = this.newConnection({ address: src, port: localPort }, { address: dst, port }, "SYN_SENT", now, options);
    this.counters.activeOpens++;
    return new Promise<TcpFlow>((resolve, reject) => {
      conn.openWaiter = { resolve, reject };
      const err = conn.startActive();
      if (err) conn.terminate(unreachable(dst, port, err));
    });
  }

  /** Counters and connections by state. */
  stats(): TcpStats {
    const connections = {} as TcpStats["connections"];
    let total = 0;
    for (const s of TCP_STATES) {
      const n = this.byState.get(s) ?? 0;
      (connections as Record<string, number>)[s] = n;
      total += n;
    }
    const m = this.memory;
    return {
      ...this.counters,
      drops: { ...this.counters.drops },
      connections,
      connectionCount: total,
      listeners: this.listeners.size,
      timerEntries: this.timers.size,
      memoryUsed: m.used,
      memoryReserved: m.reserved,
      memoryPeak: m.peak,
      memoryLimit: m.limit,
    };
  }

  /** Stops all timers and drops every connection (with a RST), e.g. at shutdown. */
  disconnect(): void {
    for (const c of [...this.conns.values()]) c.abort();
    this.listeners.clear();
    this.timers.stop();
  }

  /** The live connection for a flow's 4-tuple (tests, diagnostics). */
  connection(local: Endpoint, remote: Endpoint): Connection | undefined {
    return this.conns.get(tupleKey(remote.address, remote.port, local.address, local.port));
  }

  // ---- input --------------------------------------------------------------------------------

  /** One segment from IP; `checksumOk`: the device vouched for the checksum, so it is not summed again. */
  input(src: string, dst: string, bytes: Uint8Array, checksumOk = false): void {
    const c = this.counters;
    c.segmentsIn++;
    if (bytes.length < 20) {
      countDrop(c, "truncated-header");
      return;
    }
    const srcPort = (bytes[0]! << 8) | bytes[1]!;
    const dstPort = (bytes[2]! << 8) | bytes[3]!;
    const key = tupleKey(src, srcPort, dst, dstPort);
    let conn = this.conns.get(key);
    let pseudo: number;
    try {
      pseudo = (conn ? conn.pseudoBase : this.ip.pseudoheaderSum(src, dst, PROTO_TCP, 0)) + bytes.length;
    } catch {
      countDrop(c, "bad-address");
      return;
    }
    const r = this.rx;
    const bad = parseTcpInto(bytes, checksumOk ? null : pseudo, r);
    if (bad !== null) {
      countDrop(c, bad);
      return;
    }
    const now = this.clock.nowMs();
    if (conn && conn.state === "TIME_WAIT" && r.flags & SYN && !(r.flags & (ACK | RST)) && this.listeners.has(dstPort) && conn.acceptsReuse(r)) {
      conn.terminate(null);
      conn = undefined;
    }
    if (conn) {
      try {
        conn.input(r, now);
      } catch (e) {
        // A bug must not take the stack down with one segment: count it, drop the connection.
        countDrop(c, "internal-error");
        this.log.warn(`internal error on the connection with ${src}:${srcPort}: ${e instanceof Error ? e.stack : String(e)}; resetting it`);
        conn.abort();
      }
      return;
    }
    const listener = this.listeners.get(dstPort);
    if (listener && (r.flags & (SYN | ACK | RST)) === SYN) {
      this.acceptSyn(listener, src, dst, r, now, pseudo - bytes.length);
      return;
    }
    if (r.flags & RST) {
      countDrop(c, "rst-no-connection");
      return;
    }
    countDrop(c, listener ? "listener-non-syn" : "no-connection");
    // RFC 9293 §3.10.7.1: answer with a RST that the sender will accept.
    const segLen = r.payload.length + (r.flags & SYN ? 1 : 0) + (r.flags & FIN ? 1 : 0);
    const local = { address: dst, port: dstPort };
    const remote = { address: src, port: srcPort };
    if (r.flags & ACK) this.sendReset(local, remote, pseudo - bytes.length, r.ack, 0, false);
    else this.sendReset(local, remote, pseudo - bytes.length, 0, (r.seq + segLen) >>> 0, true);
  }

  /** An ICMP error quoting one of our segments: to its connection, which checks it is in flight. */
  private icmpError(r: IpErrorReport): void {
    const q = r.quote;
    const localPort = (q[0]! << 8) | q[1]!;
    const remotePort = (q[2]! << 8) | q[3]!;
    const conn = this.conns.get(tupleKey(r.dst, remotePort, r.src, localPort));
    if (conn === undefined) return countDrop(this.counters, "icmp-no-connection");
    conn.icmpError(r, readU32(q, 4), this.clock.nowMs());
  }

  private acceptSyn(l: Listener, src: string, dst: string, r: TcpRepr, now: number, pseudoBase: number): void {
    if (l.halfOpen.size >= l.backlog) {
      // A bounded half-open queue: a SYN flood costs dropped SYNs, never unbounded memory. The
      // oldest half-open connection gives way once its SYN-ACK has gone unanswered (retransmitted
      // at least once): a flood from addresses that never answer cannot hold the queue for the
      // whole SYN-ACK retry period and lock out real clients after it.
      const oldest = l.halfOpen.values().next().value as Connection;
      if (!oldest.synAckRetransmitted) {
        countDrop(this.counters, "syn-backlog-full");
        return;
      }
      countDrop(this.counters, "syn-received-evicted");
      oldest.terminate(null);
    }
    const conn = this.newConnection({ address: dst, port: l.port }, { address: src, port: r.srcPort }, "SYN_RECEIVED", now, l.options, pseudoBase);
    conn.listenerPort = l.port;
    conn.passive = true;
    l.halfOpen.add(conn);
    this.counters.passiveOpens++;
    const err = conn.startPassive(r, now);
    if (err) conn.terminate(null);
  }

  private newConnection(local: Endpoint, remote: Endpoint, state: TcpState, now: number, options: TcpConnectOptions & TcpListenOptions, pseudoBase?: number): Connection {
    let mtu = 576 - 20;
    try {
      mtu = this.ip.mtu(remote.address);
    } catch {
      // Unknown path: the RFC 9293 default.
    }
    const conn = new Connection(this, local, remote, {
      state,
      iss: this.isn.isn(local.address, local.port, remote.address, remote.port, now),
      ourMss: Math.max(64, Math.min(65495, mtu - 20)),
      keepalive: options.keepalive,
      noDelay: options.noDelay,
      tsOffset: this.random.randomInt(2 ** 32),
    });
    conn.pseudoBase = pseudoBase ?? this.ip.pseudoheaderSum(local.address, remote.address, PROTO_TCP, 0);
    conn.key = tupleKey(remote.address, remote.port, local.address, local.port);
    this.conns.set(conn.key, conn);
    this.byState.set(state, (this.byState.get(state) ?? 0) + 1);
    return conn;
  }

  private ephemeralPort(src: string, dst: string, dstPort: number): number {
    const [lo, hi] = this.config.ephemeralPorts;
    const n = hi - lo + 1;
    const start = this.random.randomInt(n);
    for (let i = 0; i < n; i++) {
      const p = lo + ((start + i) % n);
      if (this.listeners.has(p)) continue;
      if (!this.conns.has(tupleKey(dst, dstPort, src, p))) return p;
    }
    return -1;
  }

  // ---- ConnectionHost -----------------------------------------------------------------------

  transmit(conn: Connection, parts: Uint8Array[], segmentSize: number): Error | null {
    try {
      const o = this.writeOptions;
      o.src = conn.local.address;
      // IPv4: DF on every segment, for path MTU discovery (RFC 1191) instead of fragmentation on
      // the way. IPv6 routers never fragment; there a segment sized before another connection
      // learnt a smaller path MTU to the same host is fragmented at the source rather than lost.
      o.fragment = conn.remote.address.indexOf(":") >= 0;
      if (this.offload !== undefined) {
        o.partialChecksumAt = 16;
        o.segmentSize = segmentSize;
      }
      this.ip.write(conn.remote.address, PROTO_TCP, parts, o);
      return null;
    } catch (e) {
      countDrop(this.counters, e instanceof IpError ? `ip-${e.code}` : "ip-error");
      return e instanceof Error ? e : new Error(String(e));
    }
  }

  sendReset(local: Endpoint, remote: Endpoint, pseudoBase: number, seq: number, ack: number, withAck: boolean): void {
    const h = this.rstHeader;
    h.srcPort = local.port;
    h.dstPort = remote.port;
    h.seq = seq;
    h.ack = withAck ? ack : 0;
    h.flags = RST | (withAck ? ACK : 0);
    const hlen = tcpHeaderLength(h);
    const header = new Uint8Array(hlen);
    emitTcpHeader(h, header);
    setTcpChecksum(header, hlen, [], pseudoBase + hlen);
    try {
      this.ip.write(remote.address, PROTO_TCP, [header], { src: local.address });
      this.counters.resetsSent++;
      this.counters.segmentsOut++;
    } catch {
      countDrop(this.counters, "reset-unroutable");
    }
  }

  ackSoon(conn: Connection): void {
    this.acksOwed.push(conn);
    if (this.acksOwed.length === 1) queueMicrotask(this.flushAcks);
  }

  private readonly acksOwed: Connection[] = [];
  private readonly flushAcks = (): void => {
    const now = this.clock.nowMs();
    const owed = this.acksOwed;
    for (let i = 0; i < owed.length; i++) owed[i]!.flushAck(now);
    owed.length = 0;
  };

  allowChallengeAck(now: number): boolean {
    const second = Math.floor(now / 1000);
    if (second !== this.challengeSecond) {
      this.challengeSecond = second;
      this.challengeCount = 0;
    }
    return this.challengeCount++ < this.config.challengeAckLimit;
  }

  established(conn: Connection): void {
    const l = conn.listenerPort >= 0 ? this.listeners.get(conn.listenerPort) : undefined;
    this.releaseHalfOpen(conn);
    if (!l) {
      conn.abort();
      return;
    }
    const handler = l.handler;
    Promise.resolve()
      .then(() => handler(conn))
      .catch((e: unknown) => {
        this.log.warn(`handler for port ${l.port} failed on the connection from ${conn.remote.address}:${conn.remote.port}: ${e instanceof Error ? e.message : String(e)}; closing it`);
        conn.abort();
      });
  }

  private releaseHalfOpen(conn: Connection): void {
    if (conn.listenerPort < 0) return;
    const l = this.listeners.get(conn.listenerPort);
    l?.halfOpen.delete(conn);
    conn.listenerPort = -1;
  }

  memoryShare(conn: Connection): number {
    const w = this.memoryWaiters;
    if (w.size === 0 || (w.size === 1 && w.has(conn))) return Infinity;
    return this.memory.limit / Math.max(1, this.conns.size);
  }

  waitForMemory(conn: Connection): void {
    this.memoryWaiters.add(conn);
  }

  /** Bytes went back to the budget: once the current work is done, let waiters take them. */
  private readonly memoryFreed = (): void => {
    if (this.memoryWaiters.size === 0 || this.memoryWakeQueued) return;
    this.memoryWakeQueued = true;
    queueMicrotask(this.wakeMemoryWaiters);
  };

  /**
   * Gives each waiter in turn the chance to take what is free. The pass ends at the first one
   * that cannot use it (it goes to the back, so the next pass starts with another), so a pass
   * costs the connections it helped plus one, not a scan of every waiter.
   */
  private readonly wakeMemoryWaiters = (): void => {
    this.memoryWakeQueued = false;
    const w = this.memoryWaiters;
    let turns = w.size;
    for (const conn of w) {
      if (turns-- === 0 || this.memory.free <= 0) return;
      w.delete(conn);
      if (!conn.memoryFreed()) return;
    }
  };

  closed(conn: Connection, from: TcpState): void {
    this.memoryWaiters.delete(conn);
    if (from === "SYN_RECEIVED") this.releaseHalfOpen(conn);
    this.byState.set(from, (this.byState.get(from) ?? 1) - 1);
    if (this.conns.get(conn.key) === conn) this.conns.delete(conn.key);
  }

  transition(_conn: Connection, from: TcpState, to: TcpState): void {
    this.byState.set(from, (this.byState.get(from) ?? 1) - 1);
    this.byState.set(to, (this.byState.get(to) ?? 0) + 1);
  }
}

function tupleKey(remote: string, remotePort: number, local: string, localPort: number): string {
  return `${remote} ${remotePort} ${local} ${localPort}`;
}

function checkPort(port: number, what: string): void {
  if (!(Number.isInteger(port) && port >= 1 && port <= 65535)) throw new RangeError(`tcp.${what}: port must be an integer from 1 to 65535, got ${port}`);
}

function unreachable(dst: string, port: number, cause: unknown): FlowError {
  const why = cause instanceof Error ? cause.message : String(cause);
  return new FlowError("unreachable", `cannot reach ${dst}:${port}: ${why}`, { cause });
}
