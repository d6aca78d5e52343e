import assert from "node:assert/strict";
import { open, readFile, writeFile } from "node:fs/promises";
import { describe, it } from "node:test";
import { openFile } from "./file.ts";
import { readMbr, writeMbr } from "./mbr.ts";
import { Ramdisk } from "./ramdisk.ts";
import { run, sfdiskJson, tempImages } from "./test-support.ts";

const images = tempImages("mbr");
const MiB = 1024 * 1024;

/** An image partitioned by sfdisk: 3 primaries, an extended partition (slot 4) with 3 logicals. */
async function sfdiskImage(): Promise<string> {
  const path = await images.image(64 * MiB);
  const script = [
    "label: dos",
    "label-id: 0x12345678",
    "size=4MiB, type=83, bootable",
    "size=2MiB, type=c",
    "size=2MiB, type=82",
    "type=5",
    "size=3MiB, type=83",
    "size=5MiB, type=8e",
    "type=83",
  ].join("\n");
  const r = await run("sfdisk", ["-q", path], script + "\n");
  assert.equal(r.code, 0, r.stderr);
  return path;
}

async function patch(path: string, offset: number, bytes: number[]): Promise<void> {
  const h = await open(path, "r+");
  await h.write(Uint8Array.from(bytes), 0, bytes.length, offset);
  await h.close();
}

function u32le(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24];
}

describe("MBR: reading tables written by sfdisk", () => {
  it("lists primary, extended and logical partitions exactly as sfdisk does", async () => {
    const path = await sfdiskImage();
    const expected = await sfdiskJson(path);
    const disk = await openFile(path, { readOnly: true });
    const table = await readMbr(disk);
    assert.equal(table.scheme, "mbr");
    assert.equal(table.diskId, "12345678");
    const ours = table.list();
    assert.equal(ours.length, 7);
    assert.deepEqual(
      ours.map((p) => ({ node: `${path}${p.number}`, start: p.start, size: p.sizeSectors, type: p.type.replace(/^0/, ""), bootable: p.bootable || undefined })),
      expected.partitions.map((p) => ({ node: p.node, start: p.start, size: p.size, type: p.type, bootable: p.bootable || undefined })),
    );
    assert.deepEqual(
      ours.map((p) => p.kind),
      ["primary", "primary", "primary", "extended", "logical", "logical", "logical"],
    );
    assert.equal(ours[0]!.typeName, "linux");
    await disk.disconnect();
  });

  it("gives each partition as a Block over exactly its sectors", async () => {
    const path = await sfdiskImage();
    const { partitions } = await sfdiskJson(path);
    const content = await readFile(path);
    const p6 = partitions.find((p) => p.node.endsWith("6"))!;
    content.write("logical six", p6.start * 512);
    content.write("end of six", (p6.start + p6.size - 1) * 512);
    await writeFile(path, content);
    const disk = await openFile(path);
    const table = await readMbr(disk);
    const part = await table.partition("6");
    assert.equal((await part.info()).sizeSectors, p6.size);
    const buf = new Uint8Array(512);
    await part.read(0, buf);
    assert.equal(Buffer.from(buf.subarray(0, 11)).toString(), "logical six");
    await part.read(p6.size - 1, buf);
    assert.equal(Buffer.from(buf.subarray(0, 10)).toString(), "end of six");
    await assert.rejects(part.read(p6.size, buf), { code: "out-of-range" });
    await assert.rejects(table.partition(4), /extended partition/);
    await assert.rejects(table.partition(9), /no MBR partition number 9; partitions: 1, 2, 3, 4, 5, 6, 7/);
    await assert.rejects(table.partition("data"), /no MBR partition named "data"/);
    await disk.disconnect();
  });
});

