import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { MemKv } from "../kv/mem.ts";
import { keyForPath, staticFiles } from "./static.ts";
import { rawExchange, run, startServer, statuses } from "./test-support.ts";

async function site(): Promise<MemKv> {
  const kv = new MemKv("site");
  await kv.set("/index.html", "<h1>home</h1>\n");
  await kv.set("/style.css", "body{}\n");
  await kv.set("/docs/index.html", "<p>docs</p>\n");
  await kv.set("/docs/a b.txt", "spaced\n");
  await kv.set("/data.bin", new Uint8Array([0, 1, 2]));
  await kv.set("/big.bin", new Uint8Array(3 * 1024 * 1024).map((_, i) => i * 7));
  await kv.set("/empty/.keep", "");
  return kv;
}

test("serves files with content types, index.html for directories, and 404s (checked with curl)", async () => {
  const s = await startServer(staticFiles(await site()));
  const base = `http://127.0.0.1:${s.port}`;
  const get = async (path: string, extra: string[] = []) => {
    const { stdout } = await run("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code} %{content_type} %{size_download}", ...extra, `${base}${path}`]);
    return stdout;
  };
  try {
    assert.equal(await get("/"), "200 text/html; charset=utf-8 14");
    assert.equal(await get("/style.css"), "200 text/css; charset=utf-8 7");
    assert.equal(await get("/docs/"), "200 text/html; charset=utf-8 12");
    assert.equal(await get("/docs/a%20b.txt"), "200 text/plain; charset=utf-8 7");
    assert.equal(await get("/data.bin"), "200 application/octet-stream 3");
    assert.equal(await get("/missing.html"), "404 text/plain; charset=utf-8 14");
    assert.equal(await get("/empty/"), "404 text/plain; charset=utf-8 14");
    assert.equal(await get("/style.css/"), "404 text/plain; charset=utf-8 14");
    const redirect = await run("curl", ["-sS", "-i", `${base}/docs?x=1`]);
    assert.match(redirect.stdout, /^HTTP\/1\.1 301 /);
    assert.match(redirect.stdout, /location: \/docs\/\?x=1\r\n/);
    const post = await run("curl", ["-sS", "-i", "-X", "POST", `${base}/`]);
    assert.match(post.stdout, /^HTTP\/1\.1 405 [^]*allow: GET, HEAD/);
  } finally {
    await s.stop();
  }
});

test("large files stream with their length and arrive intact", async () => {
  const kv = await site();
  const s = await startServer(staticFiles(kv));
  try {
    const { stdout } = await run("sh", ["-c", `curl -sS http://127.0.0.1:${s.port}/big.bin | sha256sum`]);
    assert.equal(stdout.split(" ")[0], createHash("sha256").update(await kv.get("/big.bin")).digest("hex"));
  } finally {
    await s.stop();
  }
});

test("ETag and If-None-Match give 304; HEAD has the length and no body", async () => {
  const s = await startServer(staticFiles(await site()));
  try {
    const first = await run("curl", ["-sS", "-i", `http://127.0.0.1:${s.port}/style.css`]);
    const etag = /etag: ("[0-9a-f]{64}")/.exec(first.stdout)?.[1];
    assert.ok(etag, first.stdout);
    const again = await run("curl", ["-sS", "-i", "-H", `If-None-Match: W/"x", ${etag}`, `http://127.0.0.1:${s.port}/style.css`]);
    assert.match(again.stdout, /^HTTP\/1\.1 304 Not Modified\r\n/);
    assert.ok(again.stdout.endsWith("\r\n\r\n"), "304 must have no body");
    const changed = await run("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-H", 'If-None-Match: "other"', `http://127.0.0.1:${s.port}/style.css`]);
    assert.equal(changed.stdout, "200");
    const head = await rawExchange(s.port, "HEAD /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert.match(head.text, /content-length: 14\r\n/);
    assert.ok(head.text.endsWith("\r\n\r\n"));
  } finally {
    await s.stop();
  }
});

