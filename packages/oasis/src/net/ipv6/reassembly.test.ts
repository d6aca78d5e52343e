import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { ManualClock } from "../stack/clock.ts";
import { Counters, WireError } from "../wire/error.ts";
import { IPV6_HEADER_LENGTH, NEXT_FRAGMENT, parseIpv6, writeFragmentHeader, writeIpv6Header } from "../wire/ipv6.ts";
import { Ipv6Reassembler } from "./reassembly.ts";
import { addr } from "./test-support.ts";

const SRC = addr("2001:db8::1");
const DST = addr("2001:db8::2");
const PROTO = 17;

/** The fragments of `data` cut every `step` bytes (a multiple of 8), as whole IPv6 packets. */
function fragments(data: Uint8Array, step: number, id: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let off = 0; off < data.length; off += step) {
    const n = Math.min(step, data.length - off);
    const p = new Uint8Array(IPV6_HEADER_LENGTH + 8 + n);
    writeIpv6Header(p, 0, SRC, DST, NEXT_FRAGMENT, 64, 8 + n);
    writeFragmentHeader(p, IPV6_HEADER_LENGTH, PROTO, off, off + n < data.length, id);
    p.set(data.subarray(off, off + n), IPV6_HEADER_LENGTH + 8);
    out.push(p);
  }
  return out;
}

function feed(r: Ipv6Reassembler, packet: Uint8Array): Uint8Array | null {
  const p = parseIpv6(packet);
  if (p instanceof WireError || p.fragment === null) throw new Error(`test fragment does not parse: ${String(p)}`);
  return r.add(packet, p.fragment, p.payloadAt, p.end);
}

test("any arrival order (with duplicates) gives back the datagram, once", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 8, maxLength: 6000 }),
      fc.integer({ min: 1, max: 200 }).map((n) => n * 8),
      fc.func(fc.integer()),
      fc.boolean(),
      (data, step, order, duplicate) => {
        const r = new Ipv6Reassembler(new ManualClock(), new Counters());
        const frags = fragments(data, step, 99);
        if (frags.length > 64 || frags.length < 2) return; // one fragment is atomic: the layer never reassembles it
        const shuffled = frags.map((f, i) => ({ f, k: order(i) })).sort((x, y) => x.k - y.k).map((x) => x.f);
        if (duplicate) shuffled.splice(1, 0, shuffled[0]!);
        const results = shuffled.map((f) => feed(r, f)).filter((x) => x !== null);
        assert.equal(results.length, 1);
        const whole = results[0]!;
        assert.equal(whole[6], PROTO);
        assert.equal((whole[4]! << 8) | whole[5]!, data.length);
        assert.deepEqual(whole.subarray(IPV6_HEADER_LENGTH), data);
        assert.equal(r.pendingDatagrams, 0);
        assert.equal(r.heldBytes, 0);
      },
    ),
    { numRuns: 300 },
  );
});

test("bounds: fragments per datagram, datagram size, memory (oldest evicted), time", () => {
  const clock = new ManualClock();
  const counters = new Counters();
  const timedOut: Uint8Array[] = [];
  const r = new Ipv6Reassembler(clock, counters, { maxFragments: 4, memoryLimit: 20_000, timeoutMs: 1000 }, (first) => timedOut.push(first));
  const many = fragments(new Uint8Array(80), 8, 1);
  for (const f of many.slice(0, 5)) feed(r, f);
  assert.equal(counters.get("too-many-fragments"), 1);
  // Beyond 65535 bytes of payload.
  const huge = fragments(new Uint8Array(16), 8, 2)[1]!;
  writeFragmentHeader(huge, IPV6_HEADER_LENGTH, PROTO, 65528, true, 2);
  feed(r, huge);
  assert.equal(counters.get("fragment-too-large"), 1);
  // Non-final fragments must be multiples of 8 bytes.
  const odd = fragments(new Uint8Array(30), 16, 3)[0]!.subarray(0, IPV6_HEADER_LENGTH + 8 + 12);
  odd[5] = 8 + 12;
  feed(r, odd);
  assert.equal(counters.get("bad-fragment-length"), 1);
  // Many first fragments of datagrams that never complete: memory stays under the cap.
  for (let id = 10; id < 40; id++) feed(r, fragments(new Uint8Array(2000), 1000, id)[0]!);
  assert.ok(r.heldBytes <= 20_000, String(r.heldBytes));
  assert.ok(counters.get("reassembly-evicted") > 0);
  const pending = r.pendingDatagrams;
  clock.advance(1000);
  assert.equal(counters.get("reassembly-timeout"), pending);
  assert.equal(timedOut.length, pending, "every timed-out datagram had its first fragment");
  assert.equal(r.heldBytes, 0);
});

test("a first fragment without the whole header chain is refused (RFC 7112)", () => {
  const counters = new Counters();
  const r = new Ipv6Reassembler(new ManualClock(), counters);
  const f = fragments(new Uint8Array(64), 32, 5)[0]!;
  // The fragmentable part claims to start with a 256-byte destination options header.
  f[IPV6_HEADER_LENGTH] = 60;
  f[IPV6_HEADER_LENGTH + 8 + 1] = 31;
  feed(r, f);
  assert.equal(counters.get("incomplete-first-fragment"), 1);
  assert.equal(r.pendingDatagrams, 0);
});
