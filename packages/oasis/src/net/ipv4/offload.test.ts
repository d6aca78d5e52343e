// IPv4 over a device with offloads: checksum and segmentation requests passed to the device (also
// for a datagram that waited for ARP), done in software when the datagram cannot go to the device
// (loopback, fragmentation), refused on a layer without offloads; received frames the device
// vouched for skip transport checksum verification, and only they do.
import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import type { Net, NetOffload, NetStats, RxOffload, TxOffload } from "../../devices/net.ts";
import { PROTO_TCP, PROTO_UDP } from "../../devices/ip.ts";
import { ipv4Stack } from "../stack/direct.ts";
import { Ipv4v6Layer } from "../stack/ipv4v6.ts";
import { foldSum, ipv4PseudoSum, onesSum } from "../wire/checksum.ts";
import { WireError } from "../wire/error.ts";
import { segmentTcpPacket } from "../wire/gso.ts";
import { parseIpv4 } from "../wire/ipv4.ts";
import { ACK, FIN, PSH, emitTcpHeader, emptyTcpRepr, parseTcp, setTcpChecksum } from "../wire/tcp.ts";
import { emitUdpHeader } from "../wire/udp.ts";
import { createTcp, type TcpStack } from "../tcp/index.ts";
import { pattern as data, RecordingNet } from "../tcp/test-support.ts";

const OFFLOAD: NetOffload = { checksum: true, segmentation: true, maxFrame: 65550 };
const US = "192.0.2.2";
const PEER = "192.0.2.3";
const PEER_MAC = new Uint8Array([2, 0, 0, 0, 0, 3]);
const ip4 = (s: string) => s.split(".").reduce((a, b) => a * 256 + Number(b), 0);

/** A TCP segment (header and data) from US to PEER whose checksum field holds the pseudo-header sum. */
function partialTcp(n: number, flags = ACK | PSH | FIN, src = US, dst = PEER): Uint8Array {
  const seg = new Uint8Array(20 + n);
  emitTcpHeader({ ...emptyTcpRepr(), srcPort: 40000, dstPort: 80, seq: 7, ack: 9, flags, window: 1000 }, seg);
  seg.set(data(n, n + 3), 20);
  const p = foldSum(ipv4PseudoSum(ip4(src), ip4(dst), PROTO_TCP, seg.length));
  seg[16] = p >>> 8;
  seg[17] = p;
  return seg;
}

/** Parses an IPv4 frame from the device, asserting lengths and both checksums; returns the IP and TCP fields. */
function checkFrame(frame: Uint8Array, maxFrame = 1514) {
  assert.ok(frame.length <= maxFrame, `a wire-sized frame (${frame.length} bytes)`);
  const ip = parseIpv4(frame.subarray(14));
  assert.ok(!(ip instanceof WireError), `IPv4: ${String(ip)}`);
  assert.equal(14 + ip.headerLength + ip.payloadLength, frame.length);
  const tcp = parseTcp(ip.payload, ipv4PseudoSum(ip.src, ip.dst, PROTO_TCP, ip.payload.length));
  assert.ok(!(tcp instanceof WireError), `TCP: ${String(tcp)}`);
  return { ip, tcp };
}

const open: { stack: { disconnect(): Promise<void> } }[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.stack.disconnect();
});

/** Our host over a RecordingNet with `offload` (null: none); disconnected after the test. */
function host(offload: NetOffload | null = OFFLOAD) {
  const net = new RecordingNet(offload ?? undefined);
  const layers = ipv4Stack(net, { cidr: `${US}/24` });
  open.push(layers);
  return { net, ...layers };
}

test("capabilities: Ip.offload follows the device; Ipv4v6Layer takes what both families have", () => {
  const full = host();
  assert.deepEqual(full.ipv4.offload, { checksum: true, segmentation: true, maxSegmented: 65535 - 20 });
  assert.deepEqual(full.ip.offload, full.ipv4.offload);
  assert.equal(host(null).ipv4.offload, undefined);
  assert.equal(host(null).ip.offload, undefined);
  const small = host({ checksum: true, segmentation: true, maxFrame: 9014 });
  assert.equal(small.ipv4.offload?.maxSegmented, 9000 - 20);
  const csumOnly = host({ checksum: true, segmentation: false, maxFrame: 1514 });
  assert.deepEqual(csumOnly.ipv4.offload, { checksum: true, segmentation: false, maxSegmented: 0 });
  // A device that offers segmentation without checksums offers nothing usable.
  assert.equal(host({ checksum: false, segmentation: true, maxFrame: 65550 }).ipv4.offload, undefined);
  const both = new Ipv4v6Layer(full.ipv4, small.ipv4);
  assert.deepEqual(both.offload, { checksum: true, segmentation: true, maxSegmented: 9000 - 20 });
  assert.equal(new Ipv4v6Layer(full.ipv4, host(null).ipv4).offload, undefined);
});