describe("MBR: writing", () => {
  it("writes a table that sfdisk reads back identically and verifies clean", async () => {
    const path = await images.image(32 * MiB);
    const disk = await openFile(path);
    const table = await writeMbr(disk, [{ sizeSectors: 8192, type: 0x0c, bootable: true }, { sizeSectors: 4096, type: 0x82 }, { type: 0x83 }], { diskId: 0xcafe0001 });
    await disk.disconnect();
    const dump = await sfdiskJson(path);
    assert.equal(dump.label, "dos");
    assert.equal(dump.id, "0xcafe0001");
    assert.deepEqual(
      dump.partitions.map((p) => [p.start, p.size, p.type, p.bootable ?? false]),
      [
        [2048, 8192, "c", true],
        [10240, 4096, "82", false],
        [14336, 65536 - 14336, "83", false],
      ],
    );
    assert.deepEqual(
      table.list().map((p) => [p.start, p.sizeSectors]),
      dump.partitions.map((p) => [p.start, p.size]),
    );
    const verify = await run("sfdisk", ["--verify", path]);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    assert.match(verify.stdout, /No errors detected/);
  });

  it("writes logical partitions in the same layout as sfdisk for the same request", async () => {
    const ours = await images.image(64 * MiB, "ours.img");
    const disk = await openFile(ours);
    await writeMbr(
      disk,
      [
        { sizeSectors: 8192, type: 0x83, bootable: true },
        { sizeSectors: 4096, type: 0x0c },
        { sizeSectors: 4096, type: 0x82 },
        { logical: true, sizeSectors: 6144 },
        { logical: true, sizeSectors: 10240, type: 0x8e },
        { logical: true },
      ],
      { diskId: 0x12345678 },
    );
    await disk.disconnect();
    const theirs = await sfdiskImage();
    const dump = async (path: string) => (await run("sfdisk", ["--dump", path])).stdout.replaceAll(path, "DISK");
    const expected = await dump(theirs);
    assert.match(expected, /DISK7 : start=/);
    assert.equal(await dump(ours), expected);
    const verify = await run("sfdisk", ["--verify", ours]);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    assert.match(verify.stdout, /No errors detected/);
    // And our reader sees the same seven partitions in both.
    const a = await openFile(ours, { readOnly: true });
    const b = await openFile(theirs, { readOnly: true });
    assert.deepEqual((await readMbr(a)).list().map((p) => [p.number, p.start, p.sizeSectors, p.kind]), (await readMbr(b)).list().map((p) => [p.number, p.start, p.sizeSectors, p.kind]));
    await a.disconnect();
    await b.disconnect();
  });

  it("places logical partitions at explicit starts, each EBR just before its partition", async () => {
    const disk = new Ramdisk({ sizeSectors: 4096 });
    const t = await writeMbr(disk, [{ start: 100, sizeSectors: 100 }, { logical: true, start: 301, sizeSectors: 50 }, { logical: true, start: 400, sizeSectors: 20 }]);
    assert.deepEqual(
      t.list().map((p) => [p.number, p.kind, p.start, p.sizeSectors]),
      [
        [1, "primary", 100, 100],
        [2, "extended", 300, 120],
        [5, "logical", 301, 50],
        [6, "logical", 400, 20],
      ],
    );
  });

  it("keeps the boot code in bytes 0-439 of sector 0", async () => {
    const disk = new Ramdisk({ sizeSectors: 4096 });
    const boot = new Uint8Array(512).fill(0x90);
    await disk.write(0, boot);
    await writeMbr(disk, [{ sizeSectors: 100, start: 2048 }]);
    const back = new Uint8Array(512);
    await disk.read(0, back);
    assert.ok(back.subarray(0, 440).every((x) => x === 0x90));
  });

  it("refuses overlapping, oversized and too many partitions, writing nothing", async () => {
    const disk = new Ramdisk({ sizeSectors: 4096 });
    await assert.rejects(writeMbr(disk, [{ start: 100, sizeSectors: 100 }, { start: 150, sizeSectors: 10 }]), /overlap/);
    await assert.rejects(writeMbr(disk, [{ start: 100, sizeSectors: 4000 }]), /does not fit/);
    await assert.rejects(writeMbr(disk, [{}, {}, {}, {}, {}]), /5 primary partitions: an MBR has 4 slots/);
    await assert.rejects(writeMbr(disk, [{ sizeSectors: 9 }, { sizeSectors: 9 }, { sizeSectors: 9 }, { sizeSectors: 9 }, { logical: true }]), /4 primary partitions and an extended one/);
    await assert.rejects(writeMbr(disk, [{ logical: true, sizeSectors: 9 }, { sizeSectors: 9 }, { logical: true }], { alignment: 8 }), /logical partitions must be consecutive/);
    await assert.rejects(writeMbr(disk, [{ start: 2048, sizeSectors: 9 }, { logical: true, start: 2057, sizeSectors: 9 }]), /no room for the extended boot record before logical partition 5/);
    await assert.rejects(writeMbr(disk, [{ sizeSectors: 10, type: 0x05 }]), /not an extended type/);
    await assert.rejects(writeMbr(disk, [{ sizeSectors: 10, type: 0 }]), /type 0/);
    const s0 = new Uint8Array(512);
    await disk.read(0, s0);
    assert.ok(s0.every((x) => x === 0));
  });
});

