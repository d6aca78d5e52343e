import { test } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { once } from "node:events";
import { createHash, randomBytes } from "node:crypto";
import { FlowError } from "../../devices/errors.ts";
import type { TcpFlow } from "../../devices/tcp.ts";
import { SocketTcp, SocketTcpFlow, DEFAULT_SOCKET_CONFIG, type SocketConfig } from "./index.ts";

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function listenEphemeral(tcp: SocketTcp, handler: (flow: TcpFlow) => void | Promise<void>): Promise<number> {
  tcp.listen(0, handler);
  const [endpoint] = await tcp.listening(0);
  return endpoint!.port;
}

async function kernelClient(host: string, port: number): Promise<net.Socket> {
  const s = net.connect({ host, port, allowHalfOpen: true });
  await once(s, "connect");
  return s;
}

async function readAll(s: net.Socket): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

async function flowReadAll(flow: TcpFlow): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for (let c = await flow.read(); c !== null; c = await flow.read()) parts.push(c);
  return Buffer.concat(parts);
}

test("echoes bytes to a kernel TCP client over IPv4 and IPv6 and reports EOF as null", async () => {
  const tcp = new SocketTcp(DEFAULT_SOCKET_CONFIG);
  try {
    const port = await listenEphemeral(tcp, async (flow) => {
      for (let c = await flow.read(); c !== null; c = await flow.read()) await flow.write(c);
      await flow.close();
    });
    for (const host of ["127.0.0.1", "::1"]) {
      const client = await kernelClient(host, port);
      const payload = randomBytes(200_000);
      client.end(payload);
      const echoed = await readAll(client);
      assert.equal(echoed.length, payload.length);
      assert.ok(echoed.equals(payload), `echo over ${host} differs`);
    }
  } finally {
    await tcp.disconnect();
  }
});

test("reports local and remote endpoints in canonical form (IPv4-mapped becomes IPv4)", async () => {
  const tcp = new SocketTcp(DEFAULT_SOCKET_CONFIG);
  try {
    const seen: TcpFlow[] = [];
    const port = await listenEphemeral(tcp, (flow) => {
      seen.push(flow);
      void flow.close();
    });
    const client = await kernelClient("127.0.0.1", port);
    const clientPort = client.localPort;
    await readAll(client);
    assert.equal(seen[0]!.remote.address, "127.0.0.1");
    assert.equal(seen[0]!.remote.port, clientPort);
    assert.equal(seen[0]!.local.address, "127.0.0.1");
    assert.equal(seen[0]!.local.port, port);
  } finally {
    await tcp.disconnect();
  }
});

test("a slow reader pauses the socket: buffered input stays bounded and nothing is lost", async () => {
  const tcp = new SocketTcp(DEFAULT_SOCKET_CONFIG);
  let serverFlow!: SocketTcpFlow;
  const accepted = new Promise<void>((resolve) => {
    tcp.listen(0, (flow) => {
      serverFlow = flow as SocketTcpFlow;
      resolve();
    });
  });
  try {
    const [ep] = await tcp.listening(0);
    const client = await kernelClient("127.0.0.1", ep!.port);
    await accepted;
    const hash = createHash("sha256");
    let sent = 0;
    const chunk = randomBytes(64 * 1024);
    // Write until the kernel stops taking data for a while: the unikernel side must not absorb it.
    let stalled = false;
    while (!stalled && sent < 512 * 1024 * 1024) {
      hash.update(chunk);
      sent += chunk.length;
      if (!client.write(chunk)) {
        stalled = await Promise.race([once(client, "drain").then(() => false), delay(500).then(() => true)]);
      }
    }
    assert.ok(stalled, "the peer was never blocked: the flow buffered everything");
    assert.ok(serverFlow.bufferedBytes <= 256 * 1024, `flow buffered ${serverFlow.bufferedBytes} bytes while not reading`);
    client.end();
    const received = createHash("sha256");
    let total = 0;
    for (let c = await serverFlow.read(); c !== null; c = await serverFlow.read()) {
      received.update(c);
      total += c.length;
    }
    assert.equal(total, sent);
    assert.equal(received.digest("hex"), hash.digest("hex"));
    await serverFlow.close();
  } finally {
    await tcp.disconnect();
  }
});

test("write resolves only when the kernel takes the data: a peer that does not read blocks the writer", async () => {
  const tcp = new SocketTcp(DEFAULT_SOCKET_CONFIG);
  const server = net.createServer({ pauseOnConnect: true });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as net.AddressInfo).port;
  const peerSocket = once(server, "connection").then(([s]) => s as net.Socket);
  try {
    const flow = await tcp.connect("127.0.0.1", port);
    const peer = await peerSocket;
    const chunk = new Uint8Array(256 * 1024).fill(7);
    let accepted = 0;
    let blocked: Promise<void> | null = null;
    while (accepted < 1024 * 1024 * 1024) {
      const w = flow.write(chunk);
      const done = await Promise.race([w.then(() => true), delay(500).then(() => false)]);
      if (!done) {
        blocked = w;
        break;
      }
      accepted += chunk.length;
    }
    assert.ok(blocked, "write never blocked although the peer read nothing");
    // Reading on the peer side releases the writer, and every byte arrives.
    const drained = (async () => {
      let n = 0;
      for await (const c of peer) n += (c as Buffer).length;
      return n;
    })();
    await blocked;
    await flow.shutdown("write");
    assert.equal(await drained, accepted + chunk.length);
    await flow.close();
  } finally {
    server.close();
    await tcp.disconnect();
  }
});

