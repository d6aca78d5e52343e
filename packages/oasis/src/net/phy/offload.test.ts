// Middlewares over a device with offloads: pcap and the tracer pass offloads through (pcap
// recording partial checksums finished); the fault injector exposes none and cuts merged
// received frames back into wire-sized segments before its faults.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Net, NetOffload, NetStats, RxOffload, TxOffload } from "../../devices/net.ts";
import { NetError } from "../../devices/errors.ts";
import { foldSum, ipv4PseudoSum } from "../wire/checksum.ts";
import { WireError } from "../wire/error.ts";
import { emitIpv4, parseIpv4 } from "../wire/ipv4.ts";
import { ACK, PSH, FIN, emitTcpHeader, emptyTcpRepr, parseTcp, setTcpChecksum, tcpHeaderLength } from "../wire/tcp.ts";
import { withFaults } from "./faults.ts";
import { withPcap } from "./pcap.ts";
import { withTracer } from "./tracer.ts";
import { pattern as data, RecordingNet } from "../tcp/test-support.ts";

const OFFLOAD: NetOffload = { checksum: true, segmentation: true, maxFrame: 65550 };
const US = new Uint8Array([2, 0, 0, 0, 0, 1]);
const PEER = new Uint8Array([2, 0, 0, 0, 0, 2]);
const SRC = 0xc0000202;
const DST = 0xc0000203;

/** An Ethernet frame with one TCP/IPv4 segment of `n` data bytes; its checksum partial or complete. */
function tcpFrame(n: number, partial: boolean, options: { seq?: number; flags?: number; id?: number } = {}): Uint8Array {
  const r = { ...emptyTcpRepr(), srcPort: 80, dstPort: 50000, seq: options.seq ?? 1000, ack: 2000, flags: options.flags ?? ACK | PSH, window: 4096, hasTimestamp: true, tsVal: 5, tsEcr: 6 };
  const hlen = tcpHeaderLength(r);
  const payload = data(n, n);
  const f = new Uint8Array(14 + 20 + hlen + n);
  f.set(PEER, 0);
  f.set(US, 6);
  f[12] = 0x08;
  f[13] = 0x00;
  emitIpv4({ src: SRC, dst: DST, protocol: 6, ttl: 64, id: options.id ?? 42, tos: 0, dontFragment: true, moreFragments: false, fragmentOffset: 0, payloadLength: hlen + n }, f.subarray(14));
  const tcp = f.subarray(34);
  emitTcpHeader(r, tcp);
  tcp.set(payload, hlen);
  const pseudo = ipv4PseudoSum(SRC, DST, 6, hlen + n);
  if (partial) {
    const p = foldSum(pseudo);
    tcp[16] = p >>> 8;
    tcp[17] = p;
  } else setTcpChecksum(tcp, hlen, [payload], pseudo);
  return f;
}

/** Parses a TCP/IPv4 frame, asserting the IPv4 and TCP checksums; returns the TCP fields. */
function checkTcpFrame(f: Uint8Array) {
  assert.equal((f[12]! << 8) | f[13]!, 0x0800);
  const ip = parseIpv4(f.subarray(14));
  assert.ok(!(ip instanceof WireError), `IPv4: ${String(ip)}`);
  assert.equal(14 + ip.headerLength + ip.payloadLength, f.length);
  const tcp = parseTcp(ip.payload, ipv4PseudoSum(ip.src, ip.dst, 6, ip.payload.length));
  assert.ok(!(tcp instanceof WireError), `TCP: ${String(tcp)}`);
  return { ip, tcp };
}

/** The records of a pcap byte stream. */
function pcapRecords(chunks: Uint8Array[]): { incl: number; orig: number; bytes: Uint8Array }[] {
  const all = new Uint8Array(Buffer.concat(chunks));
  const v = new DataView(all.buffer, all.byteOffset, all.length);
  assert.equal(v.getUint32(0, true), 0xa1b2c3d4);
  const out: { incl: number; orig: number; bytes: Uint8Array }[] = [];
  let off = 24;
  while (off < all.length) {
    const incl = v.getUint32(off + 8, true);
    const orig = v.getUint32(off + 12, true);
    out.push({ incl, orig, bytes: all.subarray(off + 16, off + 16 + incl) });
    off += 16 + incl;
  }
  assert.equal(off, all.length, "records end exactly at the end of the file");
  return out;
}

