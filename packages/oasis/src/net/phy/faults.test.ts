import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { NetError } from "../../devices/errors.ts";
import { withFaults, type FaultOptions } from "./faults.ts";
import { MemorySwitch } from "./switch.ts";

function frame(dst: Uint8Array, src: Uint8Array, seq: number, length = 60): Uint8Array {
  const f = new Uint8Array(length);
  f.set(dst, 0);
  f.set(src, 6);
  f[12] = 0x88;
  f[13] = 0xb5;
  f[14] = seq >> 8;
  f[15] = seq & 0xff;
  return f;
}

const seqOf = (f: Uint8Array) => (f[14]! << 8) | f[15]!;

/** Sends `count` frames from a faulty port to a plain one and returns what arrived. */
async function run(options: FaultOptions, count: number, length = 60): Promise<{ got: Uint8Array[]; stats: ReturnType<ReturnType<typeof withFaults>["faultStats"]> }> {
  const sw = new MemorySwitch({ queueLimit: 100_000 });
  const a = withFaults(sw.port({ mac: "02:00:00:00:00:01" }), options);
  const b = sw.port({ mac: "02:00:00:00:00:02" });
  const got: Uint8Array[] = [];
  b.listen((f) => got.push(f.slice()));
  for (let i = 0; i < count; i++) a.write(frame(b.mac, a.mac, i, length));
  await sw.settle();
  await new Promise((r) => setTimeout(r, (options.delayMs ?? 0) + (options.jitterMs ?? 0) + (options.reorder ? (options.reorderHoldMs ?? 10) : 0) + 30));
  await sw.settle();
  return { got, stats: a.faultStats() };
}