test("a request for offloads on a layer without them throws a clear RangeError", () => {
  const { ipv4, ip, arp, net } = host(null);
  arp.addStatic(PEER, PEER_MAC);
  const seg = partialTcp(100);
  for (const layer of [ipv4, ip]) {
    assert.throws(() => layer.write(PEER, PROTO_TCP, seg, { partialChecksumAt: 16 }), (e) => e instanceof RangeError && /offload/.test(e.message));
    assert.throws(() => layer.write(PEER, PROTO_TCP, seg, { partialChecksumAt: 16, segmentSize: 50 }), (e) => e instanceof RangeError && /offload/.test(e.message));
  }
  assert.equal(net.takeIpv4().length, 0, "nothing was sent");
  // Checksum offload only: a segmentation request is refused, a checksum request is not.
  const c = host({ checksum: true, segmentation: false, maxFrame: 1514 });
  c.arp.addStatic(PEER, PEER_MAC);
  assert.throws(() => c.ipv4.write(PEER, PROTO_TCP, partialTcp(3000), { partialChecksumAt: 16, segmentSize: 1000 }), (e) => e instanceof RangeError && /segment/.test(e.message));
  c.ipv4.write(PEER, PROTO_TCP, partialTcp(100), { partialChecksumAt: 16 });
  assert.equal(c.net.takeIpv4().length, 1);
  // Malformed requests on a layer with offloads.
  const h = host();
  h.arp.addStatic(PEER, PEER_MAC);
  assert.throws(() => h.ipv4.write(PEER, PROTO_TCP, seg, { segmentSize: 50 }), RangeError, "segmentation needs a partial checksum");
  assert.throws(() => h.ipv4.write(PEER, PROTO_TCP, seg, { partialChecksumAt: seg.length - 1 }), RangeError, "checksum field outside the payload");
  assert.throws(() => h.ipv4.write(PEER, PROTO_TCP, seg, { partialChecksumAt: 16, segmentSize: 10.5 }), RangeError);
  assert.throws(() => host({ checksum: true, segmentation: true, maxFrame: 9014 }).ipv4.write(PEER, PROTO_TCP, partialTcp(10_000), { partialChecksumAt: 16, segmentSize: 1000 }), RangeError, "beyond maxSegmented");
  assert.equal(h.net.takeIpv4().length, 0);
});

test("with the MAC known, requests go to the device: offsets past the Ethernet header, segmentation only when oversize", () => {
  const { ipv4, arp, net } = host();
  arp.addStatic(PEER, PEER_MAC);
  net.takeIpv4();
  ipv4.write(PEER, PROTO_TCP, partialTcp(10_000), { partialChecksumAt: 16, segmentSize: 1000 });
  ipv4.write(PEER, PROTO_TCP, partialTcp(500), { partialChecksumAt: 16, segmentSize: 1000 });
  ipv4.write(PEER, PROTO_TCP, [partialTcp(100).subarray(0, 20), partialTcp(100).subarray(20)], { partialChecksumAt: 16 });
  const w = net.takeIpv4();
  assert.equal(w.length, 3);
  assert.deepEqual(w[0]!.offload, { checksumStart: 34, checksumOffset: 16, segmentSize: 1000 });
  assert.equal(w[0]!.frame.length, 14 + 20 + 20 + 10_000, "one frame of the whole datagram");
  assert.deepEqual(w[1]!.offload, { checksumStart: 34, checksumOffset: 16, segmentSize: 0 }, "a datagram that fits the MTU is not to be cut");
  assert.deepEqual(w[2]!.offload, { checksumStart: 34, checksumOffset: 16, segmentSize: 0 });
  // Finished as the device would (sum from checksumStart, store at checksumOffset), each is valid.
  for (const x of w) checkFrameFinishing(x, 65550);
  // Plain writes carry no request.
  ipv4.write(PEER, PROTO_UDP, new Uint8Array(20));
  assert.equal(net.takeIpv4()[0]!.offload, undefined);
});

