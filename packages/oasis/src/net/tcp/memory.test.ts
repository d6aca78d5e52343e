// The memory budget across the connections of one instance (TcpConfig.memoryLimit).
import { test } from "node:test";
import assert from "node:assert/strict";
import type { TcpFlow } from "../../devices/tcp.ts";
import { parseArgs } from "../../runtime/args.ts";
import { resolveConfig } from "./config.ts";
import { tcpDevice } from "./index.ts";
import type { TcpStack } from "./stack.ts";
import { TestNet, pattern, readAll } from "./test-support.ts";

const MSS = 1448; // 1500-byte links, timestamps on

/** The documented bound: the limit plus each connection's floor of 2·MSS per direction. */
function bound(limit: number, connections: number, directions: 1 | 2): number {
  return limit + connections * directions * 2 * MSS;
}

/** Checks the budget and the buffers agree: nothing held, nothing reserved once all is closed. */
async function assertDrained(net: TestNet, ...stacks: TcpStack[]): Promise<void> {
  await net.clock.advance(10_000);
  for (const s of stacks) {
    const st = s.stats();
    assert.equal(st.connectionCount, 0, JSON.stringify(st.connections));
    assert.equal(st.memoryUsed, 0, "bytes still charged after every connection closed");
    assert.equal(st.memoryReserved, 0, "windows still reserved after every connection closed");
  }
}

test("memoryLimit is validated and defaults to 64 MiB", () => {
  assert.equal(resolveConfig({}).memoryLimit, 64 * 1024 * 1024);
  for (const bad of [0, -1, Number.NaN, Infinity]) {
    assert.throws(() => resolveConfig({ memoryLimit: bad }), RangeError, String(bad));
  }
  const net = new TestNet();
  const s = net.tcp("192.0.2.1", { memoryLimit: 12345 }).stats();
  assert.equal(s.memoryLimit, 12345);
  assert.equal(s.memoryUsed, 0);
});

test("tcpDevice takes the budget from --tcp-memory-mib", async () => {
  const connect = tcpDevice.declare({}, { name: "tcp", group: "" });
  parseArgs(["--tcp-memory-mib=8"]);
  const tcp = await connect({ ip: new TestNet().ip("192.0.2.1") });
  assert.equal(tcp.stats().memoryLimit, 8 * 1024 * 1024);
  tcp.disconnect();
});

