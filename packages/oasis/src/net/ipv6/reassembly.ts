// IPv6 reassembly (RFC 8200 §4.5) with hard bounds: fragments per datagram, datagram size,
// time from first fragment (60 s), overlaps poison the whole datagram (RFC 5722), the first
// fragment must carry the whole header chain (RFC 7112), and a global memory cap evicts the
// oldest datagram first.
import { Counters, WireError } from "../wire/error.ts";
import { IPV6_HEADER_LENGTH, walkIpv6Headers, type Ipv6Fragment } from "../wire/ipv6.ts";
import type { Clock } from "../stack/clock.ts";
import { FragmentSet } from "../fragments.ts";

export interface Ipv6ReassemblyOptions {
  /** Fragments kept per datagram (default 64: a 64 KiB datagram at the 1280-byte minimum MTU needs 54). */
  maxFragments?: number;
  /** First to last fragment (default 60 s, RFC 8200). */
  timeoutMs?: number;
  /** Bytes held across all datagrams being reassembled (default 256 KiB). */
  memoryLimit?: number;
}

interface Partial {
  key: string;
  pieces: FragmentSet;
  /** The fixed header of the first fragment and the protocol of the fragmentable part. */
  header: Uint8Array | null;
  nextHeader: number;
  /** The first fragment as received, for an ICMPv6 time exceeded on timeout. */
  firstPacket: Uint8Array | null;
  cancel: () => void;
}

const MAX_PAYLOAD = 65535;

export class Ipv6Reassembler {
  private readonly partials = new Map<string, Partial>();
  private memory = 0;
  private readonly maxFragments: number;
  private readonly timeoutMs: number;
  private readonly memoryLimit: number;

  /**
   * `onTimeout` gets the first fragment of a datagram that never completed (if it came);
   * `onBadField` a fragment refused for a header field (RFC 8200 §4.5: a Parameter Problem
   * pointing at `pointer`).
   */
  constructor(
    private readonly clock: Clock,
    private readonly counters: Counters,
    options: Ipv6ReassemblyOptions = {},
    private readonly onTimeout: (firstFragment: Uint8Array) => void = () => {},
    private readonly onBadField: (fragment: Uint8Array, pointer: number) => void = () => {},
  ) {
    this.maxFragments = options.maxFragments ?? 64;
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.memoryLimit = options.memoryLimit ?? 256 * 1024;
  }

  get heldBytes(): number {
    return this.memory;
  }
  get pendingDatagrams(): number {
    return this.partials.size;
  }

  /**
   * Adds one fragment: `packet` is the whole IPv6 packet, `f` its fragment header, the data runs
   * from `dataAt` to `end`. Returns the reassembled packet (fixed header + payload, extension
   * headers before the fragment header dropped) once complete.
   */
  add(packet: Uint8Array, f: Ipv6Fragment, dataAt: number, end: number): Uint8Array | null {
    const len = end - dataAt;
    if (f.more && (len === 0 || len % 8 !== 0)) {
      this.counters.add("bad-fragment-length");
      this.onBadField(packet.subarray(0, end), 4); // the payload length field
      return null;
    }
    if (f.offset + len > MAX_PAYLOAD - (dataAt - IPV6_HEADER_LENGTH - 8)) {
      this.counters.add("fragment-too-large");
      this.onBadField(packet.subarray(0, end), f.headerAt + 2); // the fragment offset field
      return null;
    }
    if (f.offset === 0) {
      // RFC 7112: the upper-layer header must be inside the first fragment.
      const walk = walkIpv6Headers(packet, f.nextHeader, dataAt, end, f.headerAt);
      if (walk instanceof WireError || walk.fragment !== null) {
        this.counters.add(walk instanceof WireError ? "incomplete-first-fragment" : "nested-fragment");
        return null;
      }
    }
    let key = "";
    for (let i = 8; i < 40; i++) key += String.fromCharCode(packet[i]!);
    key += f.id;
    let d = this.partials.get(key);
    if (!d) {
      const fresh: Partial = { key, pieces: new FragmentSet(), header: null, nextHeader: 0, firstPacket: null, cancel: () => {} };
      fresh.cancel = this.clock.setTimer(this.timeoutMs, () => {
        if (this.partials.get(key) !== fresh) return;
        this.drop(fresh);
        this.counters.add("reassembly-timeout");
        if (fresh.firstPacket) this.onTimeout(fresh.firstPacket);
      });
      this.partials.set(key, fresh);
      d = fresh;
    }
    const start = f.offset;
    const outcome = d.pieces.place(start, start + len, !f.more, () => packet.slice(dataAt, end), { maxFragments: this.maxFragments, maxEnd: Infinity });
    if (outcome === "duplicate") {
      // RFC 8200 allows exact duplicates to be dropped; anything else overlapping is an attack.
      this.counters.add("duplicate-fragment");
      return null;
    }
    if (outcome !== "placed") return this.reject(d, outcome === "overlap" ? "fragment-overlap" : outcome);
    this.memory += len;
    if (start === 0) {
      d.header = packet.slice(0, IPV6_HEADER_LENGTH);
      d.nextHeader = f.nextHeader;
      d.firstPacket = packet.slice(0, Math.min(end, 1232));
      this.memory += IPV6_HEADER_LENGTH + d.firstPacket.length;
    }
    while (this.memory > this.memoryLimit && this.partials.size > 0) {
      const oldest = this.partials.values().next().value!;
      this.drop(oldest);
      this.counters.add("reassembly-evicted");
      if (oldest === d) return null;
    }
    if (d.header === null || !d.pieces.complete) return null;
    const total = d.pieces.totalLength;
    const out = new Uint8Array(IPV6_HEADER_LENGTH + total);
    out.set(d.header);
    out[4] = total >>> 8;
    out[5] = total;
    out[6] = d.nextHeader;
    d.pieces.copyInto(out, IPV6_HEADER_LENGTH);
    this.drop(d);
    this.counters.add("reassembled");
    return out;
  }

  clear(): void {
    for (const d of [...this.partials.values()]) this.drop(d);
  }

  private reject(d: Partial, reason: string): null {
    this.drop(d);
    this.counters.add(reason);
    return null;
  }

  private drop(d: Partial): void {
    if (this.partials.get(d.key) !== d) return;
    this.partials.delete(d.key);
    d.cancel();
    this.memory -= d.pieces.bytes + (d.header ? IPV6_HEADER_LENGTH + (d.firstPacket?.length ?? 0) : 0);
  }
}
