// Address configuration on virtual time: duplicate address detection, router solicitation,
// router advertisements (SLAAC lifetimes, default routers, MTU) against a raw host on the switch.
import { test } from "node:test";
import assert from "node:assert/strict";
import { MemorySwitch } from "../phy/switch.ts";
import { ManualClock } from "../stack/clock.ts";
import { IpError } from "../../devices/errors.ts";
import { PROTO_ICMPV6, PROTO_UDP } from "../../devices/ip.ts";
import { formatMac } from "../wire/address.ts";
import { formatIpv6Address, IPV6_ALL_NODES, linkLocalAddress, eui64InterfaceId, solicitedNodeAddress, ipv6Equal } from "../wire/ipv6.ts";
import {
  ICMPV6_NEIGHBOR_ADVERTISEMENT,
  ICMPV6_NEIGHBOR_SOLICITATION,
  ICMPV6_ROUTER_ADVERTISEMENT,
  ICMPV6_MLD_QUERY,
  ICMPV6_MLDV2_REPORT,
  ICMPV6_REDIRECT,
  ICMPV6_ROUTER_SOLICITATION,
  MLD_CHANGE_TO_EXCLUDE,
  MLD_CHANGE_TO_INCLUDE,
  MLD_MODE_IS_EXCLUDE,
  parseMldv2Report,
} from "../wire/icmpv6.ts";
import { WireError } from "../wire/error.ts";
import type { PrefixInformation, RouterAdvertisement } from "../wire/ndp.ts";
import { addr, advance, mac, node, RawHost } from "./test-support.ts";

const MAC_A = "02:00:00:00:00:0a";
const RAW_MAC = mac("02:00:00:00:00:99");
const ROUTER_LL = addr("fe80::99");

function setup(options: Parameters<typeof node>[3] = {}) {
  const sw = new MemorySwitch();
  const clock = new ManualClock();
  const raw = new RawHost(sw, RAW_MAC, ROUTER_LL);
  const a = node(sw, clock, MAC_A, options);
  return { sw, clock, raw, a };
}

function ra(prefixes: PrefixInformation[], extra: Partial<RouterAdvertisement> = {}): RouterAdvertisement {
  return { type: ICMPV6_ROUTER_ADVERTISEMENT, curHopLimit: 0, managed: false, other: false, routerLifetime: 1800, reachableTime: 0, retransTimer: 0, sourceLinkAddress: RAW_MAC, prefixes, ...extra };
}

function prefix(text: string, validLifetime: number, preferredLifetime: number, flags: { onLink?: boolean; autonomous?: boolean } = {}): PrefixInformation {
  return { prefixLength: 64, onLink: flags.onLink ?? true, autonomous: flags.autonomous ?? true, validLifetime, preferredLifetime, prefix: addr(text) };
}

const LL_A = formatIpv6Address(linkLocalAddress(eui64InterfaceId(mac(MAC_A))));

test("the link-local address comes from the MAC, is tested by DAD from :: to its solicited-node group, then used", async () => {
  const { sw, clock, raw, a } = setup({ acceptRouterAdvertisements: false });
  assert.equal(LL_A, "fe80::ff:fe00:a");
  assert.deepEqual(a.ipv6.configuredAddresses(), [], "tentative addresses are not usable");
  assert.deepEqual(a.ipv6.addressInfo().map((x) => [x.address, x.state]), [[LL_A, "tentative"]]);
  assert.throws(() => a.ipv6.write("fe80::99", PROTO_UDP, new Uint8Array(8)), (e: unknown) => e instanceof IpError && e.code === "no-route");
  await advance(sw, clock, 500);
  const probes = raw.ndp(ICMPV6_NEIGHBOR_SOLICITATION);
  assert.equal(probes.length, 1);
  const p = probes[0]!;
  assert.equal(formatIpv6Address(p.src), "::");
  assert.ok(ipv6Equal(p.dst, solicitedNodeAddress(addr(LL_A))));
  assert.equal(formatMac(p.dstMac), "33:33:ff:00:00:0a");
  assert.equal(p.ip.hopLimit, 255);
  assert.ok(p.ndp?.type === ICMPV6_NEIGHBOR_SOLICITATION && p.ndp.sourceLinkAddress === undefined);
  assert.equal(a.ipv6.addressInfo()[0]!.state, "tentative");
  await advance(sw, clock, 1000);
  assert.deepEqual(a.ipv6.configuredAddresses(), [{ address: LL_A, prefixLength: 64 }]);
  await a.ipv6.settled();
});

