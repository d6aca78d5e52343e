import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { openFile } from "../../block/file.ts";
import { readMbr } from "../../block/mbr.ts";
import { Ramdisk } from "../../block/ramdisk.ts";
import { KvError } from "../../devices/errors.ts";
import { kvRwContract, rejectsCode } from "../kv-contract.ts";
import { formatFat } from "./layout.ts";
import { FatKvRo, FatKvRw } from "./store.ts";

const MiB = 1024 * 1024;
const mtoolsEnv = { ...process.env, MTOOLS_SKIP_CHECK: "1", MTOOLS_NO_VFAT: "0" };

for (const [type, bytes] of [[12, 2 * MiB], [16, 16 * MiB], [32, 34 * MiB]] as const) {
  kvRwContract(`FAT${type}`, async () => {
    const disk = new Ramdisk({ sizeSectors: bytes / 512 });
    await formatFat(disk, { type });
    return { kv: await FatKvRw.open(disk) };
  });
}

async function scratch() {
  const dir = await mkdtemp(join(tmpdir(), "oasis-kv-fat-"));
  return { dir, done: () => rm(dir, { recursive: true, force: true }) };
}

async function image(dir: string, name: string, bytes: number): Promise<string> {
  const p = join(dir, name);
  await writeFile(p, "");
  await truncate(p, bytes);
  return p;
}

function fsck(img: string): void {
  const r = spawnSync("fsck.fat", ["-n", "-V", img], { encoding: "utf8" });
  assert.equal(r.status, 0, `fsck.fat -n reported problems:\n${r.stdout}\n${r.stderr}`);
}

function mcopyOut(img: string, path: string): Buffer {
  return execFileSync("mcopy", ["-n", "-i", img, `::${path}`, "-"], { env: mtoolsEnv, maxBuffer: 64 * MiB });
}

const FILES: Array<[string, Buffer]> = [
  ["README.TXT", Buffer.from("short upper-case name")],
  ["lower.txt", Buffer.from("lower-case 8.3 name")],
  ["A rather long file name with spaces.markdown", Buffer.alloc(5000, 0x41)],
  ["docs/Deeply/Nested Directory/ünïcödé 名前.bin", Buffer.from(Array.from({ length: 70000 }, (_, i) => (i * 31) % 256))],
  ["docs/empty", Buffer.alloc(0)],
  ["MixedCase.Ext", Buffer.from("mixed")],
];

const TYPES = [[12, 1 * MiB], [16, 16 * MiB], [32, 34 * MiB]] as const;

