// Hostile input: random segments (valid checksums, so they reach the state machine) thrown at a
// listener and at live connections never throw, never corrupt counters, and leave nothing behind.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import type { TcpFlow } from "../../devices/tcp.ts";
import { ACK, FIN, RST, SYN } from "../wire/tcp.ts";
import { RawPeer, TestNet } from "./test-support.ts";

const A = "192.0.2.1";
const P = "192.0.2.9";

const segment = fc.record({
  srcPort: fc.constantFrom(4000, 4001, 4002),
  dstPort: fc.constantFrom(80, 81),
  seqDelta: fc.oneof(fc.integer({ min: -70000, max: 70000 }), fc.integer({ min: 0, max: 0xffffffff })),
  ackDelta: fc.oneof(fc.integer({ min: -70000, max: 70000 }), fc.integer({ min: 0, max: 0xffffffff })),
  flags: fc.oneof(fc.constantFrom(ACK, SYN, SYN | ACK, RST, RST | ACK, FIN | ACK, ACK | 8), fc.integer({ min: 0, max: 255 })),
  window: fc.integer({ min: 0, max: 0xffff }),
  mss: fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 0xffff })),
  windowScale: fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 14 })),
  sackPermitted: fc.boolean(),
  ts: fc.option(fc.tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff }))),
  sack: fc.array(fc.tuple(fc.integer({ min: -70000, max: 70000 }), fc.integer({ min: 0, max: 70000 })), { maxLength: 3 }),
  payload: fc.uint8Array({ maxLength: 64 }),
});

test("random segments against a listener and live connections never throw and leave the table empty", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(segment, { minLength: 1, maxLength: 40 }), async (segs) => {
      const net = new TestNet();
      const tcp = net.tcp(A, { synRetries: 2, maxRetransmits: 3, finWait2TimeoutMs: 2000 });
      const peer = new RawPeer(net, P);
      const flows: TcpFlow[] = [];
      tcp.listen(80, async (flow) => {
        flows.push(flow);
        await flow.write(new Uint8Array(3000)).catch(() => {});
        for (;;) if ((await flow.read().catch(() => null)) === null) break;
        await flow.close().catch(() => {});
      });
      // One proper handshake so that some random segments land in a live connection.
      peer.send(A, { srcPort: 4000, dstPort: 80, seq: 1000, flags: SYN, window: 65535, mss: 1460 });
      await net.clock.advance(5);
      const synAck = peer.take().find((r) => r.flags === (SYN | ACK));
      assert.ok(synAck);
      peer.send(A, { srcPort: 4000, dstPort: 80, seq: 1001, ack: synAck.seq + 1, flags: ACK, window: 65535 });
      await net.clock.advance(5);
      for (const s of segs) {
        const sack = new Uint32Array(8);
        s.sack.forEach(([l, len], i) => {
          sack[2 * i] = (synAck.seq + 1 + l) >>> 0;
          sack[2 * i + 1] = (synAck.seq + 1 + l + len) >>> 0;
        });
        peer.send(
          A,
          {
            srcPort: s.srcPort,
            dstPort: s.dstPort,
            seq: (1001 + s.seqDelta) >>> 0,
            ack: (synAck.seq + 1 + s.ackDelta) >>> 0,
            flags: s.flags,
            window: s.window,
            mss: s.flags & SYN ? s.mss : -1,
            windowScale: s.flags & SYN ? s.windowScale : -1,
            sackPermitted: (s.flags & SYN) !== 0 && s.sackPermitted,
            hasTimestamp: s.ts !== null,
            tsVal: s.ts?.[0] ?? 0,
            tsEcr: s.ts?.[1] ?? 0,
            sack,
            sackCount: s.flags & SYN ? 0 : s.sack.length,
          },
          s.payload,
        );
        await net.clock.advance(1);
      }
      const st = tcp.stats();
      assert.equal(st.drops["internal-error"], undefined);
      for (const n of Object.values(st.connections)) assert.ok(n >= 0);
      // The peer goes silent: every connection must time out or finish.
      await net.clock.advance(600_000);
      const end = tcp.stats();
      if (process.env.TCP_TEST_VERBOSE) console.log(JSON.stringify({ in: end.segmentsIn, out: end.segmentsOut, ch: end.challengeAcks, rr: end.resetsReceived, po: end.passiveOpens, flows: flows.length, drops: end.drops }));
      assert.equal(end.connectionCount, 0, JSON.stringify(end.connections));
      assert.equal(end.timerEntries, 0);
    }),
    { numRuns: 150 },
  );
});