test("a neighbour advertisement for a tentative static address makes it a duplicate, never used", async () => {
  const { sw, clock, raw, a } = setup({ cidr: "2001:db8::a/64", acceptRouterAdvertisements: false });
  await advance(sw, clock, 100);
  const probe = raw.ndp(ICMPV6_NEIGHBOR_SOLICITATION).find((d) => d.ndp!.type === ICMPV6_NEIGHBOR_SOLICITATION && formatIpv6Address(d.ndp!.target) === "2001:db8::a");
  assert.ok(probe, "DAD probe for the static address");
  raw.sendNdp(null, addr("2001:db8::99"), IPV6_ALL_NODES, { type: ICMPV6_NEIGHBOR_ADVERTISEMENT, router: false, solicited: false, override: true, target: addr("2001:db8::a"), targetLinkAddress: RAW_MAC });
  await advance(sw, clock, 2000);
  assert.deepEqual(a.ipv6.configuredAddresses(), [{ address: LL_A, prefixLength: 64 }]);
  assert.equal(a.ipv6.counters.get("dad-failed"), 1);
  // Asked for its old address, it stays silent.
  raw.seen.length = 0;
  raw.sendNdp(null, ROUTER_LL, solicitedNodeAddress(addr("2001:db8::a")), { type: ICMPV6_NEIGHBOR_SOLICITATION, target: addr("2001:db8::a"), sourceLinkAddress: RAW_MAC });
  await advance(sw, clock, 100);
  assert.equal(raw.ndp(ICMPV6_NEIGHBOR_ADVERTISEMENT).length, 0);
});

test("another node's DAD probe for our tentative address is a conflict; a random identifier is replaced and retested", async () => {
  let seq = 0;
  const { sw, clock, raw, a } = setup({ interfaceId: "random", acceptRouterAdvertisements: false, randomInt: (max) => (seq++ * 37 + 11) % max });
  const first = a.ipv6.addressInfo()[0]!.address;
  raw.sendNdp(null, addr("::"), solicitedNodeAddress(addr(first)), { type: ICMPV6_NEIGHBOR_SOLICITATION, target: addr(first) });
  await advance(sw, clock, 50);
  assert.equal(a.ipv6.counters.get("dad-failed"), 1);
  const second = a.ipv6.addressInfo()[0]!;
  assert.notEqual(second.address, first);
  assert.equal(second.state, "tentative");
  await advance(sw, clock, 2000);
  assert.deepEqual(a.ipv6.configuredAddresses().map((x) => x.address), [second.address]);
});

