import { test } from "node:test";
import assert from "node:assert/strict";
import { MemorySwitch } from "../phy/switch.ts";
import { ipv4Stack } from "../stack/direct.ts";
import type { Datagram } from "../../devices/udp.ts";

test("listen replaces, unlisten closes the port, ports outside 0..65535 are a RangeError", async () => {
  const sw = new MemorySwitch();
  const a = ipv4Stack(sw.port(), { cidr: "192.0.2.2/24" });
  const b = ipv4Stack(sw.port(), { cidr: "192.0.2.3/24" });
  try {
    const first: Datagram[] = [];
    const second: Datagram[] = [];
    b.udp.listen(5000, (d) => first.push(d));
    b.udp.listen(5000, (d) => second.push(d));
    await a.udp.write("192.0.2.3", 5000, new Uint8Array([1]));
    await sw.settle();
    assert.deepEqual([first.length, second.length], [0, 1]);
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
