import { test } from "node:test";
import assert from "node:assert/strict";
import { parseArgs } from "../../runtime/args.ts";
import { tcpDevice } from "./index.ts";
import { TestNet } from "./test-support.ts";

test("tcpDevice declares its runtime arguments and connects over the ip it is given", async () => {
  const connect = tcpDevice.declare({}, { name: "tcp", group: "" });
  parseArgs(["--tcp-congestion=newreno", "--tcp-msl-ms=250"]);
  const net = new TestNet();
  const tcp = await connect({ ip: net.ip("192.0.2.1") });
  const peer = net.tcp("192.0.2.2");
  peer.listen(80, () => {});
  const started = net.clock.nowMs();
  // The device runs on real timers; drive the handshake through the virtual link by hand.
  const flow = tcp.connect("192.0.2.2", 80);
  await net.clock.runUntil(() => tcp.stats().connections.ESTABLISHED === 1);
  const f = await flow;
  assert.equal(tcp.connection(f.local, f.remote)!.debugState().congestion, "newreno");
  assert.ok(net.clock.nowMs() - started < 100);
  tcp.disconnect();
  assert.equal(tcp.stats().connectionCount, 0);
});

test("tcpDevice rejects a bad congestion algorithm at boot with a clear message", () => {
  assert.throws(() => parseArgs(["--tcp-congestion=vegas"]), /invalid value 'vegas' for --tcp-congestion: expected one of cubic, newreno/);
});
