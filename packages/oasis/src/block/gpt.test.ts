import assert from "node:assert/strict";
import { open, readFile, truncate } from "node:fs/promises";
import { describe, it } from "node:test";
import { crc32 } from "./crc32.ts";
import { openFile } from "./file.ts";
import { GPT_TYPES, readGpt, writeGpt } from "./gpt.ts";
import { Ramdisk } from "./ramdisk.ts";
import { run, sfdiskJson, tempImages } from "./test-support.ts";

const images = tempImages("gpt");
const MiB = 1024 * 1024;

async function sgdiskImage(): Promise<string> {
  const path = await images.image(64 * MiB);
  const r = await run("sgdisk", [
    "-U", "11111111-2222-3333-4444-555555555555",
    "-n", "1:2048:+4M", "-t", "1:ef00", "-c", "1:esp",
    "-n", "2:0:+8M", "-t", "2:8300", "-c", "2:data",
    "-n", "5:0:+1M", "-t", "5:8200", "-c", "5:swap space",
    path,
  ]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  return path;
}

async function patch(path: string, offset: number, bytes: Uint8Array | number[]): Promise<void> {
  const h = await open(path, "r+");
  const b = Uint8Array.from(bytes);
  await h.write(b, 0, b.length, offset);
  await h.close();
}

async function flipBit(path: string, offset: number): Promise<void> {
  const bytes = await readFile(path);
  await patch(path, offset, [bytes[offset]! ^ 0x01]);
}

function comparable(ps: { start: number; size: number; type: string; uuid?: string; name?: string | undefined }[]) {
  return ps.map((p) => ({ start: p.start, size: p.size, type: p.type, uuid: p.uuid ?? "", name: p.name ?? "" }));
}

describe("GPT: reading tables written by sgdisk and sfdisk", () => {
  it("lists sgdisk's partitions with type, name, GUID, start and size (numbers keep their gaps)", async () => {
    const path = await sgdiskImage();
    const dump = await sfdiskJson(path);
    const disk = await openFile(path, { readOnly: true });
    const table = await readGpt(disk);
    assert.equal(table.source, "primary");
    assert.deepEqual(table.warnings, []);
    assert.equal(table.diskId, "11111111-2222-3333-4444-555555555555");
    const ours = table.list();
    assert.deepEqual(ours.map((p) => p.number), [1, 2, 5]);
    assert.deepEqual(
      comparable(ours.map((p) => ({ start: p.start, size: p.sizeSectors, type: p.type, uuid: p.guid, name: p.name }))),
      comparable(dump.partitions),
    );
    assert.deepEqual(ours.map((p) => p.typeName), ["efi", "linux", "linux-swap"]);
    await disk.disconnect();
  });

  it("reads sfdisk's table, including a non-ASCII name", async () => {
    const path = await images.image(32 * MiB);
    const script = 'label: gpt\nsize=2MiB, type=linux, name="données"\nsize=3MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=boot\n';
    const r = await run("sfdisk", ["-q", path], script);
    assert.equal(r.code, 0, r.stderr);
    const dump = await sfdiskJson(path);
    const disk = await openFile(path, { readOnly: true });
    const table = await readGpt(disk);
    assert.deepEqual(
      comparable(table.list().map((p) => ({ start: p.start, size: p.sizeSectors, type: p.type, uuid: p.guid, name: p.name }))),
      comparable(dump.partitions),
    );
    assert.equal(table.list()[0]!.name, "données");
    await disk.disconnect();
  });

  it("finds a partition by name or number as a bounded, read-only-aware Block", async () => {
    const path = await sgdiskImage();
    const { partitions } = await sfdiskJson(path);
    const data = partitions.find((p) => p.name === "data")!;
    await patch(path, data.start * 512, Buffer.from("inside data"));
    const disk = await openFile(path, { readOnly: true });
    const table = await readGpt(disk);
    const byName = await table.partition("data");
    const byNumber = await table.partition(2);
    const byText = await table.partition("2");
    for (const p of [byName, byNumber, byText]) {
      assert.deepEqual(await p.info(), { readWrite: false, sectorSize: 512, sizeSectors: data.size });
      const buf = new Uint8Array(512);
      await p.read(0, buf);
      assert.equal(Buffer.from(buf.subarray(0, 11)).toString(), "inside data");
      await assert.rejects(p.read(data.size, buf), { code: "out-of-range" });
      await assert.rejects(p.write(0, buf), { code: "read-only" });
    }
    await assert.rejects(table.partition("nope"), /no GPT partition named "nope"; partitions: 1 "esp", 2 "data", 5 "swap space"/);
    await assert.rejects(table.partition(3), /no GPT partition number 3/);
    const twins = new Ramdisk({ sizeSectors: 8192 });
    const t2 = await writeGpt(twins, [{ name: "x", sizeSectors: 10 }, { name: "y", sizeSectors: 10 }, { name: "x", sizeSectors: 10 }]);
    await assert.rejects(t2.partition("x"), /2 GPT partitions are named "x" \(numbers 1, 3\); choose one by number/);
    assert.equal((await (await t2.partition(3)).info()).sizeSectors, 10);
    await disk.disconnect();
  });
});

describe("GPT: damaged tables", () => {
  it("falls back to the backup when the primary header is damaged, and says so", async () => {
    const path = await sgdiskImage();
    await flipBit(path, 512 + 60); // inside the disk GUID of the primary header
    const disk = await openFile(path, { readOnly: true });
    const table = await readGpt(disk);
    assert.equal(table.source, "backup");
    assert.match(table.warnings.join("\n"), /primary table is damaged \(header CRC32 mismatch at sector 1.*using the backup at sector 131071/);
    assert.deepEqual(table.list().map((p) => p.name), ["esp", "data", "swap space"]);
    await disk.disconnect();
  });

  it("falls back to the backup when the primary entry array is damaged", async () => {
    const path = await sgdiskImage();
    await flipBit(path, 1024 + 128 + 60); // name of entry 2 in the primary array
    const disk = await openFile(path, { readOnly: true });
    const table = await readGpt(disk);
    assert.equal(table.source, "backup");
    assert.match(table.warnings.join("\n"), /entry array CRC32 mismatch at sector 2/);
    assert.equal(table.list()[1]!.name, "data");
    await disk.disconnect();
  });

  it("reports a damaged backup as a warning while using the primary", async () => {
    const path = await sgdiskImage();
    await flipBit(path, 64 * MiB - 512 + 40);
    const disk = await openFile(path, { readOnly: true });
    const table = await readGpt(disk);
    assert.equal(table.source, "primary");
    assert.match(table.warnings.join("\n"), /backup table is damaged/);
    await disk.disconnect();
  });

  it("still reads a disk that grew after partitioning, warning that the backup is not at the end", async () => {
    const path = await sgdiskImage();
    await truncate(path, 65 * MiB);
    const disk = await openFile(path, { readOnly: true });
    const table = await readGpt(disk);
    assert.equal(table.source, "primary");
    assert.match(table.warnings.join("\n"), /backup at sector 131071, not at the last sector 133119 \(disk resized\?\)/);
    assert.doesNotMatch(table.warnings.join("\n"), /damaged/);
    assert.equal(table.list().length, 3);
    await disk.disconnect();
  });

  it("refuses a disk whose two tables are both damaged, naming both problems", async () => {
    const path = await sgdiskImage();
    await flipBit(path, 512 + 60);
    await flipBit(path, 64 * MiB - 512 + 60);
    const disk = await openFile(path, { readOnly: true });
    await assert.rejects(readGpt(disk), /GPT: no usable table: primary: header CRC32 mismatch at sector 1.*backup: header CRC32 mismatch at sector 131071/);
    await disk.disconnect();
  });

  it("refuses a disk with no GPT at all", async () => {
    await assert.rejects(readGpt(new Ramdisk({ sizeSectors: 1000 })), /primary: no "EFI PART" signature at sector 1; backup: no "EFI PART" signature at sector 999/);
  });

  it("refuses overlapping partitions even when the CRCs are right", async () => {
    const disk = new Ramdisk({ sizeSectors: 8192 });
    await writeGpt(disk, [{ name: "a", start: 100, sizeSectors: 100 }, { name: "b", start: 300, sizeSectors: 100 }]);
    // Move b's first LBA into a, in both arrays, then fix every CRC so only the overlap is wrong.
    for (const [headerLba, entriesLba] of [[1, 2], [8191, 8191 - 32]] as const) {
      const entries = new Uint8Array(32 * 512);
      await disk.read(entriesLba, entries);
      new DataView(entries.buffer).setBigUint64(128 + 32, 150n, true);
      await disk.write(entriesLba, entries);
      const header = new Uint8Array(512);
      await disk.read(headerLba, header);
      const hv = new DataView(header.buffer);
      hv.setUint32(88, crc32(entries), true);
      hv.setUint32(16, 0, true);
      hv.setUint32(16, crc32(header.subarray(0, 92)), true);
      await disk.write(headerLba, header);
    }
    await assert.rejects(readGpt(disk), /partitions 1 \(sectors 100\.\.199\) and 2 \(sectors 150\.\.399\) overlap/);
  });
});

describe("GPT: writing", () => {
  it("writes a table that sgdisk and sfdisk verify and read back identically", async () => {
    const path = await images.image(64 * MiB);
    const disk = await openFile(path);
    const written = await writeGpt(
      disk,
      [
        { name: "EFI system", type: "efi", sizeSectors: 8192 },
        { name: "données", type: "linux", sizeSectors: 16384, attributes: 1n << 60n },
        { name: "rest", type: GPT_TYPES["basic-data"] },
      ],
      { diskGuid: "01234567-89AB-CDEF-0123-456789ABCDEF" },
    );
    await disk.disconnect();
    assert.deepEqual(written.warnings, []);
    const sg = await run("sgdisk", ["--verify", path]);
    assert.equal(sg.code, 0, sg.stdout + sg.stderr);
    assert.match(sg.stdout, /No problems found/);
    const sf = await run("sfdisk", ["--verify", path]);
    assert.equal(sf.code, 0, sf.stdout + sf.stderr);
    assert.match(sf.stdout, /No errors detected/);
    const dump = await sfdiskJson(path);
    assert.equal(dump.label, "gpt");
    assert.equal(dump.id, "01234567-89AB-CDEF-0123-456789ABCDEF");
    assert.deepEqual(
      comparable(dump.partitions),
      comparable(written.list().map((p) => ({ start: p.start, size: p.sizeSectors, type: p.type, uuid: p.guid, name: p.name }))),
    );
    assert.deepEqual(dump.partitions.map((p) => p.start), [2048, 10240, 26624]);
    assert.equal(dump.partitions[2]!.start + dump.partitions[2]!.size - 1, 131038);
    const attrs = await run("sgdisk", ["-A", "2:show", path]);
    assert.match(attrs.stdout, /2:60:1 \(read-only\)/);
  });

  it("on 4096-byte sectors: reads what fdisk -b 4096 writes, and fdisk lists and verifies what we write", async () => {
    const columns = ["-o", "Device,Start,Sectors,Type-UUID,UUID,Name"];
    const fdiskList = async (path: string) => {
      const r = await run("fdisk", ["-b", "4096", "-l", ...columns, path]);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout
        .split("\n")
        .filter((l) => l.startsWith(path))
        .map((l) => {
          const [, start, size, type, uuid, name] = l.split(/\s+/);
          return { start: Number(start), size: Number(size), type: type!, uuid: uuid!, name: name ?? "" };
        });
    };
    const theirs = await images.image(16 * MiB);
    const script = "g\nn\n1\n\n+2M\nn\n2\n\n+3M\nx\nn\n2\nsecond\nr\nw\n";
    assert.equal((await run("fdisk", ["-b", "4096", theirs], script)).code, 0);
    const expected = await fdiskList(theirs);
    assert.equal(expected.length, 2);
    const a = await openFile(theirs, { sectorSize: 4096, readOnly: true });
    assert.deepEqual(comparable((await readGpt(a)).list().map((p) => ({ start: p.start, size: p.sizeSectors, type: p.type, uuid: p.guid, name: p.name }))), comparable(expected));
    await a.disconnect();

    const ours = await images.image(16 * MiB);
    const b = await openFile(ours, { sectorSize: 4096 });
    const written = await writeGpt(b, [{ name: "alpha", sizeSectors: 512 }, { name: "beta", type: "efi" }]);
    await b.disconnect();
    assert.deepEqual(comparable(await fdiskList(ours)), comparable(written.list().map((p) => ({ start: p.start, size: p.sizeSectors, type: p.type, uuid: p.guid, name: p.name }))));
    const verify = await run("fdisk", ["-b", "4096", ours], "v\nq\n");
    assert.match(verify.stdout, /No errors detected/);
  });

  it("round-trips on 4096-byte sectors (4 sectors of entries)", async () => {
    const disk = new Ramdisk({ sizeSectors: 4096, sectorSize: 4096 });
    const t = await writeGpt(disk, [{ name: "x", sizeSectors: 1000 }, { name: "y" }]);
    assert.deepEqual(t.list().map((p) => [p.start, p.sizeSectors]), [[256, 1000], [1280, 4090 - 1280 + 1]]);
    assert.deepEqual((await readGpt(disk)).list(), t.list());
  });

  it("refuses impossible layouts with a clear error and leaves the disk untouched", async () => {
    const disk = new Ramdisk({ sizeSectors: 4096 });
    await assert.rejects(writeGpt(disk, [{ name: "a", start: 10, sizeSectors: 5 }]), /outside the usable sectors 34\.\.4062/);
    await assert.rejects(writeGpt(disk, [{ name: "a", sizeSectors: 5000 }]), /outside the usable sectors/);
    await assert.rejects(writeGpt(disk, [{ name: "a" }, { name: "b" }]), /partition 1 "a" needs a size/);
    await assert.rejects(writeGpt(disk, [{ name: "a", type: "ext4" }]), /type "ext4" is neither a GUID nor one of linux, efi/);
    await assert.rejects(writeGpt(disk, [{ name: "x".repeat(37) }]), /longer than 36/);
    await assert.rejects(writeGpt(disk, [{ name: "a", start: 100, sizeSectors: 100 }, { name: "b", start: 150, sizeSectors: 10 }]), /overlap/);
    await assert.rejects(writeGpt(new Ramdisk({ sizeSectors: 60 }), []), /too small for a GPT/);
    const all = new Uint8Array(4096 * 512);
    await disk.read(0, all);
    assert.ok(all.every((x) => x === 0));
  });
});
