import { test } from "node:test";
import assert from "node:assert/strict";
import { isIPv6 } from "node:net";
import fc from "fast-check";
import {
  commonPrefixLength,
  emitIpv6,
  eui64InterfaceId,
  formatIpv6Address,
  ipv6MulticastMac,
  ipv6PrefixMatch,
  ipv6PseudoSum,
  parseIpv6,
  parseIpv6Address,
  parseIpv6Cidr,
  solicitedNodeAddress,
  writeFragmentHeader,
  NEXT_DESTINATION_OPTIONS,
  NEXT_FRAGMENT,
  NEXT_HOP_BY_HOP,
  NEXT_ROUTING,
  type Ipv6Repr,
} from "./ipv6.ts";
import { WireError } from "./error.ts";
import { onesSum } from "./checksum.ts";

const address = fc.uint8Array({ minLength: 16, maxLength: 16 });
// Addresses with runs of zero groups, where "::" placement matters.
const sparseAddress = fc.array(fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 }).map((ws) => {
  const b = new Uint8Array(16);
  ws.forEach((w, i) => ((b[i * 2] = w >> 8), (b[i * 2 + 1] = w)));
  return b;
});

test("formatting matches the WHATWG URL parser's canonical IPv6 form and parses back", () => {
  fc.assert(
    fc.property(fc.oneof(address, sparseAddress), (a) => {
      const text = formatIpv6Address(a);
      assert.deepEqual(parseIpv6Address(text), a);
      assert.ok(isIPv6(text), text);
      // node's URL host serialiser implements RFC 5952 (except the IPv4-mapped dotted form).
      if (!text.includes(".")) assert.equal(`[${text}]`, new URL(`http://[${text}]/`).hostname);
    }),
    { numRuns: 3000 },
  );
});

test("parses the RFC 4291 text forms and refuses malformed ones", () => {
  assert.equal(formatIpv6Address(parseIpv6Address("2001:0DB8:0000:0000:0008:0800:200C:417A")!), "2001:db8::8:800:200c:417a");
  assert.equal(formatIpv6Address(parseIpv6Address("::")!), "::");
  assert.equal(formatIpv6Address(parseIpv6Address("::1")!), "::1");
  assert.equal(formatIpv6Address(parseIpv6Address("fe80::")!), "fe80::");
  assert.equal(formatIpv6Address(parseIpv6Address("::ffff:192.0.2.1")!), "::ffff:192.0.2.1");
  assert.equal(formatIpv6Address(parseIpv6Address("2001:db8:0:0:1:0:0:1")!), "2001:db8::1:0:0:1");
  assert.equal(formatIpv6Address(parseIpv6Address("2001:db8:0:1:1:1:1:1")!), "2001:db8:0:1:1:1:1:1");
  for (const bad of ["", ":", ":::", "1::2::3", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "12345::", "g::", "::1.2.3", "::256.1.1.1", "1:2:3:4:5:6:7::8:9", "fe80::1%eth0", "192.0.2.1"]) {
    assert.equal(parseIpv6Address(bad), null, bad);
  }
  fc.assert(
    fc.property(fc.string({ maxLength: 50 }), (s) => {
      const a = parseIpv6Address(s);
      if (a !== null) assert.ok(isIPv6(s), `accepted ${JSON.stringify(s)} that node rejects`);
    }),
    { numRuns: 3000 },
  );
});

test("CIDR errors say what is wrong", () => {
  assert.deepEqual(parseIpv6Cidr("2001:db8::2/64").prefixLength, 64);
  assert.throws(() => parseIpv6Cidr("2001:db8::2"), /write ADDRESS\/LENGTH/);
  assert.throws(() => parseIpv6Cidr("2001:db8::g/64"), /is not an IPv6 address/);
  assert.throws(() => parseIpv6Cidr("2001:db8::2/129"), /from 0 to 128/);
});

