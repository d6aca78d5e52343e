// Software offloads (gso.ts): TCP segmentation of IPv4/IPv6 packets and finishing partial
// checksums, checked against the wire parsers and the full checksum computations.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { foldSum, ipv4PseudoSum, onesSum } from "./checksum.ts";
import { WireError } from "./error.ts";
import { finishPartialChecksum, segmentTcpPacket } from "./gso.ts";
import { emitIpv4, parseIpv4 } from "./ipv4.ts";
import { emitIpv6, ipv6Bytes, ipv6PseudoSum, parseIpv6 } from "./ipv6.ts";
import { ACK, FIN, PSH, emitTcpHeader, emptyTcpRepr, parseTcp, setTcpChecksum, tcpHeaderLength, type TcpRepr } from "./tcp.ts";
import { emitUdpHeader } from "./udp.ts";
import { pattern as payloadOf } from "../tcp/test-support.ts";

const CWR = 0x80;
const ECE = 0x40;
const SRC4 = 0xc0000202; // 192.0.2.2
const DST4 = 0xc6336401; // 198.51.100.1
const SRC6 = ipv6Bytes("2001:db8::2")!.slice();
const DST6 = ipv6Bytes("2001:db8:ffff::1234:5678")!.slice();

interface PacketSpec {
  v6: boolean;
  payload: Uint8Array;
  seq: number;
  flags: number;
  id: number;
  timestamps: boolean;
  /** The TCP checksum field holds only the folded pseudo-header sum (as written for an offload). */
  partial: boolean;
  /** 4 bytes of IPv4 options (NOP NOP NOP EOL): the TCP header then starts at 24. */
  ipOptions?: boolean;
}

function tcpRepr(s: PacketSpec): TcpRepr {
  return {
    ...emptyTcpRepr(),
    srcPort: 40001,
    dstPort: 443,
    seq: s.seq,
    ack: 0x01020304,
    flags: s.flags,
    window: 5000,
    urgent: 0,
    hasTimestamp: s.timestamps,
    tsVal: 0xdeadbeef,
    tsEcr: 0x0badf00d,
  };
}

/** A TCP/IPv4 or TCP/IPv6 packet built with the wire emitters. */
function buildPacket(s: PacketSpec): Uint8Array {
  const r = tcpRepr(s);
  const hlen = tcpHeaderLength(r);
  const ipLen = s.v6 ? 40 : s.ipOptions ? 24 : 20;
  const tcpLength = hlen + s.payload.length;
  const packet = new Uint8Array(ipLen + tcpLength);
  if (s.v6) {
    emitIpv6({ src: SRC6, dst: DST6, nextHeader: 6, hopLimit: 64, trafficClass: 0, flowLabel: 0x12345, payloadLength: tcpLength }, packet);
  } else {
    emitIpv4({ src: SRC4, dst: DST4, protocol: 6, ttl: 61, id: s.id, tos: 0x10, dontFragment: true, moreFragments: false, fragmentOffset: 0, payloadLength: tcpLength }, packet);
    if (s.ipOptions) {
      // Rewrite as a 24-byte header: move nothing (payload not written yet), fix IHL, length, checksum.
      packet[0] = 0x46;
      packet[2] = (24 + tcpLength) >>> 8;
      packet[3] = 24 + tcpLength;
      packet.set([1, 1, 1, 0], 20);
      packet[10] = 0;
      packet[11] = 0;
      const c = ~foldSum(onesSum(packet, 0, 24)) & 0xffff;
      packet[10] = c >>> 8;
      packet[11] = c;
    }
  }
  const tcp = packet.subarray(ipLen);
  emitTcpHeader(r, tcp);
  tcp.set(s.payload, hlen);
  const pseudo = s.v6 ? ipv6PseudoSum(SRC6, DST6, 6, tcpLength) : ipv4PseudoSum(SRC4, DST4, 6, tcpLength);
  if (s.partial) {
    const p = foldSum(pseudo);
    tcp[16] = p >>> 8;
    tcp[17] = p;
  } else setTcpChecksum(tcp, hlen, [s.payload], pseudo);
  return packet;
}

