// withFaults: a seeded, deterministic fault injector (Net → Net), after smoltcp's FaultInjector:
// loss, duplication, reordering, bit corruption, delay with jitter, a size limit and a frame-rate
// limit, each direction deciding with its own random stream so the same seed and the same
// traffic give the same faults.
import { NetError } from "../../devices/errors.ts";
import type { Net, RxOffload } from "../../devices/net.ts";
import { segmentTcpPacket } from "../wire/gso.ts";
import { nowMs } from "oasis/mtime";
import { setTimer } from "oasis/sleep";

export interface FaultOptions {
  /** Seed of the pseudo-random decisions (default 1). */
  seed?: number;
  /** Probability (0..1) that a frame is lost. */
  loss?: number;
  /** Probability that a frame is delivered twice. */
  duplicate?: number;
  /** Probability that a frame is held back and delivered after the next one (or after reorderHoldMs). */
  reorder?: number;
  /** How long a held-back frame waits for a successor before it goes anyway (default 10 ms). */
  reorderHoldMs?: number;
  /** Probability that one random bit of the frame is flipped. */
  corrupt?: number;
  /** Fixed delay added to every frame. */
  delayMs?: number;
  /** Uniform random extra delay in [0, jitterMs). */
  jitterMs?: number;
  /** Frames longer than this many bytes are dropped (a path with a smaller MTU). */
  maxSize?: number;
  /** At most `frames` frames per `intervalMs` in each direction; the rest are dropped. */
  rate?: { frames: number; intervalMs: number };
  /** Which traffic suffers (default "both"). */
  direction?: "both" | "tx" | "rx";
}

export interface FaultStats {
  passed: number;
  lost: number;
  duplicated: number;
  reordered: number;
  corrupted: number;
  delayed: number;
  tooBig: number;
  rateLimited: number;
}

export interface FaultyNet extends Net {
  /** What the injector did, both directions together. */
  faultStats(): FaultStats;
}

/** A small counter-based generator: deterministic, fast, good enough for fault decisions. */
export class SeededRandom {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x9e3779b9) >>> 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    z = (z ^ (z >>> 16)) >>> 0;
    return z / 4294967296;
  }
}

function probability(name: string, p: number | undefined): number {
  const v = p ?? 0;
  if (!(v >= 0 && v <= 1)) throw new RangeError(`withFaults: ${name} is a probability between 0 and 1, got ${p}`);
  return v;
}

function nonNegative(name: string, v: number | undefined): number {
  const x = v ?? 0;
  if (!(Number.isFinite(x) && x >= 0)) throw new RangeError(`withFaults: ${name} must be a number ≥ 0, got ${v}`);
  return x;
}

interface Lane {
  random: SeededRandom;
  held: Uint8Array | null;
  cancelHold: (() => void) | null;
  tokens: number;
  refilledAt: number;
}