test("behind ARP, a segmentation request waits whole and leaves with its offload request once ARP resolves", () => {
  const { ipv4, arp, net } = host();
  const seg = partialTcp(20 * 1400 + 123);
  ipv4.write(PEER, PROTO_TCP, seg, { partialChecksumAt: 16, segmentSize: 1400 });
  // A small datagram with a partial checksum waits too, and leaves for the device to finish.
  ipv4.write(PEER, PROTO_TCP, partialTcp(300, ACK), { partialChecksumAt: 16, segmentSize: 1400 });
  assert.equal(net.takeIpv4().length, 0, "nothing leaves before ARP resolves");
  arp.addStatic(PEER, PEER_MAC);
  const w = net.takeIpv4();
  assert.equal(w.length, 2, "one queued packet per write, not one per segment");
  assert.deepEqual(w[0]!.offload, { checksumStart: 34, checksumOffset: 16, segmentSize: 1400 });
  assert.deepEqual(w[1]!.offload, { checksumStart: 34, checksumOffset: 16, segmentSize: 0 }, "a datagram that fits one frame is not segmented");
  // What the device makes of it: valid MTU-sized segments carrying the data in order.
  const segments: Uint8Array[] = [];
  segmentTcpPacket(w[0]!.frame.subarray(14), 1400, (p) => segments.push(p));
  const checked = segments.map((p) => {
    const f = new Uint8Array(14 + p.length);
    f.set(w[0]!.frame.subarray(0, 14));
    f.set(p, 14);
    assert.deepEqual(f.subarray(0, 6), PEER_MAC);
    return checkFrame(f);
  });
  assert.equal(checked.length, 21);
  assert.deepEqual(new Uint8Array(Buffer.concat(checked.map((c) => c.tcp.payload))), seg.subarray(20));
  checked.forEach((c, i) => {
    assert.equal(c.tcp.seq, 7 + i * 1400);
    assert.equal(c.tcp.flags, i === 20 ? ACK | PSH | FIN : ACK);
  });
});

test("behind ARP, a full 64 KB segmentation request survives the ARP queue", () => {
  const { ipv4, arp, net } = host();
  const seg = partialTcp(45 * 1448);
  ipv4.write(PEER, PROTO_TCP, seg, { partialChecksumAt: 16, segmentSize: 1448 });
  arp.addStatic(PEER, PEER_MAC);
  const w = net.takeIpv4();
  assert.equal(arp.counters.get("queue-full"), 0, `${arp.counters.get("queue-full")} packets dropped as queue-full`);
  assert.equal(w.length, 1);
  assert.equal(w[0]!.frame.length, 14 + 20 + seg.length);
  assert.equal(w[0]!.offload?.segmentSize, 1448);
});

test("behind ARP, an oversize datagram with a partial checksum is finished, then fragmented", () => {
  const { ipv4, arp, net } = host();
  // UDP: 3000 bytes, checksum field (offset 6) holding the pseudo-header sum.
  const body = data(3000, 5);
  const udp = new Uint8Array(8 + body.length);
  emitUdpHeader(udp, 0, 5000, 53, body, null);
  udp.set(body, 8);
  const p = foldSum(ipv4PseudoSum(ip4(US), ip4(PEER), PROTO_UDP, udp.length));
  udp[6] = p >>> 8;
  udp[7] = p;
  ipv4.write(PEER, PROTO_UDP, udp, { partialChecksumAt: 6 });
  arp.addStatic(PEER, PEER_MAC);
  const frags = net.takeIpv4().map((w) => {
    assert.equal(w.offload, undefined);
    const ip = parseIpv4(w.frame.subarray(14));
    assert.ok(!(ip instanceof WireError));
    return ip;
  });
  assert.ok(frags.length >= 3);
  const whole = new Uint8Array(Buffer.concat(frags.sort((a, b) => a.fragmentOffset - b.fragmentOffset).map((f) => f.payload)));
  assert.equal(whole.length, udp.length);
  assert.equal(onesSum(whole, 0, whole.length, ipv4PseudoSum(ip4(US), ip4(PEER), PROTO_UDP, whole.length)) % 0xffff, 0, "the reassembled UDP checksum is valid");
  const expected = udp.slice();
  emitUdpHeader(expected, 0, 5000, 53, body, ipv4PseudoSum(ip4(US), ip4(PEER), PROTO_UDP, udp.length));
  assert.deepEqual(whole, expected);
});

