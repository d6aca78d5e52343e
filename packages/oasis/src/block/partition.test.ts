import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { blockContract, rejectsWith } from "./block-contract.ts";
import { slice } from "./partition.ts";
import { Ramdisk } from "./ramdisk.ts";

blockContract("partition view", async () => {
  const disk = new Ramdisk({ sizeSectors: 100 });
  return { block: await slice(disk, 30, 40) };
});

describe("partition view", () => {
  it("maps sector 0 to its start on the parent and never touches sectors outside it", async () => {
    const disk = new Ramdisk({ sizeSectors: 100 });
    const p = await slice(disk, 30, 40);
    assert.deepEqual(await p.info(), { readWrite: true, sectorSize: 512, sizeSectors: 40 });
    await p.write(0, new Uint8Array(512).fill(1));
    await p.write(39, new Uint8Array(512).fill(2));
    await rejectsWith(p.write(40, new Uint8Array(512).fill(3)), "out-of-range");
    await rejectsWith(p.write(39, new Uint8Array(1024).fill(3)), "out-of-range");
    const all = new Uint8Array(100 * 512);
    await disk.read(0, all);
    assert.equal(all[30 * 512], 1);
    assert.equal(all[69 * 512], 2);
    assert.equal(all.filter((x) => x === 3).length, 0);
    assert.equal(all.subarray(0, 30 * 512).filter((x) => x !== 0).length, 0);
    assert.equal(all.subarray(70 * 512).filter((x) => x !== 0).length, 0);
  });

  it("nests: a subpartition is relative to its parent partition", async () => {
    const disk = new Ramdisk({ sizeSectors: 100 });
    const p = await slice(disk, 10, 50);
    const q = await p.subpartition(5, 10);
    await q.write(0, new Uint8Array(512).fill(9));
    const b = new Uint8Array(512);
    await disk.read(15, b);
    assert.equal(b[0], 9);
    await assert.rejects(p.subpartition(45, 10), /do not fit/);
  });

  it("refuses a view that does not fit the parent", async () => {
    const disk = new Ramdisk({ sizeSectors: 100 });
    await assert.rejects(slice(disk, 90, 11), /do not fit on a device of 100 sectors/);
    await assert.rejects(slice(disk, -1, 5), /do not fit/);
  });

  it("disconnecting a partition leaves its parent connected", async () => {
    const disk = new Ramdisk({ sizeSectors: 10 });
    const p = await slice(disk, 0, 10);
    await p.disconnect();
    await rejectsWith(p.read(0, new Uint8Array(512)), "disconnected");
    const b = new Uint8Array(512);
    await disk.read(0, b); // the parent stays connected
  });
});
