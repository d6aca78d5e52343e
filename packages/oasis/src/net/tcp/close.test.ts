import { test } from "node:test";
import assert from "node:assert/strict";
import { FlowError } from "../../devices/errors.ts";
import { TestNet, pattern, readAll } from "./test-support.ts";

test("closes simultaneously through CLOSING into TIME_WAIT on both sides, then frees both", async () => {
  const net = new TestNet({ faults: { delayMs: 10 } });
  const { a, b, client, server } = await net.connectedPair({ mslMs: 500 });
  net.record = true;
  await net.clock.run(Promise.all([client.close(), server.close()]));
  assert.equal(a.stats().connections.TIME_WAIT, 1);
  assert.equal(b.stats().connections.TIME_WAIT, 1);
  // Both FINs crossed: each side sent a FIN before seeing the other's.
  const fins = net.seen.filter((s) => s.tcp.flags & 1);
  assert.equal(fins.length, 2);
  await net.clock.advance(999);
  assert.equal(a.stats().connections.TIME_WAIT, 1, "TIME_WAIT lasts 2·MSL");
  await net.clock.advance(20);
  assert.equal(a.stats().connectionCount + b.stats().connectionCount, 0);
  assert.equal(a.stats().timerEntries + b.stats().timerEntries, 0);
});

test("half-closes: data still flows towards the side that sent FIN", async () => {
  const net = new TestNet();
  const { client, server } = await net.connectedPair();
  await net.clock.run(client.shutdown("write"));
  assert.equal(await net.clock.run(server.read()), null);
  const data = pattern(50_000);
  await net.clock.run(server.write(data));
  await net.clock.run(server.close());
  const got = await net.clock.run(readAll(client));
  assert.ok(Buffer.from(got).equals(Buffer.from(data)));
  await assert.rejects(client.write(new Uint8Array(1)), (e: unknown) => e instanceof FlowError && e.code === "closed");
});

test("resets the peer when closing with unread data", async () => {
  const net = new TestNet();
  const { a, b, client, server } = await net.connectedPair();
  await net.clock.run(client.write(pattern(1000)));
  await net.clock.advance(50);
  const reading = client.read();
  await net.clock.run(server.close());
  await assert.rejects(net.clock.run(reading), (e: unknown) => e instanceof FlowError && e.code === "reset");
  assert.equal(a.stats().connectionCount + b.stats().connectionCount, 0);
});

test("frees FIN_WAIT_2 after its timeout when the peer never closes", async () => {
  const net = new TestNet();
  const { a, b, client } = await net.connectedPair({ finWait2TimeoutMs: 5000 });
  await net.clock.run(client.close());
  assert.equal(a.stats().connections.FIN_WAIT_2, 1);
  await net.clock.advance(5001);
  assert.equal(a.stats().connectionCount, 0);
  assert.equal(b.stats().connections.CLOSE_WAIT, 1);
});

test("opens and closes 10 000 connections by FIN, RST and simultaneous close, leaving both tables empty", async () => {
  const net = new TestNet({ faults: { delayMs: 1, loss: 0.01 } });
  const a = net.tcp("192.0.2.1", { mslMs: 200, ephemeralPorts: [40000, 65000] });
  const b = net.tcp("192.0.2.2", { mslMs: 200 });
  let served = 0;
  b.listen(7, async (flow) => {
    const req = await flow.read();
    if (req === null) return;
    await flow.write(req);
    const mode = req[0]! % 3;
    if (mode === 0) {
      // Server closes first.
      await flow.close();
    } else if (mode === 1) {
      // Client resets; the server sees it on read.
      await flow.read().catch(() => {});
    } else {
      await flow.close();
    }
    served++;
  }, { backlog: 512 });
  const total = 10_000;
  let done = 0;
  async function one(i: number): Promise<void> {
    const flow = await a.connect("192.0.2.2", 7);
    await flow.write(new Uint8Array([i % 3, i >> 8, i & 0xff]));
    const echo = await flow.read();
    assert.equal(echo![2], i & 0xff);
    const mode = i % 3;
    if (mode === 0) {
      assert.equal(await flow.read(), null);
      await flow.close();
    } else if (mode === 1) {
      await flow.writable.abort(new Error("test reset"));
    } else {
      await flow.close();
    }
    done++;
  }
  const workers = Array.from({ length: 200 }, async (_, w) => {
    for (let i = w; i < total; i += 200) await one(i);
  });
  await net.clock.run(Promise.all(workers));
  assert.equal(done, total);
  await net.clock.advance(70_000);
  const sa = a.stats();
  const sb = b.stats();
  assert.equal(sa.connectionCount, 0, JSON.stringify(sa.connections));
  assert.equal(sb.connectionCount, 0, JSON.stringify(sb.connections));
  assert.equal(sa.timerEntries + sb.timerEntries, 0);
  assert.equal(sa.activeOpens, total);
  assert.ok(served >= total * 0.99);
});

test("runs out of ephemeral ports only while they are in use, and reuses them after TIME_WAIT (mirage-tcpip #462)", async () => {
  const net = new TestNet();
  const a = net.tcp("192.0.2.1", { ephemeralPorts: [50000, 50002], mslMs: 500 });
  const b = net.tcp("192.0.2.2");
  b.listen(80, async (f) => {
    await readAll(f);
    await f.close();
  });
  for (let round = 0; round < 3; round++) {
    const flows = await net.clock.run(Promise.all([0, 1, 2].map(() => a.connect("192.0.2.2", 80))));
    assert.deepEqual(flows.map((f) => f.local.port).sort(), [50000, 50001, 50002]);
    await assert.rejects(a.connect("192.0.2.2", 80), (e: unknown) => e instanceof FlowError && e.code === "address-in-use");
    await net.clock.run(Promise.all(flows.map((f) => f.close())));
    assert.equal(a.stats().connections.TIME_WAIT, 3);
    await net.clock.advance(1100);
    assert.equal(a.stats().connectionCount, 0);
  }
});
