import { test } from "node:test";
import assert from "node:assert/strict";
import { FlowError } from "../../devices/errors.ts";
import type { TcpFlow } from "../../devices/tcp.ts";
import { IsnGenerator } from "./isn.ts";
import { TestNet } from "./test-support.ts";

const keepalive = { afterMs: 10_000, intervalMs: 1000, probes: 3 };

test("keeps an idle connection alive with answered probes", async () => {
  const net = new TestNet();
  const a = net.tcp("192.0.2.1");
  const b = net.tcp("192.0.2.2");
  b.listen(80, () => {});
  const flow = await net.clock.run(a.connect("192.0.2.2", 80, { keepalive }));
  net.record = true;
  await net.clock.advance(60_000);
  const probes = net.seen.filter((s) => s.src === "192.0.2.1");
  assert.ok(probes.length >= 5 && probes.length <= 7, `${probes.length} probes`);
  assert.equal(a.stats().connections.ESTABLISHED, 1);
  void flow;
});

test("times out a dead peer after the keepalive probes with FlowError timeout", async () => {
  const net = new TestNet();
  const a = net.tcp("192.0.2.1");
  const b = net.tcp("192.0.2.2");
  b.listen(80, () => {});
  const flow: TcpFlow = await net.clock.run(a.connect("192.0.2.2", 80, { keepalive }));
  const t0 = net.clock.nowMs();
  net.faults.loss = 1;
  const err = await net.clock.run(flow.read()).catch((e: unknown) => e);
  assert.ok(err instanceof FlowError && err.code === "timeout", String(err));
  // 10 s idle, then 3 probes 1 s apart, then one more interval.
  assert.ok(Math.abs(net.clock.nowMs() - t0 - 13_000) < 50, `after ${net.clock.nowMs() - t0} ms`);
  assert.equal(a.stats().connectionCount, 0);
});

test("ISNs follow the clock per 4-tuple and differ between tuples and keys", () => {
  const g = new IsnGenerator(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]));
  const h = new IsnGenerator(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 9]));
  const x0 = g.isn("192.0.2.1", 1000, "192.0.2.2", 80, 0);
  const x1 = g.isn("192.0.2.1", 1000, "192.0.2.2", 80, 1000);
  assert.equal((x1 - x0) >>> 0, 250_000); // 4 µs ticks
  assert.notEqual(g.isn("192.0.2.1", 1001, "192.0.2.2", 80, 0), x0);
  assert.notEqual(h.isn("192.0.2.1", 1000, "192.0.2.2", 80, 0), x0);
});
