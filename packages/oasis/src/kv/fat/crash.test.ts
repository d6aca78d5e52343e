// Write ordering and power cuts: data clusters, then the FAT copies, then the directory entry, so
// a cut-off write leaves at worst unreferenced clusters (fsck.fat reclaims them) and never an
// entry whose clusters do not hold its data.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { Ramdisk } from "../../block/ramdisk.ts";
import { CutOff, WriteRecorder } from "../test-support.ts";
import { formatFat } from "./layout.ts";
import { FatKvRw } from "./store.ts";

const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe("FAT write ordering", () => {
  for (const type of [16, 32] as const) {
    it(`FAT${type}: a new file is written data first, then every FAT copy, then its directory entry`, async () => {
      const disk = new Ramdisk({ sizeSectors: type === 32 ? 70000 : 40000 });
      const layout = await formatFat(disk, { type, sectorsPerCluster: 1 });
      const kv = await FatKvRw.open(disk);
      await kv.set("/dir/existing", "x");
      const recorder = new WriteRecorder(disk);
      const rec = await FatKvRw.open(recorder);
      const dirCluster = await clusterOf(disk, layout.firstDataSector, layout.rootDirSector, type);
      await rec.set("/dir/a new file with a long name.bin", new Uint8Array(3 * 512 + 100).fill(9));
      const fatStart = layout.reservedSectors;
      const fatEnd = fatStart + layout.numFats * layout.fatSectors;
      const dirSector = layout.firstDataSector + (dirCluster - 2) * layout.sectorsPerCluster;
      const kinds = recorder.writes
        .map(({ sector }) => (sector >= fatStart && sector < fatEnd ? (sector < fatStart + layout.fatSectors ? "fat1" : "fat2") : sector === dirSector ? "dir" : sector < fatStart ? "fsinfo" : "data"))
        .filter((k, i, all) => k !== "fsinfo" && k !== all[i - 1]);
      assert.deepEqual(kinds, ["data", "fat1", "fat2", "dir"]);
    });
  }
});

/** The first cluster of the root's first subdirectory entry. */
async function clusterOf(disk: Ramdisk, firstDataSector: number, rootDirSector: number, type: 16 | 32): Promise<number> {
  const root = new Uint8Array(512);
  await disk.read(type === 32 ? firstDataSector : rootDirSector, root);
  for (let at = 0; at < 512; at += 32) {
    if (root[at + 11] === 0x10) return root[at + 26]! | (root[at + 27]! << 8) | (root[at + 20]! << 16) | (root[at + 21]! << 24);
  }
  throw new Error("no directory in the root");
}

describe("FAT power cuts", () => {
  it("a write cut off at any sector keeps earlier files intact; fsck.fat finds only clusters to reclaim", async () => {
    const dir = mkdtempSync(join(tmpdir(), "oasis-kv-fatcut-"));
    try {
      const harmless = /^(FATs differ but appear to be intact\.|\s*Using first FAT\.|Reclaimed \d+ unused clusters? \(\d+ bytes\)\.|Free cluster summary wrong.*|\s*Auto-correcting\.)$/;
      for (let budget = 0; budget < 16; budget++) {
        const disk = new Ramdisk({ sizeSectors: 4096 });
        await formatFat(disk, { type: 12 });
        const kv = await FatKvRw.open(disk);
        await kv.set("/a", "A".repeat(1000));
        await kv.set("/d/b", "B");
        const cut = await FatKvRw.open(new CutOff(disk, budget));
        let done = 0;
        try {
          await cut.set("/d/a new long name", "C".repeat(1500));
          done++;
          await cut.set("/a", "Z".repeat(2000));
          done++;
        } catch {
          // the power cut
        }
        const after = await FatKvRw.open(disk);
        const a = text(await after.get("/a"));
        // Once the second set has begun, either version is right: never a mix or a loss.
        assert.ok(a === "A".repeat(1000) || (done >= 1 && a === "Z".repeat(2000)), `budget ${budget}: /a is ${a.slice(0, 10)}… (${a.length})`);
        if (done === 2) assert.equal(a, "Z".repeat(2000));
        assert.equal(text(await after.get("/d/b")), "B");
        const c = await after.exists("/d/a new long name");
        if (done >= 1) assert.equal(c, "value");
        if (c) assert.equal(text(await after.get("/d/a new long name")), "C".repeat(1500));

        const img = join(dir, `cut-${budget}.img`);
        const raw = new Uint8Array(4096 * 512);
        await disk.read(0, raw);
        writeFileSync(img, raw);
        const r = spawnSync("fsck.fat", ["-n", img], { encoding: "utf8" });
        const problems = r.stdout.split("\n").filter((l) => l && !/^fsck\.fat \d|^Checking|^Leaving|^Starting|files, \d+\/\d+ clusters/.test(l) && !harmless.test(l));
        assert.deepEqual(problems, [], `budget ${budget}: fsck.fat -n says\n${r.stdout}${r.stderr}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
