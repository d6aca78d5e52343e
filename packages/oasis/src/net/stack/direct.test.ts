// Two stacks on an in-memory switch, plus a raw port that plays a hostile or observing peer.
import { test } from "node:test";
import assert from "node:assert/strict";
import { MemorySwitch } from "../phy/switch.ts";
import { ipv4Stack } from "./direct.ts";
import { ArpError, IpError } from "../../devices/errors.ts";
import type { Datagram } from "../../devices/udp.ts";
import { emitEthernet, parseEthernet } from "../wire/ethernet.ts";
import { parseIpv4, writeIpv4Header, Ipv4Packet } from "../wire/ipv4.ts";
import { parseIcmpv4, ICMP_ECHO_REQUEST, ICMP_ECHO_REPLY, ICMP_DEST_UNREACHABLE } from "../wire/icmpv4.ts";
import { parseArp } from "../wire/arp.ts";
import { WireError } from "../wire/error.ts";
import { BROADCAST_MAC, parseIpv4Address } from "../wire/address.ts";
import { emitUdp } from "../wire/udp.ts";
import { ipv4PseudoSum } from "../wire/checksum.ts";

function setup(options: { gatewayA?: string } = {}) {
  const sw = new MemorySwitch();
  const a = ipv4Stack(sw.port({ name: "a" }), { cidr: "192.0.2.2/24", gateway: options.gatewayA ?? null, arp: { requestIntervalMs: 20 } });
  const b = ipv4Stack(sw.port({ name: "b" }), { cidr: "192.0.2.3/24" });
  const raw = sw.port({ name: "raw", mac: "02:00:00:00:00:99" });
  const seen: Uint8Array[] = [];
  raw.listen((f) => seen.push(f.slice()));
  const close = async () => {
    await a.stack.disconnect();
    await b.stack.disconnect();
  };
  return { sw, a, b, raw, seen, close };
}

function nextDatagram(udp: { listen(port: number, h: (d: Datagram) => void): void }, port: number): Promise<Datagram> {
  return new Promise((resolve) => udp.listen(port, (d) => resolve({ ...d, data: d.data.slice() })));
}

function echoRequest(id: number, seq: number, data: Uint8Array): Uint8Array {
  const m = new Uint8Array(8 + data.length);
  m[0] = ICMP_ECHO_REQUEST;
  m[4] = id >> 8;
  m[5] = id;
  m[6] = seq >> 8;
  m[7] = seq;
  m.set(data, 8);
  return m;
}

test("UDP datagrams cross the switch after ARP resolution, intact and with the right ports", async () => {
  const { a, b, close } = setup();
  try {
    const got = nextDatagram(b.udp, 7000);
    await a.udp.write("192.0.2.3", 7000, new TextEncoder().encode("hello"), { srcPort: 5555 });
    const d = await got;
    assert.equal(new TextDecoder().decode(d.data), "hello");
    assert.deepEqual([d.src, d.dst, d.srcPort, d.dstPort], ["192.0.2.2", "192.0.2.3", 5555, 7000]);
    // The reply needs no ARP request: B learnt A from A's request (RFC 826 merge).
    const back = nextDatagram(a.udp, 5555);
    await b.udp.write(d.src, d.srcPort, d.data, { srcPort: 7000 });
    assert.equal(new TextDecoder().decode((await back).data), "hello");
    assert.equal(b.arp.lookup(parseIpv4Address("192.0.2.2")!) !== undefined, true);
  } finally {
    await close();
  }
});