test("answers solicitations for its addresses (unicast, solicited, override) and defends them against DAD", async () => {
  const { sw, clock, raw, a } = setup({ cidr: "2001:db8::a/64", acceptRouterAdvertisements: false });
  await advance(sw, clock, 2000);
  raw.seen.length = 0;
  raw.sendNdp(null, addr("2001:db8::99"), solicitedNodeAddress(addr("2001:db8::a")), { type: ICMPV6_NEIGHBOR_SOLICITATION, target: addr("2001:db8::a"), sourceLinkAddress: RAW_MAC });
  await advance(sw, clock, 10);
  const [na] = raw.ndp(ICMPV6_NEIGHBOR_ADVERTISEMENT);
  const adv = na?.ndp;
  assert.ok(na && adv?.type === ICMPV6_NEIGHBOR_ADVERTISEMENT);
  assert.deepEqual([formatIpv6Address(na.src), formatIpv6Address(na.dst), formatMac(na.dstMac)], ["2001:db8::a", "2001:db8::99", formatMac(RAW_MAC)]);
  assert.deepEqual([adv.solicited, adv.override, adv.router, formatMac(adv.targetLinkAddress!)], [true, true, false, MAC_A]);
  // The solicitation taught it the asker's address (STALE until confirmed).
  assert.equal(a.ipv6.neighbours.state(addr("2001:db8::99")), "stale");
  raw.seen.length = 0;
  raw.sendNdp(null, addr("::"), solicitedNodeAddress(addr("2001:db8::a")), { type: ICMPV6_NEIGHBOR_SOLICITATION, target: addr("2001:db8::a") });
  await advance(sw, clock, 10);
  const [defence] = raw.ndp(ICMPV6_NEIGHBOR_ADVERTISEMENT);
  const dna = defence?.ndp;
  assert.ok(defence && dna?.type === ICMPV6_NEIGHBOR_ADVERTISEMENT);
  assert.equal(formatIpv6Address(defence.dst), "ff02::1");
  assert.equal(dna.solicited, false);
  // Forged from off the link (hop limit below 255): ignored.
  raw.seen.length = 0;
  raw.sendNdp(null, addr("2001:db8::98"), solicitedNodeAddress(addr("2001:db8::a")), { type: ICMPV6_NEIGHBOR_SOLICITATION, target: addr("2001:db8::a"), sourceLinkAddress: RAW_MAC }, 254);
  await advance(sw, clock, 10);
  assert.equal(raw.ndp(ICMPV6_NEIGHBOR_ADVERTISEMENT).length, 0);
  assert.equal(a.ipv6.counters.get("ndp-bad-hop-limit"), 1);
});

test("solicits routers from its link-local address, at most three times, and stops when one advertises", async () => {
  const { sw, clock, raw } = setup();
  await advance(sw, clock, 1000);
  await advance(sw, clock, 8500);
  const rs = raw.ndp(ICMPV6_ROUTER_SOLICITATION);
  assert.equal(rs.length, 3);
  assert.equal(formatIpv6Address(rs[0]!.src), LL_A);
  assert.equal(formatIpv6Address(rs[0]!.dst), "ff02::2");
  assert.ok(rs[0]!.ndp?.type === ICMPV6_ROUTER_SOLICITATION && formatMac(rs[0]!.ndp.sourceLinkAddress!) === MAC_A);
  await advance(sw, clock, 10_000);
  assert.equal(raw.ndp(ICMPV6_ROUTER_SOLICITATION).length, 3);

  const second = setup();
  await advance(second.sw, second.clock, 1000);
  assert.equal(second.raw.ndp(ICMPV6_ROUTER_SOLICITATION).length, 1);
  second.raw.sendNdp(null, ROUTER_LL, IPV6_ALL_NODES, ra([]));
  await advance(second.sw, second.clock, 10_000);
  assert.equal(second.raw.ndp(ICMPV6_ROUTER_SOLICITATION).length, 1);
});