describe("withFaults", () => {
  it("is deterministic: the same seed and traffic give the same faults, another seed others", async () => {
    const opts = { loss: 0.3, duplicate: 0.1, corrupt: 0.1 };
    const one = await run({ ...opts, seed: 42 }, 300);
    const two = await run({ ...opts, seed: 42 }, 300);
    const other = await run({ ...opts, seed: 43 }, 300);
    assert.deepEqual(one.got, two.got);
    assert.deepEqual(one.stats, two.stats);
    assert.notDeepEqual(one.got.map(seqOf), other.got.map(seqOf));
  });

  it("loses about the requested fraction of frames", async () => {
    const { got, stats } = await run({ seed: 7, loss: 0.25 }, 4000);
    assert.equal(got.length + stats.lost, 4000);
    assert.ok(stats.lost > 850 && stats.lost < 1150, `lost ${stats.lost} of 4000`);
  });

  it("duplicates frames", async () => {
    const { got, stats } = await run({ duplicate: 1 }, 10);
    assert.deepEqual(
      got.map(seqOf),
      [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9],
    );
    assert.equal(stats.duplicated, 10);
  });

  it("corrupts exactly one bit of a copy, leaving the sender's buffer intact", async () => {
    const sw = new MemorySwitch();
    const a = withFaults(sw.port(), { corrupt: 1, seed: 5 });
    const b = sw.port({ promiscuous: true }); // a flipped destination bit must still arrive here
    const got: Uint8Array[] = [];
    b.listen((f) => got.push(f.slice()));
    const sent: Uint8Array[] = [];
    for (let i = 0; i < 50; i++) {
      const f = frame(b.mac, a.mac, i);
      sent.push(f.slice());
      a.write(f);
      assert.deepEqual(f, sent[i], "the caller's frame is not modified");
    }
    await sw.settle();
    assert.equal(got.length, 50);
    const differentPlaces = new Set<number>();
    got.forEach((g, n) => {
      const original = sent[n]!;
      let bits = 0;
      for (let i = 0; i < g.length; i++) {
        let x = g[i]! ^ original[i]!;
        if (x) differentPlaces.add(i);
        while (x) {
          bits += x & 1;
          x >>= 1;
        }
      }
      assert.equal(bits, 1);
    });
    assert.ok(differentPlaces.size > 10, "the flipped byte is chosen at random");
    assert.equal(a.faultStats().corrupted, 50);
  });

  it("reorders: a held frame goes right after its successor", async () => {
    const { got, stats } = await run({ reorder: 1 }, 6);
    assert.deepEqual(got.map(seqOf), [1, 0, 3, 2, 5, 4]);
    assert.equal(stats.reordered, 3);
  });

  it("releases a held frame after reorderHoldMs when nothing follows it", async () => {
    const { got } = await run({ reorder: 1, reorderHoldMs: 5 }, 1);
    assert.deepEqual(got.map(seqOf), [0]);
  });

  it("delays frames without reordering them and copies what it keeps", async () => {
    const sw = new MemorySwitch();
    const a = withFaults(sw.port(), { delayMs: 20 });
    const b = sw.port();
    const got: number[] = [];
    b.listen((f) => got.push(seqOf(f)));
    const buf = frame(b.mac, a.mac, 1);
    a.write(buf);
    buf[15] = 2;
    a.write(buf);
    await sw.settle();
    assert.deepEqual(got, [], "nothing before the delay");
    await new Promise((r) => setTimeout(r, 60));
    await sw.settle();
    assert.deepEqual(got, [1, 2]);
    assert.equal(a.faultStats().delayed, 2);
  });

  it("drops frames over maxSize and beyond the rate limit", async () => {
    const big = await run({ maxSize: 100 }, 5, 200);
    assert.equal(big.got.length, 0);
    assert.equal(big.stats.tooBig, 5);
    const limited = await run({ rate: { frames: 10, intervalMs: 60_000 } }, 25);
    assert.equal(limited.got.length, 10);
    assert.equal(limited.stats.rateLimited, 15);
  });

  it("applies faults only in the chosen direction", async () => {
    const sw = new MemorySwitch();
    const a = withFaults(sw.port(), { loss: 1, direction: "rx" });
    const b = sw.port();
    const atA: number[] = [];
    const atB: number[] = [];
    a.listen((f) => atA.push(seqOf(f)));
    b.listen((f) => atB.push(seqOf(f)));
    a.write(frame(b.mac, a.mac, 1));
    b.write(frame(a.mac, b.mac, 2));
    await sw.settle();
    assert.deepEqual(atB, [1], "tx passes");
    assert.deepEqual(atA, [], "rx is lost");
  });

  it("checks its options and its frames", async () => {
    const sw = new MemorySwitch();
    assert.throws(() => withFaults(sw.port(), { loss: 1.5 }), /loss is a probability/);
    assert.throws(() => withFaults(sw.port(), { delayMs: -1 }), /delayMs must be/);
    const a = withFaults(sw.port(), {});
    assert.throws(() => a.write(new Uint8Array(10)), (e: unknown) => e instanceof NetError && e.code === "invalid-length");
    await a.disconnect();
    assert.throws(() => a.write(new Uint8Array(60)), (e: unknown) => e instanceof NetError && e.code === "disconnected");
  });

  it("drops delayed frames on disconnect instead of sending them later", async () => {
    const sw = new MemorySwitch();
    const a = withFaults(sw.port(), { delayMs: 10 });
    const b = sw.port();
    let got = 0;
    b.listen(() => got++);
    a.write(frame(b.mac, a.mac, 1));
    await a.disconnect();
    await new Promise((r) => setTimeout(r, 40));
    await sw.settle();
    assert.equal(got, 0);
  });

  it("accounts for every frame and never throws, whatever the options and frame sizes", async () => {
    const p = fc.double({ min: 0, max: 1, noNaN: true });
    await fc.assert(
      fc.asyncProperty(
        fc.record({ seed: fc.integer(), loss: p, duplicate: p, reorder: p, corrupt: p, maxSize: fc.integer({ min: 14, max: 1514 }) }),
        fc.array(fc.integer({ min: 14, max: 1514 }), { maxLength: 40 }),
        async (options, sizes) => {
          const sw = new MemorySwitch({ schedule: "microtask" });
          const a = withFaults(sw.port({ mac: "02:00:00:00:00:01" }), { ...options, reorderHoldMs: 0 });
          const b = sw.port({ mac: "02:00:00:00:00:02", promiscuous: true });
          let delivered = 0;
          b.listen(() => delivered++);
          sizes.forEach((n, i) => a.write(frame(b.mac, a.mac, i, n)));
          await new Promise((r) => setTimeout(r, 5));
          await sw.settle();
          const s = a.faultStats();
          assert.equal(s.passed + s.lost + s.reordered + s.tooBig + s.rateLimited, sizes.length);
          assert.equal(delivered, s.passed + s.reordered + s.duplicated);
        },
      ),
      { numRuns: 80 },
    );
  });
});
