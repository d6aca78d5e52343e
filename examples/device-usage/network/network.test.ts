// End to end: build the echo server on the socket stack and talk to it through the kernel.
import assert from "node:assert/strict";
import * as net from "node:net";
import { once } from "node:events";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { buildExample, freePort, runCommand, runUnikernel, startUnikernel } from "../../../test/support/unikernel.ts";
import { netnsUnavailable, withNetns } from "../../../test/support/netns.ts";

/** Connects, retrying briefly: the log line may come a moment before the kernel socket listens. */
async function connect(host: string, port: number): Promise<net.Socket> {
  for (let attempt = 0; ; attempt++) {
    const socket = net.connect({ host, port });
    try {
      await once(socket, "connect");
      return socket;
    } catch (e) {
      if (attempt >= 50 || (e as NodeJS.ErrnoException).code !== "ECONNREFUSED") throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function echoOnce(host: string, port: number, payload: Buffer): Promise<Buffer> {
  const socket = await connect(host, port);
  socket.end(payload);
  const parts: Buffer[] = [];
  for await (const c of socket) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

test("network: echoes over IPv4 and IPv6 on the socket stack, and socat gets its line back", async () => {
  const { bin } = await buildExample("examples/device-usage/network");
  const port = await freePort();
  const u = startUnikernel(bin, [`--port=${port}`]);
  try {
    await u.waitFor(/listening on port \d+/, 30_000);
    const payload = randomBytes(1_000_000);
    assert.ok((await echoOnce("127.0.0.1", port, payload)).equals(payload));
    assert.ok((await echoOnce("::1", port, payload.subarray(0, 1000))).equals(payload.subarray(0, 1000)));
    const socat = await runCommand("socat", ["-", `TCP:127.0.0.1:${port}`], { input: "hello from socat\n", timeoutMs: 10_000 });
    assert.equal(socat.stdout, "hello from socat\n");
    await u.waitFor(/closed after 1000000 bytes/, 10_000);
  } finally {
    await u.stop();
  }
});

test("network: --ipv4-only binds IPv4 only; --help lists the network options; a busy port is a clear error", async () => {
  const { bin } = await buildExample("examples/device-usage/network");
  const help = await runUnikernel(bin, ["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /NETWORK OPTIONS[^]*--ipv4=PREFIX[^]*--ipv4-only[^]*--ipv6=PREFIX[^]*--ipv6-only/);
  assert.match(help.stdout, /--port=INT/);

  const port = await freePort();
  const u = startUnikernel(bin, [`--port=${port}`, "--ipv4=127.0.0.1/8", "--ipv4-only"]);
  try {
    await u.waitFor(/listening on port/, 30_000);
    assert.equal((await echoOnce("127.0.0.1", port, Buffer.from("four"))).toString(), "four");
    const v6 = net.connect({ host: "::1", port });
    const [err] = (await once(v6, "error")) as [NodeJS.ErrnoException];
    assert.equal(err.code, "ECONNREFUSED");

    const second = await runUnikernel(bin, [`--port=${port}`, "--ipv4=127.0.0.1/8", "--ipv4-only"], { timeoutMs: 30_000 });
    assert.equal(second.code, 1);
    assert.match(second.stdout + second.stderr, new RegExp(`port ${port}: the port is already in use`));
  } finally {
    await u.stop();
  }
  const bad = await runUnikernel(bin, ["--ipv4=not-an-ip"]);
  assert.equal(bad.code, 64);
  assert.match(bad.stderr, /invalid value 'not-an-ip' for --ipv4/);
});

test("network on Oasis's own TCP/IP stack (--net=direct): the kernel in a namespace echoes through it", { skip: netnsUnavailable() }, async () => {
  const { bin } = await buildExample("examples/device-usage/network", ["--net=direct"]);
  await withNetns(
    async (ns) => {
      const u = ns.run(bin, ["--ipv4=192.0.2.2/24"]);
      await u.waitFor(/listening on port 8080/, 30_000);
      const line = await ns.exec("socat", ["-", "TCP:192.0.2.2:8080,retry=5"], { input: "hello over oasis tcp\n" });
      assert.equal(line.stdout, "hello over oasis tcp\n");
      const big = await ns.exec("sh", ["-c", `cd ${ns.tmpDir} && head -c 3000000 /dev/urandom > in.bin && socat -t 10 - TCP:192.0.2.2:8080 < in.bin > out.bin && cmp in.bin out.bin && echo same`], { timeoutMs: 60_000 });
      assert.equal(big.stdout.trim(), "same");
      await u.waitFor(/closed after 3000000 bytes/, 30_000);
      await u.stop();
    },
    { kernelAddress: "192.0.2.1/24" },
  );
});

test("network on the socket stack binds only the --ipv4 address it is given (inside a namespace)", { skip: netnsUnavailable() }, async () => {
  const { bin } = await buildExample("examples/device-usage/network");
  await withNetns(
    async (ns) => {
      const u = ns.run(bin, ["--ipv4=192.0.2.1/24", "--ipv4-only", "--port=7007"]);
      await u.waitFor(/listening on port 7007/, 30_000);
      const ok = await ns.exec("socat", ["-", "TCP:192.0.2.1:7007,retry=5"], { input: "bound\n" });
      assert.equal(ok.stdout, "bound\n");
      const refused = await ns.exec("socat", ["-", "TCP:127.0.0.1:7007"], { input: "x\n", check: false });
      assert.match(refused.stderr, /Connection refused/);
      await u.stop();
    },
    { kernelAddress: "192.0.2.1/24" },
  );
});
