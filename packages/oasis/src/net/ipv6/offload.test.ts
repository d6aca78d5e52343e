// IPv6 over a device with offloads: requests passed to the device once the neighbour is known,
// done in software while neighbour discovery runs and on loopback, refused without offloads;
// checksumOk from the device reaches the transport layers.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { Net, NetOffload, RxOffload, TxOffload } from "../../devices/net.ts";
import { PROTO_TCP, PROTO_UDP } from "../../devices/ip.ts";
import { EthernetLayer } from "../ethernet/ethernet.ts";
import { MemorySwitch, type SwitchPort } from "../phy/switch.ts";
import { ManualClock } from "../stack/clock.ts";
import { UdpLayer } from "../udp/udp.ts";
import { foldSum } from "../wire/checksum.ts";
import { WireError } from "../wire/error.ts";
import { finishPartialChecksum, segmentTcpPacket } from "../wire/gso.ts";
import { ipv6PseudoSum } from "../wire/ipv6.ts";
import { ACK, FIN, PSH, emitTcpHeader, emptyTcpRepr, parseTcp } from "../wire/tcp.ts";
import { emitUdpHeader } from "../wire/udp.ts";
import { Ipv6Layer } from "./ipv6.ts";
import { addr, advance, decode, mac, noJitter, RawHost, type Decoded } from "./test-support.ts";
import { pattern as data } from "../tcp/test-support.ts";

const OFFLOAD: NetOffload = { checksum: true, segmentation: true, maxFrame: 65550 };
const US = "2001:db8::2";
const PEER = "2001:db8::99";
const PEER_MAC = mac("02:00:00:00:00:99");

interface Requests {
  list: { length: number; offload: TxOffload | undefined }[];
}

/** A switch port with offloads: records requests and does them as a NIC would (finishes checksums, cuts TSO writes). */
function device(port: SwitchPort, offload: NetOffload | null, rx?: RxOffload): { net: Net; requests: Requests; handler: () => ((f: Uint8Array, o?: RxOffload) => void) | null } {
  const requests: Requests = { list: [] };
  let h: ((f: Uint8Array, o?: RxOffload) => void) | null = null;
  const net: Net = {
    mac: port.mac,
    mtu: port.mtu,
    ...(offload ? { offload } : {}),
    write(frame: Uint8Array, tx?: TxOffload): void {
      requests.list.push({ length: frame.length, offload: tx ? { ...tx } : undefined });
      if (tx && tx.checksumStart > 0 && tx.segmentSize === 0) {
        const f = frame.slice();
        finishPartialChecksum(f, tx.checksumStart, tx.checksumOffset);
        return port.write(f);
      }
      if (tx && tx.segmentSize > 0) {
        segmentTcpPacket(frame.subarray(14), tx.segmentSize, (p) => {
          const f = new Uint8Array(14 + p.length);
          f.set(frame.subarray(0, 14));
          f.set(p, 14);
          port.write(f);
        });
        return;
      }
      port.write(frame);
    },
    listen(handler) {
      h = handler;
      port.listen((f) => handler(f, rx));
    },
    stats: () => port.stats(),
    resetStats: () => port.resetStats(),
    disconnect: () => port.disconnect(),
  };
  return { net, requests, handler: () => h };
}

async function setup(offload: NetOffload | null = OFFLOAD) {
  const sw = new MemorySwitch();
  const clock = new ManualClock();
  const raw = new RawHost(sw, PEER_MAC, addr(PEER));
  const dev = device(sw.port({ mac: "02:00:00:00:00:02" }), offload);
  const ethernet = new EthernetLayer(dev.net);
  const ipv6 = new Ipv6Layer(ethernet, { clock, randomInt: noJitter, cidr: `${US}/64`, dadTransmits: 0, acceptRouterAdvertisements: false, mld: false });
  await advance(sw, clock, 1100); // the static address becomes usable
  dev.requests.list.length = 0;
  raw.seen.length = 0;
  return { sw, clock, raw, dev, ethernet, ipv6 };
}

