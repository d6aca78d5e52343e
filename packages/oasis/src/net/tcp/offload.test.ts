// TCP over devices with offloads, on the in-memory switch: each host's device does what a NIC
// would (finishes partial checksums, cuts TSO writes into MTU-sized segments with the software
// GSO) and records what it was asked; a sniffer checks every frame on the wire. Real timers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import type { Net, NetOffload, RxOffload, TxOffload } from "../../devices/net.ts";
import type { TcpFlow } from "../../devices/tcp.ts";
import { withFaults } from "../phy/faults.ts";
import { MemorySwitch } from "../phy/switch.ts";
import { ipv4Stack } from "../stack/direct.ts";
import { ipv4PseudoSum } from "../wire/checksum.ts";
import { WireError } from "../wire/error.ts";
import { finishPartialChecksum, segmentTcpPacket } from "../wire/gso.ts";
import { parseIpv4 } from "../wire/ipv4.ts";
import { ACK, parseTcp } from "../wire/tcp.ts";
import { createTcp, type TcpConfig, type TcpStack } from "./index.ts";
import { pattern } from "./test-support.ts";

const NIC: NetOffload = { checksum: true, segmentation: true, maxFrame: 65550 };

interface NicLog {
  /** Writes with a partial checksum, and those also to be cut into segments. */
  partial: number;
  segmented: number;
  /** Largest frame written with a segmentation request. */
  largest: number;
  /** TCP writes with no request (or checksumStart 0). */
  plain: number;
  /** Segment sizes asked for. */
  sizes: Set<number>;
  /** Anything a NIC would have refused or misread. */
  anomalies: string[];
}

/**
 * A Net with offloads over a switch port: writes are finished and cut in software, as a NIC
 * would, then go on the wire as MTU-sized frames; received frames are passed up with
 * `rx` (checksumOk when the device "verified" them).
 */
function nic(port: Net, offload: NetOffload = NIC, rx?: RxOffload, merge?: { out: number[]; in: number[] }): { net: Net; log: NicLog } {
  const log: NicLog = { partial: 0, segmented: 0, largest: 0, plain: 0, sizes: new Set(), anomalies: [] };
  const net: Net = {
    mac: port.mac,
    mtu: 1500,
    offload,
    write(frame: Uint8Array, tx?: TxOffload): void {
      if (tx === undefined || tx.checksumStart === 0) {
        if (isTcp(frame)) log.plain++;
        if (tx !== undefined && tx.segmentSize > 0) log.anomalies.push("segmentation request without a partial checksum");
        port.write(frame);
        return;
      }
      log.partial++;
      if (!offload.checksum) log.anomalies.push("partial checksum to a device without checksum offload");
      const isV4 = frame[12] === 0x08 && frame[13] === 0x00;
      const transport = 14 + (isV4 ? (frame[14]! & 0x0f) * 4 : 40);
      if (tx.checksumStart !== transport) log.anomalies.push(`checksumStart ${tx.checksumStart}, transport header at ${transport}`);
      const proto = isV4 ? frame[23] : frame[20];
      if (!((proto === 6 && tx.checksumOffset === 16) || (proto === 17 && tx.checksumOffset === 6))) log.anomalies.push(`checksumOffset ${tx.checksumOffset} for protocol ${proto}`);
      if (tx.segmentSize > 0) {
        log.segmented++;
        log.largest = Math.max(log.largest, frame.length);
        log.sizes.add(tx.segmentSize);
        if (!offload.segmentation) log.anomalies.push("segmentation request to a device without segmentation");
        if (frame.length > offload.maxFrame) log.anomalies.push(`frame of ${frame.length} bytes over maxFrame`);
        if (merge) {
          // Host to host without cutting (two guests on one host): the frame crosses whole.
          const f = frame.slice();
          finishPartialChecksum(f, tx.checksumStart, tx.checksumOffset);
          merge.out.push(tx.segmentSize);
          port.write(f);
          return;
        }
        segmentTcpPacket(frame.subarray(14), tx.segmentSize, (packet) => {
          const f = new Uint8Array(14 + packet.length);
          f.set(frame.subarray(0, 14));
          f.set(packet, 14);
          port.write(f);
        });
        return;
      }
      const f = frame.slice();
      finishPartialChecksum(f, tx.checksumStart, tx.checksumOffset);
      port.write(f);
    },
    listen(handler: (frame: Uint8Array, offload?: RxOffload) => void): void {
      if (merge) {
        port.listen((frame) => handler(frame, { checksumOk: true, segmentSize: frame.length > 1514 ? merge.in.shift()! : 0 }));
      } else port.listen((frame) => handler(frame, rx));
    },
    stats: () => port.stats(),
    resetStats: () => port.resetStats(),
    disconnect: () => port.disconnect(),
  };
  return { net, log };
}

