// Two dual stacks (IPv4 + IPv6 behind one Ip, UDP on top) on the in-memory switch: ping and UDP
// over IPv6, fragmentation both ways, ICMPv6 errors, path MTU, and hostile input.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { MemorySwitch } from "../phy/switch.ts";
import { ManualClock } from "../stack/clock.ts";
import { EthernetLayer } from "../ethernet/ethernet.ts";
import { ArpLayer } from "../arp/arp.ts";
import { Ipv4Layer } from "../ipv4/ipv4.ts";
import { Ipv4v6Layer } from "../stack/ipv4v6.ts";
import { UdpLayer } from "../udp/udp.ts";
import type { Datagram } from "../../devices/udp.ts";
import { IpError } from "../../devices/errors.ts";
import { PROTO_ICMPV6, PROTO_UDP } from "../../devices/ip.ts";
import { ETHERTYPE_IPV6 } from "../../devices/ethernet.ts";
import { emitUdp } from "../wire/udp.ts";
import { ETHERNET_HEADER_LENGTH } from "../wire/ethernet.ts";
import { IPV6_HEADER_LENGTH, ipv6PseudoSum, writeFragmentHeader, writeIpv6Header, NEXT_FRAGMENT } from "../wire/ipv6.ts";
import {
  ICMPV6_DEST_UNREACHABLE,
  ICMPV6_ECHO_REPLY,
  ICMPV6_ECHO_REQUEST,
  ICMPV6_PACKET_TOO_BIG,
  ICMPV6_PARAMETER_PROBLEM,
  ICMPV6_TIME_EXCEEDED,
  fillIcmpv6Checksum,
} from "../wire/icmpv6.ts";
import { Ipv6Layer } from "./ipv6.ts";
import { addr, advance, mac, noJitter, RawHost } from "./test-support.ts";

function dualStack(sw: MemorySwitch, clock: ManualClock, macText: string, v4: string, v6: string) {
  const port = sw.port({ mac: macText, name: macText });
  const ethernet = new EthernetLayer(port);
  const arp = new ArpLayer(ethernet, { clock });
  const ipv4 = new Ipv4Layer(ethernet, arp, { cidr: v4, clock });
  const ipv6 = new Ipv6Layer(ethernet, { cidr: v6, clock, randomInt: noJitter, acceptRouterAdvertisements: false });
  const ip = new Ipv4v6Layer(ipv4, ipv6);
  const udp = new UdpLayer(ip);
  return { port, ethernet, ipv4, ipv6, ip, udp };
}

async function setup() {
  const sw = new MemorySwitch();
  const clock = new ManualClock();
  const a = dualStack(sw, clock, "02:00:00:00:00:0a", "192.0.2.10/24", "2001:db8::a/64");
  const b = dualStack(sw, clock, "02:00:00:00:00:0b", "192.0.2.11/24", "2001:db8::b/64");
  const raw = new RawHost(sw, mac("02:00:00:00:00:99"), addr("2001:db8::99"));
  await advance(sw, clock, 2500);
  return { sw, clock, a, b, raw };
}

function echoRequest(id: number, seq: number, size: number): Uint8Array {
  const m = new Uint8Array(8 + size);
  m[0] = ICMPV6_ECHO_REQUEST;
  m[4] = id >> 8;
  m[5] = id;
  m[6] = seq >> 8;
  m[7] = seq;
  for (let i = 0; i < size; i++) m[8 + i] = i * 7;
  return m;
}

function collect(udp: UdpLayer, port: number): Datagram[] {
  const got: Datagram[] = [];
  udp.listen(port, (d) => got.push({ ...d, data: d.data.slice() }));
  return got;
}

test("ping over IPv6 between two stacks, small and fragmented, to unicast and all-nodes", async () => {
  const { sw, clock, a, b } = await setup();
  const replies: Uint8Array[] = [];
  a.ipv6.icmp.listen((src, _dst, m) => {
    if (m[0] === ICMPV6_ECHO_REPLY) replies.push(m.slice());
  });
  a.ipv6.icmp.write("2001:db8::b", echoRequest(7, 1, 56));
  a.ipv6.icmp.write("2001:db8::b", echoRequest(7, 2, 3000));
  a.ipv6.icmp.write("ff02::1", echoRequest(7, 3, 8));
  await advance(sw, clock, 100);
  const bySeq = replies.map((m) => [(m[6]! << 8) | m[7]!, m.length]).sort((x, y) => x[0]! - y[0]!);
  assert.deepEqual(bySeq, [
    [1, 64],
    [2, 3008],
    [3, 16],
  ]);
  const big = replies.find((m) => m[7] === 2)!;
  assert.deepEqual(big.subarray(8), echoRequest(7, 2, 3000).subarray(8));
  assert.equal(a.ipv6.counters.get("fragments-sent"), 3);
  assert.equal(b.ipv6.counters.get("reassembled"), 1);
  assert.equal(b.ipv6.counters.get("fragments-sent"), 3, "the reply is fragmented too");
  assert.equal(a.ipv6.counters.get("reassembled"), 1);
  assert.equal(b.ipv6.counters.get("echo-reply"), 3);
});

