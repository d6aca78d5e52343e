import { test } from "node:test";
import assert from "node:assert/strict";
import * as http from "node:http";
import * as tls from "node:tls";
import { once } from "node:events";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHash, randomBytes } from "node:crypto";
import { SocketTcp, DEFAULT_SOCKET_CONFIG } from "../net/socket/index.ts";
import { toNodeDuplex } from "./node.ts";

const run = promisify(execFile);

test("Node's http.Server serves curl over Oasis flows (keep-alive, request bodies, remote address)", async () => {
  const tcp = new SocketTcp(DEFAULT_SOCKET_CONFIG);
  const server = http.createServer(async (req, res) => {
    const parts: Buffer[] = [];
    for await (const c of req) parts.push(c as Buffer);
    res.end(`${req.method} ${req.url} ${Buffer.concat(parts).length} from ${req.socket.remoteAddress}`);
  });
  tcp.listen(0, (flow) => {
    server.emit("connection", toNodeDuplex(flow));
  });
  try {
    const [ep] = await tcp.listening(0);
    const base = `http://127.0.0.1:${ep!.port}`;
    const { stdout, stderr } = await run("curl", ["-sS", "-v", `${base}/a`, "--next", "--data-binary", "hello", `${base}/b`]);
    assert.equal(stdout, "GET /a 0 from 127.0.0.1POST /b 5 from 127.0.0.1");
    assert.match(stderr, /Re-using existing connection|left intact/);
  } finally {
    server.close();
    await tcp.disconnect();
  }
});

test("the duplex keeps backpressure: a large body streams through without loss", async () => {
  const tcp = new SocketTcp(DEFAULT_SOCKET_CONFIG);
  const server = http.createServer((req, res) => {
    const hash = createHash("sha256");
    let n = 0;
    req.on("data", (c: Buffer) => {
      hash.update(c);
      n += c.length;
    });
    req.on("end", () => res.end(`${n} ${hash.digest("hex")}`));
  });
  tcp.listen(0, (flow) => void server.emit("connection", toNodeDuplex(flow)));
  try {
    const [ep] = await tcp.listening(0);
    const body = randomBytes(8 * 1024 * 1024);
    const res = await fetch(`http://127.0.0.1:${ep!.port}/upload`, { method: "POST", body });
    assert.equal(await res.text(), `${body.length} ${createHash("sha256").update(body).digest("hex")}`);
  } finally {
    server.close();
    await tcp.disconnect();
  }
});

test("tls.connect runs over a flow against a TLS server with a self-signed certificate", async () => {
  const dir = await mkdtemp(join(tmpdir(), "oasis-tls-"));
  const tcp = new SocketTcp(DEFAULT_SOCKET_CONFIG);
  let server: tls.Server | null = null;
  try {
    await run("openssl", [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
      "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"), "-days", "1",
      "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
    ]);
    const key = await readFile(join(dir, "key.pem"));
    const cert = await readFile(join(dir, "cert.pem"));
    server = tls.createServer({ key, cert }, (s) => {
      s.on("data", (d: Buffer) => s.write(`tls echo: ${d.toString()}`));
      s.on("end", () => s.end());
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const port = (server.address() as { port: number }).port;

    const flow = await tcp.connect("127.0.0.1", port);
    const secure = tls.connect({ socket: toNodeDuplex(flow), servername: "localhost", ca: cert });
    await once(secure, "secureConnect");
    assert.equal(secure.authorized, true);
    assert.equal(secure.getPeerCertificate().subject.CN, "localhost");
    secure.write("over oasis");
    const [reply] = (await once(secure, "data")) as [Buffer];
    assert.equal(reply.toString(), "tls echo: over oasis");
    secure.end();
    await once(secure, "close");

    // A wrong trust anchor is refused: the handshake really verifies.
    const flow2 = await tcp.connect("127.0.0.1", port);
    const untrusted = tls.connect({ socket: toNodeDuplex(flow2), servername: "localhost" });
    const [err] = (await once(untrusted, "error")) as [NodeJS.ErrnoException];
    assert.equal(err.code, "DEPTH_ZERO_SELF_SIGNED_CERT");
  } finally {
    server?.close();
    await tcp.disconnect();
    await rm(dir, { recursive: true, force: true });
  }
});

test("setTimeout emits timeout after inactivity, as http.Server's keep-alive timer expects", async () => {
  const tcp = new SocketTcp(DEFAULT_SOCKET_CONFIG);
  const server = http.createServer((_req, res) => res.end("ok"));
  server.keepAliveTimeout = 200;
  tcp.listen(0, (flow) => void server.emit("connection", toNodeDuplex(flow)));
  try {
    const [ep] = await tcp.listening(0);
    const net = await import("node:net");
    const s = net.connect(ep!.port, "127.0.0.1");
    s.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    const guard = setTimeout(() => s.destroy(new Error("the server did not close the idle connection")), 5000);
    const parts: Buffer[] = [];
    for await (const c of s) parts.push(c as Buffer);
    clearTimeout(guard);
    assert.match(Buffer.concat(parts).toString(), /^HTTP\/1\.1 200 OK/);
  } finally {
    server.close();
    await tcp.disconnect();
  }
});
