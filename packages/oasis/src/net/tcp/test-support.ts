// Test harness (not a test): a virtual clock and an in-memory IP link between TCP instances,
// with loss, duplication, reordering and per-segment filters under a seeded PRNG. Time only
// moves when nothing else can run, so multi-second timeouts take milliseconds.
import { IpError } from "../../devices/errors.ts";
import type { Ip, IpHandler, IpWriteOptions, Prefix } from "../../devices/ip.ts";
import type { TcpFlow } from "../../devices/tcp.ts";
import type { Net, NetOffload, NetStats, RxOffload, TxOffload } from "../../devices/net.ts";
import { WireError as TcpWireError } from "../wire/error.ts";
import { emitTcpHeader, emptyTcpRepr, parseTcp, setTcpChecksum, tcpHeaderLength, type TcpRepr } from "../wire/tcp.ts";
import { createTcp, type TcpConfig } from "./index.ts";
import type { TcpStack } from "./stack.ts";
import type { TcpClock } from "./timers.ts";

interface Scheduled {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

export class VirtualClock implements TcpClock {
  private now = 0;
  private seq = 0;
  private heap: Scheduled[] = [];

  nowMs = (): number => this.now;

  setTimer = (ms: number, fn: () => void): (() => void) => {
    const t: Scheduled = { at: this.now + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    this.push(t);
    return () => {
      t.cancelled = true;
    };
  };

  /** Runs events in time order until `done()` holds; throws if time runs out or nothing is left. */
  async runUntil(done: () => boolean, limitMs = 3_600_000): Promise<void> {
    const end = this.now + limitMs;
    for (;;) {
      await new Promise<void>((r) => setImmediate(r));
      if (done()) return;
      let t = this.pop();
      while (t && t.cancelled) t = this.pop();
      if (!t) throw new Error(`virtual clock at ${this.now} ms: nothing scheduled and the condition is still false`);
      if (t.at > end) throw new Error(`virtual clock passed its limit of ${limitMs} ms`);
      this.now = Math.max(this.now, t.at);
      t.fn();
      // Everything else due at this instant runs before promises settle, like one poll phase.
      for (let n = this.peekAt(); n !== undefined && n <= this.now; n = this.peekAt()) {
        const u = this.pop()!;
        if (!u.cancelled) u.fn();
      }
    }
  }

  /** Settles `p`, running virtual time as needed. */
  async run<T>(p: Promise<T>, limitMs?: number): Promise<T> {
    let settled = false;
    const q = p.finally(() => {
      settled = true;
    });
    q.catch(() => {});
    await this.runUntil(() => settled, limitMs);
    return q;
  }

  /** Lets `ms` of virtual time pass, running everything due. */
  async advance(ms: number): Promise<void> {
    const target = this.now + ms;
    let reached = false;
    this.setTimer(ms, () => {
      reached = true;
    });
    await this.runUntil(() => reached && this.now >= target);
  }

  private peekAt(): number | undefined {
    return this.heap.length > 0 ? this.heap[0]!.at : undefined;
  }

  private push(t: Scheduled): void {
    const h = this.heap;
    h.push(t);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (before(h[p]!, t)) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = t;
  }

  private pop(): Scheduled | undefined {
    const h = this.heap;
    if (h.length === 0) return undefined;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= h.length) break;
        const r = l + 1;
        const c = r < h.length && before(h[r]!, h[l]!) ? r : l;
        if (before(last, h[c]!)) break;
        h[i] = h[c]!;
        i = c;
      }
      h[i] = last;
    }
    return top;
  }
}

function before(a: Scheduled, b: Scheduled): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

/** A small deterministic PRNG (mulberry32). */
export function seededRandom(seed: number): { next(): number; fillRandom(b: Uint8Array): Uint8Array; randomInt(max: number): number } {
  let s = seed >>> 0;
  const next = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  return {
    next,
    fillRandom(b) {
      for (let i = 0; i < b.length; i++) b[i] = Math.floor(next() * 256);
      return b;
    },
    randomInt(max) {
      return Math.floor(next() * max);
    },
  };
}

export interface LinkFaults {
  loss?: number;
  duplicate?: number;
  /** Probability that a segment is held back by `reorderDelayMs`. */
  reorder?: number;
  reorderDelayMs?: number;
  /** One-way delay. */
  delayMs?: number;
  /** Return true to drop this segment (runs before the random faults). */
  drop?: (seg: SeenSegment) => boolean;
}

export interface SeenSegment {
  src: string;
  dst: string;
  tcp: TcpRepr;
  bytes: Uint8Array;
}