test("UDP over IPv6 through the dual-stack layer, next to IPv4, with fragments and the right addresses", async () => {
  const { sw, clock, a, b } = await setup();
  const atB = collect(b.udp, 7000);
  const atA = collect(a.udp, 5555);
  const big = new Uint8Array(5000).map((_, i) => i % 251);
  await a.udp.write("2001:db8::b", 7000, new TextEncoder().encode("hello v6"), { srcPort: 5555 });
  await a.udp.write("192.0.2.11", 7000, new TextEncoder().encode("hello v4"), { srcPort: 5555 });
  await a.udp.write("2001:db8::b", 7000, big, { srcPort: 5555 });
  await advance(sw, clock, 100);
  const key = (x: unknown[]) => JSON.stringify(x);
  assert.deepEqual(
    atB.map((d) => [d.src, d.dst, d.srcPort, d.dstPort, d.data.length]).sort((x, y) => key(x).localeCompare(key(y))),
    [
      ["192.0.2.10", "192.0.2.11", 5555, 7000, 8],
      ["2001:db8::a", "2001:db8::b", 5555, 7000, 5000],
      ["2001:db8::a", "2001:db8::b", 5555, 7000, 8],
    ],
  );
  assert.deepEqual(atB.find((d) => d.data.length === 5000)!.data, big);
  const v6 = atB.find((d) => d.src.includes(":"))!;
  await b.udp.write(v6.src, v6.srcPort, v6.data, { srcPort: 7000 });
  await advance(sw, clock, 10);
  assert.equal(atA.length, 1);
  assert.equal(atA[0]!.src, "2001:db8::b");
  assert.equal(a.ip.mtu("2001:db8::b"), 1460);
  assert.throws(() => a.ipv6.write("2001:db8::b", PROTO_UDP, new Uint8Array(2000), { fragment: false }), (e: unknown) => e instanceof IpError && e.code === "would-fragment");
  for (const bad of ["::", "::1"]) assert.throws(() => a.ipv6.write(bad, PROTO_UDP, new Uint8Array(8)), (e: unknown) => e instanceof IpError && e.code === "invalid-address");
  assert.throws(() => a.ipv6.write("2001:db8::zz", PROTO_UDP, new Uint8Array(8)), /is not an IPv6 address/);
  assert.throws(() => a.ipv6.write("192.0.2.11", PROTO_UDP, new Uint8Array(8)), /this IP layer is IPv6 only/);
});

test("closed UDP ports get ICMPv6 port unreachable (rate limited); unknown next headers a parameter problem", async () => {
  const { sw, clock, a, b } = await setup();
  const errors: number[][] = [];
  a.ipv6.icmp.listen((_s, _d, m) => {
    if (m[0]! < 128) errors.push([m[0]!, m[1]!, (m[4]! << 24) | (m[5]! << 16) | (m[6]! << 8) | m[7]!]);
  });
  await a.udp.write("2001:db8::b", 9, new Uint8Array([1]));
  a.ipv6.write("2001:db8::b", 253, new Uint8Array(8));
  await advance(sw, clock, 10);
  assert.deepEqual(errors, [
    [ICMPV6_DEST_UNREACHABLE, 4, 0],
    [ICMPV6_PARAMETER_PROBLEM, 1, 6],
  ]);
  for (let i = 0; i < 50; i++) await a.udp.write("2001:db8::b", 9, new Uint8Array([1]));
  await advance(sw, clock, 10);
  assert.ok(b.ipv6.counters.get("icmp-error-rate-limited") >= 25, JSON.stringify(b.ipv6.counters.snapshot()));
});

