import { test } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { once } from "node:events";
import { createHash, randomBytes } from "node:crypto";
import fc from "fast-check";
import { HttpResponse } from "./message.ts";
import { rawExchange, run, startServer, statuses } from "./test-support.ts";

const echoPath = async (req: import("./message.ts").HttpRequest) => HttpResponse.text(`${req.method} ${req.path} ${req.query}`);

test("answers curl with status, Content-Length, Date and body", async () => {
  const s = await startServer(echoPath);
  try {
    const { stdout } = await run("curl", ["-sS", "-i", `http://127.0.0.1:${s.port}/hello?x=1`]);
    assert.match(stdout, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(stdout, /\r\ncontent-length: 14\r\n/i);
    assert.match(stdout, /\r\ndate: \w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT\r\n/i);
    assert.ok(stdout.endsWith("\r\n\r\nGET /hello x=1"));
    const v6 = await run("curl", ["-sS", `http://[::1]:${s.port}/six`]);
    assert.equal(v6.stdout, "GET /six ");
  } finally {
    await s.stop();
  }
});

test("pipelined requests on one connection get responses in order", async () => {
  let inFlight = 0;
  const s = await startServer(async (req) => {
    inFlight++;
    assert.equal(inFlight, 1, "requests of one connection must not overlap");
    // The first request is the slowest: order must still hold.
    await new Promise((r) => setTimeout(r, req.path === "/a" ? 50 : 1));
    inFlight--;
    return HttpResponse.text(req.path);
  });
  try {
    const reqs = ["/a", "/b", "/c"].map((p) => `GET ${p} HTTP/1.1\r\nHost: x\r\n\r\n`).join("") + "GET /d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    const { text, closed } = await rawExchange(s.port, reqs);
    assert.deepEqual(statuses(text), [200, 200, 200, 200]);
    const bodies = text.split(/HTTP\/1\.1 200 OK\r\n/).slice(1).map((r) => r.split("\r\n\r\n")[1]);
    assert.deepEqual(bodies, ["/a", "/b", "/c", "/d"]);
    assert.ok(closed, "Connection: close must close");
    assert.match(text.split("HTTP/1.1").at(-1)!, /connection: close/i);
  } finally {
    await s.stop();
  }
});

test("HEAD gets the headers of GET without a body", async () => {
  const s = await startServer(async () => HttpResponse.text("twelve bytes"));
  try {
    const { text } = await rawExchange(s.port, "HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    const [head, get] = text.split(/(?=HTTP\/1\.1 200)/);
    assert.match(head!, /content-length: 12\r\n/);
    assert.ok(head!.endsWith("\r\n\r\n"), "HEAD response must have no body");
    assert.ok(get!.endsWith("twelve bytes"));
  } finally {
    await s.stop();
  }
});

test("HTTP/1.0 closes after the response unless it asks for keep-alive", async () => {
  const s = await startServer(echoPath);
  try {
    const plain = await rawExchange(s.port, "GET /old HTTP/1.0\r\n\r\n");
    assert.ok(plain.closed);
    assert.match(plain.text, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(plain.text, /connection: close/);
    const kept = await rawExchange(s.port, "GET /k HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", { waitMs: 300 });
    assert.equal(kept.closed, false);
    assert.match(kept.text, /connection: keep-alive/);
  } finally {
    await s.stop();
  }
});

test("streams without a length go out chunked to HTTP/1.1 (curl decodes them) and close-delimited to HTTP/1.0", async () => {
  const s = await startServer(async () => {
    async function* parts() {
      for (let i = 0; i < 5; i++) yield new TextEncoder().encode(`part${i};`);
    }
    return new HttpResponse(parts());
  });
  try {
    const raw = await rawExchange(s.port, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert.match(raw.text, /transfer-encoding: chunked/);
    assert.match(raw.text, /\r\n6\r\npart0;\r\n/);
    assert.ok(raw.text.endsWith("0\r\n\r\n"));
    const { stdout } = await run("curl", ["-sS", `http://127.0.0.1:${s.port}/`]);
    assert.equal(stdout, "part0;part1;part2;part3;part4;");
    const old = await rawExchange(s.port, "GET / HTTP/1.0\r\n\r\n");
    assert.ok(old.closed);
    assert.doesNotMatch(old.text, /chunked/);
    assert.ok(old.text.endsWith("\r\n\r\npart0;part1;part2;part3;part4;"));
  } finally {
    await s.stop();
  }
});

test("request bodies: Content-Length and chunked (from curl and raw, with extensions and trailers) arrive intact", async () => {
  const s = await startServer(async (req) => {
    const body = await req.bytes();
    return HttpResponse.text(`${body.length} ${createHash("sha256").update(body).digest("hex")}`);
  });
  try {
    const data = randomBytes(300_000);
    const digest = createHash("sha256").update(data).digest("hex");
    const { stdout: viaLength } = await run("sh", ["-c", `head -c 300000 /dev/zero | curl -sS --data-binary @- http://127.0.0.1:${s.port}/`]);
    assert.equal(viaLength, `300000 ${createHash("sha256").update(Buffer.alloc(300000)).digest("hex")}`);
    const { stdout: viaChunked } = await run("sh", ["-c", `head -c 100000 /dev/zero | curl -sS -H "Transfer-Encoding: chunked" --data-binary @- http://127.0.0.1:${s.port}/`]);
    assert.equal(viaChunked, `100000 ${createHash("sha256").update(Buffer.alloc(100000)).digest("hex")}`);
    // Raw chunked body split at awkward places, with an extension and a trailer.
    const chunks: Buffer[] = [];
    for (let off = 0; off < data.length; off += 70_000) {
      const piece = data.subarray(off, off + 70_000);
      chunks.push(Buffer.from(`${piece.length.toString(16)};ext=1\r\n`), piece, Buffer.from("\r\n"));
    }
    const request = Buffer.concat([Buffer.from("POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"), ...chunks, Buffer.from("0\r\nX-Trailer: yes\r\n\r\n")]);
    const socket = net.connect(s.port, "127.0.0.1");
    await once(socket, "connect");
    for (let off = 0; off < request.length; off += 9_999) socket.write(request.subarray(off, off + 9_999));
    const parts: Buffer[] = [];
    for await (const c of socket) parts.push(c as Buffer);
    assert.ok(Buffer.concat(parts).toString().endsWith(`300000 ${digest}`));
  } finally {
    await s.stop();
  }
});

test("Expect: 100-continue gets an interim 100 before the body is read", async () => {
  const s = await startServer(async (req) => HttpResponse.text(String((await req.bytes()).length)));
  try {
    const { stdout, stderr } = await run("sh", ["-c", `head -c 2000 /dev/zero | curl -sS -v -H "Expect: 100-continue" --data-binary @- http://127.0.0.1:${s.port}/`]);
    assert.equal(stdout, "2000");
    assert.match(stderr, /HTTP\/1\.1 100 Continue/);
  } finally {
    await s.stop();
  }
});

const long = (n: number) => "a".repeat(n);
const MALFORMED: Array<[string, string, number]> = [
  ["garbage request line", "GARBAGE\r\n\r\n", 400],
  ["missing Host in HTTP/1.1", "GET / HTTP/1.1\r\n\r\n", 400],
  ["two Host headers", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400],
  ["HTTP/2.0 request line", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505],
  ["request line too long", `GET /${long(10_000)} HTTP/1.1\r\nHost: x\r\n\r\n`, 414],
  ["request line too long, never ending", `GET /${long(20_000)}`, 414],
  ["header section too large", `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${long(20_000)}\r\n\r\n`, 431],
  ["too many headers", `GET / HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 101 }, (_, i) => `X-H${i}: v\r\n`).join("")}\r\n`, 431],
  ["body too large", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999999\r\n\r\n", 413],
  ["chunked body too large", `POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFF\r\n`, 413],
  ["Content-Length and Transfer-Encoding", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400],
  ["unknown Transfer-Encoding", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501],
  ["non-numeric Content-Length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400],
  ["conflicting Content-Lengths", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400],
  ["space before colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400],
  ["obsolete line folding", "GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  folded\r\n\r\n", 400],
  ["bare LF line ends", "GET / HTTP/1.1\nHost: x\n\n", 400],
  ["NUL in a header value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n", 400],
  ["bad chunk size", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400],
  ["chunk without CRLF after data", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXX", 400],
  ["unknown Expect", "GET / HTTP/1.1\r\nHost: x\r\nExpect: tea\r\n\r\n", 417],
  ["chunked in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400],
  ["chunked not last", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 501],
  ["trailer section too large", `POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n${Array.from({ length: 20 }, (_, i) => `X-T${i}: ${long(1000)}\r\n`).join("")}\r\n`, 431],
];

test("malformed and oversized requests get 4xx/5xx answers, are counted, and the server keeps serving", async () => {
  const s = await startServer(async (req) => HttpResponse.text(`len ${(await req.bytes()).length}`));
  try {
    for (const [what, request, status] of MALFORMED) {
      const { text, closed } = await rawExchange(s.port, request);
      assert.deepEqual(statuses(text), [status], `${what}: got ${JSON.stringify(text.slice(0, 80))}`);
      assert.ok(closed, `${what}: connection must be closed`);
    }
    assert.equal(s.server.stats.rejected["request-line-too-long"], 2);
    assert.equal(s.server.stats.rejected["too-many-headers"], 1);
    const { stdout } = await run("curl", ["-sS", `http://127.0.0.1:${s.port}/`]);
    assert.equal(stdout, "len 0");
  } finally {
    await s.stop();
  }
});

test("random bytes never crash the server (property)", async () => {
  const s = await startServer(async (req) => HttpResponse.text(`len ${(await req.bytes()).length}`), { headerTimeoutMs: 300, bodyTimeoutMs: 300 });
  try {
    const prefix = fc.constantFrom("", "GET / HTTP/1.1\r\nHost: x\r\n", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n");
    await fc.assert(
      fc.asyncProperty(prefix, fc.uint8Array({ maxLength: 300 }), async (p, bytes) => {
        const { text } = await rawExchange(s.port, Buffer.concat([Buffer.from(p), bytes]), { end: true, waitMs: 3000 });
        for (const st of statuses(text)) assert.ok([200, 400, 408, 413, 414, 417, 431, 501, 505].includes(st), `unexpected status ${st}`);
      }),
      { numRuns: 60 },
    );
    const { stdout } = await run("curl", ["-sS", `http://127.0.0.1:${s.port}/`]);
    assert.equal(stdout, "len 0");
  } finally {
    await s.stop();
  }
});

test("a client that sends its head too slowly gets 408; an idle kept-alive connection is closed", async () => {
  const s = await startServer(echoPath, { headerTimeoutMs: 300, idleTimeoutMs: 300 });
  try {
    const slow = await rawExchange(s.port, "GET / HTTP/1.1\r\nHost: x\r\n", { waitMs: 4000 });
    assert.ok(slow.closed);
    assert.deepEqual(statuses(slow.text), [408]);
    const idle = await rawExchange(s.port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", { waitMs: 4000 });
    assert.ok(idle.closed, "idle connection must be closed by the server");
    assert.deepEqual(statuses(idle.text), [200]);
    const silent = await rawExchange(s.port, "", { waitMs: 4000 });
    assert.ok(silent.closed, "a connection that never sends must be closed");
  } finally {
    await s.stop();
  }
});

test("a failing handler answers 500 without leaking the error, and the connection stays usable", async () => {
  const { HttpError } = await import("./errors.ts");
  const s = await startServer(async (req) => {
    if (req.path === "/boom") throw new Error("secret internal detail");
    if (req.path === "/forbidden") throw new HttpError(403, "forbidden", "not for you");
    return HttpResponse.text("fine");
  });
  try {
    const { text } = await rawExchange(s.port, "GET /boom HTTP/1.1\r\nHost: x\r\n\r\nGET /forbidden HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert.deepEqual(statuses(text), [500, 403, 200]);
    assert.match(text, /403 Forbidden: not for you/);
    assert.doesNotMatch(text, /secret/);
  } finally {
    await s.stop();
  }
});

test("WHATWG Response objects are accepted from handlers", async () => {
  const s = await startServer(async () => new Response("from fetch api", { status: 201, headers: { "x-kind": "whatwg" } }));
  try {
    const { stdout } = await run("curl", ["-sS", "-i", `http://127.0.0.1:${s.port}/`]);
    assert.match(stdout, /^HTTP\/1\.1 201 Created/);
    assert.match(stdout, /x-kind: whatwg/);
    assert.ok(stdout.endsWith("from fetch api"));
  } finally {
    await s.stop();
  }
});

test("a client that does not read a large streamed response holds the handler back instead of filling memory", async () => {
  let produced = 0;
  const piece = new Uint8Array(64 * 1024).fill(120);
  const total = 256 * 1024 * 1024;
  const s = await startServer(async () => {
    async function* body() {
      for (let sent = 0; sent < total; sent += piece.length) {
        produced += piece.length;
        yield piece;
      }
    }
    return new HttpResponse(body(), { headers: { "content-length": String(total) } });
  });
  try {
    const socket = net.connect({ host: "127.0.0.1", port: s.port });
    await once(socket, "connect");
    socket.pause();
    socket.write("GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    // Wait until production stops (kernel buffers full), however slow the machine is.
    let stalledAt = -1;
    for (let i = 0; i < 40 && produced !== stalledAt; i++) {
      stalledAt = produced;
      await new Promise((r) => setTimeout(r, 300));
    }
    assert.equal(produced, stalledAt, "production must stall while the client does not read");
    assert.ok(stalledAt < 64 * 1024 * 1024, `the handler produced ${stalledAt} bytes for a client that read nothing`);
    let received = 0;
    socket.on("data", (c: Buffer) => (received += c.length));
    socket.resume();
    await once(socket, "end");
    assert.ok(received > total, `received ${received} bytes`);
    assert.equal(produced, total);
  } finally {
    await s.stop();
  }
});

test("a body that stops arriving is cut off after the body timeout and counted", async () => {
  let handlerError = "";
  const s = await startServer(
    async (req) => {
      try {
        await req.bytes();
      } catch (e) {
        handlerError = (e as Error).message;
        throw e;
      }
      return HttpResponse.text("unreachable");
    },
    { bodyTimeoutMs: 300 },
  );
  try {
    const started = Date.now();
    const { closed } = await rawExchange(s.port, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly ten b", { waitMs: 5000 });
    assert.ok(closed, "the connection must be closed");
    assert.ok(Date.now() - started < 4000);
    assert.equal(s.server.stats.rejected["body-timeout"], 1);
    assert.match(handlerError, /closed the connection in the middle of the body/);
  } finally {
    await s.stop();
  }
});

test("a client that disconnects mid-response stops the producer of a streamed body", async () => {
  let cancelled = false;
  let pulls = 0;
  const s = await startServer(async () => {
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulls++;
        controller.enqueue(new Uint8Array(64 * 1024));
      },
      cancel() {
        cancelled = true;
      },
    });
    return new HttpResponse(stream);
  });
  try {
    const socket = net.connect({ host: "127.0.0.1", port: s.port });
    await once(socket, "connect");
    socket.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    await once(socket, "data");
    socket.destroy();
    for (let i = 0; i < 50 && !cancelled; i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(cancelled, `the stream was not cancelled after ${pulls} pulls`);
  } finally {
    await s.stop();
  }
});
