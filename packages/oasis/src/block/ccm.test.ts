import assert from "node:assert/strict";
import { createDecipheriv, randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import fc from "fast-check";
import { blockContract, rejectsWith } from "./block-contract.ts";
import { ccm, parseCcmKey } from "./ccm.ts";
import { openFile } from "./file.ts";
import { readGpt, writeGpt } from "./gpt.ts";
import { Ramdisk } from "./ramdisk.ts";
import { tempImages } from "./test-support.ts";

const images = tempImages("ccm");
const KEY = "000102030405060708090a0b0c0d0e0f";

blockContract("ccm over ramdisk", async () => ({ block: await ccm(KEY, new Ramdisk({ sizeSectors: 64 })) }));
blockContract("ccm over file (AES-256, 4096-byte sectors)", async () => ({
  block: await ccm("0x" + "ab".repeat(32), await openFile(await images.image(40 * 4096), { sectorSize: 4096 })),
}));

function plaintextOf(bytes: Uint8Array): Uint8Array {
  return Uint8Array.from(bytes);
}

describe("ccm: on-disk layout (mirage-block-ccm v2)", () => {
  it("stores logical sector n in physical 2n, 2n+1 as ciphertext ‖ tag ‖ nonce ‖ adata, decryptable by the spec", async () => {
    const raw = new Ramdisk({ sizeSectors: 20 });
    const disk = await ccm(KEY, raw);
    assert.deepEqual(await disk.info(), { readWrite: true, sectorSize: 512, sizeSectors: 10 });
    const plain = plaintextOf(randomBytes(512));
    await disk.write(3, plain);
    const pair = new Uint8Array(1024);
    await raw.read(6, pair);
    const nonce = pair.subarray(512 + 16, 512 + 16 + 8);
    const adata = pair.subarray(512 + 16 + 8);
    const d = createDecipheriv("aes-128-ccm", Buffer.from(KEY, "hex"), nonce, { authTagLength: 16 });
    d.setAuthTag(pair.subarray(512, 528));
    d.setAAD(adata, { plaintextLength: 512 });
    const out = d.update(pair.subarray(0, 512));
    d.final();
    assert.deepEqual(new Uint8Array(out), plain);
    const neighbours = new Uint8Array(512 * 2);
    await raw.read(4, neighbours);
    assert.ok(neighbours.every((x) => x === 0), "physical sectors of logical 2 untouched");
  });

  it("draws a fresh nonce and adata on every write, even of the same data", async () => {
    const raw = new Ramdisk({ sizeSectors: 4 });
    const disk = await ccm(KEY, raw);
    const plain = new Uint8Array(512).fill(1);
    await disk.write(0, plain);
    const first = new Uint8Array(1024);
    await raw.read(0, first);
    await disk.write(0, plain);
    const second = new Uint8Array(1024);
    await raw.read(0, second);
    assert.notDeepEqual(first.subarray(528), second.subarray(528));
    assert.notDeepEqual(first.subarray(0, 512), second.subarray(0, 512));
  });

  it("honours a non-default nonce length (12 bytes)", async () => {
    const raw = new Ramdisk({ sizeSectors: 4 });
    const plain = plaintextOf(randomBytes(512));
    await (await ccm(KEY, raw, { nonceLen: 12 })).write(1, plain);
    const pair = new Uint8Array(1024);
    await raw.read(2, pair);
    const d = createDecipheriv("aes-128-ccm", Buffer.from(KEY, "hex"), pair.subarray(528, 540), { authTagLength: 16 });
    d.setAuthTag(pair.subarray(512, 528));
    d.setAAD(pair.subarray(540), { plaintextLength: 512 });
    assert.deepEqual(new Uint8Array(d.update(pair.subarray(0, 512))), plain);
    d.final();
    const back = new Uint8Array(512);
    await (await ccm(KEY, raw, { nonceLen: 12 })).read(1, back);
    assert.deepEqual(back, plain);
    await rejectsWith((await ccm(KEY, raw, { nonceLen: 8 })).read(1, back), "integrity");
  });

  it("ignores a trailing odd physical sector", async () => {
    assert.equal((await (await ccm(KEY, new Ramdisk({ sizeSectors: 21 }))).info()).sizeSectors, 10);
  });
});

describe("ccm: integrity", () => {
  it("a flipped bit anywhere in the two physical sectors gives an integrity error, never plaintext", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 1024 * 8 - 1 }), fc.integer({ min: 0, max: 3 }), async (bit, logical) => {
        const raw = new Ramdisk({ sizeSectors: 8 });
        const disk = await ccm(KEY, raw);
        const plain = new Uint8Array(512).fill(0x61);
        await disk.write(logical, plain);
        const pair = new Uint8Array(1024);
        await raw.read(logical * 2, pair);
        pair[bit >> 3]! ^= 1 << (bit & 7);
        await raw.write(logical * 2, pair);
        const out = new Uint8Array(512);
        const e = await rejectsWith(disk.read(logical, out), "integrity");
        assert.match(e.message, new RegExp(`logical sector ${logical} \\(physical sectors ${logical * 2}-${logical * 2 + 1}\\)`));
        assert.ok(!out.includes(0x61), "no plaintext in the buffer");
      }),
      { numRuns: 150 },
    );
  });

  it("a multi-sector read with one bad sector fails as a whole and leaves no plaintext", async () => {
    const raw = new Ramdisk({ sizeSectors: 16 });
    const disk = await ccm(KEY, raw);
    await disk.write(0, new Uint8Array(512 * 4).fill(0x61));
    const pair = new Uint8Array(1024);
    await raw.read(4, pair);
    pair[700]! ^= 0x80; // logical sector 2's nonce/adata
    await raw.write(4, pair);
    const out = new Uint8Array(512 * 4);
    await rejectsWith(disk.read(0, out), "integrity");
    assert.ok(out.every((x) => x === 0));
  });

  it("the wrong key gives an integrity error", async () => {
    const raw = new Ramdisk({ sizeSectors: 4 });
    await (await ccm(KEY, raw)).write(0, new Uint8Array(512).fill(1));
    await rejectsWith((await ccm("ff" + KEY.slice(2), raw)).read(0, new Uint8Array(512)), "integrity");
  });

  it("a sector swapped in from another position still decrypts (documented limit of per-sector CCM)", async () => {
    // The sector number is not authenticated in the mirage-block-ccm layout; this test pins that down
    // so a change of format is a deliberate decision.
    const raw = new Ramdisk({ sizeSectors: 8 });
    const disk = await ccm(KEY, raw);
    await disk.write(0, new Uint8Array(512).fill(7));
    const pair = new Uint8Array(1024);
    await raw.read(0, pair);
    await raw.write(2, pair);
    const out = new Uint8Array(512);
    await disk.read(1, out);
    assert.ok(out.every((x) => x === 7));
  });
});