test("200 connections with stalled readers stay within the budget, then all complete byte-exact", async () => {
  const net = new TestNet({ faults: { delayMs: 2 } });
  const limit = 1024 * 1024;
  const a = net.tcp("192.0.2.1", { memoryLimit: limit });
  const b = net.tcp("192.0.2.2", { memoryLimit: limit });
  const N = 200;
  const size = 64 * 1024;
  const servers: TcpFlow[] = [];
  b.listen(80, (f) => void servers.push(f), { backlog: N });
  const clients = await net.clock.run(Promise.all(Array.from({ length: N }, () => a.connect("192.0.2.2", 80))));
  await net.clock.runUntil(() => servers.length === N);
  const dataOf = new Map<number, Uint8Array>();
  let written = 0;
  const writing = clients.map((c, i) => {
    const data = pattern(size, i + 1);
    dataOf.set(c.local.port, data);
    return c.write(data).then(() => {
      written++;
      return c.close();
    });
  });
  // Every writer sends 64 KiB, 12.5 MiB in all, faster than the (stalled) readers read.
  await net.clock.advance(5000);
  const sa = a.stats();
  const sb = b.stats();
  // Without a budget the receiver would hold all 12.5 MiB (each 64 KiB fits the initial window).
  assert.ok(sb.memoryPeak <= bound(limit, N, 1), `receiver peak ${sb.memoryPeak} > ${bound(limit, N, 1)}`);
  assert.ok(sa.memoryPeak <= bound(limit, N, 1), `sender peak ${sa.memoryPeak} > ${bound(limit, N, 1)}`);
  assert.ok(sb.memoryUsed + sb.memoryReserved <= bound(limit, N, 1));
  assert.ok(sb.memoryUsed > limit / 2, `receiver holds only ${sb.memoryUsed}: the test puts no pressure on it`);
  assert.ok(sb.memoryLimitedWindows > 0, "windows were held back by the budget");
  assert.ok(sa.memoryDelayedWrites > 0, "writes waited for the budget");
  assert.ok(written < N, `${written} of ${N} writes were buffered although the budget holds a fraction`);
  for (const c of clients) {
    const st = a.connection(c.local, c.remote)?.state;
    assert.ok(st === "ESTABLISHED" || st === "FIN_WAIT_1" || st === "FIN_WAIT_2", `writers wait, they do not fail: ${st}`);
  }

  // The readers resume: every transfer completes byte-exact, without waiting on backed-off
  // persist timers (each would cost seconds).
  const t0 = net.clock.nowMs();
  const got = await net.clock.run(
    Promise.all(
      servers.map(async (f) => {
        const bytes = await readAll(f);
        await f.close();
        return { port: f.remote.port, bytes };
      }),
    ),
    60_000,
  );
  const elapsed = net.clock.nowMs() - t0;
  await net.clock.run(Promise.all(writing));
  assert.equal(written, N);
  for (const g of got) assert.ok(Buffer.from(g.bytes).equals(Buffer.from(dataOf.get(g.port)!)), `bytes differ on port ${g.port}`);
  assert.ok(elapsed < 2000, `the transfers took ${elapsed} ms of virtual time after the readers resumed`);
  assert.ok(b.stats().memoryPeak <= bound(limit, N, 1));
  assert.ok(a.stats().memoryPeak <= bound(limit, N, 1));
  await assertDrained(net, a, b);
});

async function pair(net: TestNet, client: TcpStack, server: TcpStack, port: number): Promise<{ c: TcpFlow; s: TcpFlow }> {
  let s: TcpFlow | null = null;
  server.listen(port, (f) => {
    s = f;
  });
  const c = await net.clock.run(client.connect("192.0.2.2", port));
  await net.clock.runUntil(() => s !== null);
  return { c, s: s! };
}

test("a single connection with a budget smaller than its buffers transfers byte-exact both ways", async () => {
  const net = new TestNet({ faults: { delayMs: 5 } });
  const limit = 16 * 1024; // a sixteenth of the send buffer, a sixty-fourth of the receive buffer
  const a = net.tcp("192.0.2.1", { memoryLimit: limit });
  const b = net.tcp("192.0.2.2", { memoryLimit: limit });
  const { c, s } = await pair(net, a, b, 80);
  const up = pattern(1_000_000, 1);
  const down = pattern(700_000, 2);
  // Both ends write and read at once; the server's reader pauses for 2 s on the way.
  const sending = [c.write(up).then(() => c.shutdown("write")), s.write(down).then(() => s.shutdown("write"))];
  const clientReads = readAll(c);
  const serverReads = (async () => {
    const first = await s.read();
    await net.clock.advance(2000);
    const rest = await readAll(s);
    return Buffer.concat([first!, rest]);
  })();
  const t0 = net.clock.nowMs();
  const [gotUp, gotDown] = await net.clock.run(Promise.all([serverReads, clientReads]), 60_000);
  await net.clock.run(Promise.all(sending));
  assert.ok(Buffer.from(gotUp).equals(Buffer.from(up)), "client to server differs");
  assert.ok(Buffer.from(gotDown).equals(Buffer.from(down)), "server to client differs");
  for (const st of [a.stats(), b.stats()]) {
    assert.ok(st.memoryPeak <= bound(limit, 1, 2), `peak ${st.memoryPeak} > ${bound(limit, 1, 2)}`);
    assert.ok(st.memoryPeak > limit / 2);
    assert.ok(st.memoryLimitedWindows > 0);
    assert.ok(st.memoryDelayedWrites > 0);
  }
  // Two segments a round trip would take ≥ 8 s for 1.7 MB at 10 ms RTT; the budget does better.
  if (process.env.TCP_TEST_VERBOSE) console.log(a.stats(), b.stats());
  assert.ok(net.clock.nowMs() - t0 < 2000 + 5000, `took ${net.clock.nowMs() - t0} ms`);
  await net.clock.run(Promise.all([c.close(), s.close()]));
  await assertDrained(net, a, b);
});

