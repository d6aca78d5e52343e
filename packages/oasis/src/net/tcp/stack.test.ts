// TCP on the real stack: Ethernet, ARP and IPv4 over the in-memory switch, with the phy fault
// injector between each host and the switch. Real timers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { MemorySwitch } from "../phy/switch.ts";
import { withFaults } from "../phy/faults.ts";
import { ipv4Stack } from "../stack/direct.ts";
import type { TcpFlow } from "../../devices/tcp.ts";
import { createTcp, type TcpStack } from "./index.ts";
import { pattern } from "./test-support.ts";

function hosts(faults: Parameters<typeof withFaults>[1]) {
  const sw = new MemorySwitch();
  let ta: TcpStack | null = null;
  let tb: TcpStack | null = null;
  const config = { minRtoMs: 30, initialRtoMs: 200, mslMs: 50 };
  const a = ipv4Stack(withFaults(sw.port({ name: "a" }), { seed: 1, ...faults }), { cidr: "192.0.2.2/24", tcp: (ip) => (ta = createTcp(ip, config)) });
  const b = ipv4Stack(withFaults(sw.port({ name: "b" }), { seed: 2, ...faults }), { cidr: "192.0.2.3/24", tcp: (ip) => (tb = createTcp(ip, config)) });
  return { a: ta! as TcpStack, b: tb! as TcpStack, close: () => Promise.all([a.stack.disconnect(), b.stack.disconnect()]) };
}

async function untilEmpty(...tcps: TcpStack[]): Promise<void> {
  const end = Date.now() + 10_000;
  while (tcps.some((t) => t.stats().connectionCount > 0)) {
    if (Date.now() > end) assert.fail(tcps.map((t) => JSON.stringify(t.stats().connections)).join(" / "));
    await new Promise((r) => setTimeout(r, 20));
  }
}

test("moves 2 MB each way byte-exact over IPv4 on the switch through 5% loss, reordering and duplication", { timeout: 120_000 }, async () => {
  const { a, b, close } = hosts({ loss: 0.05, reorder: 0.05, duplicate: 0.02 });
  const up = pattern(2_000_000, 1);
  const down = pattern(2_000_000, 2);
  const serverHash = createHash("sha256");
  b.listen(80, async (flow: TcpFlow) => {
    const writing = flow.write(down).then(() => flow.shutdown("write"));
    for (;;) {
      const c = await flow.read();
      if (c === null) break;
      serverHash.update(c);
    }
    await writing;
    await flow.close();
  });
  const flow = await a.connect("192.0.2.3", 80);
  const clientHash = createHash("sha256");
  const reading = (async () => {
    for (;;) {
      const c = await flow.read();
      if (c === null) break;
      clientHash.update(c);
    }
  })();
  await flow.write(up);
  await flow.shutdown("write");
  await reading;
  await flow.close();
  assert.equal(clientHash.digest("hex"), createHash("sha256").update(down).digest("hex"));
  await untilEmpty(a, b);
  assert.equal(serverHash.digest("hex"), createHash("sha256").update(up).digest("hex"));
  if (process.env.TCP_TEST_VERBOSE) console.log(a.stats(), b.stats());
  assert.ok(a.stats().retransmits > 0 && b.stats().retransmits > 0);
  await close();
});

test("refuses, then serves, then frees 500 connections on the real stack", { timeout: 60_000 }, async () => {
  const { a, b, close } = hosts({});
  await assert.rejects(a.connect("192.0.2.3", 81), (e: unknown) => (e as { code?: string }).code === "refused");
  b.listen(81, async (flow) => {
    const d = await flow.read();
    if (d) await flow.write(d);
    await flow.close();
  });
  await Promise.all(
    Array.from({ length: 500 }, async (_, i) => {
      const f = await a.connect("192.0.2.3", 81);
      await f.write(new Uint8Array([i & 255]));
      const echo = await f.read();
      assert.equal(echo![0], i & 255);
      assert.equal(await f.read(), null);
      await f.close();
    }),
  );
  await untilEmpty(a, b);
  await close();
});