describe("ccm: never-written sectors", () => {
  it("read as zeros by default when both physical sectors are entirely zero", async () => {
    const disk = await ccm(KEY, new Ramdisk({ sizeSectors: 8 }));
    const out = new Uint8Array(512).fill(9);
    await disk.read(2, out);
    assert.ok(out.every((x) => x === 0));
  });

  it("are an integrity error if only one of the two physical sectors is zero", async () => {
    const raw = new Ramdisk({ sizeSectors: 8 });
    const disk = await ccm(KEY, raw);
    await disk.write(1, new Uint8Array(512).fill(1));
    await raw.write(3, new Uint8Array(512)); // zero the tag/nonce/adata sector only
    await rejectsWith(disk.read(1, new Uint8Array(512)), "integrity");
    await disk.write(1, new Uint8Array(512).fill(1));
    await raw.write(2, new Uint8Array(512)); // zero the ciphertext sector only
    await rejectsWith(disk.read(1, new Uint8Array(512)), "integrity");
  });

  it("are an integrity error with unwritten: \"error\" (mirage-block-ccm's behaviour)", async () => {
    const disk = await ccm(KEY, new Ramdisk({ sizeSectors: 8 }), { unwritten: "error" });
    await rejectsWith(disk.read(0, new Uint8Array(512)), "integrity");
    await disk.write(0, new Uint8Array(512).fill(3));
    const out = new Uint8Array(512);
    await disk.read(0, out);
    assert.ok(out.every((x) => x === 3));
  });
});

