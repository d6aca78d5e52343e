// Ethernet, ARP and ICMPv4 codecs.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { emitEthernet, parseEthernet } from "./ethernet.ts";
import { ARP_REPLY, ARP_REQUEST, emitArp, parseArp } from "./arp.ts";
import { emitIcmpv4, parseIcmpv4 } from "./icmpv4.ts";
import { WireError } from "./error.ts";

const mac = fc.uint8Array({ minLength: 6, maxLength: 6 });
const u32 = fc.integer({ min: 0, max: 0xffffffff });

test("Ethernet headers round-trip and short or 802.3 frames are rejected", () => {
  fc.assert(
    fc.property(mac, mac, fc.integer({ min: 0x600, max: 0xffff }), (dst, src, ethertype) => {
      const b = new Uint8Array(20);
      emitEthernet({ dst, src, ethertype }, b);
      const r = parseEthernet(b);
      assert.ok(!(r instanceof WireError));
      assert.deepEqual([r.dst, r.src, r.ethertype], [dst, src, ethertype]);
    }),
  );
  assert.equal((parseEthernet(new Uint8Array(13)) as WireError).reason, "truncated");
  assert.equal((parseEthernet(new Uint8Array(14)) as WireError).reason, "not-ethernet-ii");
});

test("ARP packets round-trip; malformed ones give a reason, never an exception", () => {
  fc.assert(
    fc.property(fc.constantFrom(ARP_REQUEST, ARP_REPLY), mac, u32, mac, u32, (op, senderMac, senderIp, targetMac, targetIp) => {
      const b = new Uint8Array(28);
      emitArp({ op, senderMac, senderIp, targetMac, targetIp }, b);
      assert.deepEqual(parseArp(b), { op, senderMac, senderIp, targetMac, targetIp });
      const bad = b.slice();
      bad[7] = 9;
      assert.equal((parseArp(bad) as WireError).reason, "bad-operation");
    }),
  );
  fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), (b) => void parseArp(b)), { numRuns: 2000 });
  assert.equal((parseArp(new Uint8Array(27)) as WireError).reason, "truncated");
});

test("ICMP messages round-trip with a valid checksum; corrupted ones are rejected", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), u32, fc.uint8Array({ maxLength: 300 }), (type, code, rest, data) => {
      const b = new Uint8Array(8 + data.length);
      emitIcmpv4({ type, code, rest, data }, b);
      assert.deepEqual(parseIcmpv4(b), { type, code, rest, data });
      b[b.length - 1]! ^= 0x40;
      assert.equal((parseIcmpv4(b) as WireError).reason, "bad-checksum");
    }),
  );
  fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), (b) => void parseIcmpv4(b)), { numRuns: 2000 });
});