test("options it must understand and does not get a Parameter Problem pointing at them, as their type bits ask", async () => {
  const { sw, clock, raw } = await setup();
  const aMac = mac("02:00:00:00:00:0a");
  const withOption = (type: number) => {
    const p = new Uint8Array(8 + 8);
    p[0] = 59; // no next header
    p[1] = 0;
    p[2] = type;
    p[3] = 4;
    return p;
  };
  const problems = () => raw.seen.filter((d) => d.icmp?.type === ICMPV6_PARAMETER_PROBLEM).map((d) => [d.icmp!.code, d.icmp!.rest]);
  raw.send(aMac, addr("2001:db8::99"), addr("2001:db8::a"), 60, withOption(0x40)); // 01: discard quietly
  raw.send(aMac, addr("2001:db8::99"), addr("2001:db8::a"), 60, withOption(0x3e)); // 00: skip
  await advance(sw, clock, 10);
  assert.deepEqual(problems(), []);
  raw.send(aMac, addr("2001:db8::99"), addr("2001:db8::a"), 60, withOption(0x80)); // 10: report
  await advance(sw, clock, 10);
  assert.deepEqual(problems(), [[2, 42]]);
  raw.send(mac("33:33:00:00:00:01"), addr("2001:db8::99"), addr("ff02::1"), 60, withOption(0xc0)); // 11: not to a group
  await advance(sw, clock, 10);
  assert.equal(problems().length, 1, "no report for a group destination with type 11");
  raw.send(mac("33:33:00:00:00:01"), addr("2001:db8::99"), addr("ff02::1"), 60, withOption(0x80)); // 10: even to a group (both stacks answer)
  await advance(sw, clock, 10);
  assert.equal(problems().length, 3);
});

test("a Packet Too Big lowers the path MTU to that destination (never below 1280) and later sends fit it", async () => {
  const { sw, clock, a, raw } = await setup();
  const quoted = new Uint8Array(48);
  writeIpv6Header(quoted, 0, addr("2001:db8::a"), addr("2001:db8:9::1"), PROTO_UDP, 64, 1400);
  const ptb = new Uint8Array(8 + quoted.length);
  ptb[0] = ICMPV6_PACKET_TOO_BIG;
  ptb[4] = 0;
  ptb[5] = 0;
  ptb[6] = 0x05;
  ptb[7] = 0x00; // 1280
  ptb.set(quoted, 8);
  raw.send(mac("02:00:00:00:00:0a"), addr("2001:db8::99"), addr("2001:db8::a"), PROTO_ICMPV6, ptb);
  await advance(sw, clock, 10);
  assert.equal(a.ipv6.mtu("2001:db8:9::1"), 1240);
  assert.equal(a.ipv6.mtu("2001:db8::b"), 1460);
  // Quoting a packet we did not send: ignored.
  writeIpv6Header(quoted, 0, addr("2001:db8::77"), addr("2001:db8:8::1"), PROTO_UDP, 64, 1400);
  ptb.set(quoted, 8);
  raw.send(mac("02:00:00:00:00:0a"), addr("2001:db8::99"), addr("2001:db8::a"), PROTO_ICMPV6, ptb);
  await advance(sw, clock, 10);
  assert.equal(a.ipv6.mtu("2001:db8:8::1"), 1460);
  await advance(sw, clock, 600_000, 10_000);
  assert.equal(a.ipv6.mtu("2001:db8:9::1"), 1460, "path MTU information expires");
});

function fragmentFrame(dstMac: Uint8Array, srcMac: Uint8Array, src: Uint8Array, dst: Uint8Array, id: number, offset: number, more: boolean, data: Uint8Array): Uint8Array {
  const f = new Uint8Array(ETHERNET_HEADER_LENGTH + IPV6_HEADER_LENGTH + 8 + data.length);
  f.set(dstMac, 0);
  f.set(srcMac, 6);
  f[12] = ETHERTYPE_IPV6 >> 8;
  f[13] = ETHERTYPE_IPV6 & 0xff;
  writeIpv6Header(f, ETHERNET_HEADER_LENGTH, src, dst, NEXT_FRAGMENT, 64, 8 + data.length);
  writeFragmentHeader(f, ETHERNET_HEADER_LENGTH + IPV6_HEADER_LENGTH, PROTO_UDP, offset, more, id);
  f.set(data, ETHERNET_HEADER_LENGTH + IPV6_HEADER_LENGTH + 8);
  return f;
}

