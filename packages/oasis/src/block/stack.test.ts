// End to end through the DSL: a built unikernel using ccm(partition(gpt(file("disk.img")), "data"))
// on an image partitioned by sgdisk; the result is checked from outside with sfdisk's offsets and
// decrypted with `oasis ccm dec`.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync, truncateSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { buildExample, runUnikernel } from "../../../../test/support/unikernel.ts";
import { ccmCommand } from "../tool/ccm.ts";
import { run } from "./test-support.ts";

test("a unikernel writes through ccm(partition(gpt(file))) into exactly the partition sgdisk made", async () => {
  const { dir, bin } = await buildExample("packages/oasis/src/block/fixtures/encrypted-partition");
  const image = join(dir, "disk.img");
  writeFileSync(image, "");
  truncateSync(image, 16 * 1024 * 1024);
  const sg = await run("sgdisk", ["-n", "1:2048:+2M", "-c", "1:boot", "-n", "2:0:+4M", "-c", "2:data", image]);
  assert.equal(sg.code, 0, sg.stdout + sg.stderr);
  const data = (JSON.parse((await run("sfdisk", ["--json", image])).stdout).partitiontable.partitions as { start: number; size: number; name: string }[]).find((p) => p.name === "data")!;
  const before = readFileSync(image);

  const w = await runUnikernel(bin, ["--message=attack at dawn"], { cwd: dir, timeoutMs: 30_000 });
  assert.equal(w.code, 0, w.stdout + w.stderr);
  assert.match(w.stdout, new RegExp(`encrypted partition: ${data.size / 2} sectors of 512 bytes`));
  assert.match(w.stdout, /stored: "attack at dawn"/);

  const after = readFileSync(image);
  const lo = data.start * 512;
  const hi = (data.start + data.size) * 512;
  assert.ok(after.subarray(0, lo).equals(before.subarray(0, lo)), "nothing changed before the partition");
  assert.ok(after.subarray(hi).equals(before.subarray(hi)), "nothing changed after the partition");
  assert.equal(after.subarray(lo, hi).indexOf("attack at dawn"), -1, "no plaintext on disk");
  assert.ok(after.subarray(hi - 1024, hi).some((x) => x !== 0), "the last logical sector is the partition's last two sectors");

  // Decrypt the partition from outside with the CLI.
  writeFileSync(join(dir, "data.enc"), after.subarray(lo, hi));
  await ccmCommand().parseAsync(["dec", "-k", "000102030405060708090a0b0c0d0e0f", "-i", join(dir, "data.enc"), "-o", join(dir, "data.plain")], { from: "user" });
  const plain = readFileSync(join(dir, "data.plain"));
  assert.equal(plain.subarray(0, 14).toString(), "attack at dawn");

  const again = await runUnikernel(bin, [], { cwd: dir, timeoutMs: 30_000 });
  assert.match(again.stdout, /stored: "attack at dawn"/);

  const wrongKey = await runUnikernel(bin, ["--ccm-key=ffffffffffffffffffffffffffffffff"], { cwd: dir, timeoutMs: 30_000 });
  assert.notEqual(wrongKey.code, 0);
  assert.match(wrongKey.stdout + wrongKey.stderr, /logical sector 0 .* failed authentication/);

  const badKey = await runUnikernel(bin, ["--ccm-key=0x1234"], { cwd: dir, timeoutMs: 30_000 });
  assert.notEqual(badKey.code, 0);
  assert.match(badKey.stdout + badKey.stderr, /--ccm-key: the CCM key has 4 hex digits/);
});
