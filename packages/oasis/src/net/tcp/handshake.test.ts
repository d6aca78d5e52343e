import { test } from "node:test";
import assert from "node:assert/strict";
import { FlowError } from "../../devices/errors.ts";
import type { TcpFlow } from "../../devices/tcp.ts";
import { TestNet, pattern, readAll } from "./test-support.ts";

test("transfers data both ways and leaves the table empty after TIME_WAIT", async () => {
  const net = new TestNet();
  const a = net.tcp("192.0.2.1");
  const b = net.tcp("192.0.2.2");
  const received: Uint8Array[] = [];
  b.listen(80, async (flow) => {
    received.push(await readAll(flow));
    await flow.write(new TextEncoder().encode("bye"));
    await flow.close();
  });
  const flow = await net.clock.run(a.connect("192.0.2.2", 80));
  assert.equal(flow.remote.port, 80);
  assert.ok(flow.local.port >= 49152);
  const data = pattern(100_000);
  await net.clock.run(flow.write(data));
  await net.clock.run(flow.shutdown("write"));
  const reply = await net.clock.run(readAll(flow));
  assert.equal(new TextDecoder().decode(reply), "bye");
  await net.clock.run(flow.close());
  assert.deepEqual(Buffer.from(received[0]!), Buffer.from(data));
  await net.clock.advance(5000);
  assert.equal(a.stats().connectionCount, 0);
  assert.equal(b.stats().connectionCount, 0);
});

test("negotiates window scaling, SACK, timestamps and MSS from the path MTU", async () => {
  const net = new TestNet();
  const a = net.tcp("192.0.2.1", {}, 1400);
  const b = net.tcp("192.0.2.2", {}, 1500);
  let server: TcpFlow | null = null;
  b.listen(80, (f) => {
    server = f;
  });
  const flow = await net.clock.run(a.connect("192.0.2.2", 80));
  await net.clock.runUntil(() => server !== null);
  const ca = a.connection(flow.local, flow.remote)!.debugState();
  assert.equal(ca.sackOk, true);
  assert.equal(ca.tsOk, true);
  assert.ok(ca.rcvWScale > 0 && ca.sndWScale > 0);
  // 1400 − 20 (IP) − 20 (TCP) − 12 (timestamps).
  assert.equal(ca.mss, 1348);
  assert.equal(ca.congestion, "cubic");
});

test("refuses a connection to a closed port with a RST", async () => {
  const net = new TestNet();
  const a = net.tcp("192.0.2.1");
  const b = net.tcp("192.0.2.2");
  await assert.rejects(net.clock.run(a.connect("192.0.2.2", 81)), (e: unknown) => e instanceof FlowError && e.code === "refused");
  assert.equal(b.stats().resetsSent, 1);
  assert.equal(a.stats().connectionCount, 0);
});

test("gives up a connect with FlowError timeout after the SYN retries", async () => {
  const net = new TestNet({ faults: { loss: 1 } });
  const a = net.tcp("192.0.2.1", { synRetries: 3 });
  net.tcp("192.0.2.2");
  const t0 = net.clock.nowMs();
  await assert.rejects(net.clock.run(a.connect("192.0.2.2", 80)), (e: unknown) => e instanceof FlowError && e.code === "timeout");
  // 1 + 2 + 4 + 8 s of backoff.
  assert.equal(net.clock.nowMs() - t0, 15_000);
  assert.equal(a.stats().connectionCount, 0);
});

test("rejects an unroutable destination with FlowError unreachable", async () => {
  const net = new TestNet();
  const a = net.tcp("192.0.2.1");
  await assert.rejects(net.clock.run(a.connect("198.51.100.9", 80)), (e: unknown) => e instanceof FlowError && e.code === "unreachable");
  assert.equal(a.stats().connectionCount, 0);
});
