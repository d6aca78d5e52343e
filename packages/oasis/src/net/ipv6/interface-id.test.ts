import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { isReservedInterfaceId, sipHash24, stableInterfaceId } from "./interface-id.ts";
import { addr, mac } from "./test-support.ts";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

test("SipHash-2-4 gives the reference vectors (key 00..0f, message 00..n-1)", () => {
  const key = Uint8Array.from({ length: 16 }, (_, i) => i);
  const message = (n: number) => Uint8Array.from({ length: n }, (_, i) => i);
  assert.equal(hex(sipHash24(key, message(0))), "310e0edd47db6f72");
  assert.equal(hex(sipHash24(key, message(1))), "fd67dc93c539f874");
  assert.equal(hex(sipHash24(key, message(2))), "5a4fa9d909806c0d");
  assert.equal(hex(sipHash24(key, message(8))), "6224939a79f5f593");
  assert.throws(() => sipHash24(new Uint8Array(8), message(1)), /16-byte key/);
});

test("reserved identifiers (RFC 5453) are recognised", () => {
  assert.ok(isReservedInterfaceId(new Uint8Array(8)));
  assert.ok(isReservedInterfaceId(Uint8Array.from([0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x80])));
  assert.ok(isReservedInterfaceId(Uint8Array.from([0x02, 0x00, 0x5e, 0xff, 0xfe, 0x00, 0x52, 0x12])));
  assert.ok(!isReservedInterfaceId(Uint8Array.from([0x02, 0x00, 0x5e, 0xff, 0xfe, 0x00, 0x52, 0x13])));
  assert.ok(!isReservedInterfaceId(Uint8Array.from([0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])));
});

test("stable identifiers (RFC 7217): the same for the same prefix and key, different across prefixes, keys and DAD counters", () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.uint8Array({ minLength: 16, maxLength: 16 }), (key, prefix) => {
      const id = stableInterfaceId(prefix, 0, key);
      assert.equal(hex(stableInterfaceId(prefix.slice(), 0, key.slice())), hex(id));
      assert.ok(!isReservedInterfaceId(id));
      const other = prefix.slice();
      other[7]! ^= 1;
      assert.notEqual(hex(stableInterfaceId(other, 0, key)), hex(id));
      assert.notEqual(hex(stableInterfaceId(prefix, 1, key)), hex(id));
      const otherKey = key.slice();
      otherKey[0]! ^= 1;
      assert.notEqual(hex(stableInterfaceId(prefix, 0, otherKey)), hex(id));
      // Only the first 64 bits of the prefix count.
      const sameNet = prefix.slice();
      sameNet[15]! ^= 0xff;
      assert.equal(hex(stableInterfaceId(sameNet, 0, key)), hex(id));
    }),
    { numRuns: 200 },
  );
  const m = mac("02:00:00:00:00:0a");
  assert.notEqual(hex(stableInterfaceId(addr("fe80::"), 0, new Uint8Array(16), m)), hex(stableInterfaceId(addr("fe80::"), 0, new Uint8Array(16))), "an interface identifier, when given, changes the result");
});
