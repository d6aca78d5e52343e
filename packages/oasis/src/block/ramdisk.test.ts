import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { blockContract } from "./block-contract.ts";
import { Ramdisk } from "./ramdisk.ts";

blockContract("ramdisk (512)", async () => ({ block: new Ramdisk({ sizeSectors: 64 }) }));
blockContract("ramdisk (4096)", async () => ({ block: new Ramdisk({ sizeSectors: 40, sectorSize: 4096 }) }));

describe("ramdisk", () => {
  it("reports its geometry", async () => {
    const d = new Ramdisk({ sizeSectors: 100, sectorSize: 1024 });
    assert.deepEqual(await d.info(), { readWrite: true, sectorSize: 1024, sizeSectors: 100 });
  });

  it("allocates memory only for written chunks", async () => {
    const d = new Ramdisk({ sizeSectors: 2 * 1024 * 1024 }); // 1 GiB
    assert.equal(d.allocatedBytes, 0);
    await d.write(1_000_000, new Uint8Array(512).fill(1));
    assert.equal(d.allocatedBytes, 64 * 1024);
  });

  it("rejects a sector size that is not a power of two of at least 512", () => {
    assert.throws(() => new Ramdisk({ sectorSize: 1000 }), /power of two/);
    assert.throws(() => new Ramdisk({ sectorSize: 256 }), /power of two/);
  });
});
