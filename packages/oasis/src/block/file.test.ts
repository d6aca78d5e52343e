import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { blockContract, rejectsWith } from "./block-contract.ts";
import { FileBlock, openFile } from "./file.ts";

let dir: string;
let counter = 0;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "oasis-fileblock-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function image(bytes: number): Promise<string> {
  const path = join(dir, `disk${counter++}.img`);
  await writeFile(path, "");
  await truncate(path, bytes);
  return path;
}

blockContract("file (512)", async () => ({ block: await openFile(await image(64 * 512)) }));
blockContract("file (4096)", async () => ({ block: await openFile(await image(20 * 4096), { sectorSize: 4096 }) }));

describe("file block", () => {
  it("writes land at sector × sector size in the host file, durable after flush", async () => {
    const path = await image(16 * 512);
    const b = await openFile(path);
    await b.write(5, new Uint8Array(1024).fill(0x42));
    await b.flush();
    await b.disconnect();
    const bytes = await readFile(path);
    assert.equal(bytes.length, 16 * 512);
    assert.ok(bytes.subarray(5 * 512, 7 * 512).every((x) => x === 0x42));
    assert.ok(bytes.subarray(0, 5 * 512).every((x) => x === 0));
    assert.ok(bytes.subarray(7 * 512).every((x) => x === 0));
  });

  it("reads bytes written by the host", async () => {
    const path = await image(4 * 512);
    const content = Buffer.alloc(4 * 512);
    content.write("hello from the host", 512 * 2);
    await writeFile(path, content);
    const b = await openFile(path);
    const buf = new Uint8Array(512);
    await b.read(2, buf);
    assert.equal(Buffer.from(buf.subarray(0, 19)).toString(), "hello from the host");
    await b.disconnect();
  });

  it("opened read-only: reports it, refuses writes with read-only and leaves the file unchanged", async () => {
    const path = await image(8 * 512);
    const b = await openFile(path, { readOnly: true });
    assert.equal((await b.info()).readWrite, false);
    const e = await rejectsWith(b.write(0, new Uint8Array(512).fill(1)), "read-only");
    assert.match(e.message, /read-only/);
    await b.flush();
    await b.disconnect();
    assert.ok((await readFile(path)).every((x) => x === 0));
  });

  it("refuses at connect a file whose size is not a whole number of sectors", async () => {
    const path = await image(8 * 512 + 100);
    await assert.rejects(FileBlock.open(path), (e: Error & { code?: string }) => {
      assert.equal(e.code, "misaligned");
      assert.match(e.message, /not a multiple of the 512-byte sector size/);
      assert.ok(e.message.includes(path));
      return true;
    });
    await assert.rejects(FileBlock.open(await image(4096 + 512), { sectorSize: 4096 }), /4096-byte sector size/);
  });

  it("names the file and says what to do when it is missing", async () => {
    const path = join(dir, "missing.img");
    await assert.rejects(openFile(path), (e: Error & { code?: string }) => {
      assert.equal(e.code, "io");
      assert.ok(e.message.includes(path));
      assert.ok(e.message.includes(`no such file; create one first, e.g. \`truncate -s 32M ${path}\``), e.message);
      return true;
    });
  });

  it("rejects an invalid sector size option", async () => {
    await assert.rejects(openFile(await image(4096), { sectorSize: 768 }), /power of two/);
  });

  it("reports an empty file as a device of zero sectors on which every I/O is out of range", async () => {
    const b = await openFile(await image(0));
    assert.equal((await b.info()).sizeSectors, 0);
    await rejectsWith(b.read(0, new Uint8Array(512)), "out-of-range");
    await b.disconnect();
  });

  it("waits for writes in progress before closing on disconnect", async () => {
    const path = await image(256 * 512);
    const b = await openFile(path);
    const writes = Array.from({ length: 32 }, (_, i) => b.write(i * 8, new Uint8Array(8 * 512).fill(i + 1)));
    await b.disconnect();
    await Promise.all(writes);
    const bytes = await readFile(path);
    for (let i = 0; i < 32; i++) assert.equal(bytes[i * 8 * 512], i + 1);
  });
});

describe("file block on a host block device", () => {
  // The Linux loop driver as the peer: its device node has no stat size; ours comes from sysfs.
  const canLoop = process.getuid?.() === 0 && (() => {
    try {
      execFileSync("losetup", ["--version"], { stdio: "ignore" });
      return true;
    } catch {
      return false;
    }
  })();

  it("reads and writes a loop device of the right size, seen by the kernel at the same offsets", { skip: canLoop ? false : "needs root and losetup" }, async () => {
    const path = await image(3 * 1024 * 1024);
    const loop = execFileSync("losetup", ["--find", "--show", path], { encoding: "utf8" }).trim();
    try {
      const b = await openFile(loop);
      assert.deepEqual(await b.info(), { readWrite: true, sectorSize: 512, sizeSectors: 6144 });
      await b.write(6143, new Uint8Array(512).fill(0x77));
      await b.flush();
      await assert.rejects(b.read(6144, new Uint8Array(512)), { code: "out-of-range" });
      await b.disconnect();
      const viaKernel = execFileSync("dd", [`if=${loop}`, "bs=512", "skip=6143", "count=1", "status=none", "iflag=direct"]);
      assert.ok(viaKernel.length === 512 && viaKernel.every((x) => x === 0x77));
    } finally {
      execFileSync("losetup", ["--detach", loop]);
    }
    const bytes = await readFile(path);
    assert.equal(bytes[6143 * 512], 0x77);
  });
});
