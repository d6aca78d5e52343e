import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { openFile } from "../../block/file.ts";
import { Ramdisk } from "../../block/ramdisk.ts";
import { kvRwContract, rejectsCode } from "../kv-contract.ts";
import { CutOff } from "../test-support.ts";
import { TarKvRo, TarKvRw } from "./store.ts";
import { emitHeader, emitPaxRecord, parseNumber, RECORD } from "./format.ts";

kvRwContract("tar (append-only)", async () => ({ kv: await TarKvRw.open(new Ramdisk({ sizeSectors: 4096 })) }), { appendOnly: true });
kvRwContract("tar on 4096-byte sectors", async () => ({ kv: await TarKvRw.open(new Ramdisk({ sizeSectors: 512, sectorSize: 4096 })) }), { appendOnly: true });

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const longDir = "d".repeat(60) + "/" + "e".repeat(70);
const veryLong = "v".repeat(120) + "/" + "w".repeat(150) + "/file.txt";

async function scratch() {
  const dir = await mkdtemp(join(tmpdir(), "oasis-kv-tar-"));
  return { dir, done: () => rm(dir, { recursive: true, force: true }) };
}

async function fixtureTree(root: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>([
    ["hello.txt", Buffer.from("hello tar\n")],
    ["empty", Buffer.alloc(0)],
    [`${longDir}/long-name-${"x".repeat(40)}.bin`, Buffer.alloc(3000, 7)],
    [veryLong, Buffer.from("deep")],
    ["ünïcödé/名前.txt", Buffer.from("utf-8 names")],
    ["sub/dir/data", Buffer.from(Array.from({ length: 1500 }, (_, i) => i % 251))],
  ]);
  for (const [name, data] of files) {
    await mkdir(join(root, name, ".."), { recursive: true });
    await writeFile(join(root, name), data);
  }
  await mkdir(join(root, "emptydir"));
  return files;
}