test("a write waits while a stalled reader holds the budget, still goes through on its floor, and the reader resumes", async () => {
  const net = new TestNet({ faults: { delayMs: 2 } });
  const limit = 32 * 1024;
  const a = net.tcp("192.0.2.1", { memoryLimit: limit });
  const b = net.tcp("192.0.2.2");
  const hog = await pair(net, a, b, 80);
  const small = await pair(net, a, b, 81);
  // The client's reader of `hog` is stalled: what the server sends fills the client's budget.
  const big = pattern(400_000, 3);
  const hogWriting = hog.s.write(big).then(() => hog.s.shutdown("write"));
  await net.clock.advance(1000);
  const held = a.stats().memoryUsed + a.stats().memoryReserved;
  assert.ok(held >= limit - MSS, `client holds ${held}`);
  const delayedBefore = a.stats().memoryDelayedWrites;
  // A write on another connection must not wait for the hog's reader.
  const data = pattern(100_000, 4);
  const reading = readAll(small.s);
  await net.clock.run(small.c.write(data).then(() => small.c.shutdown("write")), 30_000);
  const got = await net.clock.run(reading);
  assert.ok(Buffer.from(got).equals(Buffer.from(data)));
  assert.ok(a.stats().memoryDelayedWrites > delayedBefore, "the write waited for memory");
  assert.ok(a.stats().memoryPeak <= bound(limit, 2, 2), `peak ${a.stats().memoryPeak}`);
  // The hog's reader resumes: everything arrives.
  const hogGot = await net.clock.run(readAll(hog.c), 30_000);
  assert.ok(Buffer.from(hogGot).equals(Buffer.from(big)));
  await net.clock.run(hogWriting);
  await net.clock.run(Promise.all([hog.c.close(), hog.s.close(), small.c.close(), small.s.close()]));
  await assertDrained(net, a, b);
});

test("a window held back by the budget reopens with a window update as soon as memory frees", async () => {
  const net = new TestNet({ faults: { delayMs: 2 } });
  const limit = 64 * 1024;
  const a = net.tcp("192.0.2.1");
  const b = net.tcp("192.0.2.2", { memoryLimit: limit });
  const hog = await pair(net, a, b, 80);
  const other = await pair(net, a, b, 81);
  const hogData = pattern(200_000, 5);
  const otherData = pattern(100_000, 6);
  const hogWriting = hog.c.write(hogData).then(() => hog.c.shutdown("write"));
  await net.clock.advance(1000);
  // New connections are accepted under pressure, and `other` (connected before) gets only its floor.
  const late = await pair(net, a, b, 82);
  assert.equal(b.connection(late.s.local, late.s.remote)?.state, "ESTABLISHED");
  const otherWriting = other.c.write(otherData).then(() => other.c.shutdown("write"));
  // Neither reader reads for long enough that the persist timer backs off to seconds.
  await net.clock.advance(10_000);
  const conn = b.connection(other.s.local, other.s.remote)!;
  const heldBack = conn.debugState().buffered;
  assert.ok(heldBack <= 2 * MSS, `the held-back connection buffered ${heldBack}`);
  assert.equal(conn.debugState().rcvWindow, 0);
  assert.ok(b.stats().memoryLimitedWindows > 0);
  // The hog's reader takes everything: `other` must hear at once that its window reopened,
  // although its own reader still sleeps.
  const updatesBefore = b.stats().windowUpdates;
  const hogReading = readAll(hog.s);
  await net.clock.advance(50);
  assert.ok(b.stats().windowUpdates > updatesBefore);
  assert.ok(conn.debugState().buffered > heldBack + 2 * MSS, `buffered ${conn.debugState().buffered} 50 ms after memory freed`);
  const got = await net.clock.run(readAll(other.s), 10_000);
  assert.ok(Buffer.from(got).equals(Buffer.from(otherData)));
  assert.ok(Buffer.from(await net.clock.run(hogReading)).equals(Buffer.from(hogData)));
  await net.clock.run(Promise.all([hogWriting, otherWriting]));
  await net.clock.run(Promise.all([hog.c.close(), hog.s.close(), other.c.close(), other.s.close(), late.c.close(), late.s.close()]));
  await assertDrained(net, a, b);
});

