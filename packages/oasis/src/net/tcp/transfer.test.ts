import { test } from "node:test";
import assert from "node:assert/strict";
import type { TcpFlow } from "../../devices/tcp.ts";
import type { CongestionAlgorithm } from "./congestion.ts";
import { TestNet, pattern, readAll, type LinkFaults } from "./test-support.ts";

async function transfer(faults: LinkFaults, size: number, config: { congestionControl?: CongestionAlgorithm; sack?: boolean; timestamps?: boolean } = {}, seed = 3) {
  const net = new TestNet({ seed, faults });
  const a = net.tcp("192.0.2.1", config);
  const b = net.tcp("192.0.2.2", config);
  let got: Uint8Array | null = null;
  b.listen(5001, async (flow) => {
    got = await readAll(flow);
    await flow.close();
  });
  const data = pattern(size, seed);
  const flow = await net.clock.run(a.connect("192.0.2.2", 5001));
  await net.clock.run(
    (async () => {
      for (let o = 0; o < data.length; o += 100_000) await flow.write(data.subarray(o, o + 100_000));
      await flow.close();
    })(),
  );
  await net.clock.runUntil(() => got !== null);
  assert.equal(got!.length, data.length);
  assert.ok(Buffer.from(got!).equals(Buffer.from(data)), "bytes differ");
  await net.clock.advance(10_000);
  assert.equal(a.stats().connectionCount, 0, JSON.stringify(a.stats().connections));
  assert.equal(b.stats().connectionCount, 0, JSON.stringify(b.stats().connections));
  return { a: a.stats(), b: b.stats(), elapsed: net.clock.nowMs() };
}

test("moves 4 MB byte-exact through 5% loss, reordering and duplication (CUBIC, SACK)", async () => {
  const s = await transfer({ loss: 0.05, reorder: 0.05, duplicate: 0.02, delayMs: 5 }, 4_000_000);
  if (process.env.TCP_TEST_VERBOSE) console.log(s);
  assert.ok(s.a.retransmits > 0);
  assert.ok(s.a.fastRecoveries > 0, "losses should mostly be repaired by SACK recovery");
});

test("moves 2 MB byte-exact through 5% loss with NewReno and without SACK or timestamps", async () => {
  const s = await transfer({ loss: 0.05, reorder: 0.03, duplicate: 0.02, delayMs: 5 }, 2_000_000, { congestionControl: "newreno", sack: false, timestamps: false }, 11);
  assert.ok(s.a.fastRecoveries > 0);
});

test("repairs a single loss with one retransmission thanks to SACK", async () => {
  const net = new TestNet({ faults: { delayMs: 10 } });
  // Drop the 20th data segment exactly once.
  let dataSegs = 0;
  net.faults.drop = (s) => s.src === "192.0.2.1" && s.tcp.payload.length > 0 && ++dataSegs === 20;
  const a = net.tcp("192.0.2.1");
  const b = net.tcp("192.0.2.2");
  let got: Uint8Array | null = null;
  b.listen(9, async (f) => {
    got = await readAll(f);
  });
  const data = pattern(300_000);
  const flow = await net.clock.run(a.connect("192.0.2.2", 9));
  await net.clock.run(flow.write(data));
  await net.clock.run(flow.shutdown("write"));
  await net.clock.runUntil(() => got !== null);
  assert.ok(Buffer.from(got!).equals(Buffer.from(data)));
  const s = a.stats();
  assert.equal(s.retransmits, 1);
  assert.equal(s.fastRecoveries, 1);
  assert.equal(s.rtoExpiries, 0);
});

test("retransmits after RTO with backoff and gives up with FlowError timeout", async () => {
  const net = new TestNet();
  const a = net.tcp("192.0.2.1", { maxRetransmits: 4, minRtoMs: 200 });
  const b = net.tcp("192.0.2.2");
  let server: TcpFlow | null = null;
  b.listen(7, (f) => {
    server = f;
  });
  const flow = await net.clock.run(a.connect("192.0.2.2", 7));
  await net.clock.runUntil(() => server !== null);
  // From now on the wire is cut.
  net.record = true;
  net.faults.loss = 1;
  const t0 = net.clock.nowMs();
  await net.clock.run(flow.write(pattern(1000)));
  const err = await net.clock.run(flow.read()).catch((e: unknown) => e);
  assert.equal((err as { code?: string }).code, "timeout");
  const sends = net.seen.filter((s) => s.src === "192.0.2.1" && s.tcp.payload.length > 0).map((s) => s.tcp.seq);
  assert.equal(sends.length, 5); // original + 4 retransmissions
  assert.ok(sends.every((q) => q === sends[0]));
  const st = a.stats();
  assert.equal(st.retransmits, 4);
  assert.equal(st.timeouts, 1);
  assert.equal(st.connectionCount, 0);
  // RTO doubles: 200 (min, srtt≈2ms) → 400 → 800 → 1600 → 3200: gives up after 6.2 s.
  assert.equal(Math.round(net.clock.nowMs() - t0), 6200);
  await assert.rejects(flow.write(pattern(10)), (e: unknown) => (e as { code?: string }).code === "timeout");
});

