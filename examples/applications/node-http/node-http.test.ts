// End to end: build the Hono example and talk to it with curl.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { buildExample, freePort, runCommand, startUnikernel } from "../../../test/support/unikernel.ts";
import { netnsUnavailable, withNetns } from "../../../test/support/netns.ts";

async function curl(args: string[]): Promise<{ stdout: string; stderr: string }> {
  const r = await runCommand("curl", ["-sS", "--retry", "5", "--retry-connrefused", "--retry-delay", "1", ...args], { timeoutMs: 30_000 });
  assert.equal(r.code, 0, r.stderr);
  return r;
}

test("node-http: Hono answers through Node's http.Server over Oasis flows", async () => {
  const { bin, dir } = await buildExample("examples/applications/node-http");
  const port = await freePort();
  const u = startUnikernel(bin, [`--port=${port}`]);
  try {
    await u.waitFor(/Hono listening on port/, 30_000);
    const base = `http://127.0.0.1:${port}`;
    assert.equal((await curl([`${base}/`])).stdout, "Hello from Hono on an Oasis unikernel\n");
    const two = await curl(["-v", `${base}/hello/world`, `${base}/hello/again`]);
    assert.equal(two.stdout, '{"hello":"world","visits":1}{"hello":"again","visits":2}');
    assert.match(two.stderr, /Re-using existing connection|left intact/);
    assert.equal((await curl([`http://[::1]:${port}/whoami`])).stdout, "::1\n");
    const body = randomBytes(2 * 1024 * 1024);
    const file = join(dir, "upload.bin");
    writeFileSync(file, body);
    const { stdout } = await runCommand("sh", ["-c", `curl -sS --data-binary @${file} -H 'content-type: application/x-test' ${base}/echo | sha256sum`], { timeoutMs: 30_000 });
    assert.equal(stdout.split(" ")[0], createHash("sha256").update(body).digest("hex"));
    assert.equal((await curl(["-o", "/dev/null", "-w", "%{http_code}", `${base}/missing`])).stdout, "404");
  } finally {
    await u.stop();
  }
});

test("node-http on Oasis's own TCP/IP stack (--net=direct): curl in a namespace talks to Hono", { skip: netnsUnavailable() }, async () => {
  const { bin } = await buildExample("examples/applications/node-http", ["--net=direct"]);
  await withNetns(
    async (ns) => {
      const u = ns.run(bin, ["--ipv4=192.0.2.2/24", "--port=80"]);
      await u.waitFor(/Hono listening on port 80/, 30_000);
      const r = await ns.exec("curl", ["-sS", "--max-time", "20", "--retry", "3", "--retry-connrefused", "http://192.0.2.2/", "http://192.0.2.2/hello/direct", "http://192.0.2.2/whoami"]);
      assert.equal(r.stdout, 'Hello from Hono on an Oasis unikernel\n{"hello":"direct","visits":1}192.0.2.1\n');
      await u.stop();
    },
    { kernelAddress: "192.0.2.1/24" },
  );
});
