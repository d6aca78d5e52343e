import { test } from "node:test";
import assert from "node:assert/strict";
import { FlowError } from "../../devices/errors.ts";
import type { TcpFlow } from "../../devices/tcp.ts";
import { ACK, FIN, RST, SYN } from "../wire/tcp.ts";
import { RawPeer, TestNet } from "./test-support.ts";
import type { TcpConfig } from "./config.ts";

const A = "192.0.2.1";
const P = "192.0.2.9";

/** A listening stack and a raw peer that completed a handshake with it (no options). */
async function established(config: TcpConfig = {}, peerTs = false) {
  const net = new TestNet();
  const tcp = net.tcp(A, config);
  const peer = new RawPeer(net, P);
  let flow: TcpFlow | null = null;
  tcp.listen(80, (f) => {
    flow = f;
  });
  const ts = peerTs ? { hasTimestamp: true, tsVal: 1000, tsEcr: 0 } : {};
  peer.send(A, { srcPort: 4000, dstPort: 80, seq: 1000, flags: SYN, window: 65535, mss: 1460, ...ts });
  await net.clock.runUntil(() => peer.received.length > 0);
  const synAck = peer.take()[0]!;
  assert.equal(synAck.flags, SYN | ACK);
  assert.equal(synAck.ack, 1001);
  const iss = synAck.seq;
  peer.send(A, { srcPort: 4000, dstPort: 80, seq: 1001, ack: iss + 1, flags: ACK, window: 65535, ...(peerTs ? { hasTimestamp: true, tsVal: 1001, tsEcr: synAck.tsVal } : {}) });
  await net.clock.runUntil(() => flow !== null);
  return { net, tcp, peer, flow: flow! as TcpFlow, iss, synAck };
}

test("answers an in-window RST with a challenge ACK and resets only on an exact match", async () => {
  const { net, tcp, peer, flow, iss } = await established();
  peer.send(A, { srcPort: 4000, dstPort: 80, seq: 1001 + 500, flags: RST });
  await net.clock.advance(10);
  const challenge = peer.take();
  assert.equal(challenge.length, 1);
  assert.equal(challenge[0]!.flags, ACK);
  assert.equal(challenge[0]!.ack, 1001);
  assert.equal(challenge[0]!.seq, iss + 1);
  assert.equal(tcp.stats().connections.ESTABLISHED, 1);
  assert.equal(tcp.stats().challengeAcks, 1);
  const reading = flow.read();
  peer.send(A, { srcPort: 4000, dstPort: 80, seq: 1001, flags: RST });
  await assert.rejects(net.clock.run(reading), (e: unknown) => e instanceof FlowError && e.code === "reset");
  assert.equal(tcp.stats().connectionCount, 0);
});

test("ignores a RST outside the window without answering", async () => {
  const { net, tcp, peer } = await established();
  peer.send(A, { srcPort: 4000, dstPort: 80, seq: 1001 + 5_000_000, flags: RST });
  await net.clock.advance(10);
  assert.equal(peer.take().length, 0);
  assert.equal(tcp.stats().drops["rst-out-of-window"], 1);
  assert.equal(tcp.stats().connections.ESTABLISHED, 1);
});

test("answers a SYN on an established connection with a challenge ACK", async () => {
  const { net, tcp, peer, iss } = await established();
  peer.send(A, { srcPort: 4000, dstPort: 80, seq: 1001 + 10, flags: SYN, window: 1000 });
  await net.clock.advance(10);
  const out = peer.take();
  assert.equal(out.length, 1);
  assert.equal(out[0]!.flags, ACK);
  assert.equal(out[0]!.seq, iss + 1);
  assert.equal(tcp.stats().connections.ESTABLISHED, 1);
});

test("rate-limits challenge ACKs per second", async () => {
  const { net, tcp, peer } = await established({ challengeAckLimit: 5 });
  for (let i = 0; i < 20; i++) peer.send(A, { srcPort: 4000, dstPort: 80, seq: 1001 + 100 + i, flags: RST });
  await net.clock.advance(10);
  assert.equal(peer.take().length, 5);
  assert.equal(tcp.stats().drops["challenge-ack-limited"], 15);
  await net.clock.advance(1000);
  peer.send(A, { srcPort: 4000, dstPort: 80, seq: 1001 + 100, flags: RST });
  await net.clock.advance(10);
  assert.equal(peer.take().length, 1);
});