describe("withPcap over a device with offloads", () => {
  it("exposes the device's offload, and none when the device has none", () => {
    const sink = { write: () => {} };
    assert.deepEqual(withPcap(new RecordingNet(OFFLOAD, US), sink).offload, OFFLOAD);
    assert.equal(withPcap(new RecordingNet(undefined, US), sink).offload, undefined);
  });

  it("passes TxOffload down untouched and records the frame with its partial checksum finished", async () => {
    const chunks: Uint8Array[] = [];
    const dev = new RecordingNet(OFFLOAD, US);
    const p = withPcap(dev, { write: (b) => chunks.push(b.slice()) });
    // One wire-sized segment with a partial checksum, and one 20 KB TSO write.
    const small = tcpFrame(1000, true);
    const big = tcpFrame(20_000, true, { flags: ACK | PSH | FIN });
    const smallCopy = small.slice();
    const bigCopy = big.slice();
    const tx: TxOffload = { checksumStart: 34, checksumOffset: 16, segmentSize: 0 };
    p.write(small, tx);
    tx.segmentSize = 1448;
    p.write(big, tx);
    // A frame written without offload is recorded exactly as written (nothing to finish).
    const plain = tcpFrame(300, false);
    p.write(plain);
    await p.disconnect();

    assert.deepEqual(small, smallCopy, "the caller's frame is not modified");
    assert.deepEqual(big, bigCopy);
    assert.equal(dev.writes.length, 3);
    assert.deepEqual(dev.writes[0], { frame: smallCopy, offload: { checksumStart: 34, checksumOffset: 16, segmentSize: 0 } });
    assert.deepEqual(dev.writes[1], { frame: bigCopy, offload: { checksumStart: 34, checksumOffset: 16, segmentSize: 1448 } });
    assert.deepEqual(dev.writes[2], { frame: plain, offload: undefined });

    const recs = pcapRecords(chunks);
    assert.equal(recs.length, 3);
    assert.deepEqual(recs[0]!.bytes, tcpFrame(1000, false), "recorded with the full checksum");
    assert.deepEqual(recs[1]!.bytes, tcpFrame(20_000, false, { flags: ACK | PSH | FIN }), "the TSO frame is recorded whole, checksum finished");
    assert.equal(recs[1]!.orig, big.length);
    for (const r of recs) checkTcpFrame(r.bytes);
    assert.deepEqual(recs[2]!.bytes, plain);
  });

  it("passes RxOffload up untouched and records the received frame", async () => {
    const chunks: Uint8Array[] = [];
    const dev = new RecordingNet(OFFLOAD, US);
    const p = withPcap(dev, { write: (b) => chunks.push(b.slice()) });
    const got: { frame: Uint8Array; offload: RxOffload | undefined }[] = [];
    p.listen((frame, offload) => got.push({ frame: frame.slice(), offload: offload ? { ...offload } : undefined }));
    const merged = tcpFrame(8000, false);
    dev.deliver(merged, { checksumOk: true, segmentSize: 1448 });
    dev.deliver(tcpFrame(100, false), { checksumOk: false, segmentSize: 0 });
    dev.deliver(tcpFrame(50, false));
    await p.disconnect();
    assert.deepEqual(
      got.map((g) => g.offload),
      [{ checksumOk: true, segmentSize: 1448 }, { checksumOk: false, segmentSize: 0 }, undefined],
    );
    assert.deepEqual(got[0]!.frame, merged);
    const recs = pcapRecords(chunks);
    assert.deepEqual(
      recs.map((r) => r.bytes.length),
      [merged.length, tcpFrame(100, false).length, tcpFrame(50, false).length],
    );
    assert.deepEqual(recs[0]!.bytes, merged);
  });
});

describe("withTracer over a device with offloads", () => {
  it("exposes the offload and passes TxOffload and RxOffload through", () => {
    assert.equal(withTracer(new RecordingNet(undefined, US)).offload, undefined);
    const dev = new RecordingNet(OFFLOAD, US);
    const t = withTracer(dev, "t0");
    assert.deepEqual(t.offload, OFFLOAD);
    const frame = tcpFrame(5000, true);
    t.write(frame, { checksumStart: 34, checksumOffset: 16, segmentSize: 1000 });
    t.write(frame);
    assert.deepEqual(dev.writes, [
      { frame, offload: { checksumStart: 34, checksumOffset: 16, segmentSize: 1000 } },
      { frame, offload: undefined },
    ]);
    const got: (RxOffload | undefined)[] = [];
    t.listen((_f, o) => got.push(o ? { ...o } : undefined));
    dev.deliver(frame, { checksumOk: true, segmentSize: 1000 });
    dev.deliver(frame);
    assert.deepEqual(got, [{ checksumOk: true, segmentSize: 1000 }, undefined]);
  });
});

