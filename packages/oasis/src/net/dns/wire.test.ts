import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { WireError } from "../wire/error.ts";
import { canonicalName, emitMessage, labelsToName, nameLabels, parseMessage, queryMessage, RR_TYPES, type DnsMessage, type DnsRecord, type RData } from "./wire.ts";
import { canonicalIp, formatIpv6Bytes, ipv6Bytes, reverseName } from "./address.ts";

const label = fc.uint8Array({ minLength: 1, maxLength: 12 });
// Few distinct labels, so that suffixes repeat and compression is exercised.
const commonLabel = fc.constantFrom(...["example", "test", "a", "Mail", "x.y", "sp ace", "back\\slash"].map((s) => new TextEncoder().encode(s)));
const name = fc.array(fc.oneof(label, commonLabel), { maxLength: 5 }).map(labelsToName);
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((b) => b.join("."));
const ipv6 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map(formatIpv6Bytes);

const rdata: fc.Arbitrary<RData> = fc.oneof(
  ipv4.map((address) => ({ type: "A" as const, address })),
  ipv6.map((address) => ({ type: "AAAA" as const, address })),
  name.map((target) => ({ type: "CNAME" as const, target })),
  name.map((host) => ({ type: "NS" as const, host })),
  name.map((target) => ({ type: "PTR" as const, target })),
  fc.record({ preference: u16, exchange: name }).map((r) => ({ type: "MX" as const, ...r })),
  fc.array(fc.uint8Array({ maxLength: 255 }), { maxLength: 3 }).map((strings) => ({ type: "TXT" as const, strings })),
  fc.record({ mname: name, rname: name, serial: u32, refresh: u32, retry: u32, expire: u32, minimum: u32 }).map((r) => ({ type: "SOA" as const, ...r })),
  fc.record({ priority: u16, weight: u16, port: u16, target: name }).map((r) => ({ type: "SRV" as const, ...r })),
  fc.record({ code: fc.constantFrom(13, 99, 257, 65280), data: fc.uint8Array({ maxLength: 40 }) }).map((r) => ({ type: "unknown" as const, ...r })),
);
const record: fc.Arbitrary<DnsRecord> = fc.record({ name, class: fc.constantFrom(1, 3, 254), ttl: u32, data: rdata });
const message: fc.Arbitrary<DnsMessage> = fc.record({
  id: u16,
  qr: fc.boolean(),
  opcode: fc.nat(15),
  aa: fc.boolean(),
  tc: fc.boolean(),
  rd: fc.boolean(),
  ra: fc.boolean(),
  ad: fc.boolean(),
  cd: fc.boolean(),
  rcode: fc.nat(15),
  questions: fc.array(fc.record({ name, type: u16.filter((t) => t !== RR_TYPES.OPT), class: u16 }), { maxLength: 2 }),
  answers: fc.array(record, { maxLength: 4 }),
  authorities: fc.array(record, { maxLength: 2 }),
  additionals: fc.array(record, { maxLength: 2 }),
  edns: fc.option(
    fc.record({ udpPayloadSize: u16, version: fc.nat(255), dnssecOk: fc.boolean(), options: fc.array(fc.record({ code: u16, data: fc.uint8Array({ maxLength: 20 }) }), { maxLength: 2 }) }),
    { nil: null },
  ),
});

test("every message round-trips through emit and parse (names compressed)", () => {
  fc.assert(
    fc.property(message, fc.nat(255), (m, extended) => {
      const withRcode = m.edns ? { ...m, rcode: (extended << 4) | m.rcode } : m;
      const parsed = parseMessage(emitMessage(withRcode));
      assert.deepEqual(parsed, structuredClone(withRcode)); // fast-check records have no prototype
    }),
    { numRuns: 400 },
  );
});

test("compression makes repeated names shorter, and pointers go back to earlier names", () => {
  const records: DnsRecord[] = [1, 2, 3].map((i) => ({ name: "www.example.test", class: 1, ttl: 60, data: { type: "A", address: `192.0.2.${i}` } }));
  const m = { ...queryMessage(7, "www.example.test", RR_TYPES.A, 0), qr: true, answers: records };
  const bytes = emitMessage(m);
  // header 12 + question (18 + 4) + 3 × (pointer 2 + 10 + 4)
  assert.equal(bytes.length, 12 + 22 + 3 * 16);
  assert.deepEqual(parseMessage(bytes), m);
});

test("random bytes never throw: a message or a WireError with a reason", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
      const r = parseMessage(b);
      if (r instanceof WireError) assert.ok(r.reason.length > 0);
    }),
    { numRuns: 3000 },
  );
});

test("mutated valid messages never throw", () => {
  fc.assert(
    fc.property(message, fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 6 }), fc.nat(), (m, flips, cut) => {
      const b = emitMessage(m);
      for (const [at, v] of flips) b[at % b.length] = v;
      const r = parseMessage(b.subarray(0, b.length - (cut % 4)));
      assert.ok(r instanceof WireError || typeof r.id === "number");
    }),
    { numRuns: 1000 },
  );
});