describe("FAT store and dosfstools/mtools", () => {
  for (const [type, bytes] of TYPES) {
    it(`reads FAT${type} made by mkfs.fat and filled by mcopy`, async () => {
      const s = await scratch();
      try {
        const img = await image(s.dir, "disk.img", bytes);
        execFileSync("mkfs.fat", ["-F", String(type), ...(type === 32 ? ["-s", "1"] : []), img], { stdio: "ignore" });
        const src = join(s.dir, "src");
        for (const [name, data] of FILES) {
          await mkdir(join(src, name, ".."), { recursive: true });
          await writeFile(join(src, name), data);
        }
        execFileSync("mcopy", ["-s", "-i", img, join(src, "README.TXT"), join(src, "lower.txt"), join(src, "A rather long file name with spaces.markdown"), join(src, "docs"), join(src, "MixedCase.Ext"), "::/"], { env: mtoolsEnv });
        const blk = await openFile(img, { readOnly: true });
        const kv = await FatKvRo.open(blk);
        assert.equal(kv.stats().type, type);
        for (const [name, data] of FILES) assert.deepEqual(Buffer.from(await kv.get(name)), data, name);
        assert.deepEqual(
          (await kv.list("/")).map(([k]) => k),
          ["/A rather long file name with spaces.markdown", "/MixedCase.Ext", "/README.TXT", "/docs", "/lower.txt"],
        );
        assert.equal(await kv.exists("/DOCS/deeply"), "dictionary", "names match case-insensitively");
        await blk.disconnect();
      } finally {
        await s.done();
      }
    });

    it(`writes FAT${type} that fsck.fat accepts and mcopy reads byte-exact`, async () => {
      const s = await scratch();
      try {
        const img = await image(s.dir, "disk.img", bytes);
        execFileSync("mkfs.fat", ["-F", String(type), ...(type === 32 ? ["-s", "1"] : []), img], { stdio: "ignore" });
        const blk = await openFile(img);
        const kv = await FatKvRw.open(blk);
        for (const [name, data] of FILES) await kv.set(name, data);
        await kv.set("lower.txt", "overwritten, longer than before ".repeat(100));
        await kv.setPartial("docs/empty", 3000, "grown");
        await kv.set("gone/away", "x");
        await kv.remove("gone");
        await kv.set("old name.txt", "renamed");
        await kv.rename("old name.txt", "docs");
        await kv.rename("docs/Deeply", "moved");
        for (let i = 0; i < 40; i++) await kv.set(`many/file number ${i}.dat`, `content ${i}`);
        await blk.disconnect();

        fsck(img);
        const expect = new Map<string, Buffer>([
          ["README.TXT", FILES[0]![1]],
          ["lower.txt", Buffer.from("overwritten, longer than before ".repeat(100))],
          ["A rather long file name with spaces.markdown", FILES[2]![1]],
          ["moved/Nested Directory/ünïcödé 名前.bin", FILES[3]![1]],
          ["docs/empty", Buffer.concat([Buffer.alloc(3000), Buffer.from("grown")])],
          ["docs/old name.txt", Buffer.from("renamed")],
          ["MixedCase.Ext", FILES[5]![1]],
          ["many/file number 39.dat", Buffer.from("content 39")],
        ]);
        for (const [name, data] of expect) assert.deepEqual(mcopyOut(img, `/${name}`), data, name);
        const dir = execFileSync("mdir", ["-b", "-/", "-i", img, "::/"], { env: mtoolsEnv, encoding: "utf8" });
        assert.ok(!dir.includes("gone"), dir);
        assert.ok(dir.includes("::/moved/Nested Directory/"), dir);
      } finally {
        await s.done();
      }
    });

    it(`formats FAT${type} that fsck.fat accepts and mtools can fill`, async () => {
      const s = await scratch();
      try {
        const img = await image(s.dir, "fresh.img", bytes);
        const blk = await openFile(img);
        const layout = await formatFat(blk, { type, label: "oasis" });
        assert.equal(layout.type, type);
        const kv = await FatKvRw.open(blk);
        await kv.set("/from oasis/hello.txt", "hello");
        await blk.disconnect();
        fsck(img);
        const src = join(s.dir, "peer.txt");
        await writeFile(src, "written by mcopy");
        execFileSync("mcopy", ["-i", img, src, "::/peer file.txt"], { env: mtoolsEnv });
        fsck(img);
        assert.equal(mcopyOut(img, "/from oasis/hello.txt").toString(), "hello");
        const ro = await openFile(img, { readOnly: true });
        const again = await FatKvRo.open(ro);
        assert.equal(new TextDecoder().decode(await again.get("/peer file.txt")), "written by mcopy");
        await ro.disconnect();
      } finally {
        await s.done();
      }
    });
  }

  it("reads and writes a FAT partition of a disk partitioned by sfdisk and formatted by mkfs.fat --offset", async () => {
    const s = await scratch();
    try {
      const img = await image(s.dir, "disk.img", 24 * MiB);
      execFileSync("sfdisk", ["-q", img], { input: "label: dos\nstart=2048, size=8192, type=83\nstart=10240, type=c\n" });
      execFileSync("mkfs.fat", ["-F", "16", "--offset", "10240", img, String((24 * MiB) / 1024 - 5120)], { stdio: "ignore" });
      const src = join(s.dir, "p.txt");
      await writeFile(src, "put there by mcopy");
      execFileSync("mcopy", ["-i", `${img}@@${10240 * 512}`, src, "::/from peer.txt"], { env: mtoolsEnv });
      const blk = await openFile(img);
      const table = await readMbr(blk);
      const kv = await FatKvRw.open(await table.partition(2));
      assert.equal(new TextDecoder().decode(await kv.get("/from peer.txt")), "put there by mcopy");
      await kv.set("/from oasis/note.txt", "written through the partition");
      await blk.disconnect();
      assert.equal(mcopyOut(`${img}@@${10240 * 512}`, "/from oasis/note.txt").toString(), "written through the partition");
      const raw = await readFile(img);
      assert.ok(raw.subarray(0, 10240 * 512).indexOf("written through the partition") < 0, "nothing was written outside the partition");
      const part = join(s.dir, "part.img");
      await writeFile(part, raw.subarray(10240 * 512));
      fsck(part);
    } finally {
      await s.done();
    }
  });

  it("generates unique ~N short names and VFAT long names for names that collide in 8.3", async () => {
    const s = await scratch();
    try {
      const img = await image(s.dir, "disk.img", MiB);
      const blk = await openFile(img);
      await formatFat(blk, { type: 12 });
      const kv = await FatKvRw.open(blk);
      for (let i = 0; i < 300; i++) await kv.set(`/d/long file name ${i}.text`, String(i));
      await blk.disconnect();
      fsck(img);
      const listing = execFileSync("mdir", ["-i", img, "::/d"], { env: mtoolsEnv, encoding: "utf8" });
      assert.match(listing, /LONGFI~1 TEX/);
      assert.match(listing, /LONGFI~4 TEX/);
      // Past ~4, Windows-style hashed names: two letters, four hex digits, a tail.
      assert.match(listing, /LO[0-9A-F]{4}~\d TEX/);
      const shorts = [...listing.matchAll(/^(\S+)\s+(TEX)\s/gm)].map((m) => m[1]);
      assert.equal(new Set(shorts).size, 300, "every 8.3 name is unique");
      for (const i of [0, 3, 4, 150, 299]) assert.equal(mcopyOut(img, `/d/long file name ${i}.text`).toString(), String(i));
    } finally {
      await s.done();
    }
  });

  it("rejects names FAT cannot store, runs out of space cleanly, and refuses non-FAT devices", async () => {
    const disk = new Ramdisk({ sizeSectors: 2048 });
    await formatFat(disk, { type: 12 });
    const kv = await FatKvRw.open(disk);
    await rejectsCode(kv.set("/a:b", "x"), "invalid-key");
    await rejectsCode(kv.set("/trailing.", "x"), "invalid-key");
    await kv.set("/keep", "safe");
    await rejectsCode(kv.set("/huge", new Uint8Array(2 * MiB)), "no-space");
    assert.equal(new TextDecoder().decode(await kv.get("/keep")), "safe");
    assert.equal(await kv.exists("/huge"), null);
    await rejectsCode(FatKvRo.open(new Ramdisk({ sizeSectors: 64 })), "io");
    await rejectsCode(kv.setPartial("/keep", 2 ** 32, "x"), "no-space");
    await rejectsCode(kv.setPartial("/new", 2 ** 32, "x"), "no-space");
    await rejectsCode(kv.allocate("/big", 2 ** 32), "no-space");
    assert.equal(new TextDecoder().decode(await kv.get("/keep")), "safe");
  });

  it("leaves no bytes of deleted files in the slack of a new file's last cluster", async () => {
    const disk = new Ramdisk({ sizeSectors: 2048 });
    const layout = await formatFat(disk, { type: 12 });
    const kv = await FatKvRw.open(disk);
    await kv.set("/secret", new Uint8Array(4 * 512).fill(0xff));
    await kv.remove("/secret");
    // A fresh connection allocates from the start again: the new files take the freed clusters.
    const again = await FatKvRw.open(disk);
    await again.set("/small", "x");
    await again.setPartial("/grown", 700, "y");
    const raw = new Uint8Array(4 * 512);
    await disk.read(layout.firstDataSector, raw);
    assert.equal(raw.subarray(0, 3 * 512).indexOf(0xff), -1, "clusters 2-4 now hold only the new files and zeros");
    assert.equal(raw[3 * 512], 0xff, "cluster 5 is still free and was not touched");
    const big = 512 * 1024 + 5;
    await again.allocate("/zeros", big);
    assert.equal(await again.size("/zeros"), big);
    assert.ok((await again.getPartial("/zeros", big - 10, 100)).every((b) => b === 0));
  });

  it("a full FAT12 root directory refuses new entries and gives the data's clusters back", async () => {
    const disk = new Ramdisk({ sizeSectors: 2048 });
    await formatFat(disk, { type: 12 });
    const kv = await FatKvRw.open(disk);
    const free = kv.stats().freeBytes;
    let stored = 0;
    for (;; stored++) {
      try {
        await kv.set(`/n${stored}`, "x".repeat(600));
      } catch (e) {
        assert.ok(e instanceof KvError && e.code === "no-space" && /root directory is full/.test(e.message), String(e));
        break;
      }
    }
    assert.equal(stored, 224, "a 1 MiB FAT12 root holds 224 short entries");
    assert.equal(kv.stats().freeBytes, free - stored * 2 * 512, "the refused value's clusters are free again");
    await kv.set("/n0", "still writable");
    // Renaming over a value when the new spelling needs more slots than the root has keeps the old value.
    await kv.remove("/n0");
    await kv.set("/ab", "target");
    await rejectsCode(kv.rename("/n3", "/Ab"), "no-space");
    assert.equal(new TextDecoder().decode(await kv.get("/ab")), "target");
    assert.equal(await kv.exists("/n3"), "value");
  });
});
