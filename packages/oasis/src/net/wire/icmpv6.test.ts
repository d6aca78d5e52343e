import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { emitIcmpv6, fillIcmpv6Checksum, parseIcmpv6, ICMPV6_ECHO_REQUEST, type Icmpv6Repr } from "./icmpv6.ts";
import { parseIpv6Address } from "./ipv6.ts";
import { WireError } from "./error.ts";

const address = fc.uint8Array({ minLength: 16, maxLength: 16 });
const repr: fc.Arbitrary<Icmpv6Repr> = fc.record({
  type: fc.integer({ min: 0, max: 255 }),
  code: fc.integer({ min: 0, max: 255 }),
  rest: fc.integer({ min: 0, max: 0xffffffff }),
  data: fc.uint8Array({ maxLength: 200 }),
});

test("emit then parse gives back the message, for the same addresses only", () => {
  fc.assert(
    fc.property(repr, address, address, (r, src, dst) => {
      const b = new Uint8Array(8 + r.data.length);
      assert.equal(emitIcmpv6(r, b, src, dst), b.length);
      const p = parseIcmpv6(b, src, dst);
      assert.ok(!(p instanceof WireError), String(p));
      assert.deepEqual({ ...p, data: p.data.slice() }, { ...r });
      const other = dst.slice();
      other[15] ^= 1;
      const q = parseIcmpv6(b, src, other);
      assert.ok(q instanceof WireError && q.reason === "bad-checksum");
    }),
  );
});

test("checksum of a known echo request (as Linux ping -6 sends it)", () => {
  // ping -6 -c1 -p 41 -s 4: fe80::1 -> fe80::2, id 0x1234, seq 1, data "AAAA".
  const m = new Uint8Array([ICMPV6_ECHO_REQUEST, 0, 0, 0, 0x12, 0x34, 0, 1, 0x41, 0x41, 0x41, 0x41]);
  const src = parseIpv6Address("fe80::1")!;
  const dst = parseIpv6Address("fe80::2")!;
  fillIcmpv6Checksum(m, src, dst);
  // Computed by hand: sum of pseudo-header and message words, folded and inverted.
  let sum = 0xfe80 + 1 + 0xfe80 + 2 + 12 + 58 + 0x8000 + 0x1234 + 1 + 0x4141 + 0x4141;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  assert.equal((m[2]! << 8) | m[3]!, ~sum & 0xffff);
  assert.ok(!(parseIcmpv6(m, src, dst) instanceof WireError));
});

test("random bytes never throw", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), address, address, (b, s, d) => {
      const p = parseIcmpv6(b, s, d);
      if (p instanceof WireError) assert.match(p.reason, /^(truncated|bad-checksum)$/);
    }),
    { numRuns: 3000 },
  );
});
