// The stack behind the phy fault injector: corrupted frames are caught by the checksums and
// counted, never handed to the application altered; loss is covered by ARP's retries.
import { test } from "node:test";
import assert from "node:assert/strict";
import { MemorySwitch } from "../phy/switch.ts";
import { withFaults } from "../phy/faults.ts";
import { ipv4Stack } from "./direct.ts";

function payload(i: number): Uint8Array {
  const p = new Uint8Array(64);
  p[0] = i >> 8;
  p[1] = i;
  for (let k = 2; k < 64; k++) p[k] = (i * 31 + k * 7) & 0xff;
  return p;
}

test("bit flips, duplicates and reordering never reach the application as altered data", async () => {
  const sw = new MemorySwitch();
  const a = ipv4Stack(sw.port(), { cidr: "192.0.2.2/24" });
  const faulty = withFaults(sw.port(), { seed: 7, corrupt: 0.3, duplicate: 0.1, reorder: 0.1, direction: "rx" });
  const b = ipv4Stack(faulty, { cidr: "192.0.2.3/24" });
  b.arp.addStatic("192.0.2.2", a.ethernet.mac);
  a.arp.addStatic("192.0.2.3", b.ethernet.mac);
  const received = new Map<number, number>();
  let altered = 0;
  b.udp.listen(9, (d) => {
    const i = (d.data[0]! << 8) | d.data[1]!;
    if (d.data.length !== 64 || !payload(i).every((x, k) => x === d.data[k]) || d.srcPort !== 5000) altered++;
    else received.set(i, (received.get(i) ?? 0) + 1);
  });
  try {
    for (let i = 0; i < 400; i++) await a.udp.write("192.0.2.3", 9, payload(i), { srcPort: 5000 });
    for (let k = 0; k < 5; k++) {
      await sw.settle();
      await new Promise((r) => setTimeout(r, 15)); // held-back (reordered) frames go after 10 ms
    }
    const f = faulty.faultStats();
    assert.equal(altered, 0);
    assert.ok(f.corrupted > 50, `corrupted ${f.corrupted}`);
    const caught = b.ipv4.counters.get("bad-checksum") + b.udp.counters.get("bad-checksum");
    const otherDrops = Object.values(b.stack.counters()).flatMap((c) => Object.values(c)).reduce((x, y) => x + y, 0) - caught;
    assert.ok(caught > 30, `checksums caught ${caught} of ${f.corrupted} corrupted frames: ${JSON.stringify(b.stack.counters())}`);
    // What was not caught flipped a bit outside what any checksum covers (the source MAC, padding).
    assert.ok(received.size + caught + otherDrops >= 400 - 1, `${received.size} delivered, ${caught} caught, ${otherDrops} other drops`);
    assert.ok([...received.values()].some((n) => n === 2), "duplicates are delivered twice (UDP does not deduplicate)");
    assert.equal(b.ethernet.drops.get("handler-error") + b.ipv4.counters.get("handler-error"), 0);
  } finally {
    await a.stack.disconnect();
    await b.stack.disconnect();
  }
});

test("ARP resolves through a lossy link thanks to its retries", async () => {
  const sw = new MemorySwitch();
  // Half of what A receives is lost, so some replies never arrive and A must ask again.
  const lossy = withFaults(sw.port(), { seed: 3, loss: 0.5, direction: "rx" });
  const a = ipv4Stack(lossy, { cidr: "192.0.2.2/24", arp: { requests: 10, requestIntervalMs: 20 } });
  const b = ipv4Stack(sw.port(), { cidr: "192.0.2.3/24" });
  const sniffer = sw.port({ promiscuous: true });
  let requests = 0;
  sniffer.listen((f) => {
    if (f[12] === 0x08 && f[13] === 0x06 && f[21] === 1 && f[41] === 3 && f[31] === 2) requests++;
  });
  try {
    await sw.settle();
    const mac = await a.arp.query("192.0.2.3");
    assert.deepEqual(mac, b.ethernet.mac);
    assert.ok(requests >= 2, `resolved after ${requests} request(s): the seed should lose at least one reply`);
  } finally {
    await a.stack.disconnect();
    await b.stack.disconnect();
  }
});