test("answers echo requests, and reports closed UDP ports with ICMP port unreachable", async () => {
  const { a, close } = setup();
  try {
    const replies: Uint8Array[] = [];
    const gotAll = new Promise<void>((resolve) =>
      a.ipv4.icmp.listen((_s, _d, m) => {
        replies.push(m.slice());
        if (replies.length === 2) resolve();
      }),
    );
    a.ipv4.icmp.write("192.0.2.3", echoRequest(0x1234, 1, new Uint8Array([1, 2, 3])));
    await a.udp.write("192.0.2.3", 9, new Uint8Array([42]));
    await gotAll;
    const byType = new Map(replies.map((m) => [m[0], m]));
    const echo = parseIcmpv4(byType.get(ICMP_ECHO_REPLY)!);
    assert.ok(!(echo instanceof WireError));
    assert.equal(echo.rest, 0x12340001);
    assert.deepEqual([...echo.data], [1, 2, 3]);
    const unreach = parseIcmpv4(byType.get(ICMP_DEST_UNREACHABLE)!);
    assert.ok(!(unreach instanceof WireError));
    assert.equal(unreach.code, 3);
    // It quotes our IP header and the UDP header (ports 9 as destination).
    const quoted = new Ipv4Packet(unreach.data);
    assert.deepEqual([quoted.src, quoted.dst, quoted.protocol, unreach.data.length], [parseIpv4Address("192.0.2.2"), parseIpv4Address("192.0.2.3"), 17, 28]);
    assert.equal((unreach.data[22]! << 8) | unreach.data[23]!, 9);
  } finally {
    await close();
  }
});

test("an 8000-byte datagram is fragmented on send and reassembled on receipt", async () => {
  const { a, b, close } = setup();
  try {
    const data = new Uint8Array(8000).map((_, i) => (i * 7) & 0xff);
    const got = nextDatagram(b.udp, 4000);
    await a.udp.write("192.0.2.3", 4000, data);
    assert.deepEqual((await got).data, data);
    assert.equal(a.ipv4.counters.get("fragments-sent"), 6);
    assert.equal(b.ipv4.counters.get("reassembled"), 1);
    await assert.rejects(a.udp.write("192.0.2.3", 4000, data, {}).then(() => a.ip.write("192.0.2.3", 17, data, { fragment: false })), (e: unknown) => e instanceof IpError && e.code === "would-fragment");
  } finally {
    await close();
  }
});

test("routes off-link traffic to the gateway's MAC and refuses it without a gateway", async () => {
  const { sw, a, raw, seen, close } = setup({ gatewayA: "192.0.2.1" });
  try {
    a.arp.addStatic("192.0.2.1", raw.mac);
    await a.udp.write("198.51.100.7", 53, new Uint8Array([1]));
    await sw.settle();
    const frame = seen.find((f) => f[0] === 0x02 && f[5] === 0x99 && f[12] === 0x08 && f[13] === 0x00);
    assert.ok(frame, "a frame to the gateway's MAC");
    const ip = parseIpv4(frame.subarray(14));
    assert.ok(!(ip instanceof WireError));
    assert.equal(ip.dst, parseIpv4Address("198.51.100.7"));
    assert.equal(ip.ttl, 64);
  } finally {
    await close();
  }
  const { a: lone, close: close2 } = setup();
  try {
    await assert.rejects(lone.udp.write("198.51.100.7", 53, new Uint8Array(1)), (e: unknown) => e instanceof IpError && e.code === "no-route" && /gateway/.test(e.message));
    await assert.rejects(lone.udp.write("2001:db8::1", 53, new Uint8Array(1)), (e: unknown) => e instanceof IpError && e.code === "no-route");
    await assert.rejects(lone.udp.write("0.0.0.0", 53, new Uint8Array(1)), (e: unknown) => e instanceof IpError && e.code === "invalid-address");
    await assert.rejects(lone.udp.write("192.0.2.300", 53, new Uint8Array(1)), (e: unknown) => e instanceof IpError && e.code === "invalid-address");
    assert.throws(() => lone.ip.write("192.0.2.3", 253, new Uint8Array(65516)), RangeError);
  } finally {
    await close2();
  }
});

