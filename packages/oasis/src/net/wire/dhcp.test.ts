import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { BOOTREPLY, BOOTREQUEST, DHCPOFFER, dhcpLength, emitDhcp, parseDhcp, type DhcpOptions, type DhcpRepr } from "./dhcp.ts";
import { WireError } from "./error.ts";

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const known = new Set([0, 1, 3, 6, 12, 50, 51, 53, 54, 55, 56, 57, 58, 59, 61, 255]);
const options: fc.Arbitrary<DhcpOptions> = fc.record(
  {
    messageType: fc.integer({ min: 1, max: 8 }),
    subnetMask: u32,
    routers: fc.array(u32, { minLength: 1, maxLength: 3 }),
    dnsServers: fc.array(u32, { minLength: 1, maxLength: 70 }), // > 255 bytes: split and rejoined
    hostname: fc.stringMatching(/^[a-z0-9-]{1,30}$/),
    requestedIp: u32,
    leaseTime: u32,
    serverId: u32,
    parameterRequestList: fc.array(fc.integer({ min: 1, max: 254 }), { maxLength: 10 }),
    message: fc.stringMatching(/^[ -~]{0,40}$/),
    maxMessageSize: fc.integer({ min: 576, max: 0xffff }),
    renewalTime: u32,
    rebindingTime: u32,
    clientId: fc.uint8Array({ minLength: 1, maxLength: 20 }),
    other: fc.uniqueArray(
      fc.record({ code: fc.integer({ min: 1, max: 254 }).filter((c) => !known.has(c)), data: fc.uint8Array({ maxLength: 10 }) }),
      { selector: (o) => o.code, maxLength: 4 },
    ),
  },
  { requiredKeys: [] },
);
const message: fc.Arbitrary<DhcpRepr> = fc.record({
  op: fc.constantFrom(BOOTREQUEST, BOOTREPLY),
  xid: u32,
  secs: fc.integer({ min: 0, max: 0xffff }),
  broadcast: fc.boolean(),
  ciaddr: u32,
  yiaddr: u32,
  siaddr: u32,
  giaddr: u32,
  chaddr: fc.uint8Array({ minLength: 6, maxLength: 6 }),
  options,
});

function plain<T>(v: T): T {
  return JSON.parse(JSON.stringify(v, (_k, x) => (x instanceof Uint8Array ? [...x] : x)));
}

test("emit then parse round-trips every field and option", () => {
  fc.assert(
    fc.property(message, (m) => {
      const b = new Uint8Array(dhcpLength(m));
      const n = emitDhcp(m, b);
      assert.ok(n >= 300 && n <= b.length);
      const back = parseDhcp(b.subarray(0, n));
      assert.ok(!(back instanceof WireError), String(back));
      const expected = { ...m, options: { ...m.options } };
      if (expected.options.other?.length === 0) delete expected.options.other;
      assert.deepEqual(plain(back), plain(expected));
    }),
  );
});

test("random bytes never throw, and random options after a valid header give a reason or a message", () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), (b) => void parseDhcp(b)), { numRuns: 1000 });
  const header = new Uint8Array(dhcpLength({ op: BOOTREPLY, xid: 1, secs: 0, broadcast: false, ciaddr: 0, yiaddr: 0, siaddr: 0, giaddr: 0, chaddr: new Uint8Array(6), options: {} }));
  emitDhcp({ op: BOOTREPLY, xid: 1, secs: 0, broadcast: false, ciaddr: 0, yiaddr: 0, siaddr: 0, giaddr: 0, chaddr: new Uint8Array(6), options: { messageType: DHCPOFFER } }, header);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 100 }), (tail) => {
      const b = new Uint8Array(240 + tail.length);
      b.set(header.subarray(0, 240));
      b.set(tail, 240);
      const r = parseDhcp(b);
      if (r instanceof WireError) assert.match(r.reason, /^(bad-option|bad-message-type)$/);
    }),
    { numRuns: 2000 },
  );
});

test("rejects a missing magic cookie, a short header and an option running past the end", () => {
  const b = new Uint8Array(300);
  b[0] = 2;
  b[2] = 6;
  assert.equal((parseDhcp(b) as WireError).reason, "bad-magic");
  assert.equal((parseDhcp(b.subarray(0, 239)) as WireError).reason, "truncated");
  b.set([0x63, 0x82, 0x53, 0x63], 236);
  b[298] = 53;
  b[299] = 5;
  assert.equal((parseDhcp(b) as WireError).reason, "bad-option");
  b[299] = 1;
  assert.equal((parseDhcp(b) as WireError).reason, "bad-option"); // length 1 but no data byte
});