test("derived addresses: EUI-64, solicited-node group, multicast MAC, prefixes", () => {
  const mac = new Uint8Array([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
  assert.deepEqual([...eui64InterfaceId(mac)], [0x50, 0x54, 0x00, 0xff, 0xfe, 0x12, 0x34, 0x56]);
  const sn = solicitedNodeAddress(parseIpv6Address("2001:db8::abcd:1234:5678")!);
  assert.equal(formatIpv6Address(sn), "ff02::1:ff34:5678");
  assert.deepEqual([...ipv6MulticastMac(sn)], [0x33, 0x33, 0xff, 0x34, 0x56, 0x78]);
  const a = parseIpv6Address("2001:db8:1:2::1")!;
  assert.ok(ipv6PrefixMatch(a, parseIpv6Address("2001:db8:1::")!, 48));
  assert.ok(!ipv6PrefixMatch(a, parseIpv6Address("2001:db8:1::")!, 64));
  assert.ok(ipv6PrefixMatch(a, parseIpv6Address("2001:db8:1:3::")!, 62));
  assert.equal(commonPrefixLength(a, parseIpv6Address("2001:db8:1:3::")!), 63);
  assert.equal(commonPrefixLength(a, a), 128);
});

const repr: fc.Arbitrary<Ipv6Repr> = fc.record({
  src: address,
  dst: address,
  nextHeader: fc.constantFrom(6, 17, 58, 59),
  hopLimit: fc.integer({ min: 0, max: 255 }),
  trafficClass: fc.integer({ min: 0, max: 255 }),
  flowLabel: fc.integer({ min: 0, max: 0xfffff }),
  payloadLength: fc.integer({ min: 0, max: 1460 }),
});

test("emit then parse gives back the representation", () => {
  fc.assert(
    fc.property(repr, fc.integer({ min: 0, max: 20 }), (r, padding) => {
      const b = new Uint8Array(40 + r.payloadLength + padding);
      emitIpv6(r, b);
      const p = parseIpv6(b);
      assert.ok(!(p instanceof WireError), String(p));
      assert.deepEqual(
        { src: p.src.slice(), dst: p.dst.slice(), nextHeader: p.nextHeader, hopLimit: p.hopLimit, trafficClass: p.trafficClass, flowLabel: p.flowLabel, payloadLength: p.payloadLength },
        { ...r },
      );
      assert.equal(p.protocol, r.nextHeader);
      assert.equal(p.payloadAt, 40);
      assert.equal(p.end, 40 + r.payloadLength);
    }),
  );
});

/** A packet with the given extension headers (each: type and body length, a multiple of 8 minus 2). */
function withChain(chain: Array<{ type: number; body?: number[] }>, upper: number, payload = 8): Uint8Array {
  const parts: Uint8Array[] = [];
  chain.forEach((h, i) => {
    const next = i + 1 < chain.length ? chain[i + 1]!.type : upper;
    if (h.type === NEXT_FRAGMENT) {
      const f = new Uint8Array(8);
      writeFragmentHeader(f, 0, next, 0, true, 7);
      parts.push(f);
      return;
    }
    const body = h.body ?? [1, 4, 0, 0, 0, 0]; // PadN
    const e = new Uint8Array(2 + body.length);
    e[0] = next;
    e[1] = e.length / 8 - 1;
    e.set(body, 2);
    parts.push(e);
  });
  const ext = parts.reduce((n, p) => n + p.length, 0);
  const b = new Uint8Array(40 + ext + payload);
  emitIpv6({ src: new Uint8Array(16), dst: new Uint8Array(16), nextHeader: chain[0]?.type ?? upper, hopLimit: 64, trafficClass: 0, flowLabel: 0, payloadLength: ext + payload }, b);
  let at = 40;
  for (const p of parts) (b.set(p, at), (at += p.length));
  return b;
}

test("walks hop-by-hop, destination options and a finished routing header to the upper layer", () => {
  const b = withChain([{ type: NEXT_HOP_BY_HOP }, { type: NEXT_DESTINATION_OPTIONS }, { type: NEXT_ROUTING, body: [4, 0, 0, 0, 0, 0] }, { type: NEXT_DESTINATION_OPTIONS }], 17);
  const p = parseIpv6(b);
  assert.ok(!(p instanceof WireError), String(p));
  assert.equal(p.protocol, 17);
  assert.equal(p.payloadAt, 40 + 32);
  assert.equal(p.protocolFieldAt, 40 + 24);
  assert.equal(p.fragment, null);
});

test("stops at a fragment header and reports its fields", () => {
  const p = parseIpv6(withChain([{ type: NEXT_DESTINATION_OPTIONS }, { type: NEXT_FRAGMENT }], 58));
  assert.ok(!(p instanceof WireError), String(p));
  assert.equal(p.protocol, NEXT_FRAGMENT);
  assert.deepEqual(p.fragment, { nextHeader: 58, offset: 0, more: true, id: 7, headerAt: 48 });
  assert.equal(p.payloadAt, 56);
});

test("refuses hostile chains with a reason", () => {
  const reason = (b: Uint8Array) => {
    const p = parseIpv6(b);
    return p instanceof WireError ? p.reason : "accepted";
  };
  assert.equal(reason(withChain([{ type: NEXT_DESTINATION_OPTIONS }, { type: NEXT_HOP_BY_HOP }], 17)), "bad-hop-by-hop");
  assert.equal(reason(withChain(Array.from({ length: 9 }, () => ({ type: NEXT_DESTINATION_OPTIONS })), 17)), "too-many-headers");
  assert.equal(reason(withChain([{ type: NEXT_ROUTING, body: [0, 2, 0, 0, 0, 0] }], 17)), "routing-type-0");
  assert.equal(reason(withChain([{ type: NEXT_ROUTING, body: [4, 1, 0, 0, 0, 0] }], 17)), "routing-segments-left");
  assert.equal(reason(withChain([{ type: NEXT_DESTINATION_OPTIONS, body: [0x80, 4, 0, 0, 0, 0] }], 17)), "unknown-option");
  assert.equal(reason(withChain([{ type: NEXT_DESTINATION_OPTIONS, body: [1, 9, 0, 0, 0, 0] }], 17)), "bad-option");
  const cut = withChain([{ type: NEXT_DESTINATION_OPTIONS }], 17, 0);
  cut[41] = 3; // header claims 32 bytes, 8 remain
  assert.equal(reason(cut), "truncated");
  const short = withChain([], 17);
  assert.equal(reason(short.subarray(0, 45)), "truncated");
  short[0] = 0x45;
  assert.equal(reason(short), "bad-version");
});

test("random bytes never throw: they parse or give a reason, and what parses stays in bounds", () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 160 }), fc.boolean(), (b, plausible) => {
      if (plausible && b.length >= 40) {
        b[0] = 0x60;
        b[4] = 0;
        b[5] = b.length - 40;
        b[6] = [0, 43, 44, 60, 17][b[6]! % 5]!;
      }
      const p = parseIpv6(b);
      if (p instanceof WireError) assert.match(p.reason, /^[a-z0-9-]+$/);
      else {
        assert.ok(p.payloadAt <= p.end && p.end <= b.length);
        assert.ok(p.protocolFieldAt < p.payloadAt);
      }
    }),
    { numRuns: 5000 },
  );
});

test("the pseudo-header sum is the sum of the RFC 8200 §8.1 pseudo-header bytes", () => {
  fc.assert(
    fc.property(address, address, fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 0xfffff }), (s, d, proto, len) => {
      const ph = new Uint8Array(40);
      ph.set(s, 0);
      ph.set(d, 16);
      ph[32] = len >>> 24;
      ph[33] = len >>> 16;
      ph[34] = len >>> 8;
      ph[35] = len;
      ph[39] = proto;
      assert.equal(ipv6PseudoSum(s, d, proto, len) % 0xffff, onesSum(ph) % 0xffff);
    }),
  );
});