test("an oversize partial-checksum datagram to a known MAC is fragmented with the checksum finished", () => {
  const { ipv4, arp, net } = host();
  arp.addStatic(PEER, PEER_MAC);
  net.takeIpv4();
  const seg = partialTcp(4000);
  ipv4.write(PEER, PROTO_TCP, seg, { partialChecksumAt: 16 }); // no segmentSize: fragments
  const frags = net.takeIpv4().map((w) => {
    assert.equal(w.offload, undefined, "fragments carry no request");
    const ip = parseIpv4(w.frame.subarray(14));
    assert.ok(!(ip instanceof WireError));
    return ip;
  });
  assert.ok(frags.length >= 3);
  const whole = new Uint8Array(Buffer.concat(frags.sort((a, b) => a.fragmentOffset - b.fragmentOffset).map((f) => f.payload)));
  assert.ok(!(parseTcp(whole, ipv4PseudoSum(ip4(US), ip4(PEER), PROTO_TCP, whole.length)) instanceof WireError), "valid TCP checksum after reassembly");
  assert.deepEqual(whole.subarray(20), seg.subarray(20));
});

test("loopback to our own address finishes the partial checksum (with or without a segmentation request)", async () => {
  const { ipv4, net } = host();
  const got: { payload: Uint8Array; checksumOk: boolean | undefined }[] = [];
  ipv4.listen(PROTO_TCP, (_s, _d, payload, checksumOk) => got.push({ payload: payload.slice(), checksumOk }));
  const small = partialTcp(200, ACK, US, US);
  const big = partialTcp(10_000, ACK, US, US);
  ipv4.write(US, PROTO_TCP, small, { partialChecksumAt: 16 });
  ipv4.write(US, PROTO_TCP, big, { partialChecksumAt: 16, segmentSize: 1000 });
  await new Promise((r) => setImmediate(r));
  assert.equal(net.takeIpv4().length, 0, "nothing goes to the device");
  assert.equal(got.length, 2);
  for (const [i, g] of got.entries()) {
    assert.notEqual(g.checksumOk, true, "a loopback delivery vouches for nothing");
    const t = parseTcp(g.payload, ipv4PseudoSum(ip4(US), ip4(US), PROTO_TCP, g.payload.length));
    assert.ok(!(t instanceof WireError), `loopback ${i}: ${String(t)}`);
    assert.deepEqual(g.payload.subarray(20), (i === 0 ? small : big).subarray(20));
  }
});

// ---- receive --------------------------------------------------------------------------------

/** A frame from PEER to US with IPv4 around `transport`. */
function frameFromPeer(net: RecordingNet, proto: number, transport: Uint8Array, options: { id?: number; flagsAndOffset?: number; totalPayload?: number } = {}): Uint8Array {
  const f = new Uint8Array(14 + 20 + transport.length);
  f.set(net.mac, 0);
  f.set(PEER_MAC, 6);
  f[12] = 0x08;
  f[13] = 0x00;
  const h = f.subarray(14);
  h[0] = 0x45;
  const total = 20 + transport.length;
  h[2] = total >>> 8;
  h[3] = total;
  h[4] = (options.id ?? 1) >>> 8;
  h[5] = options.id ?? 1;
  h[6] = (options.flagsAndOffset ?? 0) >>> 8;
  h[7] = options.flagsAndOffset ?? 0;
  h[8] = 64;
  h[9] = proto;
  h.set([192, 0, 2, 3, 192, 0, 2, 2], 12);
  const c = ~foldSum(onesSum(h, 0, 20)) & 0xffff;
  h[10] = c >>> 8;
  h[11] = c;
  h.set(transport, 20);
  return f;
}

function udpFromPeer(body: Uint8Array, corrupt: boolean): Uint8Array {
  const u = new Uint8Array(8 + body.length);
  emitUdpHeader(u, 0, 5353, 9, body, ipv4PseudoSum(ip4(PEER), ip4(US), PROTO_UDP, u.length));
  u.set(body, 8);
  if (corrupt) u[8] ^= 0x01; // the data no longer matches the checksum
  return u;
}