test("over the budget, out-of-order segments are dropped and counted, and the transfer still completes", async () => {
  const net = new TestNet({ faults: { delayMs: 2 } });
  const limit = 64 * 1024;
  const a = net.tcp("192.0.2.1");
  const b = net.tcp("192.0.2.2", { memoryLimit: limit });
  const hog = await pair(net, a, b, 80);
  const hogData = pattern(200_000, 7);
  const hogWriting = hog.c.write(hogData).then(() => hog.c.shutdown("write"));
  await net.clock.advance(1000);
  assert.ok(b.stats().memoryUsed > limit - MSS, `the hog holds only ${b.stats().memoryUsed}`);
  const other = await pair(net, a, b, 81);
  // The first data segment of `other` is lost once: what follows it arrives out of order.
  let lost = false;
  net.faults.drop = (seg) => {
    if (!lost && seg.tcp.srcPort === other.c.local.port && seg.tcp.payload.length > 0) return (lost = true);
    return false;
  };
  const data = pattern(50_000, 8);
  const reading = readAll(other.s);
  const writing = other.c.write(data).then(() => other.c.shutdown("write"));
  const got = await net.clock.run(reading, 30_000);
  await net.clock.run(writing);
  assert.ok(lost);
  assert.ok(Buffer.from(got).equals(Buffer.from(data)));
  const s = b.stats();
  assert.ok((s.drops["memory-out-of-order"] ?? 0) > 0, JSON.stringify(s.drops));
  assert.equal(s.outOfOrder, 0, "nothing was queued out of order while over the budget");
  assert.ok(Buffer.from(await net.clock.run(readAll(hog.s))).equals(Buffer.from(hogData)));
  await net.clock.run(hogWriting);
  await net.clock.run(Promise.all([hog.c.close(), hog.s.close(), other.c.close(), other.s.close()]));
  await assertDrained(net, a, b);
});

test("a connection that ends with unread data or an open window gives its memory back", async () => {
  const net = new TestNet({ faults: { delayMs: 2 } });
  const a = net.tcp("192.0.2.1");
  const b = net.tcp("192.0.2.2", { memoryLimit: 256 * 1024 });
  // Reset by the peer while 50 KB wait unread and the window is still open.
  const reset = await pair(net, a, b, 80);
  void reset.c.write(pattern(50_000, 9));
  await net.clock.advance(500);
  // Closed by our application without reading: a RST, the data is dropped.
  const closed = await pair(net, a, b, 81);
  void closed.c.write(pattern(30_000, 10));
  await net.clock.advance(500);
  const before = b.stats();
  assert.ok(before.memoryUsed >= 80_000, `holds ${before.memoryUsed}`);
  assert.ok(before.memoryReserved > 0);
  a.connection(reset.c.local, reset.c.remote)!.abort();
  await closed.s.close();
  await net.clock.advance(500);
  // The reset flow's data may still be read, but it no longer holds the instance's budget.
  const st = b.stats();
  assert.equal(st.connectionCount, 0);
  assert.equal(st.memoryUsed, 0);
  assert.equal(st.memoryReserved, 0);
  const left = await reset.s.read();
  assert.ok(left !== null && left.length > 0);
});
