import { test } from "node:test";
import assert from "node:assert/strict";
import { MemorySwitch } from "../phy/switch.ts";
import { EthernetLayer } from "../ethernet/ethernet.ts";
import { ArpLayer, type ArpOptions } from "./arp.ts";
import { ManualClock } from "../stack/clock.ts";
import { ArpError } from "../../devices/errors.ts";
import { ARP_REPLY, ARP_REQUEST, emitArp, parseArp, type ArpRepr } from "../wire/arp.ts";
import { BROADCAST_MAC, formatMac, parseIpv4Address, ZERO_MAC } from "../wire/address.ts";
import { WireError } from "../wire/error.ts";

const ip = (s: string) => parseIpv4Address(s)!;
const mac = (last: number) => new Uint8Array([2, 0, 0, 0, 0, last]);

async function setup(options: ArpOptions = {}) {
  const sw = new MemorySwitch();
  const clock = new ManualClock();
  const eth = new EthernetLayer(sw.port({ mac: "02:00:00:00:00:01" }));
  const arp = new ArpLayer(eth, { clock, randomInt: () => 0, ...options });
  const peer = sw.port({ mac: "02:00:00:00:00:99" });
  const heard: ArpRepr[] = [];
  const frames: Uint8Array[] = [];
  peer.listen((f) => {
    frames.push(f.slice());
    if (f[12] === 0x08 && f[13] === 0x06) {
      const r = parseArp(f.subarray(14));
      if (!(r instanceof WireError)) heard.push(r);
    }
  });
  const sendArp = (r: ArpRepr, dst = BROADCAST_MAC) => {
    const f = new Uint8Array(14 + 28);
    f.set(dst, 0);
    f.set(peer.mac, 6);
    f[12] = 0x08;
    f[13] = 0x06;
    emitArp(r, f.subarray(14));
    peer.write(f);
  };
  const settle = () => sw.settle();
  // Time passes only for the stack's timers; frames are delivered by the switch in between.
  const advance = async (ms: number) => {
    clock.advance(ms);
    await settle();
  };
  return { sw, clock, eth, arp, peer, heard, frames, sendArp, settle, advance };
}

test("announces its address twice, 2 s apart, and answers requests for it", async () => {
  const t = await setup();
  t.arp.setIps(["192.0.2.2"]);
  await t.settle();
  assert.equal(t.heard.length, 1);
  assert.deepEqual([t.heard[0]!.op, t.heard[0]!.senderIp, t.heard[0]!.targetIp], [ARP_REQUEST, ip("192.0.2.2"), ip("192.0.2.2")]);
  await t.advance(1999);
  assert.equal(t.heard.length, 1);
  await t.advance(1);
  assert.equal(t.heard.length, 2);
  t.sendArp({ op: ARP_REQUEST, senderMac: t.peer.mac, senderIp: ip("192.0.2.9"), targetMac: ZERO_MAC, targetIp: ip("192.0.2.2") });
  await t.settle();
  const reply = t.heard[2]!;
  assert.equal(reply.op, ARP_REPLY);
  assert.equal(formatMac(reply.senderMac), "02:00:00:00:00:01");
  assert.equal(reply.targetIp, ip("192.0.2.9"));
  // It learnt the requester on the way (RFC 826), and ignores requests for other addresses.
  assert.equal(formatMac(t.arp.lookup(ip("192.0.2.9"))!), "02:00:00:00:00:99");
  t.sendArp({ op: ARP_REQUEST, senderMac: t.peer.mac, senderIp: ip("192.0.2.9"), targetMac: ZERO_MAC, targetIp: ip("192.0.2.3") });
  await t.settle();
  assert.equal(t.heard.length, 3);
  await t.arp.disconnect();
});

