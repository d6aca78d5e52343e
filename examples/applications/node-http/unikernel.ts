import { createServer } from "node:http";
import { getRequestListener } from "@hono/node-server";
import { Hono } from "hono";
import type { Stack } from "oasis";
import { toNodeDuplex } from "oasis/flow";
import { source } from "oasis/logs";
import { runtimeArg } from "oasis/runtime";

const log = source("node-http", "Hono over Node's http.Server over Oasis flows");

const port = runtimeArg.int({ name: "port", default: 8080, min: 1, max: 65535, doc: "The TCP port of the web server." });

const app = new Hono();
let visits = 0;
app.get("/", (c) => c.text("Hello from Hono on an Oasis unikernel\n"));
app.get("/hello/:name", (c) => c.json({ hello: c.req.param("name"), visits: ++visits }));
app.post("/echo", async (c) => c.body(await c.req.arrayBuffer(), 200, { "content-type": c.req.header("content-type") ?? "application/octet-stream" }));
app.get("/whoami", (c) => {
  // The remote address comes from the Oasis flow, through the Duplex adapter.
  const incoming = (c.env as { incoming?: { socket?: { remoteAddress?: string } } }).incoming;
  return c.text(`${incoming?.socket?.remoteAddress ?? "unknown"}\n`);
});

export async function start({ stack }: { stack: Stack }): Promise<void> {
  const server = createServer(getRequestListener(app.fetch));
  server.keepAliveTimeout = 5_000;
  stack.tcp.listen(port(), (flow) => {
    server.emit("connection", toNodeDuplex(flow));
  });
  log.info(`Hono listening on port ${port()}`);
  await stack.listen();
}