test("a router advertisement gives a SLAAC address that is tested, deprecated and removed on its lifetimes", async () => {
  const { sw, clock, raw, a } = setup();
  await advance(sw, clock, 1100);
  raw.sendNdp(null, ROUTER_LL, IPV6_ALL_NODES, ra([prefix("2001:db8:1::", 100, 50)], { mtu: 1400, curHopLimit: 77, routerLifetime: 30 }));
  await advance(sw, clock, 10);
  const slaac = "2001:db8:1::ff:fe00:a";
  assert.deepEqual(a.ipv6.addressInfo().map((x) => [x.address, x.origin, x.state]), [
    [LL_A, "link-local", "preferred"],
    [slaac, "slaac", "tentative"],
  ]);
  assert.deepEqual(a.ipv6.defaultRouters(), ["fe80::99"]);
  assert.equal(a.ipv6.currentMtu, 1400);
  assert.equal(a.ipv6.mtu("2001:db8:5::1"), 1360);
  assert.deepEqual(a.ipv6.onLinkPrefixes(), [{ address: "2001:db8:1::", prefixLength: 64 }]);
  assert.equal(a.ipv6.neighbours.isRouter(ROUTER_LL), true);
  await advance(sw, clock, 1100);
  assert.equal(a.ipv6.addressInfo()[1]!.state, "preferred");
  // Off-link traffic goes to the router's MAC, from the SLAAC address, with the advertised hop limit.
  raw.seen.length = 0;
  a.ipv6.write("2001:db8:5::1", PROTO_UDP, new Uint8Array(8));
  await advance(sw, clock, 10);
  const out = raw.seen.find((d) => d.ip.protocol === PROTO_UDP);
  assert.ok(out);
  assert.equal(formatMac(out.dstMac), formatMac(RAW_MAC));
  assert.equal(formatIpv6Address(out.src), slaac);
  assert.equal(out.ip.hopLimit, 77);
  // Router lifetime 30 s: afterwards there is no default route.
  await advance(sw, clock, 30_000, 1000);
  assert.deepEqual(a.ipv6.defaultRouters(), []);
  assert.throws(() => a.ipv6.write("2001:db8:5::1", PROTO_UDP, new Uint8Array(8)), /no IPv6 default router/);
  await advance(sw, clock, 20_000, 1000);
  assert.equal(a.ipv6.addressInfo()[1]!.state, "deprecated");
  assert.equal(a.ipv6.source("2001:db8:1::5"), slaac, "a deprecated address is still used when it is the only one in scope");
  await advance(sw, clock, 50_000, 1000);
  assert.deepEqual(a.ipv6.addressInfo().map((x) => x.address), [LL_A]);
  assert.equal(a.ipv6.counters.get("address-expired"), 1);
});

test("an advertisement cannot cut a valid lifetime below two hours (RFC 4862 5.5.3 e), but can extend it", async () => {
  const { sw, clock, raw, a } = setup({ dadTransmits: 0 });
  await advance(sw, clock, 1100);
  const t0 = clock.nowMs();
  raw.sendNdp(null, ROUTER_LL, IPV6_ALL_NODES, ra([prefix("2001:db8:2::", 3 * 3600, 3600)]));
  await advance(sw, clock, 10);
  const info = () => a.ipv6.addressInfo().find((x) => x.origin === "slaac")!;
  assert.equal(info().validUntil, t0 + 3 * 3600_000);
  const t1 = clock.nowMs();
  raw.sendNdp(null, ROUTER_LL, IPV6_ALL_NODES, ra([prefix("2001:db8:2::", 10, 5)]));
  await advance(sw, clock, 10);
  assert.equal(info().validUntil, t1 + 2 * 3600_000);
  assert.equal(info().preferredUntil, t1 + 5000);
  raw.sendNdp(null, ROUTER_LL, IPV6_ALL_NODES, ra([prefix("2001:db8:2::", 0xffffffff, 0xffffffff)]));
  await advance(sw, clock, 10);
  assert.equal(info().validUntil, Infinity);
  assert.equal(info().state, "preferred");
});