/** IPv4 addresses joined by one wire with a fixed delay. */
export class TestNet {
  readonly clock = new VirtualClock();
  readonly rng: ReturnType<typeof seededRandom>;
  faults: LinkFaults;
  private readonly hosts = new Map<string, TestIp>();
  /** Every segment put on the wire, parsed (before faults). */
  readonly seen: SeenSegment[] = [];
  record = false;
  delivered = 0;

  constructor(options: { seed?: number; faults?: LinkFaults } = {}) {
    this.rng = seededRandom(options.seed ?? 1);
    this.faults = options.faults ?? {};
  }

  ip(address: string, mtu = 1500): TestIp {
    const ip = new TestIp(this, address, mtu);
    this.hosts.set(address, ip);
    return ip;
  }

  /** A TCP instance on `address` driven by this net's clock and PRNG. */
  tcp(address: string, config: TcpConfig = {}, mtu = 1500): TcpStack {
    return createTcp(this.ip(address, mtu), { clock: this.clock, random: seededRandom(this.rng.randomInt(2 ** 31)), ...config });
  }
  /** Two instances (192.0.2.1 and .2, same config) and one connection from the first to port 80 of the second. */
  async connectedPair(config: TcpConfig = {}): Promise<{ a: TcpStack; b: TcpStack; client: TcpFlow; server: TcpFlow }> {
    const a = this.tcp("192.0.2.1", config);
    const b = this.tcp("192.0.2.2", config);
    let server: TcpFlow | null = null;
    b.listen(80, (f) => {
      server = f;
    });
    const client = await this.clock.run(a.connect("192.0.2.2", 80));
    await this.clock.runUntil(() => server !== null);
    return { a, b, client, server: server! as TcpFlow };
  }


  send(src: string, dst: string, bytes: Uint8Array): void {
    if (!this.hosts.has(dst)) throw new IpError("no-route", `no route to ${dst}`);
    const f = this.faults;
    let seg: SeenSegment | null = null;
    if (this.record || f.drop) {
      const tcp = parseTcp(bytes);
      if (!(tcp instanceof TcpWireError)) {
        seg = { src, dst, tcp, bytes };
        if (this.record) this.seen.push(seg);
        if (f.drop && f.drop(seg)) return;
      }
    }
    if (f.loss && this.rng.next() < f.loss) return;
    const copies = f.duplicate && this.rng.next() < f.duplicate ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      let delay = f.delayMs ?? 1;
      if (f.reorder && this.rng.next() < f.reorder) delay += f.reorderDelayMs ?? 3;
      this.clock.setTimer(delay, () => {
        this.delivered++;
        this.hosts.get(dst)?.deliver(src, dst, bytes);
      });
    }
  }
}

export class TestIp implements Ip {
  readonly family = "ipv4";
  private handlers = new Map<number, IpHandler>();

  constructor(
    private readonly net: TestNet,
    readonly address: string,
    private readonly linkMtu: number,
  ) {}

  listen(proto: number, handler: IpHandler): void {
    this.handlers.set(proto, handler);
  }

  deliver(src: string, dst: string, bytes: Uint8Array): void {
    this.handlers.get(6)?.(src, dst, bytes);
  }

  write(dst: string, _proto: number, payload: Uint8Array | readonly Uint8Array[], _options?: IpWriteOptions): void {
    const parts = payload instanceof Uint8Array ? [payload] : payload;
    let n = 0;
    for (const p of parts) n += p.length;
    if (n > this.linkMtu - 20) throw new IpError("would-fragment", `segment of ${n} bytes exceeds the MTU`);
    const bytes = new Uint8Array(n);
    let o = 0;
    for (const p of parts) {
      bytes.set(p, o);
      o += p.length;
    }
    this.net.send(this.address, dst, bytes);
  }

  pseudoheaderSum(src: string, dst: string, proto: number, length: number): number {
    let s = proto + length;
    for (const a of [src, dst]) {
      const b = a.split(".").map(Number);
      s += ((b[0]! << 8) | b[1]!) + ((b[2]! << 8) | b[3]!);
    }
    return s;
  }

  source(): string {
    return this.address;
  }

  configuredAddresses(): Prefix[] {
    return [{ address: this.address, prefixLength: 24 }];
  }

  mtu(): number {
    return this.linkMtu - 20;
  }

  async disconnect(): Promise<void> {}
}

/** Deterministic test data. */
export function pattern(n: number, seed = 7): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

/** Reads a flow to its end. */
export async function readAll(flow: { read(): Promise<Uint8Array | null> }): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for (;;) {
    const c = await flow.read();
    if (c === null) break;
    chunks.push(c);
  }
  return new Uint8Array(Buffer.concat(chunks));
}

/** A hand-driven TCP peer: sends crafted segments and records what it receives. */
export class RawPeer {
  readonly received: TcpRepr[] = [];
  private readonly ip: TestIp;