describe("tar store and GNU tar", () => {
  for (const format of ["gnu", "posix", "oldgnu"]) {
    it(`reads archives written by GNU tar --format=${format}`, async () => {
      const s = await scratch();
      try {
        const src = join(s.dir, "src");
        const files = await fixtureTree(src);
        const archive = join(s.dir, "a.tar");
        execFileSync("tar", ["-C", src, `--format=${format}`, "-cf", archive, "."]);
        const blk = await openFile(archive, { readOnly: true });
        const kv = await TarKvRo.open(blk);
        for (const [name, data] of files) assert.deepEqual(Buffer.from(await kv.get(name)), data, name);
        assert.equal(await kv.exists("/emptydir"), "dictionary");
        assert.deepEqual(await kv.list("/sub"), [["/sub/dir", "dictionary"]]);
        assert.deepEqual(kv.counters, { "bad-checksum": 0, "bad-number": 0, "bad-pax": 0, truncated: 0, "unsafe-name": 0, "unsupported-type": 0 });
        await blk.disconnect();
      } finally {
        await s.done();
      }
    });
  }

  it("writes archives that GNU tar lists and extracts byte-exact, later entries winning", async () => {
    const s = await scratch();
    try {
      const img = join(s.dir, "kv.img");
      await writeFile(img, "");
      await truncate(img, 1 << 20);
      const blk = await openFile(img);
      const kv = await TarKvRw.open(blk);
      const values = new Map<string, Uint8Array>([
        ["a.txt", new TextEncoder().encode("first version")],
        ["dir/b.bin", Uint8Array.from({ length: 5000 }, (_, i) => (i * 7) % 256)],
        [veryLong, new TextEncoder().encode("long path")],
        ["ünï/名前", new TextEncoder().encode("utf-8")],
      ]);
      for (const [k, v] of values) await kv.set(k, v);
      await kv.set("a.txt", "second version");
      values.set("a.txt", new TextEncoder().encode("second version"));
      await kv.setPartial("dir/b.bin", 4999, "!!");
      const b = values.get("dir/b.bin")!;
      const grown = new Uint8Array(5001);
      grown.set(b);
      grown.set(new TextEncoder().encode("!!"), 4999);
      values.set("dir/b.bin", grown);
      await blk.disconnect();

      const listing = execFileSync("tar", ["-tvf", img], { encoding: "utf8" });
      for (const k of values.keys()) assert.ok(listing.includes(k), `tar -tv lists ${k}:\n${listing}`);
      const out = join(s.dir, "out");
      await mkdir(out);
      execFileSync("tar", ["-xf", img, "-C", out]);
      for (const [k, v] of values) assert.deepEqual(new Uint8Array(await readFile(join(out, k))), v, k);

      const ro = await openFile(img, { readOnly: true });
      const again = await TarKvRo.open(ro);
      for (const [k, v] of values) assert.deepEqual(await again.get(k), v, k);
      await ro.disconnect();
    } finally {
      await s.done();
    }
  });

  it("a write cut off at any sector leaves every earlier entry readable, for us and GNU tar", async () => {
    const s = await scratch();
    try {
      for (let budget = 0; budget < 20; budget++) {
        const disk = new Ramdisk({ sizeSectors: 256 });
        const kv = await TarKvRw.open(disk);
        await kv.set("one", "1".repeat(700));
        await kv.set("two", "2");
        const faulty = new CutOff(disk, budget);
        const cut = await TarKvRw.open(faulty);
        let failed = false;
        try {
          await cut.set("p".repeat(150) + "/three", "3".repeat(1200));
        } catch {
          failed = true;
        }
        const after = await TarKvRo.open(disk);
        assert.equal(text(await after.get("one")), "1".repeat(700), `budget ${budget}`);
        assert.equal(text(await after.get("two")), "2");
        const three = await after.exists("p".repeat(150) + "/three");
        if (!failed) assert.equal(three, "value");
        if (three) assert.equal(text(await after.get("p".repeat(150) + "/three")), "3".repeat(1200));
        const img = join(s.dir, `cut-${budget}.img`);
        const raw = new Uint8Array(256 * 512);
        await disk.read(0, raw);
        await writeFile(img, raw);
        const names = execFileSync("tar", ["-tf", img], { encoding: "utf8" }).trim().split("\n");
        assert.deepEqual(names.slice(0, 2), ["one", "two"]);
        // After a cut-off the store can still append.
        const resumed = await TarKvRw.open(disk);
        await resumed.set("four", "4");
        assert.equal(text(await (await TarKvRo.open(disk)).get("four")), "4");
      }
    } finally {
      await s.done();
    }
  });

  it("verifies header checksums: a corrupt header ends the archive, a corrupt first header is refused", async () => {
    const disk = new Ramdisk({ sizeSectors: 64 });
    const kv = await TarKvRw.open(disk);
    await kv.set("a", "1");
    await kv.set("b", "2");
    const sector = new Uint8Array(512);
    await disk.read(2, sector); // header of "b"
    sector[0] ^= 1;
    await disk.write(2, sector);
    const ro = await TarKvRo.open(disk);
    assert.equal(text(await ro.get("a")), "1");
    assert.equal(await ro.exists("b"), null);
    assert.equal(ro.counters["bad-checksum"], 1);
    await disk.read(0, sector);
    sector[10] ^= 1;
    await disk.write(0, sector);
    await rejectsCode(TarKvRo.open(disk), "io");
  });

  it("skips members whose names would escape, counting them", async () => {
    const s = await scratch();
    try {
      await writeFile(join(s.dir, "ok"), "fine");
      const archive = join(s.dir, "evil.tar");
      execFileSync("tar", ["-C", s.dir, "-cf", archive, "--transform=s,^ok$,../evil,", "--transform=s,^.*/ok2$,x,", "ok"]);
      execFileSync("tar", ["-C", s.dir, "-rf", archive, "ok"]);
      const blk = await openFile(archive, { readOnly: true });
      const kv = await TarKvRo.open(blk);
      assert.equal(kv.counters["unsafe-name"], 1);
      assert.deepEqual(await kv.list("/"), [["/ok", "value"]]);
      await blk.disconnect();
    } finally {
      await s.done();
    }
  });

  it("refuses to write beyond the device, keeping what is there", async () => {
    const disk = new Ramdisk({ sizeSectors: 8 });
    const kv = await TarKvRw.open(disk);
    await kv.set("small", "x");
    await rejectsCode(kv.set("big", new Uint8Array(4096)), "no-space");
    assert.equal(text(await (await TarKvRo.open(disk)).get("small")), "x");
  });

  it("takes a member's size from a pax 'size' record over the header field, as GNU tar does", async () => {
    const s = await scratch();
    try {
      const record = (k: string, v: string) => emitPaxRecord(k, v);
      const body = new Uint8Array([...record("size", "5"), ...record("path", "dir/sized by pax.txt")]);
      const parts = [
        emitHeader({ name: "PaxHeaders/x", size: body.length, mtimeS: 1_700_000_000, typeflag: "x" }),
        new Uint8Array(512),
        emitHeader({ name: "ignored-name", size: 0, mtimeS: 1_700_000_000, typeflag: "0" }),
        new Uint8Array(512),
        new Uint8Array(1024),
      ];
      parts[1]!.set(body);
      parts[3]!.set(new TextEncoder().encode("hello"));
      const archive = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let at = 0;
      for (const p of parts) archive.set(p, (at += p.length) - p.length);
      const img = join(s.dir, "pax.tar");
      await writeFile(img, archive);
      const listing = execFileSync("tar", ["-tvf", img], { encoding: "utf8" });
      assert.match(listing, / 5 .*dir\/sized by pax\.txt/);
      const blk = await openFile(img, { readOnly: true });
      const kv = await TarKvRo.open(blk);
      assert.equal(text(await kv.get("/dir/sized by pax.txt")), "hello");
      assert.equal(await kv.exists("/ignored-name"), null);
      await blk.disconnect();
    } finally {
      await s.done();
    }
  });

  it("parses GNU base-256 numbers and octal fields", () => {
    const b = new Uint8Array(12);
    b[0] = 0x80;
    b[11] = 1;
    b[10] = 2;
    assert.equal(parseNumber(b, 0, 12), 513);
    assert.equal(parseNumber(new TextEncoder().encode("00000001750\0"), 0, 12), 1000);
    assert.equal(parseNumber(new TextEncoder().encode("12x\0"), 0, 4), null);
    assert.equal(RECORD, 512);
  });
});