describe("withFaults over a device with offloads", () => {
  it("exposes no offload, writes plain frames only, and refuses frames over the MTU", () => {
    const dev = new RecordingNet(OFFLOAD, US);
    const f = withFaults(dev, {});
    assert.equal(f.offload, undefined);
    assert.equal("offload" in f, false);
    const frame = tcpFrame(1000, false);
    // Even if a caller passes a request, nothing is asked of the device.
    (f.write as (frame: Uint8Array, offload?: TxOffload) => void)(frame, { checksumStart: 34, checksumOffset: 16, segmentSize: 0 });
    assert.deepEqual(dev.writes, [{ frame, offload: undefined }]);
    assert.throws(() => f.write(tcpFrame(3000, false)), (e) => e instanceof NetError && e.code === "invalid-length");
  });

  /** Delivers one merged frame through withFaults(options) and returns the frames (and their offloads) seen above. */
  function receiveMerged(options: Parameters<typeof withFaults>[1], n: number, segmentSize: number, rx: Partial<RxOffload> = {}) {
    const dev = new RecordingNet(OFFLOAD, US);
    const f = withFaults(dev, options);
    const got: { frame: Uint8Array; offload: unknown }[] = [];
    f.listen((frame, ...rest: unknown[]) => got.push({ frame: frame.slice(), offload: rest[0] }));
    const merged = tcpFrame(n, false, { flags: ACK | PSH | FIN, seq: 0xfffffff0 });
    const copy = merged.slice();
    dev.deliver(merged, { checksumOk: true, segmentSize, ...rx });
    assert.deepEqual(merged, copy, "the device's frame is not modified");
    return { got, stats: f.faultStats(), merged };
  }

  it("cuts a merged received frame into valid wire-sized segments, vouching for nothing", () => {
    const { got, stats } = receiveMerged({}, 10_000, 1448);
    assert.equal(got.length, Math.ceil(10_000 / 1448));
    assert.equal(stats.passed, got.length, "each segment went through the faults on its own");
    let seq = 0xfffffff0;
    const payloads: Uint8Array[] = [];
    got.forEach(({ frame, offload }, i) => {
      assert.equal(offload, undefined, "no RxOffload above the injector");
      assert.deepEqual(frame.subarray(0, 14), tcpFrame(0, false).subarray(0, 14), "Ethernet header copied");
      assert.ok(frame.length <= 1514, `segment ${i} fits the MTU (${frame.length})`);
      const { ip, tcp } = checkTcpFrame(frame);
      assert.equal(ip.id, (42 + i) & 0xffff);
      assert.equal(tcp.seq, seq);
      seq = (seq + tcp.payload.length) >>> 0;
      const last = i === got.length - 1;
      assert.equal(tcp.flags, last ? ACK | PSH | FIN : ACK);
      payloads.push(tcp.payload);
    });
    assert.deepEqual(new Uint8Array(Buffer.concat(payloads)), data(10_000, 10_000));
  });

  it("applies its faults to each segment, not to the merged frame", () => {
    // maxSize below the merged frame but above a segment: everything still gets through.
    const sized = receiveMerged({ maxSize: 600 }, 4000, 500);
    assert.equal(sized.got.length, 8);
    assert.equal(sized.stats.tooBig, 0);
    // Duplication decides per segment: every segment twice.
    const dup = receiveMerged({ duplicate: 1 }, 4000, 1000);
    assert.equal(dup.got.length, 8);
    assert.equal(dup.stats.duplicated, 4);
    for (let i = 0; i < 8; i += 2) assert.deepEqual(dup.got[i]!.frame, dup.got[i + 1]!.frame);
    // Corruption flips one bit in each segment.
    const clean = receiveMerged({}, 4000, 1000).got.map((g) => g.frame);
    const bad = receiveMerged({ corrupt: 1, seed: 9 }, 4000, 1000);
    assert.equal(bad.got.length, 4);
    assert.equal(bad.stats.corrupted, 4);
    bad.got.forEach(({ frame }, i) => {
      let bits = 0;
      for (let k = 0; k < frame.length; k++) bits += popcount(frame[k]! ^ clean[i]![k]!);
      assert.equal(bits, 1, `segment ${i} differs from the clean one by one bit`);
    });
  });

  it("passes an unmerged frame whole, dropping the device's checksum vouch", () => {
    const { got } = receiveMerged({}, 1000, 0);
    assert.equal(got.length, 1);
    assert.equal(got[0]!.offload, undefined);
    assert.deepEqual(got[0]!.frame, tcpFrame(1000, false, { flags: ACK | PSH | FIN, seq: 0xfffffff0 }));
  });
});

function popcount(x: number): number {
  let n = 0;
  for (; x; x &= x - 1) n++;
  return n;
}
