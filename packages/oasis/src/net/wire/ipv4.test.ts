import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { checkIpv4, emitIpv4, Ipv4Packet, parseIpv4, writeIpv4Header, type Ipv4Repr } from "./ipv4.ts";
import { WireError } from "./error.ts";

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const repr: fc.Arbitrary<Ipv4Repr> = fc
  .record({
    src: u32,
    dst: u32,
    protocol: fc.integer({ min: 0, max: 255 }),
    ttl: fc.integer({ min: 0, max: 255 }),
    id: fc.integer({ min: 0, max: 0xffff }),
    tos: fc.integer({ min: 0, max: 255 }),
    dontFragment: fc.boolean(),
    moreFragments: fc.boolean(),
    fragmentOffset: fc.integer({ min: 0, max: 1000 }).map((n) => n * 8),
    payloadLength: fc.integer({ min: 0, max: 1480 }),
  });

function build(r: Ipv4Repr): Uint8Array {
  const b = new Uint8Array(20 + r.payloadLength);
  emitIpv4(r, b);
  return b;
}

test("emit then parse gives back the representation", () => {
  fc.assert(
    fc.property(repr, (r) => {
      const p = parseIpv4(build(r));
      assert.ok(!(p instanceof WireError), String(p));
      const { headerLength, payload, ...back } = p;
      assert.deepEqual(back, { ...r });
      assert.equal(headerLength, 20);
      assert.equal(payload.length, r.payloadLength);
    }),
  );
});

test("the hot-path header writer produces the same bytes as emit", () => {
  fc.assert(
    fc.property(repr, (r) => {
      const a = build(r);
      const b = new Uint8Array(a.length);
      const flags = (r.dontFragment ? 0x4000 : 0) | (r.moreFragments ? 0x2000 : 0) | (r.fragmentOffset >>> 3);
      writeIpv4Header(b, 0, r.src, r.dst, r.protocol, r.ttl, r.id, flags, r.payloadLength);
      b[1] = r.tos;
      if (r.tos === 0) assert.deepEqual(b.subarray(0, 20), a.subarray(0, 20));
    }),
  );
});

test("random bytes never throw: they parse or give a reason", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 120 }), (b) => {
      const p = parseIpv4(b);
      if (p instanceof WireError) assert.match(p.reason, /^[a-z-]+$/);
    }),
    { numRuns: 2000 },
  );
});

test("rejects each kind of bad header with its own reason", () => {
  const good = () => build({ src: 1, dst: 2, protocol: 17, ttl: 64, id: 7, tos: 0, dontFragment: false, moreFragments: false, fragmentOffset: 0, payloadLength: 8 });
  const reason = (b: Uint8Array) => {
    const p = parseIpv4(b);
    return p instanceof WireError ? p.reason : "ok";
  };
  assert.equal(reason(good()), "ok");
  assert.equal(reason(good().subarray(0, 19)), "truncated");
  assert.equal(reason(good().subarray(0, 24)), "truncated"); // total length says 28
  let b = good();
  b[10]! ^= 1;
  assert.equal(reason(b), "bad-checksum");
  b = good();
  b[0] = 0x44;
  new Ipv4Packet(b).fillChecksum();
  assert.equal(reason(b), "bad-ihl");
  b = good();
  b[0] = 0x65;
  assert.equal(reason(b), "bad-version");
  b = good();
  b[3] = 10; // total length 10 < header
  new Ipv4Packet(b).fillChecksum();
  assert.equal(reason(b), "bad-length");
  b = good();
  b[6] = 0x1f; // offset 8184*8 + 8 > 65535
  b[7] = 0xff;
  new Ipv4Packet(b).fillChecksum();
  assert.equal(reason(b), "too-large");
  // A header with options: one NOP then an option whose length runs out of the header.
  const opt = new Uint8Array(32);
  opt.set(good().subarray(0, 20));
  opt[0] = 0x46;
  opt[3] = 32;
  opt[20] = 1;
  opt[21] = 0x44;
  opt[22] = 40;
  new Ipv4Packet(opt).fillChecksum();
  assert.equal(reason(opt), "bad-option");
  opt[22] = 3;
  new Ipv4Packet(opt).fillChecksum();
  assert.equal(reason(opt), "ok");
});

test("link padding after the datagram is ignored", () => {
  const b = new Uint8Array(60);
  emitIpv4({ src: 1, dst: 2, protocol: 1, ttl: 64, id: 1, tos: 0, dontFragment: true, moreFragments: false, fragmentOffset: 0, payloadLength: 8 }, b);
  const p = parseIpv4(b);
  assert.ok(!(p instanceof WireError));
  assert.equal(p.payload.length, 8);
});

test("the allocation-free check agrees with parse on valid, mutated and random input", () => {
  const verdict = (b: Uint8Array) => {
    const p = parseIpv4(b);
    return p instanceof WireError ? p.reason : null;
  };
  fc.assert(
    fc.property(repr, fc.array(fc.tuple(fc.nat(63), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }), (r, edits) => {
      const b = build(r);
      for (const [at, v] of edits) if (at < b.length) b[at] = v;
      assert.equal(checkIpv4(b), verdict(b));
    }),
  );
  fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), (b) => assert.equal(checkIpv4(b), verdict(b))), { numRuns: 2000 });
  // At an offset inside a larger buffer (as in a received frame) it checks the same bytes.
  fc.assert(
    fc.property(repr, fc.uint8Array({ maxLength: 20 }), (r, prefix) => {
      const b = build(r);
      const framed = new Uint8Array(prefix.length + b.length);
      framed.set(prefix);
      framed.set(b, prefix.length);
      assert.equal(checkIpv4(framed, prefix.length), verdict(b));
    }),
  );
});