test("connect to a closed port fails with FlowError refused", async () => {
  const server = net.createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((r) => server.close(r));
  const tcp = new SocketTcp(DEFAULT_SOCKET_CONFIG);
  await assert.rejects(tcp.connect("127.0.0.1", port), (e: unknown) => e instanceof FlowError && e.code === "refused");
  await assert.rejects(tcp.connect("not-an-address", port), (e: unknown) => e instanceof FlowError && e.code === "unreachable");
});

test("a reset from the peer surfaces as FlowError reset on read, and writes after close fail with closed", async () => {
  const tcp = new SocketTcp(DEFAULT_SOCKET_CONFIG);
  let serverFlow!: TcpFlow;
  const accepted = new Promise<void>((resolve) =>
    tcp.listen(0, (flow) => {
      serverFlow = flow;
      resolve();
    }),
  );
  try {
    const [ep] = await tcp.listening(0);
    const client = await kernelClient("127.0.0.1", ep!.port);
    await accepted;
    client.resetAndDestroy();
    await assert.rejects(
      (async () => {
        for (;;) if ((await serverFlow.read()) === null) return;
      })(),
      (e: unknown) => e instanceof FlowError && e.code === "reset",
    );
    await serverFlow.close();
    await assert.rejects(serverFlow.write(new Uint8Array([1])), (e: unknown) => e instanceof FlowError);
  } finally {
    await tcp.disconnect();
  }
});

test("half-close: after the peer's FIN the flow reads null and can still write", async () => {
  const tcp = new SocketTcp(DEFAULT_SOCKET_CONFIG);
  try {
    const port = await listenEphemeral(tcp, async (flow) => {
      const request = await flowReadAll(flow);
      await flow.write(new TextEncoder().encode(`got ${request.length}`));
      await flow.close();
    });
    const client = await kernelClient("127.0.0.1", port);
    client.end("hello");
    assert.equal((await readAll(client)).toString(), "got 5");
  } finally {
    await tcp.disconnect();
  }
});

test("listening on a port in use fails with address-in-use, naming the port", async () => {
  const blocker = net.createServer().listen(0, "::");
  await once(blocker, "listening");
  const port = (blocker.address() as net.AddressInfo).port;
  const tcp = new SocketTcp(DEFAULT_SOCKET_CONFIG);
  try {
    tcp.listen(port, () => {});
    await assert.rejects(tcp.listening(port), (e: unknown) => e instanceof FlowError && e.code === "address-in-use" && e.message.includes(String(port)));
  } finally {
    blocker.close();
    await tcp.disconnect();
  }
});

test("--ipv4-only binds IPv4 only and refuses IPv6 destinations", async () => {
  const config: SocketConfig = { ...DEFAULT_SOCKET_CONFIG, ipv4: { address: "127.0.0.1", prefixLength: 8 }, ipv4Only: true };
  const tcp = new SocketTcp(config);
  try {
    const port = await listenEphemeral(tcp, (flow) => void flow.close());
    const [ep] = await tcp.listening(0);
    assert.equal(ep!.address, "127.0.0.1");
    const v6 = net.connect({ host: "::1", port });
    const [err] = (await once(v6, "error")) as [NodeJS.ErrnoException];
    assert.equal(err.code, "ECONNREFUSED");
    await assert.rejects(tcp.connect("::1", port), (e: unknown) => e instanceof FlowError && e.code === "unreachable");
    const flow = await tcp.connect("127.0.0.1", port);
    assert.equal(flow.local.address, "127.0.0.1");
    await flow.close();
  } finally {
    await tcp.disconnect();
  }
});

test("a throwing handler closes only its flow; the listener keeps accepting", async () => {
  const tcp = new SocketTcp(DEFAULT_SOCKET_CONFIG);
  let calls = 0;
  try {
    const port = await listenEphemeral(tcp, async (flow) => {
      calls++;
      if (calls === 1) throw new Error("handler bug");
      await flow.write(new TextEncoder().encode("ok"));
      await flow.close();
    });
    const first = await kernelClient("127.0.0.1", port);
    assert.equal((await readAll(first)).length, 0);
    const second = await kernelClient("127.0.0.1", port);
    assert.equal((await readAll(second)).toString(), "ok");
  } finally {
    await tcp.disconnect();
  }
});

test("Web Streams view: readable pipes to writable through the flow", async () => {
  const tcp = new SocketTcp(DEFAULT_SOCKET_CONFIG);
  try {
    const port = await listenEphemeral(tcp, async (flow) => {
      await flow.readable.pipeTo(flow.writable);
    });
    const client = await kernelClient("127.0.0.1", port);
    client.end("streams");
    assert.equal((await readAll(client)).toString(), "streams");
  } finally {
    await tcp.disconnect();
  }
});

test("the stack's listen() rejects when a TCP port cannot be bound, as a unikernel awaiting it should stop", async () => {
  const { SocketStack } = await import("./index.ts");
  const blocker = net.createServer().listen(0, "::");
  await once(blocker, "listening");
  const port = (blocker.address() as net.AddressInfo).port;
  const stack = new SocketStack(DEFAULT_SOCKET_CONFIG);
  try {
    stack.tcp.listen(port, () => {});
    await assert.rejects(stack.listen(), (e: unknown) => e instanceof FlowError && e.code === "address-in-use");
  } finally {
    blocker.close();
    await stack.disconnect();
  }
});