test("path traversal in any spelling is refused without revealing anything", async () => {
  const s = await startServer(staticFiles(await site()));
  try {
    for (const path of ["/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/docs/..%2f..%2fetc%2fpasswd", "/..%5c..%5cetc%5cpasswd", "/%2E%2E/etc/passwd", "/docs/%00", "//etc/passwd", "/%c0%ae%c0%ae/etc/passwd", "/docs/./index.html"]) {
      const { text } = await rawExchange(s.port, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      const [status] = statuses(text);
      assert.ok(status === 400 || status === 404, `${path}: status ${status}`);
      assert.doesNotMatch(text, /root:|passwd|\/etc/, `${path} leaked something`);
    }
    // curl's own --path-as-is sends the dots unnormalised.
    const { stdout } = await run("curl", ["-sS", "--path-as-is", "-o", "/dev/null", "-w", "%{http_code}", `http://127.0.0.1:${s.port}/../../etc/passwd`]);
    assert.equal(stdout, "400");
  } finally {
    await s.stop();
  }
});

test("keyForPath decodes each segment once and refuses dot segments and separators", () => {
  assert.deepEqual(keyForPath("/a/b%20c/"), { key: "/a/b c", directory: true });
  assert.deepEqual(keyForPath("/"), { key: "/", directory: true });
  assert.equal(keyForPath("/a/%2e%2e"), null);
  assert.equal(keyForPath("/a%2fb"), null);
  assert.deepEqual(keyForPath("/%252e%252e"), { key: "/%2e%2e", directory: false });
  assert.equal(keyForPath("/%zz"), null);
  assert.equal(keyForPath("relative"), null);
});

test("byte ranges (curl -r): 206 with Content-Range, suffix and open ranges, 416 past the end, If-Range", async () => {
  const kv = await site();
  const s = await startServer(staticFiles(kv, { streamAbove: 1024 * 1024 }));
  const base = `http://127.0.0.1:${s.port}`;
  const big = await kv.get("/big.bin");
  try {
    const part = await run("curl", ["-sS", "-i", "-r", "2-9", `${base}/index.html`]);
    assert.match(part.stdout, /^HTTP\/1\.1 206 Partial Content\r\n/);
    assert.match(part.stdout, /content-range: bytes 2-9\/14\r\n/);
    assert.ok(part.stdout.endsWith("\r\n\r\n1>home</"), part.stdout);
    const suffix = await run("curl", ["-sS", "-r", "-6", `${base}/index.html`]);
    assert.equal(suffix.stdout, "</h1>\n");
    const open = await run("curl", ["-sS", "-r", "10-", `${base}/index.html`]);
    assert.equal(open.stdout, "h1>\n");
    // A large range streams from the middle of a file bigger than streamAbove.
    const { stdout } = await run("sh", ["-c", `curl -sS -r 1000000-2999999 ${base}/big.bin | sha256sum`]);
    assert.equal(stdout.split(" ")[0], createHash("sha256").update(big.subarray(1_000_000, 3_000_000)).digest("hex"));
    const past = await run("curl", ["-sS", "-i", "-r", "100-200", `${base}/index.html`]);
    assert.match(past.stdout, /^HTTP\/1\.1 416 [^]*content-range: bytes \*\/14\r\n/);
    const stale = await run("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-r", "0-1", "-H", 'If-Range: "old"', `${base}/index.html`]);
    assert.equal(stale.stdout, "200");
    const multi = await run("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code} %{size_download}", "-r", "0-1,4-5", `${base}/index.html`]);
    assert.equal(multi.stdout, "200 14");
  } finally {
    await s.stop();
  }
});

test("Last-Modified and If-Modified-Since give 304 when the copy is current", async () => {
  const s = await startServer(staticFiles(await site()));
  const base = `http://127.0.0.1:${s.port}`;
  try {
    const first = await run("curl", ["-sS", "-i", `${base}/style.css`]);
    const lastModified = /last-modified: (.*)\r\n/.exec(first.stdout)?.[1];
    assert.ok(lastModified && Number.isFinite(Date.parse(lastModified)), first.stdout);
    const same = await run("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-H", `If-Modified-Since: ${lastModified}`, `${base}/style.css`]);
    assert.equal(same.stdout, "304");
    const older = new Date(Date.parse(lastModified) - 3600_000).toUTCString();
    const changed = await run("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-H", `If-Modified-Since: ${older}`, `${base}/style.css`]);
    assert.equal(changed.stdout, "200");
    // If-None-Match wins over If-Modified-Since.
    const both = await run("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-H", 'If-None-Match: "x"', "-H", `If-Modified-Since: ${lastModified}`, `${base}/style.css`]);
    assert.equal(both.stdout, "200");
  } finally {
    await s.stop();
  }
});

test("changes in the store show at once: new content, a file turned into a directory, a removed index", async () => {
  const kv = await site();
  const s = await startServer(staticFiles(kv));
  const get = async (path: string) => (await run("curl", ["-sS", "-w", " %{http_code}", `http://127.0.0.1:${s.port}${path}`])).stdout;
  try {
    await kv.set("/a.txt", "first\n");
    assert.equal(await get("/a.txt"), "first\n 200");
    await kv.set("/a.txt", "second\n");
    assert.equal(await get("/a.txt"), "second\n 200");
    await kv.remove("/a.txt");
    await kv.set("/a.txt/index.html", "now a directory\n");
    assert.match(await get("/a.txt"), / 301$/);
    assert.equal(await get("/a.txt/"), "now a directory\n 200");
    assert.equal(await get("/docs/"), "<p>docs</p>\n 200");
    await kv.remove("/docs/index.html");
    assert.match(await get("/docs/"), / 404$/);
  } finally {
    await s.stop();
  }
});