test("retries a query, then rejects with ArpError('timeout') and drops the queued packets, counted", async () => {
  const t = await setup({ requests: 3, requestIntervalMs: 1000, queueLimit: 2 });
  t.arp.setIps(["192.0.2.2"]);
  const q = t.arp.query("192.0.2.77");
  t.arp.sendWhenResolved(ip("192.0.2.77"), 0x0800, new Uint8Array(30));
  t.arp.sendWhenResolved(ip("192.0.2.77"), 0x0800, new Uint8Array(30));
  t.arp.sendWhenResolved(ip("192.0.2.77"), 0x0800, new Uint8Array(30));
  assert.equal(t.arp.counters.get("queue-full"), 1);
  const result: { error?: unknown } = {};
  q.catch((e: unknown) => (result.error = e));
  await t.advance(2999);
  assert.equal(result.error, undefined);
  assert.equal(t.heard.filter((r) => r.targetIp === ip("192.0.2.77")).length, 3);
  await t.advance(1);
  const error = result.error as unknown; // the callback set it after the check above
  assert.ok(error instanceof ArpError && error.code === "timeout", String(error));
  assert.match(error.message, /192\.0\.2\.77/);
  assert.equal(t.arp.counters.get("resolution-timeout"), 2);
  await t.arp.disconnect();
});

test("a reply releases the queued packets in order to the resolved MAC", async () => {
  const t = await setup();
  t.arp.setIps(["192.0.2.2"]);
  t.arp.sendWhenResolved(ip("192.0.2.9"), 0x0800, new Uint8Array([1, 1, 1]));
  t.arp.sendWhenResolved(ip("192.0.2.9"), 0x0800, new Uint8Array([2, 2, 2]));
  await t.settle();
  t.sendArp({ op: ARP_REPLY, senderMac: t.peer.mac, senderIp: ip("192.0.2.9"), targetMac: t.eth.mac, targetIp: ip("192.0.2.2") }, t.eth.mac);
  assert.equal(formatMac(await t.arp.query("192.0.2.9")), "02:00:00:00:00:99");
  await t.settle();
  const ipFrames = t.frames.filter((f) => f[12] === 0x08 && f[13] === 0x00);
  assert.deepEqual(ipFrames.map((f) => [formatMac(f.subarray(0, 6)), f[14]]), [["02:00:00:00:00:99", 1], ["02:00:00:00:00:99", 2]]);
  await t.arp.disconnect();
});

test("static entries win over the wire and never expire; learnt ones expire", async () => {
  const t = await setup({ entryTimeoutMs: 60_000 });
  t.arp.setIps(["192.0.2.2"]);
  t.arp.addStatic("192.0.2.1", mac(0x11));
  t.sendArp({ op: ARP_REQUEST, senderMac: t.peer.mac, senderIp: ip("192.0.2.1"), targetMac: ZERO_MAC, targetIp: ip("192.0.2.2") });
  t.sendArp({ op: ARP_REQUEST, senderMac: t.peer.mac, senderIp: ip("192.0.2.5"), targetMac: ZERO_MAC, targetIp: ip("192.0.2.2") });
  await t.settle();
  assert.equal(formatMac(t.arp.lookup(ip("192.0.2.1"))!), "02:00:00:00:00:11");
  assert.ok(t.arp.lookup(ip("192.0.2.5")));
  await t.advance(60_000);
  assert.equal(t.arp.lookup(ip("192.0.2.5")), undefined);
  assert.equal(formatMac(t.arp.lookup(ip("192.0.2.1"))!), "02:00:00:00:00:11");
  await t.arp.disconnect();
});

test("the cache is bounded and evicts the least recently used entry", async () => {
  const t = await setup({ cacheSize: 3 });
  t.arp.setIps(["192.0.2.2"]);
  const learn = async (n: number) => {
    t.sendArp({ op: ARP_REQUEST, senderMac: mac(n), senderIp: ip(`192.0.2.${n}`), targetMac: ZERO_MAC, targetIp: ip("192.0.2.2") });
    await t.settle();
  };
  await learn(10);
  await learn(11);
  await learn(12);
  assert.ok(t.arp.lookup(ip("192.0.2.10"))); // 10 is now more recent than 11
  await learn(13);
  assert.equal(t.arp.cacheSize(), 3);
  assert.equal(t.arp.lookup(ip("192.0.2.11")), undefined);
  assert.ok(t.arp.lookup(ip("192.0.2.10")) && t.arp.lookup(ip("192.0.2.12")) && t.arp.lookup(ip("192.0.2.13")));
  assert.equal(t.arp.counters.get("evicted"), 1);
  await t.arp.disconnect();
});

