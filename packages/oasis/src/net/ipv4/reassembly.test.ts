import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { Reassembler } from "./reassembly.ts";
import { ManualClock } from "../stack/clock.ts";
import { Counters, WireError } from "../wire/error.ts";
import { parseIpv4, writeIpv4Header } from "../wire/ipv4.ts";

function fragment(id: number, data: Uint8Array, offset: number, length: number, more: boolean): Uint8Array {
  const p = new Uint8Array(20 + length);
  writeIpv4Header(p, 0, 0xc0000201, 0xc0000202, 17, 64, id, (more ? 0x2000 : 0) | (offset >>> 3), length);
  p.set(data.subarray(offset, offset + length), 20);
  return p;
}

function add(r: Reassembler, packet: Uint8Array) {
  const p = parseIpv4(packet);
  assert.ok(!(p instanceof WireError), String(p));
  return r.add(p, packet);
}

test("fragments in any order reassemble into the original datagram", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 1, maxLength: 6000 }),
      fc.integer({ min: 1, max: 200 }),
      fc.infiniteStream(fc.nat()),
      (data, unit, order) => {
        const size = unit * 8;
        const frags: Uint8Array[] = [];
        for (let off = 0; off < data.length; off += size) frags.push(fragment(9, data, off, Math.min(size, data.length - off), off + size < data.length));
        if (frags.length > 64) return; // beyond the default bound, tested separately
        const shuffled = frags.map((f, i) => ({ f, k: order.next().value as number, i })).sort((a, b) => a.k - b.k || a.i - b.i);
        const r = new Reassembler(new ManualClock(), new Counters());
        let out = null;
        for (const { f } of shuffled) {
          assert.equal(out, null, "complete only after the last piece");
          out = add(r, f);
        }
        assert.ok(out);
        assert.deepEqual(out.datagram.subarray(20), data);
        assert.equal((out.datagram[2]! << 8) | out.datagram[3]!, 20 + data.length);
        assert.equal(out.datagram[6]! & 0x3f, 0, "no fragment fields in the result");
        assert.equal(r.heldBytes, 0);
      },
    ),
  );
});

test("an incomplete datagram is dropped after the timeout, and counted", () => {
  const clock = new ManualClock();
  const counters = new Counters();
  const r = new Reassembler(clock, counters, { timeoutMs: 10_000 });
  const data = new Uint8Array(100);
  assert.equal(add(r, fragment(1, data, 0, 48, true)), null);
  clock.advance(9_999);
  assert.equal(r.pendingDatagrams, 1);
  clock.advance(1);
  assert.equal(r.pendingDatagrams, 0);
  assert.equal(r.heldBytes, 0);
  assert.equal(counters.get("reassembly-timeout"), 1);
  // The late last fragment alone does not complete anything.
  assert.equal(add(r, fragment(1, data, 48, 52, false)), null);
});

test("exact duplicates are ignored; overlaps, inconsistent ends and odd middle lengths poison the datagram", () => {
  const counters = new Counters();
  const r = new Reassembler(new ManualClock(), counters);
  const data = new Uint8Array(64).map((_, i) => i);
  add(r, fragment(2, data, 0, 32, true));
  add(r, fragment(2, data, 0, 32, true));
  assert.equal(counters.get("duplicate-fragment"), 1);
  const done = add(r, fragment(2, data, 32, 32, false));
  assert.deepEqual(done?.datagram.subarray(20), data);
  add(r, fragment(3, data, 0, 32, true));
  assert.equal(add(r, fragment(3, data, 24, 40, false)), null);
  assert.equal(counters.get("overlap"), 1);
  assert.equal(r.pendingDatagrams, 0);
  add(r, fragment(4, data, 16, 16, false)); // says the datagram ends at 32…
  add(r, fragment(4, data, 32, 16, false)); // …and then at 48
  assert.equal(counters.get("inconsistent-length"), 1);
  add(r, fragment(5, data, 0, 12, true));
  assert.equal(counters.get("bad-fragment-length"), 1);
});

test("bounds: fragments per datagram and total memory (oldest evicted first)", () => {
  const counters = new Counters();
  const r = new Reassembler(new ManualClock(), counters, { maxFragments: 4, memoryLimit: 4096 });
  const data = new Uint8Array(2048);
  for (let k = 0; k < 5; k++) add(r, fragment(6, data, k * 8, 8, true));
  assert.equal(counters.get("too-many-fragments"), 1);
  for (let id = 10; id < 20; id++) add(r, fragment(id, data, 0, 1000, true));
  assert.ok(r.heldBytes <= 4096);
  assert.ok(counters.get("reassembly-evicted") >= 6);
  // The newest datagram survived and can complete.
  const last = add(r, fragment(19, data, 1000, 8, false));
  assert.ok(last);
});

test("a timed-out datagram whose first fragment came reports that fragment's header and 8 bytes", () => {
  const clock = new ManualClock();
  const r = new Reassembler(clock, new Counters(), { timeoutMs: 1000 });
  const quotes: Uint8Array[] = [];
  r.onTimeout = (q, headerLength) => {
    assert.equal(headerLength, 20);
    quotes.push(q);
  };
  const data = new Uint8Array(64).map((_, i) => i + 1);
  add(r, fragment(1, data, 0, 32, true));
  add(r, fragment(2, data, 32, 32, false)); // no first fragment: nothing to quote
  clock.advance(1000);
  assert.equal(quotes.length, 1);
  assert.deepEqual([...quotes[0]!.subarray(20)], [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.equal((quotes[0]![4]! << 8) | quotes[0]![5]!, 1);
});
