import assert from "node:assert/strict";
import { beforeEach, describe, it } from "node:test";
import { parseArgs, resetArgsForTests, usage } from "../runtime/args.ts";
import { ccmBlockDevice, fileBlockDevice, gptDevice, mbrDevice, partitionDevice, ramdiskDevice } from "./devices.ts";
import { writeGpt } from "./gpt.ts";
import { writeMbr } from "./mbr.ts";
import { Ramdisk } from "./ramdisk.ts";
import { tempImages } from "./test-support.ts";

const images = tempImages("devices");
const KEY = "0x00112233445566778899aabbccddeeff";
const ctx = (group = "") => ({ name: "d", group });

beforeEach(() => resetArgsForTests());

describe("block device modules", () => {
  it("fileBlockDevice opens the configured path, or the one given with --block-file", async () => {
    const a = await images.image(8 * 512);
    const b = await images.image(16 * 512);
    const connect = fileBlockDevice.declare({ path: a, sectorSize: 512, readOnly: false }, ctx());
    parseArgs([]);
    const first = await connect({});
    assert.equal((await first.info()).sizeSectors, 8);
    await first.disconnect();
    resetArgsForTests();
    const again = fileBlockDevice.declare({ path: a, sectorSize: 512, readOnly: true }, ctx("data"));
    parseArgs([`--data-block-file=${b}`]);
    const second = await again({});
    assert.deepEqual(await second.info(), { readWrite: false, sectorSize: 512, sizeSectors: 16 });
    await second.disconnect();
  });

  it("ramdiskDevice gives a zeroed disk of the configured geometry", async () => {
    const connect = ramdiskDevice.declare({ name: "r", sizeSectors: 100, sectorSize: 4096 }, ctx());
    parseArgs([]);
    assert.deepEqual(await (await connect({})).info(), { readWrite: true, sectorSize: 4096, sizeSectors: 100 });
  });

  it("ccmBlockDevice uses the key from config.ts unless --ccm-key overrides it, and never shows it in --help", async () => {
    const raw = new Ramdisk({ sizeSectors: 8 });
    const connect = ccmBlockDevice.declare({ key: KEY, nonceLen: 8 }, ctx());
    assert.doesNotMatch(usage("test"), /00112233/);
    assert.match(usage("test"), /--ccm-key=HEX/);
    parseArgs([]);
    const disk = await connect({ block: raw });
    assert.equal((await disk.info()).sizeSectors, 4);
    await disk.write(0, new Uint8Array(512).fill(5));

    resetArgsForTests();
    const other = ccmBlockDevice.declare({ key: KEY, nonceLen: 8 }, ctx("vault"));
    parseArgs(["--vault-ccm-key", "ffeeddccbbaa99887766554433221100"]);
    await assert.rejects((await other({ block: raw })).read(0, new Uint8Array(512)), { code: "integrity" });
  });

  it("ccmBlockDevice without any key fails at connect, saying which flag to give", async () => {
    const connect = ccmBlockDevice.declare({ key: null, nonceLen: 8 }, ctx("disk"));
    parseArgs([]);
    await assert.rejects(connect({ block: new Ramdisk({ sizeSectors: 8 }) }), /no key for the encrypted disk: give one with --disk-ccm-key=HEX/);
  });

  it("ccmBlockDevice with a malformed key fails at connect, naming the flag but not the key", async () => {
    const connect = ccmBlockDevice.declare({ key: null, nonceLen: 8 }, ctx());
    parseArgs(["--ccm-key=0x123456789"]);
    await assert.rejects(connect({ block: new Ramdisk({ sizeSectors: 8 }) }), (e: Error) => {
      assert.match(e.message, /^--ccm-key: the CCM key has 9 hex digits/);
      assert.ok(!e.message.includes("123456789"));
      return true;
    });
  });

  it("gptDevice and partitionDevice find partitions by name and by number", async () => {
    const disk = new Ramdisk({ sizeSectors: 8192 });
    await writeGpt(disk, [{ name: "boot", sizeSectors: 100 }, { name: "data", sizeSectors: 200 }]);
    const table = await gptDevice.declare(undefined as never, ctx())({ block: disk });
    assert.equal(table.scheme, "gpt");
    const byName = await partitionDevice.declare({ name: "data" }, ctx())({ table });
    const byNumber = await partitionDevice.declare({ name: "2" }, ctx())({ table });
    assert.equal((await byName.info()).sizeSectors, 200);
    await byName.write(0, new Uint8Array(512).fill(8));
    const b = new Uint8Array(512);
    await byNumber.read(0, b);
    assert.equal(b[0], 8);
    await assert.rejects(partitionDevice.declare({ name: "home" }, ctx())({ table }), /no GPT partition named "home"; partitions: 1 "boot", 2 "data"/);
  });

  it("mbrDevice reads MBR tables; an MBR partition is found by number", async () => {
    const disk = new Ramdisk({ sizeSectors: 8192 });
    await writeMbr(disk, [{ sizeSectors: 1000 }, {}]);
    const table = await mbrDevice.declare(undefined as never, ctx())({ block: disk });
    const p2 = await partitionDevice.declare({ name: "2" }, ctx())({ table });
    assert.deepEqual(table.list().map((p) => [p.start, p.sizeSectors]), [[2048, 1000], [4096, 4096]]); // 1 MiB aligned
    assert.equal((await p2.info()).sizeSectors, 4096);
    await assert.rejects(gptDevice.declare(undefined as never, ctx())({ block: disk }), /no usable table: .*\(sector 0 holds an MBR partition table: read this disk with readMbr \/ mbr\(\)\)/);
  });
});
