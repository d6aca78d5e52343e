// End to end: build the block example, run it on a host file, and on bad images.
import assert from "node:assert/strict";
import { readFileSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { buildExample, runUnikernel } from "../../../test/support/unikernel.ts";

test("the block example passes its read/write and error checks on a host file, and refuses bad images", async () => {
  const { dir, bin } = await buildExample("examples/device-usage/block");
  const image = join(dir, "disk.img");
  writeFileSync(image, "");
  truncateSync(image, 1024 * 1024);

  const r = await runUnikernel(bin, [], { cwd: dir, timeoutMs: 30_000 });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const oks = r.stdout.split("\n").filter((l) => l.includes("INF [block-test] ok: "));
  assert.equal(oks.length, 15, r.stdout);
  for (const needle of ["fails with out-of-range", "fails with misaligned", "write to the read-only device fails with read-only", "failed writes changed nothing"]) {
    assert.ok(oks.some((l) => l.includes(needle)), `missing check: ${needle}\n${r.stdout}`);
  }
  assert.doesNotMatch(r.stdout, /FAILED/);
  assert.match(r.stdout, /All block checks passed/);
  // The data it wrote is really in the file (the first sector is random, not zero any more).
  assert.ok(readFileSync(image).subarray(0, 512).some((x) => x !== 0));

  const odd = join(dir, "odd.img");
  writeFileSync(odd, Buffer.alloc(1000));
  const bad = await runUnikernel(bin, [`--block-file=${odd}`, `--ro-block-file=${odd}`], { cwd: dir, timeoutMs: 30_000 });
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr + bad.stdout, /size 1000 bytes is not a multiple of the 512-byte sector size/);

  const missing = await runUnikernel(bin, ["--block-file=nowhere.img"], { cwd: dir, timeoutMs: 30_000 });
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr + missing.stdout, /nowhere\.img: cannot open: no such file/);
});
