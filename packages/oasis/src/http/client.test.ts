import { test } from "node:test";
import assert from "node:assert/strict";
import * as http from "node:http";
import { once } from "node:events";
import { SocketTcp, DEFAULT_SOCKET_CONFIG } from "../net/socket/index.ts";
import { fetchOver, HttpConnection } from "./client.ts";
import { HttpError } from "./errors.ts";

async function nodeServer(handler: http.RequestListener): Promise<{ port: number; close: () => void }> {
  const server = http.createServer(handler);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { port: (server.address() as { port: number }).port, close: () => server.close() };
}

test("fetchOver reads Content-Length, chunked and close-delimited responses from Node's http server", async () => {
  const srv = await nodeServer((req, res) => {
    if (req.url === "/length") res.end("fixed body");
    else if (req.url === "/chunked") {
      res.write("part one, ");
      setTimeout(() => res.end("part two"), 10);
    } else if (req.url === "/echo") {
      const parts: Buffer[] = [];
      req.on("data", (c: Buffer) => parts.push(c));
      req.on("end", () => res.end(`${req.method} ${req.headers["content-length"]} ${Buffer.concat(parts).toString()}`));
    } else {
      res.writeHead(404).end("nope");
    }
  });
  const tcp = new SocketTcp(DEFAULT_SOCKET_CONFIG);
  try {
    const fixed = await fetchOver(tcp, `http://127.0.0.1:${srv.port}/length`);
    assert.equal(fixed.status, 200);
    assert.equal(fixed.text(), "fixed body");
    const chunked = await fetchOver(tcp, `http://127.0.0.1:${srv.port}/chunked`);
    assert.equal(chunked.headers.get("transfer-encoding"), "chunked");
    assert.equal(chunked.text(), "part one, part two");
    const posted = await fetchOver(tcp, `http://127.0.0.1:${srv.port}/echo`, { method: "POST", body: "payload" });
    assert.equal(posted.text(), "POST 7 payload");
    const missing = await fetchOver(tcp, `http://127.0.0.1:${srv.port}/missing`);
    assert.equal(missing.status, 404);
    await assert.rejects(fetchOver(tcp, "http://example.invalid/"), /not an IP address/);
    await assert.rejects(fetchOver(tcp, "https://127.0.0.1/"), /only http:/);
  } finally {
    srv.close();
    await tcp.disconnect();
  }
});

test("HttpConnection reuses one keep-alive connection for several requests, with HEAD in between", async () => {
  let connections = 0;
  const srv = await nodeServer((req, res) => res.end(`${req.method} ${req.url}`));
  const tcp = new SocketTcp(DEFAULT_SOCKET_CONFIG);
  try {
    const flow = await tcp.connect("127.0.0.1", srv.port);
    connections++;
    const conn = new HttpConnection(flow);
    const a = await conn.request({ target: "/a", headers: { host: "x" } });
    assert.equal(await a.text(), "GET /a");
    const h = await conn.request({ method: "HEAD", target: "/h", headers: { host: "x" } });
    assert.equal(h.status, 200);
    assert.equal((await h.bytes()).length, 0);
    const b = await conn.request({ target: "/b", headers: { host: "x" } });
    assert.equal(await b.text(), "GET /b");
    assert.equal(connections, 1);
    await conn.close();
  } finally {
    srv.close();
    await tcp.disconnect();
  }
});

test("a server that closes mid-head or sends garbage is a clear error, not a hang", async () => {
  const net = await import("node:net");
  const raw = net.createServer((s) => {
    s.once("data", () => s.end("HTTP/1.1 200 OK\r\nContent-Le"));
  });
  raw.listen(0, "127.0.0.1");
  await once(raw, "listening");
  const garbage = net.createServer((s) => s.once("data", () => s.end("SMTP ready\r\n\r\n")));
  garbage.listen(0, "127.0.0.1");
  await once(garbage, "listening");
  const tcp = new SocketTcp(DEFAULT_SOCKET_CONFIG);
  try {
    await assert.rejects(fetchOver(tcp, `http://127.0.0.1:${(raw.address() as { port: number }).port}/`), (e: unknown) => e instanceof HttpError && e.reason === "response-truncated");
    await assert.rejects(fetchOver(tcp, `http://127.0.0.1:${(garbage.address() as { port: number }).port}/`), (e: unknown) => e instanceof HttpError && e.reason === "bad-status-line");
  } finally {
    raw.close();
    garbage.close();
    await tcp.disconnect();
  }
});
