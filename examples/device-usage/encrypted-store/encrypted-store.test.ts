// End to end: the encrypted store on a GPT disk made by sgdisk keeps its records across boots;
// the FAT inside the encrypted partition is checked by fsck.fat and read back with mcopy.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { CcmBlock } from "../../../packages/oasis/src/block/ccm.ts";
import { openFile } from "../../../packages/oasis/src/block/file.ts";
import { slice } from "../../../packages/oasis/src/block/partition.ts";
import { buildExample, runUnikernel } from "../../../test/support/unikernel.ts";

const KEY = "00112233445566778899aabbccddeeff";

function makeDisk(path: string): { start: number; sectors: number } {
  writeFileSync(path, "");
  truncateSync(path, 64 * 1024 * 1024);
  execFileSync("sgdisk", ["-n", "1:2048:+8M", "-c", "1:boot", "-n", "2:0:0", "-c", "2:data", path], { stdio: "ignore" });
  const info = execFileSync("sgdisk", ["-i", "2", path], { encoding: "utf8" });
  const start = Number(/First sector: (\d+)/.exec(info)![1]);
  const last = Number(/Last sector: (\d+)/.exec(info)![1]);
  return { start, sectors: last - start + 1 };
}

test("the encrypted store keeps records across boots in an encrypted FAT on a GPT partition", async () => {
  const { dir, bin } = await buildExample("examples/device-usage/encrypted-store");
  const image = join(dir, "disk.img");
  const part = makeDisk(image);
  const boot = (...args: string[]) => runUnikernel(bin, [`--ccm-key=${KEY}`, ...args], { cwd: dir, timeoutMs: 30_000 });

  const refused = await boot("--add=too early");
  assert.equal(refused.code, 1, refused.stdout + refused.stderr);
  assert.match(refused.stdout + refused.stderr, /the disk is empty \(no boot sector\); run once with --fat-format-if-empty/);

  const first = await boot("--fat-format-if-empty", "--add=first record");
  assert.equal(first.code, 0, first.stdout + first.stderr);
  assert.match(first.stdout, /formatted the empty disk as FAT16/);
  assert.match(first.stdout, /boot 1: 1 record\(s\)/);

  const second = await boot("--fat-format-if-empty", "--add=second record");
  assert.equal(second.code, 0, second.stdout + second.stderr);
  assert.doesNotMatch(second.stdout, /formatted/, "a disk with a file system is never formatted again");

  const third = await boot();
  assert.equal(third.code, 0, third.stdout + third.stderr);
  assert.match(third.stdout, /0001\.json: "first record" \(boot 1, /);
  assert.match(third.stdout, /0002\.json: "second record" \(boot 2, /);
  assert.match(third.stdout, /boot 3: 2 record\(s\) in the encrypted store/);

  const raw = readFileSync(image);
  assert.equal(raw.indexOf("first record"), -1, "records are not readable without the key");
  assert.equal(raw.indexOf("RECORDS"), -1, "directory entries are not readable either");
  assert.equal(spawnSync("sgdisk", ["-v", image]).status, 0, "the partition table is intact");

  const wrong = await runUnikernel(bin, ["--ccm-key=ffeeddccbbaa99887766554433221100"], { cwd: dir, timeoutMs: 30_000 });
  assert.equal(wrong.code, 1);
  assert.match(wrong.stdout + wrong.stderr, /failed authentication: wrong key/);

  // Decrypt the partition and let dosfstools and mtools judge the file system inside.
  const disk = await openFile(image, { readOnly: true });
  const plain = await CcmBlock.connect(KEY, await slice(disk, part.start, part.sectors));
  const info = await plain.info();
  const bytes = new Uint8Array(info.sizeSectors * info.sectorSize);
  await plain.read(0, bytes);
  await disk.disconnect();
  const plainImage = join(dir, "plain.img");
  writeFileSync(plainImage, bytes);
  const fsck = spawnSync("fsck.fat", ["-n", "-V", plainImage], { encoding: "utf8" });
  assert.equal(fsck.status, 0, fsck.stdout + fsck.stderr);
  const env = { ...process.env, MTOOLS_SKIP_CHECK: "1" };
  const record = JSON.parse(execFileSync("mcopy", ["-n", "-i", plainImage, "::/records/0002.json", "-"], { env, encoding: "utf8" }));
  assert.equal(record.text, "second record");
  assert.equal(execFileSync("mcopy", ["-n", "-i", plainImage, "::/boots", "-"], { env, encoding: "utf8" }), "3");
});