test("ignores advertisements it must not trust or use", async () => {
  const { sw, clock, raw, a } = setup({ dadTransmits: 0 });
  await advance(sw, clock, 1100);
  raw.sendNdp(null, addr("2001:db8::99"), IPV6_ALL_NODES, ra([prefix("2001:db8:3::", 100, 50)]));
  raw.sendNdp(null, ROUTER_LL, IPV6_ALL_NODES, ra([prefix("2001:db8:3::", 100, 50)]), 64);
  raw.sendNdp(null, ROUTER_LL, IPV6_ALL_NODES, ra([prefix("fe80::", 100, 50), prefix("2001:db8:4::", 50, 100), { ...prefix("2001:db8:5::", 100, 50), prefixLength: 48 }], { routerLifetime: 0, mtu: 9000 }));
  await advance(sw, clock, 10);
  assert.deepEqual(a.ipv6.addressInfo().map((x) => x.origin), ["link-local"]);
  assert.deepEqual(a.ipv6.defaultRouters(), []);
  assert.equal(a.ipv6.currentMtu, 1500);
  const c = a.ipv6.counters.snapshot();
  assert.deepEqual(
    [c["ra-not-link-local"], c["ndp-bad-hop-limit"], c["prefix-link-local-ignored"], c["prefix-preferred-above-valid"], c["prefix-length-not-64"], c["ra-bad-mtu"]],
    [1, 1, 1, 1, 1, 1],
  );
  const off = setup({ dadTransmits: 0, acceptRouterAdvertisements: false });
  await advance(off.sw, off.clock, 1100);
  off.raw.sendNdp(null, ROUTER_LL, IPV6_ALL_NODES, ra([prefix("2001:db8:3::", 100, 50)]));
  await advance(off.sw, off.clock, 10);
  assert.equal(off.a.ipv6.addressInfo().length, 1);
  assert.equal(off.a.ipv6.counters.get("ra-ignored"), 1);
  assert.equal(off.raw.ndp(ICMPV6_ROUTER_SOLICITATION).length, 0);
});

test("static configuration: bad values are refused with what to do; the gateway routes off-link traffic", async () => {
  assert.throws(() => setup({ cidr: "2001:db8::a" }), /write ADDRESS\/LENGTH/);
  assert.throws(() => setup({ cidr: "ff02::1/64" }), /unicast address is needed/);
  assert.throws(() => setup({ cidr: "2001:db8::a/64", gateway: "2001:db9::1" }), /neither link-local nor inside 2001:db8::a\/64/);
  assert.throws(() => setup({ cidr: "2001:db8::a/64", gateway: "nope" }), /not an IPv6 address/);
  const { sw, clock, raw, a } = setup({ cidr: "2001:db8::a/64", gateway: "fe80::99", acceptRouterAdvertisements: false });
  await advance(sw, clock, 2000);
  a.ipv6.write("2001:db8:77::1", PROTO_UDP, new Uint8Array(8));
  await advance(sw, clock, 10);
  // Resolving the gateway: a multicast solicitation for fe80::99, from our link-local address.
  const ns = raw.ndp(ICMPV6_NEIGHBOR_SOLICITATION).find((d) => d.ndp!.type === ICMPV6_NEIGHBOR_SOLICITATION && formatIpv6Address(d.ndp!.target) === "fe80::99");
  assert.ok(ns);
  assert.equal(formatIpv6Address(ns.src), LL_A);
  raw.sendNdp(mac(MAC_A), ROUTER_LL, ns.src, { type: ICMPV6_NEIGHBOR_ADVERTISEMENT, router: true, solicited: true, override: true, target: ROUTER_LL, targetLinkAddress: RAW_MAC });
  await advance(sw, clock, 10);
  const sent = raw.seen.find((d) => d.ip.protocol === PROTO_UDP);
  assert.ok(sent, "the queued datagram left once the gateway resolved");
  assert.equal(formatIpv6Address(sent.src), "2001:db8::a");
  assert.equal(formatIpv6Address(sent.dst), "2001:db8:77::1");
  assert.equal(a.ipv6.neighbours.state(ROUTER_LL), "reachable");
});

