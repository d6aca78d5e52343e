import { test } from "node:test";
import assert from "node:assert/strict";
import * as dgram from "node:dgram";
import { once } from "node:events";
import { IpError } from "../../devices/errors.ts";
import { SocketUdp, SocketStack, DEFAULT_SOCKET_CONFIG } from "./index.ts";

test("receives datagrams from kernel UDP sockets over IPv4 and IPv6 and replies from the listened port", async () => {
  const udp = new SocketUdp(DEFAULT_SOCKET_CONFIG);
  try {
    udp.listen(0, (d) => {
      const reply = new TextEncoder().encode(`echo:${new TextDecoder().decode(d.data)}`);
      void udp.write(d.src, d.srcPort, reply, { srcPort: port });
    });
    const port = await udp.listening(0);
    for (const [type, host] of [["udp4", "127.0.0.1"], ["udp6", "::1"]] as const) {
      const peer = dgram.createSocket(type);
      peer.bind(0, host);
      await once(peer, "listening");
      peer.send("ping", port, host);
      const [msg, rinfo] = (await once(peer, "message")) as [Buffer, dgram.RemoteInfo];
      assert.equal(msg.toString(), "echo:ping");
      assert.equal(rinfo.port, port, "reply must come from the listened port");
      peer.close();
    }
  } finally {
    await udp.disconnect();
  }
});

test("datagram fields name the peer in canonical form", async () => {
  const udp = new SocketUdp(DEFAULT_SOCKET_CONFIG);
  const peer = dgram.createSocket("udp4");
  try {
    const got = new Promise<{ src: string; dst: string; srcPort: number; dstPort: number; text: string }>((resolve) =>
      udp.listen(0, (d) => resolve({ src: d.src, dst: d.dst, srcPort: d.srcPort, dstPort: d.dstPort, text: Buffer.from(d.data).toString() })),
    );
    const port = await udp.listening(0);
    peer.bind(0, "127.0.0.1");
    await once(peer, "listening");
    peer.send("hi", port, "127.0.0.1");
    const d = await got;
    assert.deepEqual(d, { src: "127.0.0.1", dst: "0.0.0.0", srcPort: peer.address().port, dstPort: port, text: "hi" });
  } finally {
    peer.close();
    await udp.disconnect();
  }
});

test("sends from an ephemeral port to a kernel socket, and rejects bad destinations clearly", async () => {
  const udp = new SocketUdp(DEFAULT_SOCKET_CONFIG);
  const peer = dgram.createSocket("udp6");
  try {
    peer.bind(0, "::1");
    await once(peer, "listening");
    await udp.write("::1", peer.address().port, new TextEncoder().encode("hello six"));
    const [msg] = (await once(peer, "message")) as [Buffer];
    assert.equal(msg.toString(), "hello six");
    await assert.rejects(udp.write("nowhere", 53, new Uint8Array(1)), (e: unknown) => e instanceof IpError && e.code === "invalid-address");
    await assert.rejects(udp.write("127.0.0.1", 53, new Uint8Array(70_000)), (e: unknown) => e instanceof IpError && e.code === "would-fragment");
    assert.throws(() => udp.listen(70000, () => {}), RangeError);
  } finally {
    peer.close();
    await udp.disconnect();
  }
});

test("the stack's ip answers addresses and MTU and refuses raw IP with a pointer to --net=direct", async () => {
  const stack = new SocketStack({ ...DEFAULT_SOCKET_CONFIG, ipv4: { address: "127.0.0.1", prefixLength: 8 }, ipv4Only: true });
  assert.equal(stack.ip.family, "ipv4");
  assert.deepEqual(stack.ip.configuredAddresses(), [{ address: "127.0.0.1", prefixLength: 8 }]);
  assert.equal(stack.ip.source("192.0.2.1"), "127.0.0.1");
  assert.equal(stack.ip.mtu("192.0.2.1"), 1480);
  assert.throws(() => stack.ip.source("2001:db8::1"), (e: unknown) => e instanceof IpError && e.code === "no-route");
  assert.throws(() => stack.ip.write("192.0.2.1", 17, new Uint8Array(1)), /--net=direct/);
  const done = stack.listen();
  await stack.disconnect();
  await done;
});