describe("ccm: keys and options", () => {
  it("accepts 16, 24 and 32-byte hex keys with or without 0x", () => {
    assert.equal(parseCcmKey(KEY).length, 16);
    assert.equal(parseCcmKey("0X" + "a".repeat(48)).length, 24);
    assert.equal(parseCcmKey("  0x" + "F".repeat(64) + "\n").length, 32);
    assert.deepEqual(parseCcmKey("0x000102030405060708090a0b0c0d0e0f"), Uint8Array.from({ length: 16 }, (_, i) => i));
  });

  it("rejects malformed keys with a message that does not repeat the key", () => {
    const secret = "0x" + "5".repeat(30);
    assert.throws(() => parseCcmKey(secret), (e: Error) => /has 30 hex digits; give 32, 48 or 64/.test(e.message) && !e.message.includes("555555"));
    assert.throws(() => parseCcmKey("z" + KEY.slice(1)), /non-hex character at position 1/);
    assert.throws(() => parseCcmKey(""), /has 0 hex digits/);
  });

  it("rejects a bad nonce length at connect", async () => {
    await assert.rejects(ccm(KEY, new Ramdisk({ sizeSectors: 4 }), { nonceLen: 6 }), /from 7 to 13/);
    await assert.rejects(ccm(KEY, new Ramdisk({ sizeSectors: 4 }), { nonceLen: 14 }), /from 7 to 13/);
  });

  it("is read-only over a read-only device", async () => {
    const path = await images.image(8 * 512);
    const disk = await ccm(KEY, await openFile(path, { readOnly: true }));
    assert.equal((await disk.info()).readWrite, false);
    await rejectsWith(disk.write(0, new Uint8Array(512)), "read-only");
    await disk.disconnect();
  });

  it("behaves like a plain disk under random reads and writes (model: a ramdisk)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ write: fc.boolean(), sector: fc.integer({ min: 0, max: 15 }), count: fc.integer({ min: 1, max: 4 }), fill: fc.integer({ min: 0, max: 255 }) }), { maxLength: 30 }),
        async (ops) => {
          const model = new Ramdisk({ sizeSectors: 16 });
          const disk = await ccm(KEY, new Ramdisk({ sizeSectors: 32 }));
          for (const op of ops) {
            const n = Math.min(op.count, 16 - op.sector);
            const buf = new Uint8Array(n * 512);
            if (op.write) {
              for (let i = 0; i < buf.length; i++) buf[i] = (op.fill + i) & 0xff;
              await disk.write(op.sector, buf);
              await model.write(op.sector, buf);
            } else {
              const expected = new Uint8Array(n * 512);
              await model.read(op.sector, expected);
              await disk.read(op.sector, buf);
              assert.deepEqual(buf, expected);
            }
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe("ccm: composition", () => {
  it("carries a GPT inside the encrypted disk, and is carried by a GPT partition", async () => {
    const raw = new Ramdisk({ sizeSectors: 2 * 8192 });
    const inner = await ccm(KEY, raw);
    await writeGpt(inner, [{ name: "inside", sizeSectors: 100 }]);
    const part = await (await readGpt(await ccm(KEY, raw))).partition("inside");
    await part.write(99, new Uint8Array(512).fill(0x33));
    await rejectsWith(part.write(100, new Uint8Array(512)), "out-of-range");
    const all = new Uint8Array(2 * 8192 * 512);
    await raw.read(0, all);
    assert.equal(Buffer.from(all).indexOf("EFI PART"), -1, "the table itself is encrypted");

    const disk = new Ramdisk({ sizeSectors: 8192 });
    await writeGpt(disk, [{ name: "a", sizeSectors: 64 }, { name: "vault", sizeSectors: 200 }]);
    const vault = await ccm(KEY, await (await readGpt(disk)).partition("vault"));
    assert.equal((await vault.info()).sizeSectors, 100);
    await vault.write(0, new Uint8Array(512 * 100).fill(0x44));
    const back = new Uint8Array(512 * 100);
    await vault.read(0, back);
    assert.ok(back.every((x) => x === 0x44));
    assert.deepEqual((await readGpt(disk)).list().map((p) => p.name), ["a", "vault"], "the table outside is intact");
  });
});
