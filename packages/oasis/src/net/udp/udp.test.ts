import { test } from "node:test";
import assert from "node:assert/strict";
import { MemorySwitch } from "../phy/switch.ts";
import { ipv4Stack } from "../stack/direct.ts";
import type { Datagram } from "../../devices/udp.ts";

test("a second listener on a port is refused, unlisten closes the port, ports outside 0..65535 are a RangeError", async () => {
  const sw = new MemorySwitch();
  const a = ipv4Stack(sw.port(), { cidr: "192.0.2.2/24" });
  const b = ipv4Stack(sw.port(), { cidr: "192.0.2.3/24" });
  try {
    const first: Datagram[] = [];
    const second: Datagram[] = [];
    b.udp.listen(5000, (d) => first.push(d));
    assert.throws(() => b.udp.listen(5000, (d) => second.push(d)), (e: Error & { code?: string }) => e.code === "unavailable" && /5000 is already in use.*unlisten\(5000\)/.test(e.message));
    await a.udp.write("192.0.2.3", 5000, new Uint8Array([1]));
    await sw.settle();
    assert.deepEqual([first.length, second.length], [1, 0], "the first listener keeps its traffic");
    b.udp.unlisten(5000);
    b.udp.listen(5000, (d) => second.push(d));
    await a.udp.write("192.0.2.3", 5000, new Uint8Array([1]));
    await sw.settle();
    assert.deepEqual([first.length, second.length], [1, 1]);
    b.udp.unlisten(5000);
    await a.udp.write("192.0.2.3", 5000, new Uint8Array([2]));
    await sw.settle();
    assert.equal(second.length, 1);
    assert.equal(b.udp.counters.get("closed-port"), 1);
    assert.throws(() => b.udp.listen(65536, () => {}), RangeError);
    assert.throws(() => b.udp.listen(-1, () => {}), RangeError);
    await assert.rejects(a.udp.write("192.0.2.3", 70000, new Uint8Array(1)), RangeError);
    await assert.rejects(a.udp.write("192.0.2.3", 1, new Uint8Array(65600)), /65507/);
  } finally {
    await a.stack.disconnect();
    await b.stack.disconnect();
  }
});

test("writes without a source port use varied ephemeral ports (49152-65535); TTL is honoured", async () => {
  const sw = new MemorySwitch();
  const a = ipv4Stack(sw.port(), { cidr: "192.0.2.2/24" });
  const b = ipv4Stack(sw.port(), { cidr: "192.0.2.3/24" });
  const raw = sw.port({ promiscuous: true });
  const ttls: number[] = [];
  raw.listen((f) => {
    if (f[12] === 0x08 && f[13] === 0x00 && f[23] === 17) ttls.push(f[22]!);
  });
  try {
    const ports = new Set<number>();
    b.udp.listen(9, (d) => ports.add(d.srcPort));
    for (let i = 0; i < 20; i++) await a.udp.write("192.0.2.3", 9, new Uint8Array([i]), i === 0 ? { ttl: 3 } : undefined);
    await sw.settle();
    assert.ok(ports.size >= 15, `only ${ports.size} distinct ports`);
    assert.ok([...ports].every((p) => p >= 49152 && p <= 65535));
    assert.equal(ttls[0], 3);
    assert.ok(ttls.slice(1).every((t) => t === 64));
  } finally {
    await a.stack.disconnect();
    await b.stack.disconnect();
  }
});

test("over IPv6 a zero checksum means a broken datagram, not 'no checksum'", async () => {
  const { EthernetLayer } = await import("../ethernet/ethernet.ts");
  const { ArpLayer } = await import("../arp/arp.ts");
  const { Ipv4Layer } = await import("../ipv4/ipv4.ts");
  const { Ipv6Layer } = await import("../ipv6/ipv6.ts");
  const { Ipv4v6Layer } = await import("../stack/ipv4v6.ts");
  const { UdpLayer } = await import("./udp.ts");
  const { ipv6PseudoSum, parseIpv6Address, writeIpv6Header } = await import("../wire/ipv6.ts");
  const { emitUdp } = await import("../wire/udp.ts");
  const sw = new MemorySwitch();
  const ethernet = new EthernetLayer(sw.port({ mac: "02:00:00:00:00:01" }));
  const ipv4 = new Ipv4Layer(ethernet, new ArpLayer(ethernet), { cidr: "192.0.2.2/24" });
  const ipv6 = new Ipv6Layer(ethernet, { cidr: "2001:db8::2/64", acceptRouterAdvertisements: false, dadTransmits: 0 });
  const udp = new UdpLayer(new Ipv4v6Layer(ipv4, ipv6));
  const got: Datagram[] = [];
  udp.listen(7, (d) => got.push(d));
  const raw = sw.port({ mac: "02:00:00:00:00:99" });
  const src = parseIpv6Address("2001:db8::99")!;
  const dst = parseIpv6Address("2001:db8::2")!;
  const frame = (zero: boolean) => {
    const f = new Uint8Array(14 + 40 + 12);
    f.set(ethernet.mac);
    f.set(raw.mac, 6);
    f[12] = 0x86;
    f[13] = 0xdd;
    writeIpv6Header(f, 14, src, dst, 17, 64, 12);
    emitUdp({ srcPort: 1000, dstPort: 7, payload: new Uint8Array([1, 2, 3, 4]) }, f.subarray(54), ipv6PseudoSum(src, dst, 17, 12));
    if (zero) f[60] = f[61] = 0;
    return f;
  };
  try {
    raw.write(frame(true));
    raw.write(frame(false));
    await sw.settle();
    // Dropped once, by whichever layer sees it first (IPv6 checks before handing it up).
    assert.equal(udp.counters.get("missing-checksum") + ipv6.counters.get("udp-zero-checksum"), 1);
    assert.equal(got.length, 1);
    assert.equal(got[0]!.src, "2001:db8::99");
  } finally {
    await ipv6.disconnect();
    await ipv4.disconnect();
  }
});