function header(qd: number, an = 0): number[] {
  return [0, 1, 0x81, 0x80, 0, qd, 0, an, 0, 0, 0, 0];
}

test("hostile names: pointer loops, forward pointers, reserved label types, overlong names", () => {
  const cases: Array<[string, number[]]> = [
    ["bad-pointer", [...header(1), 0xc0, 12, 0, 1, 0, 1]], // points at itself
    ["bad-pointer", [...header(1), 1, 0x61, 0xc0, 12, 0, 1, 0, 1]], // label then back to its own start
    ["bad-pointer", [...header(1), 0xc0, 20, 0, 1, 0, 1, 0, 0]], // forward
    ["bad-label-type", [...header(1), 0x40, 0, 1, 0, 1]],
    ["truncated", [...header(1), 5, 0x61, 0x62]],
    ["truncated", [...header(1), 0xc0]],
    ["truncated", [...header(2), 0, 0, 1, 0, 1]],
    ["name-too-long", [...header(1), ...Array.from({ length: 5 }, () => [63, ...new Array(63).fill(0x61)]).flat(), 0, 0, 1, 0, 1]],
    ["bad-rdata", [...header(1, 1), 0, 0, 1, 0, 1, 0, 0, 1, 0, 1, 0, 0, 0, 60, 0, 3, 1, 2, 3]], // A of 3 bytes
    ["truncated", [...header(1, 1), 0, 0, 1, 0, 1, 0, 0, 1, 0, 1, 0, 0, 0, 60, 0, 9, 1, 2, 3, 4]],
    ["bad-opt", [...header(0, 1), 0, 0, 41, 16, 0, 0, 0, 0, 0, 0, 0]], // OPT in the answer section
  ];
  for (const [reason, bytes] of cases) {
    const r = parseMessage(Uint8Array.from(bytes));
    assert.ok(r instanceof WireError, `${reason}: parsed ${JSON.stringify(r)}`);
    assert.equal(r.reason, reason, r.detail);
  }
  // A chain of backward pointers is fine as long as each goes further back.
  const ok = parseMessage(Uint8Array.from([...header(2), 1, 0x61, 0, 0, 1, 0, 1, 1, 0x62, 0xc0, 12, 0, 1, 0, 1]));
  assert.ok(!(ok instanceof WireError));
  assert.deepEqual(ok.questions.map((q) => q.name), ["a", "b.a"]);
});

test("names: escapes round-trip, bad names say why", () => {
  assert.deepEqual(canonicalName("Www.Example.TEST."), "Www.Example.TEST");
  assert.equal(canonicalName("a\\.b.c"), "a\\.b.c");
  assert.equal(canonicalName("\\065bc"), "Abc");
  assert.equal(nameLabels("a\\.b.c").length, 2);
  assert.match((canonicalName("a..b") as { error: string }).error, /empty label/);
  assert.match((canonicalName("a.") as string) === "a" ? "ok" : "", /ok/);
  assert.match((canonicalName("a".repeat(64)) as { error: string }).error, /64 bytes long/);
  assert.match((canonicalName(Array(130).fill("ab").join(".")) as { error: string }).error, /at most 255/);
  assert.match((canonicalName("bücher.test") as { error: string }).error, /punycode/);
  assert.equal(canonicalName("."), "");
});

test("addresses: IPv6 canonical text, IPv4-mapped, reverse names", () => {
  assert.equal(canonicalIp("2001:DB8:0:0:0:0:0:1"), "2001:db8::1");
  assert.equal(canonicalIp("2001:db8:0:1:0:0:0:0"), "2001:db8:0:1::");
  assert.equal(canonicalIp("2001:db8:0:1:1:1:1:1"), "2001:db8:0:1:1:1:1:1");
  assert.equal(canonicalIp("::ffff:192.0.2.7"), "192.0.2.7");
  assert.equal(canonicalIp("1::2::3"), null);
  assert.equal(canonicalIp("1:2:3:4:5:6:7:8:9"), null);
  assert.equal(canonicalIp("example.test"), null);
  assert.equal(reverseName("192.0.2.7"), "7.2.0.192.in-addr.arpa");
  assert.equal(reverseName("2001:db8::1"), "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
  fc.assert(fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (b) => assert.deepEqual(ipv6Bytes(formatIpv6Bytes(b)), b)));
});

test("parsing a Buffer (as sockets deliver) copies: the result outlives the receive buffer", () => {
  const m = { ...queryMessage(1, "t.test", RR_TYPES.TXT, 0), qr: true, answers: [{ name: "t.test", class: 1, ttl: 5, data: { type: "TXT" as const, strings: [new TextEncoder().encode("keep")] } }] };
  const buffer = Buffer.from(emitMessage(m));
  const parsed = parseMessage(buffer);
  assert.ok(!(parsed instanceof WireError));
  buffer.fill(0);
  const txt = parsed.answers[0]!.data;
  assert.ok(txt.type === "TXT" && txt.strings[0]!.constructor === Uint8Array);
  assert.equal(new TextDecoder().decode(txt.strings[0]), "keep");
});
