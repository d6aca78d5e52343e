import { test } from "node:test";
import assert from "node:assert/strict";
import type { TcpFlow } from "../../devices/tcp.ts";
import { TestNet, pattern } from "./test-support.ts";

test("pipes a flow's readable into another flow's writable (Web Streams), byte-exact", async () => {
  const net = new TestNet({ faults: { delayMs: 2, loss: 0.01 } });
  const a = net.tcp("192.0.2.1");
  const b = net.tcp("192.0.2.2");
  // b echoes through the streams API.
  b.listen(7, async (flow: TcpFlow) => {
    await flow.readable.pipeTo(flow.writable);
  });
  const flow = await net.clock.run(a.connect("192.0.2.2", 7));
  const data = pattern(500_000);
  const writing = (async () => {
    const w = flow.writable.getWriter();
    for (let o = 0; o < data.length; o += 64_000) await w.write(data.subarray(o, o + 64_000));
    await w.close();
  })();
  const chunks: Uint8Array[] = [];
  const reading = (async () => {
    for await (const c of flow.readable) chunks.push(c);
  })();
  await net.clock.run(Promise.all([writing, reading]));
  assert.ok(Buffer.concat(chunks).equals(Buffer.from(data)));
  await net.clock.advance(5000);
  assert.equal(a.stats().connectionCount + b.stats().connectionCount, 0);
});
