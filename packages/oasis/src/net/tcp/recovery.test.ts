// Loss recovery against the RFCs' "one reduction per window of data": how often and how far
// the sender backs off, on the virtual clock with losses placed by hand.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { TcpFlow } from "../../devices/tcp.ts";
import type { TcpConfig } from "./config.ts";
import { TestNet, pattern, readAll } from "./test-support.ts";

const MSS = 1448;

async function pair(config: TcpConfig = {}, delayMs = 10) {
  const net = new TestNet({ faults: { delayMs } });
  const a = net.tcp("192.0.2.1", config);
  const b = net.tcp("192.0.2.2", config);
  let got: Uint8Array | null = null;
  b.listen(9, async (f) => {
    got = await readAll(f);
  });
  const flow: TcpFlow = await net.clock.run(a.connect("192.0.2.2", 9));
  const state = () => a.connection(flow.local, flow.remote)!.debugState();
  return { net, a, b, flow, state, got: () => got };
}

test("a repeated RTO holds ssthresh instead of reducing it again (RFC 5681 §3.1)", async () => {
  const { net, a, flow, state } = await pair();
  // From now on the wire is cut: the first RTO reduces, the next ones must not.
  net.faults.loss = 1;
  await net.clock.run(flow.write(pattern(10 * MSS)));
  await net.clock.runUntil(() => a.stats().rtoExpiries === 1);
  const afterFirst = state().ssthresh;
  assert.ok(afterFirst >= 5 * MSS, `first RTO: ssthresh ${afterFirst / MSS} segments`);
  assert.equal(state().cwnd, state().mss);
  await net.clock.runUntil(() => a.stats().rtoExpiries === 3);
  assert.equal(state().ssthresh, afterFirst);
  assert.equal(state().cwnd, state().mss);
  a.connection(flow.local, flow.remote)!.abort();
  assert.equal(a.stats().connectionCount, 0);
});

test("an RTO during fast recovery does not reduce ssthresh a second time", async () => {
  const { net, a, flow, state, got } = await pair({ minRtoMs: 300 });
  const data = pattern(200 * MSS);
  // The 30th data segment is lost, and so is every retransmission of it until an RTO fires.
  let lostSeq = -1;
  let dataSegs = 0;
  net.faults.drop = (s) => {
    if (s.src !== "192.0.2.1" || s.tcp.payload.length === 0) return false;
    if (++dataSegs === 30) lostSeq = s.tcp.seq;
    return s.tcp.seq === lostSeq && a.stats().rtoExpiries === 0;
  };
  const writing = flow.write(data);
  await net.clock.runUntil(() => a.stats().fastRecoveries === 1);
  const reduced = state().ssthresh;
  await net.clock.runUntil(() => a.stats().rtoExpiries === 1);
  assert.equal(a.stats().fastRecoveries, 1);
  assert.equal(state().ssthresh, reduced);
  await net.clock.run(writing);
  await net.clock.run(flow.close());
  await net.clock.runUntil(() => got() !== null);
  assert.ok(Buffer.from(got()!).equals(Buffer.from(data)));
});

{
  // Without SACK nothing but three duplicate ACKs can start recovery (no probes either).
  test("limited transmit repairs a loss in a three-segment window by fast retransmit, not RTO (RFC 3042, no SACK)", async () => {
    const { net, a, flow, got } = await pair({ sack: false, congestionControl: "newreno", minRtoMs: 1000 });
    const conn = a.connection(flow.local, flow.remote)!;
    // A window of three segments, as after a few reductions on a lossy path.
    const cc = (conn as unknown as { cc: { cwnd: number; ssthresh: number } }).cc;
    cc.cwnd = cc.ssthresh = 3 * conn.mss;
    let dropped = false;
    net.faults.drop = (s) => s.src === "192.0.2.1" && s.tcp.payload.length > 0 && !dropped && (dropped = true);
    const data = pattern(30 * MSS);
    await net.clock.run(flow.write(data));
    await net.clock.run(flow.close());
    await net.clock.runUntil(() => got() !== null);
    assert.ok(dropped);
    assert.ok(Buffer.from(got()!).equals(Buffer.from(data)));
    const s = a.stats();
    if (process.env.TCP_TEST_VERBOSE) console.log(s);
    assert.equal(s.rtoExpiries, 0);
    assert.equal(s.tailLossProbes, 0);
    assert.equal(s.fastRecoveries, 1);
    assert.equal(s.retransmits, 1);
  });
}

