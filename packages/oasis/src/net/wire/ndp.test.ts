import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { emitNdp, ndpLength, parseNdp, type NdpRepr } from "./ndp.ts";
import {
  ICMPV6_NEIGHBOR_ADVERTISEMENT,
  ICMPV6_NEIGHBOR_SOLICITATION,
  ICMPV6_REDIRECT,
  ICMPV6_ROUTER_ADVERTISEMENT,
  ICMPV6_ROUTER_SOLICITATION,
} from "./icmpv6.ts";
import { WireError } from "./error.ts";

const mac = fc.uint8Array({ minLength: 6, maxLength: 6 });
const unicast = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((a) => ((a[0] = a[0]! === 0xff ? 0xfe : a[0]!), a));
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const prefix = fc.record({
  prefixLength: fc.integer({ min: 0, max: 128 }),
  onLink: fc.boolean(),
  autonomous: fc.boolean(),
  validLifetime: u32,
  preferredLifetime: u32,
  prefix: fc.uint8Array({ minLength: 16, maxLength: 16 }),
});
const repr: fc.Arbitrary<NdpRepr> = fc.oneof(
  fc.record({ type: fc.constant(ICMPV6_ROUTER_SOLICITATION), sourceLinkAddress: mac }, { requiredKeys: ["type"] }),
  fc.record(
    {
      type: fc.constant(ICMPV6_ROUTER_ADVERTISEMENT),
      curHopLimit: fc.integer({ min: 0, max: 255 }),
      managed: fc.boolean(),
      other: fc.boolean(),
      routerLifetime: fc.integer({ min: 0, max: 0xffff }),
      reachableTime: u32,
      retransTimer: u32,
      sourceLinkAddress: mac,
      mtu: u32,
      prefixes: fc.array(prefix, { maxLength: 4 }),
    },
    { requiredKeys: ["type", "curHopLimit", "managed", "other", "routerLifetime", "reachableTime", "retransTimer", "prefixes"] },
  ),
  fc.record({ type: fc.constant(ICMPV6_NEIGHBOR_SOLICITATION), target: unicast, sourceLinkAddress: mac }, { requiredKeys: ["type", "target"] }),
  fc.record(
    { type: fc.constant(ICMPV6_NEIGHBOR_ADVERTISEMENT), router: fc.boolean(), solicited: fc.boolean(), override: fc.boolean(), target: unicast, targetLinkAddress: mac },
    { requiredKeys: ["type", "router", "solicited", "override", "target"] },
  ),
  fc.record({ type: fc.constant(ICMPV6_REDIRECT), target: unicast, destination: unicast, targetLinkAddress: mac }, { requiredKeys: ["type", "target", "destination"] }),
) as fc.Arbitrary<NdpRepr>;

/** Plain values for deepEqual (fast-check records have a null prototype). */
function plain(x: unknown): unknown {
  return JSON.parse(JSON.stringify(x, (_k, v) => (v instanceof Uint8Array ? [...v] : v)));
}

test("emit then parse gives back every NDP message with its options", () => {
  fc.assert(
    fc.property(repr, (r) => {
      const b = new Uint8Array(ndpLength(r));
      assert.equal(emitNdp(r, b), b.length);
      const p = parseNdp(b);
      assert.ok(!(p instanceof WireError), String(p));
      assert.deepEqual(plain(p), plain(r));
    }),
  );
});

test("malformed options and fields are refused with a reason", () => {
  const ns = new Uint8Array(ndpLength({ type: ICMPV6_NEIGHBOR_SOLICITATION, target: new Uint8Array(16), sourceLinkAddress: new Uint8Array(6) }));
  emitNdp({ type: ICMPV6_NEIGHBOR_SOLICITATION, target: new Uint8Array(16), sourceLinkAddress: new Uint8Array(6) }, ns);
  const reason = (b: Uint8Array) => {
    const p = parseNdp(b);
    return p instanceof WireError ? p.reason : "accepted";
  };
  assert.equal(reason(ns), "accepted");
  const zeroLength = ns.slice();
  zeroLength[25] = 0;
  assert.equal(reason(zeroLength), "bad-ndp-option");
  const longOption = ns.slice();
  longOption[25] = 2;
  assert.equal(reason(longOption), "bad-ndp-option");
  const code = ns.slice();
  code[1] = 1;
  assert.equal(reason(code), "bad-ndp-code");
  const multicastTarget = ns.slice();
  multicastTarget[8] = 0xff;
  assert.equal(reason(multicastTarget), "bad-ndp-target");
  assert.equal(reason(ns.subarray(0, 20)), "truncated");
  assert.equal(reason(new Uint8Array([128, 0, 0, 0, 0, 0, 0, 0])), "not-ndp");
});

test("random bytes never throw", () => {
  fc.assert(
    fc.property(fc.constantFrom(133, 134, 135, 136, 137), fc.uint8Array({ maxLength: 120 }), fc.boolean(), (type, body, plausible) => {
      const b = new Uint8Array(body.length + 1);
      b.set(body, 1);
      b[0] = type;
      if (plausible && b.length > 1) b[1] = 0;
      const p = parseNdp(b);
      if (p instanceof WireError) assert.match(p.reason, /^[a-z-]+$/);
    }),
    { numRuns: 5000 },
  );
});