test("drops blind data with an ACK of unsent bytes, and data far outside the window", async () => {
  const { net, tcp, peer, flow, iss } = await established();
  peer.send(A, { srcPort: 4000, dstPort: 80, seq: 1001, ack: iss + 1 + 100_000, flags: ACK, window: 65535 }, new Uint8Array([1, 2, 3]));
  peer.send(A, { srcPort: 4000, dstPort: 80, seq: 1001 + 10_000_000, ack: iss + 1, flags: ACK, window: 65535 }, new Uint8Array([4, 5, 6]));
  await net.clock.advance(100);
  assert.equal(tcp.stats().drops["ack-of-unsent"], 1);
  assert.equal(tcp.stats().drops["out-of-window"], 1);
  peer.send(A, { srcPort: 4000, dstPort: 80, seq: 1001, ack: iss + 1, flags: ACK, window: 65535 }, new Uint8Array([7, 8]));
  const got = await net.clock.run(flow.read());
  assert.deepEqual([...got!], [7, 8]);
});

test("drops a segment with an old timestamp (PAWS)", async () => {
  const { net, tcp, peer, flow, iss, synAck } = await established({}, true);
  peer.send(A, { srcPort: 4000, dstPort: 80, seq: 1001, ack: iss + 1, flags: ACK, window: 65535, hasTimestamp: true, tsVal: 500, tsEcr: synAck.tsVal }, new Uint8Array([9]));
  await net.clock.advance(100);
  assert.equal(tcp.stats().drops.paws, 1);
  peer.send(A, { srcPort: 4000, dstPort: 80, seq: 1001, ack: iss + 1, flags: ACK, window: 65535, hasTimestamp: true, tsVal: 2000, tsEcr: synAck.tsVal }, new Uint8Array([10]));
  const got = await net.clock.run(flow.read());
  assert.deepEqual([...got!], [10]);
});

test("completes a simultaneous open", async () => {
  const net = new TestNet();
  const tcp = net.tcp(A);
  const peer = new RawPeer(net, P);
  const connecting = tcp.connect(P, 5555);
  await net.clock.runUntil(() => peer.received.length > 0);
  const syn = peer.take()[0]!;
  assert.equal(syn.flags, SYN);
  // Our own SYN crosses theirs.
  peer.send(A, { srcPort: 5555, dstPort: syn.srcPort, seq: 7000, flags: SYN, window: 65535, mss: 1460 });
  await net.clock.runUntil(() => peer.received.length > 0);
  const synAck = peer.take()[0]!;
  assert.equal(synAck.flags, SYN | ACK);
  assert.equal(synAck.seq, syn.seq);
  assert.equal(synAck.ack, 7001);
  assert.equal(tcp.stats().connections.SYN_RECEIVED, 1);
  peer.send(A, { srcPort: 5555, dstPort: syn.srcPort, seq: 7000, ack: syn.seq + 1, flags: SYN | ACK, window: 65535, mss: 1460 });
  const flow = await net.clock.run(connecting);
  assert.equal(tcp.stats().connections.ESTABLISHED, 1);
  peer.send(A, { srcPort: 5555, dstPort: syn.srcPort, seq: 7001, ack: syn.seq + 1, flags: ACK | FIN, window: 65535 }, new Uint8Array([42]));
  assert.deepEqual([...(await net.clock.run(flow.read()))!], [42]);
  assert.equal(await net.clock.run(flow.read()), null);
});

test("bounds the half-open queue under a SYN flood and frees it after the SYN-ACK retries", async () => {
  const net = new TestNet();
  const tcp = net.tcp(A, { synRetries: 2 });
  const peer = new RawPeer(net, P);
  tcp.listen(80, () => {}, { backlog: 4 });
  for (let i = 0; i < 10; i++) peer.send(A, { srcPort: 2000 + i, dstPort: 80, seq: 1000 * i, flags: SYN, window: 1000 });
  await net.clock.advance(10);
  assert.equal(peer.take().length, 4);
  const s = tcp.stats();
  assert.equal(s.connections.SYN_RECEIVED, 4);
  assert.equal(s.drops["syn-backlog-full"], 6);
  await net.clock.advance(10_000);
  assert.equal(tcp.stats().connectionCount, 0);
  // The queue has room again.
  peer.send(A, { srcPort: 3000, dstPort: 80, seq: 5, flags: SYN, window: 1000 });
  await net.clock.advance(10);
  assert.equal(peer.take().filter((r) => r.flags === (SYN | ACK) && r.dstPort === 3000).length, 1);
});