describe("MBR: malformed tables are refused with a clear error", () => {
  it("no boot signature", async () => {
    await assert.rejects(readMbr(new Ramdisk({ sizeSectors: 10 })), /no boot signature 55 AA/);
  });

  it("a loop in the logical partition chain", async () => {
    const path = await sfdiskImage();
    const { partitions } = await sfdiskJson(path);
    const ext = partitions.find((p) => p.node.endsWith("4"))!;
    // Make the EBR of partition 6 link to itself as the next record.
    const p5 = partitions.find((p) => p.node.endsWith("5"))!;
    const p6 = partitions.find((p) => p.node.endsWith("6"))!;
    const bytes = await readFile(path);
    // Find the EBR that describes partition 6 by scanning for its signature between p5 and p6.
    let ebr = -1;
    for (let s = p5.start + p5.size; s < p6.start; s++) if (bytes[s * 512 + 510] === 0x55 && bytes[s * 512 + 511] === 0xaa) ebr = s;
    assert.ok(ebr > 0, "EBR for partition 6 not found");
    await patch(path, ebr * 512 + 446 + 16 + 8, u32le(ebr - ext.start));
    const disk = await openFile(path, { readOnly: true });
    await assert.rejects(readMbr(disk), /loops back to sector/);
    await disk.disconnect();
  });

  it("overlapping primary partitions", async () => {
    const path = await sfdiskImage();
    // Partition 2 starts where partition 1 starts.
    await patch(path, 446 + 16 + 8, u32le(2048));
    const disk = await openFile(path, { readOnly: true });
    await assert.rejects(readMbr(disk), /partitions 1 \(sectors 2048\.\.10239\) and 2 .* overlap/);
    await disk.disconnect();
  });

  it("a partition past the end of the disk", async () => {
    const path = await sfdiskImage();
    await patch(path, 446 + 12, u32le(10_000_000));
    const disk = await openFile(path, { readOnly: true });
    await assert.rejects(readMbr(disk), /MBR partition 1: sectors 2048\.\.\d+ extend past the end of the disk \(131072 sectors\)/);
    await disk.disconnect();
  });

  it("a logical partition outside its extended partition", async () => {
    const path = await sfdiskImage();
    const { partitions } = await sfdiskJson(path);
    const ext = partitions.find((p) => p.node.endsWith("4"))!;
    await patch(path, ext.start * 512 + 446 + 12, u32le(ext.size + 10));
    const disk = await openFile(path, { readOnly: true });
    await assert.rejects(readMbr(disk), /logical partition 5 .* not inside the extended partition/);
    await disk.disconnect();
  });

  it("two extended partitions", async () => {
    const path = await sfdiskImage();
    await patch(path, 446 + 16 + 4, [0x0f]);
    const disk = await openFile(path, { readOnly: true });
    await assert.rejects(readMbr(disk), /^PartitionTableError: MBR: partitions 2 and 4 are both extended; only one is allowed$/);
    await disk.disconnect();
  });

  it("a corrupt status byte", async () => {
    const path = await sfdiskImage();
    await patch(path, 446 + 16, [0x42]);
    const disk = await openFile(path, { readOnly: true });
    await assert.rejects(readMbr(disk), /status byte 0x42/);
    await disk.disconnect();
  });
});
