// The HTTP server and client are target-neutral: here both run over Oasis's own TCP stack on an
// in-memory lossy link (the TCP engineer's harness), no kernel sockets involved.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { TestNet, pattern } from "../net/tcp/test-support.ts";
import { HttpConnection } from "./client.ts";
import { HttpResponse } from "./message.ts";
import { serve } from "./server.ts";

test("HTTP/1.1 keep-alive over Oasis TCP with 3% loss: request bodies in, chunked and sized bodies out", async () => {
  const net = new TestNet({ seed: 11, faults: { loss: 0.03, reorder: 0.03, delayMs: 2 } });
  const client = net.tcp("192.0.2.1");
  const server = net.tcp("192.0.2.2");
  const big = pattern(300_000, 5);
  serve(server, 80, async (req) => {
    if (req.path === "/upload") {
      const body = await req.bytes();
      return HttpResponse.text(createHash("sha256").update(body).digest("hex"));
    }
    if (req.path === "/stream") {
      async function* parts() {
        for (let o = 0; o < big.length; o += 50_000) yield big.subarray(o, o + 50_000);
      }
      return new HttpResponse(parts());
    }
    return HttpResponse.text(`${req.method} ${req.path} from ${req.remote?.address}`);
  });
  const flow = await net.clock.run(client.connect("192.0.2.2", 80));
  const conn = new HttpConnection(flow);
  const exchange = async () => {
    const hello = await conn.request({ target: "/hello", headers: { host: "192.0.2.2" } });
    assert.equal(await hello.text(), "GET /hello from 192.0.2.1");
    const up = await conn.request({ method: "POST", target: "/upload", headers: { host: "192.0.2.2" }, body: big });
    assert.equal(await up.text(), createHash("sha256").update(big).digest("hex"));
    const streamed = await conn.request({ target: "/stream", headers: { host: "192.0.2.2" } });
    assert.equal(streamed.headers.get("transfer-encoding"), "chunked");
    const got = await streamed.bytes();
    assert.ok(Buffer.from(got).equals(Buffer.from(big)), "streamed body differs");
    await conn.close();
  };
  await net.clock.run(exchange());
});

test("Node's http.Server runs over Oasis TCP flows through toNodeDuplex", async () => {
  const { createServer } = await import("node:http");
  const { toNodeDuplex } = await import("../flow/node.ts");
  const net = new TestNet({ seed: 5, faults: { loss: 0.02 } });
  const client = net.tcp("192.0.2.1");
  const server = net.tcp("192.0.2.2");
  const nodeServer = createServer((req, res) => res.end(`node saw ${req.method} ${req.url} from ${req.socket.remoteAddress}`));
  server.listen(8080, (flow) => {
    nodeServer.emit("connection", toNodeDuplex(flow));
  });
  const flow = await net.clock.run(client.connect("192.0.2.2", 8080));
  const conn = new HttpConnection(flow);
  await net.clock.run(
    (async () => {
      for (const path of ["/one", "/two"]) {
        const r = await conn.request({ target: path, headers: { host: "192.0.2.2" } });
        assert.equal(await r.text(), `node saw GET ${path} from 192.0.2.1`);
      }
      await conn.close();
    })(),
  );
  nodeServer.close();
});
