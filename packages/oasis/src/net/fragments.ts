// The pieces of one datagram being reassembled (IPv4 and IPv6 alike): kept in offset order, with
// the checks that make reassembly safe — an exact duplicate is ignored, any partial overlap
// poisons the datagram (overlaps are how fragment attacks hide headers), and the length fixed by
// the last fragment must agree with every other piece.

export interface FragmentPiece {
  offset: number;
  end: number;
  data: Uint8Array;
}

export type PlaceOutcome = "placed" | "duplicate" | "overlap" | "inconsistent-length" | "too-many-fragments" | "too-large";

export class FragmentSet {
  readonly pieces: FragmentPiece[] = [];
  /** Known once the last fragment (no more fragments) arrived; -1 before. */
  totalLength = -1;
  /** Payload bytes held. */
  bytes = 0;

  /**
   * Places the piece [start, end). `copy` makes the bytes kept (called only when placed), `last`
   * says no more fragments follow, `maxEnd` bounds the datagram. A rejected datagram must be dropped.
   */
  place(start: number, end: number, last: boolean, copy: () => Uint8Array, limits: { maxFragments: number; maxEnd: number }): PlaceOutcome {
    if (last) {
      if ((this.totalLength >= 0 && this.totalLength !== end) || this.pieces.some((p) => p.end > end)) return "inconsistent-length";
      this.totalLength = end;
    } else if (this.totalLength >= 0 && end > this.totalLength) return "inconsistent-length";
    let i = 0;
    while (i < this.pieces.length && this.pieces[i]!.offset < start) i++;
    const prev = this.pieces[i - 1];
    const next = this.pieces[i];
    if (next && next.offset === start && next.end === end) return "duplicate";
    if ((prev && prev.end > start) || (next && next.offset < end)) return "overlap";
    if (this.pieces.length >= limits.maxFragments) return "too-many-fragments";
    if (end > limits.maxEnd) return "too-large";
    this.pieces.splice(i, 0, { offset: start, end, data: copy() });
    this.bytes += end - start;
    return "placed";
  }

  /** No overlaps and the byte count equals the length: the pieces tile [0, total) exactly. */
  get complete(): boolean {
    return this.totalLength >= 0 && this.bytes === this.totalLength;
  }

  /** Copies the payload into `out` from `at`. */
  copyInto(out: Uint8Array, at: number): void {
    for (const p of this.pieces) out.set(p.data, at + p.offset);
  }
}