test("honours the send buffer bound: write resolves only when the data fits", async () => {
  const net = new TestNet({ faults: { delayMs: 20 } });
  const a = net.tcp("192.0.2.1", { sendBufferSize: 64 * 1024 });
  const b = net.tcp("192.0.2.2", { receiveBufferSize: 64 * 1024 });
  let server: TcpFlow | null = null;
  b.listen(7, (f) => {
    server = f;
  });
  const flow = await net.clock.run(a.connect("192.0.2.2", 7));
  await net.clock.runUntil(() => server !== null);
  // Nobody reads on b: 64 KiB in b's window + 64 KiB in a's buffer, then writes wait.
  let accepted = 0;
  const writer = (async () => {
    for (let i = 0; i < 40; i++) {
      await flow.write(pattern(8192, i));
      accepted += 8192;
    }
  })();
  await net.clock.advance(2000);
  assert.ok(accepted >= 120 * 1024 && accepted <= 136 * 1024, `accepted ${accepted}`);
  const got = net.clock.run(readAll(server!));
  await net.clock.run(writer);
  await net.clock.run(flow.close());
  assert.equal((await got).length, 40 * 8192);
});

test("probes a lost tail with one segment instead of waiting for the RTO", async () => {
  const net = new TestNet({ faults: { delayMs: 10 } });
  const a = net.tcp("192.0.2.1", { minRtoMs: 1000 });
  const b = net.tcp("192.0.2.2");
  let got: Uint8Array | null = null;
  b.listen(9, async (f) => {
    got = await readAll(f);
  });
  const flow = await net.clock.run(a.connect("192.0.2.2", 9));
  const data = pattern(20 * 1448);
  // Drop the last data segment once.
  let dropped = false;
  net.faults.drop = (s) => {
    if (!dropped && s.src === "192.0.2.1" && s.tcp.payload.length > 0 && (s.tcp.flags & 8) !== 0) return (dropped = true);
    return false;
  };
  const t0 = net.clock.nowMs();
  await net.clock.run(flow.write(data));
  await net.clock.runUntil(() => a.connection(flow.local, flow.remote)!.debugState().sndUna === data.length + 1);
  const s = a.stats();
  assert.ok(dropped);
  assert.equal(s.tailLossProbes, 1);
  assert.equal(s.rtoExpiries, 0);
  assert.ok(net.clock.nowMs() - t0 < 1000, `recovered after ${net.clock.nowMs() - t0} ms`);
  await net.clock.run(flow.close());
  await net.clock.runUntil(() => got !== null);
  assert.ok(Buffer.from(got!).equals(Buffer.from(data)));
});

test("keeps cwnd at its initial window while the application, not the network, limits sending", async () => {
  const net = new TestNet({ faults: { delayMs: 5 } });
  const a = net.tcp("192.0.2.1");
  const b = net.tcp("192.0.2.2");
  b.listen(9, async (f) => {
    await readAll(f);
  });
  const flow = await net.clock.run(a.connect("192.0.2.2", 9));
  const initial = a.connection(flow.local, flow.remote)!.debugState().cwnd;
  for (let i = 0; i < 200; i++) {
    await net.clock.run(flow.write(pattern(2000, i)));
    await net.clock.advance(20);
  }
  assert.equal(a.connection(flow.local, flow.remote)!.debugState().cwnd, initial);
  // A bulk transfer, which fills the window, does grow it.
  await net.clock.run(flow.write(pattern(2_000_000)));
  await net.clock.advance(2000);
  assert.ok(a.connection(flow.local, flow.remote)!.debugState().cwnd > 4 * initial);
});