function isTcp(frame: Uint8Array): boolean {
  return (frame[12] === 0x08 && frame[13] === 0x00 && frame[23] === 6) || (frame[12] === 0x86 && frame[13] === 0xdd && frame[20] === 6);
}

interface Wire {
  tcpFrames: number;
  dataFrames: number;
  largest: number;
  bad: string[];
  /** Per source address: ACKs without data, and the data sizes of the other frames. */
  from: Map<string, { pureAcks: number; sizes: number[] }>;
}

/** A promiscuous port checking every TCP/IPv4 frame on the switch: wire-sized, both checksums valid. */
function sniff(sw: MemorySwitch, maxFrame = 1514): Wire {
  const wire: Wire = { tcpFrames: 0, dataFrames: 0, largest: 0, bad: [], from: new Map() };
  sw.port({ promiscuous: true, name: "sniffer" }).listen((frame) => {
    if (!(frame[12] === 0x08 && frame[13] === 0x00)) return;
    const ip = parseIpv4(frame.subarray(14));
    if (ip instanceof WireError) return void wire.bad.push(`IPv4: ${ip.reason}`);
    if (ip.protocol !== 6) return;
    wire.tcpFrames++;
    wire.largest = Math.max(wire.largest, frame.length);
    if (frame.length > maxFrame) wire.bad.push(`frame of ${frame.length} bytes`);
    const t = parseTcp(ip.payload, ipv4PseudoSum(ip.src, ip.dst, 6, ip.payload.length));
    if (t instanceof WireError) return void wire.bad.push(`TCP: ${t.reason}`);
    if (t.payload.length > 0) wire.dataFrames++;
    const src = [...frame.subarray(26, 30)].join(".");
    let f = wire.from.get(src);
    if (f === undefined) wire.from.set(src, (f = { pureAcks: 0, sizes: [] }));
    if (t.payload.length === 0 && t.flags === ACK) f.pureAcks++;
    else if (t.payload.length > 0) f.sizes.push(t.payload.length);
  });
  return wire;
}

interface PairOptions {
  a?: TcpConfig;
  b?: TcpConfig;
  offloadA?: NetOffload;
  offloadB?: NetOffload;
  rxA?: RxOffload;
  rxB?: RxOffload;
  /** Segmentation requests cross the switch whole and arrive merged (RxOffload.segmentSize). */
  merge?: boolean;
  /** Faults on the wire under each device (MTU-sized frames). */
  faults?: Parameters<typeof withFaults>[1];
}

function pair(options: PairOptions = {}) {
  const sw = new MemorySwitch({ queueLimit: 100_000, mtu: options.merge ? NIC.maxFrame - 14 : 1500 });
  const wire = sniff(sw, options.merge ? NIC.maxFrame : 1514);
  const aToB: number[] = [];
  const bToA: number[] = [];
  const portOf = (name: string, seed: number): Net => {
    const port = sw.port({ name, mtu: options.merge ? NIC.maxFrame - 14 : 1500 });
    return options.faults ? withFaults(port, { seed, ...options.faults }) : port;
  };
  const da = nic(portOf("a", 1), options.offloadA ?? NIC, options.rxA, options.merge ? { out: aToB, in: bToA } : undefined);
  const db = nic(portOf("b", 2), options.offloadB ?? NIC, options.rxB, options.merge ? { out: bToA, in: aToB } : undefined);
  let ta!: TcpStack;
  let tb!: TcpStack;
  const base = { minRtoMs: 50, initialRtoMs: 200, mslMs: 50 };
  const a = ipv4Stack(da.net, { cidr: "192.0.2.2/24", tcp: (ip) => (ta = createTcp(ip, { ...base, ...options.a })) });
  const b = ipv4Stack(db.net, { cidr: "192.0.2.3/24", tcp: (ip) => (tb = createTcp(ip, { ...base, ...options.b })) });
  a.arp.addStatic("192.0.2.3", db.net.mac);
  b.arp.addStatic("192.0.2.2", da.net.mac);
  return {
    a: ta,
    b: tb,
    logA: da.log,
    logB: db.log,
    wire,
    close: async () => {
      ta.disconnect();
      tb.disconnect();
      await Promise.all([a.stack.disconnect(), b.stack.disconnect()]);
    },
  };
}

