// Neighbour unreachability detection (RFC 4861 §7.3) between two IPv6 layers on virtual time.
import { test } from "node:test";
import assert from "node:assert/strict";
import { MemorySwitch } from "../phy/switch.ts";
import { ManualClock } from "../stack/clock.ts";
import { PROTO_UDP } from "../../devices/ip.ts";
import { formatIpv6Address } from "../wire/ipv6.ts";
import { ICMPV6_NEIGHBOR_SOLICITATION } from "../wire/icmpv6.ts";
import { Counters } from "../wire/error.ts";
import { addr, advance, mac, node, RawHost } from "./test-support.ts";
import { NeighbourCache } from "./neighbours.ts";

const B = addr("2001:db8::b");

async function pair() {
  const sw = new MemorySwitch();
  const clock = new ManualClock();
  const options = { dadTransmits: 0, acceptRouterAdvertisements: false, reachableTimeMs: 30_000 };
  const a = node(sw, clock, "02:00:00:00:00:0a", { ...options, cidr: "2001:db8::a/64" });
  const b = node(sw, clock, "02:00:00:00:00:0b", { ...options, cidr: "2001:db8::b/64" });
  const spy = new RawHost(sw, mac("02:00:00:00:00:99"), addr("2001:db8::99"));
  const got: string[] = [];
  b.ipv6.listen(PROTO_UDP, (src) => got.push(src));
  await advance(sw, clock, 10);
  return { sw, clock, a, b, spy, got };
}

test("INCOMPLETE → REACHABLE → STALE → DELAY → PROBE → REACHABLE, with the solicitations RFC 4861 asks for", async () => {
  const { sw, clock, a, b, spy, got } = await pair();
  const send = () => a.ipv6.write("2001:db8::b", PROTO_UDP, new Uint8Array([0, 1, 0, 2, 0, 8, 0xff, 0xff]));
  send();
  assert.equal(a.ipv6.neighbours.state(B), "incomplete");
  await advance(sw, clock, 10);
  assert.equal(got.length, 1, "the queued packet went out after resolution");
  assert.equal(a.ipv6.neighbours.state(B), "reachable");
  const multicastNs = spy.ndp(ICMPV6_NEIGHBOR_SOLICITATION);
  assert.equal(multicastNs.length, 1, "one multicast solicitation (the spy sees multicast only)");
  assert.equal(formatIpv6Address(multicastNs[0]!.dst), "ff02::1:ff00:b");
  // ReachableTime is between 15 and 45 s (no jitter in tests: 15 s).
  await advance(sw, clock, 15_000, 1000);
  assert.equal(a.ipv6.neighbours.state(B), "stale");
  send();
  assert.equal(a.ipv6.neighbours.state(B), "delay");
  await advance(sw, clock, 10);
  assert.equal(got.length, 2, "a STALE entry is used at once");
  const nsBefore = b.ipv6.counters.get("ndp-sent-136");
  await advance(sw, clock, 5000, 500);
  // The unicast probe went to B, which answered with a solicited advertisement.
  assert.equal(b.ipv6.counters.get("ndp-sent-136"), nsBefore + 1);
  assert.equal(a.ipv6.neighbours.state(B), "reachable");
});

test("a neighbour that stops answering is probed three times and removed; resolution of a stranger fails and drops its queue", async () => {
  const { sw, clock, a, b } = await pair();
  a.ipv6.write("2001:db8::b", PROTO_UDP, new Uint8Array(8));
  await advance(sw, clock, 10);
  assert.equal(a.ipv6.neighbours.state(B), "reachable");
  await b.ipv6.disconnect();
  await advance(sw, clock, 15_000, 1000);
  a.ipv6.write("2001:db8::b", PROTO_UDP, new Uint8Array(8));
  await advance(sw, clock, 5000, 500);
  assert.equal(a.ipv6.neighbours.state(B), "probe");
  await advance(sw, clock, 3000, 500);
  assert.equal(a.ipv6.neighbours.state(B), undefined);
  assert.equal(a.ipv6.counters.get("neighbour-unreachable"), 1);

  for (let i = 0; i < 3; i++) a.ipv6.write("2001:db8::c", PROTO_UDP, new Uint8Array(8));
  assert.equal(a.ipv6.neighbours.state(addr("2001:db8::c")), "incomplete");
  await advance(sw, clock, 3000, 500);
  assert.equal(a.ipv6.neighbours.state(addr("2001:db8::c")), undefined);
  assert.equal(a.ipv6.counters.get("resolution-failed"), 1);
  assert.equal(a.ipv6.counters.get("unresolved-dropped"), 3);
});

test("the cache is bounded: the least recently used resolved entry goes, pending resolutions stay; queues are bounded", () => {
  const clock = new ManualClock();
  const counters = new Counters();
  const sent: string[] = [];
  const cache = new NeighbourCache(
    clock,
    counters,
    { solicit: (t) => sent.push(formatIpv6Address(t)), transmit: () => {}, reachableTimeMs: () => 30_000, retransTimerMs: () => 1000 },
    { cacheSize: 3, queueLimit: 2 },
  );
  const m = mac("02:00:00:00:00:01");
  cache.learn(addr("fe80::1"), m);
  cache.learn(addr("fe80::2"), m);
  cache.lookupForSend(addr("fe80::1")); // fe80::2 is now the least recently used
  for (let i = 0; i < 3; i++) cache.enqueue(addr("fe80::3"), new Uint8Array(1));
  assert.equal(counters.get("neighbour-queue-full"), 1);
  cache.learn(addr("fe80::4"), m);
  assert.deepEqual(cache.snapshot().map((e) => [e.address, e.state]), [
    ["fe80::1", "delay"],
    ["fe80::3", "incomplete"],
    ["fe80::4", "stale"],
  ]);
  assert.equal(counters.get("neighbour-evicted"), 1);
  // A cache full of pending resolutions refuses new ones rather than dropping them.
  const tiny = new NeighbourCache(clock, counters, { solicit: () => {}, transmit: () => {}, reachableTimeMs: () => 1, retransTimerMs: () => 1000 }, { cacheSize: 1 });
  tiny.enqueue(addr("fe80::1"), new Uint8Array(1));
  tiny.enqueue(addr("fe80::2"), new Uint8Array(1));
  assert.equal(counters.get("neighbour-cache-full"), 1);
  // An unsolicited override advertisement with a new address makes an entry STALE; without override it keeps the old one.
  cache.advertised(addr("fe80::4"), mac("02:00:00:00:00:02"), { solicited: false, override: false, router: false });
  assert.equal(cache.snapshot().find((e) => e.address === "fe80::4")!.mac, "02:00:00:00:00:01");
  cache.advertised(addr("fe80::4"), mac("02:00:00:00:00:02"), { solicited: true, override: true, router: true });
  const e = cache.snapshot().find((x) => x.address === "fe80::4")!;
  assert.deepEqual([e.mac, e.state, e.isRouter], ["02:00:00:00:00:02", "reachable", true]);
});