function partialTcp(n: number, src = US, dst = PEER, flags = ACK | PSH | FIN): Uint8Array {
  const seg = new Uint8Array(20 + n);
  emitTcpHeader({ ...emptyTcpRepr(), srcPort: 40000, dstPort: 80, seq: 100, ack: 9, flags, window: 1000 }, seg);
  seg.set(data(n, n + 1), 20);
  const p = foldSum(ipv6PseudoSum(addr(src), addr(dst), PROTO_TCP, seg.length));
  seg[16] = p >>> 8;
  seg[17] = p;
  return seg;
}

/** TCP segments the raw host received, each checked: wire-sized, valid checksum. */
function tcpSeen(raw: RawHost) {
  return raw.seen
    .filter((d: Decoded) => d.ip.protocol === PROTO_TCP)
    .map((d) => {
      assert.ok(d.frame.length <= 1514, `wire-sized frame (${d.frame.length})`);
      const payload = d.frame.subarray(14 + d.ip.payloadAt, 14 + d.ip.end);
      const t = parseTcp(payload, ipv6PseudoSum(d.src, d.dst, PROTO_TCP, payload.length));
      assert.ok(!(t instanceof WireError), `TCP: ${String(t)}`);
      return t;
    });
}

test("capabilities and a clear RangeError without offloads", async () => {
  const { ipv6 } = await setup();
  assert.deepEqual(ipv6.offload, { checksum: true, segmentation: true, maxSegmented: 65550 - 14 - 40 });
  const none = await setup(null);
  assert.equal(none.ipv6.offload, undefined);
  assert.throws(() => none.ipv6.write(PEER, PROTO_TCP, partialTcp(100), { partialChecksumAt: 16 }), (e) => e instanceof RangeError && /offload/.test(e.message));
  assert.throws(() => none.ipv6.write(PEER, PROTO_TCP, partialTcp(5000), { partialChecksumAt: 16, segmentSize: 1000 }), (e) => e instanceof RangeError && /offload/.test(e.message));
  const csumOnly = await setup({ checksum: true, segmentation: false, maxFrame: 1514 });
  assert.throws(() => csumOnly.ipv6.write(PEER, PROTO_TCP, partialTcp(5000), { partialChecksumAt: 16, segmentSize: 1000 }), RangeError);
  assert.throws(() => ipv6.write(PEER, PROTO_TCP, partialTcp(5000), { segmentSize: 1000 }), RangeError);
  assert.equal(none.dev.requests.list.length + csumOnly.dev.requests.list.length, 0, "nothing sent");
  await Promise.all([ipv6.disconnect(), none.ipv6.disconnect(), csumOnly.ipv6.disconnect()]);
});

test("during neighbour discovery, an offload request waits with its packet and goes to the device once the neighbour answers", async () => {
  const { sw, clock, raw, dev, ipv6 } = await setup();
  const seg = partialTcp(10 * 1000 + 1);
  ipv6.write(PEER, PROTO_TCP, seg, { partialChecksumAt: 16, segmentSize: 1000 });
  ipv6.write(PEER, PROTO_TCP, partialTcp(200, US, PEER, ACK), { partialChecksumAt: 16, segmentSize: 1000 });
  assert.ok(dev.requests.list.every((r) => r.offload === undefined), "only neighbour solicitations while waiting");
  await advance(sw, clock, 100);
  // One write per datagram, offsets past the Ethernet and IPv6 headers; the small one is not to be cut.
  assert.deepEqual(
    dev.requests.list.filter((r) => r.offload !== undefined),
    [
      { length: 14 + 40 + seg.length, offload: { checksumStart: 54, checksumOffset: 16, segmentSize: 1000 } },
      { length: 14 + 40 + 220, offload: { checksumStart: 54, checksumOffset: 16, segmentSize: 0 } },
    ],
  );
  const t = tcpSeen(raw);
  assert.equal(t.length, 11 + 1);
  assert.deepEqual(new Uint8Array(Buffer.concat(t.slice(0, 11).map((x) => x.payload))), seg.subarray(20));
  t.slice(0, 11).forEach((x, i) => {
    assert.equal(x.seq, 100 + i * 1000);
    assert.equal(x.flags, i === 10 ? ACK | PSH | FIN : ACK);
  });
  assert.equal(t[11]!.payload.length, 200);
  // Known now: the same requests go straight to the device.
  dev.requests.list.length = 0;
  ipv6.write(PEER, PROTO_TCP, seg, { partialChecksumAt: 16, segmentSize: 1000 });
  ipv6.write(PEER, PROTO_TCP, partialTcp(300), { partialChecksumAt: 16, segmentSize: 1000 });
  assert.deepEqual(dev.requests.list, [
    { length: 14 + 40 + seg.length, offload: { checksumStart: 54, checksumOffset: 16, segmentSize: 1000 } },
    { length: 14 + 40 + 320, offload: { checksumStart: 54, checksumOffset: 16, segmentSize: 0 } },
  ]);
  await advance(sw, clock, 10);
  assert.equal(tcpSeen(raw).length, 12 + 11 + 1);
  await ipv6.disconnect();
});