test("a full half-open queue gives the oldest entry's place to a new SYN once its SYN-ACK went unanswered", async () => {
  const net = new TestNet();
  const tcp = net.tcp(A, { synRetries: 5 });
  const peer = new RawPeer(net, P);
  let accepted = 0;
  tcp.listen(80, () => void accepted++, { backlog: 4 });
  // Four SYNs from a peer that never completes the handshake fill the queue.
  for (let i = 0; i < 4; i++) peer.send(A, { srcPort: 2000 + i, dstPort: 80, seq: 1000 * i, flags: SYN, window: 1000 });
  await net.clock.advance(10);
  peer.send(A, { srcPort: 2100, dstPort: 80, seq: 9, flags: SYN, window: 1000 });
  await net.clock.advance(10);
  assert.equal(tcp.stats().drops["syn-backlog-full"], 1, "young entries are not evicted");
  peer.take();
  // After the first SYN-ACK retransmission the oldest entries may give way.
  await net.clock.advance(1_500);
  assert.equal(peer.take().filter((r) => r.flags === (SYN | ACK)).length, 4, "the SYN-ACKs were sent again");
  peer.send(A, { srcPort: 3000, dstPort: 80, seq: 5, flags: SYN, window: 1000 });
  await net.clock.advance(10);
  const synAck = peer.take().find((r) => r.flags === (SYN | ACK) && r.dstPort === 3000);
  assert.ok(synAck, "the new SYN was answered");
  let s = tcp.stats();
  assert.equal(s.drops["syn-received-evicted"], 1);
  assert.equal(s.connections.SYN_RECEIVED, 4, "still bounded");
  peer.send(A, { srcPort: 3000, dstPort: 80, seq: 6, ack: synAck.seq + 1, flags: ACK, window: 1000 });
  await net.clock.advance(10);
  assert.equal(accepted, 1, "and it completes");
  s = tcp.stats();
  assert.equal(s.connections.ESTABLISHED, 1);
  assert.equal(s.connections.SYN_RECEIVED, 3);
});

test("reuses a 4-tuple in TIME_WAIT for a new SYN with a higher sequence number", async () => {
  const { net, tcp, peer, flow, iss } = await established();
  const closing = flow.close();
  await net.clock.advance(10);
  const fin = peer.take().find((r) => r.flags & FIN)!;
  assert.equal(fin.seq, iss + 1);
  peer.send(A, { srcPort: 4000, dstPort: 80, seq: 1001, ack: iss + 2, flags: ACK | FIN, window: 65535 });
  await net.clock.run(closing);
  assert.equal(tcp.stats().connections.TIME_WAIT, 1);
  await net.clock.advance(10);
  assert.equal(peer.take().filter((r) => r.flags === ACK && r.ack === 1002).length, 1);
  peer.send(A, { srcPort: 4000, dstPort: 80, seq: 90_000, flags: SYN, window: 65535 });
  await net.clock.advance(10);
  const answer = peer.take();
  assert.equal(answer.length, 1);
  assert.equal(answer[0]!.flags, SYN | ACK);
  assert.equal(answer[0]!.ack, 90_001);
  assert.equal(tcp.stats().connections.TIME_WAIT, 0);
  assert.equal(tcp.stats().connections.SYN_RECEIVED, 1);
});

test("keeps TIME_WAIT when a RST arrives (RFC 1337)", async () => {
  const { net, tcp, peer, flow, iss } = await established();
  const closing = flow.close();
  await net.clock.advance(10);
  peer.send(A, { srcPort: 4000, dstPort: 80, seq: 1001, ack: iss + 2, flags: ACK | FIN, window: 65535 });
  await net.clock.run(closing);
  assert.equal(tcp.stats().connections.TIME_WAIT, 1);
  peer.send(A, { srcPort: 4000, dstPort: 80, seq: 1002, flags: RST });
  await net.clock.advance(10);
  assert.equal(tcp.stats().connections.TIME_WAIT, 1);
  assert.equal(tcp.stats().drops["rst-in-time-wait"], 1);
  await net.clock.advance(2000);
  assert.equal(tcp.stats().connectionCount, 0);
});
