import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtemp, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { openFile } from "../../block/file.ts";
import { Ramdisk } from "../../block/ramdisk.ts";
import { FatFormatError, formatFat, parseBootSector } from "./layout.ts";
import { FatKvRo, FatKvRw } from "./store.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const env = { ...process.env, MTOOLS_SKIP_CHECK: "1" };

describe("formatFat", () => {
  for (const [bytes, type] of [[256 * KiB, 12], [4 * MiB, 12], [24 * MiB, 16], [300 * MiB, 16], [700 * MiB, 32]] as const) {
    it(`chooses FAT${type} for ${bytes / KiB} KiB, and fsck.fat accepts it`, async () => {
      const dir = await mkdtemp(join(tmpdir(), "oasis-kv-fmt-"));
      try {
        const img = join(dir, "f.img");
        await writeFile(img, "");
        await truncate(img, bytes);
        const blk = await openFile(img);
        const layout = await formatFat(blk);
        assert.equal(layout.type, type);
        const kv = await FatKvRw.open(blk);
        await kv.set("/probe", "ok");
        await blk.disconnect();
        const r = spawnSync("fsck.fat", ["-n", "-V", img], { encoding: "utf8" });
        assert.equal(r.status, 0, r.stdout + r.stderr);
        assert.match(r.stdout, /1 files?, /);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }

  it("explains sizes and types that cannot work", async () => {
    await assert.rejects(formatFat(new Ramdisk({ sizeSectors: 8 })), (e: unknown) => e instanceof FatFormatError && /cluster count/.test(e.message));
    await assert.rejects(formatFat(new Ramdisk({ sizeSectors: 2048 }), { type: 32 }), (e: unknown) => e instanceof FatFormatError && /FAT32/.test(e.message));
    await assert.rejects(formatFat(new Ramdisk({ sizeSectors: 2048 }), { label: "way too long a label" }), /volume label/);
  });

  it("refuses boot sectors that do not describe a FAT file system, saying what is wrong", () => {
    const b = new Uint8Array(512);
    assert.throws(() => parseBootSector(b, MiB, "disk x"), /disk x does not hold a FAT file system: no boot-sector signature/);
    b[510] = 0x55;
    b[511] = 0xaa;
    assert.throws(() => parseBootSector(b, MiB, "disk x"), /bytes per sector is 0/);
  });

  it("reads and writes FAT made by mkfs.fat with 4096-byte logical sectors on a 4096-byte-sector disk", async () => {
    const dir = await mkdtemp(join(tmpdir(), "oasis-kv-4k-"));
    try {
      const img = join(dir, "f.img");
      await writeFile(img, "");
      await truncate(img, 64 * MiB);
      execFileSync("mkfs.fat", ["-S", "4096", "-s", "1", "-F", "16", img], { stdio: "ignore" });
      const src = join(dir, "s.txt");
      await writeFile(src, "four k sectors");
      execFileSync("mcopy", ["-i", img, src, "::/s.txt"], { env });
      const blk = await openFile(img, { sectorSize: 4096 });
      const kv = await FatKvRo.open(blk);
      assert.equal(new TextDecoder().decode(await kv.get("/s.txt")), "four k sectors");
      assert.equal(kv.layout.bytesPerSector, 4096);
      const rw = await FatKvRw.open(blk);
      await rw.set("/dir/a longer name.bin", new Uint8Array(10_000).fill(3));
      await blk.disconnect();
      const r = spawnSync("fsck.fat", ["-n", "-V", img], { encoding: "utf8" });
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.deepEqual(execFileSync("mcopy", ["-n", "-i", img, "::/dir/a longer name.bin", "-"], { env }), Buffer.alloc(10_000, 3));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("reads and writes a 1.44 MB floppy image made by mtools' mformat", async () => {
    const dir = await mkdtemp(join(tmpdir(), "oasis-kv-floppy-"));
    try {
      const img = join(dir, "floppy.img");
      execFileSync("mformat", ["-C", "-f", "1440", "-i", img, "::"], { env });
      const src = join(dir, "h.txt");
      await writeFile(src, "from mtools");
      execFileSync("mcopy", ["-i", img, src, "::/Hello World.txt"], { env });
      execFileSync("mattrib", ["-i", img, "+h", "::/Hello World.txt"], { env });
      const blk = await openFile(img);
      const kv = await FatKvRw.open(blk);
      assert.equal(kv.layout.type, 12);
      assert.equal(new TextDecoder().decode(await kv.get("/hello world.TXT")), "from mtools");
      await kv.set("/Disk A/readme.txt", "from oasis");
      await kv.set("/hello world.txt", "replaced");
      await blk.disconnect();
      assert.match(execFileSync("mattrib", ["-i", img, "::/Hello World.txt"], { env, encoding: "utf8" }), /H.*::\/Hello World\.txt/, "replacing a value keeps its attributes and name");
      const r = spawnSync("fsck.fat", ["-n", "-V", img], { encoding: "utf8" });
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.equal(execFileSync("mcopy", ["-n", "-i", img, "::/Disk A/readme.txt", "-"], { env, encoding: "utf8" }), "from oasis");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
