// End to end: build kv_ro with each read-only store and check what it reads.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { buildExample, runUnikernel } from "../../../test/support/unikernel.ts";

const sha = (s: string) => createHash("sha256").update(s).digest("hex");

test("kv_ro with --kv-ro=crunch carries t/ inside the executable", async () => {
  const { bin } = await buildExample("examples/device-usage/kv_ro", ["--kv-ro=crunch"]);
  const elsewhere = mkdtempSync(join(tmpdir(), "oasis-kvro-"));
  try {
    const r = await runUnikernel(bin, [], { cwd: elsewhere, timeoutMs: 30_000 });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /secret: rutabaga\n/);
    assert.match(r.stdout, new RegExp(`sha256\\(secret\\): ${sha("rutabaga\n")}`));
    assert.match(r.stdout, /\/notes\/readme\.txt \(41 bytes\)/);
  } finally {
    rmSync(elsewhere, { recursive: true, force: true });
  }
});

test("kv_ro with --kv-ro=direct reads t/ from the working directory at run time", async () => {
  const { dir, bin } = await buildExample("examples/device-usage/kv_ro", ["--kv-ro=direct"]);
  rmSync(join(dir, "t", "secret"));
  const absent = await runUnikernel(bin, [], { cwd: dir, timeoutMs: 30_000 });
  assert.equal(absent.code, 1);
  assert.match(absent.stdout + absent.stderr, /the store has no value 'secret': create the file t\/secret/);
  writeFileSync(join(dir, "t", "secret"), "changed after the build\n");
  const r = await runUnikernel(bin, [], { cwd: dir, timeoutMs: 30_000 });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /secret: changed after the build\n/);
  assert.match(r.stdout, new RegExp(`sha256\\(secret\\): ${sha("changed after the build\n")}`));

  const elsewhere = mkdtempSync(join(tmpdir(), "oasis-kvro-"));
  try {
    const missing = await runUnikernel(bin, [], { cwd: elsewhere, timeoutMs: 30_000 });
    assert.equal(missing.code, 1);
    assert.match(missing.stdout + missing.stderr, /store directory .*t cannot be opened/);
  } finally {
    rmSync(elsewhere, { recursive: true, force: true });
  }
});