const sha = (b: Uint8Array | Buffer) => createHash("sha256").update(b).digest("hex");

/** Sends `up` from a to b and `down` from b to a at the same time; returns what each side received. */
async function exchange(a: TcpStack, b: TcpStack, up: Uint8Array, down: Uint8Array): Promise<{ atB: string; atA: string }> {
  let serverDone!: Promise<string>;
  const accepted = new Promise<void>((resolve) => {
    b.listen(80, (flow: TcpFlow) => {
      serverDone = (async () => {
        const writing = flow.write(down).then(() => flow.shutdown("write"));
        const h = createHash("sha256");
        for (;;) {
          const c = await flow.read();
          if (c === null) break;
          h.update(c);
        }
        await writing;
        await flow.close();
        return h.digest("hex");
      })();
      resolve();
    });
  });
  const flow = await a.connect("192.0.2.3", 80);
  const h = createHash("sha256");
  const reading = (async () => {
    for (;;) {
      const c = await flow.read();
      if (c === null) break;
      h.update(c);
    }
  })();
  await flow.write(up);
  await flow.shutdown("write");
  await reading;
  await flow.close();
  await accepted;
  return { atB: await serverDone, atA: h.digest("hex") };
}

test("TCP with TSO and checksum offload moves 3 MB each way byte-exact; every frame on the wire is valid", { timeout: 30_000 }, async () => {
  const p = pair();
  try {
    assert.ok(p.a.offload && p.b.offload, "TCP uses the offloads");
    const up = pattern(3_000_000, 11);
    const down = pattern(3_000_000, 12);
    const r = await exchange(p.a, p.b, up, down);
    assert.equal(r.atB, sha(up));
    assert.equal(r.atA, sha(down));
    for (const [name, log] of [["a", p.logA], ["b", p.logB]] as const) {
      assert.deepEqual(log.anomalies, [], `${name}: requests a NIC would misread`);
      assert.ok(log.segmented > 0, `${name} asked for segmentation (${JSON.stringify({ ...log, sizes: [...log.sizes] })})`);
      assert.ok(log.largest > 1514 * 4, `${name}: writes of several segments (largest ${log.largest} bytes)`);
      assert.ok(log.largest <= NIC.maxFrame);
      assert.equal(log.plain, 0, `${name}: every TCP write carries a partial checksum`);
      // The segment size is the MSS the peer allows: 1460 less the timestamp option.
      assert.deepEqual([...log.sizes], [1448], `${name}: segment sizes`);
    }
    assert.deepEqual(p.wire.bad.slice(0, 5), [], "frames on the wire");
    assert.ok(p.wire.dataFrames >= 2 * Math.ceil(3_000_000 / 1448));
    assert.ok(p.wire.largest <= 1514 && p.wire.largest > 1400);
    for (const t of [p.a, p.b]) assert.equal(t.stats().drops["bad-checksum"] ?? 0, 0);
    // Segments counted as the device sends them, not as writes.
    assert.ok(p.a.stats().segmentsOut > p.logA.partial, "segmentsOut counts cut segments");
  } finally {
    await p.close();
  }
});

test("the same transfer with receivers told every checksum is good (checksumOk) is byte-exact", { timeout: 30_000 }, async () => {
  const vouched: RxOffload = { checksumOk: true, segmentSize: 0 };
  const p = pair({ rxA: vouched, rxB: vouched });
  try {
    const up = pattern(1_000_000, 21);
    const down = pattern(1_000_000, 22);
    const r = await exchange(p.a, p.b, up, down);
    assert.equal(r.atB, sha(up));
    assert.equal(r.atA, sha(down));
    assert.deepEqual(p.wire.bad.slice(0, 5), []);
  } finally {
    await p.close();
  }
});

test("TcpConfig.offload=false sends plain MTU segments with full checksums over an offload device", { timeout: 30_000 }, async () => {
  const p = pair({ a: { offload: false }, b: { offload: false } });
  try {
    assert.equal(p.a.offload, undefined);
    const up = pattern(500_000, 31);
    const down = pattern(500_000, 32);
    const r = await exchange(p.a, p.b, up, down);
    assert.equal(r.atB, sha(up));
    assert.equal(r.atA, sha(down));
    for (const log of [p.logA, p.logB]) {
      assert.equal(log.partial, 0, "no partial checksums");
      assert.equal(log.segmented, 0, "no segmentation requests");
      assert.ok(log.plain > 300);
    }
    assert.deepEqual(p.wire.bad.slice(0, 5), []);
  } finally {
    await p.close();
  }
});