interface Checked {
  ipHeaderLength: number;
  id: number;
  tcp: TcpRepr;
  tcpBytes: Uint8Array;
}

/** Parses one emitted segment, asserting valid IP lengths and checksums and a valid TCP checksum. */
function checkSegment(seg: Uint8Array, v6: boolean): Checked {
  let tcpBytes: Uint8Array;
  let pseudo: number;
  let id = 0;
  let ipHeaderLength = 40;
  if (v6) {
    const p = parseIpv6(seg);
    assert.ok(!(p instanceof WireError), `IPv6 header: ${String(p)}`);
    assert.equal(p.end, seg.length, "IPv6 payload length matches the segment");
    assert.equal(p.protocol, 6);
    assert.equal(p.flowLabel, 0x12345);
    tcpBytes = seg.subarray(40, p.end);
    pseudo = ipv6PseudoSum(p.src, p.dst, 6, tcpBytes.length);
  } else {
    const p = parseIpv4(seg); // verifies the header checksum
    assert.ok(!(p instanceof WireError), `IPv4 header: ${String(p)}`);
    assert.equal(p.headerLength + p.payloadLength, seg.length, "IPv4 total length matches the segment");
    assert.equal(p.protocol, 6);
    assert.equal(p.ttl, 61);
    assert.equal(p.tos, 0x10);
    assert.equal(p.dontFragment, true);
    assert.equal(p.moreFragments, false);
    id = p.id;
    ipHeaderLength = p.headerLength;
    tcpBytes = p.payload;
    pseudo = ipv4PseudoSum(p.src, p.dst, 6, tcpBytes.length);
  }
  const tcp = parseTcp(tcpBytes, pseudo);
  assert.ok(!(tcp instanceof WireError), `TCP: ${String(tcp)}`);
  return { ipHeaderLength, id, tcp, tcpBytes };
}

