// The behaviour every Block must show, as a reusable node:test suite: each implementation's test
// file runs it against a fresh device (ramdisk, file, partition, CCM...).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import type { Block } from "../devices/block.ts";
import { BlockError } from "../devices/errors.ts";

export interface ContractSubject {
  block: Block;
  /** Called after the test; e.g. removes a temp file. */
  cleanup?: () => Promise<void>;
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<BlockError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof BlockError, `expected a BlockError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail(`expected BlockError("${code}"), but the call succeeded`);
}

/** `make()` gives a writable device of at least 16 sectors, zero-filled. */
export function blockContract(name: string, make: () => Promise<ContractSubject>): void {
  async function withBlock(f: (b: Block) => Promise<void>): Promise<void> {
    const s = await make();
    try {
      await f(s.block);
    } finally {
      await s.block.disconnect().catch(() => {});
      await s.cleanup?.();
    }
  }

  describe(`${name}: Block contract`, () => {
    it("reads zeros from a fresh device", () =>
      withBlock(async (b) => {
        const { sectorSize } = await b.info();
        const buf = new Uint8Array(sectorSize * 3).fill(0xaa);
        await b.read(0, buf);
        assert.ok(buf.every((x) => x === 0));
      }));

    it("reads back what was written, sector by sector and in multi-sector runs", () =>
      withBlock(async (b) => {
        const { sectorSize, sizeSectors } = await b.info();
        const data = new Uint8Array(randomBytes(sectorSize * 4));
        await b.write(3, data);
        const one = new Uint8Array(sectorSize);
        for (let i = 0; i < 4; i++) {
          await b.read(3 + i, one);
          assert.deepEqual(one, data.subarray(i * sectorSize, (i + 1) * sectorSize));
        }
        const last = new Uint8Array(randomBytes(sectorSize));
        await b.write(sizeSectors - 1, last);
        const back = new Uint8Array(sectorSize * 2);
        await b.read(sizeSectors - 2, back);
        assert.deepEqual(back.subarray(sectorSize), last);
        await b.flush();
        const around = new Uint8Array(sectorSize * 6);
        await b.read(2, around);
        assert.ok(around.subarray(0, sectorSize).every((x) => x === 0), "sector before the write is untouched");
        assert.deepEqual(around.subarray(sectorSize, sectorSize * 5), data);
        assert.ok(around.subarray(sectorSize * 5).every((x) => x === 0), "sector after the write is untouched");
      }));

    it("does not keep the caller's buffer after a write", () =>
      withBlock(async (b) => {
        const { sectorSize } = await b.info();
        const buf = new Uint8Array(sectorSize).fill(7);
        await b.write(1, buf);
        buf.fill(9);
        const back = new Uint8Array(sectorSize);
        await b.read(1, back);
        assert.ok(back.every((x) => x === 7));
      }));

    it("refuses I/O past the end with out-of-range and changes nothing", () =>
      withBlock(async (b) => {
        const { sectorSize, sizeSectors } = await b.info();
        const marker = new Uint8Array(sectorSize).fill(0x5a);
        await b.write(sizeSectors - 1, marker);
        await rejectsWith(b.write(sizeSectors - 1, new Uint8Array(sectorSize * 2).fill(1)), "out-of-range");
        await rejectsWith(b.write(sizeSectors, new Uint8Array(sectorSize)), "out-of-range");
        await rejectsWith(b.read(sizeSectors, new Uint8Array(sectorSize)), "out-of-range");
        await rejectsWith(b.read(-1, new Uint8Array(sectorSize)), "out-of-range");
        await rejectsWith(b.read(1.5, new Uint8Array(sectorSize)), "out-of-range");
        const back = new Uint8Array(sectorSize);
        await b.read(sizeSectors - 1, back);
        assert.deepEqual(back, marker);
      }));

    it("refuses buffers that are not whole sectors with misaligned", () =>
      withBlock(async (b) => {
        const { sectorSize } = await b.info();
        const e = await rejectsWith(b.read(0, new Uint8Array(sectorSize + 1)), "misaligned");
        assert.match(e.message, new RegExp(`${sectorSize}-byte sectors`));
        await rejectsWith(b.write(0, new Uint8Array(sectorSize - 1)), "misaligned");
      }));

    it("fails with disconnected after disconnect", () =>
      withBlock(async (b) => {
        const { sectorSize } = await b.info();
        await b.disconnect();
        await rejectsWith(b.read(0, new Uint8Array(sectorSize)), "disconnected");
        await rejectsWith(b.write(0, new Uint8Array(sectorSize)), "disconnected");
      }));

    it("keeps concurrent writes to different sectors apart", () =>
      withBlock(async (b) => {
        const { sectorSize } = await b.info();
        const bufs = Array.from({ length: 8 }, (_, i) => new Uint8Array(sectorSize).fill(i + 1));
        await Promise.all(bufs.map((buf, i) => b.write(i, buf)));
        const back = await Promise.all(bufs.map(async (_, i) => {
          const r = new Uint8Array(sectorSize);
          await b.read(i, r);
          return r;
        }));
        back.forEach((r, i) => assert.ok(r.every((x) => x === i + 1), `sector ${i}`));
      }));
  });
}

export { rejectsWith };
