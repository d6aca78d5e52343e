import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { finishChecksum, foldSum, internetChecksum, onesSum, onesSumChunks } from "./checksum.ts";

// The textbook definition, one 16-bit word at a time with end-around carry.
function reference(b: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < b.length; i += 2) {
    s += (b[i]! << 8) | (b[i + 1] ?? 0);
    s = (s & 0xffff) + (s >>> 16);
  }
  return ~s & 0xffff;
}

test("matches the RFC 1071 worked example", () => {
  const b = new Uint8Array([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
  assert.equal(foldSum(onesSum(b)), 0xddf2);
  assert.equal(internetChecksum(b), 0x220d);
});

test("agrees with the word-at-a-time definition on any input, including odd lengths and offsets", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 3000 }), fc.nat(7), (bytes, skip) => {
      const start = Math.min(skip, bytes.length);
      assert.equal(internetChecksum(bytes, start), reference(bytes.subarray(start)));
    }),
  );
});

test("a view at any byte offset of a larger buffer sums like a copy (the fast path reads unaligned words)", () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 4000 }), fc.nat(13), fc.nat(5), (bytes, before, within) => {
      const backing = new Uint8Array(before + bytes.length);
      backing.set(bytes, before);
      const view = backing.subarray(before);
      const start = Math.min(within * 2, view.length);
      assert.equal(internetChecksum(view, start), reference(bytes.slice(start)));
    }),
  );
});

test("summing chunks equals summing their concatenation, whatever the chunk parities", () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 6 }), (chunks) => {
      const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
      let o = 0;
      for (const c of chunks) {
        all.set(c, o);
        o += c.length;
      }
      assert.equal(finishChecksum(onesSumChunks(chunks)), reference(all));
    }),
  );
});

test("a buffer with its checksum stored sums to 0xffff", () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 4, maxLength: 200 }), (bytes) => {
      const b = bytes.slice(0, bytes.length & ~1);
      b[2] = 0;
      b[3] = 0;
      const c = internetChecksum(b);
      b[2] = c >>> 8;
      b[3] = c & 0xff;
      assert.equal(foldSum(onesSum(b)), 0xffff);
    }),
  );
});