test("RFC 5227 probes: free when nobody answers, a conflict when someone does", async () => {
  const t = await setup({ probeWaitMs: 100, probeMinMs: 100, probeMaxMs: 200, probes: 3 });
  const free = t.arp.probe("192.0.2.40");
  for (let i = 0; i < 10; i++) await t.advance(100);
  assert.equal(await free, true);
  const probes = t.heard.filter((r) => r.targetIp === ip("192.0.2.40"));
  assert.equal(probes.length, 3);
  assert.ok(probes.every((r) => r.senderIp === 0 && r.op === ARP_REQUEST), "probes carry sender address 0.0.0.0");
  const taken = t.arp.probe("192.0.2.41");
  await t.advance(100);
  t.sendArp({ op: ARP_REPLY, senderMac: t.peer.mac, senderIp: ip("192.0.2.41"), targetMac: t.eth.mac, targetIp: 0 }, t.eth.mac);
  await t.settle();
  for (let i = 0; i < 10; i++) await t.advance(100);
  assert.equal(await taken, false);
  assert.equal(t.arp.counters.get("probe-conflict"), 1);
  await t.arp.disconnect();
});

test("malformed ARP packets are counted by reason and ignored", async () => {
  const t = await setup();
  t.arp.setIps(["192.0.2.2"]);
  const f = new Uint8Array(14 + 20);
  f.set(BROADCAST_MAC, 0);
  f[12] = 0x08;
  f[13] = 0x06;
  t.peer.write(f);
  const g = new Uint8Array(14 + 28);
  g.set(BROADCAST_MAC, 0);
  g[12] = 0x08;
  g[13] = 0x06;
  emitArp({ op: 7, senderMac: t.peer.mac, senderIp: 1, targetMac: ZERO_MAC, targetIp: ip("192.0.2.2") }, g.subarray(14));
  t.peer.write(g);
  await t.settle();
  assert.deepEqual([t.arp.counters.get("truncated"), t.arp.counters.get("bad-operation")], [1, 1]);
  await t.arp.disconnect();
});

test("an entry in use near expiry is re-validated by unicast and stays cached when answered", async () => {
  const t = await setup({ entryTimeoutMs: 60_000, requests: 3, requestIntervalMs: 1000 });
  t.arp.setIps(["192.0.2.2"]);
  const answer = () => t.sendArp({ op: ARP_REPLY, senderMac: t.peer.mac, senderIp: ip("192.0.2.9"), targetMac: t.eth.mac, targetIp: ip("192.0.2.2") }, t.eth.mac);
  t.sendArp({ op: ARP_REQUEST, senderMac: t.peer.mac, senderIp: ip("192.0.2.9"), targetMac: ZERO_MAC, targetIp: ip("192.0.2.2") });
  await t.settle();
  const before = t.frames.length;
  const toNine = (f: Uint8Array) => f[12] === 0x08 && f[13] === 0x06 && f[14 + 24] === 192 && f[14 + 27] === 9;
  await t.advance(56_000);
  assert.ok(t.arp.lookup(ip("192.0.2.9")));
  assert.equal(t.frames.slice(before).filter(toNine).length, 0, "no refresh while the entry is young");
  await t.advance(1_500);
  assert.ok(t.arp.lookup(ip("192.0.2.9")));
  await t.settle();
  const refresh = t.frames.slice(before).find(toNine);
  assert.ok(refresh, "a refresh request");
  assert.equal(formatMac(refresh.subarray(0, 6)), "02:00:00:00:00:99", "sent unicast to the known MAC");
  answer();
  await t.settle();
  await t.advance(50_000);
  assert.ok(t.arp.lookup(ip("192.0.2.9")), "the answer renewed the entry");
  await t.arp.disconnect();
});