test("during neighbour discovery, a full 64 KB segmentation request survives the neighbour queue", async () => {
  const { sw, clock, raw, ipv6 } = await setup();
  const seg = partialTcp(45 * 1400);
  ipv6.write(PEER, PROTO_TCP, seg, { partialChecksumAt: 16, segmentSize: 1400 });
  await advance(sw, clock, 100);
  const t = tcpSeen(raw);
  await ipv6.disconnect();
  assert.equal(ipv6.counters.get("neighbour-queue-full"), 0);
  assert.equal(t.length, 45, `${t.length} of 45 segments sent, the first from sequence ${t[0]?.seq}`);
  assert.deepEqual(new Uint8Array(Buffer.concat(t.map((x) => x.payload))), seg.subarray(20));
});

test("loopback to our own address finishes the partial checksum", async () => {
  const { ipv6, dev } = await setup();
  const got: { payload: Uint8Array; ok: boolean | undefined }[] = [];
  ipv6.listen(PROTO_TCP, (_s, _d, payload, ok) => got.push({ payload: payload.slice(), ok }));
  const small = partialTcp(100, US, US);
  const big = partialTcp(5000, US, US);
  ipv6.write(US, PROTO_TCP, small, { partialChecksumAt: 16 });
  ipv6.write(US, PROTO_TCP, big, { partialChecksumAt: 16, segmentSize: 1000 });
  await new Promise((r) => setImmediate(r));
  assert.equal(dev.requests.list.filter((r) => r.offload !== undefined).length, 0);
  assert.equal(got.length, 2);
  got.forEach((g, i) => {
    assert.notEqual(g.ok, true);
    const t = parseTcp(g.payload, ipv6PseudoSum(addr(US), addr(US), PROTO_TCP, g.payload.length));
    assert.ok(!(t instanceof WireError), String(t));
    assert.deepEqual(g.payload.subarray(20), (i === 0 ? small : big).subarray(20));
  });
  await ipv6.disconnect();
});

test("UDP over IPv6: a bad checksum is dropped unless the device vouched for the frame", async () => {
  for (const vouched of [false, true]) {
    const sw = new MemorySwitch();
    const clock = new ManualClock();
    const raw = new RawHost(sw, PEER_MAC, addr(PEER));
    const dev = device(sw.port({ mac: "02:00:00:00:00:02" }), OFFLOAD, { checksumOk: vouched, segmentSize: 0 });
    const ipv6 = new Ipv6Layer(new EthernetLayer(dev.net), { clock, randomInt: noJitter, cidr: `${US}/64`, dadTransmits: 0, acceptRouterAdvertisements: false, mld: false });
    await advance(sw, clock, 1100);
    const udp = new UdpLayer(ipv6);
    const got: Uint8Array[] = [];
    udp.listen(9, (d) => got.push(d.data.slice()));
    const body = data(64, 3);
    const u = new Uint8Array(8 + body.length);
    emitUdpHeader(u, 0, 5353, 9, body, ipv6PseudoSum(addr(PEER), addr(US), PROTO_UDP, u.length));
    u.set(body, 8);
    u[20] ^= 0x10; // corrupt the data after the checksum was computed
    raw.send(mac("02:00:00:00:00:02"), addr(PEER), addr(US), PROTO_UDP, u);
    await sw.settle();
    assert.equal(got.length, vouched ? 1 : 0, vouched ? "vouched: delivered" : "not vouched: dropped");
    assert.equal(udp.counters.get("bad-checksum"), vouched ? 0 : 1);
    await ipv6.disconnect();
  }
});
