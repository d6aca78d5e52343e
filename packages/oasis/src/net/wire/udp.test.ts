import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { emitUdp, parseUdp } from "./udp.ts";
import { ipv4PseudoSum } from "./checksum.ts";
import { WireError } from "./error.ts";

const port = fc.integer({ min: 0, max: 0xffff });
const addr = fc.integer({ min: 0, max: 0xffffffff });

test("emit then parse round-trips and verifies the pseudo-header checksum", () => {
  fc.assert(
    fc.property(port, port, fc.uint8Array({ maxLength: 600 }), addr, addr, (srcPort, dstPort, payload, s, d) => {
      const b = new Uint8Array(8 + payload.length);
      const pseudo = ipv4PseudoSum(s, d, 17, b.length);
      emitUdp({ srcPort, dstPort, payload }, b, pseudo);
      assert.notEqual((b[6]! << 8) | b[7]!, 0, "a computed checksum of 0 is sent as 0xffff");
      const r = parseUdp(b, pseudo);
      assert.ok(!(r instanceof WireError), String(r));
      assert.equal(r.srcPort, srcPort);
      assert.equal(r.dstPort, dstPort);
      assert.deepEqual(r.payload, payload);
    }),
  );
});

test("a flipped bit or another pseudo-header fails the checksum", () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 100 }), fc.nat(), addr, (payload, bit, s) => {
      const b = new Uint8Array(8 + payload.length);
      const pseudo = ipv4PseudoSum(s, 0x0a000001, 17, b.length);
      emitUdp({ srcPort: 1, dstPort: 2, payload }, b, pseudo);
      const at = 8 + (bit % payload.length);
      const flipped = b.slice();
      flipped[at]! ^= 1 << (bit % 8);
      assert.equal((parseUdp(flipped, pseudo) as WireError).reason, "bad-checksum");
      assert.equal((parseUdp(b, ipv4PseudoSum(s ^ 0x100, 0x0a000001, 17, b.length)) as WireError).reason, "bad-checksum");
    }),
  );
});

test("checksum 0 means none over IPv4; bad lengths have their reason", () => {
  const b = new Uint8Array(12);
  b[5] = 12;
  assert.ok(!(parseUdp(b, 12345) instanceof WireError));
  assert.equal((parseUdp(b.subarray(0, 7), null) as WireError).reason, "truncated");
  b[5] = 13;
  assert.equal((parseUdp(b, null) as WireError).reason, "bad-length");
  b[5] = 7;
  assert.equal((parseUdp(b, null) as WireError).reason, "bad-length");
});

test("random bytes never throw", () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), fc.option(fc.nat()), (b, pseudo) => void parseUdp(b, pseudo)), { numRuns: 2000 });
});
