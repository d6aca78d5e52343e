// Random and mutated bytes never make the partition-table readers throw anything but a
// PartitionTableError (or return a table whose partitions all fit on the disk).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { BlockError } from "../devices/errors.ts";
import { readGpt, writeGpt } from "./gpt.ts";
import { readMbr, writeMbr } from "./mbr.ts";
import { Ramdisk } from "./ramdisk.ts";

const SECTORS = 256;

async function outcome(read: () => Promise<{ list(): { start: number; sizeSectors: number; kind?: string; type: string }[] }>): Promise<void> {
  try {
    const t = await read();
    for (const p of t.list()) {
      if (p.type === "ee") continue; // a protective MBR may claim more than the disk
      assert.ok(p.start >= 0 && p.sizeSectors > 0 && p.start + p.sizeSectors <= SECTORS, `partition out of the disk: sectors ${p.start}+${p.sizeSectors}`);
    }
  } catch (e) {
    assert.ok(e instanceof BlockError, `unexpected ${String(e)}`);
  }
}

/** A valid table (written by us) with `mutations` random byte changes in its first and last sectors. */
async function mutated(base: Uint8Array, mutations: Array<[number, number]>): Promise<Ramdisk> {
  const disk = new Ramdisk({ sizeSectors: SECTORS });
  const copy = Uint8Array.from(base);
  for (const [pos, value] of mutations) copy[pos % copy.length] = value;
  await disk.write(0, copy);
  return disk;
}

async function image(write: (d: Ramdisk) => Promise<unknown>): Promise<Uint8Array> {
  const d = new Ramdisk({ sizeSectors: SECTORS });
  await write(d);
  const all = new Uint8Array(SECTORS * 512);
  await d.read(0, all);
  return all;
}

describe("partition table readers under random input", () => {
  it("MBR: mutated tables give a table that fits the disk or a PartitionTableError", async () => {
    // Two primaries, then an extended partition with EBRs at sectors 60 and 70 and two logicals.
    const base = await image((d) =>
      writeMbr(d, [{ start: 10, sizeSectors: 50 }, { logical: true, start: 61, sizeSectors: 5 }, { logical: true, start: 71, sizeSectors: 5 }, { start: 100, sizeSectors: 10 }]),
    );
    assert.deepEqual((await readMbr(await mutated(base, []))).list().map((p) => p.start), [10, 60, 100, 61, 71]);
    const table = fc.oneof(fc.integer({ min: 440, max: 511 }), fc.integer({ min: 60 * 512 + 440, max: 60 * 512 + 511 }), fc.integer({ min: 70 * 512 + 440, max: 70 * 512 + 511 }));
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(table, fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), async (m) => outcome(async () => readMbr(await mutated(base, m)))),
      { numRuns: 400 },
    );
  });

  it("GPT: mutated headers and entries give a table or a PartitionTableError", async () => {
    const base = await image((d) => writeGpt(d, [{ name: "a", start: 40, sizeSectors: 50 }, { name: "b" }]));
    const hot = fc.oneof(fc.integer({ min: 446, max: 511 }), fc.integer({ min: 512, max: 512 + 92 }), fc.integer({ min: 1024, max: 1024 + 256 }), fc.integer({ min: (SECTORS - 1) * 512, max: (SECTORS - 1) * 512 + 92 }));
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(hot, fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), async (m) => outcome(async () => readGpt(await mutated(base, m)))),
      { numRuns: 400 },
    );
  });

  it("entirely random first sectors never crash either reader", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1024, maxLength: 1024 }), fc.boolean(), async (bytes, sig) => {
        if (sig) bytes.set([0x55, 0xaa], 510);
        const d = new Ramdisk({ sizeSectors: SECTORS });
        await d.write(0, bytes);
        await outcome(() => readMbr(d));
        await outcome(() => readGpt(d));
      }),
      { numRuns: 300 },
    );
  });
});
