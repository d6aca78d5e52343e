// IPv4 reassembly (RFC 791, RFC 815 hole filling) with hard bounds: fragments per datagram,
// datagram size, time from first to last fragment, overlap rejection (overlaps are how
// fragment attacks hide headers), and a global memory cap that evicts the oldest datagram.
import { Counters } from "../wire/error.ts";
import type { Ipv4Parsed } from "../wire/ipv4.ts";
import { IPV4_MAX_DATAGRAM } from "../wire/ipv4.ts";
import type { Clock } from "../stack/clock.ts";
import { FragmentSet } from "../fragments.ts";

export interface ReassemblyOptions {
  /** Fragments kept per datagram (default 64: a 65 535-byte datagram over a 1500-byte MTU takes 45). */
  maxFragments?: number;
  /** First to last fragment (default 10 s). */
  timeoutMs?: number;
  /** Bytes held across all datagrams being reassembled (default 256 KiB). */
  memoryLimit?: number;
}

interface Partial {
  key: string;
  fragments: FragmentSet;
  /** Header of the first fragment (offset 0): used for the reassembled datagram. */
  header: Uint8Array | null;
  cancel: () => void;
}

export interface Reassembled {
  /** Header of the first fragment followed by the whole payload. */
  datagram: Uint8Array;
  headerLength: number;
}

export class Reassembler {
  private readonly partials = new Map<string, Partial>();
  private memory = 0;
  private readonly maxFragments: number;
  private readonly timeoutMs: number;
  private readonly memoryLimit: number;

  /**
   * Called when a datagram whose first fragment arrived times out, with that fragment's header
   * and first 8 data bytes (for ICMP time exceeded, RFC 792 code 1).
   */
  onTimeout: ((quote: Uint8Array, headerLength: number) => void) | null = null;

  constructor(
    private readonly clock: Clock,
    private readonly counters: Counters,
    options: ReassemblyOptions = {},
  ) {
    this.maxFragments = options.maxFragments ?? 64;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.memoryLimit = options.memoryLimit ?? 256 * 1024;
  }

  /** Bytes currently held. */
  get heldBytes(): number {
    return this.memory;
  }
  get pendingDatagrams(): number {
    return this.partials.size;
  }

  /** Adds one fragment (`packet` is the whole IP packet); returns the datagram once complete. */
  add(p: Ipv4Parsed, packet: Uint8Array): Reassembled | null {
    const len = p.payloadLength;
    if (p.moreFragments && (len === 0 || len % 8 !== 0)) {
      this.counters.add("bad-fragment-length");
      return null;
    }
    const key = `${p.src}/${p.dst}/${p.protocol}/${p.id}`;
    let d = this.partials.get(key);
    if (!d) {
      const fresh: Partial = { key, fragments: new FragmentSet(), header: null, cancel: () => {} };
      fresh.cancel = this.clock.setTimer(this.timeoutMs, () => {
        if (this.partials.get(key) === fresh) {
          const head = fresh.fragments.pieces[0];
          const first = fresh.header && head?.offset === 0 ? concatFirst(fresh.header, head.data) : null;
          this.drop(fresh);
          this.counters.add("reassembly-timeout");
          if (first) this.onTimeout?.(first, fresh.header!.length);
        }
      });
      this.partials.set(key, fresh);
      d = fresh;
    }
    const start = p.fragmentOffset;
    const outcome = d.fragments.place(start, start + len, !p.moreFragments, () => p.payload.slice(), {
      maxFragments: this.maxFragments,
      maxEnd: IPV4_MAX_DATAGRAM - p.headerLength,
    });
    if (outcome === "duplicate") {
      this.counters.add("duplicate-fragment");
      return null;
    }
    if (outcome !== "placed") return this.reject(d, outcome);
    this.memory += len;
    if (start === 0) {
      d.header = packet.slice(0, p.headerLength);
      this.memory += p.headerLength;
    }
    // Keep the newest datagram: evict the oldest others until under the cap.
    while (this.memory > this.memoryLimit && this.partials.size > 0) {
      const oldest = this.partials.values().next().value!;
      this.drop(oldest);
      this.counters.add("reassembly-evicted");
      if (oldest === d) return null;
    }
    if (d.header === null || !d.fragments.complete) return null;
    const headerLength = d.header.length;
    const out = new Uint8Array(headerLength + d.fragments.totalLength);
    out.set(d.header);
    d.fragments.copyInto(out, headerLength);
    // Fix up the header so it describes the whole datagram (no fragment fields, new length).
    const total = headerLength + d.fragments.totalLength;
    out[2] = total >>> 8;
    out[3] = total;
    out[6] &= 0x40; // keep DF, clear MF and offset
    out[7] = 0;
    this.drop(d);
    this.counters.add("reassembled");
    return { datagram: out, headerLength };
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
    this.memory -= d.fragments.bytes + (d.header?.length ?? 0);
  }
}

function concatFirst(header: Uint8Array, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(header.length + Math.min(8, data.length));
  out.set(header);
  out.set(data.subarray(0, 8), header.length);
  return out;
}