test("follows a redirect from its router to a better first hop, and ignores one from anybody else", async () => {
  const { sw, clock, raw, a } = setup({ dadTransmits: 0 });
  const better = new RawHost(sw, mac("02:00:00:00:00:77"), addr("fe80::77"));
  await advance(sw, clock, 1100);
  raw.sendNdp(null, ROUTER_LL, IPV6_ALL_NODES, ra([prefix("2001:db8:1::", 1000, 1000)]));
  await advance(sw, clock, 10);
  const ll = addr(LL_A);
  const redirect = (from: Uint8Array, target: string) =>
    raw.sendNdp(mac(MAC_A), from, ll, { type: ICMPV6_REDIRECT, target: addr(target), destination: addr("2001:db8:5::1"), targetLinkAddress: mac("02:00:00:00:00:77") });
  redirect(addr("fe80::98"), "fe80::77");
  await advance(sw, clock, 10);
  assert.equal(a.ipv6.counters.get("redirect-invalid"), 1, "not from the router in use");
  redirect(ROUTER_LL, "fe80::77");
  await advance(sw, clock, 10);
  a.ipv6.write("2001:db8:5::1", PROTO_UDP, new Uint8Array(8));
  a.ipv6.write("2001:db8:6::1", PROTO_UDP, new Uint8Array(8));
  await advance(sw, clock, 10);
  assert.deepEqual(better.seen.filter((d) => d.ip.protocol === PROTO_UDP).map((d) => formatIpv6Address(d.dst)), ["2001:db8:5::1"]);
  assert.deepEqual(raw.seen.filter((d) => d.ip.protocol === PROTO_UDP).map((d) => formatIpv6Address(d.dst)), ["2001:db8:6::1"]);
});

test("announces its solicited-node groups with MLDv2 (router alert, hop limit 1, twice), answers queries, and leaves groups it drops", async () => {
  const { sw, clock, raw, a } = setup({ cidr: "2001:db8::a/64", acceptRouterAdvertisements: false });
  const reports = () => raw.seen.filter((d) => d.icmp?.type === ICMPV6_MLDV2_REPORT);
  await advance(sw, clock, 10);
  const [first] = reports();
  assert.ok(first);
  assert.deepEqual([formatIpv6Address(first.src), formatIpv6Address(first.dst), formatMac(first.dstMac), first.ip.hopLimit, first.ip.nextHeader], ["::", "ff02::16", "33:33:00:00:00:16", 1, 0]);
  const records = parseMldv2Report(first.frame.subarray(14 + first.ip.payloadAt, 14 + first.ip.end));
  assert.ok(!(records instanceof WireError));
  assert.deepEqual(records.map((r) => [r.type, formatIpv6Address(r.group)]), [
    [MLD_CHANGE_TO_EXCLUDE, "ff02::1:ff00:a"],
  ], "one group serves both fe80::…:a and 2001:db8::a");
  await advance(sw, clock, 2000);
  assert.equal(reports().length, 2, "the state change is repeated once");
  raw.seen.length = 0;
  const query = new Uint8Array(28);
  query[0] = ICMPV6_MLD_QUERY;
  query[4] = 0x03;
  query[5] = 0xe8; // 1000 ms
  raw.send(mac("33:33:00:00:00:01"), ROUTER_LL, IPV6_ALL_NODES, PROTO_ICMPV6, query, 1);
  await advance(sw, clock, 1000);
  const answer = reports();
  assert.equal(answer.length, 1);
  const current = parseMldv2Report(answer[0]!.frame.subarray(14 + answer[0]!.ip.payloadAt, 14 + answer[0]!.ip.end));
  assert.ok(!(current instanceof WireError));
  assert.deepEqual(current.map((r) => r.type), [MLD_MODE_IS_EXCLUDE]);
  assert.equal(formatIpv6Address(answer[0]!.src), LL_A, "from the link-local address once it is usable");
  // A static address in a group of its own turns out to be a duplicate: that group is left.
  const b = setup({ cidr: "2001:db8::12:3456/64", acceptRouterAdvertisements: false });
  await advance(b.sw, b.clock, 10);
  b.raw.sendNdp(null, addr("2001:db8::99"), IPV6_ALL_NODES, { type: ICMPV6_NEIGHBOR_ADVERTISEMENT, router: false, solicited: false, override: true, target: addr("2001:db8::12:3456"), targetLinkAddress: RAW_MAC });
  await advance(b.sw, b.clock, 10);
  const changes = b.raw.seen
    .filter((d) => d.icmp?.type === ICMPV6_MLDV2_REPORT)
    .flatMap((d) => {
      const r = parseMldv2Report(d.frame.subarray(14 + d.ip.payloadAt, 14 + d.ip.end));
      return r instanceof WireError ? [] : r.map((x) => `${x.type} ${formatIpv6Address(x.group)}`);
    });
  assert.deepEqual(changes, [`${MLD_CHANGE_TO_EXCLUDE} ff02::1:ff00:a`, `${MLD_CHANGE_TO_EXCLUDE} ff02::1:ff12:3456`, `${MLD_CHANGE_TO_INCLUDE} ff02::1:ff12:3456`]);
});

