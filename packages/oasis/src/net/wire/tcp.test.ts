import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { WireError as TcpWireError } from "./error.ts";
import { finishChecksum, onesSum } from "./checksum.ts";
import {
  ACK,
  SYN,
  emitTcpHeader,
  emptyTcpRepr,
  parseTcp,
  setTcpChecksum,
  tcpHeaderLength,
  type TcpRepr,
} from "./tcp.ts";

// The textbook definition, 16 bits at a time: the oracle for the 32-bit-word implementation.
function naiveSum(chunks: Uint8Array[], initial: number): number {
  const all = Buffer.concat(chunks);
  let s = initial;
  for (let i = 0; i < all.length; i += 2) s += (all[i]! << 8) | (i + 1 < all.length ? all[i + 1]! : 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const port = fc.integer({ min: 1, max: 0xffff });

const reprArb = fc
  .record({
    srcPort: port,
    dstPort: port,
    seq: u32,
    ack: u32,
    flags: fc.integer({ min: 0, max: 0xff }),
    window: fc.integer({ min: 0, max: 0xffff }),
    urgent: fc.integer({ min: 0, max: 0xffff }),
    mss: fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 0xffff })),
    windowScale: fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 14 })),
    sackPermitted: fc.boolean(),
    hasTimestamp: fc.boolean(),
    tsVal: u32,
    tsEcr: u32,
    blocks: fc.array(fc.tuple(u32, u32), { maxLength: 4 }),
    payload: fc.uint8Array({ maxLength: 300 }),
  })
  .filter((r) => {
    const withoutSack = { ...r, sack: new Uint32Array(8), sackCount: 0 };
    return tcpHeaderLength({ ...withoutSack, sackCount: r.blocks.length }) <= 60;
  });

function toRepr(r: typeof reprArb extends fc.Arbitrary<infer T> ? T : never): TcpRepr {
  const out = emptyTcpRepr();
  Object.assign(out, r);
  out.sackCount = r.blocks.length;
  r.blocks.forEach(([a, b], i) => {
    out.sack[2 * i] = a;
    out.sack[2 * i + 1] = b;
  });
  if (!r.hasTimestamp) {
    out.tsVal = 0;
    out.tsEcr = 0;
  }
  return out;
}

const PSEUDO = 0x1234 + 0xabcd;

test("checksum over 32-bit words equals the 16-bit definition, for any chunking", () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 6 }), fc.integer({ min: 0, max: 0x3ffff }), (chunks, init) => {
      // Header-like first chunk of even length, as setTcpChecksum requires.
      const header = new Uint8Array(20);
      header[0] = 7;
      setTcpChecksum(header, 20, chunks, init);
      assert.equal(naiveSum([header, ...chunks], init), 0xffff);
    }),
  );
  const big = new Uint8Array(100_003).map((_, i) => (i * 7919) & 0xff);
  assert.equal(onesSum(big, 0, big.length, 5) % 0xffff, naiveSum([big], 5) % 0xffff);
});

test("parse of emit gives back every field and the payload", () => {
  fc.assert(
    fc.property(reprArb, (r) => {
      const repr = toRepr(r);
      const header = new Uint8Array(60);
      const hlen = emitTcpHeader(repr, header);
      assert.equal(hlen, tcpHeaderLength(repr));
      setTcpChecksum(header, hlen, [r.payload], PSEUDO);
      const seg = Buffer.concat([header.subarray(0, hlen), r.payload]);
      const back = parseTcp(new Uint8Array(seg), PSEUDO);
      assert.ok(!(back instanceof TcpWireError), String(back));
      for (const k of ["srcPort", "dstPort", "seq", "ack", "flags", "window", "urgent", "mss", "windowScale", "sackPermitted", "hasTimestamp", "tsVal", "tsEcr", "sackCount"] as const) {
        assert.equal(back[k], repr[k], k);
      }
      assert.deepEqual([...back.sack.subarray(0, 2 * back.sackCount)], [...repr.sack.subarray(0, 2 * repr.sackCount)]);
      assert.deepEqual(Buffer.from(back.payload), Buffer.from(r.payload));
    }),
  );
});

test("random bytes never throw: they parse or give a reason", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 100 }), fc.boolean(), (bytes, verify) => {
      const r = parseTcp(bytes, verify ? 0 : null);
      if (r instanceof TcpWireError) assert.match(r.reason, /^[a-z-]+$/);
      else assert.ok(r.payload.length <= bytes.length);
    }),
  );
});

test("rejects a flipped bit by checksum and names bad options", () => {
  const r = emptyTcpRepr();
  Object.assign(r, { srcPort: 1000, dstPort: 80, seq: 1, flags: SYN | ACK, window: 100, mss: 1460 });
  const h = new Uint8Array(60);
  const hlen = emitTcpHeader(r, h);
  setTcpChecksum(h, hlen, [], PSEUDO);
  const seg = h.slice(0, hlen);
  assert.ok(!(parseTcp(seg, PSEUDO) instanceof TcpWireError));
  seg[5]! ^= 0x10;
  assert.equal((parseTcp(seg, PSEUDO) as TcpWireError).reason, "bad-checksum");
  seg[5]! ^= 0x10;
  seg[21] = 9; // MSS option claiming 9 bytes
  assert.equal((parseTcp(seg, null) as TcpWireError).reason, "bad-option-length");
  seg[21] = 4;
  seg[12] = 0x40; // data offset 16 bytes
  assert.equal((parseTcp(seg, null) as TcpWireError).reason, "bad-data-offset");
  assert.equal((parseTcp(seg.subarray(0, 10), null) as TcpWireError).reason, "truncated-header");
  assert.equal(finishChecksum(0xffff), 0);
});