test("NewReno leaves fast recovery with at least two segments of cwnd when the full ACK empties the flight (RFC 6582 §3.2)", async () => {
  const { net, a, flow, state, got } = await pair({ sack: false, congestionControl: "newreno" });
  flow.setNoDelay(true);
  let dropped = false;
  net.faults.drop = (s) => s.src === "192.0.2.1" && s.tcp.payload.length > 0 && !dropped && (dropped = true);
  // Ten segments, the initial window: the first is lost, nine duplicate ACKs, one full ACK.
  const data = pattern(10 * state().mss);
  await net.clock.run(flow.write(data));
  await net.clock.runUntil(() => state().sndUna === data.length + 1);
  assert.ok(dropped);
  assert.equal(a.stats().fastRecoveries, 1);
  assert.equal(a.stats().rtoExpiries, 0);
  assert.equal(state().cwnd, 2 * state().mss);
  await net.clock.run(flow.close());
  await net.clock.runUntil(() => got() !== null);
  assert.ok(Buffer.from(got()!).equals(Buffer.from(data)));
});

test("PRR sends new data in proportion to delivery from the start of recovery, not after pipe drains below cwnd (RFC 6937)", async () => {
  const { net, a, flow, state, got } = await pair({ minRtoMs: 1000 });
  const conn = a.connection(flow.local, flow.remote)!;
  const mss = conn.mss;
  // Congestion avoidance at 20 segments; the first data segment is lost once.
  const cc = (conn as unknown as { cc: { cwnd: number; ssthresh: number } }).cc;
  cc.cwnd = cc.ssthresh = 20 * mss;
  let dropped = -1;
  net.faults.drop = (s) => {
    if (dropped < 0 && s.src === "192.0.2.1" && s.tcp.payload.length > 0) {
      dropped = s.tcp.seq;
      return true;
    }
    return false;
  };
  // What a does, in order: ACKs it processes and data segments it sends.
  const events: ({ in: true } | { in: false; seq: number })[] = [];
  const input = conn.input.bind(conn);
  conn.input = (r, now) => {
    events.push({ in: true });
    input(r, now);
  };
  net.record = true;
  const seenBefore = () => net.seen.length;
  let mark = seenBefore();
  const send = net.send.bind(net);
  net.send = (src, dst, bytes) => {
    send(src, dst, bytes);
    for (; mark < net.seen.length; mark++) {
      const s = net.seen[mark]!;
      if (s.src === "192.0.2.1" && s.tcp.payload.length > 0) events.push({ in: false, seq: s.tcp.seq });
    }
  };
  const data = pattern(60 * mss);
  await net.clock.run(flow.write(data));
  await net.clock.run(flow.close());
  await net.clock.runUntil(() => got() !== null);
  assert.ok(Buffer.from(got()!).equals(Buffer.from(data)));
  assert.equal(a.stats().fastRecoveries, 1);
  assert.equal(a.stats().rtoExpiries, 0);
  // From the fast retransmit on: new segments a sends before it has processed six more ACKs.
  const rtx = events.findIndex((e, i) => !e.in && e.seq === dropped && i > events.findIndex((f) => !f.in && f.seq === dropped));
  assert.ok(rtx > 0);
  let highest = 0;
  for (let i = 0; i < rtx; i++) {
    const e = events[i]!;
    if (!e.in) highest = Math.max(highest, e.seq);
  }
  let acks = 0;
  let early = 0;
  for (let i = rtx + 1; i < events.length; i++) {
    const e = events[i]!;
    if (e.in && ++acks === 6) break;
    if (!e.in && e.seq > highest) early++;
  }
  // ssthresh is 14 segments (CUBIC β 0.7) for about 22 in flight (with the two of Limited
  // Transmit): PRR sends about 0.64 segment per segment delivered, from the start. RFC 6675
  // alone sends nothing until pipe has drained below cwnd, six ACKs later.
  assert.ok(early >= 2, `${early} new segments before the sixth ACK of recovery`);
  assert.ok(state().ssthresh < 20 * mss);
});
