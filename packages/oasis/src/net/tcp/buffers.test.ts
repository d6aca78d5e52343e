// The send buffer against a plain model: many buffers appending, gathering and releasing in random
// order, so blocks released by one are reused by another, must always give back exactly the
// bytes written at each position.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { SendBuffer } from "./buffers.ts";

type Op = { buffer: number; kind: "append"; size: number } | { buffer: number; kind: "release"; fraction: number } | { buffer: number; kind: "gather"; at: number; fraction: number };

const op = (buffers: number): fc.Arbitrary<Op> =>
  fc.oneof(
    fc.record({ buffer: fc.nat(buffers - 1), kind: fc.constant("append" as const), size: fc.oneof(fc.integer({ min: 1, max: 3000 }), fc.integer({ min: 60_000, max: 300_000 })) }),
    fc.record({ buffer: fc.nat(buffers - 1), kind: fc.constant("release" as const), fraction: fc.double({ min: 0, max: 1, noNaN: true }) }),
    fc.record({ buffer: fc.nat(buffers - 1), kind: fc.constant("gather" as const), at: fc.double({ min: 0, max: 1, noNaN: true }), fraction: fc.double({ min: 0, max: 1, noNaN: true }) }),
  );

/** The byte written at stream position `pos` of buffer `b`: distinct per buffer and position. */
const byteAt = (b: number, pos: number): number => (pos * 31 + b * 97 + (pos >> 8)) & 0xff;

test("send buffers sharing recycled blocks always return the bytes written at each position", () => {
  fc.assert(
    fc.property(fc.array(op(3), { minLength: 20, maxLength: 300 }), (ops) => {
      const buffers = Array.from({ length: 3 }, () => new SendBuffer(1));
      for (const o of ops) {
        const sb = buffers[o.buffer]!;
        if (o.kind === "append") {
          const data = new Uint8Array(o.size);
          for (let i = 0; i < o.size; i++) data[i] = byteAt(o.buffer, sb.endPos + i);
          sb.append(data, 0, o.size);
        } else if (o.kind === "release") {
          const start = sb.endPos - sb.length;
          sb.release(start + Math.floor(sb.length * o.fraction));
        } else if (sb.length > 0) {
          const start = sb.endPos - sb.length;
          const from = start + Math.floor((sb.length - 1) * o.at);
          const len = Math.max(1, Math.floor((sb.endPos - from) * o.fraction));
          const parts: Uint8Array[] = [];
          sb.gather(from, len, parts);
          let pos = from;
          for (const p of parts) for (const v of p) assert.equal(v, byteAt(o.buffer, pos++), `buffer ${o.buffer} at ${pos - 1}`);
          assert.equal(pos, from + len);
        }
      }
    }),
    { numRuns: 100 },
  );
});