  constructor(
    private readonly net: TestNet,
    readonly address: string,
  ) {
    this.ip = net.ip(address);
    this.ip.listen(6, (_src, _dst, bytes) => {
      const r = parseTcp(bytes.slice());
      if (!(r instanceof TcpWireError)) this.received.push(r);
    });
  }

  send(dst: string, fields: Partial<TcpRepr> & { srcPort: number; dstPort: number }, payload: Uint8Array = new Uint8Array(0)): void {
    const r = { ...emptyTcpRepr(), ...fields };
    const header = new Uint8Array(tcpHeaderLength(r));
    const hlen = emitTcpHeader(r, header);
    setTcpChecksum(header, hlen, [payload], this.ip.pseudoheaderSum(this.address, dst, 6, hlen + payload.length));
    this.ip.write(dst, 6, [header, payload]);
  }

  /** Segments received since the last call. */
  take(): TcpRepr[] {
    return this.received.splice(0);
  }
}

/** What crossed a device with offloads: merged frames received, segmentation requests sent. */
export interface OffloadTally {
  rxFrames: number;
  /** Received frames that held several segments (RxOffload.segmentSize > 0), and the largest. */
  rxMerged: number;
  rxLargest: number;
  /** Received frames whose checksum the device vouched for. */
  rxChecksumOk: number;
  txFrames: number;
  /** Frames carrying TCP over IPv4 or IPv6 (without extension headers). */
  txTcp: number;
  /** Writes the device was asked to cut into segments, and the largest. */
  txSegmented: number;
  txLargest: number;
  /** Writes with a partial checksum for the device to finish. */
  txPartial: number;
}

/** Wraps a Net with offloads, counting what its offloads carried (for kernel tests). */
export function tallyOffloads(net: Net): { net: Net; tally: OffloadTally } {
  const tally: OffloadTally = { rxFrames: 0, rxMerged: 0, rxLargest: 0, rxChecksumOk: 0, txFrames: 0, txTcp: 0, txSegmented: 0, txLargest: 0, txPartial: 0 };
  const wrapped: Net = {
    mac: net.mac,
    mtu: net.mtu,
    ...(net.offload ? { offload: net.offload } : {}),
    write(frame, offload) {
      tally.txFrames++;
      const type = (frame[12]! << 8) | frame[13]!;
      if ((type === 0x0800 && frame[23] === 6) || (type === 0x86dd && frame[20] === 6)) tally.txTcp++;
      if (offload && offload.checksumStart > 0) tally.txPartial++;
      if (offload && offload.segmentSize > 0) {
        tally.txSegmented++;
        tally.txLargest = Math.max(tally.txLargest, frame.length);
      }
      net.write(frame, offload);
    },
    listen(handler) {
      net.listen((frame, offload) => {
        tally.rxFrames++;
        if (offload?.checksumOk) tally.rxChecksumOk++;
        if (offload && offload.segmentSize > 0) {
          tally.rxMerged++;
          tally.rxLargest = Math.max(tally.rxLargest, frame.length);
        }
        handler(frame, offload);
      });
    },
    stats: () => net.stats(),
    resetStats: () => net.resetStats(),
    disconnect: () => net.disconnect(),
  };
  return { net: wrapped, tally };
}

/** A device that records what it is asked to write (with its offload request) and delivers what the test hands it. */
export class RecordingNet implements Net {
  readonly offload?: NetOffload;
  readonly writes: { frame: Uint8Array; offload: TxOffload | undefined }[] = [];
  private handler: ((frame: Uint8Array, offload?: RxOffload) => void) | null = null;
  constructor(
    offload?: NetOffload,
    readonly mac: Uint8Array = new Uint8Array([2, 0, 0, 0, 0, 2]),
    readonly mtu = 1500,
  ) {
    if (offload) this.offload = offload;
  }
  write(frame: Uint8Array, offload?: TxOffload): void {
    this.writes.push({ frame: frame.slice(), offload: offload ? { ...offload } : undefined });
  }
  listen(handler: (frame: Uint8Array, offload?: RxOffload) => void): void {
    this.handler = handler;
  }
  deliver(frame: Uint8Array, offload?: RxOffload): void {
    if (this.handler === null) throw new Error("RecordingNet: nothing listens yet");
    this.handler(frame, offload);
  }
  /** IPv4 frames written (ARP left out), and forgets them. */
  takeIpv4(): { frame: Uint8Array; offload: TxOffload | undefined }[] {
    const out = this.writes.filter((w) => w.frame[12] === 0x08 && w.frame[13] === 0x00);
    this.writes.length = 0;
    return out;
  }
  stats(): NetStats {
    return { rxBytes: 0, rxPackets: 0, txBytes: 0, txPackets: 0, rxDropped: 0, txDropped: 0 };
  }
  resetStats(): void {}
  async disconnect(): Promise<void> {}
}