test("UDP: a bad checksum is dropped, unless the device vouched for the frame", () => {
  const { net, udp } = host();
  const got: Uint8Array[] = [];
  udp.listen(9, (d) => got.push(d.data.slice()));
  const bad = frameFromPeer(net, PROTO_UDP, udpFromPeer(data(100, 1), true));
  net.deliver(bad);
  net.deliver(bad, { checksumOk: false, segmentSize: 0 });
  assert.equal(got.length, 0);
  assert.equal(udp.counters.get("bad-checksum"), 2);
  net.deliver(bad, { checksumOk: true, segmentSize: 0 });
  assert.equal(got.length, 1, "the vouched-for frame is delivered");
  assert.equal(udp.counters.get("bad-checksum"), 2);
  // A good frame goes through either way.
  net.deliver(frameFromPeer(net, PROTO_UDP, udpFromPeer(data(100, 2), false)));
  assert.equal(got.length, 2);
});

test("TCP: a SYN with a bad checksum is dropped, unless the device vouched for the frame", async () => {
  const net = new RecordingNet(OFFLOAD);
  let tcp!: TcpStack;
  const s = ipv4Stack(net, { cidr: `${US}/24`, tcp: (ip) => (tcp = createTcp(ip)) });
  open.push({ stack: { disconnect: async () => tcp.disconnect() } }, s);
  s.arp.addStatic(PEER, PEER_MAC);
  tcp.listen(80, async (flow) => {
    await flow.close();
  });
  const syn = new Uint8Array(20);
  emitTcpHeader({ ...emptyTcpRepr(), srcPort: 33333, dstPort: 80, seq: 1000, flags: 0x02, window: 65535 }, syn);
  setTcpChecksum(syn, 20, [], ipv4PseudoSum(ip4(PEER), ip4(US), PROTO_TCP, 20));
  syn[17] ^= 0x40; // wrong checksum
  const frame = frameFromPeer(net, PROTO_TCP, syn);
  net.takeIpv4();
  net.deliver(frame);
  net.deliver(frame, { checksumOk: false, segmentSize: 0 });
  await new Promise((r) => setImmediate(r));
  assert.equal(net.takeIpv4().length, 0, "no SYN-ACK for an unvouched bad checksum");
  assert.equal(tcp.stats().drops["bad-checksum"], 2);
  net.deliver(frame, { checksumOk: true, segmentSize: 0 });
  await new Promise((r) => setImmediate(r));
  const out = net.takeIpv4();
  assert.equal(out.length, 1);
  const { tcp: synAck } = checkFrameFinishing(out[0]!);
  assert.equal(synAck.flags, 0x12, "SYN-ACK");
  assert.equal(synAck.ack, 1001);
});

/** A frame the device was asked to finish: finish it as the device would, then check it. */
function checkFrameFinishing(w: { frame: Uint8Array; offload: TxOffload | undefined }, maxFrame = 1514) {
  const f = w.frame.slice();
  if (w.offload && w.offload.checksumStart > 0) {
    const at = w.offload.checksumStart + w.offload.checksumOffset;
    const c = ~foldSum(onesSum(f, w.offload.checksumStart, f.length, 0)) & 0xffff;
    f[at] = c >>> 8;
    f[at + 1] = c;
  }
  return checkFrame(f, maxFrame);
}

test("a reassembled datagram is never vouched for, even when each fragment was", () => {
  const { net, udp, ipv4 } = host();
  const got: Uint8Array[] = [];
  udp.listen(9, (d) => got.push(d.data.slice()));
  const whole = udpFromPeer(data(2000, 3), true);
  const first = whole.subarray(0, 1480);
  const second = whole.subarray(1480);
  net.deliver(frameFromPeer(net, PROTO_UDP, first, { id: 77, flagsAndOffset: 0x2000 }), { checksumOk: true, segmentSize: 0 });
  net.deliver(frameFromPeer(net, PROTO_UDP, second, { id: 77, flagsAndOffset: 1480 / 8 }), { checksumOk: true, segmentSize: 0 });
  assert.equal(ipv4.counters.get("bad-checksum"), 0);
  assert.equal(got.length, 0, "the corrupted reassembled datagram is not delivered");
  assert.equal(udp.counters.get("bad-checksum"), 1);
});

test("checksumOk vouches for the transport checksum only: a bad IPv4 header checksum is still dropped", () => {
  const { net, udp, ipv4 } = host();
  const got: Uint8Array[] = [];
  udp.listen(9, (d) => got.push(d.data.slice()));
  const frame = frameFromPeer(net, PROTO_UDP, udpFromPeer(data(50, 4), false));
  frame[14 + 8] = 63; // TTL changed after the header checksum was computed
  net.deliver(frame, { checksumOk: true, segmentSize: 0 });
  assert.equal(got.length, 0);
  assert.equal(ipv4.counters.get("bad-checksum"), 1);
});
