import { test } from "node:test";
import assert from "node:assert/strict";
import { ACK } from "../wire/tcp.ts";
import { TestNet, pattern, readAll } from "./test-support.ts";

test("closes the window under a slow reader and reopens it when the reader resumes", async () => {
  const net = new TestNet({ faults: { delayMs: 5 } });
  const { a, b, client, server } = await net.connectedPair({ receiveBufferSize: 64 * 1024, sendBufferSize: 64 * 1024 });
  const data = pattern(1_000_000);
  const writing = client.write(data).then(() => client.close());
  await net.clock.advance(3000);
  const cs = a.connection(client.local, client.remote)!.debugState();
  const ss = b.connection(server.local, server.remote)!.debugState();
  assert.equal(ss.rcvWindow, 0, "receiver advertises a zero window");
  assert.equal(cs.sndWnd, 0, "sender sees it");
  assert.equal(ss.buffered, 64 * 1024);
  // While stalled the sender only probes, with backoff: a handful of segments, not a flood.
  net.record = true;
  await net.clock.advance(10_000);
  const probes = net.seen.filter((s) => s.src === "192.0.2.1");
  assert.ok(probes.length >= 2 && probes.length <= 8, `${probes.length} probes in 10 s`);
  net.record = false;
  // The reader resumes: the window reopens (mirage-tcpip #340) and everything arrives.
  const got = await net.clock.run(readAll(server));
  await net.clock.run(writing);
  assert.ok(Buffer.from(got).equals(Buffer.from(data)));
});

test("recovers from a lost window update through the persist timer", async () => {
  const net = new TestNet({ faults: { delayMs: 5 } });
  const { client, server } = await net.connectedPair({ receiveBufferSize: 32 * 1024 });
  const data = pattern(200_000);
  const writing = client.write(data).then(() => client.close());
  await net.clock.advance(2000);
  // Drop every pure window update from the receiver for the first read.
  let droppedUpdates = 0;
  net.faults.drop = (s) => {
    if (s.src === "192.0.2.2" && s.tcp.flags === ACK && s.tcp.payload.length === 0 && s.tcp.window > 0 && droppedUpdates === 0) {
      droppedUpdates++;
      return true;
    }
    return false;
  };
  const got = await net.clock.run(readAll(server));
  await net.clock.run(writing);
  assert.equal(droppedUpdates, 1);
  assert.ok(Buffer.from(got).equals(Buffer.from(data)));
});

test("uses a scaled window larger than 64 KiB", async () => {
  const net = new TestNet({ faults: { delayMs: 50 } });
  const { a, client, server } = await net.connectedPair({ receiveBufferSize: 4 * 1024 * 1024 });
  const reading = readAll(server);
  const data = pattern(8_000_000);
  await net.clock.run(client.write(data).then(() => client.close()));
  const cs = a.connection(client.local, client.remote);
  void cs;
  const got = await net.clock.run(reading);
  assert.equal(got.length, data.length);
  // 8 MB over a 100 ms RTT: with a 64 KiB window it would need ≥ 12 s; scaling lets cwnd grow.
  assert.ok(net.clock.nowMs() < 6000, `took ${net.clock.nowMs()} ms`);
});

test("sends small writes at once with noDelay and coalesces them under Nagle", async () => {
  for (const noDelay of [false, true]) {
    const net = new TestNet({ faults: { delayMs: 20 } });
    const { client, server } = await net.connectedPair();
    client.setNoDelay(noDelay);
    net.record = true;
    const t0 = net.clock.nowMs();
    for (let i = 0; i < 5; i++) void client.write(new Uint8Array([i]));
    await net.clock.advance(1);
    const sentAtOnce = net.seen.filter((s) => s.src === "192.0.2.1" && s.tcp.payload.length > 0).length;
    assert.equal(sentAtOnce, noDelay ? 5 : 1, `noDelay=${noDelay}`);
    let got = 0;
    while (got < 5) got += (await net.clock.run(server.read()))!.length;
    assert.ok(net.clock.nowMs() - t0 < 200);
  }
});

test("delays a lone ACK and acknowledges every second segment at once", async () => {
  const net = new TestNet({ faults: { delayMs: 1 } });
  const { client, server } = await net.connectedPair({ delayedAckMs: 40 });
  void server;
  net.record = true;
  client.setNoDelay(true);
  await client.write(new Uint8Array(100));
  await net.clock.advance(100);
  const acks = net.seen.filter((s) => s.src === "192.0.2.2");
  const dataAt = net.seen.find((s) => s.src === "192.0.2.1")!;
  assert.equal(acks.length, 1);
  assert.ok(dataAt);
  net.seen.length = 0;
  const t0 = net.clock.nowMs();
  let ackTime = -1;
  net.faults.drop = (s) => {
    if (s.src === "192.0.2.2" && ackTime < 0) ackTime = net.clock.nowMs() - t0;
    return false;
  };
  await client.write(new Uint8Array(100));
  await net.clock.advance(100);
  assert.ok(ackTime >= 40 && ackTime < 45, `lone ACK after ${ackTime} ms`);
  net.seen.length = 0;
  await client.write(new Uint8Array(2 * 1448));
  await net.clock.advance(5);
  const quick = net.seen.filter((s) => s.src === "192.0.2.2");
  assert.equal(quick.length, 1, "two full segments are acknowledged without delay");
});