test("reassembly refuses overlaps, counts what it drops, and reports a timeout with Time Exceeded", async () => {
  const { sw, clock, a, raw } = await setup();
  const got = collect(a.udp, 4000);
  const payload = new Uint8Array(24).fill(9);
  const udp = new Uint8Array(8 + payload.length);
  emitUdp({ srcPort: 1, dstPort: 4000, payload }, udp, ipv6PseudoSum(addr("2001:db8::99"), addr("2001:db8::a"), PROTO_UDP, udp.length));
  const aMac = mac("02:00:00:00:00:0a");
  const src = addr("2001:db8::99");
  const dst = addr("2001:db8::a");
  // In order, out of order: both reassemble.
  raw.port.write(fragmentFrame(aMac, raw.mac, src, dst, 1, 0, true, udp.subarray(0, 16)));
  raw.port.write(fragmentFrame(aMac, raw.mac, src, dst, 1, 16, false, udp.subarray(16)));
  raw.port.write(fragmentFrame(aMac, raw.mac, src, dst, 2, 16, false, udp.subarray(16)));
  raw.port.write(fragmentFrame(aMac, raw.mac, src, dst, 2, 0, true, udp.subarray(0, 16)));
  // Overlapping (RFC 5722): the whole datagram is dropped, even when a later piece would complete it.
  raw.port.write(fragmentFrame(aMac, raw.mac, src, dst, 3, 0, true, udp.subarray(0, 16)));
  raw.port.write(fragmentFrame(aMac, raw.mac, src, dst, 3, 8, true, udp.subarray(8, 24)));
  raw.port.write(fragmentFrame(aMac, raw.mac, src, dst, 3, 16, false, udp.subarray(16)));
  // A non-final fragment that is not a multiple of 8 bytes: Parameter Problem at the payload length.
  raw.port.write(fragmentFrame(aMac, raw.mac, src, dst, 5, 0, true, udp.subarray(0, 12)));
  // One that would end past 65535 bytes: Parameter Problem at the fragment offset.
  raw.port.write(fragmentFrame(aMac, raw.mac, src, dst, 6, 65528, true, udp.subarray(0, 16)));
  // A first fragment alone times out after 60 s.
  raw.port.write(fragmentFrame(aMac, raw.mac, src, dst, 4, 0, true, udp.subarray(0, 16)));
  await advance(sw, clock, 10);
  assert.equal(got.length, 2, JSON.stringify(a.ipv6.counters.snapshot()));
  assert.deepEqual(got[0]!.data, payload);
  assert.equal(a.ipv6.counters.get("fragment-overlap"), 1);
  const problems = raw.seen.filter((d) => d.icmp?.type === ICMPV6_PARAMETER_PROBLEM).map((d) => [d.icmp!.code, d.icmp!.rest]);
  assert.deepEqual(problems, [
    [0, 4],
    [0, 42],
  ]);
  await advance(sw, clock, 60_000, 5000);
  assert.equal(a.ipv6.counters.get("reassembly-timeout"), 2, "datagram 3's leftover and datagram 4");
  // Only a datagram whose first fragment came is reported (RFC 8200 §4.5): datagram 4.
  const te = raw.seen.filter((d) => d.icmp?.type === ICMPV6_TIME_EXCEEDED);
  assert.equal(te.length, 1);
  assert.equal(te[0]!.icmp!.code, 1);
  assert.deepEqual(a.ipv6.reassemblyState(), { datagrams: 0, bytes: 0 });
});

test("random frames never throw out of the stack, and every drop is counted by reason", async () => {
  const { sw, clock, a, raw } = await setup();
  const aMac = mac("02:00:00:00:00:0a");
  const src = addr("2001:db8::99");
  const dst = addr("2001:db8::a");
  let sent = 0;
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 200 }), fc.nat(5), (body, shape) => {
      const f = new Uint8Array(ETHERNET_HEADER_LENGTH + Math.max(body.length, 40));
      f.set(aMac, 0);
      f.set(raw.mac, 6);
      f[12] = 0x86;
      f[13] = 0xdd;
      f.set(body, ETHERNET_HEADER_LENGTH);
      if (shape > 0 && f.length >= ETHERNET_HEADER_LENGTH + 40) {
        // Mostly plausible headers, so the fuzzing reaches the extension headers and ICMPv6/NDP.
        const payloadLength = f.length - ETHERNET_HEADER_LENGTH - 40;
        const next = [0, 44, 58, 17, 60, 43][shape]!;
        writeIpv6Header(f, ETHERNET_HEADER_LENGTH, shape === 5 ? addr("fe80::99") : src, shape === 3 ? addr("ff02::1") : dst, next, 255, payloadLength);
        if (next === 58 && payloadLength >= 8) fillIcmpv6Checksum(f.subarray(ETHERNET_HEADER_LENGTH + 40), shape === 5 ? addr("fe80::99") : src, dst);
      }
      a.ethernet.input(f);
      sent++;
    }),
    { numRuns: 3000 },
  );
  await advance(sw, clock, 100);
  assert.equal(a.ethernet.drops.get("handler-error"), 0);
  assert.equal(a.ipv6.counters.get("handler-error"), 0);
  const counted = Object.values(a.ipv6.counters.snapshot()).reduce((x, y) => x + y, 0);
  assert.ok(counted > sent / 2, `only ${counted} of ${sent} hostile frames were counted`);
});
