// Damaged images: whatever bytes the device holds, a store answers with a KvError (or data), never
// with another exception, a hang or a crash.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { KvRo, KvRw } from "../devices/kv.ts";
import { KvError } from "../devices/errors.ts";
import { Ramdisk } from "../block/ramdisk.ts";
import { FatKvRw } from "./fat/store.ts";
import { FatFormatError, formatFat, parseBootSector } from "./fat/layout.ts";
import { parseDirectory } from "./fat/dirent.ts";
import { parseHeader, parsePax } from "./tar/format.ts";
import { TarKvRw } from "./tar/store.ts";
import { setLevels } from "oasis/logs";
import { BadSectors } from "./test-support.ts";

// Damaged archives are expected here: keep their warnings out of the test output.
setLevels([["kv.tar", "quiet"]]);

async function onlyKvErrors<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (e) {
    if (e instanceof KvError) return undefined;
    throw e;
  }
}

/** Reads everything reachable (bounded), then tries a few writes. */
async function exercise(kv: KvRo | KvRw): Promise<void> {
  let budget = 200;
  const walk = async (key: string, depth: number): Promise<void> => {
    const entries = (await onlyKvErrors(kv.list(key))) ?? [];
    for (const [child, kind] of entries) {
      if (--budget < 0 || depth > 8) return;
      await onlyKvErrors(kv.exists(child));
      await onlyKvErrors(kv.lastModified(child));
      if (kind === "value") {
        await onlyKvErrors(kv.get(child));
        await onlyKvErrors(kv.getPartial(child, 100, 50));
      } else await walk(child, depth + 1);
    }
  };
  await walk("/", 0);
  await onlyKvErrors(kv.digest("/"));
  if ("set" in kv) {
    await onlyKvErrors(kv.set("/fuzz/new value", "x".repeat(700)));
    await onlyKvErrors(kv.setPartial("/docs/a", 900, "y"));
    await onlyKvErrors(kv.remove("/docs"));
    await onlyKvErrors(kv.rename("/top", "/fuzz"));
  }
}

async function imageOf(disk: Ramdisk, bytes: number): Promise<Uint8Array> {
  const out = new Uint8Array(bytes);
  await disk.read(0, out);
  return out;
}

const mutations = (span: number) => fc.array(fc.record({ at: fc.nat(span - 1), value: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 12 });

describe("parsers on random bytes", () => {
  it("tar headers and pax data parse to a result, never an exception", () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 512, maxLength: 512 }), (b) => void parseHeader(b)));
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (b) => void parsePax(b)));
    fc.assert(fc.property(fc.string({ maxLength: 200 }), (s) => void parsePax(new TextEncoder().encode(s))));
  });

  it("FAT directories parse to entries, and boot sectors to a layout or a FatFormatError", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2048 }), (b) => void parseDirectory(b)));
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 512, maxLength: 512 }), fc.boolean(), (b, signed) => {
        if (signed) b.set([0x55, 0xaa], 510);
        try {
          parseBootSector(b, 64 * 1024 * 1024, "fuzz");
        } catch (e) {
          assert.ok(e instanceof FatFormatError, String(e));
        }
      }),
    );
  });
});

describe("damaged images", () => {
  it("a FAT image with random bytes changed in its metadata never throws anything but KvError", async () => {
    const disk = new Ramdisk({ sizeSectors: 2048 });
    await formatFat(disk, { type: 12 });
    const kv = await FatKvRw.open(disk);
    await kv.set("/top", "top level");
    await kv.set("/docs/a", "a".repeat(1500));
    await kv.set("/docs/deeper/a long file name.txt", "b".repeat(3000));
    const image = await imageOf(disk, 2048 * 512);
    // Boot sector, FATs, root directory and the first data clusters (the subdirectories).
    const span = 64 * 1024;
    await fc.assert(
      fc.asyncProperty(mutations(span), async (changes) => {
        const copy = new Ramdisk({ sizeSectors: 2048 });
        const bytes = image.slice();
        for (const { at, value } of changes) bytes[at] = value;
        await copy.write(0, bytes);
        const store = await onlyKvErrors(FatKvRw.open(copy));
        if (store) await exercise(store);
      }),
      { numRuns: 150 },
    );
  });

  it("a tar archive with random bytes changed never throws anything but KvError", async () => {
    const disk = new Ramdisk({ sizeSectors: 64 });
    const kv = await TarKvRw.open(disk);
    await kv.set("/top", "top level");
    await kv.set("/docs/a", "a".repeat(1500));
    await kv.set("/" + "p".repeat(120) + "/long", "b".repeat(600));
    const image = await imageOf(disk, 64 * 512);
    await fc.assert(
      fc.asyncProperty(mutations(8 * 1024), async (changes) => {
        const copy = new Ramdisk({ sizeSectors: 64 });
        const bytes = image.slice();
        for (const { at, value } of changes) bytes[at] = value;
        await copy.write(0, bytes);
        const store = await onlyKvErrors(TarKvRw.open(copy));
        if (store) await exercise(store);
      }),
      { numRuns: 150 },
    );
  });

  it("a FAT directory that contains its own ancestor is reported, not followed forever", async () => {
    const disk = new Ramdisk({ sizeSectors: 2048 });
    await formatFat(disk, { type: 12 });
    const kv = await FatKvRw.open(disk);
    await kv.set("/loop/inner/x", "1");
    // Point /loop/inner's entry at /loop's cluster: inner now contains itself.
    const image = await imageOf(disk, 2048 * 512);
    const text = new TextDecoder("latin1").decode(image);
    const loopAt = text.indexOf("LOOP       ");
    const innerAt = text.indexOf("INNER      ");
    assert.ok(loopAt > 0 && innerAt > 0);
    image.copyWithin(innerAt + 26, loopAt + 26, loopAt + 28);
    await disk.write(0, image);
    const damaged = await FatKvRw.open(disk);
    await assert.rejects(damaged.digest("/"), (e: unknown) => e instanceof KvError && e.code === "io" && /loop/.test(e.message));
    await assert.rejects(damaged.remove("/loop"), (e: unknown) => e instanceof KvError && e.code === "io");
  });

  it("a failing device surfaces as KvError io naming the key, with the device error as cause", async () => {
    const fatDisk = new Ramdisk({ sizeSectors: 2048 });
    await formatFat(fatDisk, { type: 12 });
    const bad = new BadSectors(fatDisk, new Set());
    const fat = await FatKvRw.open(bad);
    await fat.set("/file", "x".repeat(5000));
    for (let s = fat.layout.firstDataSector; s < 2048; s++) bad.bad.add(s); // the data area
    await assert.rejects(fat.get("/file"), (e: unknown) => e instanceof KvError && e.code === "io" && e.key === "/file" && /medium error/.test(e.message) && e.cause !== undefined);

    const tarDisk = new Ramdisk({ sizeSectors: 64 });
    const tarBad = new BadSectors(tarDisk, new Set());
    const tar = await TarKvRw.open(tarBad);
    await tar.set("/t", "y".repeat(600));
    tarBad.bad.add(1);
    await assert.rejects(tar.get("/t"), (e: unknown) => e instanceof KvError && e.code === "io" && e.key === "/t" && /medium error/.test(e.message));
  });
});