test("broadcast goes to ff:ff:ff:ff:ff:ff and multicast to the RFC 1112 MAC, without ARP", async () => {
  const { sw, a, b, seen, close } = setup();
  try {
    const got = nextDatagram(b.udp, 6000);
    await a.udp.write("255.255.255.255", 6000, new Uint8Array([5]));
    await a.udp.write("192.0.2.255", 6000, new Uint8Array([6]));
    await a.udp.write("239.1.2.3", 6000, new Uint8Array([7]));
    assert.deepEqual([...(await got).data], [5]);
    await sw.settle();
    const macs = seen.filter((f) => f[12] === 0x08 && f[13] === 0x00).map((f) => Array.from(f.subarray(0, 6), (x) => x.toString(16)).join(":"));
    assert.deepEqual(macs, ["ff:ff:ff:ff:ff:ff", "ff:ff:ff:ff:ff:ff", "1:0:5e:1:2:3"]);
    assert.equal(seen.filter((f) => f[12] === 0x08 && f[13] === 0x06).length, 2, "only A's two gratuitous ARP announcements... per stack");
  } finally {
    await close();
  }
});

test("resolution of a silent address times out: queued packets dropped and counted, query rejected", async () => {
  const { a, close } = setup();
  try {
    await a.udp.write("192.0.2.99", 1, new Uint8Array(1));
    await a.udp.write("192.0.2.99", 1, new Uint8Array(1));
    await assert.rejects(a.arp.query("192.0.2.99"), (e: unknown) => e instanceof ArpError && e.code === "timeout");
    assert.equal(a.arp.counters.get("resolution-timeout"), 2);
  } finally {
    await close();
  }
});

test("malformed and hostile frames are counted per reason and the stack keeps answering", async () => {
  const { sw, b, raw, close } = setup();
  try {
    const mac = b.ethernet.mac;
    const send = (ipPacket: Uint8Array) => {
      const f = new Uint8Array(14 + ipPacket.length);
      emitEthernet({ dst: mac, src: raw.mac, ethertype: 0x0800 }, f);
      f.set(ipPacket, 14);
      raw.write(f);
    };
    const src = parseIpv4Address("192.0.2.50")!;
    const dst = parseIpv4Address("192.0.2.3")!;
    const header = (payloadLength: number, flags = 0, id = 1, proto = 17) => {
      const p = new Uint8Array(20 + payloadLength);
      writeIpv4Header(p, 0, src, dst, proto, 64, id, flags, payloadLength);
      return p;
    };
    send(header(8).subarray(0, 12)); // truncated
    const badSum = header(8);
    badSum[10]! ^= 0xff;
    send(badSum);
    const badIhl = header(8);
    badIhl[0] = 0x43;
    new Ipv4Packet(badIhl).fillChecksum();
    send(badIhl);
    // Overlapping fragments: [0,16) then [8,24).
    send(header(16, 0x2000, 7));
    send(header(16, 0x2000 | 1, 7));
    // A fragment bomb: many datagrams that never complete, 1 KiB each, well past the memory cap.
    for (let id = 100; id < 400; id++) send(header(1024, 0x2000, id));
    // Too many fragments for one datagram.
    for (let k = 0; k < 70; k++) send(header(8, 0x2000 | k, 9));
    // A UDP datagram with a wrong checksum.
    const udp = header(12);
    emitUdp({ srcPort: 1, dstPort: 2, payload: new Uint8Array(4) }, udp.subarray(20), ipv4PseudoSum(src, dst, 17, 12) + 1);
    send(udp);
    // A runt Ethernet frame.
    raw.write(new Uint8Array([...mac, ...raw.mac, 0x08, 0x00]).subarray(0, 14));
    await sw.settle();
    const c = b.ipv4.counters;
    assert.equal(c.get("truncated"), 2); // the cut header and the empty frame
    assert.equal(c.get("bad-checksum"), 1);
    assert.equal(c.get("bad-ihl"), 1);
    assert.equal(c.get("overlap"), 1);
    assert.ok(c.get("reassembly-evicted") > 0, "memory cap evicted the oldest partial datagrams");
    assert.ok(b.ipv4.reassemblyState().bytes <= 256 * 1024);
    assert.equal(c.get("too-many-fragments"), 1);
    assert.equal(b.udp.counters.get("bad-checksum"), 1);
    // Still alive: answers a ping from the raw port.
    const ping = header(12, 0, 2, 1);
    const icmp = echoRequest(1, 1, new Uint8Array([9, 9, 9, 9]));
    const { internetChecksum } = await import("../wire/checksum.ts");
    const ck = internetChecksum(icmp);
    icmp[2] = ck >> 8;
    icmp[3] = ck;
    ping.set(icmp, 20);
    b.arp.addStatic("192.0.2.50", raw.mac);
    const reply = new Promise<Uint8Array>((resolve) =>
      raw.listen((f) => {
        const e = parseEthernet(f);
        if (!(e instanceof WireError) && e.ethertype === 0x0800 && f[14 + 20] === ICMP_ECHO_REPLY) resolve(f.slice());
      }),
    );
    send(ping);
    const r = await reply;
    assert.deepEqual([...r.subarray(14 + 28)], [9, 9, 9, 9]);
    void BROADCAST_MAC;
    void parseArp;
  } finally {
    await close();
  }
});