export function withFaults(net: Net, options: FaultOptions): FaultyNet {
  const seed = options.seed ?? 1;
  const loss = probability("loss", options.loss);
  const duplicate = probability("duplicate", options.duplicate);
  const reorder = probability("reorder", options.reorder);
  const corrupt = probability("corrupt", options.corrupt);
  const delayMs = nonNegative("delayMs", options.delayMs);
  const jitterMs = nonNegative("jitterMs", options.jitterMs);
  const reorderHoldMs = nonNegative("reorderHoldMs", options.reorderHoldMs ?? 10);
  const maxSize = options.maxSize ?? Infinity;
  const rate = options.rate;
  if (rate && !(rate.frames > 0 && rate.intervalMs > 0)) throw new RangeError(`withFaults: rate needs frames > 0 and intervalMs > 0`);
  const direction = options.direction ?? "both";

  const stats: FaultStats = { passed: 0, lost: 0, duplicated: 0, reordered: 0, corrupted: 0, delayed: 0, tooBig: 0, rateLimited: 0 };
  const lane = (s: number): Lane => ({ random: new SeededRandom(s), held: null, cancelHold: null, tokens: rate?.frames ?? 0, refilledAt: nowMs() });
  const tx = lane(seed);
  const rx = lane((seed ^ 0x5bd1e995) >>> 0);
  const timers = new Set<() => void>();
  let connected = true;
  let handler: ((frame: Uint8Array) => void) | null = null;

  const later = (ms: number, fn: () => void) => {
    const cancel = setTimer(ms, () => {
      timers.delete(cancel);
      if (connected) fn();
    });
    timers.add(cancel);
    return cancel;
  };

  // Frames leaving the injector: tx to the device, rx to the listener. A delayed tx frame that
  // the device refuses by then (disconnected) is simply lost, as on a wire.
  const sendTx = (frame: Uint8Array, synchronous: boolean) => {
    if (synchronous) net.write(frame);
    else {
      try {
        net.write(frame);
      } catch {
        stats.lost++;
      }
    }
  };
  const sendRx = (frame: Uint8Array) => handler?.(frame);

  const allowedByRate = (l: Lane): boolean => {
    if (!rate) return true;
    const now = nowMs();
    if (now - l.refilledAt >= rate.intervalMs) {
      l.tokens = rate.frames;
      l.refilledAt = now;
    }
    if (l.tokens <= 0) return false;
    l.tokens--;
    return true;
  };

  /** Runs one frame through the faults; `emit(frame, synchronous)` delivers a (possibly copied) frame. */
  const process_ = (l: Lane, frame: Uint8Array, emit: (f: Uint8Array, synchronous: boolean) => void) => {
    if (frame.length > maxSize) return void stats.tooBig++;
    if (!allowedByRate(l)) return void stats.rateLimited++;
    if (loss > 0 && l.random.next() < loss) return void stats.lost++;
    let f = frame;
    let copied = false;
    if (corrupt > 0 && l.random.next() < corrupt) {
      f = frame.slice();
      copied = true;
      const at = Math.floor(l.random.next() * f.length);
      f[at]! ^= 1 << Math.floor(l.random.next() * 8);
      stats.corrupted++;
    }
    const copies = duplicate > 0 && l.random.next() < duplicate ? 2 : 1;
    if (copies === 2) stats.duplicated++;
    const delay = delayMs + (jitterMs > 0 ? l.random.next() * jitterMs : 0);
    const holdBack = reorder > 0 && l.held === null && l.random.next() < reorder;

    const deliverNow = (x: Uint8Array, synchronous: boolean) => {
      for (let i = 0; i < copies; i++) emit(i === 0 ? x : x.slice(), synchronous);
      // A frame held back earlier goes right after its successor: that is the reordering.
      if (l.held) {
        const h = l.held;
        l.held = null;
        l.cancelHold?.();
        l.cancelHold = null;
        emit(h, false);
      }
    };

    if (holdBack) {
      stats.reordered++;
      l.held = copied ? f : f.slice();
      l.cancelHold = later(reorderHoldMs + delay, () => {
        const h = l.held;
        l.held = null;
        l.cancelHold = null;
        if (h) emit(h, false);
      });
      if (copies === 2) emit(l.held.slice(), true);
      return;
    }
    stats.passed++;
    if (delay > 0) {
      stats.delayed++;
      const keep = copied ? f : f.slice();
      later(delay, () => deliverNow(keep, false));
    } else deliverNow(f, true);
  };

  return {
    mac: net.mac,
    mtu: net.mtu,
    write(frame: Uint8Array): void {
      if (!connected) throw new NetError("disconnected", "the fault-injecting device is disconnected; frames can no longer be written to it");
      if (frame.length < 14 || frame.length > net.mtu + 14) {
        throw new NetError("invalid-length", `a frame must be 14..${net.mtu + 14} bytes (Ethernet header + MTU ${net.mtu}), got ${frame.length}`);
      }
      if (direction === "rx") return net.write(frame);
      process_(tx, frame, sendTx);
    },
    // No offloads above the injector: faults act on wire-sized frames. A merged frame from a
    // device with offloads is cut back into its segments first, and nothing is vouched for.
    listen(h: (frame: Uint8Array) => void): void {
      handler = h;
      const one = (frame: Uint8Array) => {
        if (direction === "tx") return sendRx(frame);
        process_(rx, frame, (f) => sendRx(f));
      };
      net.listen((frame, offload?: RxOffload) => {
        if (offload === undefined || offload.segmentSize === 0) return one(frame);
        segmentTcpPacket(frame.subarray(14), offload.segmentSize, (packet) => {
          const f = new Uint8Array(14 + packet.length);
          f.set(frame.subarray(0, 14));
          f.set(packet, 14);
          one(f);
        });
      });
    },
    stats: () => net.stats(),
    resetStats: () => net.resetStats(),
    faultStats: () => ({ ...stats }),
    async disconnect(): Promise<void> {
      connected = false;
      for (const cancel of timers) cancel();
      timers.clear();
      tx.held = rx.held = null;
      await net.disconnect();
    },
  };
}
