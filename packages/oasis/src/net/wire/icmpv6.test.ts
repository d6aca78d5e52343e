import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  emitIcmpv6,
  emitMldv2Report,
  fillIcmpv6Checksum,
  mldv2ReportLength,
  parseIcmpv6,
  parseMldQuery,
  parseMldv2Report,
  ICMPV6_ECHO_REQUEST,
  ICMPV6_MLD_QUERY,
  type Icmpv6Repr,
  type MldRecord,
} from "./icmpv6.ts";
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

const group = fc.uint8Array({ minLength: 16, maxLength: 16 });
const record: fc.Arbitrary<MldRecord> = fc.record({ type: fc.integer({ min: 1, max: 6 }), group, sources: fc.array(group, { maxLength: 3 }) });

test("MLDv2 reports round-trip; queries of both versions decode their response time", () => {
  fc.assert(
    fc.property(fc.array(record, { maxLength: 8 }), (records) => {
      const b = new Uint8Array(mldv2ReportLength(records));
      assert.equal(emitMldv2Report(records, b), b.length);
      const back = parseMldv2Report(b);
      assert.ok(!(back instanceof WireError), String(back));
      assert.deepEqual(back.map((r) => ({ ...r })), records.map((r) => ({ ...r })));
    }),
  );
  const v1 = new Uint8Array(24);
  v1[0] = ICMPV6_MLD_QUERY;
  v1[4] = 0x27;
  v1[5] = 0x10;
  assert.equal((parseMldQuery(v1) as { maxResponseMs: number }).maxResponseMs, 10_000);
  const v2 = new Uint8Array(28);
  v2[0] = ICMPV6_MLD_QUERY;
  v2[4] = 0x80 | 0x10; // exponent 1, mantissa 0: 0x1000 << 4
  assert.equal((parseMldQuery(v2) as { maxResponseMs: number }).maxResponseMs, 0x1000 << 4);
  v2[27] = 5; // five sources that are not there
  assert.ok(parseMldQuery(v2) instanceof WireError);
});

test("random MLD messages never throw", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 120 }), fc.boolean(), (b, report) => {
      if (b.length > 0) b[0] = report ? 143 : 130;
      const p = report ? parseMldv2Report(b) : parseMldQuery(b);
      if (p instanceof WireError) assert.match(p.reason, /^[a-z-]+$/);
    }),
    { numRuns: 3000 },
  );
});