test("over a device with checksum offload only, TCP sends MTU-sized writes with partial checksums", { timeout: 30_000 }, async () => {
  const csumOnly: NetOffload = { checksum: true, segmentation: false, maxFrame: 1514 };
  const p = pair({ offloadA: csumOnly, offloadB: csumOnly });
  try {
    const up = pattern(400_000, 41);
    const down = pattern(400_000, 42);
    const r = await exchange(p.a, p.b, up, down);
    assert.equal(r.atB, sha(up));
    assert.equal(r.atA, sha(down));
    for (const log of [p.logA, p.logB]) {
      assert.deepEqual(log.anomalies, []);
      assert.equal(log.segmented, 0);
      assert.ok(log.partial > 250, `partial-checksum writes: ${log.partial}`);
    }
    assert.deepEqual(p.wire.bad.slice(0, 5), []);
  } finally {
    await p.close();
  }
});

test("one side with offloads, the other without, interoperate", { timeout: 30_000 }, async () => {
  const p = pair({ b: { offload: false } });
  try {
    const up = pattern(800_000, 51);
    const down = pattern(800_000, 52);
    const r = await exchange(p.a, p.b, up, down);
    assert.equal(r.atB, sha(up));
    assert.equal(r.atA, sha(down));
    assert.ok(p.logA.segmented > 0);
    assert.equal(p.logB.partial, 0);
    assert.deepEqual(p.wire.bad.slice(0, 5), []);
  } finally {
    await p.close();
  }
});

test("merged receive (GRO): 64 KB frames vouched for by the device are taken whole, byte-exact, and acknowledged as the segments they hold", { timeout: 30_000 }, async () => {
  const p = pair({ merge: true });
  try {
    const up = pattern(3_000_000, 61);
    const down = new Uint8Array(0);
    const r = await exchange(p.a, p.b, up, down);
    assert.equal(r.atB, sha(up));
    assert.equal(r.atA, sha(down));
    // Pure ACKs from b, and a's data frames that hold at least 16 segments (each should get its own ACK).
    const pureAcksFromB = p.wire.from.get("192.0.2.3")?.pureAcks ?? 0;
    const sizes = p.wire.from.get("192.0.2.2")?.sizes ?? [];
    const bigFromA = sizes.filter((n) => n >= 16 * 1448).length;
    if (process.env.TCP_TEST_VERBOSE) console.log({ pureAcksFromB, bigFromA, frames: sizes.length, largest: p.wire.largest });
    assert.deepEqual(p.wire.bad.slice(0, 5), []);
    assert.ok(p.wire.largest > 16 * 1448, "merged frames crossed the switch");
    assert.ok(p.logA.segmented > 10, "a sent merged frames");
    assert.ok(bigFromA > 10, `${bigFromA} frames of 16+ segments`);
    // A merged frame of 16 or more segments is acknowledged at once; counted as one segment it
    // would wait for a second frame (or the delayed-ACK timer).
    assert.ok(pureAcksFromB >= 0.9 * bigFromA, `${pureAcksFromB} ACKs for ${bigFromA} frames of 16+ segments`);
    assert.equal(p.b.stats().drops["bad-checksum"] ?? 0, 0);
  } finally {
    await p.close();
  }
});

test("TSO with 2% loss on the wire: retransmissions and SACK recovery stay byte-exact", { timeout: 60_000 }, async () => {
  const p = pair({ faults: { loss: 0.02, reorder: 0.01 } });
  try {
    const up = pattern(2_000_000, 71);
    const down = pattern(2_000_000, 72);
    const r = await exchange(p.a, p.b, up, down);
    assert.equal(r.atB, sha(up));
    assert.equal(r.atA, sha(down));
    assert.ok(p.a.stats().retransmits > 0 && p.b.stats().retransmits > 0, "losses were repaired");
    assert.ok(p.logA.segmented > 0 && p.logB.segmented > 0);
    assert.deepEqual(p.logA.anomalies, []);
    assert.deepEqual(p.logB.anomalies, []);
    assert.deepEqual(p.wire.bad.slice(0, 5), []);
  } finally {
    await p.close();
  }
});