test("datagrams to our own address are delivered locally, and the stack reports every layer's counters", async () => {
  const { sw, a, close } = setup();
  try {
    const got = nextDatagram(a.udp, 6100);
    await a.udp.write("192.0.2.2", 6100, new Uint8Array([1, 2]), { srcPort: 6200 });
    const d = await got;
    assert.deepEqual([d.src, d.dst, d.srcPort, [...d.data]], ["192.0.2.2", "192.0.2.2", 6200, [1, 2]]);
    await a.udp.write("192.0.2.2", 6101, new Uint8Array(1));
    await sw.settle();
    const c = a.stack.counters();
    assert.deepEqual(Object.keys(c).sort(), ["arp", "ethernet", "icmpv4", "ipv4", "udp"]);
    assert.equal(c.udp!["closed-port"], 1);
  } finally {
    await close();
  }
});

test("a new address is announced with gratuitous ARP and the old one is no longer answered", async () => {
  const { sw, a, b, seen, raw, close } = setup();
  try {
    await sw.settle();
    seen.length = 0;
    a.ipv4.configure("192.0.2.20/24", null);
    await sw.settle();
    const garp = seen.map((f) => parseArp(f.subarray(14))).find((r) => !(r instanceof WireError) && r.senderIp === r.targetIp);
    assert.ok(garp && !(garp instanceof WireError));
    assert.equal(garp.senderIp, parseIpv4Address("192.0.2.20"));
    assert.equal(b.arp.lookup(parseIpv4Address("192.0.2.20")!), undefined, "B had no entry: a GARP refreshes, never creates (RFC 826)");
    const got = nextDatagram(a.udp, 6300);
    await b.udp.write("192.0.2.20", 6300, new Uint8Array([3]));
    assert.deepEqual([...(await got).data], [3]);
    await assert.rejects(b.arp.query("192.0.2.2"), /no ARP reply/);
    void raw;
  } finally {
    await close();
  }
});

test("fragments that never complete earn their sender an ICMP time exceeded (reassembly)", async () => {
  const sw = new MemorySwitch();
  const b = ipv4Stack(sw.port(), { cidr: "192.0.2.3/24", reassembly: { timeoutMs: 30 } });
  const raw = sw.port({ mac: "02:00:00:00:00:99" });
  b.arp.addStatic("192.0.2.50", raw.mac);
  const icmp = new Promise<Uint8Array>((resolve) =>
    raw.listen((f) => {
      if (f[12] === 0x08 && f[13] === 0x00 && f[23] === 1) resolve(f.slice(34));
    }),
  );
  try {
    const p = new Uint8Array(14 + 20 + 16);
    p.set(b.ethernet.mac);
    p.set(raw.mac, 6);
    p[12] = 0x08;
    writeIpv4Header(p, 14, parseIpv4Address("192.0.2.50")!, parseIpv4Address("192.0.2.3")!, 17, 64, 77, 0x2000, 16);
    raw.write(p);
    const m = await icmp;
    assert.deepEqual([m[0], m[1]], [11, 1]);
    assert.equal((m[8 + 4]! << 8) | m[8 + 5]!, 77, "quotes the first fragment's header");
    assert.equal(b.ipv4.counters.get("reassembly-timeout"), 1);
  } finally {
    await b.stack.disconnect();
  }
});
