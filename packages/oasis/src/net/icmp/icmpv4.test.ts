import { test } from "node:test";
import assert from "node:assert/strict";
import { MemorySwitch } from "../phy/switch.ts";
import { ipv4Stack } from "../stack/direct.ts";
import { ManualClock } from "../stack/clock.ts";
import { ICMP_DEST_UNREACHABLE } from "../wire/icmpv4.ts";

test("port-unreachable errors are rate limited to the burst, then refill with time", async () => {
  const sw = new MemorySwitch();
  const clock = new ManualClock();
  const a = ipv4Stack(sw.port(), { cidr: "192.0.2.2/24" });
  const b = ipv4Stack(sw.port(), { cidr: "192.0.2.3/24", clock, icmp: { errorsPerSecond: 10, errorBurst: 5 } });
  let unreachables = 0;
  a.ipv4.icmp.listen((_s, _d, m) => {
    if (m[0] === ICMP_DEST_UNREACHABLE && m[1] === 3) unreachables++;
  });
  try {
    for (let i = 0; i < 30; i++) await a.udp.write("192.0.2.3", 9, new Uint8Array([i]));
    await sw.settle();
    await sw.settle();
    await sw.settle();
    assert.equal(b.udp.counters.get("closed-port"), 30);
    assert.equal(unreachables, 5);
    assert.equal(b.ipv4.icmp.counters.get("error-rate-limited"), 25);
    clock.advance(300); // three tokens back at 10 per second
    for (let i = 0; i < 10; i++) await a.udp.write("192.0.2.3", 9, new Uint8Array([i]));
    await sw.settle();
    await sw.settle();
    await sw.settle();
    assert.equal(unreachables, 8);
  } finally {
    await a.stack.disconnect();
    await b.stack.disconnect();
  }
});

test("echo requests to a broadcast address get no reply; echo replies are not rate limited", async () => {
  const sw = new MemorySwitch();
  const a = ipv4Stack(sw.port(), { cidr: "192.0.2.2/24" });
  const b = ipv4Stack(sw.port(), { cidr: "192.0.2.3/24", icmp: { errorsPerSecond: 1, errorBurst: 1 } });
  let replies = 0;
  a.ipv4.icmp.listen((_s, _d, m) => void (m[0] === 0 && replies++));
  const echo = (seq: number) => new Uint8Array([8, 0, 0, 0, 0, 1, 0, seq]);
  try {
    a.ipv4.icmp.write("192.0.2.255", echo(0));
    await a.arp.query("192.0.2.3"); // unresolved, only 32 datagrams would wait in the ARP queue
    for (let i = 1; i <= 50; i++) a.ipv4.icmp.write("192.0.2.3", echo(i));
    for (let i = 0; i < 5; i++) {
      await sw.settle();
      await sw.settle();
    }
    assert.equal(replies, 50);
    assert.equal(b.ipv4.icmp.counters.get("echo-request"), 51);
  } finally {
    await a.stack.disconnect();
    await b.stack.disconnect();
  }
});