function segment(packet: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  segmentTcpPacket(packet, size, (s) => out.push(s.slice()));
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

/** Every property of a correct segmentation of `spec` into `size`-byte segments. */
function assertSegmentation(spec: PacketSpec, size: number): Uint8Array[] {
  const packet = buildPacket(spec);
  const original = packet.slice();
  const segs = segment(packet, size);
  assert.deepEqual(packet, original, "the input packet is not modified");
  const expected = Math.max(1, Math.ceil(spec.payload.length / size));
  assert.equal(segs.length, expected, "segment count");
  const r = tcpRepr(spec);
  const hlen = tcpHeaderLength(r);
  const checked = segs.map((s) => checkSegment(s, spec.v6));
  assert.deepEqual(concat(checked.map((c) => c.tcp.payload)), spec.payload, "payloads concatenate to the original");
  checked.forEach((c, i) => {
    const last = i === segs.length - 1;
    const n = last ? spec.payload.length - i * size : size;
    assert.equal(c.tcp.payload.length, n, `segment ${i} payload length`);
    assert.equal(c.tcpBytes.length, hlen + n);
    if (!spec.v6) assert.equal(c.id, (spec.id + i) & 0xffff, `segment ${i}: consecutive IPv4 IDs`);
    assert.equal(c.tcp.seq, (spec.seq + i * size) >>> 0, `segment ${i}: sequence number`);
    let flags = spec.flags;
    if (!last) flags &= ~(FIN | PSH);
    if (i > 0) flags &= ~CWR;
    assert.equal(c.tcp.flags, flags, `segment ${i}: flags`);
    // Everything else in the header is copied: ports, ack, window, options.
    assert.equal(c.tcp.srcPort, r.srcPort);
    assert.equal(c.tcp.dstPort, r.dstPort);
    assert.equal(c.tcp.ack, r.ack);
    assert.equal(c.tcp.window, r.window);
    assert.equal(c.tcp.hasTimestamp, spec.timestamps);
    if (spec.timestamps) {
      assert.equal(c.tcp.tsVal, r.tsVal);
      assert.equal(c.tcp.tsEcr, r.tsEcr);
    }
  });
  return segs;
}

for (const v6 of [false, true]) {
  const family = v6 ? "IPv6" : "IPv4";
  test(`${family}: a 64 KB segment cut into MSS-sized segments, all valid, payload intact`, () => {
    const mss = v6 ? 1428 : 1448;
    const payload = payloadOf(65000 - 40 - 32 - 20, v6 ? 2 : 3);
    const segs = assertSegmentation({ v6, payload, seq: 1_000_000, flags: ACK | PSH | FIN | CWR | ECE, id: 777, timestamps: true, partial: true }, mss);
    assert.equal(segs.length, Math.ceil(payload.length / mss));
    assert.ok(segs.slice(0, -1).every((s) => s.length === (v6 ? 40 : 20) + 32 + mss), "all but the last segment are full-sized");
  });

  test(`${family}: sequence numbers wrap past 2^32${v6 ? "" : " and IDs past 0xffff"}`, () => {
    assertSegmentation({ v6, payload: payloadOf(5000), seq: 0xffffffff - 2000, flags: ACK, id: 0xfffe, timestamps: false, partial: false }, 1000);
  });

  test(`${family}: a packet smaller than one segment comes out whole, its partial checksum finished`, () => {
    const spec = { v6, payload: payloadOf(700), seq: 5, flags: ACK | PSH | FIN | CWR, id: 9, timestamps: true, partial: true };
    const packet = buildPacket(spec);
    const segs = assertSegmentation(spec, 1448);
    assert.equal(segs.length, 1);
    const complete = buildPacket({ ...spec, partial: false });
    assert.deepEqual(segs[0], complete, "identical to the packet built with a complete checksum");
    assert.notDeepEqual(packet, complete, "the input really held a partial checksum");
    // Exactly one segment's worth: still one segment, flags kept.
    const exact = assertSegmentation({ ...spec, payload: payloadOf(1448) }, 1448);
    assert.equal(exact.length, 1);
  });

  test(`${family}: a bare header (no payload) comes out as one valid segment`, () => {
    const segs = assertSegmentation({ v6, payload: new Uint8Array(0), seq: 77, flags: ACK | FIN, id: 1, timestamps: true, partial: true }, 536);
    assert.equal(segs.length, 1);
  });

  test(`${family}: a partial-checksum input gives the same segments as a complete one`, () => {
    const base = { v6, payload: payloadOf(10_001, 5), seq: 123456, flags: ACK | PSH, id: 4321, timestamps: true };
    const a = segment(buildPacket({ ...base, partial: true }), 1000);
    const b = segment(buildPacket({ ...base, partial: false }), 1000);
    assert.equal(a.length, 11);
    assert.deepEqual(a, b);
  });

  test(`${family}: finishPartialChecksum gives the full TCP checksum`, () => {
    for (const n of [0, 1, 2, 3, 63, 64, 65, 1447, 9001]) {
      const spec = { v6, payload: payloadOf(n, n + 1), seq: n, flags: ACK, id: 0, timestamps: n % 2 === 0, partial: true };
      const partial = buildPacket(spec);
      const at = v6 ? 40 : 20;
      finishPartialChecksum(partial, at, 16);
      assert.deepEqual(partial, buildPacket({ ...spec, partial: false }), `${n}-byte payload`);
    }
  });
}

test("IPv4 with header options: segments keep the options and stay valid", () => {
  const segs = assertSegmentation({ v6: false, ipOptions: true, payload: payloadOf(3000), seq: 1, flags: ACK | PSH, id: 100, timestamps: true, partial: true }, 1000);
  assert.equal(segs.length, 3);
  for (const s of segs) {
    assert.equal(s[0], 0x46);
    assert.deepEqual([...s.subarray(20, 24)], [1, 1, 1, 0]);
  }
});

test("trailing bytes after the IP length (link padding) are not taken as payload", () => {
  for (const v6 of [false, true]) {
    const spec = { v6, payload: payloadOf(2500), seq: 10, flags: ACK, id: 3, timestamps: false, partial: true };
    const packet = buildPacket(spec);
    const padded = new Uint8Array(packet.length + 7).fill(0xee);
    padded.set(packet);
    const segs = segment(padded, 1000);
    assert.equal(segs.length, 3);
    assert.deepEqual(concat(segs.map((s) => checkSegment(s, v6).tcp.payload)), spec.payload);
  }
});

test("UDP: finishPartialChecksum gives the full checksum, and a computed zero is sent as 0xffff", () => {
  for (const v6 of [false, true]) {
    for (const n of [0, 1, 7, 100, 1001]) {
      const data = payloadOf(n, 40 + n);
      const length = 8 + n;
      const pseudo = v6 ? ipv6PseudoSum(SRC6, DST6, 17, length) : ipv4PseudoSum(SRC4, DST4, 17, length);
      const full = new Uint8Array(length);
      emitUdpHeader(full, 0, 5353, 53, data, pseudo);
      full.set(data, 8);
      const partial = full.slice();
      const p = foldSum(pseudo);
      partial[6] = p >>> 8;
      partial[7] = p;
      finishPartialChecksum(partial, 0, 6);
      assert.deepEqual(partial, full, `${v6 ? "IPv6" : "IPv4"} UDP with ${n} bytes`);
    }
    // A datagram whose checksum computes to zero: its last two bytes are chosen to make the sum 0xffff.
    const data = payloadOf(64, 9);
    data[62] = 0;
    data[63] = 0;
    const length = 72;
    const pseudo = v6 ? ipv6PseudoSum(SRC6, DST6, 17, length) : ipv4PseudoSum(SRC4, DST4, 17, length);
    const probe = new Uint8Array(length);
    emitUdpHeader(probe, 0, 5353, 53, data, null);
    probe.set(data, 8);
    const s = foldSum(onesSum(probe, 0, length, pseudo));
    const x = 0xffff - s;
    data[62] = x >>> 8;
    data[63] = x;
    probe.set(data, 8);
    assert.equal(foldSum(onesSum(probe, 0, length, pseudo)), 0xffff, "the constructed datagram sums to 0xffff");
    const full = probe.slice();
    emitUdpHeader(full, 0, 5353, 53, data, pseudo);
    assert.equal((full[6]! << 8) | full[7]!, 0xffff, "the emitter sends zero as 0xffff");
    const partial = probe.slice();
    const p = foldSum(pseudo);
    partial[6] = p >>> 8;
    partial[7] = p;
    finishPartialChecksum(partial, 0, 6);
    assert.equal((partial[6]! << 8) | partial[7]!, 0xffff, "a finished partial UDP checksum of zero becomes 0xffff, not 0 (no checksum)");
    // TCP has no such rule: the same sum gives 0x0000 there, as setTcpChecksum computes it.
    const tcpLike = probe.slice(0, 40);
    tcpLike[16] = 0;
    tcpLike[17] = 0;
    const tp = 0xffff - foldSum(onesSum(tcpLike, 0, 40, 0));
    tcpLike[16] = tp >>> 8; // partial value chosen so the whole sums to 0xffff
    tcpLike[17] = tp;
    finishPartialChecksum(tcpLike, 0, 16);
    assert.equal((tcpLike[16]! << 8) | tcpLike[17]!, 0);
  }
});

test("a UDP/IPv4 packet is not TCP: emitted whole and unchanged", () => {
  const packet = buildPacket({ v6: false, payload: payloadOf(3000), seq: 1, flags: ACK, id: 1, timestamps: false, partial: false });
  packet[9] = 17;
  packet[10] = 0;
  packet[11] = 0;
  const c = ~foldSum(onesSum(packet, 0, 20)) & 0xffff;
  packet[10] = c >>> 8;
  packet[11] = c;
  const segs = segment(packet, 1000);
  assert.equal(segs.length, 1);
  assert.deepEqual(segs[0], packet);
});

// ---- properties -------------------------------------------------------------------------------

const specArb = fc.record({
  v6: fc.boolean(),
  payload: fc.integer({ min: 0, max: 6000 }).chain((n) => fc.uint8Array({ minLength: n, maxLength: n })),
  seq: fc.integer({ min: 0, max: 0xffffffff }),
  flags: fc.integer({ min: 0, max: 0xff }).map((f) => f | ACK),
  id: fc.integer({ min: 0, max: 0xffff }),
  timestamps: fc.boolean(),
  partial: fc.boolean(),
  ipOptions: fc.boolean(),
});

test("property: any packet and segment size gives valid segments carrying the payload in order", () => {
  fc.assert(
    fc.property(specArb, fc.integer({ min: 1, max: 2000 }), (spec, size) => {
      assertSegmentation(spec, size);
    }),
    { numRuns: 300 },
  );
});

test("property: partial and complete checksums give identical segments", () => {
  fc.assert(
    fc.property(specArb, fc.integer({ min: 1, max: 3000 }), (spec, size) => {
      assert.deepEqual(segment(buildPacket({ ...spec, partial: true }), size), segment(buildPacket({ ...spec, partial: false }), size));
    }),
    { numRuns: 150 },
  );
});

test("property: finishPartialChecksum equals the full TCP checksum", () => {
  fc.assert(
    fc.property(specArb, (spec) => {
      const p = buildPacket({ ...spec, partial: true });
      finishPartialChecksum(p, spec.v6 ? 40 : spec.ipOptions ? 24 : 20, 16);
      assert.deepEqual(p, buildPacket({ ...spec, partial: false }));
    }),
    { numRuns: 200 },
  );
});

test("property: malformed input never throws, and whatever comes out fits the input", () => {
  const sizes = fc.oneof(fc.integer({ min: -3, max: 3000 }), fc.constant(Number.NaN), fc.constant(0));
  // Random bytes, with the first byte often made to look like IPv4 or IPv6.
  const random = fc.tuple(fc.uint8Array({ maxLength: 200 }), fc.constantFrom(null, 0x45, 0x46, 0x4f, 0x40, 0x60)).map(([b, first]) => {
    if (first !== null && b.length > 0) b[0] = first;
    if (b.length > 9 && first !== null && first < 0x60) b[9] = 6;
    if (b.length > 6 && first === 0x60) b[6] = 6;
    return b;
  });
  // Valid packets truncated, or with one byte changed (lengths, data offset, version...).
  const damaged = fc
    .tuple(specArb, fc.nat(), fc.nat(), fc.integer({ min: 0, max: 255 }), fc.boolean())
    .map(([spec, cut, where, value, truncate]) => {
      const p = buildPacket(spec);
      if (truncate) return p.slice(0, cut % (p.length + 1));
      p[where % Math.min(p.length, 80)] = value;
      return p;
    });
  fc.assert(
    fc.property(fc.oneof(random, damaged), sizes, (packet, size) => {
      const before = packet.slice();
      let total = 0;
      let count = 0;
      segmentTcpPacket(packet, size, (s) => {
        assert.ok(s instanceof Uint8Array);
        total += s.length;
        count++;
      });
      assert.ok(count >= 1, "something is always emitted");
      assert.deepEqual(packet, before, "the input is not modified");
      if (!(size > 0)) assert.ok(total <= packet.length, "without cutting, nothing grows");
    }),
    { numRuns: 2000 },
  );
  // Nothing at all, and a lone byte.
  for (const p of [new Uint8Array(0), new Uint8Array([0x45]), new Uint8Array([0x60])]) {
    const out = segment(p, 1000);
    assert.equal(out.length, 1);
    assert.deepEqual(out[0], p);
  }
});

test("a non-integer segment size does not throw: the packet comes out whole", () => {
  const packet = buildPacket({ v6: false, payload: payloadOf(100), seq: 1, flags: ACK, id: 1, timestamps: false, partial: true });
  const out: Uint8Array[] = [];
  assert.doesNotThrow(() => segmentTcpPacket(packet, 1.5, (p) => out.push(p)));
  assert.equal(out.length, 1);
  assert.equal(out[0]!.length, packet.length);
});