test("stable interface identifiers: opaque, per prefix, the same after a restart with the same key, renewed after a duplicate", async () => {
  const key = Uint8Array.from({ length: 16 }, (_, i) => i * 3);
  const start = () => setup({ interfaceId: "stable", secretKey: key, dadTransmits: 1 });
  const first = start();
  await advance(first.sw, first.clock, 1100);
  first.raw.sendNdp(null, ROUTER_LL, IPV6_ALL_NODES, ra([prefix("2001:db8:1::", 1000, 1000), prefix("2001:db8:2::", 1000, 1000)]));
  await advance(first.sw, first.clock, 1100);
  const addresses = first.a.ipv6.configuredAddresses().map((x) => x.address);
  assert.equal(addresses.length, 3);
  const ids = addresses.map((x) => x.split(":").slice(-4).join(":"));
  assert.equal(new Set(ids).size, 3, `one identifier per prefix: ${addresses.join(" ")}`);
  assert.ok(addresses.every((x) => !x.includes("ff:fe00:a")), "the MAC does not show");
  const again = start();
  await advance(again.sw, again.clock, 1100);
  again.raw.sendNdp(null, ROUTER_LL, IPV6_ALL_NODES, ra([prefix("2001:db8:1::", 1000, 1000), prefix("2001:db8:2::", 1000, 1000)]));
  await advance(again.sw, again.clock, 1100);
  assert.deepEqual(again.a.ipv6.configuredAddresses().map((x) => x.address), addresses);
  // A duplicate moves to the next DAD counter: another identifier under the same prefix.
  const third = start();
  const ll = third.a.ipv6.addressInfo()[0]!.address;
  assert.equal(ll, addresses[0]);
  third.raw.sendNdp(null, addr("::"), solicitedNodeAddress(addr(ll)), { type: ICMPV6_NEIGHBOR_SOLICITATION, target: addr(ll) });
  await advance(third.sw, third.clock, 3000);
  const replaced = third.a.ipv6.configuredAddresses().map((x) => x.address);
  assert.equal(replaced.length, 1);
  assert.notEqual(replaced[0], ll);
  assert.match(replaced[0]!, /^fe80::/);
  assert.throws(() => setup({ interfaceId: "stable", secretKey: new Uint8Array(8) }), /16 bytes \(32 hex digits\)/);
});

test("a flood of advertisements from many routers and prefixes fills bounded lists only", async () => {
  const { sw, clock, raw, a } = setup({ dadTransmits: 0 });
  await advance(sw, clock, 1100);
  for (let i = 0; i < 40; i++) {
    const prefixes = [0, 1, 2, 3].map((j) => prefix(`2001:db8:${i}:${j}::`, 1000, 1000));
    raw.sendNdp(null, addr(`fe80::${(i + 1).toString(16)}`), IPV6_ALL_NODES, ra(prefixes));
  }
  await advance(sw, clock, 100);
  assert.equal(a.ipv6.defaultRouters().length, 16);
  assert.equal(a.ipv6.onLinkPrefixes().length, 64);
  assert.equal(a.ipv6.addressInfo().filter((x) => x.origin === "slaac").length, 16);
  const c = a.ipv6.counters.snapshot();
  assert.deepEqual([c["router-list-full"], c["prefix-list-full"], c["slaac-address-limit"]], [24, 160 - 64, 160 - 16]);
});
