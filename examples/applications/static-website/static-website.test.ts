// End to end: build the website with each store and check it with curl.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { buildExample, freePort, repoRoot, runCommand, type Running, startUnikernel } from "../../../test/support/unikernel.ts";
import { netnsUnavailable, withNetns } from "../../../test/support/netns.ts";

async function curl(args: string[]): Promise<string> {
  const r = await runCommand("curl", ["-sS", "--retry", "5", "--retry-connrefused", "--retry-delay", "1", ...args], { timeoutMs: 30_000 });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

async function boot(configureArgs: string[], cwd?: string): Promise<{ u: Running; base: string; dir: string }> {
  const { bin, dir } = await buildExample("examples/applications/static-website", configureArgs);
  const port = await freePort();
  const u = startUnikernel(bin, [`--port=${port}`], { cwd: cwd ?? dir });
  await u.waitFor(/serving htdocs/, 30_000);
  return { u, base: `http://127.0.0.1:${port}`, dir };
}

const htdocs = join(repoRoot, "examples/applications/static-website/htdocs");

test("static-website (crunch): pages, content types, index.html, 304, HEAD, 404 and no traversal", async () => {
  const { u, base } = await boot(["--kv-ro=crunch"], "/");
  try {
    const home = await curl(["-i", `${base}/`]);
    assert.match(home, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(home, /content-type: text\/html; charset=utf-8\r\n/);
    assert.ok(home.endsWith(readFileSync(join(htdocs, "index.html"), "latin1")));
    const etag = /etag: ("[0-9a-f]+")/.exec(home)![1]!;

    const summary = (path: string, extra: string[] = []) => curl(["-o", "/dev/null", "-w", "%{http_code} %{content_type} %{size_download}", ...extra, `${base}${path}`]);
    assert.equal(await summary("/style.css"), `200 text/css; charset=utf-8 ${readFileSync(join(htdocs, "style.css")).length}`);
    assert.equal(await summary("/images/logo.svg"), `200 image/svg+xml ${readFileSync(join(htdocs, "images/logo.svg")).length}`);
    assert.equal(await summary("/about/"), `200 text/html; charset=utf-8 ${readFileSync(join(htdocs, "about/index.html")).length}`);
    assert.equal(await summary("/about", ["-L"]), `200 text/html; charset=utf-8 ${readFileSync(join(htdocs, "about/index.html")).length}`);
    assert.equal((await summary("/nope.html")).split(" ")[0], "404");
    assert.equal((await summary("/", ["-H", `If-None-Match: ${etag}`])).split(" ")[0], "304");
    const head = await curl(["-I", `${base}/robots.txt`]);
    assert.match(head, new RegExp(`content-length: ${readFileSync(join(htdocs, "robots.txt")).length}\r\n`));
    assert.ok(head.endsWith("\r\n\r\n"), "HEAD must have no body");

    for (const path of ["/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2fetc%2fpasswd", "/images/..%5c..%5cetc%5cpasswd"]) {
      const out = await curl(["--path-as-is", "-i", `${base}${path}`]);
      assert.match(out, /^HTTP\/1\.1 (400|404) /, path);
      assert.doesNotMatch(out, /root:/, path);
    }
    // Keep-alive: curl reuses one connection for several URLs.
    const many = await runCommand("curl", ["-sS", "-v", "-o", "/dev/null", "-o", "/dev/null", `${base}/`, `${base}/style.css`], { timeoutMs: 30_000 });
    assert.match(many.stderr, /Re-using existing connection|left intact/);
  } finally {
    await u.stop();
  }
});

test("static-website (direct): files are read from the host at run time", async () => {
  const { u, base, dir } = await boot(["--kv-ro=direct"]);
  try {
    writeFileSync(join(dir, "htdocs", "fresh.txt"), "written after the build\n");
    assert.equal(await curl([`${base}/fresh.txt`]), "written after the build\n");
    const out = await curl(["--path-as-is", "-o", "/dev/null", "-w", "%{http_code}", `${base}/../config.ts`]);
    assert.equal(out, "400");
  } finally {
    await u.stop();
  }
});

test("static-website on Oasis's own TCP/IP stack (--net=direct): curl in a network namespace is the client", { skip: netnsUnavailable() }, async () => {
  const { bin } = await buildExample("examples/applications/static-website", ["--net=direct"]);
  await withNetns(
    async (ns) => {
      const u = ns.run(bin, ["--ipv4=192.0.2.2/24", "--port=80"]);
      await u.waitFor(/serving htdocs/, 30_000);
      const curlIn = (args: string[]) => ns.exec("curl", ["-sS", "--max-time", "20", "--retry", "3", "--retry-connrefused", ...args]);
      const home = await curlIn(["-i", "http://192.0.2.2/"]);
      assert.match(home.stdout, /^HTTP\/1\.1 200 OK\r\n/);
      assert.ok(home.stdout.endsWith(readFileSync(join(htdocs, "index.html"), "latin1")));
      const two = await curlIn(["-v", "-o", "/dev/null", "-o", "/dev/null", "http://192.0.2.2/style.css", "http://192.0.2.2/images/logo.svg"]);
      assert.match(two.stderr, /Re-using existing connection|left intact/);
      const traversal = await curlIn(["--path-as-is", "-o", "/dev/null", "-w", "%{http_code}", "http://192.0.2.2/../../etc/passwd"]);
      assert.equal(traversal.stdout, "400");
      await u.stop();
    },
    { kernelAddress: "192.0.2.1/24" },
  );
});
